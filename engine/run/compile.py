"""Stage 4, compile: `CheckedRuleSet` -> `CompiledRuleSet` (one Python function per version).

The checked rules are translated once into the source of a plain Python
function, in the evaluation order the checker proved, and compiled with
`compile()`. Only our own typed tree is translated: names are mangled,
constants are passed in a namespace, never spliced as text, so a rule file
cannot reach Python objects; each operator, function and aggregate becomes
the code template (or a call of the implementation) of the overload the
checker chose in the table of built-ins. Evaluating a case then costs about
what a hand-written function costs, and never re-parses anything. There is
one function only: explanations learn which branches a case took from the
reference interpreter, observed (`usage.branches_taken`), not from a second
generated copy.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Callable

from ..core import nodes
from ..core import typesys as T
from ..lang.bindings import EligibleRef, EnumValue, InputRef, LoopVariable, ParameterRef, RuleRef, TableRef
from ..lang.builtins import CODE_NAMES, KeyPrefixes
from ..lang.check import CheckedRuleSet, Definition
from ..core.values import Duration, contract_writer

ELIGIBLE_SLOT = "eligible"


@dataclass(frozen=True)
class CompiledRuleSet:
    """A checked version and its compiled decision function."""

    checked: CheckedRuleSet
    decide: Callable[[dict], tuple] = field(repr=False)
    slots: tuple[str, ...]  # what each position of decide()'s result holds: "rule:x", "condition:y", ...
    slot_index: dict[str, int] = field(repr=False)
    failed_input_checks: Callable[[dict], tuple] = field(repr=False)
    messages: dict[tuple[str, str, str], Callable] = field(repr=False)  # (kind, code, lang) -> fn(case, values)
    line_owner: dict[int, str] = field(repr=False)  # line of the decision function -> "rule x", "condition y", ...
    condition_slots: tuple = ()  # (code, position in decide()'s result, source), in the ruleset's order
    note_slots: tuple = ()
    output_slots: tuple = ()  # (field, position, type)
    output_writers: tuple = ()  # (field, position, how its value is written in the decision JSON)


class _Generator:
    def __init__(self, checked: CheckedRuleSet):
        self.checked = checked
        self.namespace: dict[str, object] = dict(CODE_NAMES)
        self.constants: dict[tuple, str] = {}
        self.helpers: dict[Callable, str] = {}  # a built-in's implementation -> its name in the namespace
        self.rule_slot = {name: f"r_{i}" for i, name in enumerate(checked.rules)}
        # each field of the case record -> (its local, the constant holding its name): no case name reaches source
        self.inputs = {name: (f"i_{i}", f"I_{i}") for i, name in enumerate(_roots(checked))}
        self.hoists: dict[str, str] | None = None  # while the decision function is written: field code -> local
        self.namespace.update({key: name for name, (_, key) in self.inputs.items()})

    def constant(self, value) -> str:
        if value is None or isinstance(value, (bool, int, str)):
            return repr(value)
        key = (type(value).__name__, repr(value))
        if key not in self.constants:
            name = f"K_{len(self.constants)}"
            self.constants[key] = name
            self.namespace[name] = value
        return self.constants[key]

    def table(self, name: str, form: str) -> str:
        table = self.checked.tables[name]
        slot = f"T_{form}_{len(self.namespace)}"
        if form == "keys":
            value = frozenset(table.rows)
        elif form == "prefixes":
            value = KeyPrefixes(table.rows)
        elif form == "list":
            value = tuple(table.rows)
        else:
            value = table.rows
        self.namespace[slot] = value
        return slot

    def constant_days(self, expr) -> int | None:
        """The number of days of a constant duration of whole days (10 days), else None."""
        value = None
        if isinstance(expr, nodes.Literal):
            value = expr.value
        else:
            binding = self.checked.bindings.get(id(expr))
            if isinstance(binding, ParameterRef):
                value = self.checked.parameters[binding.name].value
        if isinstance(value, Duration) and not value.years and not value.months:
            return value.days
        return None

    def hoisted(self, expr: nodes.Field, code: str) -> str:
        """A field of the case read once at the top of the decision, when it can be read whatever the case:
        every record on its path is required (never null), and no loop variable is involved."""
        if self.hoists is None or not self._always_there(expr):
            return code
        if code not in self.hoists:
            self.hoists[code] = f"f_{len(self.hoists)}"
        return self.hoists[code]

    def _always_there(self, expr) -> bool:
        path = []
        while isinstance(expr, nodes.Field):
            path.append(expr.name)
            expr = expr.subject
        if not isinstance(expr, nodes.Name) or not isinstance(self.checked.bindings.get(id(expr)), InputRef):
            return False
        typ = self.checked.case_model.type.field(expr.name)
        for name in reversed(path):
            if not isinstance(typ, T.Record):  # null allowed, or not a record: read it where the rule reads it
                return False
            typ = typ.field(name)
        return True

    def empty_aggregate(self, expr: nodes.Aggregate) -> str | None:
        """What an aggregate gives over an empty list, as code; None when it has no such value."""
        if expr.function == "sum":
            return "0" if self.type_of(expr) == T.INT else self.constant(Decimal(0))
        return {"count": "0", "any": "False", "all": "True"}.get(expr.function)

    def type_of(self, expr):
        return T.strip_optional(self.checked.types.get(id(expr)))

    def helper(self, fn: Callable) -> str:
        """The name under which the namespace holds a built-in's implementation."""
        if fn not in self.helpers:
            self.helpers[fn] = f"B_{len(self.helpers)}"
            self.namespace[self.helpers[fn]] = fn
        return self.helpers[fn]

    def applied(self, expr, parts, **named) -> str:
        """A built-in applied to its arguments' code: its overload's template, or a call of its implementation."""
        overload = self.checked.overloads[id(expr)]
        code = overload.template or "{fn}({args})"
        fn = self.helper(overload.run) if "{fn}" in code else ""
        return code.format(*parts, args=", ".join(parts), fn=fn, **named)

    def container(self, expr) -> str:
        """What `in` looks into: a table's keys as a set (or as prefixes), else the list itself."""
        binding = self.checked.bindings.get(id(expr))
        if isinstance(binding, TableRef):
            return self.table(binding.name, "prefixes" if self.checked.tables[binding.name].key_prefix else "keys")
        return self.gen(expr)

    def name(self, expr: nodes.Name) -> str:
        match self.checked.bindings[id(expr)]:
            case InputRef(path=path):
                return self.inputs[path][0]
            case ParameterRef(name=name):
                return self.constant(self.checked.parameters[name].value)
            case TableRef(name=name):
                return self.table(name, "list")
            case RuleRef(name=name):
                return self.rule_slot[name]
            case LoopVariable(name=name):
                return f"v_{name}"
            case EnumValue(name=name):
                return repr(name)
            case EligibleRef():
                return "eligible"
        raise AssertionError(self.checked.bindings[id(expr)])  # pragma: no cover

    def gen(self, expr) -> str:
        match expr:
            case nodes.Literal(value=value):
                return self.constant(value)
            case nodes.Name():
                return self.name(expr)
            case nodes.Field(subject=subject, name=name):
                binding = self.checked.bindings.get(id(expr))
                if isinstance(binding, ParameterRef):
                    return self.constant(self.checked.parameters[binding.name].value)
                return self.hoisted(expr, f"{self.gen(subject)}[{name!r}]")
            case nodes.Index(subject=subject, key=key):
                return f"{self.table(self.checked.bindings[id(subject)].name, 'rows')}[{self.gen(key)}]"
            case nodes.Negate(operand=operand) | nodes.Not(operand=operand):
                return self.applied(expr, (self.gen(operand),))
            case nodes.Binary(op=op, left=left, right=right):
                if self.type_of(left) == T.DATE and self.type_of(right) == T.DURATION:
                    days = self.constant_days(right)
                    if days is not None:  # date + 10 days: a timedelta, cheaper than moving by years and months
                        return f"({self.gen(left)} {op} {self.constant(timedelta(days=days))})"
                return self.applied(expr, (self.gen(left), self.gen(right)))
            case nodes.Compare(left=left, right=right):
                return self.applied(expr, (self.gen(left), self.gen(right)))
            case nodes.Member(item=item, container=container):
                return self.applied(expr, (self.gen(item), self.container(container)))
            case nodes.And(left=left, right=right) | nodes.Or(left=left, right=right):
                return self.applied(expr, (self.gen(left), self.gen(right)))
            case nodes.If(condition=condition, then=then, otherwise=otherwise):
                return f"({self.gen(then)} if {self.gen(condition)} else {self.gen(otherwise)})"
            case nodes.Call(function=function, args=args):
                return self.applied(expr, [self.gen(arg) for arg in args])
            case nodes.Aggregate(body=body, variable=variable, source=source, filter=condition):
                items = self.gen(source)
                loop = f"for v_{variable} in {items}"
                if condition is not None:
                    loop += f" if {self.gen(condition)}"
                code = self.applied(expr, (), body=self.gen(body), loop=loop)
                empty = self.empty_aggregate(expr)
                if empty is not None and items.isidentifier():  # most lists of a case are empty: skip the loop
                    return f"({code} if {items} else {empty})"
                return code
            case nodes.ListOf(items=items):
                return "(" + "".join(self.gen(i) + ", " for i in items) + ")"
        raise AssertionError(f"unhandled node {expr!r}")  # pragma: no cover


def _roots(checked: CheckedRuleSet) -> list[str]:
    return [name for name, _ in checked.case_model.type.fields]


def _decision_lines(gen: _Generator, checked: CheckedRuleSet) -> tuple[list[str], dict, list[str]]:
    """The decision function's source: one line per rule, condition, note and output, in evaluation order.

    Each definition is one line, so the line a runtime error is raised on
    names the rule, condition, note or output that raised it (`line_owner`).
    """
    lines: list[str] = []
    owner: dict[int, str] = {}
    slots: list[str] = []
    returns: list[str] = []
    gen.hoists = {}  # case fields read once, at the top

    def emit(target: str, definition: Definition, slot: str, as_bool: bool = False):
        # a condition or note is typed bool by the checker: its value is a bool already
        lines.append(f"    {target} = {gen.gen(definition.expr)}")
        owner[len(lines)] = f"{definition.kind} {definition.name}"
        slots.append(slot)
        returns.append(target)

    before = [d for d in checked.rules.values() if not d.uses_eligible]
    after = [d for d in checked.rules.values() if d.uses_eligible]
    for definition in before:
        emit(gen.rule_slot[definition.name], definition, f"rule:{definition.name}")
    condition_targets = []
    for i, definition in enumerate(checked.conditions.values()):
        emit(f"c_{i}", definition, f"condition:{definition.name}", as_bool=True)
        condition_targets.append(f"c_{i}")
    lines.append(f"    eligible = not ({' or '.join(condition_targets) or 'False'})")
    slots.append(ELIGIBLE_SLOT)
    returns.append("eligible")
    for definition in after:
        emit(gen.rule_slot[definition.name], definition, f"rule:{definition.name}")
    for i, definition in enumerate(checked.notes.values()):
        emit(f"n_{i}", definition, f"note:{definition.name}", as_bool=True)
    for i, definition in enumerate(checked.outputs.values()):
        emit(f"o_{i}", definition, f"output:{definition.name}")
    lines.append(f"    return ({', '.join(returns)},)")
    head = ["def decide(case):"] + [f"    {local} = case[{key}]" for local, key in gen.inputs.values()]
    head += [f"    {local} = {code}" for code, local in gen.hoists.items()]
    gen.hoists = None
    return head + lines, {line + len(head): name for line, name in owner.items()}, slots


def _input_check_lines(gen: _Generator, checked: CheckedRuleSet) -> list[str]:
    """`failed_input_checks(case)`: the names of the ruleset's input checks the case fails, in order."""
    lines = ["def failed_input_checks(case):"]
    for local, key in gen.inputs.values():
        lines.append(f"    {local} = case[{key}]")
    lines.append("    failed = []")
    for definition in checked.input_checks.values():
        lines.append(f"    if {gen.gen(definition.expr)}:")
        lines.append(f"        failed.append({definition.name!r})")
    lines.append("    return failed")
    return lines


def _message_lines(gen: _Generator, checked: CheckedRuleSet, slot_index: dict) -> tuple[list[str], dict]:
    """One function per message of a condition or note and language: fn(case, values) -> ((text, type), ...)."""
    lines: list[str] = []
    names: dict[tuple[str, str, str], str] = {}
    for kind, section in (("condition", checked.conditions), ("note", checked.notes)):
        for definition in section.values():
            for lang, template in definition.messages.items():
                fn = f"m_{len(names)}"
                names[(kind, definition.name, lang)] = fn
                lines.append(f"def {fn}(case, values):")
                lines.extend(_message_body(gen, template, slot_index))
    return lines, names


def _message_body(gen: _Generator, template, slot_index: dict) -> list[str]:
    parts = []
    for part in template.parts:
        if isinstance(part, str):
            parts.append(f"({part!r}, None)")
        else:
            typ = gen.checked.types.get(id(part))
            parts.append(f"({gen.gen(part)}, {str(T.strip_optional(typ))!r})")
    body = f"    return ({', '.join(parts)},)"
    lines = []
    for local, key in gen.inputs.values():  # bind only what the message reads
        if re.search(rf"\b{local}\b", body):
            lines.append(f"    {local} = case[{key}]")
    for rule, slot_name in gen.rule_slot.items():
        if re.search(rf"\b{slot_name}\b", body):
            lines.append(f"    {slot_name} = values[{slot_index['rule:' + rule]}]")
    if re.search(r"\beligible\b", body):
        lines.append(f"    eligible = values[{slot_index[ELIGIBLE_SLOT]}]")
    return lines + [body]


def compile_ruleset(checked: CheckedRuleSet) -> CompiledRuleSet:
    """CheckedRuleSet -> CompiledRuleSet: the decision as one compiled Python function."""
    gen = _Generator(checked)
    lines, owner, slots = _decision_lines(gen, checked)
    check_lines = _input_check_lines(gen, checked)
    slot_index = {slot: i for i, slot in enumerate(slots)}
    message_lines, message_names = _message_lines(gen, checked, slot_index)
    source = "\n".join(lines + [""] + check_lines + [""] + message_lines) + "\n"
    namespace = dict(gen.namespace)
    exec(compile(source, f"<rules {checked.source.ruleset} {checked.source.version}>", "exec"), namespace)
    messages = {key: namespace[fn] for key, fn in message_names.items()}
    return CompiledRuleSet(
        checked, namespace["decide"], tuple(slots), slot_index, namespace["failed_input_checks"], messages, owner,
        tuple((code, slot_index["condition:" + code], d.source) for code, d in checked.conditions.items()),
        tuple((code, slot_index["note:" + code], d.source) for code, d in checked.notes.items()),
        tuple((name, slot_index["output:" + name], d.type) for name, d in checked.outputs.items()),
        tuple((name, slot_index["output:" + name], contract_writer(d.type)) for name, d in checked.outputs.items()))
