"""Stage 2, parse: expression text -> AST nodes (`engine.nodes`), or diagnostics.

An expression is read by the grammar (`grammar.py`) the first time its text is
seen; what the grammar made is kept, as JSON (never a pickle), in the user's
private cache folder (see `load.cache_read`), keyed by the text alone, and
read back from there by later runs: a rules folder opened again parses
nothing, and lark is not even imported. Each node keeps the offset it was
written at inside its text, and gets its file:line:column from the `place`
callback of the caller, whichever way it came: a text read through the
grammar is rebuilt from the same form the cache keeps, so both ways give
the same nodes. Only expressions that parsed are kept; a syntax error is
found by the grammar every time.

An expression is at most MAX_EXPRESSION_CHARS long and MAX_EXPRESSION_DEPTH
operations deep. `parse_constant` reads a constant (a parameter's value, a
table cell) that is one literal without the grammar (`literals.py`).
"""
from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

from ..core import nodes
from ..core.diagnostics import Diagnostic
from ..core.span import Span
from ..core.values import Duration
from ..source.load import CACHE_ENTRY_BYTES, MAX_EXPRESSION_CHARS, MAX_EXPRESSION_DEPTH, cache_read, cache_write
from .literals import SPLIT_HINT, Place, read_literal


def dotted_path(expr) -> str | None:
    """`a.b.c` for a chain of names (a name and fields), else None."""
    if isinstance(expr, nodes.Name):
        return expr.name
    if isinstance(expr, nodes.Field):
        inner = dotted_path(expr.subject)
        return f"{inner}.{expr.name}" if inner else None
    return None




def parse_expression(text: str, place: Place) -> tuple[nodes.Expr | None, list[Diagnostic]]:
    """Expression text -> AST, or the syntax error as a diagnostic at its place."""
    if not text.strip():
        return None, [Diagnostic("syntax", "the expression is empty", place(0))]
    if len(text) > MAX_EXPRESSION_CHARS:
        return None, [Diagnostic("expression-too-long", f"the expression is {len(text):,} characters long; "
                                 f"an expression has at most {MAX_EXPRESSION_CHARS:,}", place(0), SPLIT_HINT)]
    kept = _kept()
    form = kept.get(text)
    if form is not None:
        try:
            return _rebuilt(form, place), []
        except (KeyError, TypeError, ValueError, RecursionError):  # an entry this engine cannot read: parse anew
            del kept[text]
    from .grammar import parse_tree
    expr, problems = parse_tree(text, _offset)
    if expr is None:
        return None, [_placed(problem, place) for problem in problems]
    form = _form(expr)
    kept[text] = form
    _STORE["added"] = True
    return _rebuilt(form, place), []


def parse_constant(text: str, place: Place) -> tuple[nodes.Expr | None, list[Diagnostic]]:
    """A constant as written (a parameter's value, a table cell) -> its node: one literal is read
    directly, anything else (a negative number, a list) by the grammar; the result is the same."""
    if len(text) <= MAX_EXPRESSION_CHARS:
        problems: list[Diagnostic] = []
        found = read_literal(text, place, problems)
        if found is not None:
            return (None, problems) if problems else (found, [])
    return parse_expression(text, place)


# -- what the grammar made, kept between runs -----------------------------------------------------------------

_OFFSET_FILE = "\0offset"  # a span that holds an offset inside the text, not yet a place in a file


def _offset(offset: int) -> Span:
    return Span(_OFFSET_FILE, 0, offset)


def _placed(problem: Diagnostic, place: Place) -> Diagnostic:
    """A diagnostic of the grammar (at an offset) at its place in the rule file."""
    span = problem.span
    if span is not None and span.file == _OFFSET_FILE:
        from dataclasses import replace
        return replace(problem, span=place(span.column))
    return problem


_NODE_TYPES = {cls.__name__: cls for cls in nodes.EXPR_TYPES}
_DEEPEST = 3 * MAX_EXPRESSION_DEPTH + 10  # nodes and tuples inside each other in a form: more is not ours


def _form(value):
    """Nodes whose spans hold offsets -> the JSON form the cache keeps."""
    if value is None or value.__class__ in (bool, int, str):
        return value
    if isinstance(value, Span):
        return {"@": value.column}
    if isinstance(value, Decimal):
        return {"D": str(value)}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, Duration):
        return {"P": [value.years, value.months, value.days]}
    if isinstance(value, tuple):
        return {"T": [_form(item) for item in value]}
    if isinstance(value, nodes.EXPR_TYPES):
        return {"N": [type(value).__name__] + [_form(getattr(value, slot)) for slot in value.__slots__]}
    raise TypeError(f"cannot keep a {type(value).__name__}")


def _rebuilt(form, place: Place, depth: int = 0):
    """The JSON form -> nodes, each span the place of its offset."""
    if not isinstance(form, dict):
        if form is None or form.__class__ in (bool, int, str):
            return form
        raise ValueError("not a form")
    if depth > _DEEPEST:
        raise ValueError("nested too deeply")
    (tag, inner), = form.items()
    if tag == "N":
        return _NODE_TYPES[inner[0]](*(_rebuilt(item, place, depth + 1) for item in inner[1:]))
    if tag == "@":
        return place(int(inner))
    if tag == "D":
        return Decimal(inner)
    if tag == "d":
        return date.fromisoformat(inner)
    if tag == "P":
        years, months, days = (int(part) for part in inner)
        return Duration(years, months, days)
    if tag == "T":
        return tuple(_rebuilt(item, place, depth + 1) for item in inner)
    raise ValueError(f"no form {tag!r}")


_STORE: dict = {}  # "forms": text -> its form (read from the cache on first use); "added": forms to write


def _store_name() -> str:
    """The cache entry for this engine's forms: named by the grammar and the code that makes and reads them,
    so that a changed engine never reads another's."""
    here = Path(__file__).parent
    digest = hashlib.sha256()
    for path in (here / "grammar.lark", here / "grammar.py", here / "literals.py", Path(__file__),
                 here.parent / "core" / "nodes.py"):
        digest.update(path.read_bytes())
    return digest.hexdigest() + ".json"


def _kept() -> dict:
    forms = _STORE.get("forms")
    if forms is None:
        forms = _STORE["forms"] = {}
        entry = cache_read("parsed", _store_name())
        if entry and b"\n" in entry:
            digest, _, payload = entry.partition(b"\n")
            if hashlib.sha256(payload).hexdigest().encode("ascii") == digest:
                try:
                    found = json.loads(payload)
                except ValueError:
                    found = None
                if isinstance(found, dict):
                    forms.update(found)
    return forms


def keep_parsed() -> None:
    """Write the forms the grammar made since the last call to the cache (whole, or none when they would
    not fit one entry: the most recent ones are then kept)."""
    if not _STORE.pop("added", False):
        return
    forms = _STORE.get("forms", {})
    payload = json.dumps(forms, separators=(",", ":")).encode("utf-8")
    while len(payload) > CACHE_ENTRY_BYTES - 100 and forms:
        for text in list(forms)[:max(1, len(forms) // 4)]:  # the oldest quarter goes
            del forms[text]
        payload = json.dumps(forms, separators=(",", ":")).encode("utf-8")
    cache_write("parsed", _store_name(), hashlib.sha256(payload).hexdigest().encode("ascii") + b"\n" + payload)
