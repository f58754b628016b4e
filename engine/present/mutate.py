"""Mutation testing: do the tests pin the rules down? rules x passing tests -> the mutants no test kills.

A test suite can run every rule and still not notice when a threshold moves
by a cent or a `<` becomes `<=`. A mutant is the rules with one such small
change; a test kills it when its decision changes (or the mutant cannot
decide the case). The changes are those an author slips into or a reader
misreads:

    flip       a comparison negated: `<` -> `>=`, `==` -> `!=`, `in` -> `not in`
    boundary   a comparison made strict or loose: `<` <-> `<=`, `>` <-> `>=`
    step       a number moved by the smallest step of its type, up and down: a cent, a percentage point,
               a unit, a day (of a date or a duration), the last written digit of a decimal
    swap       the two branches of an `if` exchanged
    row        a table row removed

Each definition as written (a rule, condition, note, input check, output,
parameter or table row, at its file:line) is mutated once, and the mutant
stands for it in every version that holds it: the change is made in each of
those versions and a test under any of them may kill it.

Mutants are made on the parsed definitions with `dataclasses.replace` (new
frozen trees that share the unchanged nodes; nothing is changed in place),
then checked and compiled again like any version: the checker's side tables
are keyed by node identity, so a new tree needs a new check, and a mutant
the checker refuses (`x == null` narrows nothing) is not counted. Parsing,
the costly step, is done once per version and process; a check and a compile
take a few milliseconds, and the tests run on the compiled function without
an explanation. Mutants are tried on `jobs` processes until a time budget
runs out; those left are reported as not run.

    mutants        parsed versions -> every Mutant of their definitions as written
    apply_mutant   ParsedRuleSet x Mutant -> the mutated ParsedRuleSet, or None when the version lacks it
    try_mutant     versions and their passing tests x Mutant -> MutantResult
    run_mutants    RuleBook x TestResults -> MutationReport (every mutant tried, on `jobs` processes)
    mutation_lines MutationReport -> the report as text; junit_suite -> as a JUnit suite
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, fields, replace
from datetime import timedelta
from decimal import Decimal

from ..core import nodes
from ..core.diagnostics import KmoRulesError
from ..core.kinds import BY_ID, EXPRESSION_KINDS
from ..core.span import Span
from ..core.values import Duration
from ..lang.check import check_ruleset
from ..lang.parsed import ParsedRow, ParsedRows, ParsedRuleSet, parse_ruleset
from ..lang.printer import print_expr, print_literal
from ..pipeline import RuleBook, versions_words
from ..run.compile import compile_ruleset
from ..run.workers import Workers, start_context
from .testing import JUnitCase, JUnitSuite, TestCase, TestResult, citations, judge

OPERATORS = ("flip", "boundary", "step", "swap", "row")

KILLED, SURVIVED, UNTESTED, INVALID, NOT_RUN = "killed", "survived", "untested", "invalid", "not run"

_FLIP = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}
_BOUNDARY = {"<": "<=", "<=": "<", ">": ">=", ">=": ">"}
_NODES = nodes.Expr.__args__
_SHOWN = 90  # characters of an expression shown in the report


@dataclass(frozen=True)
class Target:
    """A definition as written: its kind (rule, condition, note, input_check, output, parameter, or table
    for a row), name, place, legal source, and the versions that hold it."""

    kind: str
    name: str
    span: Span
    source: str
    versions: tuple[str, ...]
    row: str | None = None  # the key of a table row
    table: Span | None = None  # for a row: where its table is written
    sample: bool = False  # for a row: its table holds sample data, to be replaced

    def words(self) -> str:
        if self.row is not None:
            return f"row {self.row} of table {self.name}"
        return f"{BY_ID[self.kind].noun['en']} {self.name}"


@dataclass(frozen=True)
class Mutant:
    """One small change of one definition: where in its tree (a path of fields from its expression; for a
    table row, the column), the node put there (None: the row removed), and how it reads."""

    number: int
    target: Target
    operator: str
    path: tuple
    replacement: object
    at: Span
    before: str
    after: str


@dataclass(frozen=True)
class MutantResult:
    """What became of a mutant: killed (by which test, how), survived, untested (no test runs under the
    versions that hold it), invalid (the checker refuses it) or not run (the time budget ran out)."""

    mutant: Mutant
    status: str
    by: str | None = None  # the test that killed it: file:line and name
    how: str | None = None  # its first failure, or why the mutant does not check


@dataclass(frozen=True)
class MutationReport:
    """Every mutant's fate, and how the run went."""

    results: tuple[MutantResult, ...]
    tests: int  # the tests tried against the mutants: those that pass on the rules as written
    failing: int  # tests left out because they fail on the rules as written
    jobs: int
    seconds: float
    budget: float | None

    def count(self, *statuses: str) -> int:
        return sum(1 for r in self.results if r.status in statuses)

    @property
    def score(self) -> float | None:
        """Killed mutants as a percentage of those that check and ran (untested ones count as survivors)."""
        counted = self.count(KILLED, SURVIVED, UNTESTED)
        return 100 * self.count(KILLED) / counted if counted else None


# -- making mutants -------------------------------------------------------------------

def _walk(node, path: tuple = ()):
    """(path, node) for a node and every node inside it, parents first."""
    yield path, node
    for f in fields(node):
        value = getattr(node, f.name)
        if isinstance(value, _NODES):
            yield from _walk(value, path + ((f.name, None),))
        elif isinstance(value, tuple):
            for i, item in enumerate(value):
                if isinstance(item, _NODES):
                    yield from _walk(item, path + ((f.name, i),))


def _replaced(node, path: tuple, new):
    """A copy of `node` with the node at `path` replaced by `new`; the nodes off the path are shared."""
    if not path:
        return new
    (name, index), rest = path[0], path[1:]
    child = getattr(node, name)
    if index is None:
        return replace(node, **{name: _replaced(child, rest, new)})
    items = list(child)
    items[index] = _replaced(items[index], rest, new)
    return replace(node, **{name: tuple(items)})


def _duration_text(value: Duration, days: int) -> str:
    if not value.years and not value.months:
        return str(Duration(days=value.days + days))
    return f"{value} {'and' if days > 0 else 'less'} 1 day"


def _stepped(literal: nodes.Literal) -> list[tuple[nodes.Literal, str]]:
    """A number moved one step down and one up (the smallest step of its type), with how each reads."""
    kind, value = literal.kind, literal.value
    out = []
    for sign in (-1, 1):
        try:
            if kind == "money":
                new = value + sign * Decimal("0.01")
                text = f"EUR {format(new, 'f')}"
            elif kind == "percent":
                new = value + sign * Decimal("0.01")
                text = f"{format((new * 100).normalize(), 'f')} %"
            elif kind == "int" and not isinstance(value, bool):
                new = value + sign
                text = str(new)
            elif kind == "decimal":
                exponent = value.as_tuple().exponent
                new = value + sign * Decimal(1).scaleb(min(exponent, 0) if isinstance(exponent, int) else 0)
                text = format(new, "f")
            elif kind == "date" and value is not None:
                new = value + timedelta(days=sign)
                text = new.isoformat()
            elif kind == "duration":
                new = Duration(value.years, value.months, value.days + sign)
                text = _duration_text(value, sign)
            else:
                return []
        except (OverflowError, ArithmeticError):  # the last day of the calendar has no next day
            continue
        shown = text if kind == "duration" else None
        moved = replace(literal, value=new, text=text)
        out.append((moved, shown or print_literal(moved)))
    return out


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SHOWN else text[:_SHOWN - 3] + "..."


def _comparison(node) -> str:
    """A comparison as the report shows it: whole, or with its left side cut short when it is long, so that
    the operator and what it compares with stay in sight."""
    text = " ".join(print_expr(node).split())
    if len(text) <= _SHOWN:
        return text
    right = node.right if isinstance(node, nodes.Compare) else node.container
    operator = node.op if isinstance(node, nodes.Compare) else ("not in" if node.negated else "in")
    return f"... {operator} {_short(print_expr(right))}"


def _expression_changes(expr):
    """(path, span, operator, new node, before, after) for every mutation of an expression."""
    for path, node in _walk(expr):
        match node:
            case nodes.Compare(op=op):
                for operator, table in (("flip", _FLIP), ("boundary", _BOUNDARY)):
                    if op in table:
                        new = replace(node, op=table[op])
                        yield path, node.span, operator, new, _comparison(node), _comparison(new)
            case nodes.Member(negated=negated):
                new = replace(node, negated=not negated)
                yield path, node.span, "flip", new, _comparison(node), _comparison(new)
            case nodes.If(condition=condition, then=then, otherwise=otherwise):
                new = replace(node, then=otherwise, otherwise=then)
                yield (path, node.span, "swap", new, _short(f"if {print_expr(condition)} then A else B"),
                       "then and else swapped")
            case nodes.Literal():
                for new, text in _stepped(node):
                    yield path, node.span, "step", new, print_literal(node), text


def _where(span: Span) -> tuple:
    return (span.file, span.line, span.column)


def _written(parsed: ParsedRuleSet):
    """(key, Target without its versions, what is mutated) for each definition as written in a version."""
    for kind in EXPRESSION_KINDS:
        for name, definition in getattr(parsed, kind.section).items():
            if definition.expr is not None:
                yield ((kind.id, name, None, _where(definition.span)),
                       Target(kind.id, name, definition.span, definition.source, ()), definition.expr)
    for name, parameter in parsed.parameters.items():
        if parameter.expr is not None:
            yield (("parameter", name, None, _where(parameter.span)),
                   Target("parameter", name, parameter.span, parameter.source, ()), parameter.expr)
    for name, table in parsed.tables.items():
        for key, row in table.rows.items():
            yield (("table", name, key, _where(row.span)),
                   Target("table", name, row.span, table.source, (), key, table.span, bool(table.sample)), row)


def _row_changes(row: ParsedRow):
    """A row removed, and each number in its cells moved a step."""
    yield (), row.span, "row", None, f"row {row.key}", "removed"
    for column, cell in row.cells.items():
        if cell is None or (isinstance(cell, nodes.Literal) and cell.kind == "string"):
            continue
        for path, span, operator, new, before, after in _expression_changes(cell):
            if operator == "step":
                yield ((column,) + path, span, operator, new, f"{column}: {before}", f"{column}: {after}")


def mutants(parsed_versions: dict[str, ParsedRuleSet]) -> list[Mutant]:
    """Every mutant of the definitions as written in these versions (version -> its parsed definitions),
    each definition once, with the versions that hold it; in the order of the files and lines."""
    found: dict[tuple, tuple[Target, object, list[str]]] = {}
    for version, parsed in parsed_versions.items():
        for key, target, what in _written(parsed):
            found.setdefault(key, (target, what, []))[2].append(version)
    out: list[Mutant] = []
    for target, what, versions in sorted(found.values(), key=lambda e: _where(e[0].span)):
        target = replace(target, versions=tuple(versions))
        changes = _row_changes(what) if target.row is not None else _expression_changes(what)
        for path, at, operator, new, before, after in changes:
            at = at if at is not None and at.line else target.span
            out.append(Mutant(len(out), target, operator, path, new, at, before, after))
    return out


def apply_mutant(parsed: ParsedRuleSet, mutant: Mutant) -> ParsedRuleSet | None:
    """A version with the mutant's change made, as new frozen definitions (the version itself is left as it
    is); None when the version does not hold the mutated definition as written."""
    target = mutant.target
    where = _where(target.span)
    if target.row is not None:
        table = parsed.tables.get(target.name)
        row = table.rows.get(target.row) if table is not None else None
        if row is None or _where(row.span) != where:
            return None
        rows = ParsedRows(table.rows.written)
        for key, kept in table.rows.items():
            if key != target.row:
                rows[key] = kept
            elif mutant.replacement is not None:  # a cell moved a step
                column, path = mutant.path[0], mutant.path[1:]
                cells = dict(kept.cells, **{column: _replaced(kept.cells[column], path, mutant.replacement)})
                rows[key] = ParsedRow(kept.key, kept.span, kept.changed_in, cells, kept.column_spans, kept.problems)
        rows.problems = table.rows.problems
        return replace(parsed, tables={**parsed.tables, target.name: replace(table, rows=rows)})
    section = BY_ID[target.kind].section
    definitions = getattr(parsed, section)
    written = definitions.get(target.name)
    if written is None or written.expr is None or _where(written.span) != where:
        return None
    changed = replace(written, expr=_replaced(written.expr, mutant.path, mutant.replacement))
    return replace(parsed, **{section: {**definitions, target.name: changed}})


# -- trying mutants ---------------------------------------------------------------------

@dataclass
class _Versions:
    """What a process needs to try mutants: the rules, each version's passing tests, and (made once per
    process, on first use) each version's parsed definitions. It travels to a worker as the first two."""

    book: RuleBook
    tests: dict[str, tuple[TestCase, ...]]  # version -> the tests that pass under it
    deadline: float | None  # time.time() after which no mutant is started
    parsed: dict = field(default_factory=dict)  # version -> ParsedRuleSet

    def parsed_version(self, version: str) -> ParsedRuleSet | None:
        if version not in self.parsed:
            found, problems = parse_ruleset(self.book.source_named(version))
            self.parsed[version] = None if problems else found
        return self.parsed[version]

    def __getstate__(self):
        return {"book": self.book, "tests": self.tests, "deadline": self.deadline, "parsed": {}}


def _order(state: _Versions, versions: tuple[str, ...]) -> list[str]:
    """The versions to try a mutant in: those with the most tests first (where a kill is likeliest)."""
    return sorted(versions, key=lambda v: -len(state.tests.get(v, ())))


def _named(test: TestCase) -> str:
    return f"{test.file}:{test.span.line} {test.name}"


def try_mutant(state: _Versions, mutant: Mutant) -> MutantResult:
    """Check and compile the mutant in each version that holds it, and run that version's tests on it until
    one fails (killed) or none is left (survived)."""
    if state.deadline is not None and time.time() > state.deadline:
        return MutantResult(mutant, NOT_RUN)
    tested = False
    for version in _order(state, mutant.target.versions):
        tests = state.tests.get(version, ())
        if not tests and tested:
            break
        parsed = state.parsed_version(version)
        mutated = apply_mutant(parsed, mutant) if parsed is not None else None
        if mutated is None:
            continue
        built = state.book.build(state.book.source_named(version))
        checked, problems = check_ruleset(mutated, built.checked.case_model)
        if checked is None:
            first = next((p for p in problems if p.severity == "error"), None)
            return MutantResult(mutant, INVALID, how=f"{first.code}: {first.message}" if first else None)
        try:
            compiled = compile_ruleset(checked)
        except Exception as error:  # noqa: BLE001 - checked rules always compile: the report says if one does not
            return MutantResult(mutant, INVALID, how=f"the compiler failed: {type(error).__name__}: {error}")
        if not tests:
            break  # it checks; no test runs under the versions that hold it
        tested = True
        for test in tests:
            try:
                verdict = judge(compiled, built.info, test)
            except Exception as error:  # noqa: BLE001 - the mutant cannot decide the case: the test fails
                return MutantResult(mutant, KILLED, _named(test), f"raised {type(error).__name__}")
            if verdict.failures:
                return MutantResult(mutant, KILLED, _named(test), verdict.failures[0])
    return MutantResult(mutant, SURVIVED if tested else UNTESTED)


_WORKER: dict = {}  # in a worker process: the state it tries mutants with


def _start_worker(state: _Versions) -> None:
    _WORKER["state"] = state


def _try_in_worker(mutant: Mutant) -> MutantResult:
    return try_mutant(_WORKER["state"], mutant)


def run_mutants(book: RuleBook, results: list[TestResult], *, jobs: int = 1, budget: float | None = None,
                operators: tuple[str, ...] = OPERATORS) -> MutationReport:
    """Every mutant of the versions the tests run under, tried against the tests that pass on the rules as
    written; on `jobs` processes, none started after `budget` seconds."""
    started = time.monotonic()
    deadline = time.time() + budget if budget is not None else None
    passing: dict[str, list[TestCase]] = {}
    for result in results:
        if result.passed and result.version is not None:
            passing.setdefault(result.version, []).append(result.test)
    state = _Versions(book, {v: tuple(t) for v, t in passing.items()}, deadline)
    parsed = {}
    for source in book.sources:
        try:
            book.build(source)  # the versions that build (those the tests run under have been built already)
        except KmoRulesError:  # a version that does not build has no tests and no mutants
            continue
        version = state.parsed_version(source.version)
        if version is not None:
            parsed[source.version] = version
    every = [m for m in mutants(parsed) if m.operator in operators]
    if jobs <= 1 or len(every) < 2:
        tried = [try_mutant(state, m) for m in every]
    else:
        with Workers(start_context(), jobs, _start_worker, (state,), _try_in_worker) as workers:
            tried = list(workers.in_order(every, 4))
    return MutationReport(tuple(tried), sum(len(t) for t in passing.values()),
                          sum(1 for r in results if not r.passed), jobs, time.monotonic() - started, budget)


# -- reporting ----------------------------------------------------------------------

@dataclass(frozen=True)
class _Group:
    """What the report shows under one heading: a definition, or a table with its rows."""

    words: str
    span: Span
    results: tuple[MutantResult, ...]
    versions: tuple[str, ...]
    sample: bool


def _groups(report: MutationReport, every: list[str]) -> list[_Group]:
    """The results under their definition as written; the rows of a table under the table."""
    grouped: dict[tuple, list[MutantResult]] = {}
    for result in report.results:
        target = result.mutant.target
        key = ("table", target.name, _where(target.table)) if target.row is not None else \
            (target.kind, target.name, _where(target.span))
        grouped.setdefault(key, []).append(result)
    out = []
    for (_, name, _), results in grouped.items():
        target = results[0].mutant.target
        versions = {v for r in results for v in r.mutant.target.versions}
        out.append(_Group(f"table {name}" if target.row is not None else target.words(),
                          target.table if target.row is not None else target.span, tuple(results),
                          tuple(v for v in every if v in versions), target.sample))
    return sorted(out, key=lambda g: _where(g.span))


def _alive(results) -> list[MutantResult]:
    return [r for r in results if r.status in (SURVIVED, UNTESTED)]


def _change(mutant: Mutant, file: str) -> str:
    at = mutant.at
    where = f"{at.line}:{at.column}" if at.file == file else str(at)
    return f"{where}  {mutant.before}  ->  {mutant.after}"


def _by_source(report: MutationReport) -> list[tuple[str, int, int]]:
    """(act and article, mutants killed, mutants counted) for each legal source cited by a definition with a
    surviving mutant, in the order of the report."""
    found: dict[str, list[int]] = {}
    for result in report.results:
        if result.status not in (KILLED, SURVIVED, UNTESTED):
            continue
        for citation in citations(result.mutant.target.source):
            words = f"{citation.act}, {citation.article}" if citation.article else citation.act
            counts = found.setdefault(words, [0, 0])
            counts[0] += result.status == KILLED
            counts[1] += 1
    return [(words, killed, counted) for words, (killed, counted) in found.items() if killed < counted]


def mutation_lines(report: MutationReport, every: list[str]) -> list[str]:
    """The mutants no test kills, per definition with its file:line (a table's rows under the table), then
    the score and how the run went. `every` is the versions of the rules, to say which hold a definition."""
    lines: list[str] = []
    for group in _groups(report, every):
        alive = _alive(group.results)
        if not alive:
            continue
        counted = sum(1 for r in group.results if r.status in (KILLED, SURVIVED, UNTESTED))
        notes = [f"{len(alive)} of {counted} survive"]
        if list(group.versions) != every:
            notes.append(versions_words(list(group.versions), every))
        if any(r.status == UNTESTED for r in alive):
            notes.append("no test runs under its versions")
        if group.sample:
            notes.append("sample data")
        lines.append(f"{group.words}  {group.span.file}:{group.span.line}  ({'; '.join(notes)})")
        lines += [f"  {_change(r.mutant, group.span.file)}" for r in alive]
    if not lines:
        lines.append("no mutant survives" if report.count(KILLED) else "no mutant was tried")
    by_source = _by_source(report)
    if by_source:
        lines += ["", "the acts and articles whose definitions have mutants that survive:"]
        width = max(len(words) for words, _, _ in by_source)
        lines += [f"  {words:<{width}}  {killed} of {counted} killed" for words, killed, counted in by_source]
    score = report.score
    killed, counted = report.count(KILLED), report.count(KILLED, SURVIVED, UNTESTED)
    extra = []
    if report.count(INVALID):
        extra.append(f"{report.count(INVALID)} more do not check")
    if report.count(NOT_RUN):
        extra.append(f"{report.count(NOT_RUN)} not run: the time budget of {report.budget:g} s ran out")
    if report.failing:
        extra.append(f"{report.failing} failing test{'s' if report.failing != 1 else ''} left out")
    shown = "n/a" if score is None else f"{score:.1f} %"
    lines += ["", f"mutation score {shown}: {killed} of {counted} mutants killed"
              + (f" ({'; '.join(extra)})" if extra else "")
              + f"; {report.tests} tests, {report.jobs} job{'s' if report.jobs != 1 else ''}, {report.seconds:.1f} s"]
    return lines


def junit_suite(report: MutationReport, every: list[str], name: str = "mutants") -> JUnitSuite:
    """The mutation report as a JUnit suite: one case per mutated definition (a table with its rows), failed
    when a mutant of it survives, skipped when none of its mutants checked or ran."""
    cases = []
    for group in _groups(report, every):
        alive = _alive(group.results)
        killed = sum(1 for r in group.results if r.status == KILLED)
        failure = f"{len(alive)} of {len(alive) + killed} mutants survive" if alive else None
        skipped = "no mutant checked or ran" if not alive and not killed else None
        cases.append(JUnitCase(group.words, group.span.file, group.span.file, group.span.line, 0.0, failure,
                               "\n".join(_change(r.mutant, group.span.file) for r in alive), skipped))
    return JUnitSuite(name, tuple(cases))
