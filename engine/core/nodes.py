"""The expression AST: frozen, slotted dataclasses with no behaviour.

Every node carries the `Span` where it was written; equality ignores it, so
two versions of a rule compare equal when only their layout differs.
Logic about nodes lives in the stage modules (check, compile, printer).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from .span import NO_SPAN, Span

_SPAN = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Literal:
    """A constant: kind is money, percent, duration, date, decimal, int, string, bool or null."""

    kind: str
    value: object
    text: str = field(compare=False)  # as written: `30%` and `30 %` are the same literal
    span: Span = _SPAN


@dataclass(frozen=True, slots=True)
class Name:
    name: str
    span: Span = _SPAN


@dataclass(frozen=True, slots=True)
class Field:
    subject: "Expr"
    name: str
    span: Span = _SPAN


@dataclass(frozen=True, slots=True)
class Index:
    subject: "Expr"
    key: "Expr"
    span: Span = _SPAN


@dataclass(frozen=True, slots=True)
class Negate:
    operand: "Expr"
    span: Span = _SPAN


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # + - * /
    left: "Expr"
    right: "Expr"
    span: Span = _SPAN


@dataclass(frozen=True, slots=True)
class Compare:
    op: str  # == != < <= > >=
    left: "Expr"
    right: "Expr"
    span: Span = _SPAN


@dataclass(frozen=True, slots=True)
class Member:
    item: "Expr"
    container: "Expr"
    negated: bool
    span: Span = _SPAN


@dataclass(frozen=True, slots=True)
class And:
    left: "Expr"
    right: "Expr"
    span: Span = _SPAN


@dataclass(frozen=True, slots=True)
class Or:
    left: "Expr"
    right: "Expr"
    span: Span = _SPAN


@dataclass(frozen=True, slots=True)
class Not:
    operand: "Expr"
    span: Span = _SPAN


@dataclass(frozen=True, slots=True)
class If:
    condition: "Expr"
    then: "Expr"
    otherwise: "Expr"
    span: Span = _SPAN


@dataclass(frozen=True, slots=True)
class Call:
    function: str
    args: tuple["Expr", ...]
    span: Span = _SPAN


@dataclass(frozen=True, slots=True)
class Aggregate:
    """`sum(x.amount for x in enterprise.prior_aid if x.scheme == own_scheme)`."""

    function: str  # sum count any all min max
    body: "Expr"
    variable: str
    source: "Expr"
    filter: "Expr | None"
    span: Span = _SPAN


@dataclass(frozen=True, slots=True)
class ListOf:
    items: tuple["Expr", ...]
    span: Span = _SPAN


Expr = Union[Literal, Name, Field, Index, Negate, Binary, Compare, Member, And, Or, Not, If, Call, Aggregate, ListOf]
EXPR_TYPES = Expr.__args__


def children(node) -> list:
    """The expressions directly inside a node, in field order: the one walk every stage that looks inside
    an expression shares."""
    found = []
    for name in node.__slots__:
        value = getattr(node, name)
        if isinstance(value, EXPR_TYPES):
            found.append(value)
        elif isinstance(value, tuple):
            found.extend(item for item in value if isinstance(item, EXPR_TYPES))
    return found
