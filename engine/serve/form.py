"""The "Try a case" form, generated from a scheme's case schema: schema -> fields; form values <-> case.

    form_model(schema)      the JSON Schema -> `FormField`s (choices, yes/no, dates, amounts, groups, rows)
    case_of(model, values)  the submitted values (flat, "enterprise.prior_aid.0.amount" -> text) -> a raw case
    values_of(case)         a raw case -> the flat values, so a permalink or an example fills the form

A field left empty is left out of the case, so the engine applies the
schema's default or says the field is required, by its JSON path, which is
also the field's name in the form; a problem is shown beside its field.
Numbers travel as text and reach the engine exactly as typed.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

MAX_ROWS = 100            # rows of one repeatable group a form may hold
MAX_SCHEMA_DEPTH = 12     # groups inside groups that the form follows
_INTEGER = re.compile(r"-?[0-9]{1,30}")
_DECIMAL = re.compile(r"-?[0-9]{1,30}\.[0-9]{1,30}")
_INDEX = re.compile(r"\[(\d+)\]")
NULL = "null"             # the value of the choice "none" (JSON null) in a form


@dataclass(frozen=True)
class FormField:
    """One field of the form: a leaf (choice, bool, date, money, number, text), a group or repeatable rows."""

    name: str
    path: str                  # dotted, without row numbers: enterprise.prior_aid.amount
    kind: str                  # choice, bool, date, money, number, text, group, rows
    required: bool = False
    choices: tuple = ()        # for a choice: the values, None for null
    default: object = None
    has_default: bool = False
    description: str = ""
    hint: str = ""             # how to write it (x-form, examples)
    children: tuple["FormField", ...] = ()

    @property
    def nullable(self) -> bool:
        return None in self.choices


def _resolved(node: dict, root: dict, depth: int = 0) -> dict:
    """A schema with its local `$ref` (#/$defs/...) merged in; siblings of the `$ref` win."""
    ref = node.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/") or depth > 8:
        return node
    target = root
    for part in ref[2:].split("/"):
        target = target.get(part, {}) if isinstance(target, dict) else {}
    merged = dict(_resolved(target, root, depth + 1)) if isinstance(target, dict) else {}
    merged.update({k: v for k, v in node.items() if k != "$ref"})
    return merged


def _types(node: dict) -> set:
    given = node.get("type")
    return set(given) if isinstance(given, list) else {given} if isinstance(given, str) else set()


def _kind(node: dict) -> str:
    types = _types(node)
    if "enum" in node:
        return "choice"
    if "object" in types and isinstance(node.get("properties"), dict):
        return "group"
    if "array" in types and isinstance(node.get("items"), dict):
        return "rows"
    if types == {"boolean"} or "boolean" in types:
        return "bool"
    if node.get("format") == "date":
        return "date"
    if node.get("x-type") == "money":
        return "money"
    if types & {"number", "integer"}:
        return "number"
    return "text"


def _fields(node: dict, root: dict, prefix: str, depth: int) -> tuple[FormField, ...]:
    required = set(node.get("required") or ())
    out = []
    for name, child in (node.get("properties") or {}).items():
        if not isinstance(child, dict):
            continue
        own_description = child.get("description")  # not the one of a shared definition it refers to
        child = _resolved(child, root)
        kind = _kind(child)
        path = f"{prefix}{name}"
        children: tuple = ()
        if kind == "group" and depth < MAX_SCHEMA_DEPTH:
            children = _fields(child, root, path + ".", depth + 1)
        elif kind == "rows" and depth < MAX_SCHEMA_DEPTH:
            items = _resolved(child["items"], root)
            if _kind(items) != "group":
                kind = "text"
            else:
                children = _fields(items, root, path + ".", depth + 1)
        examples = child.get("examples")
        hint = child.get("x-form") or (f"e.g. {examples[0]}" if isinstance(examples, list) and examples else "")
        out.append(FormField(name, path, kind, name in required, tuple(child.get("enum") or ()),
                             child.get("default"), "default" in child, str(own_description or ""),
                             str(hint), children))
    return tuple(out)


def form_model(schema_path: Path) -> tuple[FormField, ...]:
    """A case schema file -> the fields of its form, in the schema's order."""
    root = json.loads(Path(schema_path).read_text(encoding="utf-8"))
    return _fields(_resolved(root, root), root, "", 0)


# -- values <-> case ------------------------------------------------------------------

def form_key(json_path: str) -> str:
    """A JSON path as the engine writes it (enterprise.prior_aid[0].amount) -> the form's name for it."""
    return _INDEX.sub(lambda m: f".{m.group(1)}", json_path)


def row_numbers(values: dict, key: str) -> list[int]:
    """The row numbers of a repeatable group present among the values, in order."""
    found = set()
    start = key + "."
    for name in values:
        if name.startswith(start):
            head = name[len(start):].split(".", 1)[0]
            if head.isascii() and head.isdigit() and len(head) <= 4:
                found.add(int(head))
    return sorted(found)[:MAX_ROWS]


def _value(field: FormField, text: str):
    if field.kind == "choice":
        return None if text == NULL else text
    if field.kind == "bool":
        return {"true": True, "false": False}.get(text, text)
    if field.kind in ("money", "number"):
        if _INTEGER.fullmatch(text):
            return int(text)
        if _DECIMAL.fullmatch(text):
            return Decimal(text)
    return text


def _collect(fields: tuple[FormField, ...], values: dict, prefix: str) -> dict:
    out = {}
    for field in fields:
        key = prefix + field.name
        if field.kind == "group":
            inner = _collect(field.children, values, key + ".")
            if inner or field.required:
                out[field.name] = inner
        elif field.kind == "rows":
            rows = [row for row in (_collect(field.children, values, f"{key}.{n}.") for n in row_numbers(values, key))
                    if row]
            if rows:
                out[field.name] = rows
        else:
            text = str(values.get(key, "")).strip()
            if text:
                out[field.name] = _value(field, text)
    return out


def case_of(model: tuple[FormField, ...], values: dict) -> dict:
    """The submitted values -> a raw case: empty fields and empty rows left out."""
    return _collect(model, values, "")


def values_of(case, key: str = "", out: dict | None = None, depth: int = 0) -> dict:
    """A raw case -> flat form values (lists by row number, null as "null", booleans as true/false)."""
    out = {} if out is None else out
    if depth > MAX_SCHEMA_DEPTH:
        return out
    if isinstance(case, dict):
        for name, value in case.items():
            values_of(value, f"{key}.{name}" if key else str(name), out, depth + 1)
    elif isinstance(case, list):
        for number, item in enumerate(case[:MAX_ROWS]):
            values_of(item, f"{key}.{number}", out, depth + 1)
    elif key:
        out[key] = _text(case)
    return out


def _text(value) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def with_row_added(values: dict, key: str) -> dict:
    """The values with one more (empty) row of the repeatable group `key`."""
    numbers = row_numbers(values, key)
    if len(numbers) >= MAX_ROWS:
        return dict(values)
    out = dict(values)
    out[f"{key}.{(numbers[-1] + 1) if numbers else 0}."] = ""  # an empty row: present, all fields empty
    return out


def with_row_removed(values: dict, row: str) -> dict:
    """The values without the row `key.N`, the rows after it moved up one."""
    key, _, number = row.rpartition(".")
    if not (number.isascii() and number.isdigit()):
        return dict(values)
    gone = int(number)
    out = {}
    for name, value in values.items():
        if name.startswith(key + "."):
            head, _, rest = name[len(key) + 1:].partition(".")
            if head.isascii() and head.isdigit():
                n = int(head)
                if n == gone:
                    continue
                if n > gone:
                    name = f"{key}.{n - 1}.{rest}"
        out[name] = value
    return out
