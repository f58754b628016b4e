"""The DSL's small, closed type algebra.

bool, int, decimal, money, percent, date, duration, string, enum, list,
record, optional and table. Types print the way analysts write them, so a
type error reads like "cannot add money and date".
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Scalar:
    """bool, int, decimal, money, percent, date, duration, string or null."""

    name: str

    def __str__(self) -> str:
        return self.name


BOOL = Scalar("bool")
INT = Scalar("int")
DECIMAL = Scalar("decimal")
MONEY = Scalar("money")
PERCENT = Scalar("percent")
DATE = Scalar("date")
DURATION = Scalar("duration")
STRING = Scalar("string")
NULL = Scalar("null")

SCALARS = {t.name: t for t in (BOOL, INT, DECIMAL, MONEY, PERCENT, DATE, DURATION, STRING)}
NUMBERS = (INT, DECIMAL, PERCENT)


@dataclass(frozen=True, slots=True)
class Enum:
    """A closed set of values, such as the legal forms of the case."""

    name: str
    members: tuple[str, ...]

    def __str__(self) -> str:
        shown = ", ".join(self.members[:6]) + (", ..." if len(self.members) > 6 else "")
        return f"{self.name} ({shown})" if self.name else f"one of ({shown})"


@dataclass(frozen=True, slots=True)
class List:
    item: object

    def __str__(self) -> str:
        return f"list of {self.item}"


@dataclass(frozen=True, slots=True)
class Record:
    name: str
    fields: tuple[tuple[str, object], ...]

    def field(self, name: str):
        for key, typ in self.fields:
            if key == name:
                return typ
        return None

    def __str__(self) -> str:
        return self.name or "record(" + ", ".join(f"{key}: {typ}" for key, typ in self.fields) + ")"


@dataclass(frozen=True, slots=True)
class Optional:
    """A value that may be null; it must be tested before most uses."""

    inner: object

    def __str__(self) -> str:
        return f"{self.inner} or null"


@dataclass(frozen=True, slots=True)
class Table:
    """A table of the ruleset: keys (strings or enum values) with typed columns."""

    name: str
    key: object
    row: Record

    def __str__(self) -> str:
        return f"table {self.name}"


def strip_optional(typ):
    return typ.inner if isinstance(typ, Optional) else typ


def is_numeric(typ) -> bool:
    return typ in NUMBERS


def same_kind(a, b) -> bool:
    """Whether two values can be compared with == (enums by value set, numbers together)."""
    a, b = strip_optional(a), strip_optional(b)
    if a == NULL or b == NULL:
        return True
    if is_numeric(a) and is_numeric(b):
        return True
    if isinstance(a, Enum) and isinstance(b, Enum):
        return True
    if isinstance(a, Enum) and b == STRING or a == STRING and isinstance(b, Enum):
        return True
    return a == b


def unify(a, b):
    """The type of `if c then a else b`, or None when the branches disagree."""
    if a == b:
        return a
    if a == NULL:
        return b if isinstance(b, Optional) else Optional(b)
    if b == NULL:
        return a if isinstance(a, Optional) else Optional(a)
    oa, ob = isinstance(a, Optional), isinstance(b, Optional)
    if oa or ob:
        inner = unify(strip_optional(a), strip_optional(b))
        return Optional(inner) if inner is not None else None
    if is_numeric(a) and is_numeric(b):
        if PERCENT in (a, b) and INT in (a, b):
            return None  # a bare 30 beside 30 %: almost always a unit left out, never silently 3000 %
        if PERCENT in (a, b) and a != b:
            return DECIMAL
        return DECIMAL if DECIMAL in (a, b) else (PERCENT if PERCENT in (a, b) else INT)
    if isinstance(a, Enum) and isinstance(b, Enum):
        members = tuple(dict.fromkeys(a.members + b.members))
        return Enum(a.name or b.name, members)
    return None


def parse_type(text: str):
    """Read a declared type: `money`, `list of decimal`, `enum(small, medium)`, `date or null`,
    `record(granted_on: date, amount: money)`."""
    text = text.strip()
    if text.endswith(" or null"):
        inner = parse_type(text[: -len(" or null")])
        return Optional(inner) if inner is not None else None
    if text.startswith("list of "):
        inner = parse_type(text[len("list of "):])
        return List(inner) if inner is not None else None
    if text.startswith("enum(") and text.endswith(")"):
        members = tuple(m.strip() for m in text[5:-1].split(",") if m.strip())
        return Enum("", members) if members else None
    if text.startswith("record(") and text.endswith(")"):
        return _record(text[len("record("):-1])
    return SCALARS.get(text)


def _record(inside: str):
    """`granted_on: date, amount: money` -> a Record; commas inside parentheses belong to a field's type."""
    fields, depth, start = [], 0, 0
    for i, ch in enumerate(inside + ","):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            part = inside[start:i].strip()
            start = i + 1
            if not part:
                continue
            name, colon, typed = part.partition(":")
            typ = parse_type(typed) if colon else None
            if typ is None or not name.strip().isidentifier() or name.strip() in dict(fields):
                return None
            fields.append((name.strip(), typ))
    return Record("", tuple(fields)) if fields and depth == 0 else None


def conforms(actual, declared) -> bool:
    """Whether a value of type `actual` can stand where `declared` is asked for: the same type, a record with at
    least the declared fields (each conforming), a list of such items, a value where `... or null` is allowed,
    an enum whose values the declared one all knows, a whole number where a decimal is asked for."""
    if actual == declared:
        return True
    if isinstance(declared, Optional):
        return actual == NULL or conforms(strip_optional(actual), declared.inner)
    if isinstance(actual, Optional):
        return False
    if isinstance(declared, Record) and isinstance(actual, Record):
        return all(actual.field(name) is not None and conforms(actual.field(name), typ) for name, typ in declared.fields)
    if isinstance(declared, List) and isinstance(actual, List):
        return conforms(actual.item, declared.item)
    if isinstance(declared, Enum) and isinstance(actual, Enum):
        return set(actual.members) <= set(declared.members)
    return declared == DECIMAL and actual == INT
