"""Render for auditors: `RulesetDiff` / `ImpactReport` -> text, Markdown or JSON-ready data.

Detection lives in `semantic_diff.py` and `impact_analysis.py`; this module only shapes what
they found for people (text, Markdown) and programs (plain data for JSON).
Money in the data is a decimal string with two decimals, as in decisions.
"""
from __future__ import annotations

import textwrap
from decimal import Decimal

from .semantic_diff import KINDS, SECTIONS, Change, Detail, RowChange, RulesetDiff, VersionRef
from .impact_analysis import Bucket, CaseChange, CauseCount, CodeCount, ImpactReport, StepChange
from ..core.values import format_percent

WIDTH = 110
SECTION_TITLES = {"parameters": "Parameters", "tables": "Tables", "rules": "Rules", "conditions": "Conditions",
                  "notes": "Notes", "input_checks": "Input checks", "outputs": "Outputs"}
PLURALS = {"parameter": "parameters", "table": "tables", "rule": "rules", "condition": "conditions", "note": "notes",
           "input check": "input checks", "output": "outputs"}
# How each kind of definition reads its expression.
EXPRESSION_WORDS = {"parameters": "value", "rules": "value", "conditions": "fails when", "notes": "applies when",
                    "input_checks": "fails when", "outputs": "value"}
STATUS_ORDER = ("changed", "added", "removed")


# -- small helpers ---------------------------------------------------------------

def _plural(n: int, word: str) -> str:
    return f"{n} {word if n == 1 else PLURALS.get(word, word + 's')}"


def _versions(made_in: tuple[str, ...]) -> str:
    if len(made_in) <= 2:
        return " and ".join(made_in)
    return ", ".join(made_in[:-1]) + " and " + made_in[-1]


def _period(ref: VersionRef) -> str:
    if ref.effective_until is None:
        return f"{ref.effective_from.isoformat()} onwards"
    return f"{ref.effective_from.isoformat()} to {ref.effective_until.isoformat()}"


def _wrap(text: str, first: str, rest: str | None = None, width: int = WIDTH) -> list[str]:
    """`text` after the prefix `first`, continued under `rest` (spaces as wide as `first` by default)."""
    rest = " " * len(first) if rest is None else rest
    glued = text.replace(" %", "\0%").replace("EUR ", "EUR\0")  # never break "30 %" or "EUR 100"
    lines = textwrap.wrap(glued, width=width, initial_indent=first, subsequent_indent=rest,
                          break_long_words=False, break_on_hyphens=False) or [first.rstrip()]
    return [line.replace("\0", " ") for line in lines]


def money(amount: Decimal, *, signed: bool = False) -> str:
    """EUR 1,234.50; -EUR 12.00; with `signed`, +EUR 3.00 for increases."""
    amount = Decimal(amount)
    sign = "-" if amount < 0 else ("+" if signed and amount > 0 else "")
    return f"{sign}EUR {abs(amount).quantize(Decimal('0.01')):,}"


def _money_data(amount: Decimal) -> str:
    return str(Decimal(amount).quantize(Decimal("0.01")))


def _cells(cells: tuple[tuple[str, str], ...] | None) -> str:
    if not cells:
        return ""
    return "; ".join(f"{column}: {value}" for column, value in cells)


def _changed_cells(old, new) -> str:
    old_map, new_map = dict(old or ()), dict(new or ())
    parts = []
    for column in list(new_map) + [c for c in old_map if c not in new_map]:
        if old_map.get(column) != new_map.get(column):
            parts.append(f"{column}: {old_map.get(column, '(none)')} -> {new_map.get(column, '(none)')}")
    return "; ".join(parts)


def _ordered(changes, section: str, status: str, minor: bool) -> list[Change]:
    return [c for c in changes if c.section == section and c.status == status and c.minor == minor]


# -- the diff as data -----------------------------------------------------------------

def version_data(ref: VersionRef) -> dict:
    return {"version": ref.version, "effective_from": ref.effective_from.isoformat(),
            "effective_until": ref.effective_until.isoformat() if ref.effective_until else None,
            "summary": ref.summary, "source": ref.source, "assumptions": list(ref.assumptions)}


def _counts(d: RulesetDiff) -> dict:
    out = {}
    for section in SECTIONS:
        counts = {status: len(d.of(section, status)) for status in STATUS_ORDER}
        if any(counts.values()):
            out[section] = counts
    entries = {status: sum(1 for r in d.rows if r.status == status) for status in ("added", "removed", "changed")}
    if any(entries.values()):
        out["table_entries"] = entries
    if d.minor:
        out["minor"] = len(d.minor)
    return out


def diff_data(d: RulesetDiff) -> dict:
    """A RulesetDiff as plain data for JSON."""
    return {
        "ruleset": d.ruleset,
        "from": {"asked": d.asked_from, **version_data(d.from_version)},
        "to": {"asked": d.asked_to, **version_data(d.to_version)},
        "direction": d.direction,
        "versions_crossed": [version_data(v) for v in d.crossed],
        "summary": _counts(d),
        "changes": [{"section": c.section, "kind": c.kind, "name": c.name, "status": c.status, "minor": c.minor,
                     "old": c.old, "new": c.new, "source": c.source, "made_in": list(c.made_in),
                     "details": [{"aspect": x.aspect, "old": x.old, "new": x.new, "made_in": list(x.made_in)}
                                 for x in c.details]}
                    for c in d.changes],
        "table_entries": [{"table": r.table, "key": r.key, "status": r.status,
                           "old": dict(r.old) if r.old is not None else None,
                           "new": dict(r.new) if r.new is not None else None,
                           "made_in": list(r.made_in), "source": r.source} for r in d.rows],
    }


# -- the diff as text ---------------------------------------------------------------

def _in_short(d: RulesetDiff) -> str:
    parts = []
    for section in SECTIONS:
        kind = KINDS[section]
        for status in STATUS_ORDER:
            n = len(d.of(section, status))
            if n:
                parts.append(f"{_plural(n, kind)} {status}")
    for table in dict.fromkeys(r.table for r in d.rows):
        if d.change("tables", table) is not None and d.change("tables", table).status != "changed":
            continue
        rows = [r for r in d.rows if r.table == table]
        counts = [f"{sum(1 for r in rows if r.status == s)} {s}" for s in ("added", "removed", "changed")
                  if any(r.status == s for r in rows)]
        parts.append(f"entries of table {table}: {', '.join(counts)}")
    if d.minor:
        parts.append(f"{len(d.minor)} minor (wording or sources only)")
    return "; ".join(parts) + "."


def _header(d: RulesetDiff, lines: list[str]) -> None:
    lines.append(f"{d.ruleset}: what changes from {d.asked_from} to {d.asked_to}")
    for word, asked, ref in (("from", d.asked_from, d.from_version), ("to", d.asked_to, d.to_version)):
        named = f"{asked}: version {ref.version}" if asked != ref.version else f"version {ref.version}"
        lines.append(f"  {word:<5} {named}, in force {_period(ref)}")
    if not d.crossed:
        return
    lines.append("")
    crossed = f"Versions crossed ({len(d.crossed)})"
    if d.direction == "backward":
        crossed += ", going back in time: their changes are undone"
    lines.append(crossed)
    for ref in d.crossed:
        lines.append(f"  {ref.version}  in force from {ref.effective_from.isoformat()}")
        lines += _wrap(ref.summary, "      ")
        lines += _wrap(ref.source, "      source: ", "              ")
        for assumption in ref.assumptions:
            lines += _wrap(assumption, "      assumption: ", "                  ")


def _provenance(change_source: str, made_in: tuple[str, ...], lines: list[str], backward: bool = False,
                pad: str = "      ") -> None:
    made = f"{'undoes' if backward else 'made in'} {_versions(made_in)}"
    if not change_source:
        lines.append(f"{pad}{made}; no source given")
        return
    lines += _wrap(change_source, f"{pad}{made}; source: ", pad + "    ")


def _detail_lines(detail: Detail, lines: list[str], pad: str = "      ") -> None:
    if detail.aspect == "source":
        if detail.old:
            lines += _wrap(detail.old, f"{pad}source before: ", pad + "    ")
        return
    if detail.old is None:
        lines += _wrap(detail.new or "", f"{pad}{detail.aspect}: ", pad + "    ")
        return
    if detail.new is None:
        lines += _wrap(detail.old, f"{pad}{detail.aspect} (removed): ", pad + "    ")
        return
    lines.append(f"{pad}{detail.aspect}:")
    lines += _wrap(detail.old, f"{pad}    old  ")
    lines += _wrap(detail.new, f"{pad}    new  ")


def _change_lines(c: Change, lines: list[str], backward: bool) -> None:
    if c.section == "parameters":
        if c.status == "changed":
            lines.append(f"  {c.name}: {c.old} -> {c.new}")
        else:
            lines.append(f"  {c.name}: {c.new if c.status == 'added' else c.old}")
    elif c.section == "tables":
        lines.append(f"  {c.name}: {c.new if c.status != 'removed' else c.old}")
    else:
        lines.append(f"  {c.name}")
        word = EXPRESSION_WORDS[c.section]
        if c.status == "changed" and c.old != c.new:
            lines += _wrap(c.old or "", "      old  ")
            lines += _wrap(c.new or "", "      new  ")
        elif c.status == "changed":
            pass  # wording only: the details say what
        else:
            lines += _wrap((c.new if c.status == "added" else c.old) or "", f"      {word}: ")
    _provenance(c.source, c.made_in, lines, backward)
    for detail in _source_first(c.details):
        if detail.aspect != "source" or c.status == "changed":
            _detail_lines(detail, lines)


def _aspects_changed(details: tuple[Detail, ...]) -> str:
    """`message (en, nl) and source` from the aspects message.en, message.nl and source."""
    grouped: dict[str, list[str]] = {}
    for detail in _source_first(details):
        head, _, lang = detail.aspect.partition(".")
        grouped.setdefault(head, [])
        if lang:
            grouped[head].append(lang)
    words = [f"{head} ({', '.join(langs)})" if langs else head for head, langs in grouped.items()]
    return " and ".join(words) if len(words) <= 2 else ", ".join(words[:-1]) + " and " + words[-1]


def _source_first(details: tuple[Detail, ...]) -> list[Detail]:
    return sorted(details, key=lambda detail: detail.aspect != "source")


def _row_line(r: RowChange, lines: list[str], pad: str = "      ") -> None:
    mark = {"added": "+", "removed": "-", "changed": "~"}[r.status]
    body = _changed_cells(r.old, r.new) if r.status == "changed" else _cells(r.new if r.status == "added" else r.old)
    lines += _wrap(body, f"{pad}{mark} {r.key}: ", pad + "      ")


def render_diff_text(d: RulesetDiff) -> str:
    """A RulesetDiff as text an auditor reads from top to bottom."""
    lines: list[str] = []
    _header(d, lines)
    lines.append("")
    if d.direction == "same" and d.is_empty:
        lines.append("Both name the same version: nothing changes.")
        return "\n".join(lines) + "\n"
    if d.is_empty:
        lines.append("No changes: the two versions decide every case alike.")
        return "\n".join(lines) + "\n"
    lines += _wrap(_in_short(d), "In short: ", "  ")
    for section in SECTIONS:
        for status in STATUS_ORDER:
            changes = _ordered(d.changes, section, status, minor=False)
            if not changes:
                continue
            lines.append("")
            lines.append(f"{SECTION_TITLES[section]} {status} ({len(changes)})")
            for c in changes:
                _change_lines(c, lines, d.direction == "backward")
                if section == "tables" and status != "changed":
                    for r in d.rows:
                        if r.table == c.name:
                            _row_line(r, lines)
        if section == "tables":
            _table_entries_text(d, lines)
    minor = d.minor
    if minor:
        lines.append("")
        lines.append(f"Minor changes: wording or sources only, no decision changes ({len(minor)})")
        for c in minor:
            lines.append(f"  {c.kind} {c.name}: {_aspects_changed(c.details)} changed")
            _provenance(c.source, c.made_in, lines, d.direction == "backward")
            for detail in _source_first(c.details):
                _detail_lines(detail, lines)
    return "\n".join(lines) + "\n"


def _table_entries_text(d: RulesetDiff, lines: list[str]) -> None:
    tables = [t for t in dict.fromkeys(r.table for r in d.rows)
              if d.change("tables", t) is None or d.change("tables", t).status == "changed"]
    for table in tables:
        rows = [r for r in d.rows if r.table == table]
        lines.append("")
        lines.append(f"Table entries of {table} ({len(rows)})")
        for r in rows:
            _row_line(r, lines, "  ")
            lines.append(f"      {'undoes' if d.direction == 'backward' else 'made in'} {_versions(r.made_in)}")
        if rows and rows[0].source:
            lines += _wrap(rows[0].source, "  source: ", "      ")


# -- the diff as Markdown -------------------------------------------------------------

def _md(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def _code(text: str | None) -> str:
    return f"`{_md(text)}`" if text else ""


def render_diff_markdown(d: RulesetDiff) -> str:
    """A RulesetDiff as Markdown, for a report or a review."""
    out = [f"# {d.ruleset}: from {d.asked_from} to {d.asked_to}", "",
           "| | asked | version | in force |", "|---|---|---|---|"]
    for word, asked, ref in (("from", d.asked_from, d.from_version), ("to", d.asked_to, d.to_version)):
        out.append(f"| {word} | {asked} | {ref.version} | {_period(ref)} |")
    out.append("")
    if d.direction == "same" and d.is_empty:
        out.append("Both name the same version: nothing changes.")
        return "\n".join(out) + "\n"
    out += [f"## Versions crossed{' (going back in time: undone)' if d.direction == 'backward' else ''}", "",
            "| version | in force from | change | source |", "|---|---|---|---|"]
    for ref in d.crossed:
        summary = _md(ref.summary) + "".join(f"<br>*Assumption:* {_md(a)}" for a in ref.assumptions)
        out.append(f"| {ref.version} | {ref.effective_from.isoformat()} | {summary} | {_md(ref.source)} |")
    out.append("")
    if d.is_empty:
        out.append("No changes: the two versions decide every case alike.")
        return "\n".join(out) + "\n"
    out += [f"**In short:** {_md(_in_short(d))}", ""]
    made = "Undoes" if d.direction == "backward" else "Made in"
    for section in SECTIONS:
        for status in STATUS_ORDER:
            changes = _ordered(d.changes, section, status, minor=False)
            if not changes:
                continue
            out += [f"## {SECTION_TITLES[section]} {status}", ""]
            if section == "parameters" and status == "changed":
                out += [f"| parameter | old | new | {made.lower()} | source |", "|---|---|---|---|---|"]
                for c in changes:
                    out.append(f"| `{c.name}` | {_md(c.old)} | {_md(c.new)} | {_versions(c.made_in)} | "
                               f"{_md(c.source)} |")
                out.append("")
                continue
            if section == "parameters":
                out += [f"| parameter | {'value' if status == 'added' else 'value it had'} | {made.lower()} | source |",
                        "|---|---|---|---|"]
                for c in changes:
                    out.append(f"| `{c.name}` | {_md(c.new or c.old)} | {_versions(c.made_in)} | {_md(c.source)} |")
                out.append("")
                continue
            if section == "tables":
                for c in changes:
                    out += [f"### `{c.name}`: {_md(c.new if c.status != 'removed' else c.old)}", "",
                            f"{made} {_versions(c.made_in)}. Source: {_md(c.source)}", ""]
                    rows = [r for r in d.rows if r.table == c.name]
                    if rows:
                        out += ["| entry | " + ("now" if status == "added" else "was") + " |", "|---|---|"]
                        for r in rows:
                            out.append(f"| `{_md(r.key)}` | {_md(_cells(r.new if r.status == 'added' else r.old))} |")
                        out.append("")
                continue
            for c in changes:
                out += [f"### `{c.name}`", ""]
                if status == "changed" and c.old != c.new:
                    out += ["| old | new |", "|---|---|", f"| {_code(c.old)} | {_code(c.new)} |", ""]
                elif status != "changed":
                    out += [f"{EXPRESSION_WORDS[section].capitalize()}: {_code(c.new or c.old)}", ""]
                out.append(f"{made} {_versions(c.made_in)}. Source: {_md(c.source)}")
                out += _markdown_details(c)
                out.append("")
        if section == "tables":
            out += _table_entries_markdown(d, made)
    if d.minor:
        out += ["## Minor changes (wording or sources only)", "", f"| item | what | old | new | {made.lower()} |",
                "|---|---|---|---|---|"]
        for c in d.minor:
            for detail in c.details:
                out.append(f"| {c.kind} `{c.name}` | {detail.aspect} | {_md(detail.old)} | {_md(detail.new)} | "
                           f"{_versions(detail.made_in)} |")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _markdown_details(c: Change) -> list[str]:
    details = [x for x in c.details if x.aspect != "source" or c.status == "changed"]
    if not details:
        return []
    out = ["", "| also | old | new |", "|---|---|---|"]
    for detail in details:
        out.append(f"| {detail.aspect} | {_md(detail.old)} | {_md(detail.new)} |")
    return out


def _table_entries_markdown(d: RulesetDiff, made: str) -> list[str]:
    out = []
    tables = [t for t in dict.fromkeys(r.table for r in d.rows)
              if d.change("tables", t) is None or d.change("tables", t).status == "changed"]
    for table in tables:
        out += [f"## Table entries of `{table}`", "", f"| | entry | content | {made.lower()} |", "|---|---|---|---|"]
        for r in (r for r in d.rows if r.table == table):
            body = _changed_cells(r.old, r.new) if r.status == "changed" else _cells(r.new or r.old)
            out.append(f"| {r.status} | `{_md(r.key)}` | {_md(body)} | {_versions(r.made_in)} |")
        out.append("")
    return out


# -- impact ---------------------------------------------------------------------------------

def _step_value(step: StepChange, present: bool, value) -> str:
    if not present:
        return "(absent)"
    if step.kind == "condition":
        return "failed" if value else "passed"
    if step.kind == "note":
        return "applies" if value else "does not apply"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if step.type.startswith("percent"):
        return format_percent(Decimal(str(value)))
    return str(value)


def _field_value(field: str, value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if field == "rate":
        return format_percent(Decimal(str(value)))
    return str(value)


def _field_text(change) -> str:
    if change.field in ("reasons", "notes"):
        old, new = set(change.old), set(change.new)
        marks = [f"+{code}" for code in change.new if code not in old] + [f"-{code}" for code in change.old
                                                                          if code not in new]
        return f"{change.field} {' '.join(marks)}"
    return f"{change.field} {_field_value(change.field, change.old)} -> {_field_value(change.field, change.new)}"


def _cause_text(step: StepChange, report: ImpactReport) -> str:
    what = f"{step.kind} {step.name}"
    if step.in_from != step.in_to:
        made = report.diff.change(f"{step.kind}s", step.name)
        when = f" in {_versions(made.made_in)}" if made else ""
        shown = _step_value(step, True, step.new if step.in_to else step.old)
        return f"{what} {shown} (it was {'added' if step.in_to else 'removed'}{when})"
    text = f"{what}: {_step_value(step, True, step.old)} -> {_step_value(step, True, step.new)}"
    because = _because_text(step.kind, step.name, step.because, report, values=True)
    return text + (f" ({because})" if because else "")


def _because_text(kind: str, name: str, because: tuple[str, ...], report: ImpactReport, values: bool) -> str:
    """Why a step counts as a cause: its own definition changed, or it reads parameters or tables that did."""
    parts = []
    if name in because:
        made = report.diff.change(f"{kind}s", name)
        parts.append(f"its definition changed{' in ' + _versions(made.made_in) if made else ''}")
    read = []
    for used in because:
        if used == name:
            continue
        parameter = report.diff.change("parameters", used)
        if values and parameter is not None and parameter.status == "changed":
            read.append(f"{used} {parameter.old} -> {parameter.new}")
        else:
            read.append(used)
    if read:
        parts.append("reads " + ", ".join(read))
    return "; ".join(parts)


def _cause_count_text(cause: CauseCount, report: ImpactReport) -> str:
    section = f"{cause.kind}s"
    made = report.diff.change(section, cause.name)
    if made is not None and made.status in ("added", "removed"):
        return f"{made.status} in {_versions(made.made_in)}"
    return _because_text(cause.kind, cause.name, cause.because, report, values=False)


def _bucket_label(bucket: Bucket) -> str:
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


def _count_lines(title: str, counts: tuple[CodeCount, ...], lines: list[str]) -> None:
    if not counts:
        return
    lines.append(title)
    width = max(len(c.code) for c in counts)
    for c in counts:
        lines.append(f"  {c.code:<{width}}  {c.cases:>7} {'case' if c.cases == 1 else 'cases'}")


def _percent(part: int, whole: int) -> str:
    if not whole:
        return ""
    return f"  ({(Decimal(part) * 100 / whole).quantize(Decimal('0.1'))} %)"


def _case_lines(case: CaseChange, report: ImpactReport, lines: list[str]) -> None:
    lines.append(f"  {case.id}")
    lines += _wrap("; ".join(_field_text(f) for f in case.fields), "      changed: ", "               ")
    for step in case.causes:
        lines += _wrap(_cause_text(step, report), "      why: ", "           ")
    shown = {f.field for f in case.fields}
    followed = [s for s in case.consequences if s.kind != "output" and s.name not in shown]
    if followed:
        text = ", ".join(f"{s.name} {_step_value(s, s.in_from, s.old)} -> {_step_value(s, s.in_to, s.new)}"
                         for s in followed)
        lines += _wrap(text, "      then: ", "            ")


def render_impact_text(report: ImpactReport, show: int | None = 50) -> str:
    """An ImpactReport as text; `show` limits the changed cases listed (None: all)."""
    lines: list[str] = []
    a, b = report.from_version.version, report.to_version.version
    lines.append(f"Impact on {report.cases} cases: {report.ruleset} {a} -> {b}")
    lines.append("(every case decided under both versions, whatever its application date)")
    lines.append("")
    changed = len(report.changed)
    other = changed - report.became_eligible - report.became_ineligible
    rows = [("cases read", report.cases, ""), ("  invalid input", len(report.invalid), ""),
            ("  decided under both", report.decided, ""), ("    decision unchanged", report.unchanged, ""),
            ("    decision changed", changed, _percent(changed, report.decided)),
            ("      became eligible", report.became_eligible, ""),
            ("      became ineligible", report.became_ineligible, ""),
            ("      other fields only", other, "")]
    for label, n, extra in rows:
        lines.append(f"{label:<28}{n:>8}{extra}")
    lines.append(f"{'eligible decisions':<28}{report.eligible_before:>8} -> {report.eligible_after}")
    lines.append("")
    lines.append("Subsidy over the decided cases")
    amounts = [(f"under {a}", money(report.subsidy_before)), (f"under {b}", money(report.subsidy_after)),
               ("change", money(report.subsidy_change, signed=True)),
               ("average change per case", money(report.average_change, signed=True)),
               ("average per changed decision", money(report.average_change_when_changed, signed=True))]
    width = max(len(text) for _, text in amounts)
    for label, text in amounts:
        lines.append(f"  {label:<30}{text:>{width}}")
    for title, counts in (("Reasons that appeared", report.reasons_appeared),
                          ("Reasons that disappeared", report.reasons_disappeared),
                          ("Notes that appeared", report.notes_appeared),
                          ("Notes that disappeared", report.notes_disappeared)):
        if counts:
            lines.append("")
            _count_lines(title, counts, lines)
    if report.causes:
        lines.append("")
        lines.append("Causes of the changes (cases where each differs)")
        width = max(len(f"{c.kind} {c.name}") for c in report.causes)
        for cause in report.causes:
            lines += _wrap(_cause_count_text(cause, report), f"  {cause.kind + ' ' + cause.name:<{width}}  "
                           f"{cause.cases:>7}  ")
    buckets = [bucket for bucket in report.distribution if bucket.cases]
    if buckets:
        lines.append("")
        lines.append("Subsidy change of the changed decisions")
        most = max(bucket.cases for bucket in buckets)
        for bucket in buckets:
            bar = "#" * max(1, round(40 * bucket.cases / most))
            lines.append(f"  {_bucket_label(bucket):<38}{bucket.cases:>7}  {bar}")
    if report.invalid:
        lines.append("")
        lines.append(f"Invalid cases ({len(report.invalid)}), not compared")
        limit = None if show is None else max(show, 10)
        for case in report.invalid[:limit]:
            under = f" (under {_versions(case.under)} only)" if len(case.under) == 1 else ""
            more = f" (+{case.problems - 1} more)" if case.problems > 1 else ""
            lines += _wrap(f"{case.problem}{more}{under}", f"  {case.id}: ", "      ")
        if limit is not None and len(report.invalid) > limit:
            lines.append(f"  ... and {len(report.invalid) - limit} more")
    if report.changed:
        lines.append("")
        listed = report.changed if show is None else report.changed[:show]
        note = "" if len(listed) == changed else \
            f", of which the first {len(listed)} are shown; --show all lists every one"
        lines.append(f"Changed decisions ({changed}{note})")
        for case in listed:
            _case_lines(case, report, lines)
    return "\n".join(lines) + "\n"


def render_impact_markdown(report: ImpactReport, show: int | None = 50) -> str:
    """An ImpactReport as Markdown."""
    a, b = report.from_version.version, report.to_version.version
    changed = len(report.changed)
    out = [f"## Impact on {report.cases} cases: {a} → {b}", "",
           "Every case is decided under both versions, whatever its application date.", "",
           "| | cases |", "|---|---:|",
           f"| read | {report.cases} |", f"| invalid input | {len(report.invalid)} |",
           f"| decided under both | {report.decided} |", f"| decision unchanged | {report.unchanged} |",
           f"| decision changed | {changed} |", f"| became eligible | {report.became_eligible} |",
           f"| became ineligible | {report.became_ineligible} |",
           f"| eligible decisions | {report.eligible_before} → {report.eligible_after} |", "",
           "| subsidy | amount |", "|---|---:|",
           f"| under {a} | {money(report.subsidy_before)} |", f"| under {b} | {money(report.subsidy_after)} |",
           f"| change | {money(report.subsidy_change, signed=True)} |",
           f"| average change per case | {money(report.average_change, signed=True)} |",
           f"| average per changed decision | {money(report.average_change_when_changed, signed=True)} |", ""]
    for title, counts in (("Reasons that appeared", report.reasons_appeared),
                          ("Reasons that disappeared", report.reasons_disappeared),
                          ("Notes that appeared", report.notes_appeared),
                          ("Notes that disappeared", report.notes_disappeared)):
        if counts:
            out += [f"### {title}", "", "| code | cases |", "|---|---:|"]
            out += [f"| `{c.code}` | {c.cases} |" for c in counts]
            out.append("")
    if report.causes:
        out += ["### Causes of the changes", "", "| rule, condition or note | cases | why |", "|---|---:|---|"]
        out += [f"| {c.kind} `{c.name}` | {c.cases} | {_md(_cause_count_text(c, report))} |" for c in report.causes]
        out.append("")
    buckets = [bucket for bucket in report.distribution if bucket.cases]
    if buckets:
        out += ["### Subsidy change of the changed decisions", "", "| change | cases | total |", "|---|---:|---:|"]
        out += [f"| {_bucket_label(x)} | {x.cases} | {money(x.total, signed=True)} |" for x in buckets]
        out.append("")
    if report.invalid:
        out += [f"### Invalid cases ({len(report.invalid)})", "", "| case | first problem | under |", "|---|---|---|"]
        for case in report.invalid[:None if show is None else max(show, 10)]:
            under = _versions(case.under) if case.under else "(unreadable)"
            out.append(f"| {_md(case.id)} | {_md(case.problem)} | {under} |")
        out.append("")
    if report.changed:
        listed = report.changed if show is None else report.changed[:show]
        out += [f"### Changed decisions ({changed}{'' if len(listed) == changed else f', first {len(listed)}'})", "",
                "| case | what changed | why |", "|---|---|---|"]
        for case in listed:
            what = "<br>".join(_md(_field_text(f)) for f in case.fields)
            why = "<br>".join(_md(_cause_text(s, report)) for s in case.causes)
            out.append(f"| {_md(case.id)} | {what} | {why} |")
        out.append("")
    return "\n".join(out)


def _step_data(step: StepChange) -> dict:
    return {"kind": step.kind, "name": step.name, "type": step.type, "old": step.old, "new": step.new,
            "in_from": step.in_from, "in_to": step.in_to, "because": list(step.because), "source": step.source}


def impact_data(report: ImpactReport, show: int | None = None) -> dict:
    """An ImpactReport as plain data for JSON (every changed case unless `show` limits them)."""
    listed = report.changed if show is None else report.changed[:show]
    return {
        "from": version_data(report.from_version),
        "to": version_data(report.to_version),
        "cases": report.cases,
        "decided": report.decided,
        "invalid": [{"id": c.id, "problem": c.problem, "problems": c.problems, "under": list(c.under)}
                    for c in report.invalid],
        "unchanged": report.unchanged,
        "changed": len(report.changed),
        "became_eligible": report.became_eligible,
        "became_ineligible": report.became_ineligible,
        "eligible": {"before": report.eligible_before, "after": report.eligible_after},
        "reasons_appeared": {c.code: c.cases for c in report.reasons_appeared},
        "reasons_disappeared": {c.code: c.cases for c in report.reasons_disappeared},
        "notes_appeared": {c.code: c.cases for c in report.notes_appeared},
        "notes_disappeared": {c.code: c.cases for c in report.notes_disappeared},
        "subsidy": {"before": _money_data(report.subsidy_before), "after": _money_data(report.subsidy_after),
                    "change": _money_data(report.subsidy_change),
                    "average_change": _money_data(report.average_change),
                    "average_change_when_changed": _money_data(report.average_change_when_changed)},
        "causes": [{"kind": c.kind, "name": c.name, "because": list(c.because), "cases": c.cases}
                   for c in report.causes],
        "distribution": [{"direction": x.direction, "low": _money_data(x.low),
                          "high": _money_data(x.high) if x.high is not None else None, "cases": x.cases,
                          "total": _money_data(x.total)} for x in report.distribution],
        "changed_cases": [{"id": c.id, "eligible": {"before": c.eligible_before, "after": c.eligible_after},
                           "subsidy": {"before": _money_data(c.subsidy_before), "after": _money_data(c.subsidy_after),
                                       "change": _money_data(c.subsidy_change)},
                           "fields": [{"field": f.field, "old": f.old, "new": f.new} for f in c.fields],
                           "causes": [_step_data(s) for s in c.causes],
                           "consequences": [_step_data(s) for s in c.consequences]} for c in listed],
    }
