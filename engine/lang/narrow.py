"""Null narrowing: where a value that may be null is known not to be.

`x != null and x > 3` may compare `x`, since the right of `and` is reached
only when the left is true; likewise the right of `or` when the left is
false, the branches of `if`, the body of an aggregate after its filter, and
the messages of a definition when it applies. Most operations need a value:
one that may still be null there is an error.
"""
from __future__ import annotations

from ..core import nodes
from ..core import typesys as T
from .checked import Problems
from .resolve import Scope, path


def facts(expr, positive: bool) -> frozenset:
    """Paths known not to be null when `expr` is true (positive) or false."""
    match expr:
        case nodes.Compare(op=op, left=left, right=right) if isinstance(right, nodes.Literal) and right.kind == "null":
            known = path(left)
            if known and ((op == "!=" and positive) or (op == "==" and not positive)):
                return frozenset({known})
        case nodes.Member(item=item, negated=negated) if positive != negated:
            known = path(item)
            return frozenset({known}) if known else frozenset()
        case nodes.And(left=left, right=right) if positive:
            return facts(left, True) | facts(right, True)
        case nodes.Or(left=left, right=right) if not positive:
            return facts(left, False) | facts(right, False)
        case nodes.Not(operand=operand):
            return facts(operand, not positive)
    return frozenset()


def narrowed(expr, typ, scope: Scope):
    """The type of `expr` where the scope knows it is not null."""
    if isinstance(typ, T.Optional) and path(expr) in scope.narrowed:
        return typ.inner
    return typ


def not_null(problems: Problems, expr, typ, what: str):
    """The type itself, or the mistake of using a value that may be null in `what`."""
    if isinstance(typ, T.Optional):
        shown = path(expr) or "this value"
        return problems.error("maybe-null", f"{shown} may be null here, so it cannot be used in {what}", expr.span,
                              f"test it first: {shown} != null and ...")
    return typ
