"""The reference interpreter: a checked version evaluated node by node, obviously and slowly.

It walks the typed tree the checker proved, with one small function per
kind of node, and gives every definition's value in the same order as the
compiled function. Operators, functions and aggregates call the
implementation of the overload the checker chose in the table of built-ins,
never the compiled function's code templates. It exists to be read and to
be trusted: every test case and every generated case is decided by both,
and they must agree exactly.

It is also what explanations watch: given an observer, it tells it how
each `if`, `and`, `or` and fallback (`coalesce`) it reaches goes, so that
`usage.py` knows which branches a case took. The compiled function stays
the plain fast one; only an explanation pays for the walk.
"""
from __future__ import annotations

from typing import Callable

from ..core import nodes
from ..lang.bindings import EligibleRef, EnumValue, InputRef, LoopVariable, ParameterRef, RuleRef, TableRef
from ..lang.builtins import FUNCTIONS, KeyPrefixes
from ..lang.check import CheckedRuleSet
from ..core.values import in_engine_context


Observer = Callable[[object, bool], None]
"""Told (node, outcome) for each branch reached: the condition of an `if` or the left of an `and` / `or`
held (as bool), or the first argument of a fallback (`coalesce`) was null. Inside an aggregate it is told
once per item, in order."""


class _Frame:
    """What an expression can see: the case, the values found so far, loop variables."""

    def __init__(self, checked: CheckedRuleSet, case: dict, observe: Observer | None = None):
        self.checked = checked
        self.case = case
        self.values: dict[str, object] = {}  # "rule:x", "condition:y", "eligible", ... -> value
        self.variables: dict[str, object] = {}
        self.observe = observe  # told how each branch went; None: nobody watches

    def binding(self, expr):
        return self.checked.bindings.get(id(expr))

    def run(self, expr):
        """The implementation of the built-in overload the checker chose for an operator, call or aggregate."""
        return self.checked.overloads[id(expr)].run


def _name(frame: _Frame, expr: nodes.Name):
    match frame.binding(expr):
        case InputRef(path=path):
            return frame.case[path]
        case ParameterRef(name=name):
            return frame.checked.parameters[name].value
        case TableRef(name=name):
            return tuple(frame.checked.tables[name].rows)
        case RuleRef(name=name):
            return frame.values["rule:" + name]
        case LoopVariable(name=name):
            return frame.variables[name]
        case EnumValue(name=name):
            return name
        case EligibleRef():
            return frame.values["eligible"]
    raise AssertionError(f"unbound name {expr.name}")  # pragma: no cover - the checker binds every name


def _field(frame: _Frame, expr: nodes.Field):
    binding = frame.binding(expr)
    if isinstance(binding, ParameterRef):
        return frame.checked.parameters[binding.name].value
    return value_of(frame, expr.subject)[expr.name]


def _index(frame: _Frame, expr: nodes.Index):
    table = frame.checked.tables[frame.binding(expr.subject).name]
    return table.rows[value_of(frame, expr.key)]


def _applied(frame: _Frame, expr, *operands):
    """Binary, Compare, Negate, Not: the implementation on the operands' values."""
    return frame.run(expr)(*(value_of(frame, operand) for operand in operands))


def _container(frame: _Frame, expr):
    """What `in` looks into: a table's keys (as prefixes for a key_prefix table), else the list."""
    binding = frame.binding(expr)
    if isinstance(binding, TableRef):
        table = frame.checked.tables[binding.name]
        return KeyPrefixes(table.rows) if table.key_prefix else table.rows
    return value_of(frame, expr)


def _member(frame: _Frame, expr: nodes.Member):
    return frame.run(expr)(value_of(frame, expr.item), _container(frame, expr.container))


def _if(frame: _Frame, expr: nodes.If):
    condition = value_of(frame, expr.condition)
    if frame.observe is not None:
        frame.observe(expr, bool(condition))
    return value_of(frame, expr.then) if condition else value_of(frame, expr.otherwise)


def _lazy(frame: _Frame, expr: nodes.And | nodes.Or):
    """and, or: the right operand is handed over unevaluated, read only when the left does not decide."""
    left = value_of(frame, expr.left)
    if frame.observe is not None:
        frame.observe(expr, bool(left))
    return frame.run(expr)(left, lambda: value_of(frame, expr.right))


def _call(frame: _Frame, expr: nodes.Call):
    args = [value_of(frame, expr.args[0])] if expr.args else []
    if frame.observe is not None and FUNCTIONS[expr.function].fallback:  # was the default needed?
        frame.observe(expr, args[0] is None)
    args.extend(value_of(frame, arg) for arg in expr.args[1:])
    return frame.run(expr)(*args)


def _aggregate(frame: _Frame, expr: nodes.Aggregate):
    chosen = []
    outer = frame.variables
    for item in value_of(frame, expr.source):
        frame.variables = {**outer, expr.variable: item}
        if expr.filter is None or value_of(frame, expr.filter):
            chosen.append(value_of(frame, expr.body))
    frame.variables = outer
    return frame.run(expr)(chosen)


_EVALUATE = {
    nodes.Literal: lambda frame, expr: expr.value,
    nodes.Name: _name,
    nodes.Field: _field,
    nodes.Index: _index,
    nodes.Negate: lambda frame, expr: _applied(frame, expr, expr.operand),
    nodes.Binary: lambda frame, expr: _applied(frame, expr, expr.left, expr.right),
    nodes.Compare: lambda frame, expr: _applied(frame, expr, expr.left, expr.right),
    nodes.Member: _member,
    nodes.And: _lazy,
    nodes.Or: _lazy,
    nodes.Not: lambda frame, expr: _applied(frame, expr, expr.operand),
    nodes.If: _if,
    nodes.Call: _call,
    nodes.Aggregate: _aggregate,
    nodes.ListOf: lambda frame, expr: tuple(value_of(frame, item) for item in expr.items),
}


def value_of(frame: _Frame, expr):
    """The value of one expression, in the frame of one case."""
    return _EVALUATE[type(expr)](frame, expr)


@in_engine_context
def interpret(checked: CheckedRuleSet, case: dict, observe: Observer | None = None) -> dict[str, object]:
    """A checked version and a converted case -> the value of every definition, keyed "kind:name".

    The order is the compiled function's: the rules eligibility does not
    depend on, the conditions, `eligible`, the other rules, notes, outputs.
    `observe`, when given, is told how each branch reached went (see `Observer`).
    """
    frame = _Frame(checked, case, observe)
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
