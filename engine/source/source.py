"""The resolved text of one ruleset version, before any expression is parsed.

`versions.py` builds a `RuleSource` per version by applying each change file
to the version it follows. Every item remembers the file position where it
was written and the version that last changed it, for errors and for audits.

Items and rows keep the YAML they were loaded from; parsing (`lang/parsed.py`)
is the one stage that reads it, and hands typed definitions to the rest.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from .load import Loc, PosDict, span_in_value
from ..core.span import Span


@dataclass(frozen=True, slots=True)
class Text:
    """A DSL expression or message template as written in a rule file."""

    text: str
    loc: Loc | None
    file_text: str = field(default="", repr=False, compare=False)

    def place(self, offset: int) -> Span:
        if self.loc is None:
            return Span("<text>", 1, offset + 1)
        return span_in_value(self.file_text, self.loc, self.text, offset)


def text_at(data: PosDict, key: str, file_text: str) -> Text:
    """The value under `key` of a loaded mapping, as a positioned Text."""
    value = data[key]
    return Text(str(value) if value is not None else "", data.value_locs.get(key), file_text)


@dataclass(frozen=True, slots=True)
class Item:
    """A named entry of a version: a parameter, table, rule, condition, note, check or output."""

    name: str
    data: object  # the loaded YAML value (PosDict or scalar) that defines it: read by parsing only
    span: Span
    file_text: str = field(repr=False, compare=False)
    changed_in: str = ""
    loc: Loc | None = field(default=None, compare=False, repr=False)
    namespace: str = ""  # the prefix a module's definition is read under in a scheme (`sme`); "" for the scheme's own


@dataclass(frozen=True, slots=True, eq=False)
class Row:
    """A row of a table as written: one object per row, shared by every version that keeps it, so what a
    stage works out from it once (kept in `memo`) serves all of them."""

    key: str
    data: object  # the loaded YAML value of the row: read by parsing only
    span: Span
    changed_in: str = ""
    file_text: str = field(default="", repr=False)  # the text of the file the row was written in
    memo: dict = field(default_factory=dict, repr=False)  # the row as parsing read it, by the table's columns


@dataclass(frozen=True)
class RuleSource:
    """One version, resolved: everything in force, whichever file wrote it."""

    ruleset: str
    version: str
    effective_from: date
    effective_until: date | None
    summary: str
    source: str
    follows: str | None
    file: str
    case_schema: Path
    assumptions: tuple[str, ...]
    parameters: dict[str, Item]
    tables: dict[str, Item]
    table_rows: dict[str, dict[str, Row]]
    rules: dict[str, Item]
    conditions: dict[str, Item]
    notes: dict[str, Item]
    input_checks: dict[str, Item]
    outputs: dict[str, Item]
    history: tuple[str, ...] = ()  # versions applied, oldest first
    imports: dict[str, Item] = field(default_factory=dict)  # a scheme's: prefix -> {module, inputs}
    inputs: dict[str, Item] = field(default_factory=dict)  # a module's: what each scheme must bind
    kind: str = "scheme"  # "scheme" or "module"
    parts: tuple[tuple[str, str], ...] = ()  # once composed: (the scheme or a module, its version), each part
    changed_part: str = ""  # once composed: the module whose change starts this version ("" for the scheme)
