"""Printers: AST -> canonical expression text; a checked version -> canonical data.

The canonical forms ignore layout (white space, comments, key order, line
breaks), so two versions that differ only in formatting print, hash and diff
the same. `kmo-rules show` prints the canonical data of a version as YAML.
"""
from __future__ import annotations

import hashlib
import json
from decimal import Decimal

from ..core import nodes
from ..core.kinds import EXPRESSION_KINDS, KINDS, SHOWN
from .check import CheckedRuleSet, Definition
from ..core.values import Duration

_PRECEDENCE = {"if": 0, "or": 1, "and": 2, "not": 3, "compare": 4, "+": 5, "-": 5, "*": 6, "/": 6, "neg": 7}


def _money_literal(value) -> str:
    """EUR 100 and EUR 100.00 print alike: whole euros without cents, else two decimals."""
    if value == value.to_integral_value():
        return f"EUR {int(value)}"
    return f"EUR {value.quantize(Decimal('0.01')) if value == value.quantize(Decimal('0.01')) else value}"


def print_literal(expr: nodes.Literal) -> str:
    value = expr.value
    if expr.kind == "money":
        return _money_literal(value)
    if expr.kind == "percent":
        return f"{format((value * 100).normalize(), 'f')} %"
    if expr.kind == "duration":
        return str(value)
    if expr.kind == "date":
        return expr.text
    if expr.kind == "string":
        return json.dumps(value, ensure_ascii=False)
    if expr.kind == "bool":
        return "true" if value else "false"
    if expr.kind == "null":
        return "null"
    return str(value)


def print_expr(expr, parent: int = -1) -> str:
    """Canonical text of an expression, with only the parentheses it needs."""
    def wrap(text: str, own: int) -> str:
        return f"({text})" if own < parent or (own == parent and own == _PRECEDENCE["compare"]) else text

    match expr:
        case nodes.Literal():
            return print_literal(expr)
        case nodes.Name(name=name):
            return name
        case nodes.Field(subject=subject, name=name):
            return f"{print_expr(subject, 9)}.{name}"
        case nodes.Index(subject=subject, key=key):
            return f"{print_expr(subject, 9)}[{print_expr(key)}]"
        case nodes.Negate(operand=operand):
            return wrap(f"-{print_expr(operand, 7)}", 7)
        case nodes.Binary(op=op, left=left, right=right):
            own = _PRECEDENCE[op]
            return wrap(f"{print_expr(left, own)} {op} {print_expr(right, own + 1)}", own)
        case nodes.Compare(op=op, left=left, right=right):
            own = _PRECEDENCE["compare"]
            return wrap(f"{print_expr(left, own + 1)} {op} {print_expr(right, own + 1)}", own)
        case nodes.Member(item=item, container=container, negated=negated):
            own = _PRECEDENCE["compare"]
            return wrap(f"{print_expr(item, own + 1)} {'not in' if negated else 'in'} {print_expr(container, own + 1)}", own)
        case nodes.And(left=left, right=right):
            return wrap(f"{print_expr(left, 2)} and {print_expr(right, 3)}", 2)
        case nodes.Or(left=left, right=right):
            return wrap(f"{_grouped(left, 1)} or {_grouped(right, 2)}", 1)
        case nodes.Not(operand=operand):
            return wrap(f"not {print_expr(operand, 3)}", 3)
        case nodes.If(condition=condition, then=then, otherwise=otherwise):
            return wrap(f"if {print_expr(condition)} then {_grouped_if(then)} else {print_expr(otherwise)}", 0)
        case nodes.Call(function=function, args=args):
            return f"{function}({', '.join(print_expr(a) for a in args)})"
        case nodes.Aggregate(function=function, body=body, variable=variable, source=source, filter=condition):
            tail = f" if {print_expr(condition)}" if condition is not None else ""
            return f"{function}({print_expr(body)} for {variable} in {print_expr(source)}{tail})"
        case nodes.ListOf(items=items):
            return "[" + ", ".join(print_expr(i) for i in items) + "]"
    raise AssertionError(f"unhandled node {expr!r}")  # pragma: no cover


def _grouped(expr, parent: int) -> str:
    """An `and` inside an `or` keeps its parentheses: correct without, but easy to misread."""
    text = print_expr(expr, parent)
    return f"({text})" if isinstance(expr, nodes.And) else text


def _grouped_if(expr) -> str:
    """An `if` in a `then` branch keeps its parentheses."""
    text = print_expr(expr)
    return f"({text})" if isinstance(expr, nodes.If) else text


def print_value(value) -> str:
    """A constant as it would be written in a rule file."""
    from decimal import Decimal
    from datetime import date
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Duration):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return "[" + ", ".join(print_value(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def print_parameter(parameter) -> str:
    from ..core import typesys as T
    value = parameter.value
    if parameter.type == T.MONEY:
        return f"EUR {format(value, 'f')}"
    if parameter.type == T.PERCENT:
        return f"{format((value * 100).normalize(), 'f')} %"
    return print_value(value)


def _template(template) -> str:
    return "".join(part if isinstance(part, str) else "{" + print_expr(part) + "}" for part in template.parts)


def _definition(d: Definition, key: str) -> dict:
    out = {key: print_expr(d.expr)}
    if d.kind == "rule":
        out["type"] = str(d.type)
    if d.label:
        out["label"] = dict(d.label)
    if d.messages:
        out["message"] = {lang: _template(t) for lang, t in sorted(d.messages.items())}
    if d.path:
        out["path"] = d.path
    if d.source:
        out["source"] = d.source
    if d.assumption:
        out["assumption"] = d.assumption
    return out


_PRINTED_ROWS: dict[int, tuple[dict, dict]] = {}


def _printed_rows(rows: dict) -> dict:
    """A table's rows as text; versions that keep a row share it, so each row is printed once."""
    out = {}
    for key, row in rows.items():
        known = _PRINTED_ROWS.get(id(row))
        if known is None or known[0] is not row:
            known = (row, {c: print_value(v) if v is not None else None for c, v in row.items()})
            _PRINTED_ROWS[id(row)] = known
        out[key] = known[1]
    if len(_PRINTED_ROWS) > 1_000_000:
        _PRINTED_ROWS.clear()
    return out


def canonical(checked: CheckedRuleSet, with_provenance: bool = False) -> dict:
    """A version as plain data, independent of layout: for show, hashing and diff."""
    source = checked.source
    out = {
        "ruleset": source.ruleset, "version": source.version,
        "effective_from": source.effective_from.isoformat(),
        "effective_until": source.effective_until.isoformat() if source.effective_until else None,
        "summary": source.summary, "source": source.source,
    }
    if source.assumptions:
        out["assumptions"] = list(source.assumptions)
    parameters = {}
    for name, p in checked.parameters.items():
        entry = {"value": print_parameter(p), "source": p.source}
        if p.label:
            entry["label"] = dict(p.label)
        if p.assumption:
            entry["assumption"] = p.assumption
        if with_provenance:
            entry["changed_in"] = p.changed_in
        parameters[name] = entry
    out["parameters"] = parameters
    tables = {}
    for name, t in checked.tables.items():
        entry = {"source": t.source}
        if t.sample:
            entry["sample"] = t.sample
        entry["columns"] = {k: str(v) for k, v in t.type.row.fields}
        entry["rows"] = _printed_rows(t.rows)
        tables[name] = entry
    out["tables"] = tables
    for kind in _SHOWN_DEFINITIONS:
        out[kind.section] = {}
        for name, d in getattr(checked, kind.section).items():
            entry = _definition(d, kind.expression_key)
            if with_provenance:
                entry["changed_in"] = d.changed_in
            out[kind.section][name] = entry
    return out


_SHOWN_DEFINITIONS = tuple(kind for kind in SHOWN if kind in EXPRESSION_KINDS)  # rules, input checks, ...


def canonical_text(checked: CheckedRuleSet) -> str:
    """The text whose sha256 is the version's content hash: compact JSON, keys sorted, UTF-8, no newline.

    Key order is layout, except where order is meaning: reasons and notes come
    out in the order of their conditions and notes, fields in the order of
    outputs, so that order is written under "order".
    """
    data = canonical(checked)
    data["order"] = {kind.section: list(getattr(checked, kind.section)) for kind in KINDS if kind.ordered}
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def content_hash(checked: CheckedRuleSet) -> str:
    """sha256 of the canonical text: the same rules always give the same hash (`show --canonical | sha256sum`)."""
    return hashlib.sha256(canonical_text(checked).encode("utf-8")).hexdigest()
