"""Stage 2b, parse a version: `RuleSource` -> `ParsedRuleSet` (every expression an AST).

Parameters and table cells are constants written in the same language as the
rules (`EUR 100`, `20 %`, `10 days`); rules, conditions, notes, checks and
outputs are expressions; messages are templates whose `{...}` parts are
expressions too. All syntax errors of a version are collected.

Tables are data: a cell of a `string` column is its text; any other cell is
read as one literal (`parse_constant`), through the grammar only when it is
something else (a list, a negative number). A row is read once, however many
versions keep it.
"""
from __future__ import annotations

import re
import weakref
from dataclasses import dataclass

from ..core import nodes
from ..core.diagnostics import Diagnostic
from ..source.load import PosDict, building
from .parse import parse_constant, parse_expression
from ..source.source import Item, Row, RuleSource, Text, text_at

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
    tables: dict[str, ParsedTable]  # table -> row key -> its cells
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


def _read(text: Text, problems: list[Diagnostic]) -> nodes.Expr | None:
    expr, found = parse_constant(text.text, text.place)
    problems += found
    return expr


def _constant(data, key, file_text: str, problems) -> nodes.Expr | None:
    """The constant written under `key` of a mapping (or `data` itself when it is not a mapping)."""
    value = data[key] if isinstance(data, PosDict) else data
    if isinstance(value, bool):
        return nodes.Literal("bool", value, str(value).lower(), data.value_locs[key].span)
    if isinstance(value, list):
        items = []
        for i, element in enumerate(value):
            expr = _read(Text(str(element), value.value_locs[i], file_text), problems) if not isinstance(
                element, bool) else nodes.Literal("bool", element, str(element).lower(), value.value_locs[i].span)
            if expr is not None:
                items.append(expr)
        return nodes.ListOf(tuple(items), data.value_locs[key].span)
    if isinstance(data, PosDict) and key in data:
        return _read(text_at(data, key, file_text), problems)
    return _read(Text(str(value), None, file_text), problems)


class ParsedRow:
    """A table row read: column -> literal (None when the cell cannot be read). One per row as written,
    shared by every version that keeps the row, so later stages may keep what they work out from it."""

    __slots__ = ("cells", "problems", "checked")

    def __init__(self, cells: dict, problems: tuple):
        self.cells: dict[str, nodes.Expr | None] = cells
        self.problems: tuple[Diagnostic, ...] = problems
        self.checked: dict = {}  # the checker's values and problems, by the column types


class ParsedTable(dict):
    """row key -> ParsedRow: one table of a version, shared by the versions that keep its rows as they are
    (a version that changes no row of a table holds the very same rows)."""

    def __init__(self, rows: dict):
        super().__init__()
        self.rows = rows  # the rows read, kept so that the memo below is never fooled by a reused id
        self.problems: tuple[Diagnostic, ...] = ()
        self.checked: dict = {}  # the checker's result for the table, by what it depends on


# (id of the rows, the table's columns) -> the table read: kept while a version holds it
_READ_TABLES: "weakref.WeakValueDictionary[tuple, ParsedTable]" = weakref.WeakValueDictionary()


def _parsed_row(row: Row, columns, signature: str, file_text: str, problems: list[Diagnostic]) -> ParsedRow:
    known = row.memo.get(signature)
    if known is not None:
        problems += known.problems
        return known
    found: list[Diagnostic] = []
    cells: dict[str, nodes.Expr | None] = {}
    data = row.data
    if isinstance(data, PosDict):
        text = row.file_text or file_text
        for column, value in data.items():
            if columns.get(column, "string") == "string":
                cells[column] = nodes.Literal("string", "" if value is None else str(value), str(value),
                                              data.value_locs[column].span)
            else:
                cells[column] = _constant(data, column, text, found)
    parsed = row.memo[signature] = ParsedRow(cells, tuple(found))
    problems += found
    return parsed


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
    with building():
        return _parse_ruleset(source)


def _parse_ruleset(source: RuleSource) -> tuple[ParsedRuleSet, list[Diagnostic]]:
    problems: list[Diagnostic] = []
    parameters = {}
    for name, item in source.parameters.items():
        expr = _constant(item.data, "value", item.file_text, problems) if isinstance(item.data, PosDict) else None
        parameters[name] = ParsedItem(item, expr, None, {})
    tables: dict[str, ParsedTable] = {}
    for name, table in source.tables.items():
        columns = table.data.get("columns") or {}
        signature = repr((tuple((str(k), str(v)) for k, v in columns.items()), hash(table.file_text)))
        rows = source.table_rows.get(name, {})
        parsed = _READ_TABLES.get((id(rows), signature))
        if parsed is None or parsed.rows is not rows:
            parsed, found = ParsedTable(rows), []
            for key, row in rows.items():
                parsed[key] = _parsed_row(row, columns, signature, table.file_text, found)
            parsed.problems = tuple(found)
            _READ_TABLES[(id(rows), signature)] = parsed
        problems += parsed.problems
        tables[name] = parsed
    parsed = ParsedRuleSet(
        source=source, parameters=parameters, tables=tables,
        rules={n: _parsed(i, "value", problems) for n, i in source.rules.items()},
        conditions={n: _parsed(i, "fails_when", problems) for n, i in source.conditions.items()},
        notes={n: _parsed(i, "when", problems) for n, i in source.notes.items()},
        input_checks={n: _parsed(i, "fails_when", problems) for n, i in source.input_checks.items()},
        outputs={n: _parsed(i, "value", problems) for n, i in source.outputs.items()},
    )
    return parsed, problems
