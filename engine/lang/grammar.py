"""Stage 2, parse: expression text -> AST nodes through the grammar (`grammar.lark`, lark's LALR parser).

The parser is built once per process (LALR, positions on); its tables are
kept in the user's private cache folder (see `load.cache_read`), never in a
shared one. No lark tree or token leaves this module: `parse_tree` gives our
own nodes, or the syntax error as a diagnostic at file:line:column (spans
are mapped from the offset inside the expression back to the rule file
through the `place` callback given by the caller). The depth of operations
is measured on the parse tree, without recursion, before anything else walks
it. Only `parse.py` calls it, and only for a text it has not read before.
"""
from __future__ import annotations

import hashlib
import json
import sys
from functools import lru_cache
from pathlib import Path

import lark

from ..core import nodes
from ..core.diagnostics import Diagnostic
from ..core.span import Span
from ..source.load import MAX_EXPRESSION_DEPTH, cache_read, cache_write
from .literals import SPLIT_HINT, Place, literal

# Friendly words for the terminals lark names when it expected something else.
_TERMINAL_WORDS = {
    "RPAR": "')'", "LPAR": "'('", "RSQB": "']'", "LSQB": "'['", "COMMA": "','", "DOT": "'.'",
    "NAME": "a name", "INT": "a number", "DECIMAL": "a number", "MONEY": "an amount (EUR 100)",
    "PERCENT": "a percentage (30 %)", "DATE": "a date (2024-01-01)", "DURATION": "a duration (10 days)",
    "STRING": "a text in quotes", "COMPARE": "a comparison (==, <, ...)", "ADD": "'+' or '-'", "MUL": "'*' or '/'",
    "THEN": "'then'", "ELSE": "'else'", "IF": "'if'", "IN": "'in'", "FOR": "'for'", "AND": "'and'", "OR": "'or'",
    "NOT": "'not'", "MINUS": "'-'", "$END": "the end of the expression",
}

_OPTIONS = {"parser": "lalr", "propagate_positions": True, "maybe_placeholders": True}


# -- the parser, its tables kept as JSON (never a pickle) in the private cache -------------------------------

def _to_json(value):
    """lark's serialized parser (dicts, lists, tuples, text, numbers) -> JSON that keeps tuples and int keys."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, list):
        return {"l": [_to_json(v) for v in value]}
    if isinstance(value, tuple):
        return {"t": [_to_json(v) for v in value]}
    if isinstance(value, dict):
        return {"d": [[_to_json(k), _to_json(v)] for k, v in value.items()]}
    raise TypeError(f"cannot keep a {type(value).__name__} as JSON")


def _from_json(value):
    if not isinstance(value, dict):
        return value
    (kind, items), = value.items()
    if kind == "l":
        return [_from_json(v) for v in items]
    if kind == "t":
        return tuple(_from_json(v) for v in items)
    return {_from_json(k): _from_json(v) for k, v in items}


def _grammar() -> str:
    return Path(__file__).with_name("grammar.lark").read_text(encoding="utf-8")


def _cache_name(grammar: str) -> str:
    key = json.dumps([grammar, lark.__version__, sys.version_info[:2], sorted(_OPTIONS.items())])
    return hashlib.sha256(key.encode("utf-8")).hexdigest() + ".json"


def _cached_parser(grammar: str) -> lark.Lark | None:
    """The parser from its tables in the private cache: only when the entry's digest matches its content."""
    entry = cache_read("grammar", _cache_name(grammar))
    if not entry or b"\n" not in entry:
        return None
    digest, _, payload = entry.partition(b"\n")
    if hashlib.sha256(payload).hexdigest().encode("ascii") != digest:
        return None
    try:
        saved = _from_json(json.loads(payload))
        return lark.Lark._load_from_dict(saved["data"], saved["memo"])
    except Exception:  # an entry of another lark: build anew
        return None


def _remember_parser(grammar: str, parser: lark.Lark) -> None:
    try:
        data, memo = parser.memo_serialize([lark.lexer.TerminalDef, lark.grammar.Rule])
        payload = json.dumps(_to_json({"data": data, "memo": memo}), separators=(",", ":")).encode("utf-8")
    except Exception:  # a lark that serializes otherwise: build each time
        return
    cache_write("grammar", _cache_name(grammar), hashlib.sha256(payload).hexdigest().encode("ascii") + b"\n" + payload)


@lru_cache(maxsize=1)
def _parser() -> lark.Lark:
    grammar = _grammar()
    parser = _cached_parser(grammar)
    if parser is None:
        parser = lark.Lark(grammar, **_OPTIONS)
        _remember_parser(grammar, parser)
    return parser


def _literal_alternative(kind: str):
    """The method of `_ToNodes` for a grammar alternative that is a literal of this kind."""
    @lark.v_args(meta=True)
    def alternative(self, meta, children):
        return self._literal(kind, meta, children)
    return alternative


def _spanned(make):
    """The method of `_ToNodes` for a grammar alternative whose node is `make(*children, span)`."""
    @lark.v_args(meta=True)
    def alternative(self, meta, children):
        return make(*children, self._span(meta))
    return alternative


def _operator(make):
    """The method of `_ToNodes` for an operator between two operands: its node placed at the operator."""
    @lark.v_args(meta=True)
    def alternative(self, meta, children):
        left, op, right = children
        return make(str(op), left, right, self.place(op.start_pos))
    return alternative


class _ToNodes(lark.Transformer):
    """lark tree -> frozen nodes; each method names the grammar alternative it handles."""

    def __init__(self, place: Place):
        super().__init__()
        self.place = place
        self.problems: list[Diagnostic] = []

    def _span(self, meta) -> Span:
        return self.place(getattr(meta, "start_pos", 0) or 0)

    def _literal(self, kind: str, meta, children) -> nodes.Literal:
        return literal(kind, str(children[0]), self._span(meta), self.problems)

    # literal: each grammar alternative of a literal -> the kind of literal it writes
    money, percent, duration, date, decimal, integer, string = (
        _literal_alternative(kind) for kind in ("money", "percent", "duration", "date", "decimal", "int", "string"))

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

    index, negate = _spanned(nodes.Index), _spanned(nodes.Negate)

    binary, compare = _operator(nodes.Binary), _operator(nodes.Compare)

    member = _spanned(lambda item, collection, span: nodes.Member(item, collection, False, span))
    not_member = _spanned(lambda item, collection, span: nodes.Member(item, collection, True, span))
    and_op, or_op, not_op, if_expr = (_spanned(node) for node in (nodes.And, nodes.Or, nodes.Not, nodes.If))

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


def _too_deep(tree: lark.Tree) -> bool:
    """Whether operations nest more than MAX_EXPRESSION_DEPTH deep (walked with a list, never recursively)."""
    todo = [(tree, 1)]
    while todo:
        node, depth = todo.pop()
        if depth > MAX_EXPRESSION_DEPTH:
            return True
        todo.extend((child, depth + 1) for child in node.children if isinstance(child, lark.Tree))
    return False


def parse_tree(text: str, place: Place) -> tuple[nodes.Expr | None, list[Diagnostic]]:
    """Expression text (not empty, not too long) -> AST, or the syntax error as a diagnostic at its place."""
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
    if _too_deep(tree):
        return None, [Diagnostic("expression-too-deep", f"the expression nests operations more than "
                                 f"{MAX_EXPRESSION_DEPTH} deep", place(0), SPLIT_HINT)]
    builder = _ToNodes(place)
    expr = builder.transform(tree)
    return (None, builder.problems) if builder.problems else (expr, [])
