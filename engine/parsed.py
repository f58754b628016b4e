"""Stage 2b, parse a version: `RuleSource` -> `ParsedRuleSet` (every expression an AST).

Parameters and table cells are constants written in the same language as the
rules (`EUR 100`, `20 %`, `10 days`); rules, conditions, notes, checks and
outputs are expressions; messages are templates whose `{...}` parts are
expressions too. All syntax errors of a version are collected.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from . import nodes
from .diagnostics import Diagnostic
from .load import PosDict
from .parse import parse_expression
from .source import Item, RuleSource, Text, text_at

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True, slots=True)
class Template:
    """A message with `{expression}` parts: text pieces and expressions, in order."""

    parts: tuple[object, ...]  # str | nodes.Expr
    text: str


@dataclass(frozen=True)
class ParsedItem:
    item: Item
    expr: nodes.Expr | None
    text: Text | None
    messages: dict[str, Template]


@dataclass(frozen=True)
class ParsedRuleSet:
    source: RuleSource
    parameters: dict[str, ParsedItem]
    tables: dict[str, dict[str, dict[str, ParsedItem]]]  # table -> row key -> column -> cell
    rules: dict[str, ParsedItem]
    conditions: dict[str, ParsedItem]
    notes: dict[str, ParsedItem]
    input_checks: dict[str, ParsedItem]
    outputs: dict[str, ParsedItem]


def _expression(text: Text, problems: list[Diagnostic]) -> nodes.Expr | None:
    expr, found = parse_expression(text.text, text.place)
    problems += found
    return expr


def parse_template(text: Text, problems: list[Diagnostic]) -> Template:
    parts: list[object] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text.text):
        if match.start() > position:
            parts.append(text.text[position:match.start()])
        inner = match.group(1)
        offset = match.start(1)
        expr, found = parse_expression(inner, lambda o, offset=offset: text.place(offset + o))
        problems += found
        parts.append(expr if expr is not None else match.group(0))
        position = match.end()
    if position < len(text.text):
        parts.append(text.text[position:])
    return Template(tuple(parts), text.text)


def _constant_text(value, data, key, item: Item) -> Text:
    if isinstance(data, PosDict) and key in data:
        return text_at(data, key, item.file_text)
    return Text(str(value), None, item.file_text)


def _constant(item: Item, data, key, problems) -> nodes.Expr | None:
    value = data[key] if isinstance(data, PosDict) else data
    if isinstance(value, bool):
        return nodes.Literal("bool", value, str(value).lower(), data.value_locs[key].span)
    if isinstance(value, list):
        items = []
        for i, element in enumerate(value):
            text = Text(str(element), value.value_locs[i], item.file_text)
            expr = _expression(text, problems) if not isinstance(element, bool) else nodes.Literal(
                "bool", element, str(element).lower(), value.value_locs[i].span)
            if expr is not None:
                items.append(expr)
        return nodes.ListOf(tuple(items), data.value_locs[key].span)
    return _expression(_constant_text(value, data, key, item), problems)


def _messages(data: PosDict, item: Item, problems) -> dict[str, Template]:
    message = data.get("message")
    if isinstance(message, PosDict):
        return {lang: parse_template(text_at(message, lang, item.file_text), problems) for lang in message}
    if isinstance(message, str):
        return {"en": parse_template(text_at(data, "message", item.file_text), problems)}
    return {}


def _parsed(item: Item, key: str, problems) -> ParsedItem:
    data = item.data
    if isinstance(data, PosDict):
        text = text_at(data, key, item.file_text)
        return ParsedItem(item, _expression(text, problems), text, _messages(data, item, problems))
    text = Text("" if data is None else str(data), item.loc, item.file_text)
    return ParsedItem(item, _expression(text, problems), text, {})


def parse_ruleset(source: RuleSource) -> tuple[ParsedRuleSet, list[Diagnostic]]:
    """Every expression of a version parsed; syntax errors collected, not raised."""
    problems: list[Diagnostic] = []
    parameters = {}
    for name, item in source.parameters.items():
        expr = _constant(item, item.data, "value", problems) if isinstance(item.data, PosDict) else None
        parameters[name] = ParsedItem(item, expr, None, {})
    tables: dict[str, dict[str, dict[str, ParsedItem]]] = {}
    for name, table in source.tables.items():
        columns = table.data.get("columns") or {}
        rows = {}
        for key, row in source.table_rows.get(name, {}).items():
            cells = {}
            if isinstance(row.data, PosDict):
                for column in row.data:
                    cell_item = Item(f"{name}.{key}.{column}", row.data, row.span, table.file_text, row.changed_in)
                    if columns.get(column, "string") == "string":
                        value = row.data[column]
                        cells[column] = ParsedItem(cell_item, nodes.Literal(
                            "string", "" if value is None else str(value), str(value), row.data.value_locs[column].span),
                            None, {})
                    else:
                        cells[column] = ParsedItem(cell_item, _constant(cell_item, row.data, column, problems), None, {})
            rows[key] = cells
        tables[name] = rows
    parsed = ParsedRuleSet(
        source=source, parameters=parameters, tables=tables,
        rules={n: _parsed(i, "value", problems) for n, i in source.rules.items()},
        conditions={n: _parsed(i, "fails_when", problems) for n, i in source.conditions.items()},
        notes={n: _parsed(i, "when", problems) for n, i in source.notes.items()},
        input_checks={n: _parsed(i, "fails_when", problems) for n, i in source.input_checks.items()},
        outputs={n: _parsed(i, "value", problems) for n, i in source.outputs.items()},
    )
    return parsed, problems
