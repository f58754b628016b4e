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
from decimal import Decimal
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


class _ValidatorSource:
    """The case schema -> the source of one Python function that checks and converts a case.

    Generated once per schema; each field becomes a few straight-line
    statements, so checking a case costs about what hand-written checks cost.
    Paths of problems are built only when a problem is found.
    """

    def __init__(self, root: dict):
        self.root = root
        self.lines: list[str] = []
        self.namespace: dict[str, object] = {
            "Decimal": Decimal, "date": date, "Problem": CaseProblem, "shown": _shown, "MISSING": _MISSING,
            "unknown_fields": _unknown_fields, "fromisoformat": date.fromisoformat,
            "is_decimal_text": _DECIMAL_TEXT.match, "is_date_text": _DATE_TEXT.match,
        }
        self.counter = 0

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}{self.counter}"

    def constant(self, value, stem: str = "K") -> str:
        name = self.fresh(stem)
        self.namespace[name] = value
        return name

    def emit(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    def problem(self, depth: int, path: tuple, message: str) -> None:
        self.emit(depth, f"problems.append(Problem({_tuple(path)}, {message}))")

    def refuse(self, depth: int, path: tuple, target: str, message: str) -> None:
        """The value is wrong: no converted value, one problem at its path."""
        self.emit(depth, f"{target} = None")
        self.problem(depth, path, message)

    def value(self, schema: dict, var: str, path: tuple, target: str, depth: int) -> None:
        """Statements that check `var` (at JSON path `path`) and assign the converted value to `target`."""
        schema = _resolve(schema, self.root)
        kinds = _types_of(schema)
        nullable = "null" in kinds or None in schema.get("enum", ())
        if nullable:
            self.emit(depth, f"if {var} is None:")
            self.emit(depth + 1, f"{target} = None")
            self.emit(depth, "else:")
            depth += 1
        special = schema.get("x-type")
        if "enum" in schema:
            allowed = [m for m in schema["enum"] if m is not None]
            members = self.constant(frozenset(allowed), "E")
            listing = ", ".join(allowed) + (", or null" if nullable else "")
            words = self.constant(listing, "W")
            choices = self.constant(allowed, "L")
            self.emit(depth, f"if {var}.__class__ is str and {var} in {members}:")
            self.emit(depth + 1, f"{target} = {var}")
            self.emit(depth, "else:")
            self.refuse(depth + 1, path, target, f'"must be one of " + {words} + "; got " + shown({var}) + '
                                          f"_did_you_mean({var}, {choices})")
            self.namespace["_did_you_mean"] = _did_you_mean
        elif special in ("money", "percent", "decimal") or kinds & {"number", "integer"}:
            self.number(schema, kinds, special, var, path, target, depth)
        elif special == "date" or schema.get("format") == "date":
            self.emit(depth, f"if {var}.__class__ is str and is_date_text({var}):")
            self.emit(depth + 1, "try:")
            self.emit(depth + 2, f"{target} = fromisoformat({var})")
            self.emit(depth + 1, "except ValueError:")
            self.refuse(depth + 2, path, target, f'"must be a date YYYY-MM-DD, got " + shown({var})')
            self.emit(depth, f"elif {var}.__class__ is date:")
            self.emit(depth + 1, f"{target} = {var}")
            self.emit(depth, "else:")
            self.refuse(depth + 1, path, target, f'"must be a date YYYY-MM-DD, got " + shown({var})')
        elif "boolean" in kinds:
            self.emit(depth, f"if {var} is True or {var} is False:")
            self.emit(depth + 1, f"{target} = {var}")
            self.emit(depth, "else:")
            self.refuse(depth + 1, path, target, f'"must be true or false, got " + shown({var})')
        elif "string" in kinds:
            described = schema.get("x-form") or (f"text like {schema['examples'][0]}" if schema.get("examples") else "text")
            test = f"{var}.__class__ is str"
            if "pattern" in schema:
                test += f" and {self.constant(re.compile(schema['pattern']).match, 'R')}({var})"
            self.emit(depth, f"if {test}:")
            self.emit(depth + 1, f"{target} = {var}")
            self.emit(depth, "else:")
            self.refuse(depth + 1, path, target, f'"must be {described}, got " + shown({var})')
        elif "array" in kinds:
            items, index, item = self.fresh("items"), self.fresh("i"), self.fresh("y")
            self.emit(depth, f"if {var}.__class__ is list or {var}.__class__ is tuple:")
            self.emit(depth + 1, f"{items} = []")
            self.emit(depth + 1, f"for {index}, {item} in enumerate({var}):")
            converted = self.fresh("c")
            self.value(schema.get("items", {}), item, path + (index,), converted, depth + 2)
            self.emit(depth + 2, f"{items}.append({converted})")
            self.emit(depth + 1, f"{target} = tuple({items})")
            self.emit(depth, "else:")
            self.refuse(depth + 1, path, target, f'"must be a list, got " + shown({var})')
        elif "object" in kinds:
            self.obj(schema, var, path, target, depth)
        else:
            self.emit(depth, f"{target} = {var}")

    def number(self, schema, kinds, special, var, path, target, depth) -> None:
        integer = "integer" in kinds and special is None
        words = _number_words(schema)
        if special == "money":
            words += " (euro, as a JSON number or a decimal string)"
        bad = f'"must be {words}, got " + shown({var})'
        number = self.fresh("n")
        self.emit(depth, f"{number} = None")
        self.emit(depth, f"if {var}.__class__ is int:")
        self.emit(depth + 1, f"{number} = {var}")
        if not integer:
            self.emit(depth, f"elif {var}.__class__ is Decimal and {var}.is_finite():")
            self.emit(depth + 1, f"{number} = {var}")
        self.emit(depth, f"elif {var}.__class__ is float and {var} - {var} == 0:")
        self.emit(depth + 1, f"{number} = Decimal(repr({var}))")
        if integer:
            self.emit(depth + 1, f"{number} = int({number}) if {number} == {number}.to_integral_value() else None")
            self.emit(depth, f"elif {var}.__class__ is Decimal and {var}.is_finite() and {var} == {var}.to_integral_value():")
            self.emit(depth + 1, f"{number} = int({var})")
        if "string" in kinds:
            self.emit(depth, f"elif {var}.__class__ is str and is_decimal_text({var}):")
            self.emit(depth + 1, f"{number} = Decimal({var})")
        self.emit(depth, f"if {number} is None:")
        self.refuse(depth + 1, path, target, bad)
        low = schema.get("minimum")
        low_excl = schema.get("exclusiveMinimum")
        high = schema.get("maximum")
        if low is not None:
            self.emit(depth, f"elif {number} < {self.constant(Decimal(str(low)))}:")
            self.refuse(depth + 1, path, target, bad)
        if low_excl is not None:
            self.emit(depth, f"elif {number} <= {self.constant(Decimal(str(low_excl)))}:")
            self.refuse(depth + 1, path, target, bad)
        if high is not None:
            too_high = f'"must be at most {format(Decimal(str(high)), "f")}, got " + shown({var})' if high > 1 else bad
            self.emit(depth, f"elif {number} > {self.constant(Decimal(str(high)))}:")
            self.refuse(depth + 1, path, target, too_high)
        if special == "money":
            self.emit(depth, f"elif {number}.__class__ is not int and {number} != {number}.quantize(CENT):")
            self.refuse(depth + 1, path, target, f'"must be whole cents (at most two decimals), got " + shown({var})')
            self.namespace["CENT"] = Decimal("0.01")
        self.emit(depth, "else:")
        self.emit(depth + 1, f"{target} = {number}" if integer else
                  f"{target} = {number} if {number}.__class__ is Decimal else Decimal({number})")

    def default(self, schema: dict, name: str):
        """A field's schema default, converted once: the same for every case (immutable: Decimal, bool, ())."""
        problems: list = []
        source = _ValidatorSource(self.root)
        source.emit(0, "def convert(value, problems):")
        source.value(schema, "value", (repr(name),), "result", 1)
        source.emit(1, "return result")
        namespace = dict(source.namespace)
        exec(compile("\n".join(source.lines) + "\n", "<case default>", "exec"), namespace)
        value = namespace["convert"](schema["default"], problems)
        if problems:
            raise ValueError(f"the default of {name} in the case schema is not valid: {problems[0]}")
        return value

    def obj(self, schema, var, path, target, depth) -> None:
        properties = schema.get("properties", {})
        required = set(schema.get("required", ()))
        out = self.fresh("o")
        known = self.constant(frozenset(properties), "F")
        self.emit(depth, f"if {var}.__class__ is not dict:")
        self.refuse(depth + 1, path, target, f'"must be an object, got " + shown({var})')
        self.emit(depth, "else:")
        depth += 1
        self.emit(depth, f"{out} = {{}}")
        for name, sub in properties.items():
            field_path = path + (repr(name),)
            item = self.fresh("x")
            self.emit(depth, f"{item} = {var}.get({name!r}, MISSING)")
            self.emit(depth, f"if {item} is MISSING:")
            resolved = _resolve(sub, self.root)
            if name in required:
                self.emit(depth + 1, f"{out}[{name!r}] = None")
                self.problem(depth + 1, field_path, '"is required"')
            elif resolved.get("default") is not None:
                self.emit(depth + 1, f"{out}[{name!r}] = {self.constant(self.default(resolved, name), 'J')}")
            else:
                self.emit(depth + 1, f"{out}[{name!r}] = None")
            self.emit(depth, "else:")
            self.value(sub, item, field_path, f"{out}[{name!r}]", depth + 1)
        self.emit(depth, f"if not {known}.issuperset({var}):")
        self.emit(depth + 1, f"unknown_fields({var}, {known}, {_tuple(path)}, problems)")
        self.emit(depth, f"{target} = {out}")


def _tuple(path: tuple) -> str:
    """Path parts (Python expressions) -> the source of a tuple."""
    return "(" + "".join(part + ", " for part in path) + ")"


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


_MISSING = _Missing()


def _did_you_mean(value, choices) -> str:
    close = difflib.get_close_matches(value, choices, n=1) if isinstance(value, str) else []
    return f" (did you mean '{close[0]}'?)" if close else ""


def _unknown_fields(value: dict, known, path: tuple, problems: list) -> None:
    for name in value:
        if name not in known:
            close = difflib.get_close_matches(str(name), sorted(known), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            problems.append(CaseProblem(path + (str(name),), f"unknown field{hint}"))


def _compile(root: dict) -> Validator:
    """The case schema -> validate(value, parent, key, problems) -> converted case."""
    source = _ValidatorSource(root)
    source.emit(0, "def validate(value, parent, key, problems):")
    source.value(root, "value", (), "result", 1)
    source.emit(1, "return result")
    code = "\n".join(source.lines) + "\n"
    namespace = dict(source.namespace)
    exec(compile(code, "<case validator>", "exec"), namespace)
    return namespace["validate"]


@lru_cache(maxsize=8)
def case_model(schema_path: Path) -> CaseModel:
    """Read and compile a case schema once per process."""
    root = json.loads(Path(schema_path).read_text(encoding="utf-8"))
    record = _dsl_type(root, root, "case")
    return CaseModel(Path(schema_path), record, _compile(root))


class CaseTextError(ValueError):
    """A case file that is not valid JSON or YAML; the message says where."""


def _no_duplicate_keys(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise CaseTextError(f"not valid JSON: the key '{key}' is written twice in one object")
        seen[key] = value
    return seen


def parse_case_text(text: str):
    """JSON or YAML text -> raw case, with numbers kept exact (never float); CaseTextError when unreadable."""
    stripped = text.lstrip()
    if stripped.startswith("{") or stripped.startswith("["):
        try:
            return json.loads(text, parse_float=Decimal, object_pairs_hook=_no_duplicate_keys)
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
    return _plain(doc)


def _plain(value):
    """Positioned YAML data -> plain dicts and lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


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
