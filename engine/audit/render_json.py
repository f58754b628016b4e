"""An audit report as plain data for JSON, for programs: `RulesetDiff` / `ImpactReport` -> dict.

Money is a decimal string with two decimals, as in decisions.
"""
from __future__ import annotations

from .semantic_diff import RulesetDiff, VersionRef
from .impact_analysis import ImpactReport, StepChange
from .report import counts, listed_changes
from ..core.values import format_money


def version_data(ref: VersionRef) -> dict:
    return {"version": ref.version, "effective_from": ref.effective_from.isoformat(),
            "effective_until": ref.effective_until.isoformat() if ref.effective_until else None,
            "summary": ref.summary, "source": ref.source, "assumptions": list(ref.assumptions),
            "module": ref.part or None}


def diff_data(d: RulesetDiff) -> dict:
    """A RulesetDiff as plain data for JSON."""
    return {
        "ruleset": d.ruleset,
        "from": {"asked": d.asked_from, **version_data(d.from_version)},
        "to": {"asked": d.asked_to, **version_data(d.to_version)},
        "direction": d.direction,
        "versions_crossed": [version_data(v) for v in d.crossed],
        "summary": counts(d),
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


def _step_data(step: StepChange) -> dict:
    return {"kind": step.kind, "name": step.name, "type": step.type, "old": step.old, "new": step.new,
            "in_from": step.in_from, "in_to": step.in_to, "because": list(step.because), "source": step.source,
            "binding": step.binding, "changes": list(step.changes)}


def impact_data(report: ImpactReport, show: int | None = None) -> dict:
    """An ImpactReport as plain data for JSON (every changed case unless `show` limits them)."""
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
        report.total_output or "total": {"before": format_money(report.subsidy_before), "after": format_money(report.subsidy_after),
                    "change": format_money(report.subsidy_change),
                    "average_change": format_money(report.average_change),
                    "average_change_when_changed": format_money(report.average_change_when_changed)},
        "causes": [{"kind": c.kind, "name": c.name, "because": list(c.because), "cases": c.cases,
                    "variants": [{"because": list(because), "cases": n} for because, n in c.variants]}
                   for c in report.causes],
        "distribution": [{"direction": x.direction, "low": format_money(x.low),
                          "high": format_money(x.high) if x.high is not None else None, "cases": x.cases,
                          "total": format_money(x.total)} for x in report.distribution],
        "changed_cases": [{"id": c.id, "eligible": {"before": c.eligible_before, "after": c.eligible_after},
                           report.total_output or "total": {"before": format_money(c.subsidy_before),
                                       "after": format_money(c.subsidy_after),
                                       "change": format_money(c.subsidy_change)},
                           "fields": [{"field": f.field, "old": f.old, "new": f.new} for f in c.fields],
                           "causes": [_step_data(s) for s in c.causes],
                           "consequences": [_step_data(s) for s in c.consequences],
                           "without_effect": [_step_data(s) for s in c.without_effect]}
                          for c in listed_changes(report, show)],
    }
