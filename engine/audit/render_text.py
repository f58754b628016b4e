"""An audit report as text an auditor reads from top to bottom: `RulesetDiff` / `ImpactReport` -> str.

What the report says comes from `report.py`; this module lays it out in lines of at most WIDTH characters.
"""
from __future__ import annotations

import textwrap

from .semantic_diff import SECTIONS, Change, Detail, RowChange, RulesetDiff
from .impact_analysis import CaseChange, CodeCount, ImpactReport
from .report import (EXPRESSION_WORDS, ROW_MARKS, and_list, aspects_changed, bucket_label, cause_count_text,
                     cause_line, cause_variants, causes_per_case, code_counts, consequences_shown, ends, entry_tables,
                     field_text, groups, in_short, invalid_limit, listed_changes, made, moved_buckets,
                     other_fields_only, period, row_text, rows_of, source_first, step_value, subsidy_rows)
from ..core.values import format_share

WIDTH = 110


def _wrap(text: str, first: str, rest: str | None = None, width: int = WIDTH) -> list[str]:
    """`text` after the prefix `first`, continued under `rest` (spaces as wide as `first` by default)."""
    rest = " " * len(first) if rest is None else rest
    glued = text.replace(" %", "\0%").replace("EUR ", "EUR\0")  # never break "30 %" or "EUR 100"
    lines = textwrap.wrap(glued, width=width, initial_indent=first, subsequent_indent=rest,
                          break_long_words=False, break_on_hyphens=False) or [first.rstrip()]
    return [line.replace("\0", " ") for line in lines]


# -- the diff ------------------------------------------------------------------------

def _header(d: RulesetDiff, lines: list[str]) -> None:
    lines.append(f"{d.ruleset}: what changes from {d.asked_from} to {d.asked_to}")
    for word, asked, ref in ends(d):
        named = f"{asked}: version {ref.version}" if asked != ref.version else f"version {ref.version}"
        lines.append(f"  {word:<5} {named}, in force {period(ref)}")
    if not d.crossed:
        return
    lines.append("")
    crossed = f"Versions crossed ({len(d.crossed)})"
    if d.direction == "backward":
        crossed += ", going back in time: their changes are undone"
    lines.append(crossed)
    for ref in d.crossed:
        by_module = f"  (a change of the module {ref.part})" if ref.part else ""
        lines.append(f"  {ref.version}  in force from {ref.effective_from.isoformat()}{by_module}")
        lines += _wrap(ref.summary, "      ")
        lines += _wrap(ref.source, "      source: ", "              ")
        for assumption in ref.assumptions:
            lines += _wrap(assumption, "      assumption: ", "                  ")


def _provenance(change_source: str, made_in: tuple[str, ...], lines: list[str], backward: bool = False,
                pad: str = "      ") -> None:
    made_words = f"{'undoes' if backward else 'made in'} {and_list(made_in)}"
    if not change_source:
        lines.append(f"{pad}{made_words}; no source given")
        return
    lines += _wrap(change_source, f"{pad}{made_words}; source: ", pad + "    ")


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
        if c.status == "changed" and c.old != c.new:
            lines += _wrap(c.old or "", "      old  ")
            lines += _wrap(c.new or "", "      new  ")
        elif c.status != "changed":  # a change of wording only: the details say what
            lines += _wrap((c.new if c.status == "added" else c.old) or "", f"      {EXPRESSION_WORDS[c.section]}: ")
    _provenance(c.source, c.made_in, lines, backward)
    for detail in source_first(c.details):
        if detail.aspect != "source" or c.status == "changed":
            _detail_lines(detail, lines)


def _row_line(r: RowChange, lines: list[str], pad: str = "      ") -> None:
    lines += _wrap(row_text(r), f"{pad}{ROW_MARKS[r.status]} {r.key}: ", pad + "      ")


def _table_entries(d: RulesetDiff, lines: list[str]) -> None:
    for table in entry_tables(d):
        rows = rows_of(d, table)
        lines.append("")
        lines.append(f"Table entries of {table} ({len(rows)})")
        for r in rows:
            _row_line(r, lines, "  ")
            lines.append(f"      {made(d)} {and_list(r.made_in)}")
        if rows and rows[0].source:
            lines += _wrap(rows[0].source, "  source: ", "      ")


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
    backward = d.direction == "backward"
    lines += _wrap(in_short(d), "In short: ", "  ")
    for section in SECTIONS:
        for group in groups(d, section):
            lines.append("")
            lines.append(f"{group.title} ({len(group.changes)})")
            for c in group.changes:
                _change_lines(c, lines, backward)
                if section == "tables" and group.status != "changed":
                    for r in rows_of(d, c.name):
                        _row_line(r, lines)
        if section == "tables":
            _table_entries(d, lines)
    minor = d.minor
    if minor:
        lines.append("")
        lines.append(f"Minor changes: wording or sources only, no decision changes ({len(minor)})")
        for c in minor:
            lines.append(f"  {c.kind} {c.name}: {aspects_changed(c.details)} changed")
            _provenance(c.source, c.made_in, lines, backward)
            for detail in source_first(c.details):
                _detail_lines(detail, lines)
    return "\n".join(lines) + "\n"


# -- the impact ----------------------------------------------------------------------

def _count_lines(title: str, counts: tuple[CodeCount, ...], lines: list[str]) -> None:
    lines.append(title)
    width = max(len(c.code) for c in counts)
    for c in counts:
        lines.append(f"  {c.code:<{width}}  {c.cases:>7} {'case' if c.cases == 1 else 'cases'}")


def _case_lines(case: CaseChange, report: ImpactReport, lines: list[str]) -> None:
    lines.append(f"  {case.id}")
    lines += _wrap("; ".join(field_text(f) for f in case.fields), "      changed: ", "               ")
    for step in case.causes:
        lines += _wrap(cause_line(step, case, report), "      why: ", "           ")
    followed = consequences_shown(case)
    if followed:
        text = ", ".join(f"{s.name} {step_value(s, s.in_from, s.old)} -> {step_value(s, s.in_to, s.new)}"
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
    share = f"  ({format_share(changed, report.decided)})" if report.decided else ""
    rows = [("cases read", report.cases, ""), ("  invalid input", len(report.invalid), ""),
            ("  decided under both", report.decided, ""), ("    decision unchanged", report.unchanged, ""),
            ("    decision changed", changed, share),
            ("      became eligible", report.became_eligible, ""),
            ("      became ineligible", report.became_ineligible, ""),
            ("      other fields only", other_fields_only(report), "")]
    for label, n, extra in rows:
        lines.append(f"{label:<28}{n:>8}{extra}")
    lines.append(f"{'eligible decisions':<28}{report.eligible_before:>8} -> {report.eligible_after}")
    lines.append("")
    lines.append(f"{report.total_label[:1].upper()}{report.total_label[1:]} over the decided cases")
    amounts = subsidy_rows(report)
    width = max(len(text) for _, text in amounts)
    for label, text in amounts:
        lines.append(f"  {label:<30}{text:>{width}}")
    for title, counts in code_counts(report):
        lines.append("")
        _count_lines(title, counts, lines)
    if report.causes:
        lines.append("")
        lines.append("Causes of the changes (the changed decisions each one changed)")
        width = max(len(f"{c.kind} {c.name}") for c in report.causes)
        for cause in report.causes:
            lines += _wrap(cause_count_text(cause, report), f"  {cause.kind + ' ' + cause.name:<{width}}  "
                           f"{cause.cases:>7}  ")
            for text, cases in cause_variants(cause, report):
                lines += _wrap(text, f"  {'':<{width}}  {cases:>7}  ")
        lines += _wrap(causes_per_case(report), "  ")
    buckets = moved_buckets(report)
    if buckets:
        lines.append("")
        lines.append("Subsidy change of the changed decisions")
        most = max(bucket.cases for bucket in buckets)
        for bucket in buckets:
            bar = "#" * max(1, round(40 * bucket.cases / most))
            lines.append(f"  {bucket_label(bucket):<38}{bucket.cases:>7}  {bar}")
    if report.invalid:
        lines.append("")
        lines.append(f"Invalid cases ({len(report.invalid)}), not compared")
        limit = invalid_limit(show)
        for case in report.invalid[:limit]:
            under = f" (under {and_list(case.under)} only)" if len(case.under) == 1 else ""
            more = f" (+{case.problems - 1} more)" if case.problems > 1 else ""
            lines += _wrap(f"{case.problem}{more}{under}", f"  {case.id}: ", "      ")
        if limit is not None and len(report.invalid) > limit:
            lines.append(f"  ... and {len(report.invalid) - limit} more")
    if report.changed:
        lines.append("")
        listed = listed_changes(report, show)
        note = "" if len(listed) == changed else \
            f", of which the first {len(listed)} are shown; --show all lists every one"
        lines.append(f"Changed decisions ({changed}{note})")
        for case in listed:
            _case_lines(case, report, lines)
    return "\n".join(lines) + "\n"
