"""The reference interpreter: a checked version evaluated node by node, obviously and slowly.

It walks the typed tree the checker proved, with one small function per
kind of node, and gives every definition's value in the same order as the
compiled function. It exists to be read and to be trusted: every test case
and every generated case is decided by both, and they must agree exactly.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from ..core import nodes
from ..core import typesys as T
from ..lang.check import CheckedRuleSet
from ..core.values import ZERO, Duration, add_duration, end_of_year, in_engine_context, round_cents, sub_duration


class _Frame:
    """What an expression can see: the case, the values found so far, loop variables."""

    def __init__(self, checked: CheckedRuleSet, case: dict):
        self.checked = checked
        self.case = case
        self.values: dict[str, object] = {}  # "rule:x", "condition:y", "eligible", ... -> value
        self.variables: dict[str, object] = {}

    def binding(self, expr):
        return self.checked.bindings.get(id(expr))

    def type_of(self, expr):
        return T.strip_optional(self.checked.types.get(id(expr)))


def _name(frame: _Frame, expr: nodes.Name):
    binding = frame.binding(expr)
    kind = binding[0]
    if kind == "input":
        return frame.case[expr.name]
    if kind == "param":
        return frame.checked.parameters[binding[1]].value
    if kind == "table":
        return tuple(frame.checked.tables[expr.name].rows)
    if kind == "rule":
        return frame.values["rule:" + expr.name]
    if kind == "var":
        return frame.variables[expr.name]
    if kind == "enum":
        return expr.name
    if kind == "eligible":
        return frame.values["eligible"]
    raise AssertionError(f"unbound name {expr.name}")  # pragma: no cover - the checker binds every name


def _field(frame: _Frame, expr: nodes.Field):
    binding = frame.binding(expr)
    if binding and binding[0] == "param":
        return frame.checked.parameters[binding[1]].value
    return value_of(frame, expr.subject)[expr.name]


def _index(frame: _Frame, expr: nodes.Index):
    table = frame.checked.tables[frame.binding(expr.subject)[1]]
    return table.rows[value_of(frame, expr.key)]


def _binary(frame: _Frame, expr: nodes.Binary):
    a, b = value_of(frame, expr.left), value_of(frame, expr.right)
    left, right, op = frame.type_of(expr.left), frame.type_of(expr.right), expr.op
    if left == T.DATE and right == T.DURATION:
        return add_duration(a, b) if op == "+" else sub_duration(a, b)
    if left == T.DURATION and right == T.DATE:
        return add_duration(b, a)
    if left == T.DATE and right == T.DATE:
        return (a - b).days
    if left == T.DURATION and right == T.DURATION:
        sign = 1 if op == "+" else -1
        return Duration(a.years + sign * b.years, a.months + sign * b.months, a.days + sign * b.days)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    return (Decimal(a) if left == T.INT else a) / b


_COMPARE = {"==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def _compare(frame: _Frame, expr: nodes.Compare):
    if isinstance(expr.right, nodes.Literal) and expr.right.kind == "null":
        value = value_of(frame, expr.left)
        return (value is None) if expr.op == "==" else (value is not None)
    return _COMPARE[expr.op](value_of(frame, expr.left), value_of(frame, expr.right))


def _member(frame: _Frame, expr: nodes.Member):
    item = value_of(frame, expr.item)
    binding = frame.binding(expr.container)
    if binding and binding[0] == "table":
        table = frame.checked.tables[binding[1]]
        if table.key_prefix:
            found = item is not None and any(item.startswith(prefix) for prefix in table.rows)
        else:
            found = item in table.rows
    else:
        found = item in value_of(frame, expr.container)
    return not found if expr.negated else found


def _if(frame: _Frame, expr: nodes.If):
    return value_of(frame, expr.then) if value_of(frame, expr.condition) else value_of(frame, expr.otherwise)


def _and(frame: _Frame, expr: nodes.And):
    return value_of(frame, expr.left) and value_of(frame, expr.right)


def _or(frame: _Frame, expr: nodes.Or):
    return value_of(frame, expr.left) or value_of(frame, expr.right)


_FUNCTIONS = {
    "min": lambda *values: min(values),
    "max": lambda *values: max(values),
    "round": round_cents,
    "year": lambda day: day.year,
    "end_of_year": end_of_year,
    "start_of_year": lambda day: date(day.year, 1, 1),
    "starts_with": lambda text, prefix: text.startswith(prefix),
    "coalesce": lambda value, default: default if value is None else value,
}


def _call(frame: _Frame, expr: nodes.Call):
    return _FUNCTIONS[expr.function](*(value_of(frame, arg) for arg in expr.args))


def _aggregate(frame: _Frame, expr: nodes.Aggregate):
    chosen = []
    outer = frame.variables
    for item in value_of(frame, expr.source):
        frame.variables = {**outer, expr.variable: item}
        if expr.filter is None or value_of(frame, expr.filter):
            chosen.append(value_of(frame, expr.body))
    frame.variables = outer
    if expr.function == "sum":
        return sum(chosen, 0 if frame.type_of(expr) == T.INT else ZERO)
    if expr.function == "count":
        return sum(1 for value in chosen if value)
    return {"any": any, "all": all, "min": min, "max": max}[expr.function](chosen)


_EVALUATE = {
    nodes.Literal: lambda frame, expr: expr.value,
    nodes.Name: _name,
    nodes.Field: _field,
    nodes.Index: _index,
    nodes.Negate: lambda frame, expr: -value_of(frame, expr.operand),
    nodes.Binary: _binary,
    nodes.Compare: _compare,
    nodes.Member: _member,
    nodes.And: _and,
    nodes.Or: _or,
    nodes.Not: lambda frame, expr: not value_of(frame, expr.operand),
    nodes.If: _if,
    nodes.Call: _call,
    nodes.Aggregate: _aggregate,
    nodes.ListOf: lambda frame, expr: tuple(value_of(frame, item) for item in expr.items),
}


def value_of(frame: _Frame, expr):
    """The value of one expression, in the frame of one case."""
    return _EVALUATE[type(expr)](frame, expr)


@in_engine_context
def interpret(checked: CheckedRuleSet, case: dict) -> dict[str, object]:
    """A checked version and a converted case -> the value of every definition, keyed "kind:name".

    The order is the compiled function's: the rules eligibility does not
    depend on, the conditions, `eligible`, the other rules, notes, outputs.
    """
    frame = _Frame(checked, case)
    for definition in checked.rules.values():
        if not definition.uses_eligible:
            frame.values["rule:" + definition.name] = value_of(frame, definition.expr)
    failed = False
    for definition in checked.conditions.values():
        value = bool(value_of(frame, definition.expr))
        frame.values["condition:" + definition.name] = value
        failed = failed or value
    frame.values["eligible"] = not failed
    for definition in checked.rules.values():
        if definition.uses_eligible:
            frame.values["rule:" + definition.name] = value_of(frame, definition.expr)
    for definition in checked.notes.values():
        frame.values["note:" + definition.name] = bool(value_of(frame, definition.expr))
    for definition in checked.outputs.values():
        frame.values["output:" + definition.name] = value_of(frame, definition.expr)
    return frame.values


def failed_input_checks(checked: CheckedRuleSet, case: dict) -> list[str]:
    """The names of the input checks a converted case fails, in the ruleset's order."""
    frame = _Frame(checked, case)
    return [name for name, definition in checked.input_checks.items() if value_of(frame, definition.expr)]
