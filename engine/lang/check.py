"""Stage 3, resolve and check: `ParsedRuleSet` -> `CheckedRuleSet`, or diagnostics.

Every name is bound (case field, parameter, table, rule, loop variable or an
enum value read from its context) and every expression typed before any case
is evaluated; every operator, function and aggregate is typed by the table
of built-ins (builtins.py), which also words its mistakes. Bindings
(bindings.py), types and the overload each built-in applies live in side
tables keyed by node identity, so the tree itself is never changed. Rules
may refer to each other in any order; a circle is an error. Warnings flag
parameters, tables and rules that nothing uses.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from ..core import nodes
from ..core import typesys as T
from ..source.case import CaseModel
from ..core.diagnostics import Diagnostic
from .bindings import (Binding, EligibleRef, EnumValue, InputRef, LoopVariable, ParameterGroupRef, ParameterRef,
                       RecordField, RuleRef, TableRef)
from .builtins import AGGREGATES, FUNCTIONS, INFIX, PREFIX, Builtin, Mismatch, Overload, arity_problem, typing_of
from .parsed import ParsedDefinition, ParsedRuleSet, ParsedTable, Template
from ..source.source import RuleSource
from ..core.span import NO_SPAN, Span

ERROR = T.Scalar("error")  # the type of an expression already reported as wrong
_UNIT_WORDS = {T.PERCENT: ("a percentage", "{} %"), T.MONEY: ("an amount", "EUR {}"),
               T.DURATION: ("a duration", "{} days")}

ELIGIBLE = "eligible"


@dataclass(frozen=True)
class Parameter:
    name: str
    value: object
    type: object
    span: Span
    source: str
    label: dict
    changed_in: str
    text: str
    assumption: str | None = None


@dataclass(frozen=True)
class TableDef:
    name: str
    type: T.Table
    rows: dict  # key -> {column: value}
    key_prefix: bool
    source: str
    span: Span
    changed_in: str
    sample: str | None = None
    row_versions: dict = field(default_factory=dict)
    key: str | None = None  # the case field whose values are its keys, as written
    assumption: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Definition:
    """A rule, condition, note, input check or output, checked: expression, type, uses."""

    name: str
    kind: str  # rule, condition, note, input_check, output
    expr: nodes.Expr
    type: object
    span: Span
    source: str
    label: dict
    messages: dict[str, Template]
    changed_in: str
    text: str
    uses: tuple[str, ...]  # names of rules, parameters, case fields and tables it reads
    uses_eligible: bool = False
    path: str | None = None  # for input checks: the JSON path to report
    assumption: str | None = None


@dataclass(frozen=True)
class CheckedRuleSet:
    """A version proved sound: every name bound, every expression typed, an evaluation order."""

    source: RuleSource
    case_model: CaseModel
    parameters: dict[str, Parameter]
    tables: dict[str, TableDef]
    rules: dict[str, Definition]  # in an order where each rule follows what it uses
    conditions: dict[str, Definition]
    notes: dict[str, Definition]
    input_checks: dict[str, Definition]
    outputs: dict[str, Definition]
    types: dict[int, object] = field(repr=False)
    bindings: dict[int, Binding] = field(repr=False)
    warnings: tuple[Diagnostic, ...] = ()
    overloads: dict[int, Overload] = field(default_factory=dict, repr=False)  # of each operator, call, aggregate


@dataclass(frozen=True)
class _Scope:
    variables: dict
    narrowed: frozenset
    allow_eligible: bool
    context: str  # what is being checked, for messages


def _literal_type(kind: str):
    return {"money": T.MONEY, "percent": T.PERCENT, "duration": T.DURATION, "date": T.DATE,
            "decimal": T.DECIMAL, "int": T.INT, "string": T.STRING, "bool": T.BOOL, "null": T.NULL}[kind]


def _path(expr) -> str | None:
    """`project.costs.fee` for a chain of names, else None."""
    if isinstance(expr, nodes.Name):
        return expr.name
    if isinstance(expr, nodes.Field):
        inner = _path(expr.subject)
        return f"{inner}.{expr.name}" if inner else None
    return None


def _constant_value(expr):
    """The value of a constant expression (literal, list of literals, negated literal), or raise ValueError."""
    if isinstance(expr, nodes.Literal):
        if expr.kind == "date" and expr.value is None:
            raise ValueError(f"'{expr.text}' is not a real date")
        return expr.value, _literal_type(expr.kind)
    if isinstance(expr, nodes.Negate):
        value, typ = _constant_value(expr.operand)
        return -value, typ
    if isinstance(expr, nodes.ListOf):
        pairs = [_constant_value(item) for item in expr.items]
        item_type = pairs[0][1] if pairs else T.STRING
        for _, typ in pairs[1:]:
            unified = T.unify(item_type, typ)
            if unified is None:
                raise ValueError(f"a list mixes {item_type} and {typ}")
            item_type = unified
        return tuple(v for v, _ in pairs), T.List(item_type)
    raise ValueError("a parameter must be a constant such as EUR 100, 20 %, 10 days, 2024-01-01 or 100")


class _Checker:
    def __init__(self, parsed: ParsedRuleSet, case_model: CaseModel):
        self.parsed = parsed
        self.case = case_model
        self.problems: list[Diagnostic] = []
        self.types: dict[int, object] = {}
        self.bindings: dict[int, Binding] = {}
        self.overloads: dict[int, Overload] = {}
        self.parameters: dict[str, Parameter] = {}
        self.tables: dict[str, TableDef] = {}
        self.rule_defs: dict[str, Definition] = {}
        self.rule_types: dict[str, object] = {}
        self.visiting: list[str] = []
        self.uses: list[set] = []
        self.eligible_users: set[str] = set()
        self.used: set[str] = set()
        self.param_tree: dict = {}

    # -- diagnostics -------------------------------------------------
    def error(self, code: str, message: str, span: Span, hint: str | None = None):
        self.problems.append(Diagnostic(code, message, span, hint))
        return ERROR

    def suggest(self, name: str, candidates) -> str | None:
        close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
        return f"did you mean '{close[0]}'?" if close else None

    # -- parameters and tables ----------------------------------------
    def check_parameters(self):
        for name, parsed in self.parsed.parameters.items():
            if parsed.expr is None:
                continue
            try:
                value, typ = _constant_value(parsed.expr)
            except ValueError as error:
                self.error("parameter-value", f"parameter {name}: {error}", parsed.expr.span or parsed.span)
                continue
            self.parameters[name] = Parameter(name, value, typ, parsed.span, parsed.source, parsed.label,
                                              parsed.changed_in, parsed.text, parsed.assumption)
            node = self.param_tree
            parts = name.split(".")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    self.error("name-clash", f"parameter {name} is inside {part}, which is itself a parameter",
                               parsed.span)
                    break
            else:
                if parts[-1] in node and isinstance(node[parts[-1]], dict):
                    self.error("name-clash", f"parameter {name} is also a group of parameters", parsed.span)
                node[parts[-1]] = name

    def _input_type(self, path: str):
        typ = self.case.type
        for part in path.split("."):
            typ = T.strip_optional(typ)
            if not isinstance(typ, T.Record) or typ.field(part) is None:
                return None
            typ = typ.field(part)
        return T.strip_optional(typ)

    _LONGEST_TYPE = 200  # characters of a declared column type: `list of list of ...` is not read without end

    def check_tables(self):
        from ..source.load import building  # a large table makes many objects at once: see building()
        with building():
            self._check_tables()

    def _check_tables(self):
        for name, table in self.parsed.tables.items():
            key_type = T.STRING
            if table.key is not None:
                key_type = self._input_type(table.key)
                if key_type is None:
                    self.error("table-key", f"table {name}: key '{table.key}' is not a field of the case",
                               table.key_span, self.suggest(table.key, self._input_paths()))
                    key_type = T.STRING
            columns = {}
            for column in table.columns:
                declared = column.declared
                typ = T.parse_type(declared) if len(declared) <= self._LONGEST_TYPE else None
                if typ is None:
                    shown = declared if len(declared) <= 60 else declared[:57] + "..."
                    self.error("table-column", f"table {name}: column {column.name} has an unknown type '{shown}'",
                               column.span)
                    typ = ERROR
                columns[column.name] = typ
            signature = repr((name, tuple(columns.items())))  # one text for the whole table: cheap to look up
            memo = table.rows.checked  # the table as the version before had it, if unchanged
            known = memo.get((signature, key_type, table.key))
            if known is None:
                count = len(self.problems)
                rows, versions = self._rows(table, key_type, columns, signature)
                known = memo[(signature, key_type, table.key)] = (rows, versions, self.problems[count:])
            else:
                self.problems += known[2]
            rows, versions = known[0], known[1]
            row_type = T.Record(f"row of {name}", tuple(columns.items()))
            self.tables[name] = TableDef(name, T.Table(name, key_type, row_type), rows, table.key_prefix,
                                         table.source, table.span, table.changed_in, table.sample, versions,
                                         table.key, table.assumption, table.description)

    def _rows(self, table: ParsedTable, key_type, columns: dict, signature: str) -> tuple[dict, dict]:
        """A table's rows, each cell a value of its column's type, and the version that last changed each."""
        name = table.name
        members = frozenset(key_type.members) if isinstance(key_type, T.Enum) else None
        rows, versions = {}, {}
        for key, row in table.rows.items():
            if members is not None and key not in members:
                self.error("table-key", f"table {name}: '{key}' is not a value of {table.key}",
                           row.span, self.suggest(key, key_type.members) or
                           f"the values of {table.key} are listed in the case schema; add '{key}' there first")
            checked = row.checked.get(signature)  # a row kept by several versions is checked once
            if checked is None:
                checked = row.checked[signature] = self._row(name, key, row, columns)
            rows[key] = checked[0]
            self.problems += checked[1]
            versions[key] = row.changed_in
        return rows, versions

    def _row(self, name: str, key: str, row, columns: dict) -> tuple[dict, list[Diagnostic]]:
        """A row's cells as values of their column's type, and the problems found."""
        found: list[Diagnostic] = []
        cells = {}
        parsed_cells = row.cells
        for column, expr in parsed_cells.items():
            if column not in columns:
                at = row.column_spans.get(column)
                found.append(Diagnostic(
                    "table-column", f"table {name}, row {key}: unknown column '{column}'",
                    at if at is not None else row.span,
                    self.suggest(column, columns) or (f"columns: {', '.join(columns)}" if columns else
                                                      "declare it under columns:")))
                continue
            if expr is None:
                continue
            try:
                value, typ = _constant_value(expr)
            except ValueError as error:
                found.append(Diagnostic("table-value", f"table {name}, row {key}, column {column}: {error}", expr.span))
                continue
            expected = columns[column]
            if expected is not ERROR and typ != expected and T.unify(expected, typ) != expected:
                found.append(Diagnostic("table-value", f"table {name}, row {key}, column {column}: expected "
                                        f"{expected}, got {typ}", expr.span))
            cells[column] = value
        for column, typ in columns.items():
            if column not in cells and column not in parsed_cells and not isinstance(typ, T.Optional):
                found.append(Diagnostic("table-value", f"table {name}, row {key}: column {column} is missing",
                                        row.span))
            cells.setdefault(column, None)
        return cells, found

    def _input_paths(self, typ=None, prefix=""):
        typ = self.case.type if typ is None else T.strip_optional(typ)
        out = []
        if isinstance(typ, T.Record):
            for key, sub in typ.fields:
                out.append(prefix + key)
                out += self._input_paths(sub, prefix + key + ".")
        return out

    # -- names -----------------------------------------------------------
    def visible_names(self, scope: _Scope):
        names = set(scope.variables) | {k for k, _ in self.case.type.fields} | set(self.param_tree)
        names |= set(self.tables) | set(self.parsed.rules)
        if scope.allow_eligible:
            names.add(ELIGIBLE)
        return names

    def rule_type(self, name: str, span: Span):
        if name in self.rule_types:
            return self.rule_types[name]
        if name in self.visiting:
            chain = self.visiting[self.visiting.index(name):] + [name]
            steps = ", which uses ".join(chain[1:])
            circle = f"{chain[0]} uses itself" if len(chain) == 2 else f"{chain[0]} uses {steps}"
            parsed = self.parsed.rules[name]
            return self.error("cycle", f"rules depend on each other in a circle: {circle}", parsed.span,
                              "a rule cannot depend on its own value, directly or through other rules")
        self.check_rule(name)
        return self.rule_types.get(name, ERROR)

    def resolve_name(self, expr: nodes.Name, scope: _Scope, expect):
        name = expr.name
        uses = self.uses[-1] if self.uses else set()
        if name in scope.variables:
            self.bindings[id(expr)] = LoopVariable(name)
            return scope.variables[name]
        if self.case.type.field(name) is not None:
            self.bindings[id(expr)] = InputRef(name)
            uses.add(name)
            return self.case.type.field(name)
        if name in self.param_tree:
            entry = self.param_tree[name]
            if isinstance(entry, str):
                self.bindings[id(expr)] = ParameterRef(entry)
                uses.add(entry)
                self.used.add("parameter:" + entry)
                return self.parameters[entry].type
            self.bindings[id(expr)] = ParameterGroupRef(name)
            return T.Record(f"parameters {name}", ())
        if name in self.tables:
            self.bindings[id(expr)] = TableRef(name)
            uses.add(name)
            self.used.add("table:" + name)
            return self.tables[name].type
        if name in self.parsed.rules:
            self.bindings[id(expr)] = RuleRef(name)
            uses.add(name)
            self.used.add("rule:" + name)
            typ = self.rule_type(name, expr.span)
            if name in self.eligible_users:
                uses.add(ELIGIBLE)
            return typ
        if name == ELIGIBLE:
            if not scope.allow_eligible:
                return self.error("cycle", f"{scope.context} cannot use 'eligible': eligibility is decided by the "
                                  "conditions, so this would be a circle", expr.span)
            self.bindings[id(expr)] = EligibleRef()
            uses.add(ELIGIBLE)
            return T.BOOL
        enum = T.strip_optional(expect) if expect is not None else None
        if isinstance(enum, T.List):
            enum = T.strip_optional(enum.item)
        if isinstance(enum, T.Enum):
            if name in enum.members:
                self.bindings[id(expr)] = EnumValue(name)
                return enum
            where = enum.name or "the values"
            return self.error("unknown-value", f"'{name}' is not one of {where}: {', '.join(enum.members)}", expr.span,
                              self.suggest(name, enum.members))
        return self.error("unknown-name", f"unknown name '{name}'", expr.span,
                          self.suggest(name, self.visible_names(scope)))

    # -- expressions -------------------------------------------------------
    def typed(self, expr, typ):
        self.types[id(expr)] = typ
        return typ

    def check(self, expr, scope: _Scope, expect=None):
        return self.typed(expr, self._check(expr, scope, expect))

    def not_null(self, expr, typ, scope: _Scope, what: str):
        """Most operations need a value: a possibly-null one must be tested first."""
        if isinstance(typ, T.Optional):
            shown = _path(expr) or "this value"
            return self.error("maybe-null", f"{shown} may be null here, so it cannot be used in {what}", expr.span,
                              f"test it first: {shown} != null and ...")
        return typ

    def _is_unknown_bare_name(self, expr, scope):
        return (isinstance(expr, nodes.Name) and expr.name not in scope.variables
                and self.case.type.field(expr.name) is None and expr.name not in self.param_tree
                and expr.name not in self.tables and expr.name not in self.parsed.rules and expr.name != ELIGIBLE)

    def _check(self, expr, scope: _Scope, expect):
        match expr:
            case nodes.Literal(kind="date", value=None):
                return self.error("bad-date", f"'{expr.text}' is not a real date", expr.span)
            case nodes.Literal(kind=kind, value=value):
                if kind == "string" and isinstance(T.strip_optional(expect), T.Enum):
                    enum = T.strip_optional(expect)
                    if value not in enum.members:
                        return self.error("unknown-value", f"'{value}' is not one of {enum.name or 'the values'}: "
                                          f"{', '.join(enum.members)}", expr.span, self.suggest(value, enum.members))
                    return enum
                return _literal_type(kind)
            case nodes.Name():
                typ = self.resolve_name(expr, scope, expect)
                if isinstance(typ, T.Optional) and expr.name in scope.narrowed:
                    return typ.inner
                return typ
            case nodes.Field(subject=subject, name=name):
                return self.check_field(expr, subject, name, scope)
            case nodes.Index(subject=subject, key=key):
                table = self.check(subject, scope)
                if table is ERROR:
                    return ERROR
                if not isinstance(table, T.Table):
                    return self.error("type-lookup", f"only a table can be looked up with [...], not {table}",
                                      expr.span)
                key_type = self.check(key, scope, table.key)
                if key_type is not ERROR:
                    key_type = self.not_null(key, key_type, scope, "a table look-up")
                    if key_type is not ERROR and not T.same_kind(key_type, table.key):
                        self.error("type-key", f"table {table.name} is keyed by {table.key}, not {key_type}", key.span)
                return table.row
            case nodes.Negate(operand=operand):
                negate = PREFIX["-"]
                typ = self.check(operand, scope, expect if negate.expected else None)
                typ = self.not_null(operand, typ, scope, negate.in_words)
                if typ is ERROR:
                    return ERROR
                return self.apply(negate, expr, (operand,), (typ,))
            case nodes.Binary():
                return self.check_binary(expr, scope)
            case nodes.Compare():
                return self.check_compare(expr, scope)
            case nodes.Member(item=item, container=container):
                return self.check_member(expr, item, container, scope)
            case nodes.And(left=left, right=right):
                self.want_bool(left, scope)
                narrowed = scope.narrowed | self.facts(left, True)
                self.want_bool(right, _Scope(scope.variables, narrowed, scope.allow_eligible, scope.context))
                return self.apply(INFIX["and"], expr, (left, right), (T.BOOL, T.BOOL))
            case nodes.Or(left=left, right=right):
                self.want_bool(left, scope)
                narrowed = scope.narrowed | self.facts(left, False)
                self.want_bool(right, _Scope(scope.variables, narrowed, scope.allow_eligible, scope.context))
                return self.apply(INFIX["or"], expr, (left, right), (T.BOOL, T.BOOL))
            case nodes.Not(operand=operand):
                self.want_bool(operand, scope)
                return self.apply(PREFIX["not"], expr, (operand,), (T.BOOL,))
            case nodes.If(condition=condition, then=then, otherwise=otherwise):
                self.want_bool(condition, scope)
                yes = _Scope(scope.variables, scope.narrowed | self.facts(condition, True), scope.allow_eligible, scope.context)
                no = _Scope(scope.variables, scope.narrowed | self.facts(condition, False), scope.allow_eligible, scope.context)
                a = self.check(then, yes, expect)
                b = self.check(otherwise, no, expect if expect is not None else (a if isinstance(a, T.Enum) else None))
                if ERROR in (a, b):
                    return ERROR
                unified = T.unify(a, b)
                if unified is None:
                    bare = self.bare_number(then, a, b) or self.bare_number(otherwise, b, a)
                    if bare is not None:
                        return bare
                    return self.error("type-branches", f"the two branches differ: 'then' gives {a}, 'else' gives {b}",
                                      expr.span)
                return unified
            case nodes.Call():
                return self.check_call(expr, scope, expect)
            case nodes.Aggregate():
                return self.check_aggregate(expr, scope)
            case nodes.ListOf(items=items):
                item_expect = expect.item if isinstance(expect, T.List) else None
                item_type = None
                for item in items:
                    typ = self.check(item, scope, item_expect or (item_type if isinstance(item_type, T.Enum) else None))
                    if typ is ERROR:
                        return ERROR
                    unified = typ if item_type is None else T.unify(item_type, typ)
                    if unified is None:
                        return self.error("type-list", f"a list cannot mix {item_type} and {typ}", item.span)
                    item_type = unified
                return T.List(item_type or T.STRING)
        raise AssertionError(f"unhandled node {expr!r}")  # pragma: no cover

    def bare_number(self, expr, typ, meant):
        """A number written without its unit where a percent, an amount or a duration is meant -> the fix."""
        if typ not in (T.INT, T.DECIMAL) or T.strip_optional(meant) not in _UNIT_WORDS:
            return None
        meant = T.strip_optional(meant)
        text, span, what = None, expr.span, "this number"
        if isinstance(expr, nodes.Literal):
            text = expr.text
        binding = self.bindings.get(id(expr))
        if isinstance(binding, ParameterRef):
            parameter = self.parameters[binding.name]
            written = self.parsed.parameters[parameter.name].expr
            text, what = parameter.text, f"parameter {parameter.name}"
            span = written.span if written is not None and written.span else parameter.span
        if text is None:
            return None
        words, form = _UNIT_WORDS[meant]
        return self.error("type-unit", f"{what} is the bare number {text}, where {words} is meant",
                          span, f"write {form.format(text)}")

    def want_bool(self, expr, scope):
        typ = self.check(expr, scope, T.BOOL)
        if typ is not ERROR and typ != T.BOOL:
            hint = "test it first: ... != null and ..." if typ == T.Optional(T.BOOL) else None
            self.error("type-condition", f"expected true or false here, got {typ}", expr.span, hint)

    def facts(self, expr, positive: bool) -> frozenset:
        """Paths known not to be null when `expr` is true (positive) or false."""
        match expr:
            case nodes.Compare(op=op, left=left, right=right) if isinstance(right, nodes.Literal) and right.kind == "null":
                path = _path(left)
                if path and ((op == "!=" and positive) or (op == "==" and not positive)):
                    return frozenset({path})
            case nodes.Member(item=item, negated=negated) if positive != negated:
                path = _path(item)
                return frozenset({path}) if path else frozenset()
            case nodes.And(left=left, right=right) if positive:
                return self.facts(left, True) | self.facts(right, True)
            case nodes.Or(left=left, right=right) if not positive:
                return self.facts(left, False) | self.facts(right, False)
            case nodes.Not(operand=operand):
                return self.facts(operand, not positive)
        return frozenset()

    def check_field(self, expr, subject, name, scope):
        subject_type = self.check(subject, scope)
        if subject_type is ERROR:
            return ERROR
        binding = self.bindings.get(id(subject))
        if isinstance(binding, ParameterGroupRef):
            group = binding.name
            node = self.param_tree
            for part in group.split("."):
                node = node[part]
            if name not in node:
                close = self.suggest(name, node)
                return self.error("unknown-name", f"unknown parameter {group}.{name}", expr.span,
                                  close.replace("'", f"'{group}.", 1) if close else
                                  f"{group} has: {', '.join(f'{group}.{k}' for k in node)}")
            entry = node[name]
            if isinstance(entry, dict):
                self.bindings[id(expr)] = ParameterGroupRef(f"{group}.{name}")
                return T.Record(f"parameters {group}.{name}", ())
            self.bindings[id(expr)] = ParameterRef(entry)
            if self.uses:
                self.uses[-1].add(entry)
            self.used.add("parameter:" + entry)
            return self.parameters[entry].type
        path = _path(expr)
        if isinstance(subject_type, T.Optional) and _path(subject) in scope.narrowed:
            subject_type = subject_type.inner
        subject_type = self.not_null(subject, subject_type, scope, "a field access")
        if subject_type is ERROR:
            return ERROR
        if not isinstance(subject_type, T.Record):
            return self.error("type-field",
                              f"{_path(subject) or 'this value'} is {subject_type}; it has no field '{name}'", expr.span)
        typ = subject_type.field(name)
        if typ is None:
            fields = [k for k, _ in subject_type.fields]
            return self.error("unknown-field", f"{_path(subject) or subject_type} has no field '{name}'", expr.span,
                              self.suggest(name, fields) or f"its fields: {', '.join(fields)}")
        self.bindings[id(expr)] = RecordField(name)
        if path and isinstance(self.bindings.get(id(_root(expr))), InputRef) and self.uses:
            self.uses[-1].add(path)
        if isinstance(typ, T.Optional) and path in scope.narrowed:
            return typ.inner
        return typ

    def apply(self, builtin: Builtin, expr, args, types, span: Span | None = None):
        """The type a built-in gives for checked arguments (its overload kept for the run), or the mistake."""
        try:
            result, overload = typing_of(builtin, types)
        except Mismatch as mismatch:
            where = args[mismatch.argument].span if mismatch.argument is not None else (span or expr.span)
            return self.error(builtin.mistake, mismatch.message, where, mismatch.hint)
        self.overloads[id(expr)] = overload
        return result

    def check_binary(self, expr, scope):
        operator = INFIX[expr.op]
        left = self.check(expr.left, scope)
        right = self.check(expr.right, scope)
        if ERROR in (left, right):
            return ERROR
        left = self.not_null(expr.left, left, scope, operator.in_words)
        right = self.not_null(expr.right, right, scope, operator.in_words)
        if ERROR in (left, right):
            return ERROR
        try:
            result, overload = typing_of(operator, (left, right))
        except Mismatch as mismatch:
            if expr.op in "+-" and T.PERCENT in (left, right):  # 30 % + 5: a unit left out, said as such
                bare = self.bare_number(expr.right, right, left) or self.bare_number(expr.left, left, right)
                if bare is not None:
                    return bare
            return self.error(operator.mistake, mismatch.message, expr.span, mismatch.hint)
        self.overloads[id(expr)] = overload
        return result

    def check_compare(self, expr, scope):
        first, second = expr.left, expr.right
        if self._is_unknown_bare_name(first, scope) and not self._is_unknown_bare_name(second, scope):
            right = self.check(second, scope)
            left = self.check(first, scope, right)
        else:
            left = self.check(first, scope)
            right = self.check(second, scope, left)
        if ERROR in (left, right):
            return T.BOOL
        operator = INFIX[expr.op]
        if not operator.nullable:
            left = self.not_null(first, left, scope, operator.in_words)
            right = self.not_null(second, right, scope, operator.in_words)
            if ERROR in (left, right):
                return T.BOOL
        self.apply(operator, expr, (first, second), (left, right))
        return T.BOOL

    def check_member(self, expr, item, container, scope):
        item_type = self.check(item, scope)
        if item_type is ERROR:
            self.check(container, scope)
            return T.BOOL
        container_type = self.check(container, scope, T.List(item_type))
        if container_type is ERROR:
            return T.BOOL
        self.apply(INFIX["not in" if expr.negated else "in"], expr, (item, container), (item_type, container_type))
        return T.BOOL

    def check_call(self, expr, scope, expect):
        name, args = expr.function, expr.args
        if name in AGGREGATES:
            return self.error("syntax", f"{name}(...) needs 'for': {name}(x.amount for x in some_list)", expr.span)
        function = FUNCTIONS.get(name)
        if function is None:
            return self.error("unknown-function", f"unknown function '{name}'", expr.span,
                              self.suggest(name, [*FUNCTIONS, *AGGREGATES]) or f"functions: {', '.join(FUNCTIONS)}")
        types = [self.check(arg, scope, expect if function.expected else None) for arg in args]
        if ERROR in types:
            return ERROR
        problem = arity_problem(function, len(args))
        if problem is not None:
            return self.error("arity", problem, expr.span)
        if not function.nullable:
            types = [self.not_null(a, t, scope, function.in_words) for a, t in zip(args, types)]
            if ERROR in types:
                return ERROR
        return self.apply(function, expr, args, types)

    def check_aggregate(self, expr, scope):
        aggregate = AGGREGATES.get(expr.function)
        if aggregate is None:
            return self.error("unknown-function", f"'{expr.function}(... for ...)' is not an aggregate", expr.span,
                              f"aggregates: {', '.join(AGGREGATES)}")
        source = self.check(expr.source, scope)
        if source is ERROR:
            return ERROR
        source = self.not_null(expr.source, source, scope, "an aggregate")
        if isinstance(source, T.Table):
            source = T.List(source.key)
        if not isinstance(source, T.List):
            return self.error("type-loop",
                              f"{expr.function}(... for {expr.variable} in ...) needs a list, not {source}",
                              expr.source.span)
        inner = _Scope({**scope.variables, expr.variable: source.item}, scope.narrowed, scope.allow_eligible, scope.context)
        if expr.filter is not None:
            self.want_bool(expr.filter, _Scope(inner.variables, inner.narrowed, inner.allow_eligible, inner.context))
            inner = _Scope(inner.variables, inner.narrowed | self.facts(expr.filter, True), inner.allow_eligible,
                           inner.context)
        if aggregate.takes_conditions:
            self.want_bool(expr.body, inner)
            body = T.BOOL
        else:
            body = self.not_null(expr.body, self.check(expr.body, inner), inner, aggregate.in_words)
            if body is ERROR:
                return ERROR
        return self.apply(aggregate, expr, (expr.body,), (body,), expr.body.span)

    # -- definitions -------------------------------------------------------
    def _meta(self, parsed: ParsedDefinition):
        return parsed.source, parsed.label, parsed.assumption

    def check_templates(self, parsed: ParsedDefinition, scope: _Scope):
        for template in parsed.messages.values():
            for part in template.parts:
                if not isinstance(part, str):
                    typ = self.check(part, scope)
                    if isinstance(typ, T.Table) or (isinstance(typ, T.Record)):
                        self.error("type-message", f"a message can show values, not {typ}", part.span)

    def check_rule(self, name: str):
        parsed = self.parsed.rules[name]
        if parsed.expr is None:
            self.rule_types[name] = ERROR
            return
        declared = None
        if parsed.declared_type is not None:
            declared = T.parse_type(parsed.declared_type)
            if declared is None:
                self.error("type", f"rule {name}: unknown type '{parsed.declared_type}'", parsed.type_span,
                           "types: bool, int, decimal, money, percent, date, duration, string, enum(a, b), "
                           "list of T, T or null")
        self.visiting.append(name)
        self.uses.append(set())
        scope = _Scope({}, frozenset(), True, f"rule {name}")
        typ = self.check(parsed.expr, scope, declared)
        uses = self.uses.pop()
        self.visiting.pop()
        if declared is not None and typ is not ERROR:
            if self.bare_number(parsed.expr, typ, declared) is not None:
                pass
            elif T.unify(declared, typ) != declared:
                self.error("type-declared", f"rule {name} is declared {declared} but its value is {typ}",
                           parsed.expr.span)
            typ = declared
        self.rule_types[name] = typ
        if ELIGIBLE in uses:
            self.eligible_users.add(name)
        source, label, assumption = self._meta(parsed)
        self.rule_defs[name] = Definition(name, "rule", parsed.expr, typ, parsed.span, source, label, {},
                                          parsed.changed_in, parsed.text, _leaves(uses), ELIGIBLE in uses,
                                          assumption=assumption)

    def check_definition(self, kind: str, parsed: ParsedDefinition, allow_eligible: bool,
                         want_bool: bool) -> Definition | None:
        name = parsed.name
        if parsed.expr is None:
            return None
        self.uses.append(set())
        scope = _Scope({}, frozenset(), allow_eligible, f"{kind.replace('_', ' ')} {name}")
        if want_bool:
            self.want_bool(parsed.expr, scope)
            typ = T.BOOL
        else:
            typ = self.check(parsed.expr, scope)
        narrowed = self.facts(parsed.expr, True) if kind in ("condition", "note", "input_check") else frozenset()
        self.check_templates(parsed, _Scope({}, narrowed, True, scope.context))
        uses = self.uses.pop()
        if not allow_eligible and ELIGIBLE in uses:
            users = sorted(u for u in uses if u in self.eligible_users)
            self.error("cycle", f"{kind.replace('_', ' ')} {name} uses {', '.join(users) or 'eligible'}, which "
                       "depends on whether the case is eligible: a circle", parsed.expr.span)
        source, label, assumption = self._meta(parsed)
        return Definition(name, kind, parsed.expr, typ, parsed.span, source, label, parsed.messages,
                          parsed.changed_in, parsed.text, _leaves(uses), ELIGIBLE in uses,
                          path=parsed.path, assumption=assumption)

    def run(self) -> CheckedRuleSet | None:
        source = self.parsed.source
        self.check_parameters()
        self.check_tables()
        for clash in set(self.param_tree) & (set(self.tables) | set(self.parsed.rules) | {k for k, _ in self.case.type.fields}):
            self.error("name-clash", f"'{clash}' names both a parameter group and another thing; rename one",
                       self.parsed.parameters[next(n for n in self.parameters if n.split(".")[0] == clash)].span)
        for clash in set(self.tables) & (set(self.parsed.rules) | {k for k, _ in self.case.type.fields}):
            self.error("name-clash", f"'{clash}' names both a table and a rule or case field; rename one",
                       source.tables[clash].span)
        for clash in set(self.parsed.rules) & {k for k, _ in self.case.type.fields}:
            self.error("name-clash", f"the rule '{clash}' has the name of a case field; rename it",
                       source.rules[clash].span)
        for name in self.parsed.rules:
            self.rule_type(name, NO_SPAN)
        checks = {n: self.check_definition("input_check", p, False, True) for n, p in self.parsed.input_checks.items()}
        for name, check in checks.items():
            if check is not None and any(u in self.rule_defs for u in check.uses):
                self.error("input-check", f"input check {name} may only read the case, parameters and tables, not rules",
                           check.span)
        conditions = {n: self.check_definition("condition", p, False, True) for n, p in self.parsed.conditions.items()}
        notes = {n: self.check_definition("note", p, True, True) for n, p in self.parsed.notes.items()}
        outputs = {n: self.check_definition("output", p, True, False) for n, p in self.parsed.outputs.items()}
        warnings = self.unused()
        if any(d.severity == "error" for d in self.problems):
            return None
        return CheckedRuleSet(source, self.case, self.parameters, self.tables, dict(self.rule_defs),
                              {k: v for k, v in conditions.items() if v}, {k: v for k, v in notes.items() if v},
                              {k: v for k, v in checks.items() if v}, {k: v for k, v in outputs.items() if v},
                              self.types, self.bindings, tuple(warnings), self.overloads)

    def unused(self) -> list[Diagnostic]:
        found = []
        for name, parameter in self.parameters.items():
            if "parameter:" + name not in self.used:
                found.append(Diagnostic("unused-parameter", f"parameter {name} is not used by any rule", parameter.span,
                                        severity="warning"))
        for name, table in self.tables.items():
            if "table:" + name not in self.used:
                found.append(Diagnostic("unused-table", f"table {name} is not used by any rule", table.span,
                                        severity="warning"))
        for name in self.parsed.rules:
            if "rule:" + name not in self.used:
                found.append(Diagnostic("unused-rule", f"rule {name} is not used by any condition, note, output or rule",
                                        self.parsed.rules[name].span, severity="warning"))
        return found


def _leaves(uses: set) -> tuple[str, ...]:
    """Drop `project` and `project.costs` when `project.costs.fee` is also used."""
    return tuple(sorted(u for u in uses if u != ELIGIBLE and not any(o.startswith(u + ".") for o in uses)))


def _root(expr):
    while isinstance(expr, nodes.Field):
        expr = expr.subject
    return expr


def check_ruleset(parsed: ParsedRuleSet, case_model: CaseModel) -> tuple[CheckedRuleSet | None, list[Diagnostic]]:
    """ParsedRuleSet -> CheckedRuleSet, with every problem found (warnings included)."""
    checker = _Checker(parsed, case_model)
    checked = checker.run()
    warnings = list(checked.warnings) if checked else [d for d in checker.unused()]
    errors = [d for d in checker.problems if d.severity == "error"]
    return checked, errors + (warnings if checked else [])
