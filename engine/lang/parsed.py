"""Stage 2b, parse a version: `RuleSource` -> `ParsedRuleSet` (every expression an AST).

Parameters and table cells are constants written in the same language as the
rules (`EUR 100`, `20 %`, `10 days`); rules, conditions, notes, checks and
outputs are expressions; messages are templates whose `{...}` parts are
expressions too. All syntax errors of a version are collected.

Tables are data: a cell of a `string` column is its text; any other cell is
read as one literal (`parse_constant`), through the grammar only when it is
something else (a list, a negative number). A row is read once, however many
versions keep it.

This is the last stage that opens the YAML a rule file was loaded into: each
definition comes out typed and frozen (`ParsedParameter`, `ParsedTable`,
`ParsedDefinition`), its wording, declared type, key and columns read here,
with the places they were written, so that no later stage reads a mapping.
"""
from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, fields, replace
from types import MappingProxyType

from ..core import nodes
from ..core.diagnostics import Diagnostic
from ..core.kinds import BY_ID, EXPRESSION_KINDS, Kind
from ..core.span import Span
from ..source.load import PosDict, building
from .parse import dotted_path, keep_parsed, parse_constant, parse_expression
from ..source.source import Item, Row, RuleSource, Text, text_at

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True, slots=True)
class Template:
    """A message with `{expression}` parts: text pieces and expressions, in order."""

    parts: tuple[object, ...]  # str | nodes.Expr
    text: str


@dataclass(frozen=True, slots=True)
class ParsedParameter:
    """A parameter as written: its constant read, its wording, where it was written, the version that set it."""

    name: str
    kind: Kind
    expr: nodes.Expr | None  # the constant (None when it cannot be read)
    text: str  # the value as written
    source: str
    label: dict  # language -> text
    assumption: str | None
    span: Span  # of its name
    value_span: Span | None  # of its value as written
    changed_in: str
    namespace: str = ""  # the prefix a module's parameter is read under ("" for the scheme's own)


@dataclass(frozen=True, slots=True)
class ParsedDefinition:
    """A rule, condition, note, input check or output as written: its expression parsed, its messages
    (conditions, notes and input checks), declared type (rules) or path (input checks), its wording."""

    name: str
    kind: Kind
    expr: nodes.Expr | None  # None when the expression does not parse
    text: str  # the expression as written
    source: str
    label: dict  # language -> text
    assumption: str | None
    messages: dict[str, Template]  # language -> template
    span: Span  # of its name
    value_span: Span | None  # of its value as written
    changed_in: str
    declared_type: str | None = None  # a rule's `type:` as written
    type_span: Span | None = None
    path: str | None = None  # an input check's case field, as reported
    namespace: str = ""  # the module whose names its expression reads ("" for the scheme's own)


@dataclass(frozen=True, slots=True)
class Column:
    """A column of a table: its name and its type as written (the checker reads the type)."""

    name: str
    declared: str
    span: Span  # of the type as written


@dataclass(frozen=True, slots=True)
class ParsedTable:
    """A table as written: what keys it, its columns, its rows read (shared by the versions that keep them)."""

    name: str
    kind: Kind
    source: str
    label: dict
    assumption: str | None
    description: str | None
    sample: str | None
    key: str | None  # the case field whose values are its keys
    key_span: Span | None
    key_prefix: bool
    columns: tuple[Column, ...]
    rows: ParsedRows
    span: Span  # of its name
    value_span: Span | None
    changed_in: str
    namespace: str = ""


@dataclass(frozen=True)
class ParsedRuleSet:
    """A version parsed: its definitions by kind (the sections of `core/kinds.py`), each by name."""

    source: RuleSource  # the version's header (ruleset, dates, summary, source) for the stages after
    parameters: dict[str, ParsedParameter]
    tables: dict[str, ParsedTable]
    rules: dict[str, ParsedDefinition]
    conditions: dict[str, ParsedDefinition]
    notes: dict[str, ParsedDefinition]
    input_checks: dict[str, ParsedDefinition]
    outputs: dict[str, ParsedDefinition]


_PARSED: dict = {}  # (text, file, offset, file text) -> what parsing gave: every version, every scheme shares it
_PARSED_MAX = 50_000


def _once(text: Text, make):
    """What parsing a text gives, made once however many versions (and schemes) hold the item it comes from.
    The nodes are frozen, and each checked version keeps its own bindings: sharing them is safe."""
    if text.loc is None:
        return make()
    key = (text.text, text.loc.file, text.loc.start, hash(text.file_text))
    found = _PARSED.get(key)
    if found is None:
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        found = _PARSED[key] = make()
    return found


def _expression(text: Text, problems: list[Diagnostic]) -> nodes.Expr | None:
    expr, found = _once(text, lambda: parse_expression(text.text, text.place))
    problems += found
    return expr


def parse_template(text: Text, problems: list[Diagnostic]) -> Template:
    template, found = _once(text, lambda: _template(text))
    problems += found
    return template


def _template(text: Text) -> tuple[Template, list[Diagnostic]]:
    problems: list[Diagnostic] = []
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
    return Template(tuple(parts), text.text), problems


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
    """A table row read: column -> literal (None when the cell cannot be read), with where the row and each
    of its columns were written and the version that wrote it. One per row as written, shared by every
    version that keeps the row, so later stages may keep what they work out from it."""

    __slots__ = ("key", "span", "changed_in", "cells", "column_spans", "problems", "checked")

    def __init__(self, key: str, span: Span, changed_in: str, cells: dict, column_spans, problems: tuple):
        self.key, self.span, self.changed_in = key, span, changed_in
        self.cells: dict[str, nodes.Expr | None] = cells
        self.column_spans = column_spans  # column -> the Span of its name in the row, made when asked
        self.problems: tuple[Diagnostic, ...] = problems
        self.checked: dict = {}  # the checker's values and problems, by the column types


class ParsedRows(dict):
    """row key -> ParsedRow: the rows of one table of a version, shared by the versions that keep its rows
    as they are (a version that changes no row of a table holds the very same rows)."""

    def __init__(self, written: dict):
        super().__init__()
        self.written = written  # the rows as written, kept so that the memo below is never fooled by a reused id
        self.problems: tuple[Diagnostic, ...] = ()
        self.checked: dict = {}  # the checker's result for the table, by what it depends on


# (id of the rows, the table's columns) -> the rows read: kept while a version holds them
_READ_TABLES: "weakref.WeakValueDictionary[tuple, ParsedRows]" = weakref.WeakValueDictionary()
_NO_SPANS = MappingProxyType({})


def _parsed_row(row: Row, columns, signature: str, file_text: str, problems: list[Diagnostic]) -> ParsedRow:
    known = row.memo.get(signature)
    if known is not None:
        problems += known.problems
        return known
    found: list[Diagnostic] = []
    cells: dict[str, nodes.Expr | None] = {}
    data = row.data
    column_spans = _NO_SPANS
    if isinstance(data, PosDict):
        column_spans = data.key_spans
        text = row.file_text or file_text
        for column, value in data.items():
            if columns.get(column, "string") == "string":
                cells[column] = nodes.Literal("string", "" if value is None else str(value), str(value),
                                              data.value_locs[column].span)
            else:
                cells[column] = _constant(data, column, text, found)
    parsed = row.memo[signature] = ParsedRow(row.key, row.span, row.changed_in, cells, column_spans, tuple(found))
    problems += found
    return parsed


def _messages(data: PosDict, item: Item, problems) -> dict[str, Template]:
    message = data.get("message")
    if isinstance(message, PosDict):
        return {lang: parse_template(text_at(message, lang, item.file_text), problems) for lang in message}
    if isinstance(message, str):
        return {"en": parse_template(text_at(data, "message", item.file_text), problems)}
    return {}


def _wording(data) -> tuple[str, dict, str | None]:
    """The legal source, the label and the assumption written in a definition's mapping."""
    if not isinstance(data, PosDict):
        return "", {}, None
    assumption = data.get("assumption")
    if isinstance(assumption, dict):  # one text per language
        assumption = {str(lang): str(text) for lang, text in assumption.items()}
    return str(data.get("source", "")), dict(data.get("label") or {}), assumption


def _value_span(item: Item) -> Span | None:
    return item.loc.span if item.loc is not None else None


def _parameter(item: Item, problems) -> ParsedParameter:
    data = item.data
    if isinstance(data, PosDict):
        expr, text = _constant(data, "value", item.file_text, problems), str(data.get("value"))
    else:
        expr, text = None, ""
    source, label, assumption = _wording(data)
    return ParsedParameter(item.name, BY_ID["parameter"], expr, text, source, label, assumption, item.span,
                           _value_span(item), item.changed_in, item.namespace)


def _definition(item: Item, kind: Kind, problems) -> ParsedDefinition:
    data = item.data
    source, label, assumption = _wording(data)
    if not isinstance(data, PosDict):
        text = Text("" if data is None else str(data), item.loc, item.file_text)
        return ParsedDefinition(item.name, kind, _expression(text, problems), text.text, source, label, assumption,
                                {}, item.span, _value_span(item), item.changed_in, namespace=item.namespace)
    text = text_at(data, kind.expression_key, item.file_text)
    expr = _expression(text, problems)
    messages = _messages(data, item, problems)
    declared = type_span = path = None
    if kind.id == "rule" and data.get("type"):
        declared, type_span = str(data["type"]), data.value_locs["type"].span
    if kind.id == "input_check" and "path" in data:
        path = str(data["path"])
    return ParsedDefinition(item.name, kind, expr, text.text, source, label, assumption, messages, item.span,
                            _value_span(item), item.changed_in, declared, type_span, path, item.namespace)


def _table(item: Item, rows: dict[str, Row], problems) -> ParsedTable:
    data = item.data if isinstance(item.data, PosDict) else PosDict()
    written = data.get("columns") or {}
    column_spans = written.value_locs if isinstance(written, PosDict) else {}
    columns = tuple(Column(name, str(declared), column_spans[name].span) for name, declared in written.items())
    signature = repr((tuple((str(c.name), c.declared) for c in columns), hash(item.file_text)))
    declared = {c.name: c.declared for c in columns}
    parsed = _READ_TABLES.get((id(rows), signature))
    if parsed is None or parsed.written is not rows:
        parsed, found = ParsedRows(rows), []
        for key, row in rows.items():
            parsed[key] = _parsed_row(row, declared, signature, item.file_text, found)
        parsed.problems = tuple(found)
        _READ_TABLES[(id(rows), signature)] = parsed
    problems += parsed.problems
    source, label, assumption = _wording(data)
    key = str(data["key"]) if data.get("key") else None
    return ParsedTable(item.name, BY_ID["table"], source, label, assumption, data.get("description"),
                       data.get("sample"), key, data.value_locs["key"].span if key is not None else None,
                       bool(data.get("key_prefix")), columns, parsed, item.span, _value_span(item), item.changed_in,
                       item.namespace)


def _join(expr, dotted: frozenset):
    """`sme.size_class`, read as a chain of fields, -> the one name of the module's rule it spells."""
    if isinstance(expr, nodes.Field) and dotted_path(expr) in dotted:
        return nodes.Name(dotted_path(expr), expr.span)
    changed = {}
    for part in fields(expr):
        value = getattr(expr, part.name)
        if isinstance(value, tuple):
            new = tuple(_join(v, dotted) if isinstance(v, nodes.EXPR_TYPES) else v for v in value)
            if any(a is not b for a, b in zip(new, value)):
                changed[part.name] = new
        elif isinstance(value, nodes.EXPR_TYPES):
            new = _join(value, dotted)
            if new is not value:
                changed[part.name] = new
    return replace(expr, **changed) if changed else expr


def _with_dotted_names(definition: ParsedDefinition, dotted: frozenset) -> ParsedDefinition:
    if definition.namespace:
        return definition  # a module's own expressions read its short names
    expr = _join(definition.expr, dotted) if definition.expr is not None else None
    messages = {lang: Template(tuple(_join(p, dotted) if isinstance(p, nodes.EXPR_TYPES) else p for p in t.parts), t.text)
                for lang, t in definition.messages.items()}
    return replace(definition, expr=expr, messages=messages)


def parse_ruleset(source: RuleSource) -> tuple[ParsedRuleSet, list[Diagnostic]]:
    """Every expression of a version parsed; syntax errors collected, not raised."""
    with building():
        try:
            return _parse_ruleset(source)
        finally:
            keep_parsed()  # what the grammar read, for the next run


def _parse_ruleset(source: RuleSource) -> tuple[ParsedRuleSet, list[Diagnostic]]:
    problems: list[Diagnostic] = []
    parameters = {name: _parameter(item, problems) for name, item in source.parameters.items()}
    tables = {name: _table(item, source.table_rows.get(name, {}), problems) for name, item in source.tables.items()}
    definitions = {kind.section: {name: _definition(item, kind, problems)
                                  for name, item in getattr(source, kind.section).items()}
                   for kind in EXPRESSION_KINDS}
    dotted = frozenset(name for name in list(source.rules) + list(source.tables) if "." in name)
    if dotted:  # a module's rules and tables, read by the scheme under their prefix
        definitions = {section: {name: _with_dotted_names(d, dotted) for name, d in group.items()}
                       for section, group in definitions.items()}
    return ParsedRuleSet(source=source, parameters=parameters, tables=tables, **definitions), problems
