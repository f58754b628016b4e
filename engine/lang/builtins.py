"""The built-ins of the rule language, declared once: its functions, aggregates and operators.

Each entry says how the built-in is written, which argument types it takes
and what it gives (overloads, as data, wherever data can say it; a small
typing function where it cannot), what it does to runtime values (a plain
Python callable on the values of core/values.py), optionally the inline code
the compiled decision function uses instead of a call, and one line for the
reference. The checker types calls and operators and words its mistakes with
this table, the compiler and the reference interpreter take their
implementation from it, and the reference in docs/rule-language.md is
`reference_markdown()`.

Adding a function is one `Builtin` in `_functions()` below and a line with
its expected value in tests/test_language.py; tests/test_builtins.py then
checks its types and both evaluators on it, and `python
tests/test_builtins.py` refreshes its reference in the docs.

A code template is the engine's own text, never a rule file's: `{0}`, `{1}`
stand for the arguments' code, `{args}` for all of them, `{fn}` for the
implementation itself; an aggregate's for `{body}` and `{loop}`
(`for v_x in ... if ...`). Besides Python's own min, max, sum, any and all, a
template may use only the names in CODE_NAMES.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Callable

from ..core import typesys as T
from ..core.values import ZERO, Duration, add_duration, end_of_year, round_cents, sub_duration


class Mismatch(Exception):
    """Arguments a built-in does not take: what to say, which argument it is about (None: the whole), a hint."""

    def __init__(self, message: str, argument: int | None = None, hint: str | None = None):
        super().__init__(message)
        self.message, self.argument, self.hint = message, argument, hint


class Kind:
    """Several types taken alike at one position of an overload, written as one word."""

    __slots__ = ("name", "test")

    def __init__(self, name: str, test: Callable[[object], bool]):
        self.name, self.test = name, test

    def __str__(self) -> str:
        return self.name


NUMBER = Kind("number", T.is_numeric)  # int, decimal or percent
TEXT = Kind("string", lambda typ: typ == T.STRING or isinstance(typ, T.Enum))  # an enum value is a text too
ANY = Kind("any", lambda typ: True)


def _fits(pattern, typ) -> bool:
    return pattern.test(typ) if isinstance(pattern, Kind) else pattern == typ


class Derived:
    """A result type worked out from the argument types (None: these types are not taken)."""

    __slots__ = ("name", "rule")

    def __init__(self, name: str, rule: Callable[..., object]):
        self.name, self.rule = name, rule

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Overload:
    """One way of applying a built-in: argument types, result type, implementation, inline code."""

    params: tuple | None  # a type or a Kind per argument; None: whatever the built-in's typing function took
    result: object  # a type, a Derived, or None when the typing function gives it
    run: Callable  # on runtime values; an aggregate's gets the list of its body's values
    template: str | None = None  # the compiled function's inline code; None: a call of `run`, "{fn}({args})"
    applies: Callable[[tuple], bool] | None = None  # without params: whether it is the one for these types

    def takes(self, types) -> bool:
        if self.params is None:
            return self.applies is None or self.applies(types)
        return len(self.params) == len(types) and all(_fits(pattern, typ) for pattern, typ in zip(self.params, types))

    def result_of(self, types):
        return self.result.rule(*types) if isinstance(self.result, Derived) else self.result

    def __str__(self) -> str:
        return f"({', '.join(map(str, self.params))}) -> {self.result}"


@dataclass(frozen=True)
class Builtin:
    """A function, aggregate or operator of the language."""

    name: str  # as written: "round", "sum", "+", "not in"
    form: str  # function, aggregate, infix or prefix
    written: str  # how it is used, for the reference: "round(x)"
    doc: str  # one line for the reference
    overloads: tuple[Overload, ...]
    typing: Callable | None = None  # where data cannot say it: (builtin, types) -> result type, or raise Mismatch
    signature: str = ""  # what `typing` takes and gives, for the reference
    arity: tuple[int, int | None] | None = None  # (fewest, most; None: no most) when `typing` decides
    mismatch: str = ""  # what to say when no overload takes the argument types {0}, {1}
    hint: Callable | None = None  # argument types -> a hint for that message, or None
    nullable: bool = False  # its arguments may be null; otherwise each must be tested first
    expected: bool = False  # its arguments are read as the type the whole is expected to have (bare enum values)
    lazy: bool = False  # `run` gets the arguments after the first as functions, called only when needed
    fallback: bool = False  # its value is the first argument unless that is null: the rest count only then
    what: str = ""  # how a message names it: "a negation"; by default the name
    diagnostic: str = ""  # the code of a mismatch's diagnostic; by default its form's (see `mistake`)

    @property
    def mistake(self) -> str:
        """The diagnostic code of arguments it does not take."""
        return self.diagnostic or {"function": "type-call-argument", "aggregate": "type-aggregate",
                                   "infix": "type-operands", "prefix": "type-operand"}[self.form]

    @property
    def in_words(self) -> str:
        return self.what or (self.name if self.form in ("function", "aggregate") else f"'{self.name}'")

    @property
    def arities(self) -> tuple[int, int | None]:
        if self.arity is not None:
            return self.arity
        if self.form != "function":
            return {"infix": (2, 2), "prefix": (1, 1), "aggregate": (1, 1)}[self.form]
        counts = {len(o.params) for o in self.overloads}
        return min(counts), max(counts)

    @property
    def takes_conditions(self) -> bool:
        """Whether every argument is a condition (any, all, count; and, or, not): checked as true or false."""
        return all(o.params is not None and all(p == T.BOOL for p in o.params) for o in self.overloads)


def arity_problem(builtin: Builtin, count: int) -> str | None:
    """What is wrong with calling a function with `count` arguments, or None."""
    fewest, most = builtin.arities
    if fewest <= count and (most is None or count <= most):
        return None
    if most is None:
        return f"{builtin.name} takes {_WORDS.get(fewest, fewest)} or more arguments"
    if fewest == most:
        return f"{builtin.name} takes {fewest} argument{'s' if fewest > 1 else ''}, got {count}"
    return f"{builtin.name} takes {fewest} to {most} arguments, got {count}"


_WORDS = {1: "one", 2: "two", 3: "three"}


def typing_of(builtin: Builtin, types) -> tuple[object, Overload]:
    """The result type of a built-in applied to arguments of these types, and the overload that applies.

    Raises Mismatch when it does not take them. A function names the first
    argument of a type none of its overloads take there.
    """
    types = tuple(types)
    if builtin.typing is not None:
        result = builtin.typing(builtin, types)
        return result, next(o for o in builtin.overloads if o.takes(types))
    if builtin.form == "function":
        for position, typ in enumerate(types):
            wanted = [o.params[position] for o in builtin.overloads if position < len(o.params)]
            if not any(_fits(pattern, typ) for pattern in wanted):
                shown = " or ".join(dict.fromkeys(map(str, wanted)))
                raise Mismatch(f"{builtin.name} takes {shown}, not {typ}", position)
    for overload in builtin.overloads:
        if overload.takes(types):
            result = overload.result_of(types)
            if result is not None:
                return result, overload
    message = builtin.mismatch or f"{builtin.name} cannot take " + " and ".join("{%d}" % i for i in range(len(types)))
    raise Mismatch(message.format(*types), None, builtin.hint(types) if builtin.hint else None)


# -- implementations the table shares -------------------------------------------------------------------------------

def _add_durations(a: Duration, b: Duration) -> Duration:
    return Duration(a.years + b.years, a.months + b.months, a.days + b.days)


def _sub_durations(a: Duration, b: Duration) -> Duration:
    return _add_durations(a, -b)


def _add_to_date(span: Duration, day: date) -> date:
    return add_duration(day, span)


def _days_between(later: date, earlier: date) -> int:
    return (later - earlier).days


def _divide_int(a: int, b):
    return Decimal(a) / b


def _coalesce(value, default):
    return default if value is None else value


def _mixes_int_and_decimal(types) -> bool:
    """An int beside a decimal, which unify into decimal: the int must become a Decimal too."""
    plain = {T.strip_optional(typ) for typ in types}
    return T.INT in plain and T.DECIMAL in plain


def _as_decimal(value):
    return Decimal(value) if type(value) is int else value


def _coalesce_as_decimal(value, default):
    return _as_decimal(default if value is None else value)


def _sum_int(values) -> int:
    return sum(values, 0)


def _sum(values) -> Decimal:
    return sum(values, ZERO)


def _count(values) -> int:
    return sum(1 for value in values if value)


class KeyPrefixes(tuple):
    """The keys of a `key_prefix` table as `in` sees them: a code is in it when it starts with one of them."""

    __slots__ = ()

    def __contains__(self, code) -> bool:
        return code is not None and code.startswith(self)


# The names a code template may use, put into the compiled function's namespace.
CODE_NAMES = {"Decimal": Decimal, "ZERO": ZERO, "date": date, "add_duration": add_duration,
              "add_durations": _add_durations}


# -- typing functions, where data cannot say it ---------------------------------------------------------------------

_ORDERED = (T.INT, T.DECIMAL, T.PERCENT, T.MONEY, T.DATE)  # what min and max take: durations have no order


def _money_hint(types) -> str | None:
    return "write amounts as EUR 100" if T.MONEY in types else None


def _least_or_greatest(builtin: Builtin, types):
    """min and max: the arguments unify into one ordered type, which is the result."""
    result = types[0]
    for position, typ in enumerate(types[1:], 1):
        unified = T.unify(result, typ)
        if unified is None or unified not in _ORDERED:
            raise Mismatch(f"{builtin.name} cannot compare {result} with {typ}", position, _money_hint((result, typ)))
        result = unified
    return result


def _first_or_default(builtin: Builtin, types):
    """coalesce: the first without its null, unified with the default."""
    first, default = types
    unified = T.unify(T.strip_optional(first), default)
    if unified is None:
        raise Mismatch(f"{builtin.name}: {first} and {default} differ")
    return unified


def _equality(builtin: Builtin, types):
    """== and !=: two values of one kind (numbers together, an enum with its words); either may be null."""
    left, right = types
    if not T.same_kind(left, right):
        hint = "write amounts as EUR 100" if T.MONEY in types else (
            "write true or false, without quotes" if {left, right} == {T.BOOL, T.STRING} else None)
        raise Mismatch(f"cannot compare {left} with {right}", None, hint)
    return T.BOOL


def _membership(builtin: Builtin, types):
    """in, not in: an item of the list's item type, or a key of the table's key type."""
    item, container = types
    if isinstance(container, T.Table):
        element = container.key
    elif isinstance(container, T.List):
        element = container.item
    else:
        raise Mismatch(f"'in' needs a list or a table on its right, not {container}", 1)
    if not T.same_kind(item, element):
        raise Mismatch(f"cannot look for {item} in a list of {element}")
    return T.BOOL


def _product(a, b):
    return a if a == b and a in (T.INT, T.PERCENT) else T.DECIMAL


def _arithmetic_hint(op: str):
    def hint(types) -> str | None:
        found = None
        if T.MONEY in types and T.INT in types and op in "+-":
            found = "write amounts as EUR 100"
        if T.DATE in types and T.INT in types:
            found = "write a duration such as 10 days"
        elif T.DATE in types and op in "+-" and T.DURATION not in types:
            found = "a date moves by a duration, such as 10 days, 3 months or 1 year"
        return found
    return hint


# -- the table --------------------------------------------------------------------------------------------------------

def _functions() -> tuple[Builtin, ...]:
    def least_or_greatest(name: str, pick, word: str) -> Builtin:
        return Builtin(name, "function", f"{name}(a, b, ...)", f"the {word} of two or more values of one kind",
                       (Overload(None, None, lambda *values: pick(map(_as_decimal, values)),
                                 applies=_mixes_int_and_decimal),
                        Overload(None, None, lambda *values: pick(values), f"{name}({{args}})")),
                       typing=_least_or_greatest, arity=(2, None), expected=True,
                       signature="(T, T, ...) -> T, T a number, money or a date")

    return (
        least_or_greatest("min", min, "smallest"),
        least_or_greatest("max", max, "largest"),
        Builtin("round", "function", "round(x)", "to the cent, half up: the only rounding there is",
                tuple(Overload((t,), t, round_cents) for t in (T.MONEY, T.DECIMAL, T.PERCENT))),
        Builtin("year", "function", "year(d)", "the year of a date",
                (Overload((T.DATE,), T.INT, lambda day: day.year, "{0}.year"),)),
        Builtin("end_of_year", "function", "end_of_year(d)", "31 December of the date's year",
                (Overload((T.DATE,), T.DATE, end_of_year),)),
        Builtin("start_of_year", "function", "start_of_year(d)", "1 January of the date's year",
                (Overload((T.DATE,), T.DATE, lambda day: date(day.year, 1, 1), "date({0}.year, 1, 1)"),)),
        Builtin("starts_with", "function", "starts_with(s, prefix)", "whether a text (or an enum value) begins "
                "with the prefix", (Overload((TEXT, TEXT), T.BOOL, str.startswith, "{0}.startswith({1})"),)),
        Builtin("coalesce", "function", "coalesce(x, default)", "x, or the default when x is null",
                (Overload(None, None, _coalesce_as_decimal, applies=_mixes_int_and_decimal),
                 Overload(None, None, _coalesce)), typing=_first_or_default, arity=(2, 2), nullable=True,
                expected=True, fallback=True, signature="(T or null, T) -> T"),
    )


def _aggregates() -> tuple[Builtin, ...]:
    sums = (Overload((T.INT,), T.INT, _sum_int, "sum(({body} {loop}), 0)"),) + tuple(
        Overload((t,), t, _sum, "sum(({body} {loop}), ZERO)") for t in (T.DECIMAL, T.PERCENT, T.MONEY))
    return (
        Builtin("sum", "aggregate", "sum(E for x in LIST if C)", "the total of E over the items (for which C "
                "holds); 0 for none", sums, mismatch="cannot sum {0}", what="a sum"),
        Builtin("count", "aggregate", "count(C for x in LIST)", "the number of items for which C holds",
                (Overload((T.BOOL,), T.INT, _count, "sum(1 {loop} if {body})"),)),
        Builtin("any", "aggregate", "any(C for x in LIST)", "whether C holds for at least one item",
                (Overload((T.BOOL,), T.BOOL, any, "any({body} {loop})"),)),
        Builtin("all", "aggregate", "all(C for x in LIST)", "whether C holds for every item (true for none)",
                (Overload((T.BOOL,), T.BOOL, all, "all({body} {loop})"),)),
    )


def _infix() -> tuple[Builtin, ...]:
    def arithmetic(op: str, verb: str, pair: str, doc: str, overloads) -> Builtin:
        return Builtin(op, "infix", f"a {op} b", doc, overloads, mismatch=f"cannot {verb} {pair}",
                       hint=_arithmetic_hint(op))

    def same(op: str, run) -> tuple:  # the same for numbers and for amounts
        template = f"({{0}} {op} {{1}})"
        return (Overload((NUMBER, NUMBER), Derived("number", T.unify), run, template),
                Overload((T.MONEY, T.MONEY), T.MONEY, run, template))

    def ordered(op: str, run) -> Builtin:
        template = f"({{0}} {op} {{1}})"
        return Builtin(op, "infix", f"a {op} b", "orders numbers, amounts, dates or texts (durations have no order)",
                       (Overload((NUMBER, NUMBER), T.BOOL, run, template),) + tuple(
                           Overload((t, t), T.BOOL, run, template) for t in (T.MONEY, T.DATE, T.STRING)),
                       mismatch=f"cannot compare {{0}} with {{1}} using '{op}'", hint=_money_hint,
                       diagnostic="type-compare")

    def equality(op: str, doc: str, test, is_null, null_code: str) -> Builtin:
        return Builtin(op, "infix", f"a {op} b", doc,
                       (Overload((ANY, T.NULL), T.BOOL, is_null, f"({{0}} {null_code} {{1}})"),
                        Overload((ANY, ANY), T.BOOL, test, f"({{0}} {op} {{1}})")),
                       typing=_equality, nullable=True, signature="(T, T) -> bool, T any kind; either may be null",
                       diagnostic="type-compare")

    return (
        arithmetic("+", "add", "{0} and {1}", "adds numbers, amounts or durations; moves a date forward by a duration",
                   same("+", operator.add) + (
                       Overload((T.DATE, T.DURATION), T.DATE, add_duration),
                       Overload((T.DURATION, T.DATE), T.DATE, _add_to_date, "add_duration({1}, {0})"),
                       Overload((T.DURATION, T.DURATION), T.DURATION, _add_durations, "add_durations({0}, {1})"))),
        arithmetic("-", "subtract", "{1} from {0}", "subtracts; moves a date back by a duration; date - date is "
                   "the number of days between", same("-", operator.sub) + (
                       Overload((T.DATE, T.DURATION), T.DATE, sub_duration),
                       Overload((T.DURATION, T.DURATION), T.DURATION, _sub_durations, "add_durations({0}, -{1})"),
                       Overload((T.DATE, T.DATE), T.INT, _days_between, "({0} - {1}).days"))),
        arithmetic("*", "multiply", "{0} and {1}", "multiplies numbers, or an amount by a number (EUR 100 * 30 %)", (
            Overload((NUMBER, NUMBER), Derived("number", _product), operator.mul, "({0} * {1})"),
            Overload((T.MONEY, NUMBER), T.MONEY, operator.mul, "({0} * {1})"),
            Overload((NUMBER, T.MONEY), T.MONEY, operator.mul, "({0} * {1})"))),
        arithmetic("/", "divide", "{0} by {1}", "divides, exactly: never rounded, never a float", (
            Overload((T.INT, NUMBER), T.DECIMAL, _divide_int, "(Decimal({0}) / {1})"),
            Overload((NUMBER, NUMBER), T.DECIMAL, operator.truediv, "({0} / {1})"),
            Overload((T.MONEY, NUMBER), T.MONEY, operator.truediv, "({0} / {1})"),
            Overload((T.MONEY, T.MONEY), T.DECIMAL, operator.truediv, "({0} / {1})"))),
        equality("==", "equal: numbers together, an enum with its values, anything with null", operator.eq,
                 operator.is_, "is"),
        equality("!=", "not equal", operator.ne, operator.is_not, "is not"),
        ordered("<", operator.lt),
        ordered("<=", operator.le),
        ordered(">", operator.gt),
        ordered(">=", operator.ge),
        Builtin("in", "infix", "x in LIST", "whether x is an item of the list or a key of the table (for a "
                "key_prefix table: starts with a key)", (Overload(None, None, lambda item, keys: item in keys,
                                                                  "({0} in {1})"),),
                typing=_membership, nullable=True, signature="(T, list of T) -> bool; (T, table keyed by T) -> bool",
                diagnostic="type-member"),
        Builtin("not in", "infix", "x not in LIST", "the opposite of in",
                (Overload(None, None, lambda item, keys: item not in keys, "({0} not in {1})"),),
                typing=_membership, nullable=True, signature="(T, list of T) -> bool; (T, table keyed by T) -> bool",
                diagnostic="type-member"),
        Builtin("and", "infix", "a and b", "both hold; b is read only when a holds",
                (Overload((T.BOOL, T.BOOL), T.BOOL, lambda a, b: a and b(), "({0} and {1})"),), lazy=True,
                diagnostic="type-condition"),
        Builtin("or", "infix", "a or b", "either holds; b is read only when a does not",
                (Overload((T.BOOL, T.BOOL), T.BOOL, lambda a, b: a or b(), "({0} or {1})"),), lazy=True,
                diagnostic="type-condition"),
    )


def _prefix() -> tuple[Builtin, ...]:
    return (
        Builtin("-", "prefix", "-a", "the negation of a number, an amount or a duration",
                tuple(Overload((t,), t, operator.neg, "(-{0})")
                      for t in (T.INT, T.DECIMAL, T.PERCENT, T.MONEY, T.DURATION)),
                mismatch="cannot negate {0}", expected=True, what="a negation", diagnostic="type-negate"),
        Builtin("not", "prefix", "not a", "true when a is false",
                (Overload((T.BOOL,), T.BOOL, operator.not_, "(not {0})"),), diagnostic="type-condition"),
    )


FUNCTIONS: dict[str, Builtin] = {b.name: b for b in _functions()}
AGGREGATES: dict[str, Builtin] = {b.name: b for b in _aggregates()}
INFIX: dict[str, Builtin] = {b.name: b for b in _infix()}
PREFIX: dict[str, Builtin] = {b.name: b for b in _prefix()}
ALL: tuple[Builtin, ...] = (*FUNCTIONS.values(), *AGGREGATES.values(), *INFIX.values(), *PREFIX.values())


def reference_markdown() -> str:
    """The reference of the built-ins, as docs/rule-language.md shows it between its markers."""
    lines = []
    for title, table in (("Functions", FUNCTIONS), ("Aggregates", AGGREGATES), ("Operators", INFIX),
                         ("Prefix operators", PREFIX)):
        lines += [f"### {title}", "", "| written | takes -> gives | what it does |", "| --- | --- | --- |"]
        for builtin in table.values():
            taken = builtin.signature or "; ".join(map(str, builtin.overloads))
            lines.append(f"| `{builtin.written}` | {taken.replace('|', '&#124;')} | {builtin.doc} |")
        lines.append("")
    lines.append("`number` is int, decimal or percent. With `+` and `-`, two numbers of one type give that type, "
                 "any other pair decimal, except a percentage beside a bare int, an error (`30 % + 5` asks for "
                 "`5 %`); `*` gives int for two ints, percent for two percentages, else decimal; `/` gives decimal.")
    return "\n".join(lines) + "\n"
