"""Stage 3, resolve and check: `ParsedRuleSet` -> `CheckedRuleSet`, or diagnostics.

Every name is bound (resolve.py) and every expression typed before any case
is evaluated. Typing goes node by node, one small method per kind of node;
every operator, function and aggregate is typed by the table of built-ins
(builtins.py), which also words its mistakes. Bindings, types and the
overload each built-in applies live in side tables keyed by node identity,
so the tree itself is never changed. The constants come first
(constants.py), the checks of the version as a whole last (checks.py); a
value that may be null must be tested first (narrow.py).
"""
from __future__ import annotations

from ..core import nodes
from ..core import typesys as T
from ..core.diagnostics import Diagnostic
from ..core.suggest import did_you_mean
from ..source.case import CaseModel
from .bindings import ParameterGroupRef, ParameterRef
from .builtins import AGGREGATES, FUNCTIONS, INFIX, PREFIX, Builtin, Mismatch, Overload, arity_problem, typing_of
from .checked import ERROR, CheckedRuleSet, Definition, Parameter, Problems, TableDef
from .checks import clashes, input_checks_read_no_rule, unused
from .constants import check_parameters, check_tables, literal_type
from .narrow import facts, narrowed, not_null
from .parsed import ParsedDefinition, ParsedRuleSet
from .resolve import ELIGIBLE, Names, Scope, leaves, not_a_value

__all__ = ["CheckedRuleSet", "Definition", "ERROR", "Parameter", "TableDef", "check_ruleset"]

_UNIT_WORDS = {T.PERCENT: ("a percentage", "{} %"), T.MONEY: ("an amount", "EUR {}"),
               T.DURATION: ("a duration", "{} days")}
_NARROWED_BY_ITSELF = ("condition", "note", "input_check")  # its messages are shown when it is true


class _Typer:
    """The type of each expression, kept in `types`; of each built-in applied, its overload in `overloads`."""

    def __init__(self, names: Names, parameters: dict, problems: Problems):
        self.names, self.written_parameters, self.problems = names, parameters, problems
        self.types: dict[int, object] = {}
        self.overloads: dict[int, Overload] = {}

    def check(self, expr, scope: Scope, expect=None):
        """The type of `expr`; `expect`, the type its context wants, lets a bare word be an enum value."""
        rule = self._RULES.get(type(expr))
        if rule is None:  # pragma: no cover
            raise AssertionError(f"unhandled node {expr!r}")
        typ = self.types[id(expr)] = rule(self, expr, scope, expect)
        return typ

    def not_null(self, expr, typ, what: str):
        return not_null(self.problems, expr, typ, what)

    def want_bool(self, expr, scope: Scope) -> None:
        typ = self.check(expr, scope, T.BOOL)
        if typ is not ERROR and typ != T.BOOL:
            hint = "test it first: ... != null and ..." if typ == T.Optional(T.BOOL) else None
            self.problems.error("type-condition", f"expected true or false here, got {typ}", expr.span, hint)

    def apply(self, builtin: Builtin, expr, args, types, span=None):
        """The type a built-in gives for checked arguments (its overload kept for the run), or the mistake."""
        try:
            result, overload = typing_of(builtin, types)
        except Mismatch as mismatch:
            where = args[mismatch.argument].span if mismatch.argument is not None else (span or expr.span)
            return self.problems.error(builtin.mistake, mismatch.message, where, mismatch.hint)
        self.overloads[id(expr)] = overload
        return result

    def bare_number(self, expr, typ, meant):
        """A number written without its unit where a percent, an amount or a duration is meant -> the fix."""
        if typ not in (T.INT, T.DECIMAL) or T.strip_optional(meant) not in _UNIT_WORDS:
            return None
        text, span, what = None, expr.span, "this number"
        if isinstance(expr, nodes.Literal):
            text = expr.text
        binding = self.names.binding(expr)
        if isinstance(binding, ParameterRef):
            parameter = self.names.parameters[binding.name]
            written = self.written_parameters[parameter.name].expr
            text, what = parameter.text, f"parameter {parameter.name}"
            span = written.span if written is not None and written.span else parameter.span
        if text is None:
            return None
        words, form = _UNIT_WORDS[T.strip_optional(meant)]
        return self.problems.error("type-unit", f"{what} is the bare number {text}, where {words} is meant",
                                   span, f"write {form.format(text)}")

    # -- one method per kind of node ----------------------------------------
    def _literal(self, expr: nodes.Literal, scope: Scope, expect):
        if expr.kind == "date" and expr.value is None:
            return self.problems.error("bad-date", f"'{expr.text}' is not a real date", expr.span)
        enum = T.strip_optional(expect)
        if expr.kind == "string" and isinstance(enum, T.Enum):
            return enum if expr.value in enum.members else not_a_value(self.problems, expr.value, enum, expr.span)
        return literal_type(expr.kind)

    def _name(self, expr: nodes.Name, scope: Scope, expect):
        return narrowed(expr, self.names.resolve(expr, scope, expect), scope)

    def _field(self, expr: nodes.Field, scope: Scope, expect):
        subject = self.check(expr.subject, scope)
        if subject is ERROR:
            return ERROR
        if not isinstance(self.names.binding(expr.subject), ParameterGroupRef):
            subject = self.not_null(expr.subject, narrowed(expr.subject, subject, scope), "a field access")
            if subject is ERROR:
                return ERROR
        return narrowed(expr, self.names.field(expr, subject), scope)

    def _index(self, expr: nodes.Index, scope: Scope, expect):
        table = self.check(expr.subject, scope)
        if table is ERROR:
            return ERROR
        if not isinstance(table, T.Table):
            return self.problems.error("type-lookup", f"only a table can be looked up with [...], not {table}",
                                       expr.span)
        key_type = self.check(expr.key, scope, table.key)
        if key_type is not ERROR:
            key_type = self.not_null(expr.key, key_type, "a table look-up")
            if key_type is not ERROR and not T.same_kind(key_type, table.key):
                self.problems.error("type-key", f"table {table.name} is keyed by {table.key}, not {key_type}",
                                    expr.key.span)
        return table.row

    def _negate(self, expr: nodes.Negate, scope: Scope, expect):
        negate = PREFIX["-"]
        typ = self.check(expr.operand, scope, expect if negate.expected else None)
        typ = self.not_null(expr.operand, typ, negate.in_words)
        if typ is ERROR:
            return ERROR
        return self.apply(negate, expr, (expr.operand,), (typ,))

    def _binary(self, expr: nodes.Binary, scope: Scope, expect):
        operator = INFIX[expr.op]
        left = self.check(expr.left, scope)
        right = self.check(expr.right, scope)
        if ERROR in (left, right):
            return ERROR
        left = self.not_null(expr.left, left, operator.in_words)
        right = self.not_null(expr.right, right, operator.in_words)
        if ERROR in (left, right):
            return ERROR
        try:
            result, overload = typing_of(operator, (left, right))
        except Mismatch as mismatch:
            if expr.op in "+-" and T.PERCENT in (left, right):  # 30 % + 5: a unit left out, said as such
                bare = self.bare_number(expr.right, right, left) or self.bare_number(expr.left, left, right)
                if bare is not None:
                    return bare
            return self.problems.error(operator.mistake, mismatch.message, expr.span, mismatch.hint)
        self.overloads[id(expr)] = overload
        return result

    def _compare(self, expr: nodes.Compare, scope: Scope, expect):
        first, second = expr.left, expr.right
        if self._unknown_bare_name(first, scope) and not self._unknown_bare_name(second, scope):
            right = self.check(second, scope)  # `training == activity`: the enum comes from the right
            left = self.check(first, scope, right)
        else:
            left = self.check(first, scope)
            right = self.check(second, scope, left)
        if ERROR in (left, right):
            return T.BOOL
        operator = INFIX[expr.op]
        if not operator.nullable:
            left = self.not_null(first, left, operator.in_words)
            right = self.not_null(second, right, operator.in_words)
            if ERROR in (left, right):
                return T.BOOL
        self.apply(operator, expr, (first, second), (left, right))
        return T.BOOL

    def _unknown_bare_name(self, expr, scope: Scope) -> bool:
        return isinstance(expr, nodes.Name) and not self.names.knows(expr.name, scope)

    def _member(self, expr: nodes.Member, scope: Scope, expect):
        item, container = expr.item, expr.container
        item_type = self.check(item, scope)
        if item_type is ERROR:
            self.check(container, scope)
            return T.BOOL
        container_type = self.check(container, scope, T.List(item_type))
        if container_type is ERROR:
            return T.BOOL
        self.apply(INFIX["not in" if expr.negated else "in"], expr, (item, container), (item_type, container_type))
        return T.BOOL

    def _and(self, expr: nodes.And, scope: Scope, expect):
        return self._logical(expr, scope, "and", True)

    def _or(self, expr: nodes.Or, scope: Scope, expect):
        return self._logical(expr, scope, "or", False)

    def _logical(self, expr, scope: Scope, op: str, left_is: bool):
        """`and` reads its right when the left is true, `or` when it is false: narrowed accordingly."""
        self.want_bool(expr.left, scope)
        self.want_bool(expr.right, scope.knowing(facts(expr.left, left_is)))
        return self.apply(INFIX[op], expr, (expr.left, expr.right), (T.BOOL, T.BOOL))

    def _not(self, expr: nodes.Not, scope: Scope, expect):
        self.want_bool(expr.operand, scope)
        return self.apply(PREFIX["not"], expr, (expr.operand,), (T.BOOL,))

    def _if(self, expr: nodes.If, scope: Scope, expect):
        condition, then, otherwise = expr.condition, expr.then, expr.otherwise
        self.want_bool(condition, scope)
        a = self.check(then, scope.knowing(facts(condition, True)), expect)
        b = self.check(otherwise, scope.knowing(facts(condition, False)),
                       expect if expect is not None else (a if isinstance(a, T.Enum) else None))
        if ERROR in (a, b):
            return ERROR
        unified = T.unify(a, b)
        if unified is not None:
            return unified
        bare = self.bare_number(then, a, b) or self.bare_number(otherwise, b, a)
        if bare is not None:
            return bare
        return self.problems.error("type-branches", f"the two branches differ: 'then' gives {a}, 'else' gives {b}",
                                   expr.span)

    def _call(self, expr: nodes.Call, scope: Scope, expect):
        name, args = expr.function, expr.args
        if name in AGGREGATES:
            return self.problems.error("syntax", f"{name}(...) needs 'for': {name}(x.amount for x in some_list)",
                                       expr.span)
        function = FUNCTIONS.get(name)
        if function is None:
            return self.problems.error("unknown-function", f"unknown function '{name}'", expr.span,
                                       did_you_mean(name, [*FUNCTIONS, *AGGREGATES]) or
                                       f"functions: {', '.join(FUNCTIONS)}")
        types = [self.check(arg, scope, expect if function.expected else None) for arg in args]
        if ERROR in types:
            return ERROR
        problem = arity_problem(function, len(args))
        if problem is not None:
            return self.problems.error("arity", problem, expr.span)
        if not function.nullable:
            types = [self.not_null(a, t, function.in_words) for a, t in zip(args, types)]
            if ERROR in types:
                return ERROR
        return self.apply(function, expr, args, types)

    def _aggregate(self, expr: nodes.Aggregate, scope: Scope, expect):
        aggregate = AGGREGATES.get(expr.function)
        if aggregate is None:
            return self.problems.error("unknown-function", f"'{expr.function}(... for ...)' is not an aggregate",
                                       expr.span, f"aggregates: {', '.join(AGGREGATES)}")
        inner = self._loop(expr, scope)
        if inner is None:
            return ERROR
        if aggregate.takes_conditions:
            self.want_bool(expr.body, inner)
            body = T.BOOL
        else:
            body = self.not_null(expr.body, self.check(expr.body, inner), aggregate.in_words)
            if body is ERROR:
                return ERROR
        return self.apply(aggregate, expr, (expr.body,), (body,), expr.body.span)

    def _loop(self, expr: nodes.Aggregate, scope: Scope) -> Scope | None:
        """The scope of an aggregate's body: its variable bound to each item, narrowed by its filter."""
        source = self.check(expr.source, scope)
        if source is ERROR:
            return None
        source = self.not_null(expr.source, source, "an aggregate")
        if isinstance(source, T.Table):
            source = T.List(source.key)
        if not isinstance(source, T.List):
            self.problems.error("type-loop", f"{expr.function}(... for {expr.variable} in ...) needs a list, "
                                f"not {source}", expr.source.span)
            return None
        inner = scope.with_variable(expr.variable, source.item)
        if expr.filter is None:
            return inner
        self.want_bool(expr.filter, inner)
        return inner.knowing(facts(expr.filter, True))

    def _list(self, expr: nodes.ListOf, scope: Scope, expect):
        item_expect = expect.item if isinstance(expect, T.List) else None
        item_type = None
        for item in expr.items:
            typ = self.check(item, scope, item_expect or (item_type if isinstance(item_type, T.Enum) else None))
            if typ is ERROR:
                return ERROR
            unified = typ if item_type is None else T.unify(item_type, typ)
            if unified is None:
                return self.problems.error("type-list", f"a list cannot mix {item_type} and {typ}", item.span)
            item_type = unified
        return T.List(item_type or T.STRING)

    _RULES = {nodes.Literal: _literal, nodes.Name: _name, nodes.Field: _field, nodes.Index: _index,
              nodes.Negate: _negate, nodes.Binary: _binary, nodes.Compare: _compare, nodes.Member: _member,
              nodes.And: _and, nodes.Or: _or, nodes.Not: _not, nodes.If: _if, nodes.Call: _call,
              nodes.Aggregate: _aggregate, nodes.ListOf: _list}


class _Checker:
    """One version's definitions, checked: rules in an order where each follows what it uses, then the input
    checks, conditions, notes and outputs."""

    def __init__(self, parsed: ParsedRuleSet, case_model: CaseModel):
        self.parsed, self.case = parsed, case_model
        self.problems = Problems()
        self.parameters, tree = check_parameters(parsed.parameters, self.problems)
        self.tables = check_tables(parsed.tables, case_model.type, self.problems)
        clashes(parsed, case_model.type, self.parameters, tree, self.tables, self.problems)
        self.names = Names(case_model.type, self.parameters, tree, self.tables, parsed.rules, self.problems,
                           self._rule, frozenset(parsed.source.imports))
        self.reads = self.names.reads
        self.typer = _Typer(self.names, parsed.parameters, self.problems)
        self.rules: dict[str, Definition] = {}

    def _declared(self, name: str, parsed: ParsedDefinition):
        if parsed.declared_type is None:
            return None
        declared = T.parse_type(parsed.declared_type)
        if declared is None:
            self.problems.error("type", f"rule {name}: unknown type '{parsed.declared_type}'", parsed.type_span,
                                "types: bool, int, decimal, money, percent, date, duration, string, enum(a, b), "
                                "list of T, T or null")
        return declared

    def _as_declared(self, name: str, parsed: ParsedDefinition, typ, declared):
        if declared is None or typ is ERROR:
            return typ
        if self.typer.bare_number(parsed.expr, typ, declared) is None and T.unify(declared, typ) != declared \
                and not T.conforms(typ, declared):
            self.problems.error("type-declared", f"rule {name} is declared {declared} but its value is {typ}",
                                parsed.expr.span)
        return declared

    def _rule(self, name: str):
        """Type a rule (called by the rule order, once each) and keep its definition."""
        parsed = self.parsed.rules[name]
        if parsed.expr is None:
            return ERROR
        declared = self._declared(name, parsed)
        self.reads.begin()
        typ = self.typer.check(parsed.expr, Scope({}, frozenset(), True, f"rule {name}", parsed.namespace), declared)
        uses = self.reads.end()
        typ = self._as_declared(name, parsed, typ, declared)
        if ELIGIBLE in uses:
            self.reads.eligible_users.add(name)
        self.rules[name] = Definition(name, "rule", parsed.expr, typ, parsed.span, parsed.source, parsed.label, {},
                                      parsed.changed_in, parsed.text, leaves(uses), ELIGIBLE in uses,
                                      assumption=parsed.assumption)
        return typ

    def _templates(self, parsed: ParsedDefinition, scope: Scope) -> None:
        for template in parsed.messages.values():
            for part in template.parts:
                if not isinstance(part, str):
                    typ = self.typer.check(part, scope)
                    if isinstance(typ, (T.Table, T.Record)):
                        self.problems.error("type-message", f"a message can show values, not {typ}", part.span)

    def _definition(self, kind: str, parsed: ParsedDefinition, allow_eligible: bool,
                    want_bool: bool) -> Definition | None:
        if parsed.expr is None:
            return None
        self.reads.begin()
        scope = Scope({}, frozenset(), allow_eligible and not parsed.namespace, f"{kind.replace('_', ' ')} {parsed.name}",
                      parsed.namespace)
        if want_bool:
            self.typer.want_bool(parsed.expr, scope)
            typ = T.BOOL
        else:
            typ = self.typer.check(parsed.expr, scope)
        narrowing = facts(parsed.expr, True) if kind in _NARROWED_BY_ITSELF else frozenset()
        self._templates(parsed, Scope({}, narrowing, not parsed.namespace, scope.context, parsed.namespace))
        uses = self.reads.end()
        if not allow_eligible and ELIGIBLE in uses:
            self._eligible_circle(kind, parsed, uses)
        return Definition(parsed.name, kind, parsed.expr, typ, parsed.span, parsed.source, parsed.label,
                          parsed.messages, parsed.changed_in, parsed.text, leaves(uses), ELIGIBLE in uses,
                          path=parsed.path, assumption=parsed.assumption)

    def _eligible_circle(self, kind: str, parsed: ParsedDefinition, uses: set) -> None:
        users = sorted(u for u in uses if u in self.reads.eligible_users)
        self.problems.error("cycle", f"{kind.replace('_', ' ')} {parsed.name} uses {', '.join(users) or 'eligible'}, "
                            "which depends on whether the case is eligible: a circle", parsed.expr.span)

    def _all(self, kind: str, parsed: dict, allow_eligible: bool, want_bool: bool) -> dict[str, Definition | None]:
        return {name: self._definition(kind, p, allow_eligible, want_bool) for name, p in parsed.items()}

    def run(self) -> CheckedRuleSet | None:
        parsed = self.parsed
        for name in parsed.rules:
            self.names.order.type_of(name)
        checks = self._all("input_check", parsed.input_checks, False, True)
        input_checks_read_no_rule(checks, self.rules, self.problems)
        conditions = self._all("condition", parsed.conditions, False, True)
        notes = self._all("note", parsed.notes, True, True)
        outputs = self._all("output", parsed.outputs, True, False)
        if any(d.severity == "error" for d in self.problems):
            return None
        prefixes = tuple(f"{prefix}." for prefix in parsed.source.imports)  # a module offers more than each
        shared = {name for group in (parsed.parameters, parsed.tables, parsed.rules)  # scheme reads: no mistake
                  for name in group if name.startswith(prefixes)} if prefixes else set()
        warnings = unused(self.reads.used, {k: v for k, v in self.parameters.items() if k not in shared},
                          {k: v for k, v in self.tables.items() if k not in shared},
                          {k: v for k, v in parsed.rules.items() if k not in shared})
        kept = [{k: v for k, v in group.items() if v} for group in (conditions, notes, checks, outputs)]
        return CheckedRuleSet(parsed.source, self.case, self.parameters, self.tables, dict(self.rules), *kept,
                              self.typer.types, self.names.bindings, tuple(warnings), self.typer.overloads)


def check_ruleset(parsed: ParsedRuleSet, case_model: CaseModel) -> tuple[CheckedRuleSet | None, list[Diagnostic]]:
    """ParsedRuleSet -> CheckedRuleSet, with every problem found (warnings included)."""
    checker = _Checker(parsed, case_model)
    checked = checker.run()
    errors = [d for d in checker.problems if d.severity == "error"]
    return checked, errors + (list(checked.warnings) if checked else [])
