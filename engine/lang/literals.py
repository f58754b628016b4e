"""Stage 2, parse: the literals of the rule language (EUR 100.50, 30 %, 10 days, 2024-01-01, 1.5, 12, "x",
true, null) -> their nodes, checked against the engine's bounds.

Shared by the grammar (`grammar.py`, each literal token it reads) and by
`parse.py`, which reads a constant that is one literal with a few regular
expressions, as the grammar would read it, without the grammar. A number has
at most MAX_DIGITS significant digits and a duration at most MAX_DURATION of
its unit.
"""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Callable

from ..core import nodes
from ..core.diagnostics import Diagnostic
from ..core.span import Span
from ..core.values import Duration
from ..source.load import MAX_DIGITS, MAX_DURATION, significant_digits

Place = Callable[[int], Span]
SPLIT_HINT = "split it into named rules, each used by name in the next"


def _number(text: str) -> Decimal:
    return Decimal(text.replace("_", "").replace(" ", "").replace("\t", ""))


_UNIT = re.compile(r"(days|day|months|month|years|year)$")
_NUMBERS = frozenset(("money", "percent", "decimal", "int"))


def literal(kind: str, text: str, span: Span, problems: list[Diagnostic]) -> nodes.Literal:
    """One literal token as written -> its node (value None and a problem when it is out of bounds)."""
    value = None
    if kind in _NUMBERS and len(text) > MAX_DIGITS and significant_digits(text) > MAX_DIGITS:
        problems.append(Diagnostic("number-too-long", f"the number {text[:40]}{'...' if len(text) > 40 else ''} "
                                   f"has more than {MAX_DIGITS} significant digits", span,
                                   f"a number has at most {MAX_DIGITS} significant digits"))
    elif kind == "money":
        value = _number(text[3:])
    elif kind == "percent":
        value = _number(text.rstrip("%")) / 100
    elif kind == "decimal":
        value = _number(text)
    elif kind == "int":
        value = int(text.replace("_", "").lstrip("0") or "0")
    elif kind == "duration":
        digits = "".join(ch for ch in text if ch.isdigit()).lstrip("0") or "0"
        unit = _UNIT.search(text).group(1)
        unit = unit if unit.endswith("s") else unit + "s"
        amount = int(digits) if len(digits) <= 12 else None
        if amount is None or amount > MAX_DURATION[unit]:
            problems.append(Diagnostic("duration-too-long", f"the duration {text[:40]} is too long", span,
                                       f"a duration is at most {MAX_DURATION[unit]:,} {unit}"))
        else:
            value = Duration(**{unit: amount})
    elif kind == "date":
        try:
            value = date.fromisoformat(text)
        except ValueError:
            value = None  # reported by the checker as an impossible date
    elif kind == "string":
        value = text[1:-1]
    elif kind == "bool":
        value = text == "true"
    return nodes.Literal(kind, value, text, span)



_WS = "[ \t\f\r\n]*"  # the white space the grammar ignores
# The grammar's literal terminals, in the order its lexer tries them (priority, then length of the pattern):
# the first that matches at the start is the token, as in the lexer.
_TOKENS = [(kind, re.compile(pattern)) for kind, pattern in (
    ("money", r"EUR[ \t]*\d[\d_]*(\.\d+)?"),
    ("date", r"\d{4}-\d{2}-\d{2}"),
    ("duration", r"\d+[ \t]*(days|day|months|month|years|year)\b"),
    ("percent", r"\d[\d_]*(\.\d+)?[ \t]*%"),
    ("decimal", r"\d[\d_]*\.\d+"),
    ("int", r"\d[\d_]*"),
    ("string", r"\"[^\"\n]*\"|'[^'\n]*'"),
)]
_LEADING = re.compile(_WS)
_KEYWORDS = {"true": "bool", "false": "bool", "null": "null"}


def read_literal(text: str, place: Place, problems: list[Diagnostic]) -> nodes.Literal | None:
    """A text that is one literal (EUR 100.50, 30 %, 10 days, 2024-01-01, 1.5, 12, "x", true, null) -> the
    same node the grammar would make; None for anything else."""
    start = _LEADING.match(text).end()
    stop = len(text.rstrip(" \t\f\r\n"))
    if start >= stop:
        return None
    word = text[start:stop]
    if word in _KEYWORDS:
        kind = _KEYWORDS[word]
        return nodes.Literal(kind, word == "true" if kind == "bool" else None, word, place(start))
    for kind, pattern in _TOKENS:
        match = pattern.match(text, start)
        if match:
            if match.end() != stop:
                return None  # more than one token: an expression, for the grammar
            return literal(kind, match.group(0), place(start), problems)
    return None
