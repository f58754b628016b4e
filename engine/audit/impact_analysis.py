"""Stage 7b, impact: two versions x many cases -> `ImpactReport` (what a change of rules does to real decisions).

Every case is decided under both versions, whatever its application date:
the built versions are used directly. A first pass evaluates without a trace
(fast); only the cases whose decision differs are evaluated again with their
trace, to say why: the rules, conditions and notes whose value differs, and,
among them, the causes (those whose own definition changed, or that read a
parameter or table that changed, or that exist in one version only).

Cases that are invalid input under either version are counted and listed
with their first problem; they never stop the run.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Callable, Iterable

from ..source.case import CaseTextError, parse_case_text
from ..core import kinds
from ..core import typesys as T
from ..core.diagnostics import CaseError, KmoRulesError
from .semantic_diff import RulesetDiff, VersionRef, diff_versions, version_ref
from ..run.evaluate import Decision, TraceStep, evaluate_case
from ..pipeline import Built, RuleBook
from ..source.source import RuleSource

ZERO = Decimal("0")
CENT = Decimal("0.01")
# Edges (in euro) of the buckets of subsidy change, by size of the change, in each direction.
BUCKET_EDGES = (Decimal(100), Decimal(500), Decimal(1000), Decimal(2500), Decimal(5000))
CAUSE_ORDER = ("condition", "rule", "note", "output")
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
    """A rule, condition, note or output whose value differs between the two traces."""

    kind: str  # rule, condition, note, output
    name: str
    old: object  # the value in the trace (None also when absent: see in_from)
    new: object
    in_from: bool  # the definition exists in the first version
    in_to: bool
    because: tuple[str, ...]  # changed items it reads: its own name (its definition changed), parameters, tables
    source: str
    type: str = ""  # the type of its value, as the rules write it: money, percent, bool, ...

    @property
    def is_cause(self) -> bool:
        return bool(self.because) or self.in_from != self.in_to


@dataclass(frozen=True)
class CaseChange:
    """A case whose decision changed: what changed, and why."""

    id: str
    fields: tuple[FieldChange, ...]
    causes: tuple[StepChange, ...]  # steps that changed because the rules they read changed
    consequences: tuple[StepChange, ...]  # steps that changed only because the steps they read changed
    eligible_before: bool
    eligible_after: bool
    subsidy_before: Decimal
    subsidy_after: Decimal

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
    """A rule, condition, note or output that was a cause of change, and in how many cases."""

    kind: str
    name: str
    because: tuple[str, ...]
    cases: int


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
    causes: tuple[CauseCount, ...]  # how often each step was a cause, most frequent first
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


class _Explainer:
    """Finds why a case changed: the trace steps that differ, split into causes and consequences."""

    def __init__(self, built_a: Built, built_b: Built, ruleset_diff: RulesetDiff):
        self.a, self.b = built_a, built_b
        self.changed = {kind.section: ruleset_diff.changed_names(kind.section)
                        for kind in kinds.KINDS if kind.decides}

    def _definition(self, kind: str, name: str):
        section = SECTION_OF_KIND[kind]
        return getattr(self.b.checked, section).get(name) or getattr(self.a.checked, section).get(name)

    def _because(self, kind: str, name: str) -> tuple[str, ...]:
        found = [name] if name in self.changed[SECTION_OF_KIND[kind]] else []
        uses = set()
        for checked in (self.a.checked, self.b.checked):
            definition = getattr(checked, SECTION_OF_KIND[kind]).get(name)
            if definition is not None:
                uses.update(definition.uses)
        found += sorted(u for u in uses if u in self.changed["parameters"] or u in self.changed["tables"])
        return tuple(found)

    def why(self, raw) -> tuple[tuple[StepChange, ...], tuple[StepChange, ...]]:
        before = evaluate_case(self.a.compiled, self.a.info, raw, explain=True)
        after = evaluate_case(self.b.compiled, self.b.info, raw, explain=True)
        old_steps = {(s.kind, s.name): s for s in before.explanation.steps}
        new_steps = {(s.kind, s.name): s for s in after.explanation.steps}
        keys = list(new_steps) + [k for k in old_steps if k not in new_steps]
        causes, consequences = [], []
        for key in keys:
            old, new = old_steps.get(key), new_steps.get(key)
            if old is not None and new is not None and old.value == new.value:
                continue
            step = StepChange(key[0], key[1], _value(old), _value(new), old is not None, new is not None,
                              self._because(*key), (new or old).source, (new or old).type)
            (causes if step.is_cause else consequences).append(step)
        causes.sort(key=lambda step: CAUSE_ORDER.index(step.kind))  # eligibility first, then amounts
        return tuple(causes), tuple(consequences)


def _value(step: TraceStep | None):
    return None if step is None else step.value


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
    cause_counts: dict[tuple[str, str], list] = {}
    for done, (case, before, after) in enumerate(changed_pairs, start=1):
        if progress is not None and done % step == 0:
            progress("explaining", done, len(changed_pairs))
        causes, consequences = explainer.why(case.raw)
        changed.append(CaseChange(case.id, _field_changes(before, after, output_types), causes, consequences,
                                  before.eligible, after.eligible, _subsidy(before, totalled),
                                  _subsidy(after, totalled)))
        for cause in causes:
            entry = cause_counts.setdefault((cause.kind, cause.name), [cause.because, 0])
            entry[1] += 1
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
        tuple(CauseCount(kind, name, because, n) for (kind, name), (because, n)
              in sorted(cause_counts.items(), key=lambda item: -item[1][1])),
        _counted(appeared), _counted(disappeared), _counted(notes_appeared), _counted(notes_disappeared),
        eligible_before, eligible_after, subsidy_before, subsidy_after, _distribution(changed), totalled, label,
    )
