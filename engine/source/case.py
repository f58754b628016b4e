"""Cases: the case JSON Schema -> DSL types and a fast validator; raw case -> checked case.

The case schema (`schemas/case.schema.json`, named by the ruleset's
`case_schema`) is data from the rules folder, trusted no more than the rules.
It is read strictly, checked against the JSON Schema meta-schema, then against
the subset the engine supports (`_SchemaReader`); any problem is a
`CaseSchemaError` naming the file and the JSON path inside it. Only then is it
compiled into one Python function that checks and converts a case in one
pass: numbers become `Decimal` (whole numbers `int`), dates `datetime.date`,
missing optional fields get their schema `default`. Nothing from the schema
is ever written into that function's source: names, messages, patterns and
defaults are constants of its namespace, and every identifier is generated.
Every problem of a case is collected with its JSON path; nothing is raised
until all are known. A second function, its fast path (`_Fast`), checks and
converts a case that has no problem with far less work, and leaves every other
case to the first; the compiled decision of each version starts with the same
checks (`CaseModel.reading`).

Limits of what a case may hold, each an input error with its path (never a
crash or a hang); they are the constants below.
"""
from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import date
from decimal import (Clamped, Context, Decimal, DecimalException, DivisionByZero, Inexact, InvalidOperation,
                     Overflow, ROUND_HALF_EVEN, Rounded, Subnormal, Underflow)
from functools import lru_cache
from pathlib import Path
from re import _constants as _sre
from re import _parser as _sre_parse
from typing import Callable

from ..core import typesys as T
from ..core.diagnostics import CaseError, CaseProblem
from ..core.suggest import did_you_mean

# -- limits ------------------------------------------------------------------------------------------------
MAX_DEPTH = 32             # objects and lists nested in a case schema, so in any case the engine reads
MAX_ITEMS = 100_000        # list items in one case, all its lists together
MAX_STRING = 10_000        # characters of a text value (fewer when the schema's maxLength says so)
MAX_PATTERN_TEXT = 1_000   # characters of a text value checked against a schema pattern
MAX_DIGITS = 30            # significant digits of a number, as written (1.000 has four)
MAX_EXPONENT = 30          # a number's leading digit lies between the 1E-30 and the 1E+30 place
MAX_UNKNOWN_FIELDS = 20    # unknown fields named one by one in an object; the rest are counted
MAX_SCHEMA_NODES = 2_000   # schemas in a case schema once its $refs are followed
MAX_SCHEMA_BYTES = 256 * 1024  # of the case schema file (checking a larger one would take seconds)
SHOWN_CHARACTERS = 80      # of a wrong value, quoted in a message

_DECIMAL_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

# Every operation on a number is exact or uses one of these contexts, never the caller's.
_ALL_SIGNALS = [Clamped, DivisionByZero, Inexact, InvalidOperation, Overflow, Rounded, Subnormal, Underflow]
_EXACT = Context(prec=MAX_DIGITS, Emax=MAX_EXPONENT, Emin=-MAX_EXPONENT, rounding=ROUND_HALF_EVEN,
                 traps=_ALL_SIGNALS, flags=[])  # plus() keeps a number in the limits unchanged, or raises
_LOOSE = Context(prec=MAX_DIGITS + 2 * MAX_EXPONENT + 10, Emax=4 * MAX_EXPONENT, Emin=-4 * MAX_EXPONENT,
                 rounding=ROUND_HALF_EVEN, traps=[], flags=[])  # quantize / to_integral of such numbers
_PARSE = Context(traps=[InvalidOperation], flags=[])  # Decimal(text): exact; refuses what it cannot hold
_INT_LIMIT = 10 ** MAX_DIGITS
_SHOWN_INT_LIMIT = 10 ** (2 * MAX_DIGITS)
_CENT = Decimal("0.01")

TOO_MANY_DIGITS = (f"has more digits than the engine supports (at most {MAX_DIGITS} significant digits, "
                   f"between 1E-{MAX_EXPONENT} and 1E+{MAX_EXPONENT + 1} in size)")
TOO_MANY_ITEMS = f"has too many items: one case holds at most {MAX_ITEMS} list items in all"

Validator = Callable[[object, tuple, object, list], object]  # (value, parent path, key, problems)


@dataclass(frozen=True, slots=True)
class Case:
    """A case proved valid against one case schema: the only thing the evaluators decide.

    `values` holds its fields converted (money and numbers `Decimal`, whole
    numbers `int`, dates `datetime.date`, lists as tuples, defaults filled in),
    keyed as the schema names them; `schema` is the schema it was checked against.
    """

    values: dict = field(repr=False)
    schema: Path
    source: str | None = None


@dataclass(frozen=True)
class CaseModel:
    """What a case looks like: its DSL type (a record) and its compiled validator.

    `fast` is the validator's fast path (`_FastPath`): it gives the converted
    case, or None whenever `validate` might have something to say; `reading`
    writes it as lines of the compiled decision (`run/compile.py`).
    """

    schema_path: Path
    type: T.Record
    validate: Validator
    fast: "_FastPath | None" = field(default=None, repr=False, compare=False)

    def coerce(self, raw) -> tuple[dict | None, list[CaseProblem]]:
        """Raw case (parsed JSON or a mapping) -> checked, converted case, and the problems found."""
        if self.fast is not None:
            value = self.fast.accept(raw)
            if value is not None:
                return value, []
        problems: list[CaseProblem] = []
        value = self.validate(raw, (), None, problems)
        return (None if problems else value), problems

    def reading(self, var: str, wanted: dict[tuple, str], depth: int) -> tuple[list[str], dict] | None:
        """Lines that check a case in `var` and leave each wanted value (path -> local) in its local, and the
        namespace they need; None when the schema or a path has no fast path. See `_Fast`."""
        return self.fast.reading(var, wanted, depth) if self.fast is not None else None

    def case(self, raw, source: str | None = None) -> Case:
        """Raw case -> a Case, or CaseError listing every problem by its JSON path."""
        if isinstance(raw, Case) and raw.schema == self.schema_path:
            return raw
        values, problems = self.coerce(raw.values if isinstance(raw, Case) else raw)
        if problems:
            raise CaseError(problems, source)
        return Case(values, self.schema_path, source)


class CaseSchemaError(ValueError):
    """A case schema the engine cannot use.

    `message` says what is wrong, `path` where inside the schema (a tuple of
    keys and list positions; `pointer` is the same joined by '/'), `file` the
    schema file, and `line`, `column` (1-based, or None) where that path is
    written in it. str() reads `case.schema.json: properties/x/pattern: ...`.
    """

    def __init__(self, message: str, path: tuple = (), file: Path | str | None = None,
                 line: int | None = None, column: int | None = None):
        self.message = message
        self.path = tuple(path)
        self.file = file
        self.line = line
        self.column = column
        super().__init__(message)

    @property
    def pointer(self) -> str:
        return "/".join(str(part) for part in self.path)

    def __str__(self) -> str:
        name = Path(self.file).name if self.file is not None else "case schema"
        return f"{name}: {self.pointer}: {self.message}" if self.path else f"{name}: {self.message}"


# -- values as messages show them --------------------------------------------------------------------------

def _shown(value) -> str:
    """A wrong value as JSON text, cut at SHOWN_CHARACTERS; never slow, deep or failing, whatever it is."""
    if value.__class__ is Decimal:
        if value.is_finite() and value == value.to_integral_value(context=_LOOSE) and \
                len(value.as_tuple().digits) + value.as_tuple().exponent > 2 * MAX_DIGITS:
            return _many_digits(len(value.as_tuple().digits) + value.as_tuple().exponent)  # as for an int
        return str(value)[:SHOWN_CHARACTERS]
    out: list[str] = []
    _show(value, out, [SHOWN_CHARACTERS], 0)
    return "".join(out)[:SHOWN_CHARACTERS]


def _many_digits(count: int) -> str:
    """A whole number too long to quote, the same however it came (a JSON number, an int, a Decimal)."""
    return f"<an integer of {count} digits>"


def _show(value, out: list, room: list, depth: int) -> None:
    if room[0] <= 0:
        return
    if value is None or value is True or value is False:
        piece = "null" if value is None else ("true" if value else "false")
    elif value.__class__ is str:
        piece = json.dumps(value[:SHOWN_CHARACTERS + 2])
    elif isinstance(value, int):
        piece = str(value) if -_SHOWN_INT_LIMIT < value < _SHOWN_INT_LIMIT else \
            _many_digits(len(str(abs(value))) if value.bit_length() < 13_000 else int(value.bit_length() * 0.30103) + 1)
    elif value.__class__ is float:
        piece = "NaN" if value != value else ("Infinity" if value > 1e308 else "-Infinity" if value < -1e308
                                              else float.__repr__(value))
    elif value.__class__ is Decimal:
        piece = json.dumps(str(value)[:SHOWN_CHARACTERS])
    elif value.__class__ is _BigNumber:
        piece = value.text[:SHOWN_CHARACTERS]
    elif isinstance(value, Mapping) or (isinstance(value, (list, tuple))):
        mapping = isinstance(value, Mapping)
        if depth >= 8:
            piece = "{...}" if mapping else "[...]"
        else:
            out.append("{" if mapping else "[")
            room[0] -= 1
            try:
                for i, item in enumerate(value.items() if mapping else value):
                    if room[0] <= 0:
                        return
                    if i:
                        out.append(", ")
                        room[0] -= 2
                    if mapping:
                        key, item = item
                        out.append(json.dumps(key[:SHOWN_CHARACTERS]) if key.__class__ is str else
                                   json.dumps(_shown(key)))
                        out.append(": ")
                        room[0] -= len(out[-2]) + 2
                    _show(item, out, room, depth + 1)
            except Exception:  # a caller's own container that cannot be walked
                out.append("...")
            out.append("}" if mapping else "]")
            room[0] -= 1
            return
    else:
        try:
            piece = json.dumps(str(value)[:SHOWN_CHARACTERS])
        except Exception:
            piece = f"<{type(value).__name__}>"
    out.append(piece)
    room[0] -= len(piece)


class _BigNumber:
    """A number in JSON text that not even a Decimal holds (1e99999999999999999999): refused by path."""

    __slots__ = ("text",)

    def __init__(self, text: str):
        self.text = text


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


_MISSING = _Missing()
_BIG = _Missing()  # "a number beyond the limits" (a distinct sentinel)


# -- helpers the generated validator calls -----------------------------------------------------------------

def _number_of(value):
    """A float, a decimal string or an over-large JSON number -> exact number; None if not one; _BIG if too big."""
    cls = value.__class__
    if cls is str:
        if not _DECIMAL_TEXT.fullmatch(value):
            return None
        try:
            return _EXACT.plus(Decimal(value, _PARSE))
        except DecimalException:
            return _BIG
    if cls is float:
        if value - value != 0:  # NaN, infinities
            return None
        try:
            return _EXACT.plus(Decimal(repr(value), _PARSE))
        except DecimalException:
            return _BIG
    if cls is _BigNumber:
        return _BIG
    return None


def _as_object(value, path: tuple, problems: list):
    """Any mapping -> a plain dict; else None, and the problem is reported."""
    if isinstance(value, Mapping):
        try:
            return dict(value)
        except Exception:
            pass
    problems.append(CaseProblem(path, "must be an object, got " + _shown(value)))
    return None


def _as_list(value, path: tuple, problems: list):
    """Any sequence but text -> a list; else None, and the problem is reported."""
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray, memoryview)):
        try:
            size = len(value)
        except Exception:
            size = None
        if size is None or size > MAX_ITEMS:
            problems.append(CaseProblem(path, TOO_MANY_ITEMS))
            return None
        try:
            return list(value)
        except Exception:
            pass
    problems.append(CaseProblem(path, "must be a list, got " + _shown(value)))
    return None


def _did_you_mean(value, choices) -> str:
    hint = did_you_mean(value, choices, longest=64)
    return f" ({hint})" if hint else ""


def _unknown_fields(value: dict, known, path: tuple, problems: list) -> None:
    choices = sorted(known)
    extra = 0
    for name in value:
        if name in known:
            continue
        extra += 1
        if extra > MAX_UNKNOWN_FIELDS:
            continue
        if name.__class__ is not str:
            problems.append(CaseProblem(path, f"field names must be text, got {_shown(name)}"))
            continue
        hint = did_you_mean(name, choices, longest=64)
        hint = f"; {hint}" if hint else ""
        shown = name if len(name) <= 200 else name[:200] + "..."
        problems.append(CaseProblem(path + (shown,), f"unknown field{hint}"))
    if extra > MAX_UNKNOWN_FIELDS:
        problems.append(CaseProblem(path, f"has {extra - MAX_UNKNOWN_FIELDS} more unknown fields"))


# -- the case schema, read and checked: a tree of nodes ------------------------------------------------------

@dataclass(eq=False)
class _Node:
    at: tuple        # where the schema is written (after $refs are followed)
    nullable: bool


@dataclass(eq=False)
class _Enum(_Node):
    members: tuple


@dataclass(eq=False)
class _Number(_Node):
    integer: bool
    special: str | None  # money, percent, decimal
    minimum: object
    exclusive_minimum: object
    maximum: object
    exclusive_maximum: object


@dataclass(eq=False)
class _Date(_Node):
    pass


@dataclass(eq=False)
class _Bool(_Node):
    pass


@dataclass(eq=False)
class _Text(_Node):
    search: object  # a compiled pattern's search, or None
    max_length: int
    described: str


@dataclass(eq=False)
class _List(_Node):
    items: _Node


@dataclass(eq=False)
class _Object(_Node):
    fields: tuple


@dataclass(eq=False)
class _Field:
    name: str
    node: _Node
    required: bool
    default: object      # the raw default, or None
    default_at: tuple


_ANNOTATIONS = {"title", "description", "examples", "default", "$comment", "deprecated", "readOnly", "writeOnly",
                "x-form"}
_KEYWORDS = _ANNOTATIONS | {"type", "enum", "properties", "required", "additionalProperties", "items", "minimum",
                            "maximum", "exclusiveMinimum", "exclusiveMaximum", "pattern", "format", "maxLength",
                            "x-type", "$defs", "$ref"}
_KINDS = {"string", "number", "integer", "boolean", "object", "array", "null"}
_SPECIALS = {"money", "percent", "decimal", "date"}
_DRAFT = "https://json-schema.org/draft/2020-12/schema"


class _SchemaReader:
    """The case schema (parsed JSON) -> a tree of nodes, or CaseSchemaError at the first thing not supported."""

    def __init__(self, root):
        self.root = root
        self.count = 0

    @staticmethod
    def fail(at: tuple, message: str):
        raise CaseSchemaError(message, at)

    def read(self) -> _Object:
        root = self.root
        if not isinstance(root, dict):
            self.fail((), "the case schema must be a JSON object")
        if "$schema" in root and root["$schema"] not in (_DRAFT, _DRAFT + "#"):
            self.fail(("$schema",), f"the engine reads JSON Schema draft 2020-12 ({_DRAFT}) only")
        node = self.node(root, (), 0, frozenset())
        if not isinstance(node, _Object) or node.nullable:
            self.fail(("type",), "the case must be an object (type: object)")
        return node

    def follow(self, ref, at: tuple):
        """A local $ref -> (the schema it names, where that is)."""
        if not isinstance(ref, str):
            self.fail(at, "must be a string")
        if not ref.startswith("#"):
            self.fail(at, f"only references inside the case schema (#/...) are supported, not {_shown(ref)}")
        from urllib.parse import unquote
        pointer = unquote(ref[1:])
        if pointer == "":
            return self.root, ()
        if not pointer.startswith("/"):
            self.fail(at, f"{_shown(ref)} is not a JSON pointer such as #/$defs/money ($anchor is not supported)")
        node, where = self.root, ()
        for raw in pointer[1:].split("/"):
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node, where = node[part], where + (part,)
            elif isinstance(node, list) and re.fullmatch(r"[0-9]{1,9}", part) and int(part) < len(node):
                node, where = node[int(part)], where + (int(part),)
            else:
                self.fail(at, f"{_shown(ref)} points at nothing in the case schema")
        return node, where

    def resolve(self, schema, at: tuple, ancestors: frozenset):
        """Follow $refs: -> (the schema with the annotations written beside each $ref, where each key is written)."""
        notes: dict = {}  # annotation beside a $ref -> (value, where); the nearest $ref's wins
        chain = set()
        while True:
            if not isinstance(schema, dict):
                self.fail(at, "must be a schema (a JSON object)")
            if "$ref" not in schema:
                break
            for key, value in schema.items():
                if key in _ANNOTATIONS:
                    notes.setdefault(key, (value, at + (key,)))
                elif not (key in ("$ref", "$defs") or key.startswith("x-") and key != "x-type"
                          or at == () and key in ("$schema", "$id")):
                    self.fail(at + (key,), "is not supported beside $ref (only annotations such as description "
                                           "and default)")
            ref_at = at + ("$ref",)
            target, where = self.follow(schema["$ref"], ref_at)
            if where in ancestors or where in chain or where == at:
                self.fail(ref_at, f"{_shown(schema['$ref'])} leads back to a schema that contains it: "
                                  "references must not form a loop")
            chain.add(where)
            schema, at = target, where
        where_of = {key: at + (key,) for key in schema}
        if notes:
            schema = dict(schema)
            for key, (value, written) in notes.items():
                schema[key] = value
                where_of[key] = written
        return schema, at, where_of

    def node(self, raw, at: tuple, depth: int, ancestors: frozenset) -> _Node:
        self.count += 1
        if self.count > MAX_SCHEMA_NODES:
            self.fail(at, f"the case schema is too large: more than {MAX_SCHEMA_NODES} schemas once its $refs "
                          "are followed")
        schema, at, where = self.resolve(raw, at, ancestors)
        node = self.kind(schema, at, where, depth, ancestors | {at})
        node.default, node.default_at = schema.get("default"), where.get("default", at + ("default",))
        return node

    def kind(self, schema: dict, at: tuple, where: dict, depth: int, ancestors: frozenset) -> _Node:
        for key in schema:
            if not isinstance(key, str) or key.startswith("x-") and key not in ("x-type", "x-form"):
                continue
            if key not in _KEYWORDS and not (at == () and key in ("$schema", "$id")):
                self.fail(where[key], "is not supported by the engine" if key not in ("$schema", "$id")
                          else "is supported at the top of the case schema only")
        declared = schema.get("type")
        if declared is None:
            kinds = set()
        elif isinstance(declared, str):
            kinds = {declared}
        elif isinstance(declared, list) and declared and all(isinstance(k, str) for k in declared):
            kinds = set(declared)
        else:
            self.fail(where["type"], "must be a type name or a list of type names")
        if kinds - _KINDS:
            self.fail(where["type"], f"unknown type {_shown(sorted(kinds - _KINDS)[0])}")
        nullable = "null" in kinds
        kinds.discard("null")
        special = schema.get("x-type")
        if special is not None and special not in _SPECIALS:
            self.fail(where["x-type"], f"must be one of {', '.join(sorted(_SPECIALS))}")
        form = schema.get("format")
        if form is not None and form != "date":
            self.fail(where["format"], f"format {_shown(form)} is not supported (only date)")

        if "enum" in schema:
            members = schema["enum"]
            if not isinstance(members, list) or not members:
                self.fail(where["enum"], "must be a non-empty list")
            for i, member in enumerate(members):
                if member is not None and not isinstance(member, str):
                    self.fail(where["enum"] + (i,), "the engine supports enums of strings (and null) only")
            if kinds - {"string"} or special is not None:
                self.fail(where.get("type", where.get("x-type", at)), "an enum is a set of strings (type string)")
            if declared is not None and not nullable and None in members:
                self.fail(where["enum"], "null is listed but the type does not allow null")
            strings = tuple(m for m in members if m is not None)
            if not strings:
                self.fail(where["enum"], "must list at least one string")
            return _Enum(at, None in members, strings)

        if special in ("money", "percent", "decimal") or kinds & {"number", "integer"}:
            if kinds - {"number", "integer", "string"}:
                self.fail(where["type"], "a number may also be written as a string, but not as "
                                         f"{', '.join(sorted(kinds - {'number', 'integer', 'string'}))}")
            if special is not None and kinds and "number" not in kinds:
                self.fail(where["type"], f"x-type {special} needs type number")
            if form is not None or special == "date":
                self.fail(where.get("format", where.get("x-type")), "a date is not a number")
            if "pattern" in schema:
                _compile_pattern(schema["pattern"], where["pattern"])  # not used: numbers have their own form
            bounds = [self.bound(schema, where, key) for key in
                      ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum")]
            integer = "integer" in kinds and "number" not in kinds and special is None
            return _Number(at, nullable, integer, special, *bounds)

        if special == "date" or form == "date":
            if kinds - {"string"} or special not in (None, "date"):
                self.fail(where.get("type", at), "a date is a string (type string)")
            if "pattern" in schema:
                _compile_pattern(schema["pattern"], where["pattern"])  # not used: dates have their own form
            return _Date(at, nullable)

        if len(kinds) != 1:
            if not kinds:
                self.fail(at, "must say its type (type, enum or x-type): the engine does not take values of any type")
            self.fail(where["type"], "the engine supports one type per field (and null; and string for numbers)")
        kind = next(iter(kinds))
        if kind == "boolean":
            return _Bool(at, nullable)
        if kind == "string":
            return self.text(schema, where, at, nullable)
        if depth >= MAX_DEPTH:
            self.fail(at, f"objects and lists nest deeper than {MAX_DEPTH} levels")
        if kind == "array":
            if "items" not in schema:
                self.fail(at, "a list must say what its items are (items)")
            return _List(at, nullable, self.node(schema["items"], where["items"], depth + 1, ancestors))
        return self.object(schema, where, at, nullable, depth, ancestors)

    def bound(self, schema, where, key):
        if key not in schema:
            return None
        value = schema[key]
        if value.__class__ is not int and not (value.__class__ is Decimal and value.is_finite()):
            self.fail(where[key], "must be a number")
        if value.__class__ is int:
            if not -_INT_LIMIT < value < _INT_LIMIT:
                self.fail(where[key], TOO_MANY_DIGITS)
            return value
        try:
            return _EXACT.plus(value)
        except DecimalException:
            self.fail(where[key], TOO_MANY_DIGITS)

    def text(self, schema, where, at, nullable) -> _Text:
        form = schema.get("x-form")
        if form is not None and not isinstance(form, str):
            self.fail(where["x-form"], "must be a string")
        examples = schema.get("examples")
        if not form and isinstance(examples, list) and examples and isinstance(examples[0], str):
            form = f"text like {examples[0]}"
        limit = MAX_STRING
        search = None
        if "pattern" in schema:
            search = _compile_pattern(schema["pattern"], where["pattern"])
            limit = MAX_PATTERN_TEXT
        if "maxLength" in schema:
            length = schema["maxLength"]
            if length.__class__ is not int or length < 0:
                self.fail(where["maxLength"], "must be a whole number >= 0")
            limit = min(limit, length)
        return _Text(at, nullable, search, limit, form or "text")

    def object(self, schema, where, at, nullable, depth, ancestors) -> _Object:
        properties = schema.get("properties", {})
        if not isinstance(properties, dict):
            self.fail(where["properties"], "must be an object of field schemas")
        required = schema.get("required", [])
        if not isinstance(required, list) or not all(isinstance(name, str) for name in required):
            self.fail(where["required"], "must be a list of field names")
        for i, name in enumerate(required):
            if name not in properties:
                self.fail(where["required"] + (i,), f"{_shown(name)} is required but is not one of the properties")
        if schema.get("additionalProperties", False) is not False:
            self.fail(where["additionalProperties"], "must be false: the engine refuses unknown fields")
        fields = []
        for name, sub in properties.items():
            field_at = where["properties"] + (name,)
            node = self.node(sub, field_at, depth + 1, ancestors)
            fields.append(_Field(name, node, name in required, node.default, node.default_at))
        return _Object(at, nullable, tuple(fields))


def _compile_pattern(pattern, at: tuple):
    """A schema pattern (ECMA style) -> the search function of an ASCII Python regex; refuses slow patterns."""
    if not isinstance(pattern, str):
        raise CaseSchemaError("must be a string", at)
    source = _ecma_ends(pattern)
    try:
        compiled = re.compile(source, re.ASCII)
        tree = _sre_parse.parse(source, re.ASCII)
    except (re.error, RecursionError, OverflowError, ValueError, MemoryError) as error:
        raise CaseSchemaError(f"is not a valid regular expression: {error}", at) from None
    try:
        slow = _nested_repeat(tree.data)
    except RecursionError:
        raise CaseSchemaError("is nested too deeply", at) from None
    if slow:
        raise CaseSchemaError("a repeat inside a repeat (such as (a+)+) can take exponential time: write the "
                              "pattern without one", at)
    return compiled.search


def _ecma_ends(pattern: str) -> str:
    """`$` as JSON Schema (ECMA) reads it: the end of the text, not before a final newline (Python's `\\Z`)."""
    out = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
            out.append(c)
        elif c == "[":
            in_class = True
            out.append(c)
            j = i + 1
            if j < n and pattern[j] == "^":
                out.append("^")
                j += 1
            if j < n and pattern[j] == "]":  # a ']' first in a class is literal
                out.append("]")
                j += 1
            i = j
            continue
        elif c == "$":
            out.append(r"\Z")
        else:
            out.append(c)
        i += 1
    return "".join(out)


_REPEATS = {_sre.MAX_REPEAT, _sre.MIN_REPEAT} | ({_sre.POSSESSIVE_REPEAT} if hasattr(_sre, "POSSESSIVE_REPEAT")
                                                  else set())


def _parts(op, av):
    """The sub-patterns of one parsed regex item."""
    if op in _REPEATS:
        return [av[2]]
    if op is _sre.SUBPATTERN:
        return [av[3]]
    if op is _sre.BRANCH:
        return list(av[1])
    if op in (_sre.ASSERT, _sre.ASSERT_NOT):
        return [av[1]]
    if op is getattr(_sre, "ATOMIC_GROUP", None):
        return [av]
    if op is _sre.GROUPREF_EXISTS:
        return [p for p in av[1:] if p is not None]
    return []


def _unbounded(items) -> bool:
    for op, av in items:
        if op in _REPEATS and av[1] == _sre.MAXREPEAT:
            return True
        if any(_unbounded(part) for part in _parts(op, av)):
            return True
    return False


def _nested_repeat(items) -> bool:
    """Whether a repeat (of more than once) holds an unbounded repeat: `(a+)+`, `(a*)*`, `(a+){2,}`."""
    for op, av in items:
        if op in _REPEATS and av[1] > 1 and _unbounded(av[2]):
            return True
        if any(_nested_repeat(part) for part in _parts(op, av)):
            return True
    return False


# -- the validator's source ---------------------------------------------------------------------------------

def _number_words(node: _Number) -> str:
    words = "a whole number" if node.integer else "a number"
    if node.minimum is not None:
        words += f" >= {node.minimum}"
    if node.exclusive_minimum is not None:
        words += f" > {node.exclusive_minimum}"
    low = node.minimum is not None or node.exclusive_minimum is not None
    if node.maximum is not None and node.maximum <= 1:
        words += f" and <= {node.maximum}" if low else f" <= {node.maximum}"
    if node.exclusive_maximum is not None and node.exclusive_maximum <= 1:
        words += f" and < {node.exclusive_maximum}" if low else f" < {node.exclusive_maximum}"
    return words


def _has_mapping(value, depth: int = 0) -> bool:
    if isinstance(value, Mapping):
        return True
    if isinstance(value, (list, tuple)) and depth < MAX_DEPTH:
        return any(_has_mapping(item, depth + 1) for item in value)
    return False


def _none_or(emit: Callable[[int, str], None], var: str, target: str, depth: int) -> int:
    """`if var is None: target = None`, then `else:`, written by a generator -> the depth inside the else."""
    emit(depth, f"if {var} is None:")
    emit(depth + 1, f"{target} = None")
    emit(depth, "else:")
    return depth + 1


class _Source:
    """Nodes -> the source of the validator: straight-line statements per field, with generated names only.

    Paths of problems are built only when a problem is found. A deeply nested
    part of the schema, and each container with a default, becomes a function
    of its own (`value, prefix, problems, budget -> value, budget`).
    """

    def __init__(self):
        self.namespace: dict[str, object] = {
            "Decimal": Decimal, "DecimalException": DecimalException, "date": date, "Problem": CaseProblem,
            "shown": _shown, "MISSING": _MISSING, "BIG": _BIG, "LIMIT": _INT_LIMIT, "MAX_ITEMS": MAX_ITEMS,
            "exact": _EXACT.plus, "integral": _LOOSE.to_integral_value, "quantize": _LOOSE.quantize, "CENT": _CENT,
            "number_of": _number_of, "as_object": _as_object, "as_list": _as_list, "deepcopy": deepcopy,
            "unknown_fields": _unknown_fields, "did_you_mean": _did_you_mean, "fromisoformat": date.fromisoformat,
            "is_date_text": _DATE_TEXT.fullmatch,
        }
        self.counter = 0
        self.functions: list[list[str]] = []
        self.lines: list[str] = []
        self.loops = 0
        self.inside_function = False  # in a function of one node: containers with defaults are called, not inlined
        self.node_functions: dict[int, str] = {}
        self.defaults: list[tuple[str, str, _Field]] = []  # (constant, function, field), inner ones first
        self.messages: dict[str, str] = {}
        self.default_names: dict[int, str] = {}  # id of a field -> the constant of its converted default
        self.days: str | None = None  # the fast path's memo of dates (_Fast)

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}{self.counter}"

    def constant(self, value, stem: str = "K") -> str:
        name = self.fresh(stem)
        self.namespace[name] = value
        return name

    def message(self, text: str) -> str:
        if text not in self.messages:
            self.messages[text] = self.constant(text, "M")
        return self.messages[text]

    def emit(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    def source(self) -> str:
        return "\n".join(line for function in self.functions for line in function) + "\n"

    def function(self, header: str, build: Callable[[], None], inside: bool = True) -> None:
        outer = (self.lines, self.loops, self.inside_function)
        self.lines, self.loops, self.inside_function = [header], 0, inside
        build()
        self.functions.append(self.lines)
        self.lines, self.loops, self.inside_function = outer

    def validator(self, root: _Object) -> None:
        def build():
            self.emit(1, "budget = MAX_ITEMS")
            self.value(root, "value", (), "result", 1)
            self.emit(1, "return result")
        self.function("def validate(value, parent, key, problems):", build, inside=False)

    def node_function(self, node: _Node) -> str:
        """A function of its own for one node: `value, prefix, problems, budget -> converted value, budget`."""
        if id(node) not in self.node_functions:
            name = self.fresh("f")
            self.node_functions[id(node)] = name

            def build():
                self.inline(node, "value", ("*prefix",), "result", 1)
                self.emit(1, "return result, budget")
            self.function(f"def {name}(value, prefix, problems, budget):", build)
        return self.node_functions[id(node)]

    def call(self, node: _Node, var: str, path: tuple, target: str, depth: int) -> None:
        self.emit(depth, f"{target}, budget = {self.node_function(node)}({var}, {_tuple(path)}, problems, budget)")

    def problem(self, depth: int, path: tuple, message: str) -> None:
        self.emit(depth, f"problems.append(Problem({_tuple(path)}, {message}))")

    def refuse(self, depth: int, path: tuple, target: str, message: str) -> None:
        """The value is wrong: no converted value, one problem at its path."""
        self.emit(depth, f"{target} = None")
        self.problem(depth, path, message)

    def value(self, node: _Node, var: str, path: tuple, target: str, depth: int) -> None:
        """Statements that check `var` (at JSON path `path`) and assign the converted value to `target`."""
        if isinstance(node, (_Object, _List)) and (depth >= 12 or self.loops >= 6):
            self.call(node, var, path, target, depth)  # keeps nesting within what Python compiles
        else:
            self.inline(node, var, path, target, depth)

    def inline(self, node: _Node, var: str, path: tuple, target: str, depth: int) -> None:
        if node.nullable:
            depth = _none_or(self.emit, var, target, depth)
        if isinstance(node, _Enum):
            members = self.constant(frozenset(node.members), "E")
            words = self.message("must be one of " + ", ".join(node.members) + (", or null" if node.nullable else "")
                                 + "; got ")
            choices = self.constant(list(node.members), "L")
            self.emit(depth, f"if {var}.__class__ is str and {var} in {members}:")
            self.emit(depth + 1, f"{target} = {var}")
            self.emit(depth, "else:")
            self.refuse(depth + 1, path, target, f"{words} + shown({var}) + did_you_mean({var}, {choices})")
        elif isinstance(node, _Number):
            self.number(node, var, path, target, depth)
        elif isinstance(node, _Date):
            bad = self.message("must be a date YYYY-MM-DD, got ")
            self.emit(depth, f"if {var}.__class__ is str and is_date_text({var}):")
            self.emit(depth + 1, "try:")
            self.emit(depth + 2, f"{target} = fromisoformat({var})")
            self.emit(depth + 1, "except ValueError:")
            self.refuse(depth + 2, path, target, f"{bad} + shown({var})")
            self.emit(depth, f"elif {var}.__class__ is date:")
            self.emit(depth + 1, f"{target} = {var}")
            self.emit(depth, "else:")
            self.refuse(depth + 1, path, target, f"{bad} + shown({var})")
        elif isinstance(node, _Bool):
            self.emit(depth, f"if {var} is True or {var} is False:")
            self.emit(depth + 1, f"{target} = {var}")
            self.emit(depth, "else:")
            self.refuse(depth + 1, path, target, f"{self.message('must be true or false, got ')} + shown({var})")
        elif isinstance(node, _Text):
            limit = self.constant(node.max_length, "N")
            test = f"{var}.__class__ is str and len({var}) <= {limit}"
            if node.search is not None:
                test += f" and {self.constant(node.search, 'R')}({var})"
            self.emit(depth, f"if {test}:")
            self.emit(depth + 1, f"{target} = {var}")
            self.emit(depth, f"elif {var}.__class__ is str and len({var}) > {limit}:")
            self.refuse(depth + 1, path, target, self.message(f"is too long (at most {node.max_length} characters)"))
            self.emit(depth, "else:")
            self.refuse(depth + 1, path, target, f"{self.message(f'must be {node.described}, got ')} + shown({var})")
        elif isinstance(node, _List):
            self.array(node, var, path, target, depth)
        else:
            self.obj(node, var, path, target, depth)

    def number(self, node: _Number, var, path, target, depth) -> None:
        words = _number_words(node)
        if node.special == "money":
            words += " (euro, as a JSON number or a decimal string)"
        bad = f"{self.message(f'must be {words}, got ')} + shown({var})"
        n = self.fresh("n")
        self.emit(depth, f"if {var}.__class__ is Decimal and {var}.is_finite():")
        self.emit(depth + 1, "try:")
        self.emit(depth + 2, f"{n} = exact({var})")  # -0 becomes 0; beyond the limits raises
        self.emit(depth + 1, "except DecimalException:")
        self.emit(depth + 2, f"{n} = BIG")
        self.emit(depth, f"elif {var}.__class__ is int:")
        self.emit(depth + 1, f"{n} = {var} if -LIMIT < {var} < LIMIT else BIG")
        self.emit(depth, "else:")
        self.emit(depth + 1, f"{n} = number_of({var})")
        self.emit(depth, f"if {n} is None:")
        self.refuse(depth + 1, path, target, bad)
        self.emit(depth, f"elif {n} is BIG:")
        self.refuse(depth + 1, path, target, f"{self.message(TOO_MANY_DIGITS + ', got ')} + shown({var})")
        if node.integer:
            self.emit(depth, f"elif {n}.__class__ is not int and {n} != integral({n}):")
            self.refuse(depth + 1, path, target, bad)
        def bound(value) -> str:  # compared as what the number mostly is: a Decimal, or an int for whole numbers
            whole = node.integer and value == _LOOSE.to_integral_value(Decimal(value))
            return self.constant(int(value) if whole else Decimal(value), "B")

        if node.minimum is not None:
            self.emit(depth, f"elif {n} < {bound(node.minimum)}:")
            self.refuse(depth + 1, path, target, bad)
        if node.exclusive_minimum is not None:
            self.emit(depth, f"elif {n} <= {bound(node.exclusive_minimum)}:")
            self.refuse(depth + 1, path, target, bad)
        for high, op, words_high in ((node.maximum, ">", "at most"), (node.exclusive_maximum, ">=", "less than")):
            if high is not None:
                too_high = self.message(f"must be {words_high} {format(Decimal(high), 'f')}, got ") \
                    if high > 1 else self.message(f"must be {words}, got ")
                self.emit(depth, f"elif {n} {op} {bound(high)}:")
                self.refuse(depth + 1, path, target, f"{too_high} + shown({var})")
        if node.special == "money":
            self.emit(depth, f"elif {n}.__class__ is not int and {n} != quantize({n}, CENT):")
            cents = self.message("must be whole cents (at most two decimals), got ")
            self.refuse(depth + 1, path, target, f"{cents} + shown({var})")
        self.emit(depth, "else:")
        if node.integer:
            self.emit(depth + 1, f"{target} = {n} if {n}.__class__ is int else int({n})")
        else:
            self.emit(depth + 1, f"{target} = {n} if {n}.__class__ is Decimal else Decimal({n})")

    def array(self, node: _List, var, path, target, depth) -> None:
        self.emit(depth, f"if ({var}.__class__ is list or {var}.__class__ is tuple or "
                         f"({var} := as_list({var}, {_tuple(path)}, problems)) is not None) and len({var}) <= budget:")
        depth += 1
        items, index, item, converted = self.fresh("items"), self.fresh("i"), self.fresh("y"), self.fresh("c")
        self.emit(depth, f"budget -= len({var})")
        self.emit(depth, f"{items} = []")
        self.emit(depth, f"for {index}, {item} in enumerate({var}):")
        self.loops += 1
        self.value(node.items, item, path + (index,), converted, depth + 1)
        self.loops -= 1
        self.emit(depth + 1, f"{items}.append({converted})")
        self.emit(depth, f"{target} = tuple({items})")
        self.emit(depth - 1, f"elif {var} is None:")  # not a list: as_list reported it
        self.emit(depth, f"{target} = None")
        self.emit(depth - 1, "else:")
        self.refuse(depth, path, target, self.message(TOO_MANY_ITEMS))

    def obj(self, node: _Object, var, path, target, depth) -> None:
        out = self.fresh("o")
        known = self.constant(frozenset(f.name for f in node.fields), "F")
        self.emit(depth, f"if {var}.__class__ is dict or ({var} := as_object({var}, {_tuple(path)}, problems)) "
                         "is not None:")
        depth += 1
        self.emit(depth, f"{out} = {{}}")
        for field in node.fields:
            key = self.constant(field.name, "K")
            field_path = path + (key,)
            item = self.fresh("x")
            slot = f"{out}[{key}]"
            self.emit(depth, f"{item} = {var}.get({key}, MISSING)")
            self.emit(depth, f"if {item} is MISSING:")
            if field.required:
                self.emit(depth + 1, f"{slot} = None")
                self.problem(depth + 1, field_path, self.message("is required"))
            elif field.default is not None:
                value = self.default(field)
                self.emit(depth + 1, f"{slot} = deepcopy({value})" if _has_mapping(field.default) else
                          f"{slot} = {value}")
            else:
                self.emit(depth + 1, f"{slot} = None")
            self.emit(depth, "else:")
            if field.default is not None and isinstance(field.node, (_Object, _List)) and self.inside_function \
                    and id(field.node) in self.node_functions:
                self.call(field.node, item, field_path, slot, depth + 1)  # the function that converts the default
            else:
                self.value(field.node, item, field_path, slot, depth + 1)
        self.emit(depth, f"if not {known}.issuperset({var}):")
        self.emit(depth + 1, f"unknown_fields({var}, {known}, {_tuple(path)}, problems)")
        self.emit(depth, f"{target} = {out}")
        self.emit(depth - 1, "else:")  # not an object: as_object reported it
        self.emit(depth, f"{target} = None")

    def converted_default(self, field: _Field) -> str:
        """The constant that will hold a field's converted default (converted once, by the compiled code)."""
        if isinstance(field.node, _List) and field.default == [] and field.default.__class__ is list:
            return self.constant((), "J")  # nothing to check in an empty list
        if isinstance(field.node, _Bool) and (field.default is True or field.default is False):
            return self.constant(field.default, "J")
        function = self.node_function(field.node)
        name = self.fresh("J")
        self.namespace[name] = None
        self.defaults.append((name, function, field))
        return name

    def default(self, field: _Field) -> str:
        if id(field) not in self.default_names:
            self.default_names[id(field)] = self.converted_default(field)
        return self.default_names[id(field)]


# -- the validator's fast path -------------------------------------------------------------------------------

MAX_FAST_INDENT = 60  # levels of indentation in the fast path's source: a schema nested deeper has none
MAX_FAST_LOOPS = 12   # lists inside lists in it (Python compiles at most 20 nested blocks)
MAX_MEMO = 4_096      # dates, and texts a pattern checks, remembered (see _Fast)


class _TooDeep(Exception):
    """A schema whose fast path would nest deeper than Python compiles: its full validator does all the work."""


class _Fast:
    """Nodes -> the validator's fast path: the same checks and conversions, for a case with nothing wrong.

    The full validator (`_Source`) must be ready to name every problem, so each
    value takes a chain of branches; profiled, it cost a valid case more than
    deciding it. Most cases have nothing wrong. This path tests values of their
    plain kinds only (dict; list or tuple; str; int, Decimal, float or decimal
    text; bool; None; date), one test per constraint, and converts them exactly
    as the full validator does; at anything else it gives up (`return None`, or
    an exception its caller turns into None), and the full validator runs and
    names the problems. So it accepts nothing the full validator refuses, and
    what it accepts becomes the same values. It builds no path and no message.

    A missing field with a default is read as its converted default and checked
    like a given value (converting a converted value changes nothing), so a
    default that is a record is a fresh copy in every case, as the full
    validator's deepcopy makes it.

    Dates and texts checked by a pattern are remembered once accepted (at most
    MAX_MEMO of each kind per schema, then no more): a batch has few distinct
    application dates or NACE codes, and a look-up costs less than a regex.

    Two forms. `accept(value)` builds the converted case (`CaseModel.case`).
    `reading(var, wanted, depth)` writes the same checks as lines of another
    function (the compiled decision, `run/compile.py`), reading the case in
    `var` and leaving each value the rules read (`wanted`: path -> local name)
    in a local of its own, so that no dict is built for a record the rules only
    read field by field. Paths run through records that cannot be null only:
    nothing below a list or a null-allowed record has a local of its own.
    Those lines run in a decimal context that traps invalid operations (the
    decision's own), so a NaN is refused by its first comparison with a bound.
    """

    def __init__(self, source: _Source, trapping: bool = False):
        self.source = source  # names and constants: shared with the full validator, so none clash
        self.trapping = trapping  # run in a context that traps invalid operations (the compiled decision's)
        self.lines: list[str] = []
        self.loops = 0
        self.wanted: dict[tuple, str] = {}
        self.given: set[tuple] = set()
        if source.days is None:  # one memo of dates per schema, for every form of its fast path
            source.days = source.constant({}, "D")
        self.days = source.days

    def fresh(self, stem: str) -> str:
        return self.source.fresh(stem)

    def constant(self, value, stem: str) -> str:
        return self.source.constant(value, stem)

    def emit(self, depth: int, line: str) -> None:
        if depth > MAX_FAST_INDENT:
            raise _TooDeep
        self.lines.append("    " * depth + line)

    def give_up_if(self, depth: int, test: str) -> None:
        self.emit(depth, f"if {test}:")
        self.emit(depth + 1, "return None")

    def accept(self, root: _Object) -> list[str]:
        """`accept(value)`: the converted case, or None."""
        self.lines = ["def accept(value):", "    try:", "        budget = MAX_ITEMS"]
        result = self.value(root, "value", 2)
        self.emit(2, f"return {result}")
        self.lines += ["    except Exception:", "        return None"]
        return self.lines

    def reading(self, root: _Object, var: str, wanted: dict[tuple, str], depth: int) -> list[str] | None:
        """Lines at `depth` that check the case in `var` and leave each wanted value in its local; None
        when a wanted path is not one of those this path gives a local."""
        self.lines, self.wanted, self.given = [], wanted, set()
        self.emit(depth, "budget = MAX_ITEMS")
        made = self.record(root, var, depth, (), whole=() in wanted)
        if made is not None:
            self.emit(depth, f"{wanted[()]} = {made}")
            self.given.add(())
        return self.lines if self.given == set(wanted) else None

    def value(self, node: _Node, var: str, depth: int, target: str | None = None) -> str:
        """Statements at `depth` that check `var`; -> the name that then holds its converted value."""
        if isinstance(node, (_Enum, _Bool)) or isinstance(node, _Text) and node.search is None:
            test = self.refused(node, var)
            self.give_up_if(depth, f"{var} is not None and ({test})" if node.nullable else test)
            return self.keep(var, target, depth)
        if isinstance(node, _Text):  # a pattern: remembered once it passed
            known = self.constant(set(), "S")
            inner = depth
            if node.nullable:
                self.emit(depth, f"if {var} is not None:")
                inner += 1
            self.give_up_if(inner, f"type({var}) is not str")
            self.emit(inner, f"if {var} not in {known}:")
            self.give_up_if(inner + 1, self.refused(node, var, text=True))
            self.emit(inner + 1, f"if len({known}) < MAX_MEMO:")
            self.emit(inner + 2, f"{known}.add({var})")
            return self.keep(var, target, depth)
        target = target or self.fresh("v")
        inner = depth
        if node.nullable:
            inner = _none_or(self.emit, var, target, depth)
        if isinstance(node, _Number):
            self.number(node, var, target, inner)
        elif isinstance(node, _Date):
            self.day(var, target, inner)
        elif isinstance(node, _List):
            self.array(node, var, target, inner)
        else:
            self.emit(inner, f"{target} = {self.record(node, var, inner, None, whole=True)}")
        return target

    def keep(self, var: str, target: str | None, depth: int) -> str:
        if target is not None and target != var:
            self.emit(depth, f"{target} = {var}")
            return target
        return var

    def refused(self, node: _Node, var: str, text: bool = False) -> str:
        """The test that refuses a text, enum or bool value (not null); `text`: it is known to be a str."""
        if isinstance(node, _Bool):
            return f"{var} is not True and {var} is not False"
        if isinstance(node, _Enum):
            return f"type({var}) is not str or {var} not in {self.constant(frozenset(node.members), 'E')}"
        test = ("" if text else f"type({var}) is not str or ") + f"len({var}) > {self.constant(node.max_length, 'N')}"
        if node.search is not None:
            test += f" or not {self.constant(node.search, 'R')}({var})"
        return test

    def number(self, node: _Number, var: str, n: str, depth: int) -> None:
        lows = [(bound, "<") for bound in (node.minimum,) if bound is not None] + \
               [(bound, "<=") for bound in (node.exclusive_minimum,) if bound is not None]
        highs = [(bound, ">") for bound in (node.maximum,) if bound is not None] + \
                [(bound, ">=") for bound in (node.exclusive_maximum,) if bound is not None]

        def bound(value) -> str:  # as the full validator compares: an int for whole numbers, else a Decimal
            whole = node.integer and value == _LOOSE.to_integral_value(Decimal(value))
            return self.constant(int(value) if whole else Decimal(value), "B")

        bounds = [f"{n} {op} {bound(value)}" for value, op in lows + highs]
        # an int beyond the limits is refused before a Decimal is made of it or compared with one; whole
        # bounds within the limits of a whole number (compared as ints) refuse it as well
        ints_bounded = node.integer and bool(lows) and bool(highs) and all(
            value == _LOOSE.to_integral_value(Decimal(value)) and -_INT_LIMIT < value < _INT_LIMIT
            for value, _ in lows + highs)
        limit = None if ints_bounded else f"not -LIMIT < {var} < LIMIT"
        if node.integer:
            self.emit(depth, f"if type({var}) is int:")
            if limit:
                self.give_up_if(depth + 1, limit)
            self.emit(depth + 1, f"{n} = {var}")
            self.emit(depth, f"elif type({var}) is Decimal and {var}.is_finite():")
            self.emit(depth + 1, f"{n} = exact({var})")
            self.give_up_if(depth + 1, f"{n} != integral({n})")
            self.emit(depth + 1, f"{n} = int({n})")
            self.emit(depth, "else:")
            self.emit(depth + 1, f"{n} = number_of({var})")
            self.give_up_if(depth + 1, f"{n} is None or {n} is BIG or {n} != integral({n})")
            self.emit(depth + 1, f"{n} = int({n})")
        else:
            money = node.special == "money"
            # comparing NaN traps in the decision's context, and a bound on either side refuses an infinity
            finite = "" if self.trapping and lows and highs else f" and {var}.is_finite()"
            self.emit(depth, f"if type({var}) is Decimal{finite}:")
            if money:  # one call checks the cents and the limits; -0 becomes 0 as exact() makes it
                self.emit(depth + 1, f"cents({var}, CENT)")
                self.emit(depth + 1, f"{n} = {var} if {var} else exact({var})")
            else:
                self.emit(depth + 1, f"{n} = exact({var})")
            self.emit(depth, f"elif type({var}) is int:")
            self.give_up_if(depth + 1, limit)
            self.emit(depth + 1, f"{n} = Decimal({var})")
            self.emit(depth, "else:")
            self.emit(depth + 1, f"{n} = number_of({var})")
            self.give_up_if(depth + 1, f"{n} is None or {n} is BIG" + (f" or {n} != quantize({n}, CENT)" if money
                                                                        else ""))
        if bounds:
            self.give_up_if(depth, " or ".join(bounds))

    def day(self, var: str, target: str, depth: int) -> None:
        self.emit(depth, f"if type({var}) is str:")
        self.emit(depth + 1, f"{target} = {self.days}.get({var})")
        self.emit(depth + 1, f"if {target} is None:")
        self.give_up_if(depth + 2, f"not is_date_text({var})")
        self.emit(depth + 2, f"{target} = fromisoformat({var})")
        self.emit(depth + 2, f"if len({self.days}) < MAX_MEMO:")
        self.emit(depth + 3, f"{self.days}[{var}] = {target}")
        self.emit(depth, f"elif type({var}) is date:")
        self.emit(depth + 1, f"{target} = {var}")
        self.emit(depth, "else:")
        self.emit(depth + 1, "return None")

    def array(self, node: _List, var: str, target: str, depth: int) -> None:
        items, item = self.fresh("items"), self.fresh("y")
        self.give_up_if(depth, f"type({var}) is not list and type({var}) is not tuple")
        self.emit(depth, f"if {var}:")
        self.emit(depth + 1, f"budget -= len({var})")
        self.give_up_if(depth + 1, "budget < 0")
        self.emit(depth + 1, f"{items} = []")
        self.emit(depth + 1, f"for {item} in {var}:")
        self.loops += 1
        if self.loops > MAX_FAST_LOOPS:
            raise _TooDeep
        self.emit(depth + 2, f"{items}.append({self.value(node.items, item, depth + 2)})")
        self.loops -= 1
        self.emit(depth + 1, f"{target} = tuple({items})")
        self.emit(depth, "else:")
        self.emit(depth + 1, f"{target} = ()")

    def record(self, node: _Object, var: str, depth: int, path: tuple | None, whole: bool) -> str | None:
        """Check a record; -> the source of its converted dict when `whole`, else None. With a `path`, its
        fields that are wanted are left in their locals (and records below it are walked the same way)."""
        if all(member.required for member in node.fields):  # every field is read: a count tells an unknown one
            self.give_up_if(depth, f"type({var}) is not dict or len({var}) != {len(node.fields)}")
        else:
            known = self.constant(frozenset(f.name for f in node.fields), "F")
            self.give_up_if(depth, f"type({var}) is not dict or not {known}.issuperset({var})")
        items = []
        for member in node.fields:
            key = self.constant(member.name, "K")
            here = path + (member.name,) if path is not None else None
            local = self.wanted.get(here) if here is not None else None
            if local is not None:
                self.given.add(here)
            leaf = isinstance(member.node, (_Enum, _Bool, _Text))
            raw = local if leaf and local is not None else self.fresh("x")
            if member.required:
                self.emit(depth, f"{raw} = {var}[{key}]")
            elif member.default is not None:
                self.emit(depth, f"{raw} = {var}.get({key}, {self.source.default(member)})")
            elif member.node.nullable or (isinstance(member.node, _Object) and here is not None):
                self.emit(depth, f"{raw} = {var}.get({key})")  # a record missing here: given up below
            else:
                converted = local or self.fresh("v")
                self.emit(depth, f"{raw} = {var}.get({key}, MISSING)")
                self.emit(depth, f"if {raw} is MISSING:")
                self.emit(depth + 1, f"{converted} = None")
                self.emit(depth, "else:")
                self.keep(self.value(member.node, raw, depth + 1), converted, depth + 1)
                items.append((key, converted))
                continue
            if isinstance(member.node, _Object) and not member.node.nullable and here is not None:
                inner_whole = whole or local is not None
                made = self.record(member.node, raw, depth, here, inner_whole)
                if inner_whole:
                    converted = local or self.fresh("v")
                    self.emit(depth, f"{converted} = {made}")
                    items.append((key, converted))
                continue
            items.append((key, self.value(member.node, raw, depth, local)))
        if not whole:
            return None
        return "{" + ", ".join(f"{key}: {value}" for key, value in items) + "}"


def _tuple(path: tuple) -> str:
    """Path parts (generated names) -> the source of a tuple."""
    return "(" + "".join(part + ", " for part in path) + ")"


def _dsl_type(node: _Node, name: str):
    if isinstance(node, _Enum):
        typ = T.Enum(name, node.members)
    elif isinstance(node, _Number):
        typ = {"money": T.MONEY, "percent": T.PERCENT}.get(node.special, T.INT if node.integer else T.DECIMAL)
    elif isinstance(node, _Date):
        typ = T.DATE
    elif isinstance(node, _Bool):
        typ = T.BOOL
    elif isinstance(node, _Text):
        typ = T.STRING
    elif isinstance(node, _List):
        typ = T.List(_dsl_type(node.items, name))
    else:
        typ = T.Record(name, tuple((f.name, _dsl_type(f.node, f.name)) for f in node.fields))
    return T.Optional(typ) if node.nullable else typ


def _compile(root: _Object) -> tuple[Validator, "_FastPath"]:
    """The checked schema -> validate(value, parent, key, problems) -> converted case, and its fast path;
    defaults converted once."""
    source = _Source()
    source.validator(root)
    namespace = dict(source.namespace)
    namespace.update(cents=_EXACT.quantize, MAX_MEMO=MAX_MEMO)  # returns only for whole cents in the limits
    exec(compile(source.source(), "<case validator>", "exec"), namespace)
    for name, function, field in source.defaults:  # inner defaults first: an outer one may use them
        problems: list = []
        value, _ = namespace[function](field.default, (), problems, MAX_ITEMS)
        if problems:
            raise CaseSchemaError(f"the default is not valid: {problems[0]}"
                                  if problems[0].path else f"the default is not valid: it {problems[0].message}",
                                  field.default_at)
        namespace[name] = value
    return namespace["validate"], _FastPath(root, source, namespace)


class _FastPath:
    """The validator's fast path for one case schema (see _Fast), written and compiled when a second case
    is checked: reading a schema only to check rules against it, or checking one case, never pays for it.

    `accept(value)` -> the converted case or None (the first case: None, so the full validator checks
    it; from the second on, the compiled function itself). `reading` writes the lines for the compiled
    decision of a version."""

    def __init__(self, root: _Object, source: _Source, namespace: dict):
        self.root, self.source, self.namespace = root, source, namespace  # the full validator's, after exec
        self.lock = threading.Lock()  # names are drawn from one counter: one writer at a time
        self.accept = self.first_accept

    def first_accept(self, value):
        self.accept = self.second_accept
        return None

    def second_accept(self, value):
        with self.lock:
            if self.accept == self.second_accept:
                lines = self.write(lambda fast: fast.accept(self.root))
                self.accept = _accepts_nothing
                if lines is not None:
                    try:
                        code = compile("\n".join(lines) + "\n", "<case validator, fast path>", "exec")
                    except (SyntaxError, RecursionError, MemoryError):  # nested beyond what Python compiles
                        code = None
                    if code is not None:
                        exec(code, self.namespace)
                        self.accept = self.namespace["accept"]
        return self.accept(value)

    def reading(self, var: str, wanted: dict[tuple, str], depth: int) -> tuple[list[str], dict] | None:
        with self.lock:
            lines = self.write(lambda fast: fast.reading(self.root, var, wanted, depth), trapping=True)
        return None if lines is None else (lines, self.namespace)

    def write(self, build: Callable, trapping: bool = False) -> list[str] | None:
        try:
            lines = build(_Fast(self.source, trapping))
        except _TooDeep:
            return None
        self.namespace.update((name, value) for name, value in self.source.namespace.items()
                              if name not in self.namespace)
        return lines


def _accepts_nothing(value):
    return None


# -- reading the schema file ---------------------------------------------------------------------------------

def _schema_pairs(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise CaseSchemaError(f"not valid JSON: the key {_shown(key)} is written twice in one object")
        seen[key] = value
    return seen


def _schema_int(text: str):
    return int(text) if len(text) <= MAX_DIGITS + 10 else Decimal(text, _PARSE)


def _schema_constant(text: str):
    raise CaseSchemaError(f"not valid JSON: {text} is not a JSON number")


def _parse_schema(text: str):
    try:
        return json.loads(text, parse_float=lambda t: Decimal(t, _PARSE), parse_int=_schema_int,
                          parse_constant=_schema_constant, object_pairs_hook=_schema_pairs)
    except json.JSONDecodeError as error:
        raise CaseSchemaError(f"not valid JSON: {error.msg}", (), None, error.lineno, error.colno) from None
    except RecursionError:
        raise CaseSchemaError("not valid JSON: nested too deeply") from None
    except InvalidOperation:
        raise CaseSchemaError("not valid JSON: a number too large to read") from None


_META_CACHE = "case-schemas"


def _meta_check(root, data: bytes) -> None:
    """The schema against the JSON Schema 2020-12 meta-schema (remembered per exact text: it costs 50 ms)."""
    digest = hashlib.sha256(b"case-schema-meta-1\0" + data).hexdigest()
    try:
        from .load import cache_read, cache_write
    except ImportError:
        cache_read = cache_write = None
    if cache_read is not None and cache_read(_META_CACHE, digest) == digest.encode():
        return
    import jsonschema
    try:
        jsonschema.Draft202012Validator.check_schema(root)
    except jsonschema.exceptions.SchemaError as error:
        message = error.message if len(error.message) <= 300 else error.message[:300] + "..."
        raise CaseSchemaError(message, tuple(error.absolute_path)) from None
    except RecursionError:
        raise CaseSchemaError("nested too deeply to check") from None
    if cache_write is not None:
        cache_write(_META_CACHE, digest, digest.encode())


def _read_schema(text: str, data: bytes) -> tuple[T.Record, Validator, "_FastPath"]:
    root = _parse_schema(text)
    if not isinstance(root, dict):
        raise CaseSchemaError("the case schema must be a JSON object")
    _meta_check(root, data)
    node = _SchemaReader(root).read()
    validate, fast = _compile(node)
    return _dsl_type(node, "case"), validate, fast


def _position(text: str, path: tuple) -> tuple[int, int] | None:
    """Where a JSON path is written in a JSON text: the key (or item) of its last part, as (line, column)."""
    decoder = json.JSONDecoder()
    space = re.compile(r"[ \t\n\r]*")
    at = space.match(text, 0).end()
    mark = at
    try:
        for part in path:
            if text[at:at + 1] == "{" and isinstance(part, str):
                at = space.match(text, at + 1).end()
                while text[at:at + 1] == '"':
                    key, end = json.decoder.scanstring(text, at + 1)
                    here = at
                    at = space.match(text, end).end() + 1  # the colon
                    at = space.match(text, at).end()
                    if key == part:
                        mark = here
                        break
                    _, at = decoder.raw_decode(text, at)
                    at = space.match(text, at).end()
                    at = space.match(text, at + 1).end() if text[at:at + 1] == "," else at
                else:
                    break
            elif text[at:at + 1] == "[" and isinstance(part, int):
                at = space.match(text, at + 1).end()
                for _ in range(part):
                    _, at = decoder.raw_decode(text, at)
                    at = space.match(text, space.match(text, at).end() + 1).end()
                mark = at
            else:
                break
    except (ValueError, IndexError, RecursionError):
        pass
    line = text.count("\n", 0, mark) + 1
    return line, mark - (text.rfind("\n", 0, mark) + 1) + 1


@lru_cache(maxsize=8)
def case_model(schema_path: Path) -> CaseModel:
    """Read, check and compile a case schema once per process; CaseSchemaError when it cannot be used."""
    path = Path(schema_path)
    try:
        if not path.is_file():
            raise CaseSchemaError("the case schema is not a file", (), path, 1, 1)
        with open(path, "rb") as file:
            data = file.read(MAX_SCHEMA_BYTES + 1)
        if len(data) > MAX_SCHEMA_BYTES:
            raise CaseSchemaError(f"the case schema is larger than {MAX_SCHEMA_BYTES} bytes", (), path, 1, 1)
        text = data.decode("utf-8")
    except OSError as error:
        raise CaseSchemaError(f"cannot read the case schema: {error.strerror or error}", (), path, 1, 1) from None
    except UnicodeDecodeError:
        raise CaseSchemaError("the case schema is not valid UTF-8", (), path, 1, 1) from None
    try:
        record, validate, fast = _read_schema(text, data)
    except CaseSchemaError as error:
        error.file = path
        if error.line is None:
            error.line, error.column = _position(text, error.path)
        raise
    return CaseModel(path, record, validate, fast)


# -- case text ---------------------------------------------------------------------------------------------------

class CaseTextError(ValueError):
    """A case file that is not valid JSON or YAML; the message says where."""


def _no_duplicate_keys(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            shown = key if len(key) <= SHOWN_CHARACTERS else key[:SHOWN_CHARACTERS] + "..."
            raise CaseTextError(f"not valid JSON: the key '{shown}' is written twice in one object")
        seen[key] = value
    return seen


def _unique_keys(pairs):
    """An object's pairs -> its dict, built in C; a key written twice is found by the count, named then."""
    found = dict(pairs)
    if len(found) != len(pairs):
        _no_duplicate_keys(pairs)  # raises, naming the first key written twice
    return found


def _json_int(text: str):
    """A JSON integer: an int, or (longer than any the engine takes) an exact Decimal it refuses by path."""
    return int(text) if len(text) <= MAX_DIGITS + 1 else Decimal(text, _PARSE)


def _json_decimal(text: str):
    try:
        return Decimal(text, _PARSE)
    except InvalidOperation:  # an exponent beyond even Decimal's: refused by path, as too many digits
        return _BigNumber(text)


# The readers of JSON cases, made once: json.loads with options makes its decoder anew on every call, which
# cost a fifth of reading a case of a batch.
_JSON = json.JSONDecoder(parse_float=_json_decimal, object_pairs_hook=_unique_keys)
_LONG_JSON = json.JSONDecoder(parse_float=_json_decimal, parse_int=_json_int, object_pairs_hook=_unique_keys)


_SCAN = _JSON.scan_once
_JSON_SPACE = " \t\r\n"


def read_object_line(text: str):
    """A text holding one JSON object, in ASCII -> its raw case, read by the decoder of parse_case_text (hooks
    and all) but without the checks and calls around it, a seventh of reading a batch's line; None for any
    other text, which parse_case_text then reads the full way, saying what is wrong."""
    if text[:1] != "{" or not text.isascii():
        return None
    try:
        raw, end = _SCAN(text, 0)
    except (ValueError, StopIteration, RecursionError):  # not JSON, a key written twice, a number too long
        return None
    if end != len(text) and text[end:].strip(_JSON_SPACE):
        return None
    return raw


def parse_case_text(text: str):
    """JSON or YAML text -> raw case, with numbers kept exact (never float); CaseTextError when unreadable."""
    quick = read_object_line(text)  # most cases of a batch: one object in ASCII
    return quick if quick is not None else read_case_text_fully(text)


def read_case_text_fully(text: str):
    """parse_case_text without its shortcut (read_object_line, which the tests hold to this)."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            raise CaseTextError(f"not valid UTF-8 (at character {error.start + 1})") from None
    stripped = text.lstrip()
    if not stripped:
        raise CaseTextError("the case is empty")
    if stripped.startswith("{") or stripped.startswith("["):
        try:
            try:  # whole numbers read by int itself: one beyond the engine's limits is refused by path anyway
                return _JSON.decode(text)
            except json.JSONDecodeError:
                raise
            except ValueError:  # a whole number longer than int() reads: read again, as a Decimal
                return _LONG_JSON.decode(text)
        except json.JSONDecodeError as error:
            raise CaseTextError(f"not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}") from None
        except RecursionError:
            raise CaseTextError("not valid JSON: nested too deeply") from None
    from .load import read_yaml  # strict: no duplicate keys, no aliases, dates kept as text, decimals exact
    doc, problems = read_yaml(text, "<case>")
    if problems:
        first = problems[0]
        where = f" at line {first.span.line}, column {first.span.column}" if first.span else ""
        raise CaseTextError(f"not valid YAML: {first.message}{where}")
    if doc is None:
        raise CaseTextError("the case is empty")
    return _plain(doc)


def _plain(value, depth: int = 0):
    """Positioned YAML data -> plain dicts and lists (below what any case schema reads, left as it is)."""
    if depth > MAX_DEPTH:
        return value
    if isinstance(value, dict):
        return {k: _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, depth + 1) for v in value]
    return value


def _exact_yaml(value, depth: int = 0):
    """YAML data of a test file -> case data: floats exact, dates as text."""
    if isinstance(value, float):
        return Decimal(repr(value)) if value - value == 0 else value
    if isinstance(value, date):
        return value.isoformat()
    if depth > MAX_DEPTH:
        return value
    if isinstance(value, dict):
        return {(k if isinstance(k, str) else _shown(k)): _exact_yaml(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_exact_yaml(v, depth + 1) for v in value]
    return value
