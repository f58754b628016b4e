"""Checks of a version as a whole: names that clash, input checks that read rules, definitions nothing uses.

A parameter group, a table, a rule and a case field share one space of
names, so no two may have the same. Unused parameters, tables and rules are
warnings, not errors.
"""
from __future__ import annotations

from ..core import typesys as T
from ..core.diagnostics import Diagnostic
from ..core.kinds import DECISION_FIELDS
from .checked import Definition, Parameter, Problems, TableDef
from .parsed import ParsedRuleSet


def clashes(parsed: ParsedRuleSet, case_type: T.Record, parameters: dict[str, Parameter], tree: dict,
            tables: dict[str, TableDef], problems: Problems) -> None:
    source = parsed.source
    fields = {k for k, _ in case_type.fields}
    for clash in set(tree) & (set(tables) | set(parsed.rules) | fields):
        problems.error("name-clash", f"'{clash}' names both a parameter group and another thing; rename one",
                       parsed.parameters[next(n for n in parameters if n.split(".")[0] == clash)].span)
    for clash in set(tables) & (set(parsed.rules) | fields):
        problems.error("name-clash", f"'{clash}' names both a table and a rule or case field; rename one",
                       source.tables[clash].span)
    for clash in set(parsed.rules) & fields:
        problems.error("name-clash", f"the rule '{clash}' has the name of a case field; rename it",
                       source.rules[clash].span)
    for clash in sorted(set(parsed.outputs) & set(DECISION_FIELDS)):
        problems.error("name-clash", f"the output '{clash}' has the name of a field every decision holds "
                       f"({', '.join(DECISION_FIELDS)}); rename it", parsed.outputs[clash].span)


def input_checks_read_no_rule(checks: dict[str, Definition | None], rules: dict[str, Definition],
                              problems: Problems) -> None:
    for name, check in checks.items():
        if check is not None and any(u in rules for u in check.uses):
            problems.error("input-check", f"input check {name} may only read the case, parameters and tables, "
                           "not rules", check.span)


def unused(used: set[tuple[str, str]], parameters: dict[str, Parameter], tables: dict[str, TableDef],
           rules: dict) -> list[Diagnostic]:
    """A warning for each parameter, table and rule that nothing reads (`used`: (kind, name) pairs)."""
    found = []
    for name, parameter in parameters.items():
        if ("parameter", name) not in used:
            found.append(Diagnostic("unused-parameter", f"parameter {name} is not used by any rule", parameter.span,
                                    severity="warning"))
    for name, table in tables.items():
        if ("table", name) not in used:
            found.append(Diagnostic("unused-table", f"table {name} is not used by any rule", table.span,
                                    severity="warning"))
    for name, rule in rules.items():
        if ("rule", name) not in used:
            found.append(Diagnostic("unused-rule", f"rule {name} is not used by any condition, note, output or rule",
                                    rule.span, severity="warning"))
    return found
