"""The constants of a version: its parameters and its tables, each value read once, before any expression.

A parameter is a constant expression (EUR 100, 20 %, a list of them); its
dotted name places it in a tree of groups (`rates.small`), which a name may
not be both a leaf and a group of. A table's cells are constants of their
column's declared type, its keys the values of the case field it is keyed
by, if any. A table or a row kept unchanged from the version before is not
checked again.
"""
from __future__ import annotations

from ..core import nodes
from ..core import typesys as T
from ..core.diagnostics import Diagnostic
from ..core.suggest import did_you_mean
from .checked import ERROR, Parameter, Problems, TableDef
from .parsed import ParsedTable
from .resolve import input_paths, input_type

_LONGEST_TYPE = 200  # characters of a declared column type: `list of list of ...` is not read without end


def literal_type(kind: str):
    return {"money": T.MONEY, "percent": T.PERCENT, "duration": T.DURATION, "date": T.DATE,
            "decimal": T.DECIMAL, "int": T.INT, "string": T.STRING, "bool": T.BOOL, "null": T.NULL}[kind]


def constant_value(expr):
    """The value of a constant expression (literal, list of literals, negated literal), or raise ValueError."""
    if isinstance(expr, nodes.Literal):
        if expr.kind == "date" and expr.value is None:
            raise ValueError(f"'{expr.text}' is not a real date")
        return expr.value, literal_type(expr.kind)
    if isinstance(expr, nodes.Negate):
        value, typ = constant_value(expr.operand)
        return -value, typ
    if isinstance(expr, nodes.ListOf):
        pairs = [constant_value(item) for item in expr.items]
        item_type = pairs[0][1] if pairs else T.STRING
        for _, typ in pairs[1:]:
            unified = T.unify(item_type, typ)
            if unified is None:
                raise ValueError(f"a list mixes {item_type} and {typ}")
            item_type = unified
        return tuple(v for v, _ in pairs), T.List(item_type)
    raise ValueError("a parameter must be a constant such as EUR 100, 20 %, 10 days, 2024-01-01 or 100")


# -- parameters ------------------------------------------------------------
def check_parameters(parsed: dict, problems: Problems) -> tuple[dict[str, Parameter], dict]:
    """Each parameter with its value, and the tree of their dotted names (a leaf holds the full name)."""
    parameters: dict[str, Parameter] = {}
    tree: dict = {}
    for name, written in parsed.items():
        if written.expr is None:
            continue
        try:
            value, typ = constant_value(written.expr)
        except ValueError as error:
            problems.error("parameter-value", f"parameter {name}: {error}", written.expr.span or written.span)
            continue
        parameters[name] = Parameter(name, value, typ, written.span, written.source, written.label,
                                     written.changed_in, written.text, written.assumption)
        _place(tree, name, written.span, problems)
    return parameters, tree


def _place(tree: dict, name: str, span, problems: Problems) -> None:
    node = tree
    parts = name.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            problems.error("name-clash", f"parameter {name} is inside {part}, which is itself a parameter", span)
            return
    if parts[-1] in node and isinstance(node[parts[-1]], dict):
        problems.error("name-clash", f"parameter {name} is also a group of parameters", span)
    node[parts[-1]] = name


# -- tables ----------------------------------------------------------------
def check_tables(parsed: dict[str, ParsedTable], case_type: T.Record, problems: Problems) -> dict[str, TableDef]:
    from ..source.load import building  # a large table makes many objects at once: see building()
    with building():
        return {name: _table(table, case_type, problems) for name, table in parsed.items()}


def _table(table: ParsedTable, case_type: T.Record, problems: Problems) -> TableDef:
    name = table.name
    key_type = _key_type(table, case_type, problems)
    columns = _columns(table, problems)
    signature = repr((name, tuple(columns.items())))  # one text for the whole table: cheap to look up
    memo = table.rows.checked  # the table as the version before had it, if unchanged
    known = memo.get((signature, key_type, table.key))
    if known is None:
        found = Problems()
        rows, versions = _rows(table, key_type, columns, signature, found)
        known = memo[(signature, key_type, table.key)] = (rows, versions, list(found))
    problems += known[2]
    rows, versions = known[0], known[1]
    row_type = T.Record(f"row of {name}", tuple(columns.items()))
    return TableDef(name, T.Table(name, key_type, row_type), rows, table.key_prefix, table.source, table.span,
                    table.changed_in, table.sample, versions, table.key, table.assumption, table.description)


def _key_type(table: ParsedTable, case_type: T.Record, problems: Problems):
    if table.key is None:
        return T.STRING
    key_type = input_type(case_type, table.key)
    if key_type is None:
        problems.error("table-key", f"table {table.name}: key '{table.key}' is not a field of the case",
                       table.key_span, did_you_mean(table.key, input_paths(case_type)))
        return T.STRING
    return key_type


def _columns(table: ParsedTable, problems: Problems) -> dict:
    columns = {}
    for column in table.columns:
        declared = column.declared
        typ = T.parse_type(declared) if len(declared) <= _LONGEST_TYPE else None
        if typ is None:
            shown = declared if len(declared) <= 60 else declared[:57] + "..."
            problems.error("table-column", f"table {table.name}: column {column.name} has an unknown type "
                           f"'{shown}'", column.span)
            typ = ERROR
        columns[column.name] = typ
    return columns


def _rows(table: ParsedTable, key_type, columns: dict, signature: str, problems: Problems) -> tuple[dict, dict]:
    """A table's rows, each cell a value of its column's type, and the version that last changed each."""
    name = table.name
    members = frozenset(key_type.members) if isinstance(key_type, T.Enum) else None
    rows, versions = {}, {}
    for key, row in table.rows.items():
        if members is not None and key not in members:
            problems.error("table-key", f"table {name}: '{key}' is not a value of {table.key}", row.span,
                           did_you_mean(key, key_type.members) or
                           f"the values of {table.key} are listed in the case schema; add '{key}' there first")
        checked = row.checked.get(signature)  # a row kept by several versions is checked once
        if checked is None:
            checked = row.checked[signature] = _row(name, key, row, columns)
        rows[key] = checked[0]
        problems += checked[1]
        versions[key] = row.changed_in
    return rows, versions


def _row(name: str, key: str, row, columns: dict) -> tuple[dict, list[Diagnostic]]:
    """A row's cells as values of their column's type, and the problems found."""
    found: list[Diagnostic] = []
    cells = {}
    for column, expr in row.cells.items():
        if column not in columns:
            found.append(_unknown_column(name, key, row, column, columns))
        elif expr is not None:
            value, problem = _cell(f"table {name}, row {key}, column {column}", expr, columns[column])
            if problem is not None:
                found.append(problem)
            if value is not _NO_VALUE:
                cells[column] = value
    for column, typ in columns.items():
        if column not in cells and column not in row.cells and not isinstance(typ, T.Optional):
            found.append(Diagnostic("table-value", f"table {name}, row {key}: column {column} is missing", row.span))
        cells.setdefault(column, None)
    return cells, found


_NO_VALUE = object()


def _cell(where: str, expr, expected) -> tuple[object, Diagnostic | None]:
    """A cell's value (or _NO_VALUE) and what is wrong with it, if anything."""
    try:
        value, typ = constant_value(expr)
    except ValueError as error:
        return _NO_VALUE, Diagnostic("table-value", f"{where}: {error}", expr.span)
    if expected is not ERROR and typ != expected and T.unify(expected, typ) != expected:
        return value, Diagnostic("table-value", f"{where}: expected {expected}, got {typ}", expr.span)
    return value, None


def _unknown_column(name: str, key: str, row, column: str, columns: dict) -> Diagnostic:
    at = row.column_spans.get(column)
    return Diagnostic("table-column", f"table {name}, row {key}: unknown column '{column}'",
                      at if at is not None else row.span,
                      did_you_mean(column, columns) or (f"columns: {', '.join(columns)}" if columns else
                                                        "declare it under columns:"))
