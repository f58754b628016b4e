"""Stage 7b, impact: two versions x many cases -> `ImpactReport` (what a change of rules does to real decisions).

Every case is decided under both versions, whatever its application date:
the built versions are used directly. A first pass evaluates without a trace
(fast); only the cases whose decision differs are decided again, by the
reference interpreter noting the branches taken, to say why. A case's causes
are the definitions whose change changed its decision: a condition that now
fails or passes (added, removed or changed), a note that now applies or not,
a parameter, table or rule whose change reaches a changed field of the
decision through values that depend on it on the branch the case took (a
ceiling that does not bind is no cause; a small enterprise does not read the
rate of a medium one). See `_Explainer`.

Cases that are invalid input under either version are counted and listed
with their first problem; they never stop the run.
"""
from __future__ import annotations

import json
from collections import ChainMap
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Callable, Iterable

from ..source.case import CaseTextError, parse_case_text
from ..core import kinds
from ..core import typesys as T
from ..core.diagnostics import CaseError, KmoRulesError
from ..core.values import in_engine_context
from .semantic_diff import RulesetDiff, VersionRef, diff_versions, version_ref
from ..run.evaluate import Decision, check_case, evaluate_case, shown_value
from ..run.interpret import _Frame, interpret, value_of
from ..run.usage import Usage, branch_key
from ..pipeline import Built, RuleBook
from ..source.source import RuleSource

ZERO = Decimal("0")
CENT = Decimal("0.01")
# Edges (in euro) of the buckets of subsidy change, by size of the change, in each direction.
BUCKET_EDGES = (Decimal(100), Decimal(500), Decimal(1000), Decimal(2500), Decimal(5000))
CAUSE_ORDER = ("condition", "rule", "note", "output")
# The kinds of definition a decision's trace shows, in its order: rule, condition, note, output.
CAUSE_KINDS = tuple(kind.id for kind in kinds.EXPRESSION_KINDS if kind.decides)
SECTION_OF_KIND = {kind.id: kind.section for kind in kinds.KINDS}

Progress = Callable[[str, int, int], None]  # (what is being done, cases done, cases in all)


class CasesUnreadable(KmoRulesError):
    """The cases to compare cannot be read at all (no such file or folder)."""


@dataclass(frozen=True)
class CaseInput:
    """One case to compare: where it comes from, its raw data, or why it could not be read."""

    id: str
    raw: object
    problem: str | None = None


@dataclass(frozen=True)
class InvalidCase:
    """A case that is not valid input: its first problem and under which version(s)."""

    id: str
    problem: str
    problems: int  # how many problems in all
    under: tuple[str, ...]  # the versions that reject it; empty when it could not even be read


@dataclass(frozen=True)
class FieldChange:
    """A field of the decision that differs: `eligible`, an output, `reasons` or `notes` (codes)."""

    field: str
    old: object  # as in the decision JSON
    new: object
    type: str = ""  # of an output: money, percent, date, ... (how its values read)


@dataclass(frozen=True)
class StepChange:
    """A rule, condition, note or output whose value differs between the two decisions of a case."""

    kind: str  # rule, condition, note, output
    name: str
    old: object  # as a trace shows it (None also when absent: see in_from)
    new: object
    in_from: bool  # the definition exists in the first version
    in_to: bool
    # The changed definitions through which this step changed this decision: its own name (its definition
    # changed, or it exists in one version only) and the changed parameters and tables it read, each only when
    # the value depended on it on the branch the case took. Empty for a consequence.
    because: tuple[str, ...]
    source: str
    type: str = ""  # the type of its value, as the rules write it: money, percent, bool, ...
    binding: bool = False  # a rule `prefix.input` that binds a module's input: the scheme's own plumbing
    changes: tuple[str, ...] = ()  # the fields of the decision it changed (through the steps after it)

    @property
    def is_cause(self) -> bool:
        return bool(self.because) or self.in_from != self.in_to


@dataclass(frozen=True)
class CaseChange:
    """A case whose decision changed: what changed, and why."""

    id: str
    fields: tuple[FieldChange, ...]
    causes: tuple[StepChange, ...]  # steps where a changed definition changed this decision
    consequences: tuple[StepChange, ...]  # steps between the causes and the decision: they changed with them
    eligible_before: bool
    eligible_after: bool
    subsidy_before: Decimal
    subsidy_after: Decimal
    without_effect: tuple[StepChange, ...] = ()  # steps whose value differs but that changed no field of the decision

    @property
    def subsidy_change(self) -> Decimal:
        return self.subsidy_after - self.subsidy_before

    def field(self, name: str) -> FieldChange | None:
        return next((f for f in self.fields if f.field == name), None)


@dataclass(frozen=True)
class CodeCount:
    """A reason or note code and the number of cases where it appeared (or disappeared)."""

    code: str
    cases: int


@dataclass(frozen=True)
class CauseCount:
    """A rule, condition, note or output that was a cause of change, and in how many cases.

    `variants` split those cases by what the step changed through (its `because`), most frequent first:
    their counts add up to `cases`. `because` is every name of them, in that order.
    """

    kind: str
    name: str
    because: tuple[str, ...]
    cases: int
    variants: tuple[tuple[tuple[str, ...], int], ...] = ()


@dataclass(frozen=True)
class Bucket:
    """Changed decisions whose subsidy moved by an amount in (low, high] in one direction."""

    direction: str  # lower, same, higher
    low: Decimal  # size of the change, exclusive (inclusive 0 for `same`)
    high: Decimal | None  # inclusive; None: no upper bound
    cases: int
    total: Decimal  # the sum of the changes in this bucket


@dataclass(frozen=True)
class ImpactReport:
    """What going from one version to another does to a set of cases."""

    ruleset: str
    from_version: VersionRef
    to_version: VersionRef
    diff: RulesetDiff
    cases: int  # read in all
    decided: int  # valid under both versions
    invalid: tuple[InvalidCase, ...]
    changed: tuple[CaseChange, ...]
    became_eligible: int
    became_ineligible: int
    causes: tuple[CauseCount, ...]  # in how many cases each step was a cause, most frequent first
    reasons_appeared: tuple[CodeCount, ...]
    reasons_disappeared: tuple[CodeCount, ...]
    notes_appeared: tuple[CodeCount, ...]
    notes_disappeared: tuple[CodeCount, ...]
    eligible_before: int
    eligible_after: int
    subsidy_before: Decimal  # the total over the decided cases of the output the scheme totals
    subsidy_after: Decimal
    distribution: tuple[Bucket, ...]
    total_output: str | None = None  # that output, as the scheme declares it (scheme.yaml, impact.total)
    total_label: str = "total"  # what it is, as people read it

    @property
    def unchanged(self) -> int:
        return self.decided - len(self.changed)

    @property
    def subsidy_change(self) -> Decimal:
        return self.subsidy_after - self.subsidy_before

    @property
    def average_change(self) -> Decimal:
        """Average subsidy change per decided case, to the cent."""
        return _average(self.subsidy_change, self.decided)

    @property
    def average_change_when_changed(self) -> Decimal:
        """Average subsidy change per changed decision, to the cent."""
        return _average(self.subsidy_change, len(self.changed))

    def case(self, case_id: str) -> CaseChange | None:
        return next((c for c in self.changed if c.id == case_id), None)


def _average(total: Decimal, count: int) -> Decimal:
    return (total / count).quantize(CENT, rounding=ROUND_HALF_UP) if count else ZERO


# -- reading cases -----------------------------------------------------------

CASE_FILE_SUFFIXES = (".json", ".yaml", ".yml")
LINES_SUFFIXES = (".jsonl", ".ndjson")


def _problem_of_text(error: Exception) -> str:
    if isinstance(error, CaseTextError):
        return str(error)
    if isinstance(error, json.JSONDecodeError):
        return f"not valid JSON: {error.msg} at column {error.colno}"
    mark = getattr(error, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return f"not valid JSON or YAML: {getattr(error, 'problem', None) or error}{where}"


def cases_from_lines(lines: Iterable[str], label: str) -> list[CaseInput]:
    """JSON lines -> one case per non-empty line, named `label:line`."""
    out = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        case_id = f"{label}:{number}"
        try:
            out.append(CaseInput(case_id, json.loads(line, parse_float=Decimal)))
        except json.JSONDecodeError as error:
            out.append(CaseInput(case_id, None, _problem_of_text(error)))
    return out


def _cases_from_file(path: Path, case_id: str) -> list[CaseInput]:
    try:
        raw = parse_case_text(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        return [CaseInput(case_id, None, f"cannot read the file: {getattr(error, 'strerror', None) or error}")]
    except Exception as error:  # JSON or YAML syntax
        return [CaseInput(case_id, None, _problem_of_text(error))]
    if isinstance(raw, list):
        return [CaseInput(f"{case_id}[{i}]", item) for i, item in enumerate(raw)]
    return [CaseInput(case_id, raw)]


def read_cases(path: Path | str) -> list[CaseInput]:
    """A folder of JSON/YAML case files, a JSON-lines file or one case file -> the cases, in a stable order."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in CASE_FILE_SUFFIXES + LINES_SUFFIXES)
        out: list[CaseInput] = []
        for file in files:
            shown = str(file.relative_to(path))
            if file.suffix in LINES_SUFFIXES:
                out += _lines_file(file, shown)
            else:
                out += _cases_from_file(file, shown)
        return out
    if path.is_file():
        if path.suffix in CASE_FILE_SUFFIXES:
            return _cases_from_file(path, path.name)
        return _lines_file(path, path.name)
    raise CasesUnreadable(f"cannot read the cases: no file or folder '{path}'")


def _lines_file(path: Path, label: str) -> list[CaseInput]:
    try:
        with path.open(encoding="utf-8") as handle:
            return cases_from_lines(handle, label)
    except (OSError, UnicodeDecodeError) as error:
        return [CaseInput(label, None, f"cannot read the file: {getattr(error, 'strerror', None) or error}")]


def as_case_inputs(cases: Iterable) -> list[CaseInput]:
    """CaseInputs, or plain case dicts (named #1, #2, ...) -> CaseInputs."""
    out = []
    for number, case in enumerate(cases, start=1):
        out.append(case if isinstance(case, CaseInput) else CaseInput(f"#{number}", case))
    return out


# -- comparing decisions --------------------------------------------------------

def _subsidy(decision: Decision, output: str | None) -> Decimal:
    value = decision.outputs.get(output) if output else None
    return Decimal(str(value)) if value is not None else ZERO


def _codes(reasons) -> tuple[str, ...]:
    return tuple(r.code for r in reasons)


def _signature(decision: Decision) -> tuple:
    return decision.eligible, decision.outputs, _codes(decision.reasons), _codes(decision.notes)


def _field_changes(before: Decision, after: Decision, types: dict) -> tuple[FieldChange, ...]:
    out = []
    if before.eligible != after.eligible:
        out.append(FieldChange("eligible", before.eligible, after.eligible))
    names = list(after.outputs) + [n for n in before.outputs if n not in after.outputs]
    for name in names:
        old, new = before.outputs.get(name), after.outputs.get(name)
        if old != new:
            out.append(FieldChange(name, old, new, types.get(name, "")))
    for name, old, new in (("reasons", _codes(before.reasons), _codes(after.reasons)),
                           ("notes", _codes(before.notes), _codes(after.notes))):
        if old != new:
            out.append(FieldChange(name, list(old), list(new)))
    return tuple(out)


class _World:
    """One version's decision of one case, as the reference interpreter made it: every value, the case as that
    version converted it, and the names each definition read on the branches the case took."""

    __slots__ = ("checked", "case", "values", "depends")

    def __init__(self, checked, case: dict, values: dict, depends: dict):
        self.checked, self.case, self.values, self.depends = checked, case, values, depends


class _Same:
    """An index that is the key itself: `Usage.depends` reads the interpreter's values by "kind:name"."""

    def __getitem__(self, key):
        return key


class _Rules:
    """What the interpreter reads of a version, with some parameters, tables or values taken from another."""

    __slots__ = ("bindings", "overloads", "parameters", "tables")

    def __init__(self, checked, parameters, tables):
        self.bindings, self.overloads = checked.bindings, checked.overloads
        self.parameters, self.tables = parameters, tables


class _Absent:
    """The value of a rule or output in a version that does not have it."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()


def _absent(kind: str):
    """The value of a definition a version does not have: a condition that is not there does not fail, a note
    that is not there does not apply; a rule or output that is not there has no value."""
    return False if kind in ("condition", "note") else ABSENT


def _shown(value, typ):
    """A value as an explanation shows it (the trace's own form); none for what is absent."""
    return None if value is ABSENT or value is None else shown_value(value, typ)


@dataclass(frozen=True)
class _Ingredient:
    """Something a definition's value may have changed through: its own definition (`own`), a parameter or
    table that changed (`parameter`, `table`), a rule whose value differs (`rule`), or eligibility."""

    what: str  # own, parameter, table, rule, eligible
    name: str


class _Explainer:
    """Finds why a case changed: each definition whose change changed the decision, and the steps in between.

    Both versions decide the case with the reference interpreter, noting the
    branches it took. From every field of the decision that changed (a
    condition that now fails or passes, a note that now applies or not, an
    output) it walks back through what each differing value was computed
    from on those branches. Of those ingredients (its own definition when it
    changed, the changed parameters and tables it read, the rules it read
    whose value differs) only the ones its value depends on for this case
    count: swapped back alone to what they were, the value would not be what
    it is now (a ceiling that does not bind changes nothing). When no
    ingredient does that alone, those that alone would have changed the
    value before count; when none does either, all of them do.

    A step where a changed definition comes in is a cause: its `because`
    names that definition (itself, or the parameters and tables it read).
    The steps between the causes and the decision are consequences; steps
    whose value differs but reach no changed field had no effect.
    """

    def __init__(self, built_a: Built, built_b: Built, ruleset_diff: RulesetDiff):
        self.a, self.b = built_a, built_b
        self.changed = {kind.section: ruleset_diff.changed_names(kind.section)
                        for kind in kinds.KINDS if kind.decides}
        self.usage = {id(built_a): Usage(built_a.checked), id(built_b): Usage(built_b.checked)}
        # every step, as the trace of the second version orders them, then those only the first version has
        self.order = list(dict.fromkeys((kind, name) for built in (built_b, built_a) for kind in CAUSE_KINDS
                                        for name in getattr(built.checked, SECTION_OF_KIND[kind])))
        self.bindings = module_bindings(built_a) | module_bindings(built_b)

    def _world(self, built: Built, raw) -> _World:
        case = check_case(built.compiled, raw).values
        taken: dict = {}

        def observe(expr, outcome: bool) -> None:
            taken[branch_key(expr)] = outcome

        values = interpret(built.checked, case, observe)
        return _World(built.checked, case, values, self.usage[id(built)].depends(taken, values, _Same()))

    def _definition(self, world: _World, kind: str, name: str):
        return getattr(world.checked, SECTION_OF_KIND[kind]).get(name)

    def _value(self, world: _World, kind: str, name: str):
        return world.values.get(f"{kind}:{name}", _absent(kind))

    @in_engine_context
    def why(self, raw) -> tuple[tuple[StepChange, ...], tuple[StepChange, ...], tuple[StepChange, ...]]:
        """(causes, consequences, steps that differ without effect on the decision) of one changed case."""
        before, after = self._world(self.a, raw), self._world(self.b, raw)
        differing = {key for key in self.order if self._value(before, *key) != self._value(after, *key)}
        eligibility_changed = before.values["eligible"] != after.values["eligible"]
        targets = [key for key in self.order if key in differing and key[0] != "rule"]  # the decision's own fields
        live: dict[tuple[str, str], tuple] = {}  # step -> (changed definitions it came through, differing rules)
        todo = list(targets)
        while todo:
            key = todo.pop()
            if key not in live:
                live[key] = self._live(key, before, after, differing, eligibility_changed)
                todo += live[key][1]
        # eligibility changed through the conditions that flipped (those it depended on); they are fields too
        deciding = self._deciding(before, after, differing) if eligibility_changed else ()
        changes: dict[tuple[str, str], set[str]] = {}
        for target in targets:
            fields = {"notes"} if target[0] == "note" else {target[1]} if target[0] == "output" else {"reasons"}
            if target in deciding:
                fields.add("eligible")
            for key in self._reached(target, live, deciding):
                changes.setdefault(key, set()).update(fields)
        order = ["eligible"] + [name for kind, name in self.order if kind == "output"] + ["reasons", "notes"]
        causes, consequences, idle = [], [], []
        for key in self.order:
            if key not in differing:
                continue
            if key not in live:
                idle.append(self._step(key, before, after, (), ()))
                continue
            made = tuple(field for field in order if field in changes.get(key, ()))
            step = self._step(key, before, after, live[key][0], made)
            (causes if step.is_cause else consequences).append(step)
        causes.sort(key=lambda step: CAUSE_ORDER.index(step.kind))  # eligibility first, then amounts
        return tuple(causes), tuple(consequences), tuple(idle)

    @staticmethod
    def _reached(target, live: dict, deciding: tuple) -> set:
        """The steps a changed field of the decision was computed from, through values that mattered."""
        found, todo = set(), [target]
        while todo:
            key = todo.pop()
            if key in found:
                continue
            found.add(key)
            roots, feeders, through_eligibility = live.get(key, ((), [], False))
            todo += feeders
            if through_eligibility:
                todo += deciding
        return found

    def _deciding(self, before: _World, after: _World, differing: set) -> tuple:
        """The flipped conditions that eligibility depended on: the same test as for any value (`_live`), for
        `eligible`, which fails when any condition fails."""
        flipped = [key for key in self.order if key[0] == "condition" and key in differing]

        def eligible(world: _World, other: _World, swapped) -> bool:
            return not any(self._value(other if key == swapped else world, *key)
                           for key in self.order if key[0] == "condition")

        back = [key for key in flipped if eligible(after, before, key) != after.values["eligible"]]
        forth = [key for key in flipped if eligible(before, after, key) != before.values["eligible"]]
        return tuple(back or forth or flipped)

    def _step(self, key, before: _World, after: _World, because: tuple[str, ...], made: tuple[str, ...]) -> StepChange:
        kind, name = key
        old_def, new_def = self._definition(before, kind, name), self._definition(after, kind, name)
        shown_def = new_def or old_def
        old = _shown(self._value(before, kind, name), old_def.type) if old_def is not None else None
        new = _shown(self._value(after, kind, name), new_def.type) if new_def is not None else None
        return StepChange(kind, name, old, new, old_def is not None, new_def is not None, because, shown_def.source,
                          str(shown_def.type), name in self.bindings, made)

    def _ingredients(self, key, before: _World, after: _World, differing: set, eligibility_changed: bool):
        kind, name = key
        section = SECTION_OF_KIND[kind]
        out = []
        if name in self.changed[section] or (self._definition(before, kind, name) is None) != \
                (self._definition(after, kind, name) is None):
            out.append(_Ingredient("own", name))
        read = set(before.depends.get(f"{kind}:{name}", ())) | set(after.depends.get(f"{kind}:{name}", ()))
        for used in sorted(read):
            if used in self.changed["parameters"]:
                out.append(_Ingredient("parameter", used))
            elif used in self.changed["tables"]:
                out.append(_Ingredient("table", used))
            elif ("rule", used) in differing:
                out.append(_Ingredient("rule", used))
        if eligibility_changed and any(d is not None and d.uses_eligible
                                       for d in (self._definition(w, kind, name) for w in (before, after))):
            out.append(_Ingredient("eligible", ""))
        return out

    def _live(self, key, before: _World, after: _World, differing: set, eligibility_changed: bool):
        """What the step's value depended on in this case, of what changed: (the changed definitions that came in
        at this step, the differing rules it was computed from, whether eligibility was one)."""
        ingredients = self._ingredients(key, before, after, differing, eligibility_changed)
        kind, name = key
        in_before = self._definition(before, kind, name) is not None
        in_after = self._definition(after, kind, name) is not None
        back, forth = [], []
        for ingredient in ingredients:
            if ingredient.what == "own" and in_before != in_after:
                back.append(ingredient)  # added or removed: that is what changed it
                continue
            if in_after and self._moves(key, after, before, ingredient):
                back.append(ingredient)
            elif in_before and self._moves(key, before, after, ingredient):
                forth.append(ingredient)
        live = back or forth or ingredients
        roots = tuple(dict.fromkeys(i.name for i in live if i.what in ("own", "parameter", "table")))
        feeders = [("rule", i.name) for i in live if i.what == "rule"]
        return roots, feeders, any(i.what == "eligible" for i in live)

    def _moves(self, key, world: _World, other: _World, ingredient: _Ingredient) -> bool:
        """Whether the step's value in `world` would differ with only `ingredient` as it is in `other`."""
        kind, name = key
        own = ingredient.what == "own"
        definition = self._definition(other if own else world, kind, name)
        if definition is None:
            return True
        parameters, tables = world.checked.parameters, world.checked.tables
        values = world.values
        if own:
            parameters = ChainMap(parameters, other.checked.parameters)
            tables = ChainMap(tables, other.checked.tables)
        elif ingredient.what == "parameter":
            parameters = _swapped(parameters, other.checked.parameters, ingredient.name)
        elif ingredient.what == "table":
            tables = _swapped(tables, other.checked.tables, ingredient.name)
        elif ingredient.what == "rule":
            values = ChainMap({f"rule:{ingredient.name}": other.values.get(f"rule:{ingredient.name}")}, values)
        else:
            values = ChainMap({"eligible": other.values["eligible"]}, values)
        frame = _Frame(_Rules(other.checked if own else world.checked, parameters, tables),
                       ChainMap(world.case, other.case) if own else world.case)
        frame.values = values
        try:
            value = value_of(frame, definition.expr)
        except Exception:  # noqa: BLE001 - what it reads is not there, or does not fit: it would not be the same
            return True
        if kind in ("condition", "note"):
            value = bool(value)
        return value != self._value(world, kind, name)


def _swapped(mine: dict, theirs: dict, name: str) -> dict:
    """`mine` with the entry `name` as `theirs` has it (left out when they have none)."""
    out = dict(mine)
    if name in theirs:
        out[name] = theirs[name]
    else:
        out.pop(name, None)
    return out


def module_bindings(built: Built) -> frozenset[str]:
    """The rules that bind a module's inputs, `prefix.input`: the scheme's own rules (no module's namespace)
    under an import's prefix."""
    source = built.checked.source
    prefixes = set(source.imports)
    return frozenset(name for name, item in source.rules.items()
                     if not item.namespace and name.partition(".")[0] in prefixes and "." in name)


def _cause_counts(counts: dict[tuple[str, str], dict[tuple[str, ...], int]]) -> tuple[CauseCount, ...]:
    """Each cause with the cases it caused, split by what it changed through; most frequent first."""
    out = []
    for (kind, name), variants in counts.items():
        ordered = tuple(sorted(variants.items(), key=lambda item: (-item[1], item[0])))
        names = tuple(dict.fromkeys(used for because, _ in ordered for used in because))
        out.append(CauseCount(kind, name, names, sum(variants.values()), ordered))
    out.sort(key=lambda c: (-c.cases, CAUSE_ORDER.index(c.kind), c.name))
    return tuple(out)


def _counted(counts: dict[str, int]) -> tuple[CodeCount, ...]:
    return tuple(CodeCount(code, n) for code, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _bucket_key(change: Decimal) -> tuple[str, int]:
    if change == 0:
        return "same", 0
    size = abs(change)
    index = next((i for i, edge in enumerate(BUCKET_EDGES) if size <= edge), len(BUCKET_EDGES))
    return ("lower" if change < 0 else "higher"), index


def _distribution(changes: Iterable[CaseChange]) -> tuple[Bucket, ...]:
    counts: dict[tuple[str, int], list] = {}
    for change in changes:
        entry = counts.setdefault(_bucket_key(change.subsidy_change), [0, ZERO])
        entry[0] += 1
        entry[1] += change.subsidy_change
    edges = (ZERO,) + BUCKET_EDGES
    buckets = []
    for index in reversed(range(len(edges))):  # largest decreases first
        high = edges[index + 1] if index + 1 < len(edges) else None
        n, total = counts.get(("lower", index), (0, ZERO))
        buckets.append(Bucket("lower", edges[index], high, n, total))
    n, total = counts.get(("same", 0), (0, ZERO))
    buckets.append(Bucket("same", ZERO, ZERO, n, total))
    for index in range(len(edges)):
        high = edges[index + 1] if index + 1 < len(edges) else None
        n, total = counts.get(("higher", index), (0, ZERO))
        buckets.append(Bucket("higher", edges[index], high, n, total))
    return tuple(buckets)


def _built(book: RuleBook, version) -> Built:
    if isinstance(version, Built):
        return version
    if isinstance(version, RuleSource):
        return book.build(version)
    return book.build(book.resolve(version))


def impact(book: RuleBook, from_version: str | date | RuleSource | Built, to_version: str | date | RuleSource | Built,
           cases: Iterable, *, progress: Progress | None = None, step: int = 500) -> ImpactReport:
    """Cases (CaseInputs or plain dicts) decided under two versions -> what changes, how much, and why.

    `progress(stage, done, total)` is called every `step` cases, when given.
    """
    built_a, built_b = _built(book, from_version), _built(book, to_version)
    asked_from = from_version if isinstance(from_version, str) else None
    asked_to = to_version if isinstance(to_version, str) else None
    if isinstance(from_version, date):
        asked_from = from_version.isoformat()
    if isinstance(to_version, date):
        asked_to = to_version.isoformat()
    ruleset_diff = diff_versions(built_a, built_b, book, asked_from=asked_from, asked_to=asked_to)
    inputs = as_case_inputs(cases)
    total = len(inputs)
    scheme = book.scheme
    totalled = scheme.impact_total if scheme is not None else None
    label = (scheme.impact_label.get("en") if scheme is not None else None) or totalled or "total"

    invalid: list[InvalidCase] = []
    changed_pairs: list[tuple[CaseInput, Decision, Decision]] = []
    decided = eligible_before = eligible_after = 0
    subsidy_before = subsidy_after = ZERO
    for done, case in enumerate(inputs, start=1):
        if progress is not None and done % step == 0:
            progress("deciding", done, total)
        if case.problem is not None:
            invalid.append(InvalidCase(case.id, case.problem, 1, ()))
            continue
        decisions, problems = [], []
        for built in (built_a, built_b):
            try:
                decisions.append(evaluate_case(built.compiled, built.info, case.raw))
            except CaseError as error:
                decisions.append(None)
                problems.append((built.source.version, error.problems))
        if problems:
            under = tuple(dict.fromkeys(v for v, _ in problems))
            first = problems[0][1]
            invalid.append(InvalidCase(case.id, str(first[0]) if first else "invalid", len(first), under))
            continue
        before, after = decisions
        decided += 1
        eligible_before += before.eligible
        eligible_after += after.eligible
        subsidy_before += _subsidy(before, totalled)
        subsidy_after += _subsidy(after, totalled)
        if _signature(before) != _signature(after):
            changed_pairs.append((case, before, after))
    if progress is not None:
        progress("deciding", total, total)

    explainer = _Explainer(built_a, built_b, ruleset_diff)
    output_types = {name: str(T.strip_optional(d.type)) for built in (built_a, built_b)
                    for name, d in built.checked.outputs.items()}
    changed: list[CaseChange] = []
    appeared: dict[str, int] = {}
    disappeared: dict[str, int] = {}
    notes_appeared: dict[str, int] = {}
    notes_disappeared: dict[str, int] = {}
    became_eligible = became_ineligible = 0
    cause_counts: dict[tuple[str, str], dict[tuple[str, ...], int]] = {}
    for done, (case, before, after) in enumerate(changed_pairs, start=1):
        if progress is not None and done % step == 0:
            progress("explaining", done, len(changed_pairs))
        causes, consequences, idle = explainer.why(case.raw)
        changed.append(CaseChange(case.id, _field_changes(before, after, output_types), causes, consequences,
                                  before.eligible, after.eligible, _subsidy(before, totalled),
                                  _subsidy(after, totalled), idle))
        for cause in causes:
            variants = cause_counts.setdefault((cause.kind, cause.name), {})
            variants[cause.because] = variants.get(cause.because, 0) + 1
        became_eligible += after.eligible and not before.eligible
        became_ineligible += before.eligible and not after.eligible
        for counts_in, counts_out, old, new in ((appeared, disappeared, before.reasons, after.reasons),
                                                (notes_appeared, notes_disappeared, before.notes, after.notes)):
            old_codes, new_codes = set(_codes(old)), set(_codes(new))
            for code in new_codes - old_codes:
                counts_in[code] = counts_in.get(code, 0) + 1
            for code in old_codes - new_codes:
                counts_out[code] = counts_out.get(code, 0) + 1

    return ImpactReport(
        built_a.source.ruleset, version_ref(built_a.source), version_ref(built_b.source), ruleset_diff,
        total, decided, tuple(invalid), tuple(changed), became_eligible, became_ineligible,
        _cause_counts(cause_counts),
        _counted(appeared), _counted(disappeared), _counted(notes_appeared), _counted(notes_disappeared),
        eligible_before, eligible_after, subsidy_before, subsidy_after, _distribution(changed), totalled, label,
    )
