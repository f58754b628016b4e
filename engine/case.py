"""Cases: the case JSON Schema -> DSL types and a fast validator; raw case -> `Case`.

The schema (`schemas/case.schema.json`, named by the ruleset's `case_schema`)
is compiled once into small Python closures that check and convert a case in
one pass: money and numbers become `Decimal`, dates `datetime.date`, missing
optional fields get their schema `default`. Every problem is collected with
its JSON path; nothing is raised until all are known.
"""
from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Callable

from . import typesys as T
from .diagnostics import CaseProblem

_DECIMAL_TEXT = re.compile(r"^-?\d+(\.\d+)?$")
_DATE_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}$")

Validator = Callable[[object, tuple, object, list], object]  # (value, parent path, key, problems)


def _at(parent: tuple, key) -> tuple:
    return parent if key is None else parent + (key,)


@dataclass(frozen=True)
class CaseModel:
    """What a case looks like: its DSL type (a record) and its compiled validator."""

    schema_path: Path
    type: T.Record
    validate: Validator

    def coerce(self, raw) -> tuple[dict | None, list[CaseProblem]]:
        """Raw case (parsed JSON or a dict) -> checked, converted case, and the problems found."""
        problems: list[CaseProblem] = []
        value = self.validate(raw, (), None, problems)
        return (None if problems else value), problems


def _shown(value) -> str:
    if isinstance(value, Decimal):
        return str(value)
    try:
        return json.dumps(value, default=str)[:80]
    except (TypeError, ValueError):
        return repr(value)[:80]


def _resolve(schema: dict, root: dict) -> dict:
    while "$ref" in schema:
        ref = schema["$ref"]
        target = root
        for part in ref.lstrip("#/").split("/"):
            target = target[part]
        merged = dict(target)
        merged.update({k: v for k, v in schema.items() if k != "$ref"})
        schema = merged
    return schema


def _types_of(schema: dict) -> set[str]:
    declared = schema.get("type", [])
    return set(declared if isinstance(declared, list) else [declared])


def _dsl_type(schema: dict, root: dict, name: str):
    schema = _resolve(schema, root)
    kinds = _types_of(schema)
    nullable = "null" in kinds
    kinds.discard("null")
    special = schema.get("x-type")
    if "enum" in schema:
        members = tuple(str(m) for m in schema["enum"] if m is not None)
        typ = T.Enum(name, members)
        nullable = nullable or None in schema["enum"]
    elif special == "money":
        typ = T.MONEY
    elif special == "percent":
        typ = T.PERCENT
    elif special == "date" or schema.get("format") == "date":
        typ = T.DATE
    elif "object" in kinds:
        fields = tuple((key, _dsl_type(sub, root, key)) for key, sub in schema.get("properties", {}).items())
        typ = T.Record(name, fields)
    elif "array" in kinds:
        typ = T.List(_dsl_type(schema.get("items", {}), root, name))
    elif "integer" in kinds:
        typ = T.INT
    elif "number" in kinds or special == "decimal":
        typ = T.DECIMAL
    elif "boolean" in kinds:
        typ = T.BOOL
    else:
        typ = T.STRING
    return T.Optional(typ) if nullable else typ


def _number_words(schema: dict) -> str:
    words = "a whole number" if "integer" in _types_of(schema) else "a number"
    if "minimum" in schema:
        words += f" >= {schema['minimum']}"
    if "exclusiveMinimum" in schema:
        words += f" > {schema['exclusiveMinimum']}"
    if "maximum" in schema and schema["maximum"] <= 1:
        words += f" and <= {schema['maximum']}" if ("minimum" in schema or "exclusiveMinimum" in schema) else \
            f" <= {schema['maximum']}"
    return words


def _compile(schema: dict, root: dict) -> Validator:
    schema = _resolve(schema, root)
    kinds = _types_of(schema)
    nullable = "null" in kinds or (None in schema.get("enum", ()))
    special = schema.get("x-type")

    def with_null(check: Validator) -> Validator:
        if not nullable:
            return check

        def nullable_check(value, parent, key, problems):
            return None if value is None else check(value, parent, key, problems)
        return nullable_check

    if "enum" in schema:
        allowed = [m for m in schema["enum"] if m is not None]
        allowed_set = frozenset(allowed)
        listing = ", ".join(allowed) + (", or null" if nullable else "")

        def check_enum(value, parent, key, problems):
            if isinstance(value, str) and value in allowed_set:
                return value
            close = difflib.get_close_matches(str(value), allowed, n=1) if isinstance(value, str) else []
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append(CaseProblem(_at(parent, key), f"must be one of {listing}; got {_shown(value)}{hint}"))
            return None
        return with_null(check_enum)

    if special in ("money", "percent", "decimal") or kinds & {"number", "integer"}:
        integer = "integer" in kinds and special is None
        text_allowed = "string" in kinds  # money: a JSON number or a decimal string
        low, low_excl, high = schema.get("minimum"), schema.get("exclusiveMinimum"), schema.get("maximum")
        low = Decimal(str(low)) if low is not None else None
        low_excl = Decimal(str(low_excl)) if low_excl is not None else None
        high = Decimal(str(high)) if high is not None else None
        words = _number_words(schema)
        if special == "money":
            words += " (euro, as a JSON number or a decimal string)"

        def check_number(value, parent, key, problems):
            kind = type(value)
            if kind is int:
                number = value
            elif kind is Decimal and value.is_finite():
                number = value
            elif kind is float and value - value == 0:  # finite (not NaN, not infinite)
                number = Decimal(repr(value))
            elif kind is str and text_allowed and _DECIMAL_TEXT.match(value):
                number = Decimal(value)
            else:
                problems.append(CaseProblem(_at(parent, key), f"must be {words}, got {_shown(value)}"))
                return None
            if integer and kind is not int:
                if number != number.to_integral_value():
                    problems.append(CaseProblem(_at(parent, key), f"must be {words}, got {_shown(value)}"))
                    return None
                number = int(number)
            if (low is not None and number < low) or (low_excl is not None and number <= low_excl):
                problems.append(CaseProblem(_at(parent, key), f"must be {words}, got {_shown(value)}"))
                return None
            if high is not None and number > high:
                limit = format(high, "f") if high > 1 else words
                problems.append(CaseProblem(_at(parent, key), f"must be at most {limit}, got {_shown(value)}"))
                return None
            return number if integer else (number if kind is Decimal else Decimal(number))
        return with_null(check_number)

    if special == "date" or schema.get("format") == "date":
        def check_date(value, parent, key, problems):
            if isinstance(value, date):
                return value
            if isinstance(value, str) and _DATE_TEXT.match(value):
                try:
                    return date.fromisoformat(value)
                except ValueError:
                    pass
            problems.append(CaseProblem(_at(parent, key), f"must be a date YYYY-MM-DD, got {_shown(value)}"))
            return None
        return with_null(check_date)

    if "boolean" in kinds:
        def check_bool(value, parent, key, problems):
            if value is True or value is False:
                return value
            problems.append(CaseProblem(_at(parent, key), f"must be true or false, got {_shown(value)}"))
            return None
        return with_null(check_bool)

    if "string" in kinds:
        pattern = re.compile(schema["pattern"]) if "pattern" in schema else None
        described = schema.get("x-form") or (f"text like {schema['examples'][0]}" if schema.get("examples") else "text")

        def check_string(value, parent, key, problems):
            if isinstance(value, str) and (pattern is None or pattern.match(value)):
                return value
            problems.append(CaseProblem(_at(parent, key), f"must be {described}, got {_shown(value)}"))
            return None
        return with_null(check_string)

    if "array" in kinds:
        check_item = _compile(schema.get("items", {}), root)

        def check_array(value, parent, key, problems):
            if not isinstance(value, (list, tuple)):
                problems.append(CaseProblem(_at(parent, key), f"must be a list, got {_shown(value)}"))
                return None
            here = _at(parent, key)
            return tuple(check_item(item, here, i, problems) for i, item in enumerate(value))
        return with_null(check_array)

    if "object" in kinds:
        properties = schema.get("properties", {})
        fields = [(key, _compile(sub, root)) for key, sub in properties.items()]
        required = frozenset(schema.get("required", ()))
        defaults = {}
        for name, sub in properties.items():
            sub = _resolve(sub, root)
            if "default" in sub and sub["default"] is not None:
                converted = dict(fields)[name](sub["default"], (), name, [])  # immutable: Decimal, bool, ()
                defaults[name] = converted
            elif name not in required:
                defaults[name] = None
        known = frozenset(properties)

        def check_object(value, parent, key, problems):
            if not isinstance(value, dict):
                problems.append(CaseProblem(_at(parent, key), f"must be an object, got {_shown(value)}"))
                return None
            here = _at(parent, key)
            out = {}
            for name, check in fields:
                if name in value:
                    out[name] = check(value[name], here, name, problems)
                elif name in required:
                    problems.append(CaseProblem(here + (name,), "is required"))
                else:
                    out[name] = defaults[name]
            if len(value) > len(out) or not known.issuperset(value):
                for name in value:
                    if name not in known:
                        close = difflib.get_close_matches(str(name), list(known), n=1)
                        hint = f"; did you mean '{close[0]}'?" if close else ""
                        problems.append(CaseProblem(here + (str(name),), f"unknown field{hint}"))
            return out
        return with_null(check_object)

    def accept(value, parent, key, problems):
        return value
    return accept


@lru_cache(maxsize=8)
def case_model(schema_path: Path) -> CaseModel:
    """Read and compile a case schema once per process."""
    root = json.loads(Path(schema_path).read_text(encoding="utf-8"))
    record = _dsl_type(root, root, "case")
    return CaseModel(Path(schema_path), record, _compile(root, root))


def parse_case_text(text: str):
    """JSON or YAML text -> raw case, with numbers kept exact (never float)."""
    stripped = text.lstrip()
    if stripped.startswith("{") or stripped.startswith("["):
        return json.loads(text, parse_float=Decimal)
    import yaml  # a YAML case: numbers stay text-exact through the str -> Decimal route
    return _exact_yaml(yaml.safe_load(text))


def _exact_yaml(value):
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _exact_yaml(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_exact_yaml(v) for v in value]
    return value
