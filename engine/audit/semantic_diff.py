"""Stage 7, diff: two built versions -> `RulesetDiff` (every semantic change, with its origin).

The comparison is structural, never textual: expressions are compared as
trees (layout, comments and the spelling of literals do not count: `30%` is
`30 %`, `EUR 1_000` is `EUR 1000`), parameters by type and value, tables row
by row and cell by cell, messages with their white space folded. Key order
and the order of definitions do not count either. A change is *major* when
it can change a decision (a value, an expression, a type, a table's rows or
columns) and *minor* when only wording moves (a message, a label, a legal
source, an assumption).

When the two versions are not neighbours, the versions in between are walked
one step at a time, so each change names the version(s) that made it.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date

from ..core import kinds, nodes
from ..lang.check import CheckedRuleSet, Definition
from ..pipeline import Built, RuleBook
from ..lang.printer import print_expr, print_parameter, print_value
from ..source.source import RuleSource

SECTIONS = kinds.SECTIONS
DEFINITION_SECTIONS = tuple(kind.section for kind in kinds.EXPRESSION_KINDS)
KINDS = {kind.section: kind.noun["en"] for kind in kinds.KINDS}  # section -> what one entry is called
# The aspect a change shows as old -> new: a parameter's value, a definition's logic; a table shows its rows.
MAIN_ASPECT = {kind.section: "value" if kind.id == "parameter" else "logic" if kind.expression_key else ""
               for kind in kinds.KINDS}
# Aspects that can change a decision; every other aspect (source, label, message, ...) is wording.
MAJOR_ASPECTS = frozenset({"value", "logic", "type", "path", "key", "columns", "key_prefix"})


@dataclass(frozen=True)
class VersionRef:
    """A version as an auditor cites it: id, period, what it changed and on what legal basis."""

    version: str
    effective_from: date
    effective_until: date | None
    summary: str
    source: str
    assumptions: tuple[str, ...] = ()
    part: str = ""  # when a shared module's change made this version: "de-minimis 2024-01-01"


@dataclass(frozen=True)
class Detail:
    """One aspect of an item that differs: `source`, `message.en`, `label.nl`, `type`, ..."""

    aspect: str
    old: str | None
    new: str | None
    made_in: tuple[str, ...] = ()


@dataclass(frozen=True)
class Change:
    """A parameter, table, rule, condition, note, input check or output that was added, removed or changed."""

    section: str  # one of SECTIONS
    name: str
    status: str  # added, removed, changed
    old: str | None  # canonical value or expression before (None when added)
    new: str | None  # canonical value or expression after (None when removed)
    source: str  # the legal reference of the item as it now stands (as it stood, for a removal)
    made_in: tuple[str, ...]  # the version(s) that made this change
    minor: bool = False  # only wording changed: message, label, source, assumption
    details: tuple[Detail, ...] = ()  # the other aspects that differ

    @property
    def kind(self) -> str:
        return KINDS[self.section]


@dataclass(frozen=True)
class RowChange:
    """An entry of a table added, removed or changed; cells as (column, canonical text)."""

    table: str
    key: str
    status: str  # added, removed, changed
    old: tuple[tuple[str, str], ...] | None
    new: tuple[tuple[str, str], ...] | None
    made_in: tuple[str, ...]
    source: str = ""  # the table's legal reference


@dataclass(frozen=True)
class RulesetDiff:
    """Everything that differs between two versions of a ruleset, grouped for reading."""

    ruleset: str
    from_version: VersionRef
    to_version: VersionRef
    asked_from: str  # as the auditor named it (a version id or a date)
    asked_to: str
    direction: str  # forward, backward (to an earlier version) or same
    crossed: tuple[VersionRef, ...]  # the versions whose changes lie between, in the order walked
    changes: tuple[Change, ...]
    rows: tuple[RowChange, ...]

    @property
    def is_empty(self) -> bool:
        return not self.changes and not self.rows

    @property
    def major(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if not c.minor)

    @property
    def minor(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.minor)

    def of(self, section: str, status: str | None = None, *, minor: bool | None = False) -> tuple[Change, ...]:
        """The changes of one section (and status); by default the major ones only."""
        return tuple(c for c in self.changes if c.section == section and (status is None or c.status == status)
                     and (minor is None or c.minor == minor))

    def change(self, section: str, name: str) -> Change | None:
        return next((c for c in self.changes if c.section == section and c.name == name), None)

    def changed_names(self, section: str) -> frozenset[str]:
        """Names whose decision-relevant content differs (major changes), in one section."""
        names = {c.name for c in self.changes if c.section == section and not c.minor}
        if section == "tables":
            names |= {r.table for r in self.rows}
        return frozenset(names)


# -- resolving what the auditor named ------------------------------------------

def resolve_version(book: RuleBook, named: str | date) -> RuleSource:
    """A version id or a date (the version in force that day) -> its RuleSource, or VersionNotFound."""
    return book.resolve(named)


def version_ref(source: RuleSource) -> VersionRef:
    return VersionRef(source.version, source.effective_from, source.effective_until, source.summary, source.source,
                      tuple(source.assumptions), part_words(source))


def part_words(source: RuleSource) -> str:
    """Which module's change made a version ("de-minimis 2024-01-01"), or "" when the scheme's own did."""
    if not source.changed_part:
        return ""
    return f"{source.changed_part} {dict(source.parts).get(source.changed_part, '')}".strip()


# -- what each item looks like, aspect by aspect ---------------------------------

Aspects = dict  # aspect name -> (comparable key, canonical text)


def expression_shape(expr) -> object:
    """An expression as nested tuples without positions or literal spelling: equal shapes, equal logic."""
    if isinstance(expr, nodes.Literal):
        value = expr.value if expr.value is not None or expr.kind == "null" else expr.text
        return ("Literal", expr.kind, value)
    if isinstance(expr, tuple):
        return tuple(expression_shape(e) for e in expr)
    if dataclasses.is_dataclass(expr):
        return (type(expr).__name__,) + tuple(expression_shape(getattr(expr, f.name))
                                              for f in dataclasses.fields(expr) if f.name != "span")
    return expr


def _folded(text: str) -> str:
    return " ".join(str(text).split())


def _template_text(template) -> str:
    return _folded("".join(part if isinstance(part, str) else "{" + print_expr(part) + "}"
                           for part in template.parts))


def _template_shape(template) -> tuple:
    return tuple(_folded(part) if isinstance(part, str) else expression_shape(part) for part in template.parts)


def _wording(out: Aspects, source: str, label: dict, assumption) -> None:
    if source:
        out["source"] = (_folded(source), source)
    for lang, text in sorted((label or {}).items()):
        out[f"label.{lang}"] = (_folded(text), str(text))
    if isinstance(assumption, dict):  # written per language
        for lang, text in sorted(assumption.items()):
            out[f"assumption.{lang}"] = (_folded(str(text)), str(text))
    elif assumption:
        out["assumption"] = (_folded(str(assumption)), str(assumption))


def _definition_aspects(d: Definition) -> Aspects:
    out: Aspects = {"logic": (expression_shape(d.expr), print_expr(d.expr))}
    if d.kind == "rule":
        out["type"] = (d.type, str(d.type))
    if d.path:
        out["path"] = (d.path, d.path)
    for lang, template in sorted(d.messages.items()):
        out[f"message.{lang}"] = (_template_shape(template), _template_text(template))
    _wording(out, d.source, d.label, d.assumption)
    return out


def _cells(row: dict) -> tuple[tuple[str, str], ...]:
    return tuple((column, print_value(value) if value is not None else "null") for column, value in row.items())


@dataclass(frozen=True)
class _Snapshot:
    """One version reduced to comparable aspects: items by (section, name), rows by (table, key)."""

    version: str
    order: int  # the day the version starts, as an ordinal: which of two versions is the later
    items: dict[tuple[str, str], Aspects]
    sources: dict[tuple[str, str], str]
    shown: dict[tuple[str, str], str]
    rows: dict[tuple[str, str], tuple[dict, tuple]]
    changed_in: dict[tuple[str, str], str]
    part: str = ""  # the module whose change made the version, if one did


def _snapshot(checked: CheckedRuleSet) -> _Snapshot:
    items: dict = {}
    sources: dict = {}
    shown: dict = {}
    rows: dict = {}
    changed_in: dict = {}
    for name, p in checked.parameters.items():
        aspects: Aspects = {"value": ((str(p.type), p.value), print_parameter(p))}
        _wording(aspects, p.source, p.label, p.assumption)
        key = ("parameters", name)
        items[key], sources[key], shown[key], changed_in[key] = aspects, p.source, print_parameter(p), p.changed_in
    for name, t in checked.tables.items():
        columns = tuple((c, str(typ)) for c, typ in t.type.row.fields)
        aspects = {}
        if t.key:
            aspects["key"] = (t.key, t.key)
        aspects["columns"] = (columns, ", ".join(f"{c} ({typ})" for c, typ in columns))
        if t.key_prefix:
            aspects["key_prefix"] = (True, "code prefixes")
        _wording(aspects, t.source, {}, t.assumption)
        for extra, text in (("description", t.description), ("sample", t.sample)):
            if text:
                aspects[extra] = (_folded(text), _folded(text))
        key = ("tables", name)
        count = len(t.rows)
        items[key], sources[key], changed_in[key] = aspects, t.source, t.changed_in
        shown[key] = f"{count} entr{'y' if count == 1 else 'ies'}"
        for row_key, row in t.rows.items():
            rows[(name, row_key)] = (dict(row), _cells(row))
            changed_in[("row", name, row_key)] = t.row_versions.get(row_key, t.changed_in)
    for section in DEFINITION_SECTIONS:
        for name, d in getattr(checked, section).items():
            key = (section, name)
            items[key], sources[key], changed_in[key] = _definition_aspects(d), d.source, d.changed_in
            shown[key] = print_expr(d.expr)
    return _Snapshot(checked.source.version, checked.source.effective_from.toordinal(), items, sources, shown, rows,
                     changed_in, part_words(checked.source))


# -- comparing -----------------------------------------------------------------

def _differing(before: Aspects, after: Aspects) -> list[str]:
    names = list(after) + [a for a in before if a not in after]
    return [a for a in names if (before.get(a) or (None,))[0] != (after.get(a) or (None,))[0]]


def _walk(chain: list[_Snapshot]) -> list[tuple[_Snapshot, _Snapshot, str]]:
    """Consecutive steps of the chain, each with the version responsible for it (the later of the two)."""
    steps = []
    for before, after in zip(chain, chain[1:]):
        later = after if after.order > before.order else before
        steps.append((before, after, f"{later.version} (module {later.part})" if later.part else later.version))
    return steps


def _made_in_item(steps, key, aspects: list[str] | None, fallback: str) -> tuple[str, ...]:
    """The versions whose step changed the item's presence or one of `aspects` (None: any major aspect)."""
    found = []
    for before, after, responsible in steps or ():
        old, new = before.items.get(key), after.items.get(key)
        if (old is None) != (new is None):
            found.append(responsible)
        elif old is not None and new is not None:
            differing = _differing(old, new)
            if any(a in differing for a in aspects) if aspects is not None else \
                    any(a in MAJOR_ASPECTS for a in differing):
                found.append(responsible)
    return tuple(dict.fromkeys(found)) or (fallback,)


def _made_in_row(steps, key, fallback: str) -> tuple[str, ...]:
    found = []
    for before, after, responsible in steps or ():
        old, new = before.rows.get(key), after.rows.get(key)
        if (old is None) != (new is None) or (old is not None and new is not None and old[0] != new[0]):
            found.append(responsible)
    return tuple(dict.fromkeys(found)) or (fallback,)


def _compare(a: _Snapshot, b: _Snapshot, steps) -> tuple[list[Change], list[RowChange]]:
    changes: list[Change] = []
    for section in SECTIONS:
        names_b = [n for s, n in b.items if s == section]
        names_a = [n for s, n in a.items if s == section]
        for name in names_b + [n for n in names_a if (section, n) not in b.items]:
            key = (section, name)
            old, new = a.items.get(key), b.items.get(key)
            if old is None or new is None:  # added or removed: its other aspects say what it is (or was)
                made_in = _made_in_item(steps, key, None, b.changed_in[key] if new is not None else b.version)
                present, shown = (new, b) if new is not None else (old, a)
                described = [(aspect, text) for aspect, (_, text) in present.items()
                             if aspect not in (MAIN_ASPECT[section], "source")]
                details = tuple(Detail(aspect, None if old is None else text, None if new is None else text, made_in)
                                for aspect, text in described)
                changes.append(Change(section, name, "added" if old is None else "removed",
                                      None if old is None else a.shown[key], None if new is None else b.shown[key],
                                      shown.sources[key], made_in, False, details))
                continue
            differing = _differing(old, new)
            if not differing:
                continue
            main = MAIN_ASPECT[section]
            fallback = b.changed_in[key]
            details = tuple(Detail(aspect, (old.get(aspect) or (None, None))[1], (new.get(aspect) or (None, None))[1],
                                   _made_in_item(steps, key, [aspect], fallback))
                            for aspect in differing if aspect != main)
            major = [aspect for aspect in differing if aspect in MAJOR_ASPECTS]
            changes.append(Change(section, name, "changed", a.shown[key], b.shown[key], b.sources[key],
                                  _made_in_item(steps, key, major or differing, fallback), not major, details))
    rows: list[RowChange] = []
    tables_b = [n for s, n in b.items if s == "tables"]
    tables_a = [n for s, n in a.items if s == "tables"]
    for table in tables_b + [t for t in tables_a if t not in tables_b]:
        keys_b = [k for t, k in b.rows if t == table]
        keys_a = [k for t, k in a.rows if t == table]
        source = b.sources.get(("tables", table)) or a.sources.get(("tables", table), "")
        for row_key in keys_b + [k for k in keys_a if (table, k) not in b.rows]:
            key = (table, row_key)
            old, new = a.rows.get(key), b.rows.get(key)
            if old is not None and new is not None and old[0] == new[0]:
                continue
            status = "added" if old is None else "removed" if new is None else "changed"
            fallback = b.changed_in.get(("row", table, row_key), b.version)
            rows.append(RowChange(table, row_key, status, old[1] if old else None, new[1] if new else None,
                                  _made_in_row(steps, key, fallback), source))
    return changes, rows


def diff_versions(built_a: Built, built_b: Built, book: RuleBook | None = None, *,
                  asked_from: str | None = None, asked_to: str | None = None) -> RulesetDiff:
    """Two built versions -> every semantic change from the first to the second.

    With the `book`, the versions between the two are walked to name the one
    that made each change; without it (two rules folders, say), each item's
    `changed_in` in the second version is used.
    """
    source_a, source_b = built_a.source, built_b.source
    between: list[RuleSource] = []
    if book is not None and source_a.version != source_b.version:
        order = [s.version for s in book.sources]
        i, j = order.index(source_a.version), order.index(source_b.version)
        between = book.sources[i + 1:j] if i <= j else list(reversed(book.sources[j + 1:i]))
    chain = [_snapshot(built_a.checked)] + [_snapshot(book.build(s).checked) for s in between] + \
        [_snapshot(built_b.checked)]  # type: ignore[union-attr]
    steps = _walk(chain)
    changes, rows = _compare(chain[0], chain[-1], steps if book is not None else None)
    if source_a.effective_from == source_b.effective_from:
        direction, crossed = "same", ()
    else:
        direction = "forward" if source_a.effective_from < source_b.effective_from else "backward"
        by_version = {s.version: s for s in [source_a, *between, source_b]}
        crossed = tuple(version_ref(by_version[responsible.split(" ")[0]]) for _, _, responsible in steps)
    return RulesetDiff(source_a.ruleset, version_ref(source_a), version_ref(source_b),
                       asked_from or source_a.version, asked_to or source_b.version, direction, crossed,
                       tuple(changes), tuple(rows))


def diff(book: RuleBook, from_version: str | date, to_version: str | date) -> RulesetDiff:
    """Two versions named by id or date -> their RulesetDiff (the convenience entry point)."""
    source_a, source_b = book.resolve(from_version), book.resolve(to_version)
    return diff_versions(book.build(source_a), book.build(source_b), book,
                         asked_from=_asked(from_version), asked_to=_asked(to_version))


def _asked(named: str | date) -> str:
    return named.isoformat() if isinstance(named, date) else str(named).strip()

