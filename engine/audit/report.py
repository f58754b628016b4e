"""What an audit report says, whatever its format: `RulesetDiff` / `ImpactReport` -> groups, counts, rows
and the phrases they read as.

Detection lives in `semantic_diff.py` and `impact_analysis.py`; `render_text`, `render_markdown` and
`render_json` only lay out what this module picks and words.
"""
from __future__ import annotations

from dataclasses import dataclass

from .semantic_diff import KINDS, SECTIONS, Change, Detail, RowChange, RulesetDiff, VersionRef
from .impact_analysis import Bucket, CaseChange, CauseCount, CodeCount, ImpactReport, InvalidCase, StepChange
from ..core import kinds
from ..core.values import format_amount, format_for_people

SECTION_TITLES = {kind.section: kind.title["en"] for kind in kinds.KINDS}
PLURALS = {kind.noun["en"]: kind.plural["en"] for kind in kinds.KINDS}
# How each kind of definition with an expression reads it.
EXPRESSION_WORDS = {kind.section: kind.expression_words["en"] for kind in kinds.KINDS if kind.expression_key}
STATUS_ORDER = ("changed", "added", "removed")
ROW_MARKS = {"added": "+", "removed": "-", "changed": "~"}
FIELD_WORDS = {"null": "none", "true": "yes", "false": "no"}  # a decision field's value in a sentence


# -- words -----------------------------------------------------------------------------

def plural(n: int, word: str) -> str:
    return f"{n} {word if n == 1 else PLURALS.get(word, word + 's')}"


def and_list(names: tuple[str, ...]) -> str:
    """`a`, `a and b`, `a, b and c`."""
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def period(ref: VersionRef) -> str:
    if ref.effective_until is None:
        return f"{ref.effective_from.isoformat()} onwards"
    return f"{ref.effective_from.isoformat()} to {ref.effective_until.isoformat()}"


def made(d: RulesetDiff) -> str:
    """How a change relates to the versions crossed: `made in` them, or `undoes` them going back."""
    return "undoes" if d.direction == "backward" else "made in"


# -- the diff ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Group:
    """The major changes of one section with one status, as a report lists them: `Rules changed (3)`."""

    section: str
    status: str
    changes: tuple[Change, ...]

    @property
    def title(self) -> str:
        return f"{SECTION_TITLES[self.section]} {self.status}"


def ends(d: RulesetDiff) -> tuple[tuple[str, str, VersionRef], ...]:
    """(from or to, as asked, the version it names) for both ends of the diff."""
    return (("from", d.asked_from, d.from_version), ("to", d.asked_to, d.to_version))


def groups(d: RulesetDiff, section: str) -> list[Group]:
    """The groups of a section with any major change, changed first, then added, then removed."""
    found = []
    for status in STATUS_ORDER:
        changes = d.of(section, status)
        if changes:
            found.append(Group(section, status, changes))
    return found


def rows_of(d: RulesetDiff, table: str) -> list[RowChange]:
    return [r for r in d.rows if r.table == table]


def entry_tables(d: RulesetDiff) -> list[str]:
    """The tables whose entries changed while the table itself stayed (an added or removed table lists
    its entries with it)."""
    return [t for t in dict.fromkeys(r.table for r in d.rows)
            if d.change("tables", t) is None or d.change("tables", t).status == "changed"]


def in_short(d: RulesetDiff) -> str:
    """`2 parameters changed; 1 rule added; entries of table x: 3 added; 1 minor (wording or sources only).`"""
    parts = []
    for section in SECTIONS:
        kind = KINDS[section]
        for status in STATUS_ORDER:
            n = len(d.of(section, status))
            if n:
                parts.append(f"{plural(n, kind)} {status}")
    for table in entry_tables(d):
        rows = rows_of(d, table)
        counts = [f"{sum(1 for r in rows if r.status == s)} {s}" for s in ("added", "removed", "changed")
                  if any(r.status == s for r in rows)]
        parts.append(f"entries of table {table}: {', '.join(counts)}")
    if d.minor:
        parts.append(f"{len(d.minor)} minor (wording or sources only)")
    return "; ".join(parts) + "."


def counts(d: RulesetDiff) -> dict:
    """How many changes of each section and status, of table entries, and minor ones (only those there are)."""
    out = {}
    for section in SECTIONS:
        section_counts = {status: len(d.of(section, status)) for status in STATUS_ORDER}
        if any(section_counts.values()):
            out[section] = section_counts
    entries = {status: sum(1 for r in d.rows if r.status == status) for status in ("added", "removed", "changed")}
    if any(entries.values()):
        out["table_entries"] = entries
    if d.minor:
        out["minor"] = len(d.minor)
    return out


def cells(cells: tuple[tuple[str, str], ...] | None) -> str:
    if not cells:
        return ""
    return "; ".join(f"{column}: {value}" for column, value in cells)


def changed_cells(old, new) -> str:
    old_map, new_map = dict(old or ()), dict(new or ())
    parts = []
    for column in list(new_map) + [c for c in old_map if c not in new_map]:
        if old_map.get(column) != new_map.get(column):
            parts.append(f"{column}: {old_map.get(column, '(none)')} -> {new_map.get(column, '(none)')}")
    return "; ".join(parts)


def row_text(r: RowChange) -> str:
    """What an entry holds (added or removed) or what changed in it."""
    return changed_cells(r.old, r.new) if r.status == "changed" else cells(r.new if r.status == "added" else r.old)


def source_first(details: tuple[Detail, ...]) -> list[Detail]:
    return sorted(details, key=lambda detail: detail.aspect != "source")


def aspects_changed(details: tuple[Detail, ...]) -> str:
    """`message (en, nl) and source` from the aspects message.en, message.nl and source."""
    grouped: dict[str, list[str]] = {}
    for detail in source_first(details):
        head, _, lang = detail.aspect.partition(".")
        grouped.setdefault(head, [])
        if lang:
            grouped[head].append(lang)
    words = [f"{head} ({', '.join(langs)})" if langs else head for head, langs in grouped.items()]
    return " and ".join(words) if len(words) <= 2 else ", ".join(words[:-1]) + " and " + words[-1]


# -- the impact --------------------------------------------------------------------------

def step_value(step: StepChange, present: bool, value) -> str:
    if not present:
        return "(absent)"
    if step.kind == "condition":
        return "failed" if value else "passed"
    if step.kind == "note":
        return "applies" if value else "does not apply"
    return format_for_people(value, "percent" if step.type.startswith("percent") else "")


def field_text(change) -> str:
    """`subsidy 100.00 -> 200.00`, `reasons +code -other`."""
    if change.field in ("reasons", "notes"):
        old, new = set(change.old), set(change.new)
        marks = [f"+{code}" for code in change.new if code not in old] + [f"-{code}" for code in change.old
                                                                          if code not in new]
        return f"{change.field} {' '.join(marks)}"
    kind = "percent" if change.type == "percent" else ""
    return (f"{change.field} {format_for_people(change.old, kind, FIELD_WORDS)} -> "
            f"{format_for_people(change.new, kind, FIELD_WORDS)}")


def made_in_words(made_in: tuple[str, ...]) -> str:
    """`2019-12-01`, or `2024-01-01, by the module de-minimis 2024-01-01` for a version a module's change made
    (which the diff writes `2024-01-01 (module de-minimis 2024-01-01)`)."""
    words = []
    for version in made_in:
        head, marked, part = version.partition(" (module ")
        words.append(f"{head}, by the module {part.removesuffix(')')}" if marked else version)
    return and_list(tuple(words))


def cause_text(step: StepChange, report: ImpactReport) -> str:
    """Why one case changed: a step's value before and after, and the changed definitions it changed through."""
    what = f"{step.kind} {step.name}"
    if step.in_from != step.in_to:
        change = report.diff.change(f"{step.kind}s", step.name)
        when = f" in {made_in_words(change.made_in)}" if change else ""
        shown = step_value(step, True, step.new if step.in_to else step.old)
        text = f"{what} {shown} (it was {'added' if step.in_to else 'removed'}{when}"
        read = because_text(step.kind, step.name, tuple(n for n in step.because if n != step.name), report,
                            values=True)
        return text + (f"; {read})" if read else ")")
    text = f"{what}: {step_value(step, True, step.old)} -> {step_value(step, True, step.new)}"
    because = because_text(step.kind, step.name, step.because, report, values=True)
    return text + (f" ({because})" if because else "")


def cause_line(step: StepChange, case: CaseChange, report: ImpactReport) -> str:
    """`cause_text`, and, when the case has more than one cause, which fields of the decision this one changed."""
    text = cause_text(step, report)
    if len(case.causes) > 1 and step.changes:
        text += f", changing {and_list(step.changes)}"
    return text


def because_text(kind: str, name: str, because: tuple[str, ...], report: ImpactReport, values: bool) -> str:
    """What a step changed through: its own definition, or the parameters and tables it read that changed."""
    parts = []
    if name in because:
        change = report.diff.change(f"{kind}s", name)
        parts.append(f"its definition changed{' in ' + made_in_words(change.made_in) if change else ''}")
    read = []
    for used in because:
        if used == name:
            continue
        parameter = report.diff.change("parameters", used)
        if values and parameter is not None:
            old = parameter.old if parameter.status != "added" else "(none)"
            new = parameter.new if parameter.status != "removed" else "(none)"
            read.append(f"{used} {old} -> {new}")
        else:
            read.append(used)
    if read:
        parts.append("reads " + ", ".join(read))
    return "; ".join(parts)


def cause_count_text(cause: CauseCount, report: ImpactReport) -> str:
    """Why a step was a cause, over all its cases; empty when its cases split (`cause_variants` says how)."""
    change = report.diff.change(f"{cause.kind}s", cause.name)
    if change is not None and change.status in ("added", "removed"):
        return f"{change.status} in {made_in_words(change.made_in)}"
    if len(cause.variants) > 1:
        return ""
    return because_text(cause.kind, cause.name, cause.because, report, values=False)


def cause_variants(cause: CauseCount, report: ImpactReport) -> list[tuple[str, int]]:
    """(what the step changed through, in how many cases) when that differs between its cases: the counts
    add up to the cause's. Empty when every case changed through the same definitions."""
    change = report.diff.change(f"{cause.kind}s", cause.name)
    if len(cause.variants) < 2 or (change is not None and change.status in ("added", "removed")):
        return []
    return [(because_text(cause.kind, cause.name, because, report, values=False) or "(no changed definition found)",
             cases) for because, cases in cause.variants]


def causes_per_case(report: ImpactReport) -> str:
    """How the cause counts relate to the changed decisions, in one sentence: they add up to the changed
    decisions when each has one cause; a decision with more than one counts under each."""
    changed = len(report.changed)
    counts = [len(case.causes) for case in report.changed]
    single, several, none = counts.count(1), sum(1 for n in counts if n > 1), counts.count(0)
    if not changed:
        return ""
    if changed == 1:
        n = counts[0]
        return "The changed decision has " + ("no cause found." if n == 0 else "one cause." if n == 1 else
                                              f"{n} causes; it counts under each.")
    if single == changed:
        return f"Each of the {changed} changed decisions has one cause: the counts add up to {changed}."
    parts = [f"{single} {'has' if single == 1 else 'have'} one cause"] if single else []
    if several:
        parts.append(f"{several} {'has' if several == 1 else 'have'} more than one, counted under each")
    if none:
        parts.append(f"{none} {'has' if none == 1 else 'have'} none found")
    return f"Of the {changed} changed decisions, " + and_list(tuple(parts)) + "."


def consequences_shown(case: CaseChange) -> list[StepChange]:
    """The rules between the causes and the decision that a reader is shown: not the decision's own fields
    (outputs, and the conditions and notes whose codes are listed as changed), and no rule that only binds a
    module's input (`de_minimis.requested`, say) unless it is a cause."""
    shown = {f.field for f in case.fields}
    return [s for s in case.consequences if s.kind == "rule" and s.name not in shown and not s.binding]


def bucket_label(bucket: Bucket) -> str:
    if bucket.direction == "same":
        return "same amount (other fields changed)"
    low, high = f"{bucket.low:,}", f"{bucket.high:,}" if bucket.high is not None else None
    if high is None:
        size = f"more than EUR {low}"
    elif bucket.low == 0:
        size = f"up to EUR {high}"
    else:
        size = f"EUR {low} to {high}"
    return f"{bucket.direction} by {size}"


def other_fields_only(report: ImpactReport) -> int:
    """Changed decisions that neither became eligible nor ineligible."""
    return len(report.changed) - report.became_eligible - report.became_ineligible


def subsidy_rows(report: ImpactReport) -> list[tuple[str, str]]:
    """(label, amount) of the subsidy over the decided cases."""
    a, b = report.from_version.version, report.to_version.version
    return [(f"under {a}", format_amount(report.subsidy_before)), (f"under {b}", format_amount(report.subsidy_after)),
            ("change", format_amount(report.subsidy_change, signed=True)),
            ("average change per case", format_amount(report.average_change, signed=True)),
            ("average per changed decision", format_amount(report.average_change_when_changed, signed=True))]


def code_counts(report: ImpactReport) -> list[tuple[str, tuple[CodeCount, ...]]]:
    """(title, counts) of the reason and note codes that appeared or disappeared, when any did."""
    return [(title, found) for title, found in (("Reasons that appeared", report.reasons_appeared),
                                                ("Reasons that disappeared", report.reasons_disappeared),
                                                ("Notes that appeared", report.notes_appeared),
                                                ("Notes that disappeared", report.notes_disappeared)) if found]


def moved_buckets(report: ImpactReport) -> list[Bucket]:
    return [bucket for bucket in report.distribution if bucket.cases]


def invalid_limit(show: int | None) -> int | None:
    """How many invalid cases to list: at least ten when the changed cases are limited to `show`."""
    return None if show is None else max(show, 10)


def listed_invalid(report: ImpactReport, show: int | None) -> tuple[InvalidCase, ...]:
    return report.invalid[:invalid_limit(show)]


def listed_changes(report: ImpactReport, show: int | None) -> tuple[CaseChange, ...]:
    return report.changed if show is None else report.changed[:show]
