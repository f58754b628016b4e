"""Stage 1, load: YAML rule file -> `RuleFile` (plain data that remembers positions).

YAML is read safely and strictly: a duplicated key, an anchor or alias (the
"billion laughs" bomb), or a YAML syntax error is a diagnostic with
file:line:column. Dates and yes/no stay text; only `true`/`false` are booleans,
so a table key `no` is never read as False. The shape of each file is then
checked against `schemas/ruleset.schema.json`.
"""
from __future__ import annotations

import difflib
import hashlib
import os
import json
import re
from decimal import Decimal
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from .diagnostics import Diagnostic
from .span import Span


class PosDict(dict):
    """A YAML mapping that remembers where each key and value was written."""

    __slots__ = ("key_spans", "value_locs", "span")


class PosList(list):
    """A YAML sequence that remembers where each item was written."""

    __slots__ = ("value_locs", "span")


@dataclass(frozen=True, slots=True)
class Loc:
    """Where a value's text lies in its file: a span plus raw character offsets."""

    span: Span
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class RuleFile:
    """One rule file read from disk: its path as shown to users, its text, its data."""

    path: str
    text: str
    doc: object


class _StrictResolver(yaml.resolver.BaseResolver):
    pass


for _tag, _regexp, _first in (
    ("tag:yaml.org,2002:bool", r"^(?:true|false)$", list("tf")),
    ("tag:yaml.org,2002:int", r"^-?(?:0|[1-9][0-9_]*)$", list("-0123456789")),
    ("tag:yaml.org,2002:float", r"^-?(?:0|[1-9][0-9_]*)\.[0-9_]+$", list("-0123456789")),
    ("tag:yaml.org,2002:null", r"^(?:~|null|)$", ["~", "n", ""]),
):
    _StrictResolver.add_implicit_resolver(_tag, re.compile(_regexp), _first)


class _PyComposer(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer,
                  _StrictResolver):
    """Pure-Python YAML composer (used where PyYAML has no libyaml)."""

    def __init__(self, text: str):
        yaml.reader.Reader.__init__(self, text)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        _StrictResolver.__init__(self)


if getattr(yaml, "__with_libyaml__", False):
    from yaml._yaml import CParser

    class _Composer(CParser, _StrictResolver):
        """libyaml composer: the same node tree with marks, much faster."""

        def __init__(self, text: str):
            CParser.__init__(self, text)
            _StrictResolver.__init__(self)
else:  # pragma: no cover - depends on how PyYAML was built
    _Composer = _PyComposer


class _Builder:
    """YAML nodes -> PosDict / PosList / scalars, collecting every problem.

    A node met twice is an alias (`*name`): refused, so an alias bomb never expands.
    """

    def __init__(self, file: str):
        self.file = file
        self.diagnostics: list[Diagnostic] = []
        self.seen: set[int] = set()

    def span_of(self, node) -> Span:
        start, end = node.start_mark, node.end_mark
        return Span(self.file, start.line + 1, start.column + 1, end.line + 1, end.column + 1)

    def _loc(self, node) -> Loc:
        return Loc(self.span_of(node), node.start_mark.index, node.end_mark.index)

    def build(self, node, where: Span | None = None):
        if not isinstance(node, ScalarNode):
            if id(node) in self.seen:
                self.diagnostics.append(Diagnostic(
                    "yaml-alias", f"this value repeats the one at line {node.start_mark.line + 1} through an alias "
                    "(*name); anchors and aliases are not allowed in rule files: write the value out",
                    where or self.span_of(node)))
                return None
            self.seen.add(id(node))
        if isinstance(node, MappingNode):
            return self._mapping(node)
        if isinstance(node, SequenceNode):
            out = PosList()
            out.value_locs = []
            out.span = self.span_of(node)
            for item in node.value:
                out.append(self.build(item, out.span))
                out.value_locs.append(self._loc(item))
            return out
        if node.tag == "tag:yaml.org,2002:int":
            return int(node.value.replace("_", ""))
        if node.tag == "tag:yaml.org,2002:float":
            return Decimal(node.value.replace("_", ""))  # exact, never a float
        if node.tag == "tag:yaml.org,2002:bool":
            return node.value == "true"
        if node.tag == "tag:yaml.org,2002:null":
            return None
        if node.tag == "tag:yaml.org,2002:str":
            return node.value
        self.diagnostics.append(Diagnostic(
            "yaml-tag", f"the YAML tag {node.tag} is not allowed in rule files", self.span_of(node)))
        return None

    def _mapping(self, node) -> PosDict:
        out = PosDict()
        out.key_spans, out.value_locs, out.span = {}, {}, self.span_of(node)
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or key_node.value == "<<":
                self.diagnostics.append(Diagnostic(
                    "yaml-alias", "merge keys (<<) are not allowed in rule files; write the values out",
                    self.span_of(key_node)))
                continue
            if not isinstance(key_node, ScalarNode):
                self.diagnostics.append(Diagnostic("yaml-key", "a key must be plain text", self.span_of(key_node)))
                continue
            key = key_node.value
            if key in out:
                first = out.key_spans[key]
                self.diagnostics.append(Diagnostic(
                    "yaml-duplicate-key",
                    f"the key '{key}' is written twice in this mapping (first at line {first.line})",
                    self.span_of(key_node)))
                continue
            out[key] = self.build(value_node, self.span_of(key_node))
            out.key_spans[key] = self.span_of(key_node)
            out.value_locs[key] = self._loc(value_node)
        return out


def _syntax_problem(error: yaml.MarkedYAMLError, text: str, file: str) -> Diagnostic:
    """A YAML syntax error -> a plain sentence at the spot to fix (the opening quote, not the end of the file)."""
    problem, context = (error.problem or "invalid YAML").strip(), (error.context or "").strip()
    at, opened = error.problem_mark or error.context_mark, error.context_mark or error.problem_mark

    def span(mark) -> Span:
        return Span(file, mark.line + 1, mark.column + 1) if mark else Span(file, 1, 1)

    char = text[at.index] if at and at.index < len(text) else ""
    line = text.splitlines()[at.line] if at and at.line < len(text.splitlines()) else ""
    quote_hint = "put the whole value in quotes"
    if "mapping values are not allowed" in problem:
        return Diagnostic("yaml-syntax", "a value holds ': ' (a colon and a space), which YAML reads as a new key",
                          span(at), f"{quote_hint}, or check the indentation of this line")
    if "cannot start any token" in problem and char == "\t":
        return Diagnostic("yaml-syntax", "a tab character: YAML is indented with spaces only", span(at),
                          "replace the tab by spaces")
    if "cannot start any token" in problem or "undefined alias" in problem:
        return Diagnostic("yaml-syntax", f"a value cannot start with '{char}'", span(at), quote_hint)
    if "end of stream" in problem and "quoted scalar" in context:
        return Diagnostic("yaml-syntax", "this quote is never closed", span(opened), "end the text with the same quote")
    if "could not find expected ':'" in problem:
        return Diagnostic("yaml-syntax", "this line has no ':'; each line of a mapping is 'key: value'", span(opened))
    if "expected ',' or '}'" in problem or "expected ',' or ']'" in problem:
        closing = "}" if "}" in problem else "]"
        return Diagnostic("yaml-syntax", f"this '{'{' if closing == '}' else '['}' is never closed with '{closing}'",
                          span(opened), f"a value with ',' or '{closing}' in it must be put in quotes")
    if "expected key" in problem or "expected '-'" in problem:
        if at and at.column > len(line) - len(line.lstrip()):
            return Diagnostic("yaml-syntax", "unexpected text after the value", span(at),
                              "a value that starts with a quote must end with it; put the whole value in quotes")
        return Diagnostic("yaml-syntax", "this line is not indented like the lines above it", span(at),
                          "keys of one mapping, and the items of one list, start in the same column")
    return Diagnostic("yaml-syntax", f"{problem} ({context})" if context else problem, span(at))


def read_yaml(text: str, file: str) -> tuple[object, list[Diagnostic]]:
    """YAML text -> data with positions, and the problems found (all of them)."""
    composer = _Composer(text)
    try:
        node = composer.get_single_node()
    except yaml.MarkedYAMLError as error:
        return None, [_syntax_problem(error, text, file)]
    except yaml.YAMLError as error:
        return None, [Diagnostic("yaml-syntax", str(error).splitlines()[0], Span(file, 1, 1))]
    finally:
        composer.dispose()
    builder = _Builder(file)
    doc = builder.build(node) if node is not None else None
    return doc, builder.diagnostics


def locate(doc, path) -> Span | None:
    """The span of the value at a path inside a loaded document (the deepest that exists)."""
    span = getattr(doc, "span", None)
    node = doc
    for part in path:
        if isinstance(node, PosDict) and part in node:
            span = node.value_locs[part].span
            node = node[part]
        elif isinstance(node, PosList) and isinstance(part, int) and part < len(node):
            span = node.value_locs[part].span
            node = node[part]
        else:
            break
    return span


def key_span(doc, path, key) -> Span | None:
    """The span of a key (for 'unknown field' errors, point at the key itself)."""
    node = doc
    for part in path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    if isinstance(node, PosDict):
        return node.key_spans.get(key)
    return None


@lru_cache(maxsize=None)
def _schema_validator(schema_path: str):
    schema = json.loads(Path(schema_path).read_text(encoding="utf-8"))
    import jsonschema  # only when a file's shape is not known to be good: it costs a twentieth of a second
    return jsonschema.Draft202012Validator(schema)


_NOUNS = {"parameters": "parameter", "tables": "table", "rules": "rule", "conditions": "condition", "notes": "note",
          "input_checks": "input check", "outputs": "output", "tests": "test"}
_LEAF_FIELDS = {"value", "source", "label", "assumption"}
_TYPE_WORDS = {"object": "a mapping (indented 'key: value' lines)", "array": "a list (lines that start with '- ')",
               "string": "text", "number": "a number", "integer": "a whole number", "boolean": "true or false",
               "null": "empty"}


def _where(path, doc) -> tuple[str, str]:
    """A path inside a file -> (what it belongs to, the field inside it), in words.

    ['changes', 'add_conditions', 'x', 'message'] -> ('condition x', 'message');
    ['parameters', 'rates', 'small', 'value'] -> ('parameter rates.small', 'value');
    ['tests', 2, 'expect'] -> ("test 'its name'", 'expect').
    """
    parts = list(path)
    if parts[:1] == ["changes"] and len(parts) > 2 and "_" in str(parts[1]):
        parts = [str(parts[1]).split("_", 1)[1]] + parts[2:]
    if len(parts) < 2 or str(parts[0]) not in _NOUNS:
        return "/".join(str(p) for p in parts) or "the file", ""
    section, rest = str(parts[0]), parts[1:]
    if section == "tests" and isinstance(rest[0], int):
        try:
            name = f"'{doc['tests'][rest[0]]['name']}'"
        except (KeyError, IndexError, TypeError):
            name = str(rest[0] + 1)
        return f"test {name}", "/".join(str(p) for p in rest[1:])
    count = 1
    if section == "parameters" and path[0] == "parameters":  # groups nest: rates: small: value:
        while count < len(rest) and str(rest[count]) not in _LEAF_FIELDS:
            count += 1
        count = min(count, len(rest))
    name = ".".join(str(p) for p in rest[:count])
    return f"{_NOUNS[section]} {name}", "/".join(str(p) for p in rest[count:])


def _schema_message(error, doc) -> tuple[str, str | None, str | None]:
    """A plain sentence for a jsonschema error, a hint, and the key it is about, if any."""
    owner, inside = _where(list(error.absolute_path), doc)
    field_of = f"'{inside}' of {owner}" if inside else owner
    hint = error.schema.get("description")
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))[0]
        close = difflib.get_close_matches(extra, allowed, n=1)
        return (f"unknown field '{extra}' in {field_of}",
                f"did you mean '{close[0]}'?" if close else f"allowed here: {', '.join(allowed)}", extra)
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        described = error.schema.get("properties", {}).get(missing, {})
        return (f"{field_of} lacks the required field '{missing}'",
                described.get("description") if isinstance(described, dict) else None, None)
    shown = json.dumps(error.instance, default=str, ensure_ascii=False)
    shown = shown if len(shown) <= 40 else shown[:37] + '..."'
    if error.validator == "type":
        expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        words = " or ".join(_TYPE_WORDS.get(e, e) for e in expected)
        return f"{field_of} must be {words}, not {shown}", hint, None
    if error.validator == "enum":
        return f"{field_of} must be one of {', '.join(map(str, error.validator_value))}, not {shown}", hint, None
    if error.validator == "pattern":
        return f"{field_of} must be {error.schema.get('description') or 'of the form ' + error.validator_value}, " \
               f"not {shown}", None, None
    if error.validator == "minLength":
        return f"{field_of} is too short", hint, None
    if error.validator in ("oneOf", "anyOf") and error.context:
        from jsonschema.exceptions import best_match
        best = best_match(error.context)
        if best is not None:
            return _schema_message(best, doc)
    return f"{field_of}: {error.message}", hint, None


def check_shape(rule_file: RuleFile, schema_path: Path) -> list[Diagnostic]:
    """Validate a loaded file against a JSON Schema, one diagnostic per problem.

    A misspelt field is one mistake, not two: "unknown field 'wen'" absorbs
    the "lacks the required field 'when'" it causes.
    """
    validator = _schema_validator(str(schema_path))
    errors = []
    for error in validator.iter_errors(rule_file.doc):
        if error.validator in ("oneOf", "anyOf") and error.context:
            error = max(error.context, key=lambda e: len(e.absolute_path))
        errors.append(error)
    unknown = {(tuple(e.absolute_path), extra) for e in errors if e.validator == "additionalProperties"
               for extra in set(e.instance) - set(e.schema.get("properties", {}))}
    found = []
    for error in sorted(errors, key=lambda e: list(map(str, e.absolute_path))):
        path = tuple(error.absolute_path)
        if error.validator == "required" and "'" in error.message:
            missing = error.message.split("'")[1]
            if any(at == path and difflib.get_close_matches(missing, [extra], n=1) for at, extra in unknown):
                continue
        message, hint, key = _schema_message(error, rule_file.doc)
        span = key_span(rule_file.doc, list(path), key) if key else None
        if span is None and error.validator == "required" and path:
            span = key_span(rule_file.doc, list(path[:-1]), path[-1])  # the name of what lacks the field
        span = span or locate(rule_file.doc, list(path)) or Span(rule_file.path, 1, 1)
        found.append(Diagnostic("schema", message, span, hint))
    return found


def load_rule_file(path: Path, shown_as: str, schema_path: Path) -> tuple[RuleFile | None, list[Diagnostic]]:
    """Read one rule file and check its shape; None when it cannot be used at all."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return None, [Diagnostic("file", f"cannot read the file: {error}", Span(shown_as, 1, 1))]
    doc, problems = read_yaml(text, shown_as)
    if doc is None and not problems:
        problems = [Diagnostic("file", "the file is empty", Span(shown_as, 1, 1))]
    if doc is None:
        return None, problems
    rule_file = RuleFile(shown_as, text, doc)
    known_good = _shape_key(text, schema_path)
    if known_good is not None and known_good.exists():
        return rule_file, problems
    shape = check_shape(rule_file, schema_path)
    if not shape and known_good is not None:
        _remember(known_good)
    return (None if shape else rule_file), problems + shape


def _cache_dir() -> Path | None:
    base = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache" if Path.home() != Path("/") else None)
    return Path(base) / "kmo-rules" / "shapes" if base else None


def _shape_key(text: str, schema_path: Path) -> Path | None:
    """Where the verdict "this exact text fits this exact schema" is remembered (a pure function of both)."""
    folder = _cache_dir()
    if folder is None or os.environ.get("KMO_RULES_NO_CACHE"):
        return None
    try:
        schema = schema_path.read_bytes()
    except OSError:
        return None
    digest = hashlib.sha256(schema + b"\0" + text.encode("utf-8")).hexdigest()
    return folder / digest


def _remember(marker: Path) -> None:
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError:
        pass  # a read-only home only costs speed


def span_in_value(rule_file_text: str, loc: Loc, value: str, offset: int) -> Span:
    """Map an offset inside a YAML string value back to its file line and column.

    Plain, quoted, literal and folded scalars differ only in white space (and
    the opening quote), so walk both texts matching non-blank characters.
    """
    raw = rule_file_text[loc.start:loc.end]
    target = sum(1 for ch in value[:offset] if not ch.isspace())
    i = 0
    if raw[:1] in ("'", '"'):
        i = 1
    elif raw[:1] in ("|", ">"):
        i = raw.find("\n") + 1 if "\n" in raw else len(raw)
    seen = 0
    while i < len(raw):
        if not raw[i].isspace():
            if seen == target:
                break
            seen += 1
        i += 1
    absolute = loc.start + min(i, len(raw))
    line = rule_file_text.count("\n", 0, absolute) + 1
    column = absolute - (rule_file_text.rfind("\n", 0, absolute) + 1) + 1
    return Span(loc.span.file, line, column)
