"""An audit report as Markdown, for a report or a review: `RulesetDiff` / `ImpactReport` -> str.

What the report says comes from `report.py`; this module lays it out as headings and tables.
"""
from __future__ import annotations

from .semantic_diff import SECTIONS, Change, RulesetDiff
from .impact_analysis import ImpactReport
from .report import (EXPRESSION_WORDS, Group, and_list, bucket_label, cause_count_text, cause_line, cause_variants,
                     causes_per_case, cells, code_counts, ends, entry_tables, field_text, groups, in_short,
                     listed_changes, listed_invalid, made, moved_buckets, period, row_text, rows_of, subsidy_rows)
from ..core.values import format_amount


def _md(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def _code(text: str | None) -> str:
    return f"`{_md(text)}`" if text else ""


# -- the diff ------------------------------------------------------------------------

def _group(d: RulesetDiff, group: Group, made_in: str) -> list[str]:
    """One group of changes: parameters in one table, a table with its entries, each other item on its own."""
    section, status, changes = group.section, group.status, group.changes
    out = [f"## {group.title}", ""]
    if section == "parameters" and status == "changed":
        out += [f"| parameter | old | new | {made_in.lower()} | source |", "|---|---|---|---|---|"]
        out += [f"| `{c.name}` | {_md(c.old)} | {_md(c.new)} | {and_list(c.made_in)} | {_md(c.source)} |"
                for c in changes]
        return out + [""]
    if section == "parameters":
        out += [f"| parameter | {'value' if status == 'added' else 'value it had'} | {made_in.lower()} | source |",
                "|---|---|---|---|"]
        out += [f"| `{c.name}` | {_md(c.new or c.old)} | {and_list(c.made_in)} | {_md(c.source)} |" for c in changes]
        return out + [""]
    if section == "tables":
        for c in changes:
            out += [f"### `{c.name}`: {_md(c.new if c.status != 'removed' else c.old)}", "",
                    f"{made_in} {and_list(c.made_in)}. Source: {_md(c.source)}", ""]
            rows = rows_of(d, c.name)
            if rows:
                out += ["| entry | " + ("now" if status == "added" else "was") + " |", "|---|---|"]
                out += [f"| `{_md(r.key)}` | {_md(cells(r.new if r.status == 'added' else r.old))} |" for r in rows]
                out.append("")
        return out
    for c in changes:
        out += [f"### `{c.name}`", ""]
        if status == "changed" and c.old != c.new:
            out += ["| old | new |", "|---|---|", f"| {_code(c.old)} | {_code(c.new)} |", ""]
        elif status != "changed":
            out += [f"{EXPRESSION_WORDS[section].capitalize()}: {_code(c.new or c.old)}", ""]
        out.append(f"{made_in} {and_list(c.made_in)}. Source: {_md(c.source)}")
        out += _details(c)
        out.append("")
    return out


def _details(c: Change) -> list[str]:
    details = [x for x in c.details if x.aspect != "source" or c.status == "changed"]
    if not details:
        return []
    return ["", "| also | old | new |", "|---|---|---|"] + [f"| {x.aspect} | {_md(x.old)} | {_md(x.new)} |"
                                                            for x in details]


def _table_entries(d: RulesetDiff, made_in: str) -> list[str]:
    out = []
    for table in entry_tables(d):
        out += [f"## Table entries of `{table}`", "", f"| | entry | content | {made_in.lower()} |", "|---|---|---|---|"]
        out += [f"| {r.status} | `{_md(r.key)}` | {_md(row_text(r))} | {and_list(r.made_in)} |"
                for r in rows_of(d, table)]
        out.append("")
    return out


def render_diff_markdown(d: RulesetDiff) -> str:
    """A RulesetDiff as Markdown, for a report or a review."""
    out = [f"# {d.ruleset}: from {d.asked_from} to {d.asked_to}", "",
           "| | asked | version | in force |", "|---|---|---|---|"]
    out += [f"| {word} | {asked} | {ref.version} | {period(ref)} |" for word, asked, ref in ends(d)]
    out.append("")
    if d.direction == "same" and d.is_empty:
        out.append("Both name the same version: nothing changes.")
        return "\n".join(out) + "\n"
    out += [f"## Versions crossed{' (going back in time: undone)' if d.direction == 'backward' else ''}", "",
            "| version | in force from | change | source |", "|---|---|---|---|"]
    for ref in d.crossed:
        summary = _md(ref.summary) + "".join(f"<br>*Assumption:* {_md(a)}" for a in ref.assumptions)
        version = f"{ref.version} (module {_md(ref.part)})" if ref.part else ref.version
        out.append(f"| {version} | {ref.effective_from.isoformat()} | {summary} | {_md(ref.source)} |")
    out.append("")
    if d.is_empty:
        out.append("No changes: the two versions decide every case alike.")
        return "\n".join(out) + "\n"
    out += [f"**In short:** {_md(in_short(d))}", ""]
    made_in = made(d).capitalize()
    for section in SECTIONS:
        for group in groups(d, section):
            out += _group(d, group, made_in)
        if section == "tables":
            out += _table_entries(d, made_in)
    minor = d.minor
    if minor:
        out += ["## Minor changes (wording or sources only)", "", f"| item | what | old | new | {made_in.lower()} |",
                "|---|---|---|---|---|"]
        for c in minor:
            for detail in c.details:
                out.append(f"| {c.kind} `{c.name}` | {detail.aspect} | {_md(detail.old)} | {_md(detail.new)} | "
                           f"{and_list(detail.made_in)} |")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


# -- the impact ----------------------------------------------------------------------

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
           f"| {report.total_label} | amount |", "|---|---:|"]
    out += [f"| {label} | {amount} |" for label, amount in subsidy_rows(report)]
    out.append("")
    for title, counts in code_counts(report):
        out += [f"### {title}", "", "| code | cases |", "|---|---:|"]
        out += [f"| `{c.code}` | {c.cases} |" for c in counts]
        out.append("")
    if report.causes:
        out += ["### Causes of the changes", "", "| rule, condition or note | cases | why |", "|---|---:|---|"]
        for c in report.causes:
            out.append(f"| {c.kind} `{c.name}` | {c.cases} | {_md(cause_count_text(c, report))} |")
            out += [f"| | {cases} | {_md(text)} |" for text, cases in cause_variants(c, report)]
        out += ["", _md(causes_per_case(report)), ""]
    buckets = moved_buckets(report)
    if buckets:
        out += ["### Subsidy change of the changed decisions", "", "| change | cases | total |", "|---|---:|---:|"]
        out += [f"| {bucket_label(x)} | {x.cases} | {format_amount(x.total, signed=True)} |" for x in buckets]
        out.append("")
    if report.invalid:
        out += [f"### Invalid cases ({len(report.invalid)})", "", "| case | first problem | under |", "|---|---|---|"]
        for case in listed_invalid(report, show):
            under = and_list(case.under) if case.under else "(unreadable)"
            out.append(f"| {_md(case.id)} | {_md(case.problem)} | {under} |")
        out.append("")
    if report.changed:
        listed = listed_changes(report, show)
        out += [f"### Changed decisions ({changed}{'' if len(listed) == changed else f', first {len(listed)}'})", "",
                "| case | what changed | why |", "|---|---|---|"]
        for case in listed:
            what = "<br>".join(_md(field_text(f)) for f in case.fields)
            why = "<br>".join(_md(cause_line(s, case, report)) for s in case.causes)
            out.append(f"| {_md(case.id)} | {what} | {why} |")
        out.append("")
    return "\n".join(out)
