"""Stage 2, parse: expression text -> AST nodes (`engine.nodes`), or diagnostics.

The grammar is `grammar.lark`, loaded once (LALR, positions on). No lark tree
or token leaves this module. Spans are mapped from the offset inside the
expression back to the rule file through the `place` callback given by the
caller, so errors point at file:line:column.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Callable

import lark

from . import nodes
from .diagnostics import Diagnostic
from .span import Span
from .values import Duration

Place = Callable[[int], Span]

# Friendly words for the terminals lark names when it expected something else.
_TERMINAL_WORDS = {
    "RPAR": "')'", "LPAR": "'('", "RSQB": "']'", "LSQB": "'['", "COMMA": "','", "DOT": "'.'",
    "NAME": "a name", "INT": "a number", "DECIMAL": "a number", "MONEY": "an amount (EUR 100)",
    "PERCENT": "a percentage (30 %)", "DATE": "a date (2024-01-01)", "DURATION": "a duration (10 days)",
    "STRING": "a text in quotes", "COMPARE": "a comparison (==, <, ...)", "ADD": "'+' or '-'", "MUL": "'*' or '/'",
    "THEN": "'then'", "ELSE": "'else'", "IF": "'if'", "IN": "'in'", "FOR": "'for'", "AND": "'and'", "OR": "'or'",
    "NOT": "'not'", "MINUS": "'-'", "$END": "the end of the expression",
}


@lru_cache(maxsize=1)
def _parser() -> lark.Lark:
    grammar = (Path(__file__).with_name("grammar.lark")).read_text(encoding="utf-8")
    return lark.Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True, cache=True)


def _number(text: str) -> Decimal:
    return Decimal(text.replace("_", "").replace(" ", "").replace("\t", ""))


class _ToNodes(lark.Transformer):
    """lark tree -> frozen nodes; each method names the grammar alternative it handles."""

    def __init__(self, place: Place):
        super().__init__()
        self.place = place

    def _span(self, meta) -> Span:
        return self.place(getattr(meta, "start_pos", 0) or 0)

    # literal: MONEY -> money, ...
    @lark.v_args(meta=True)
    def money(self, meta, children):
        text = str(children[0])
        return nodes.Literal("money", _number(text[3:]), text, self._span(meta))

    @lark.v_args(meta=True)
    def percent(self, meta, children):
        text = str(children[0])
        return nodes.Literal("percent", _number(text.rstrip("%")) / 100, text, self._span(meta))

    @lark.v_args(meta=True)
    def duration(self, meta, children):
        text = str(children[0])
        amount = int("".join(ch for ch in text if ch.isdigit()))
        unit = text.lstrip("0123456789 \t")
        value = Duration(years=amount) if unit.startswith("year") else (
            Duration(months=amount) if unit.startswith("month") else Duration(days=amount))
        return nodes.Literal("duration", value, text, self._span(meta))

    @lark.v_args(meta=True)
    def date(self, meta, children):
        text = str(children[0])
        try:
            value = date.fromisoformat(text)
        except ValueError:
            value = None  # reported by the checker as an impossible date
        return nodes.Literal("date", value, text, self._span(meta))

    @lark.v_args(meta=True)
    def decimal(self, meta, children):
        return nodes.Literal("decimal", _number(str(children[0])), str(children[0]), self._span(meta))

    @lark.v_args(meta=True)
    def integer(self, meta, children):
        return nodes.Literal("int", int(str(children[0]).replace("_", "")), str(children[0]), self._span(meta))

    @lark.v_args(meta=True)
    def string(self, meta, children):
        return nodes.Literal("string", str(children[0])[1:-1], str(children[0]), self._span(meta))

    @lark.v_args(meta=True)
    def true(self, meta, children):
        return nodes.Literal("bool", True, "true", self._span(meta))

    @lark.v_args(meta=True)
    def false(self, meta, children):
        return nodes.Literal("bool", False, "false", self._span(meta))

    @lark.v_args(meta=True)
    def null(self, meta, children):
        return nodes.Literal("null", None, "null", self._span(meta))

    @lark.v_args(meta=True)
    def name(self, meta, children):
        return nodes.Name(str(children[0]), self._span(meta))

    @lark.v_args(meta=True)
    def field(self, meta, children):
        return nodes.Field(children[0], str(children[1]), self.place(children[1].start_pos))

    @lark.v_args(meta=True)
    def index(self, meta, children):
        return nodes.Index(children[0], children[1], self._span(meta))

    @lark.v_args(meta=True)
    def negate(self, meta, children):
        return nodes.Negate(children[0], self._span(meta))

    @lark.v_args(meta=True)
    def binary(self, meta, children):
        left, op, right = children
        return nodes.Binary(str(op), left, right, self.place(op.start_pos))

    @lark.v_args(meta=True)
    def compare(self, meta, children):
        left, op, right = children
        return nodes.Compare(str(op), left, right, self.place(op.start_pos))

    @lark.v_args(meta=True)
    def member(self, meta, children):
        return nodes.Member(children[0], children[1], False, self._span(meta))

    @lark.v_args(meta=True)
    def not_member(self, meta, children):
        return nodes.Member(children[0], children[1], True, self._span(meta))

    @lark.v_args(meta=True)
    def and_op(self, meta, children):
        return nodes.And(children[0], children[1], self._span(meta))

    @lark.v_args(meta=True)
    def or_op(self, meta, children):
        return nodes.Or(children[0], children[1], self._span(meta))

    @lark.v_args(meta=True)
    def not_op(self, meta, children):
        return nodes.Not(children[0], self._span(meta))

    @lark.v_args(meta=True)
    def if_expr(self, meta, children):
        return nodes.If(children[0], children[1], children[2], self._span(meta))

    @lark.v_args(meta=True)
    def call(self, meta, children):
        function, *args = children
        args = tuple(a for a in args if a is not None)
        return nodes.Call(str(function), args, self._span(meta))

    @lark.v_args(meta=True)
    def aggregate(self, meta, children):
        function, body, variable, source, condition = children
        return nodes.Aggregate(str(function), body, str(variable), source, condition, self._span(meta))

    @lark.v_args(meta=True)
    def list_of(self, meta, children):
        return nodes.ListOf(tuple(c for c in children if c is not None), self._span(meta))


def _expected_words(expected) -> str:
    words = sorted({_TERMINAL_WORDS.get(t, f"'{t.lower()}'") for t in expected if not t.startswith("__")})
    if len(words) > 6:
        words = words[:6] + ["..."]
    return ", ".join(words)


_OPENERS = {"(": ")", "[": "]"}
_VALUE_STARTS = {"NAME", "INT", "DECIMAL", "MONEY", "PERCENT", "DATE", "DURATION", "STRING", "LPAR", "LSQB", "NOT",
                 "TRUE", "FALSE", "NULL"}


def _unclosed(text: str) -> int | None:
    """The offset of the last bracket that is never closed, if any (quotes skipped)."""
    stack, quote = [], None
    for i, ch in enumerate(text):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in _OPENERS:
            stack.append(i)
        elif ch in ")]" and stack:
            stack.pop()
    return stack[-1] if stack else None


def _unexpected_token(text: str, error: lark.UnexpectedToken, place: Place) -> Diagnostic:
    """A token the grammar did not expect -> what an analyst would call the mistake."""
    token = error.token
    if token.type == "$END":
        opened = _unclosed(text)
        if opened is not None:
            return Diagnostic("syntax", f"this '{text[opened]}' is never closed with '{_OPENERS[text[opened]]}'",
                              place(opened))
        return Diagnostic("syntax", f"the expression ends too early; expected {_expected_words(error.expected)}",
                          place(len(text.rstrip())))
    before = text[:token.start_pos].rstrip()
    if str(token) == "=":
        return Diagnostic("syntax", "unexpected '='", place(token.start_pos), "compare with '==', not '='")
    if before and (before[-1].isalnum() or before[-1] in "_)]%'\"") and token.type in _VALUE_STARTS:
        if token.type == "NAME" and before[-1].isdigit():
            return Diagnostic("syntax", f"unexpected '{token}' after a number", place(token.start_pos),
                              "write durations as 30 days, 3 months or 1 year, rates as 30 % and money as EUR 100")
        return Diagnostic("syntax", f"'{token}' follows a value with no operator in between", place(token.start_pos),
                          "put an operator such as +, *, == or and between them; "
                          "a name is one word, its parts joined by _")
    return Diagnostic("syntax", f"unexpected '{token}'; expected {_expected_words(error.expected)}",
                      place(token.start_pos))


def parse_expression(text: str, place: Place) -> tuple[nodes.Expr | None, list[Diagnostic]]:
    """Expression text -> AST, or the syntax error as a diagnostic at its place."""
    if not text.strip():
        return None, [Diagnostic("syntax", "the expression is empty", place(0))]
    try:
        tree = _parser().parse(text)
    except lark.UnexpectedCharacters as error:
        char = text[error.pos_in_stream] if error.pos_in_stream < len(text) else ""
        hint = None
        if char == "=" :
            hint = "compare with '==', not '='"
        elif char == "&" or char == "|":
            hint = "write 'and' / 'or'"
        elif char == "€":
            hint = "write amounts as EUR 100"
        elif text.startswith("EUR", error.pos_in_stream):
            hint = "money is written with EUR first: EUR 100"
        elif char.isupper():
            hint = "names are written in lower case"
        return None, [Diagnostic("syntax", f"unexpected character '{char}'", place(error.pos_in_stream), hint)]
    except lark.UnexpectedToken as error:
        return None, [_unexpected_token(text, error, place)]
    except lark.UnexpectedInput as error:  # pragma: no cover - other lark input errors
        return None, [Diagnostic("syntax", str(error).splitlines()[0], place(getattr(error, "pos_in_stream", 0) or 0))]
    return _ToNodes(place).transform(tree), []
