"""Runtime values of the DSL: exact money, durations, and how they print.

Money, decimals and percentages are `decimal.Decimal`; a percentage is held
as its fraction (30 % is Decimal("0.30")). Nothing here rounds unless asked.

Every value prints here, in one of three ways:

    for the contract   format_money, format_rate, contract_value: the decision JSON and the JSON of reports
    for text           format_value: messages, and runtime values in explanations
    for people         format_percent, format_amount, format_share, format_for_people: explanations and reports
"""
from __future__ import annotations

import calendar
import functools
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import (ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal, DivisionByZero, InvalidOperation, Overflow,
                     localcontext)

from . import typesys as T

CENT = Decimal("0.01")
ZERO = Decimal("0")

# The engine's own decimal context, whatever the caller has set. Inputs carry at
# most 30 significant digits (case.py, parse.py), so 60 digits hold every sum
# and product the rules make exactly; only `round(...)` rounds on purpose.
ENGINE_CONTEXT = Context(prec=60, rounding=ROUND_HALF_EVEN, Emin=-999_999, Emax=999_999,
                         traps=[InvalidOperation, DivisionByZero, Overflow], flags=[])


def in_engine_context(function):
    """Run `function` under ENGINE_CONTEXT: a caller's precision or traps never change a result."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with localcontext(ENGINE_CONTEXT):
            return function(*args, **kwargs)
    return wrapper


@dataclass(frozen=True, slots=True)
class Duration:
    """A span of calendar time: years, months and days, applied in that order."""

    years: int = 0
    months: int = 0
    days: int = 0

    def __str__(self) -> str:
        parts = []
        for amount, unit in ((self.years, "year"), (self.months, "month"), (self.days, "day")):
            if amount:
                parts.append(f"{amount} {unit}{'' if abs(amount) == 1 else 's'}")
        return " ".join(parts) or "0 days"

    def __neg__(self) -> "Duration":
        return Duration(-self.years, -self.months, -self.days)


def add_duration(day: date, span: Duration) -> date:
    """Add years and months first (29 Feb -> 28 Feb when needed), then days."""
    if span.years and not span.months and (day.month != 2 or day.day != 29):
        day = day.replace(year=day.year + span.years)  # whole years from any day but 29 February
    elif span.years or span.months:
        month_index = day.month - 1 + span.months + 12 * span.years
        year, month = day.year + month_index // 12, month_index % 12 + 1
        last = calendar.monthrange(year, month)[1]
        day = date(year, month, min(day.day, last))
    return day + timedelta(days=span.days) if span.days else day


def sub_duration(day: date, span: Duration) -> date:
    return add_duration(day, -span)


def round_cents(amount: Decimal) -> Decimal:
    """Round to the cent, half up: the one rounding the rules may ask for."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP, context=ENGINE_CONTEXT)


def end_of_year(day: date) -> date:
    return date(day.year, 12, 31)


# -- for the contract ------------------------------------------------------------

def format_money(amount: Decimal) -> str:
    """A money amount as the contract writes it: two decimals, no thousands separator."""
    return str(amount.quantize(CENT, context=ENGINE_CONTEXT))


def format_rate(rate: Decimal) -> str:
    """A rate as the contract writes it: a decimal fraction with at least two decimals."""
    cents = rate.quantize(CENT, context=ENGINE_CONTEXT)
    if rate == cents:
        return str(cents)
    return format(rate.normalize(ENGINE_CONTEXT), "f")


class NotWholeCent(Exception):
    """A money value with a fraction of a cent, which the contract cannot write."""


def contract_value(value, typ):
    """A runtime value as the decision JSON writes it: money and rates as decimal strings."""
    if value is None:
        return None
    if typ.__class__ is T.Optional:
        typ = typ.inner
    if typ.__class__ is T.Scalar:
        if typ.name == "money":
            cents = value.quantize(CENT, context=ENGINE_CONTEXT)
            if cents != value:
                raise NotWholeCent(value)
            return str(cents)
        if typ.name == "percent":
            return format_rate(value)
    if isinstance(value, bool) or isinstance(value, int) or isinstance(value, str):
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        item = typ.item if isinstance(typ, T.List) else None
        return [contract_value(v, item) for v in value]
    if isinstance(value, Duration):
        return str(value)
    if isinstance(value, dict):
        return {k: contract_value(v, None) for k, v in value.items()}
    return str(value)


def contract_writer(typ):
    """The function that writes values of one declared type as the decision JSON does (contract_value,
    with the type's question settled once, for the hot path of every decision)."""
    inner = typ.inner if typ.__class__ is T.Optional else typ
    if inner.__class__ is T.Scalar and inner.name == "money":
        def write(value, quantize=Decimal.quantize, cent=CENT, context=ENGINE_CONTEXT):
            if value is None:
                return None
            cents = quantize(value, cent, context=context)
            if cents != value:
                raise NotWholeCent(value)
            return str(cents)
        return write
    if inner.__class__ is T.Scalar and inner.name == "date":
        return lambda value: None if value is None else value.isoformat()
    if inner.__class__ is T.Enum or inner in (T.STRING, T.BOOL, T.INT):
        return lambda value: value
    return lambda value: contract_value(value, typ)


# -- for text ------------------------------------------------------------------------

def format_value(value, kind: str = "") -> str:
    """Any runtime value as plain text, for messages and explanations."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if kind == "money":
        return f"EUR {format_money(value)}"
    if kind == "percent":
        return format_percent(value)
    if isinstance(value, Decimal):
        return format(value.normalize(ENGINE_CONTEXT), "f") if value == value.to_integral_value() else format(value, "f")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


DECIMAL_COMMA = frozenset({"nl"})  # languages that write 7,5 where English writes 7.5


def format_value_in(value, kind: str, lang: str) -> str:
    """`format_value` in a message of the language `lang`: a decimal or a percentage with the decimal sign
    that language writes (263,5 and 7,5 % in Dutch). Amounts keep the contract's EUR 1234.50, which an
    explanation for a person words in its turn."""
    text = format_value(value, kind)
    if lang in DECIMAL_COMMA and kind in ("decimal", "percent"):
        return text.replace(".", ",")
    return text


# -- for people ----------------------------------------------------------------------

PLAIN_WORDS = {"null": "null", "true": "true", "false": "false"}


def format_percent(rate: Decimal) -> str:
    """30 % as people read it."""
    shown = ENGINE_CONTEXT.multiply(rate, 100).normalize(ENGINE_CONTEXT)
    text = format(shown, "f")
    return f"{text} %"


def format_amount(amount: Decimal, *, signed: bool = False) -> str:
    """A sum in a report: EUR 1,234.50; -EUR 12.00; with `signed`, +EUR 3.00 for an increase."""
    amount = Decimal(amount)
    sign = "-" if amount < 0 else ("+" if signed and amount > 0 else "")
    return f"{sign}EUR {abs(amount).quantize(CENT):,}"


def format_share(part: int, whole: int) -> str:
    """`part` of `whole` as a percentage with one decimal: 12.5 %."""
    return f"{(Decimal(part) * 100 / whole).quantize(Decimal('0.1'))} %"


def format_for_people(value, kind: str = "", words=PLAIN_WORDS) -> str:
    """A value as a decision writes it (a decimal string, a bool, null, ...) for a person: money (a `kind`
    starting with money) as EUR 1234.50, a percentage as 30 %, null, true and false in `words`."""
    if value is None:
        return words["null"]
    if isinstance(value, bool):
        return words["true" if value else "false"]
    try:
        if kind.startswith("money"):
            return f"EUR {format_money(Decimal(str(value)))}"
        if kind.startswith("percent"):
            return format_percent(Decimal(str(value)))
    except InvalidOperation:
        pass
    return str(value)
