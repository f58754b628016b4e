"""Stage 4, compile: `CheckedRuleSet` -> `CompiledRuleSet` (one Python function per version).

The checked rules are translated once into the source of a plain Python
function, in the evaluation order the checker proved, and compiled with
`compile()`. Only our own typed tree is translated: names are mangled,
constants are passed in a namespace, never spliced as text, so a rule file
cannot reach Python objects; each operator, function and aggregate becomes
the code template (or a call of the implementation) of the overload the
checker chose in the table of built-ins. Evaluating a case never re-parses
anything. Explanations learn which branches a case took from the reference
interpreter, observed (`usage.branches_taken`), not from a second copy.

Beside `decide` (one line per definition, so that an error names the rule
that raised it), each version gets a fast path (`FastPath`, see `_fast_lines`),
written the first time a case is decided without an explanation: the case's
checks (`source/case.py`), the same rules and the contract's outputs and
messages in one function, which gives up on anything but a plain decision so
that `decide` and the full validator say what went wrong. With it a decision
costs less than the hand-written code of `benchmarks/handwritten.py`.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, getcontext, setcontext
from datetime import timedelta
from decimal import Decimal
from typing import Callable

from ..core import nodes
from ..core import typesys as T
from ..lang.bindings import EligibleRef, EnumValue, InputRef, LoopVariable, ParameterRef, RuleRef, TableRef
from ..lang.builtins import CODE_NAMES, KeyPrefixes
from ..lang.check import CheckedRuleSet, Definition
from ..core.values import (CENT, ENGINE_CONTEXT, Duration, contract_value, contract_writer, end_of_year, format_value_in,
                           round_cents)

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
    fast: "FastPath | None" = field(default=None, repr=False, compare=False)  # used while `decide` is its own

    @property
    def fast_path(self) -> Callable | None:
        """The fast path's compiled function, once built (see FastPath: the full way decides a version's first
        two cases, building it on the second), while `decide` is the function compiled beside it: a ruleset
        whose `decide` was replaced (to observe it, or to break it in a test) decides through that function
        only."""
        fast = self.fast
        return fast.run if fast is not None and fast.built and fast.decide is self.decide else None


class FastPath:
    """The fast path of one version, written and compiled the first time a case is decided without an
    explanation: building a version to check, compare or test its rules never pays for it.

    `run(raw case, lang, info, decision, reason)` -> `decision(info, eligible, outputs as the contract
    writes them, reasons, notes)`, each reason and note `reason(code, message, source)`; or None when the
    case must be decided the full way. The first case is decided the full way (a command line that
    decides one case would spend more compiling than deciding); the second builds it, and `run` is
    then the compiled function itself. A version whose fast path cannot be written (a case schema
    nested too deeply) answers None always."""

    def __init__(self, checked: CheckedRuleSet, decide: Callable):
        self.checked, self.decide = checked, decide
        self.lock = threading.Lock()
        self.built = False
        self.run = self.first_run

    def first_run(self, *arguments):
        self.run = self.second_run
        return None

    def second_run(self, *arguments):
        self.build_now()
        return self.run(*arguments)

    def build_now(self) -> None:
        """Written and compiled now, if it is not yet: on a second case, or before a batch starts its worker
        processes, which then inherit it instead of each building its own."""
        with self.lock:  # two threads deciding their second case build it once
            if not self.built:
                self.run = _fast_function(self.checked) or _never
                self.built = True


def _never(*arguments):
    return None


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
        self.reads: dict[tuple, str] | None = None  # while the fast path is written: path in the case -> local
        # while the fast path is written: the statements the line being written needs first, (depth, text) with
        # depths relative to that line's, and the loop whose body is being written (see lifted)
        self.before: list[tuple[int, str]] = []
        self.loop: _Loop | None = None
        self.temporaries = 0
        self.namespace.update({key: name for name, (_, key) in self.inputs.items()})

    def constant(self, value) -> str:
        if value is None or isinstance(value, (bool, int, str)):
            return repr(value)
        return self.named(value)

    def named(self, value) -> str:
        """A constant of the namespace, whatever its value (texts included)."""
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
        value = self.constant_duration(expr)
        if value is not None and not value.years and not value.months:
            return value.days
        return None

    def constant_duration(self, expr) -> Duration | None:
        """The value of a duration written in the rule or named by a parameter, else None."""
        value = None
        if isinstance(expr, nodes.Literal):
            value = expr.value
        else:
            binding = self.checked.bindings.get(id(expr))
            if isinstance(binding, ParameterRef):
                value = self.checked.parameters[binding.name].value
        return value if isinstance(value, Duration) else None

    def hoisted(self, expr: nodes.Field, code: str) -> str:
        """A field of the case read once at the top of the decision, when it can be read whatever the case:
        every record on its path is required (never null), and no loop variable is involved."""
        if self.hoists is None or self.input_path(expr) is None:
            return code
        if code not in self.hoists:
            self.hoists[code] = f"f_{len(self.hoists)}"
        return self.hoists[code]

    def input_path(self, expr) -> tuple | None:
        """The path in the case of a field read through records that are never null (`enterprise.employees`
        -> ("enterprise", "employees")), else None."""
        path = []
        while isinstance(expr, nodes.Field):
            path.append(expr.name)
            expr = expr.subject
        if not isinstance(expr, nodes.Name) or not isinstance(self.checked.bindings.get(id(expr)), InputRef):
            return None
        typ = self.checked.case_model.type.field(expr.name)
        for name in reversed(path):
            if not isinstance(typ, T.Record):  # null allowed, or not a record: read it where the rule reads it
                return None
            typ = typ.field(name)
        return (expr.name, *reversed(path))

    def read(self, path: tuple) -> str:
        """The local the fast path leaves a value of the case in, as its reader checks it."""
        if path not in self.reads:
            self.reads[path] = f"a_{len(self.reads)}"
        return self.reads[path]

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
        if self.reads is not None and overload.template is None and overload.run in _INLINE:
            code = _INLINE[overload.run]  # the fast path: what the implementation does, without a call
            return code.format(*parts, cent=self.named(CENT), half_up=self.named(ROUND_HALF_UP))
        if self.reads is not None and code in _PICK and (self.loop is None or len(parts) == 2 and
                                                          all(_simple(part) for part in parts)):
            parts = [part if _simple(part) else self.temporary(part) for part in parts]  # each read twice
            picked = parts[0]  # min(a, b, c) as min picks: the first of equal values, from the left
            for i, part in enumerate(parts[1:], 2):
                picked = _PICK[code].format(picked, part)
                if i < len(parts):
                    picked = self.temporary(picked)
            return picked
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
                return self.read((path,)) if self.reads is not None else self.inputs[path][0]
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
        if self.reads is not None:  # the fast path
            if self.loop is not None and self.invariant(expr):
                return self.hoisted_out(expr)
            if isinstance(expr, nodes.Aggregate) and self.loop is None and \
                    self.checked.overloads[id(expr)].template in _LOOPS:
                return self.lifted(expr)
            if isinstance(expr, nodes.Aggregate) and self.loop is not None:  # in a loop: its variable too
                outer = self.loop.variables
                self.loop.variables = outer | {expr.variable}
                try:
                    return self.code(expr)
                finally:
                    self.loop.variables = outer
            if isinstance(expr, nodes.Binary) and self.type_of(expr.left) == T.DATE:
                span = self.constant_duration(expr.right)
                if span is not None and span.years and not span.months and not span.days:
                    return self.years_later(expr, span)
            template = self.checked.overloads[id(expr)].template if isinstance(expr, nodes.Member) else None
            if template in ("({0} in {1})", "({0} not in {1})") and self.prefixes(expr.container) is not None:
                return self.in_prefixes(expr, template)
            if isinstance(expr, nodes.Call) and len(expr.args) == 1 and \
                    self.checked.overloads[id(expr)].run is end_of_year and self.years_on(expr.args[0]):
                day, years = self.years_on(expr.args[0])  # moved by whole years: only its year matters
                return f"date(({self.gen(day)}).year + {years}, 12, 31)"
        return self.code(expr)

    def years_on(self, expr) -> tuple | None:
        """(the date, N) of a date moved by a constant number of whole years (`d + 3 years`), else None."""
        if isinstance(expr, nodes.Binary) and expr.op in "+-" and self.type_of(expr.left) == T.DATE:
            span = self.constant_duration(expr.right)
            if span is not None and not span.months and not span.days:
                return expr.left, span.years if expr.op == "+" else -span.years
        return None

    def in_prefixes(self, expr: nodes.Member, template: str) -> str:
        """`code in table` for a table keyed by prefixes: what KeyPrefixes.__contains__ does, without the call."""
        code = self.gen(expr.item)
        item = self.temporary(code)
        if item is None:
            return self.applied(expr, (code, self.container(expr.container)))
        test = f"({item} is not None and {item}.startswith({self.prefixes(expr.container)}))"
        return test if template == "({0} in {1})" else f"(not {test})"

    def prefixes(self, expr) -> str | None:
        """The constant holding the keys of a table keyed by prefixes, as a tuple, when `expr` names one."""
        binding = self.checked.bindings.get(id(expr))
        if isinstance(binding, TableRef) and self.checked.tables[binding.name].key_prefix:
            return self.named(tuple(self.checked.tables[binding.name].rows))
        return None

    def temporary(self, code: str) -> str | None:
        """A local holding a value the line being written needs more than once, computed just before it
        (None inside a loop's body, where it may depend on the item)."""
        if code.isidentifier():
            return code
        if self.loop is not None:
            return None
        self.temporaries += 1
        name = f"t_{self.temporaries}"
        self.before.append((0, f"{name} = {code}"))
        return name

    def years_later(self, expr: nodes.Binary, span: Duration) -> str:
        """date +/- N years (a constant), as `add_duration` moves it, without its call: the same day N years on,
        or its implementation for 29 February."""
        code, span_code = self.gen(expr.left), self.gen(expr.right)
        day = self.temporary(code)
        if day is None:
            return self.applied(expr, (code, span_code))
        years = span.years if expr.op == "+" else -span.years
        return (f"({day}.replace(year={day}.year + {years}) if {day}.month != 2 or {day}.day != 29 "
                f"else {self.applied(expr, (day, span_code))})")

    def invariant(self, expr) -> bool:
        """Whether a part of a loop's body is worth computing once, before the loop: it reads none of the
        loop's variables and is more than a name or a constant."""
        if isinstance(expr, (nodes.Literal, nodes.Name, nodes.ListOf)):
            return False
        if isinstance(expr, nodes.Field) and (self.input_path(expr) is not None or
                                              isinstance(self.checked.bindings.get(id(expr)), ParameterRef)):
            return False
        return not _reads_any(expr, self.loop.variables, self.checked.bindings)

    def hoisted_out(self, expr) -> str:
        loop, self.loop = self.loop, None
        try:
            code = self.gen(expr)
        finally:
            self.loop = loop
        self.temporaries += 1
        name = f"h_{self.temporaries}"
        loop.before.append(f"{name} = {code}")
        return name

    def lifted(self, expr: nodes.Aggregate) -> str:
        """An aggregate as a loop of statements before the line that uses it (no generator to run), with the
        parts of its body that do not depend on the item computed once; over an empty list, nothing runs,
        as in the decision's `(sum(...) if items else 0)`. Computed even where the line would not need it,
        which costs little and can change nothing: the fast path only gives up when it raises."""
        items = self.gen(expr.source)
        empty = self.empty_aggregate(expr)
        guarded = empty is not None and items.isidentifier()
        items = self.temporary(items)
        self.temporaries += 1
        total = f"s_{self.temporaries}"
        variable = f"v_{expr.variable}"
        self.loop = _Loop({expr.variable})
        try:
            body = self.gen(expr.body)
            condition = self.gen(expr.filter) if expr.filter is not None else None
        finally:
            loop, self.loop = self.loop, None
        start, test, step, stop = _LOOPS[self.checked.overloads[id(expr)].template](total, body)
        test = test if condition is None else (f"({condition}) and ({test})" if test else condition)
        inner = 1 if guarded else 0
        lines = [(inner, line) for line in loop.before]
        lines += [(inner, f"{total} = {start}"), (inner, f"for {variable} in {items}:")]
        if test:
            lines.append((inner + 1, f"if {test}:"))
        lines += [(inner + (2 if test else 1), line) for line in (step, stop) if line]
        if guarded:
            lines = [(0, f"if {items}:")] + lines + [(0, "else:"), (1, f"{total} = {empty}")]
        self.before += lines
        return total

    def code(self, expr) -> str:
        match expr:
            case nodes.Literal(value=value):
                return self.constant(value)
            case nodes.Name():
                return self.name(expr)
            case nodes.Field(subject=subject, name=name):
                binding = self.checked.bindings.get(id(expr))
                if isinstance(binding, ParameterRef):
                    return self.constant(self.checked.parameters[binding.name].value)
                if self.reads is not None and self.input_path(expr) is not None:
                    return self.read(self.input_path(expr))
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
            case nodes.Call(args=args):
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


@dataclass
class _Loop:
    """A loop being written for the fast path: the variables its body may read, and what is computed once
    before it."""

    variables: set[str]
    before: list[str] = field(default_factory=list)


# The aggregates the fast path writes as loops, by their template in the table of built-ins -> (total, body)
# -> (the start, the test an item must pass, the step, what ends the loop early): what sum(), any() and all()
# compute, adding in the same order from the same start. An aggregate of another template stays as it is.
_LOOPS = {
    "sum(({body} {loop}), 0)": lambda total, body: ("0", None, f"{total} = {total} + {body}", None),
    "sum(({body} {loop}), ZERO)": lambda total, body: ("ZERO", None, f"{total} = {total} + {body}", None),
    "sum(1 {loop} if {body})": lambda total, body: ("0", body, f"{total} = {total} + 1", None),
    "any({body} {loop})": lambda total, body: ("False", body, f"{total} = True", "break"),
    "all({body} {loop})": lambda total, body: ("True", f"not ({body})", f"{total} = False", "break"),
}

# min and max of two values the fast path has in locals, as they pick.
_PICK = {"min({args})": "({1} if {1} < {0} else {0})", "max({args})": "({1} if {1} > {0} else {0})"}


def _simple(code: str) -> bool:
    """A local or a constant: code that costs nothing to read twice."""
    return code.isidentifier() or code.isdigit()


# Built-ins the fast path writes as what they do, without the call (the decision function calls them).
_INLINE = {
    round_cents: "({0}).quantize({cent}, {half_up}, CONTEXT)",  # as round_cents, in the engine's context
    end_of_year: "date(({0}).year, 12, 31)",
}


def _reads_any(expr, variables: set[str], bindings) -> bool:
    """Whether an expression reads one of these loop variables anywhere inside it."""
    todo = [expr]
    while todo:
        node = todo.pop()
        if isinstance(node, nodes.Name):
            binding = bindings.get(id(node))
            if isinstance(binding, LoopVariable) and binding.name in variables:
                return True
        todo.extend(nodes.children(node))
    return False


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


_IDENTIFIER = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*\b")


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
    names = set(_IDENTIFIER.findall(body))  # bind only what the message reads
    for local, key in gen.inputs.values():
        if local in names:
            lines.append(f"    {local} = case[{key}]")
    for rule, slot_name in gen.rule_slot.items():
        if slot_name in names:
            lines.append(f"    {slot_name} = values[{slot_index['rule:' + rule]}]")
    if "eligible" in names:
        lines.append(f"    eligible = values[{slot_index[ELIGIBLE_SLOT]}]")
    return lines + [body]


def _fast_lines(gen: _Generator, checked: CheckedRuleSet) -> list[str] | None:
    """`fast(case, lang, info, decision, reason)` (see FastPath): the whole decision of a case that has
    nothing wrong, in one function; None when the case schema has no fast path.

    Profiled, a decision cost twice the hand-written code of the same rules,
    and half of it was spent outside the rules: walking the case once to
    check it and build its dicts, again to read them, then writing each output
    and building the tuple of every value. Here the case's own fast path
    (`source/case.py`) checks the case and leaves each value the rules read in
    a local, and the rules, their messages and the outputs (as the contract
    writes them) follow in the same function. It gives up (None) on anything
    that is not a plain decision: a case with a problem, one that fails an
    input check, a rule that raises, an amount not a whole cent. The caller
    then decides the case again the full way (`evaluate.py`), which names the
    problem exactly as before; so this path only has to be right where it
    answers, and it may compute a value the full way would not need.
    """
    gen.reads = {}
    body: list[str] = []

    def emit(line: str | None, depth: int = 2):
        for inner, before in gen.before:  # the loops and values this line needs first
            body.append("    " * (depth + inner) + before)
        gen.before = []
        if line is not None:
            body.append("    " * depth + line)

    for definition in checked.input_checks.values():  # a case that fails one is refused the full way
        emit(f"if {gen.gen(definition.expr)}:")
        emit("return None", 3)

    def rule(definition: Definition):
        code = gen.gen(definition.expr)
        if code.isidentifier():  # another name for a value (a module's input bound to the case, a rule
            gen.rule_slot[definition.name] = code  # renamed, a total): the rules after it read that value
            emit(None)
        else:
            emit(f"{gen.rule_slot[definition.name]} = {code}")

    for definition in (d for d in checked.rules.values() if not d.uses_eligible):
        rule(definition)
    conditions = [f"c_{i}" for i in range(len(checked.conditions))]
    for target, definition in zip(conditions, checked.conditions.values()):
        emit(f"{target} = {gen.gen(definition.expr)}")
    emit(f"eligible = not ({' or '.join(conditions) or 'False'})")
    for definition in (d for d in checked.rules.values() if d.uses_eligible):
        rule(definition)
    notes = [f"n_{i}" for i in range(len(checked.notes))]
    for target, definition in zip(notes, checked.notes.values()):
        emit(f"{target} = {gen.gen(definition.expr)}")
    written = []
    for i, definition in enumerate(checked.outputs.values()):
        emit(f"o_{i} = {gen.gen(definition.expr)}")
        written.append(f"{gen.named(definition.name)}: {_written(gen, f'o_{i}', definition, emit)}")
    emit("reasons = ()")
    emit("if not eligible:")  # else no condition failed, so there is no reason
    for target, definition in zip(conditions, checked.conditions.values()):
        emit(f"if {target}:", 3)
        _message_statements(gen, definition, emit, 4)
        emit(f"reasons += (reason({gen.named(definition.name)}, text, {gen.named(definition.source)}),)", 4)
    if not conditions:
        emit("pass", 3)
    emit("notes = ()")
    for target, definition in zip(notes, checked.notes.values()):
        emit(f"if {target}:")
        _message_statements(gen, definition, emit, 3)
        emit(f"notes += (reason({gen.named(definition.name)}, text, {gen.named(definition.source)}),)", 3)
    emit(f"return decision(info, eligible, {{{', '.join(written)}}}, reasons, notes)")
    reads, gen.reads = gen.reads, None
    got = checked.case_model.reading("case", reads, 2)
    if got is None:
        return None
    lines, namespace = got
    for name, value in namespace.items():  # the reader's names are its own: none is one of ours
        if name.startswith("__"):
            continue
        if name in gen.namespace and gen.namespace[name] is not value:
            raise AssertionError(f"the case reader's {name} clashes with the decision's")  # pragma: no cover
        gen.namespace[name] = value
    days: dict = {}

    def day_text(day) -> str:
        """A date as the contract writes it, remembered (at most _DAYS_REMEMBERED of them)."""
        text = day.isoformat()
        if len(days) < _DAYS_REMEMBERED:
            days[day] = text
        return text

    gen.namespace.update(getcontext=getcontext, setcontext=setcontext, CONTEXT=ENGINE_CONTEXT.copy(),
                         give_up=_give_up, days=days, day_text=day_text)
    return (["def fast(case, lang, info, decision, reason):",
             "    saved = getcontext()",
             "    setcontext(CONTEXT)",  # the engine's own context (a copy: its flags are no one's business)
             "    try:"]
            + lines + body
            + ["    except Exception:",  # decided again the full way, which says what went wrong
               "        return None",
               "    finally:",
               "        setcontext(saved)"])


_DAYS_REMEMBERED = 4_096  # dates written by one version's fast path, remembered


def _give_up():
    """Called where the fast path cannot go on: an output not a whole cent (the full way says so)."""
    raise ArithmeticError("not a whole cent")


def _written(gen: _Generator, local: str, definition: Definition, emit) -> str:
    """An output's value as the decision JSON writes it (what `contract_writer` and `format_rate` do), as
    code; an amount that is not a whole cent gives the fast path up (the full way reports it)."""
    typ = definition.type
    inner = typ.inner if typ.__class__ is T.Optional else typ
    money = inner.__class__ is T.Scalar and inner.name == "money"
    if money or inner.__class__ is T.Scalar and inner.name == "percent":
        cent = gen.named(CENT)
        cents = f"(w_{local} := {local}.quantize({cent}, None, CONTEXT))"
        otherwise = "give_up()" if money else f"format({local}.normalize(CONTEXT), 'f')"  # a rate: 2 decimals or more
        # a value with two decimals already (round() makes them) is written as it is, without quantize
        code = (f"str({local}) if {local}.same_quantum({cent}) else "
                f"str(w_{local}) if {cents} == {local} else {otherwise}")
        texts = _constant_texts(gen.checked, definition.expr, contract_writer(typ))
        if texts:  # one of a few constants (a rate by size): written once, found by the constant itself
            return f"(None if {local} is None else {gen.named(texts)}.get({local}) or {code})"
        return f"(None if {local} is None else {code})"
    if inner.__class__ is T.Scalar and inner.name == "date":  # a batch has few distinct deadlines: remembered
        return f"(None if {local} is None else days.get({local}) or day_text({local}))"
    if inner.__class__ is T.Enum or inner in (T.STRING, T.BOOL, T.INT):
        return local
    return f"{gen.named(contract_value)}({local}, {gen.named(typ)})"


def _constant_texts(checked: CheckedRuleSet, expr, write) -> dict | None:
    """{value: as written} when every branch of an expression ends in a constant (a rate chosen by size
    class), else None. Found by the constant object itself, whose hash is worked out once, where hashing
    a Decimal computed for the case would cost more than writing it."""
    values, todo = [], [expr]
    while todo:
        node = todo.pop()
        binding = checked.bindings.get(id(node))
        if isinstance(node, nodes.Literal):
            values.append(node.value)
        elif isinstance(node, nodes.If):
            todo += [node.then, node.otherwise]
        elif isinstance(binding, ParameterRef):
            values.append(checked.parameters[binding.name].value)
        elif isinstance(binding, RuleRef) and len(values) + len(todo) < 64:
            todo.append(checked.rules[binding.name].expr)
        else:
            return None
    try:
        return {value: write(value) for value in values if isinstance(value, Decimal)} or None
    except Exception:  # noqa: BLE001 - a constant the contract cannot write: written the full way
        return None


def _message_statements(gen: _Generator, definition: Definition, emit, depth: int) -> None:
    """Statements leaving a condition's or note's message in `text`, in the language asked: in English when
    it has none in that language, its code when it has no message at all (as `evaluate._message` finds
    it). Only the language asked is worked out."""
    others = [lang for lang in definition.messages if lang != "en"]
    for i, lang in enumerate(others):
        emit(f"{'if' if i == 0 else 'elif'} lang == {gen.named(lang)}:", depth)
        emit(f"text = {_text_code(gen, definition.messages[lang], lang)}", depth + 1)
    if others:
        emit("else:", depth)
    english = definition.messages.get("en")  # written after the branch it stands in, for its own values
    emit(f"text = {_text_code(gen, english, 'en') if english is not None else gen.named(definition.name)}",
         depth + (1 if others else 0))


def _text_code(gen: _Generator, template, lang: str) -> str:
    """A message template's text as code: what is constant (its words, a parameter it shows) written once."""
    parts: list = []
    for part in template.parts:
        shown = part if isinstance(part, str) else _constant_shown(gen, part, lang)
        if shown is not None and parts and isinstance(parts[-1], str):
            parts[-1] += shown
        else:
            parts.append(shown if shown is not None else _shown_code(gen, part, lang))
    codes = [gen.named(part) if isinstance(part, str) else part.code for part in parts]
    if len(parts) == 1 and isinstance(parts[0], str):
        return codes[0]
    return f"''.join(({''.join(code + ', ' for code in codes)}))"


@dataclass(frozen=True)
class _Code:
    code: str


def _constant_shown(gen: _Generator, part, lang: str) -> str | None:
    """How format_value_in shows a constant in a message (a parameter, a literal), worked out once; else None."""
    binding = gen.checked.bindings.get(id(part))
    if isinstance(part, nodes.Literal):
        value = part.value
    elif isinstance(binding, ParameterRef):
        value = gen.checked.parameters[binding.name].value
    else:
        return None
    try:
        return format_value_in(value, str(T.strip_optional(gen.checked.types.get(id(part)))), lang)
    except Exception:  # noqa: BLE001 - shown the full way, then
        return None


def _shown_code(gen: _Generator, part, lang: str) -> _Code:
    """A value in a message, as format_value_in writes it, as code: a text, a date, an amount or a whole
    number (most of what a message shows) without the call."""
    typ = T.strip_optional(gen.checked.types.get(id(part)))
    called = f"{gen.named(format_value_in)}({{0}}, {gen.named(str(typ))}, {gen.named(lang)})"
    value = gen.temporary(gen.gen(part))
    if typ == T.STRING or typ.__class__ is T.Enum:
        return _Code(f"({value} if type({value}) is str else {called.format(value)})")
    if typ.__class__ is T.Scalar and typ.name == "date":
        return _Code(f"({value}.isoformat() if type({value}) is date else {called.format(value)})")
    if typ == T.INT:
        return _Code(f"(str({value}) if type({value}) is int else {called.format(value)})")
    if typ.__class__ is T.Scalar and typ.name == "money":  # as format_money: EUR and the amount to the cent
        return _Code(f"({gen.named('EUR ')} + str({value}.quantize({gen.named(CENT)}, None, CONTEXT)) "
                     f"if type({value}) is Decimal else {called.format(value)})")
    return _Code(called.format(value))


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
        tuple((name, slot_index["output:" + name], contract_writer(d.type)) for name, d in checked.outputs.items()),
        FastPath(checked, namespace["decide"]))


def _fast_function(checked: CheckedRuleSet) -> Callable | None:
    """The compiled fast path of a version, or None when its case schema has none."""
    gen = _Generator(checked)
    lines = _fast_lines(gen, checked)
    if lines is None:
        return None
    namespace = dict(gen.namespace)
    try:
        code = compile("\n".join(lines) + "\n", f"<rules {checked.source.ruleset} {checked.source.version}, fast path>",
                       "exec")
    except (SyntaxError, RecursionError, MemoryError):  # nested beyond what Python compiles: no fast path
        return None
    exec(code, namespace)
    return namespace["fast"]
