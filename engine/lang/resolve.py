"""Names: what each name of an expression stands for in a version.

A version offers, in this order of precedence: the variable of each
aggregate around an expression, the fields of the case, the parameters (a
tree of dotted names: `rates.small`), the tables, the rules and `eligible`.
A bare word none of these knows is read as a value of the enum its context
expects (`activity == training`). Resolving binds the node (bindings.py) in
a side table and gives the type of what it stands for; a name that stands
for nothing is an error, with the closest known name as a hint.

Each definition records what it reads (its uses). Rules are typed on
demand, each once, so that they follow what they use; a rule reached again
while it is being typed closes a circle, which is an error.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from ..core import nodes
from ..core import typesys as T
from ..core.suggest import did_you_mean
from .bindings import (Binding, EligibleRef, EnumValue, InputRef, LoopVariable, ParameterGroupRef, ParameterRef,
                       RecordField, RuleRef, TableRef)
from .checked import Parameter, Problems, TableDef
from .parse import dotted_path

ELIGIBLE = "eligible"


@dataclass(frozen=True)
class Scope:
    """What an expression sees besides the version's names: the loop variables around it, the paths known
    not to be null there, whether it may read `eligible`, and what is being checked (for messages)."""

    variables: dict
    narrowed: frozenset
    allow_eligible: bool
    context: str
    namespace: str = ""  # inside a module: the prefix of its names; it sees those and its inputs, not the case

    def knowing(self, paths: frozenset) -> Scope:
        return replace(self, narrowed=self.narrowed | paths)

    def with_variable(self, name: str, typ) -> Scope:
        return replace(self, variables={**self.variables, name: typ})


path = dotted_path  # `a.b.c` for a chain of names, else None (written beside the parser, which joins them too)


def root(expr):
    """The name a chain of fields starts from."""
    while isinstance(expr, nodes.Field):
        expr = expr.subject
    return expr


def input_type(case_type: T.Record, dotted: str):
    """The type of a field of the case, by its dotted path (null allowed or not), or None."""
    typ = case_type
    for part in dotted.split("."):
        typ = T.strip_optional(typ)
        if not isinstance(typ, T.Record) or typ.field(part) is None:
            return None
        typ = typ.field(part)
    return T.strip_optional(typ)


def input_paths(typ, prefix: str = "") -> list[str]:
    """Every dotted path into the fields of a record, outer ones first."""
    typ = T.strip_optional(typ)
    out = []
    if isinstance(typ, T.Record):
        for key, sub in typ.fields:
            out.append(prefix + key)
            out += input_paths(sub, prefix + key + ".")
    return out


def not_a_value(problems: Problems, word: str, enum: T.Enum, span):
    """The mistake of a word that is not one of an enum's values."""
    return problems.error("unknown-value", f"'{word}' is not one of {enum.name or 'the values'}: "
                          f"{', '.join(enum.members)}", span, did_you_mean(word, enum.members))


def leaves(uses: set) -> tuple[str, ...]:
    """Drop `project` and `project.costs` when `project.costs.fee` is also used."""
    return tuple(sorted(u for u in uses if u != ELIGIBLE and not any(o.startswith(u + ".") for o in uses)))


class Reads:
    """What each definition being checked reads (a stack: a rule is typed inside whatever first used it),
    what the whole version uses, and which rules depend on `eligible`."""

    def __init__(self):
        self.stack: list[set] = []
        self.used: set[tuple[str, str]] = set()  # (kind, name) of each parameter, table and rule read
        self.eligible_users: set[str] = set()

    def begin(self) -> None:
        self.stack.append(set())

    def end(self) -> set:
        return self.stack.pop()

    def read(self, name: str) -> None:
        if self.stack:
            self.stack[-1].add(name)

    def use(self, kind: str, name: str) -> None:
        self.used.add((kind, name))


class RuleOrder:
    """The type of each rule, typed on demand by `type_rule` once; a rule asked for while it is being typed
    closes a circle."""

    def __init__(self, rules: dict, problems: Problems, type_rule: Callable[[str], object]):
        self.rules, self.problems, self.type_rule = rules, problems, type_rule
        self.types: dict[str, object] = {}
        self.visiting: list[str] = []

    def type_of(self, name: str):
        if name in self.types:
            return self.types[name]
        if name in self.visiting:
            return self._circle(name)
        self.visiting.append(name)
        typ = self.type_rule(name)
        self.visiting.pop()
        self.types[name] = typ
        return typ

    def _circle(self, name: str):
        chain = self.visiting[self.visiting.index(name):] + [name]
        steps = ", which uses ".join(chain[1:])
        circle = f"{chain[0]} uses itself" if len(chain) == 2 else f"{chain[0]} uses {steps}"
        return self.problems.error("cycle", f"rules depend on each other in a circle: {circle}",
                                   self.rules[name].span,
                                   "a rule cannot depend on its own value, directly or through other rules")


class Names:
    """The names a version offers, and the binding of every name and field resolved (`bindings`)."""

    def __init__(self, case_type: T.Record, parameters: dict[str, Parameter], tree: dict,
                 tables: dict[str, TableDef], rules: dict, problems: Problems, type_rule: Callable[[str], object],
                 prefixes: frozenset = frozenset()):
        self.case_type, self.parameters, self.tree, self.tables, self.rules = case_type, parameters, tree, tables, rules
        self.prefixes = prefixes  # the prefixes the scheme reads its modules' results under
        self.problems = problems
        self.bindings: dict[int, Binding] = {}
        self.reads = Reads()
        self.order = RuleOrder(rules, problems, type_rule)

    def bind(self, expr, binding: Binding) -> None:
        self.bindings[id(expr)] = binding

    def binding(self, expr) -> Binding | None:
        return self.bindings.get(id(expr))

    def knows(self, name: str, scope: Scope) -> bool:
        """Whether a bare name stands for something without a context (not an enum value)."""
        if scope.namespace:
            return name in scope.variables or name in self._local_names(scope.namespace)
        return (name in scope.variables or self.case_type.field(name) is not None or name in self.tree
                or name in self.tables or name in self.rules or name == ELIGIBLE or name in self.prefixes)

    def visible(self, scope: Scope) -> set[str]:
        if scope.namespace:
            return set(scope.variables) | self._local_names(scope.namespace)
        names = set(scope.variables) | {k for k, _ in self.case_type.fields} | set(self.tree)
        names |= {n for n in self.tables if "." not in n} | {n for n in self.rules if "." not in n} | set(self.prefixes)
        if scope.allow_eligible:
            names.add(ELIGIBLE)
        return names

    def _local_names(self, namespace: str) -> set[str]:
        """The names a module's expressions see: its own parameters (groups), tables, rules and inputs."""
        start = namespace + "."
        names = {n[len(start):] for n in self.rules if n.startswith(start)}
        names |= {n[len(start):] for n in self.tables if n.startswith(start)}
        node = self.tree.get(namespace)
        return names | (set(node) if isinstance(node, dict) else set())

    # -- a bare name ---------------------------------------------------
    def resolve(self, expr: nodes.Name, scope: Scope, expect):
        """Bind a name to what it stands for and give its type; `expect`, the type its context wants, reads a
        bare word as an enum value."""
        steps = (self._variable, self._local) if scope.namespace else \
            (self._variable, self._input, self._parameter, self._table, self._rule, self._eligible, self._prefix)
        for step in steps:
            typ = step(expr, scope)
            if typ is not None:
                return typ
        return self._enum_value(expr, scope, expect)

    def _local(self, expr: nodes.Name, scope: Scope):
        """Inside a module: one of its rules or inputs, tables or parameters, read under its prefix."""
        full = f"{scope.namespace}.{expr.name}"
        if full in self.rules:
            return self._bind_rule(expr, full)
        if full in self.tables:
            return self._bind_table(expr, full)
        node = self.tree.get(scope.namespace)
        if isinstance(node, dict) and expr.name in node:
            return self._parameter_entry(expr, full, node[expr.name])
        return None

    def _prefix(self, expr: nodes.Name, scope: Scope):
        """The prefix of a module the scheme imports, when the module has no parameters (else it is a group)."""
        if expr.name not in self.prefixes:
            return None
        self.bind(expr, ParameterGroupRef(expr.name))
        return T.Record(f"module {expr.name}", ())

    def _variable(self, expr: nodes.Name, scope: Scope):
        if expr.name not in scope.variables:
            return None
        self.bind(expr, LoopVariable(expr.name))
        return scope.variables[expr.name]

    def _input(self, expr: nodes.Name, scope: Scope):
        typ = self.case_type.field(expr.name)
        if typ is None:
            return None
        self.bind(expr, InputRef(expr.name))
        self.reads.read(expr.name)
        return typ

    def _parameter(self, expr: nodes.Name, scope: Scope):
        entry = self.tree.get(expr.name)
        return None if entry is None else self._parameter_entry(expr, expr.name, entry)

    def _parameter_entry(self, expr, dotted: str, entry):
        """A parameter, or a group of them (a tree), reached by the dotted name `dotted`."""
        if isinstance(entry, dict):
            self.bind(expr, ParameterGroupRef(dotted))
            return T.Record(f"parameters {dotted}", ())
        self.bind(expr, ParameterRef(entry))
        self.reads.read(entry)
        self.reads.use("parameter", entry)
        return self.parameters[entry].type

    def _table(self, expr: nodes.Name, scope: Scope):
        name = expr.name
        if name not in self.tables:
            return None
        return self._bind_table(expr, name)

    def _bind_table(self, expr, name: str):
        self.bind(expr, TableRef(name))
        self.reads.read(name)
        self.reads.use("table", name)
        return self.tables[name].type

    def _rule(self, expr: nodes.Name, scope: Scope):
        name = expr.name
        if name not in self.rules:
            return None
        return self._bind_rule(expr, name)

    def _bind_rule(self, expr, name: str):
        self.bind(expr, RuleRef(name))
        self.reads.read(name)
        self.reads.use("rule", name)
        typ = self.order.type_of(name)
        if name in self.reads.eligible_users:
            self.reads.read(ELIGIBLE)
        return typ

    def _eligible(self, expr: nodes.Name, scope: Scope):
        if expr.name != ELIGIBLE:
            return None
        if not scope.allow_eligible:
            return self.problems.error("cycle", f"{scope.context} cannot use 'eligible': eligibility is decided "
                                       "by the conditions, so this would be a circle", expr.span)
        self.bind(expr, EligibleRef())
        self.reads.read(ELIGIBLE)
        return T.BOOL

    def _enum_value(self, expr: nodes.Name, scope: Scope, expect):
        name = expr.name
        enum = T.strip_optional(expect) if expect is not None else None
        if isinstance(enum, T.List):
            enum = T.strip_optional(enum.item)
        if not isinstance(enum, T.Enum):
            return self.problems.error("unknown-name", f"unknown name '{name}'", expr.span,
                                       did_you_mean(name, self.visible(scope)))
        if name not in enum.members:
            return not_a_value(self.problems, name, enum, expr.span)
        self.bind(expr, EnumValue(name))
        return enum

    # -- a field -------------------------------------------------------
    def field(self, expr: nodes.Field, subject_type):
        """Bind `subject.name` and give its type: a parameter of a group, or a field of a record (the subject
        already typed, and known not to be null unless it is a group)."""
        group = self.binding(expr.subject)
        if isinstance(group, ParameterGroupRef):
            return self._parameter_of_group(expr, group.name)
        if not isinstance(subject_type, T.Record):
            return self.problems.error("type-field", f"{path(expr.subject) or 'this value'} is {subject_type}; "
                                       f"it has no field '{expr.name}'", expr.span)
        return self._record_field(expr, subject_type)

    def _parameter_of_group(self, expr: nodes.Field, group: str):
        node = self.tree
        for part in group.split("."):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        name = expr.name
        if name not in node and group.split(".")[0] in self.prefixes:  # name a module's rules in the hint too
            start = group + "."
            node = {**node, **{n[len(start):]: n for n in list(self.rules) + list(self.tables)
                               if n.startswith(start) and "." not in n[len(start):]}}
        if name not in node:
            close = did_you_mean(name, node)
            return self.problems.error("unknown-name", f"unknown {'name' if group.split('.')[0] in self.prefixes else 'parameter'} {group}.{name}", expr.span,
                                       close.replace("'", f"'{group}.", 1) if close else
                                       f"{group} has: {', '.join(f'{group}.{k}' for k in node)}")
        return self._parameter_entry(expr, f"{group}.{name}", node[name])

    def _record_field(self, expr: nodes.Field, record: T.Record):
        typ = record.field(expr.name)
        if typ is None:
            fields = [k for k, _ in record.fields]
            return self.problems.error("unknown-field", f"{path(expr.subject) or record} has no field "
                                       f"'{expr.name}'", expr.span,
                                       did_you_mean(expr.name, fields) or f"its fields: {', '.join(fields)}")
        self.bind(expr, RecordField(expr.name))
        dotted = path(expr)
        if dotted and isinstance(self.binding(root(expr)), InputRef):
            self.reads.read(dotted)
        return typ
