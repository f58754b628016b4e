"""Replay a stored decision: decide its case again under the version it names, and say what differs.

    replay(book, case, decision) -> Replay(identical, differences, version, sha256)

The version is the one the stored decision names (`decision["ruleset"]["version"]`),
not the one the case's date would pick today. The rules' content hash for that
version must still be the stored `sha256`, and every field of the decision made
again must equal the stored one. The explanation is compared only when the
stored decision has one; it is then made again in the same language.

`canonical_text(checked)` is the exact text whose sha256 is a version's hash
(`kmo-rules show --canonical` prints it), so anyone can recompute the hash.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache

from ..core.diagnostics import ArgumentError, VersionNotFound
from ..lang.check import CheckedRuleSet
from ..lang.printer import canonical_text, content_hash  # noqa: F401  (canonical_text: part of this module's answer)
from ..run.evaluate import evaluate_case
from pathlib import Path

from ..source.versions import bundled_schemas_dir, shown_path

LANGUAGES = ("en", "nl")  # the languages of messages and explanations


def text_hash(text: str) -> str:
    """The sha256 of a text as its UTF-8 bytes, as `sha256sum` gives it."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def checked_text(checked: CheckedRuleSet) -> str:
    """`canonical_text`, refused if it does not hash to the version's content hash (the two never drift)."""
    text = canonical_text(checked)
    if text_hash(text) != content_hash(checked):  # pragma: no cover - guarded by the tests
        from ..core.diagnostics import EngineBug
        raise EngineBug("the canonical text does not hash to the version's content hash")
    return text


_ABSENT = object()


def _shown(value) -> str:
    if value is _ABSENT:
        return "nothing"
    return json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class Difference:
    """One field whose stored value is not what the rules give now."""

    field: str  # a path in the decision: subsidy, reasons, ruleset.sha256, explanation.steps[3].value, ...
    stored: object
    now: object
    note: str = ""  # a sentence on what the difference means, when there is more to say

    def __str__(self) -> str:
        if self.field == "ruleset.sha256":
            text = f"{self.field}: stored {self.stored}, the rules give {self.now}"
        else:
            text = f"{self.field}: stored {_shown(self.stored)}, now {_shown(self.now)}"
        return f"{text}: {self.note}" if self.note else text


@dataclass(frozen=True)
class Replay:
    """A stored decision made again: identical, or each field that differs."""

    identical: bool
    differences: tuple[Difference, ...]
    version: str  # the version the stored decision names
    sha256: str  # the content hash the rules give for it now

    def __str__(self) -> str:
        if self.identical:
            return f"identical: {self.version} sha256 {self.sha256}"
        return "\n".join(str(d) for d in self.differences)


# What every scheme's decision holds, whatever its outputs: for a scheme that ships no decision schema.
_ANY_DECISION = {"type": "object", "required": ["ruleset", "eligible", "reasons", "notes", "explanation"],
                 "properties": {"ruleset": {"type": "object", "required": ["id", "version", "sha256"],
                                            "properties": {"id": {"type": "string"}, "version": {"type": "string"},
                                                           "sha256": {"type": "string",
                                                                      "pattern": "^[0-9a-f]{64}$"}}},
                                "eligible": {"type": "boolean"}, "reasons": {"type": "array"},
                                "notes": {"type": "array"}, "explanation": {"type": ["object", "null"]}}}


@lru_cache(maxsize=8)
def _decision_validator(path: str | None = None):
    import jsonschema
    schema = json.loads(Path(path).read_text(encoding="utf-8")) if path else _ANY_DECISION
    return jsonschema.Draft202012Validator(schema)


def _where(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "the decision"


_JSON_KINDS = {list: "a list", tuple: "a list", str: "a text", int: "a number", float: "a number", bool: "true or false",
               type(None): "null"}


def checked_decision(decision, schema: Path | None = None) -> dict:
    """A stored decision as plain JSON data, or ArgumentError saying how it is not the shape of the scheme's
    decision schema (`schema`; without one, the shape every decision has)."""
    if not isinstance(decision, dict):
        raise ArgumentError(f"not a decision of the contract: a decision is a JSON object, not "
                            f"{_JSON_KINDS.get(type(decision), type(decision).__name__)}")
    try:
        plain = json.loads(json.dumps(decision, ensure_ascii=False, allow_nan=False))
    except (TypeError, ValueError) as error:
        raise ArgumentError(f"a decision must be JSON data: {error}") from None
    from jsonschema.exceptions import best_match
    error = best_match(_decision_validator(str(schema) if schema else None).iter_errors(plain))
    if error is not None:
        named = f" ({shown_path(schema)})" if schema else ""
        raise ArgumentError(f"not a decision of the contract{named}: {_where(error.absolute_path)}: {error.message}")
    return plain


def _remarks(path: str, stored: list, now: list) -> list[Difference]:
    """Reasons or notes: by code when the codes differ, else field by field."""
    codes = lambda remarks: [r["code"] for r in remarks]  # noqa: E731
    if codes(stored) != codes(now):
        return [Difference(path, codes(stored), codes(now))]
    return [d for i, (a, b) in enumerate(zip(stored, now)) for d in _compare(f"{path}[{i}]", a, b)]


def _compare(path: str, stored, now) -> list[Difference]:
    if isinstance(stored, dict) and isinstance(now, dict):
        keys = list(stored) + [k for k in now if k not in stored]
        return [d for k in keys for d in _compare(f"{path}.{k}" if path else k, stored.get(k, _ABSENT),
                                                  now.get(k, _ABSENT))]
    if path in ("reasons", "notes") and isinstance(stored, list) and isinstance(now, list):
        return _remarks(path, stored, now)
    if isinstance(stored, list) and isinstance(now, list) and len(stored) == len(now):
        return [d for i, (a, b) in enumerate(zip(stored, now)) for d in _compare(f"{path}[{i}]", a, b)]
    if stored != now or (type(stored) is not type(now) and not (_number(stored) and _number(now))):
        return [Difference(path, stored, now)]
    return []


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _differences(stored: dict, now: dict) -> list[Difference]:
    if stored["explanation"] is None:
        stored, now = dict(stored), dict(now, explanation=None)
    found = []
    for difference in _compare("", stored, now):
        if difference.field == "ruleset.sha256":
            difference = Difference(difference.field, difference.stored, difference.now,
                                    f"the rules of version {now['ruleset']['version']} changed since the decision "
                                    "was made")
        found.append(difference)
    return found


def replay(book, case, decision) -> Replay:
    """Decide `case` again under the version `decision` names (a RuleBook's), and compare with `decision`.

    ArgumentError when the decision is not the contract's shape, VersionNotFound when the rules have no
    such version, CaseError when the case is not valid under it."""
    scheme = getattr(book, "scheme", None)
    stored = checked_decision(decision, scheme.decision_schema if scheme is not None else
                              bundled_schemas_dir() / "decision.schema.json")
    named = stored["ruleset"]
    if named["id"] != book.ruleset_id:
        raise VersionNotFound(f"the decision was made by the rules {named['id']!r}; these rules are "
                              f"{book.ruleset_id!r}")
    built = book.build(book.source_named(named["version"]))
    explained = stored["explanation"] is not None
    best = None
    languages = scheme.languages if scheme is not None else LANGUAGES
    for lang in (stored["explanation"]["lang"],) if explained else languages:
        made = evaluate_case(built.compiled, built.info, case, explain=explained, lang=lang)
        now = json.loads(json.dumps(made.to_dict(), ensure_ascii=False))
        found = _differences(stored, now)
        if best is None or len(found) < len(best):  # without an explanation, the language its messages are in
            best = found
        if not found:
            break
    return Replay(not best, tuple(best), built.info.version, built.info.sha256)
