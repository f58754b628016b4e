"""Find the versions of a ruleset and resolve each one: rule files -> `RuleSource`s.

The first version is a complete file; every later one is a small change file
that `follows` the version before it and states only what changes. Versions
are ordered by `effective_from`; each is in force until the day before the
next one starts, so overlaps and gaps are load errors, never silent. A
version's id is its first day: an id that says another day is an error too.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

from ..core.diagnostics import Diagnostic
from ..core.suggest import did_you_mean
from .load import (MAX_DEFINITIONS, MAX_FILE_BYTES, MAX_SUGGESTIONS_FROM, MAX_TABLE_ROWS, PosDict, RuleFile,
                   building, load_rule_file, read_text_inside)
from .source import Item, Row, RuleSource
from ..core.span import Span

SCHEMA_NAME = "ruleset.schema.json"


@dataclass(frozen=True)
class VersionFile:
    rule_file: RuleFile
    version: str
    effective_from: date
    effective_until: date | None
    follows: str | None
    folder: Path
    root: Path | None = None  # the rules folder it was found in: every path it names must stay inside


def _bundled(name: str) -> Path:
    """A folder shipped with the engine: inside the installed package, or beside it in a checkout."""
    package = Path(__file__).resolve().parent.parent  # engine/
    return package / name if (package / name).is_dir() else package.parent / name


def bundled_rules_dir() -> Path:
    """The rules shipped with the engine, from a checkout or an installed wheel."""
    return _bundled("rules")


def bundled_schemas_dir() -> Path:
    """The JSON Schemas shipped with the engine."""
    return _bundled("schemas")


def shown_path(path: Path) -> str:
    """A path as users should see it: relative to the working folder when possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


_HEAD_CHARS = 4000  # a rule file says `ruleset:` near its top


OWNER_KEYS = ("ruleset", "module")  # a scheme's version file says `ruleset: ID`, a module's `module: ID`


def owner(doc) -> str:
    """The scheme or module a version file belongs to."""
    return str(doc.get("ruleset") if doc.get("ruleset") is not None else doc.get("module"))


def owner_key(doc) -> str:
    return "ruleset" if doc.get("ruleset") is not None else "module"


def _scan(rules_dir: Path, key: str = "ruleset", root: Path | None = None) -> tuple[dict[Path, str], list[Diagnostic]]:
    """The version files of a folder (YAML files with a top-level `ruleset:` key, or `module:` for a module,
    in the folder or one below) with their text, and the YAML files that cannot be read safely (a FIFO, a
    device, a link leading out of the folder, a file too large or not UTF-8)."""
    problems: list[Diagnostic] = []
    root = root if root is not None else rules_dir

    def rule_files(pattern: str) -> dict[Path, str]:
        found = {}
        for path in sorted(rules_dir.glob(pattern)):
            if path.is_dir() and not path.is_symlink():
                continue  # a folder whose name ends in .yaml
            text, problem = read_text_inside(path, root, shown=shown_path(path))
            if problem is not None:
                problems.append(problem)
            elif any(line.startswith(key + ":") for line in text[:_HEAD_CHARS].splitlines()):
                found[path] = text
        return found

    files = rule_files("*.y*ml")
    if not files:
        files = rule_files("*/*.y*ml")
    return files, problems


def find_rule_files(rules_dir: Path) -> list[Path]:
    """Rule files are the YAML files with a top-level `ruleset:` key, in the folder or one below."""
    return list(_scan(rules_dir)[0])


def _parse_day(value, span: Span, what: str, problems: list) -> date | None:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        problems.append(Diagnostic("version-date", f"{what} must be a date YYYY-MM-DD, got '{value}'", span))
        return None


def read_versions(rules_dir: Path, key: str = "ruleset",
                  root: Path | None = None) -> tuple[list[VersionFile], list[Diagnostic]]:
    """Load every version file of one scheme (`ruleset:` files) or one module (`module:` files) in a folder
    and order the versions; report overlaps and gaps. Paths the files name stay inside `root` (default: the
    folder itself)."""
    schema = bundled_schemas_dir() / SCHEMA_NAME
    root = root if root is not None else rules_dir
    texts, problems = _scan(rules_dir, key, root)
    files = list(texts)
    if not files:
        return [], problems + [Diagnostic("no-rules", f"no rule files (YAML with a '{key}:' key) in "
                                          f"{shown_path(rules_dir)}", Span(shown_path(rules_dir), 1, 1))]
    versions: list[VersionFile] = []
    by_id: dict[str, VersionFile] = {}
    unusable_from: date | None = None  # the first day of a version that could not be read
    for path in files:
        rule_file, found = load_rule_file(path, shown_path(path), schema, root, texts[path])
        problems += found
        start = until = None
        if rule_file is not None:
            doc = rule_file.doc
            start = _parse_day(doc["effective_from"], doc.value_locs["effective_from"].span, "effective_from", problems)
            if doc.get("effective_until") is not None:
                until = _parse_day(doc["effective_until"], doc.value_locs["effective_until"].span, "effective_until",
                                   problems)
        if start is None:
            guess = _guess_start(path, texts[path])
            unusable_from = guess if unusable_from is None else min(unusable_from, guess)
            continue
        current = VersionFile(rule_file, str(doc["version"]), start, until,
                              str(doc["follows"]) if doc.get("follows") is not None else None, path.parent, root)
        twin = by_id.get(current.version)
        if twin is not None:  # most likely a copied file whose version was not changed: the copy is the slip
            copy, kept = (twin, current) if (twin.effective_from.isoformat() != twin.version
                                             and start.isoformat() == current.version) else (current, twin)
            copy_start = copy.effective_from.isoformat()
            problems.append(Diagnostic("version-duplicate", f"version '{copy.version}' is defined twice (also in "
                                       f"{kept.rule_file.path})", copy.rule_file.doc.value_locs["version"].span,
                                       "a version's id is the day it starts" + (
                                           f': write version: "{copy_start}"' if copy_start != copy.version else
                                           "; is this a copy of the other file?")))
            if copy is twin:
                versions[next(i for i, v in enumerate(versions) if v is twin)] = by_id[current.version] = current
            unusable_from = copy.effective_from if unusable_from is None else min(unusable_from, copy.effective_from)
            continue
        versions.append(current)
        by_id[current.version] = current
    if unusable_from is not None:  # later versions build on the unreadable one: checking them would only mislead
        versions = [v for v in versions if v.effective_from < unusable_from]
    versions.sort(key=lambda v: (v.effective_from, v.version))
    problems += _check_timeline(versions)
    return versions, problems


def _guess_start(path: Path, text: str) -> date:
    """The first day of a rule file that could not be used: its effective_from line, or its file name."""
    for candidate in re.findall(r"^effective_from:\s*[\"']?(\d{4}-\d{2}-\d{2})", text, re.MULTILINE) + [path.stem]:
        try:
            return date.fromisoformat(candidate)
        except ValueError:
            continue
    return date.min


def _check_timeline(versions: list[VersionFile]) -> list[Diagnostic]:
    """The versions, ordered by date, must form one line: each starts after the one it follows, ends the day
    before the next starts, and is named by its first day. Each slip is reported once, where it was made."""
    problems = []
    ids = {owner(v.rule_file.doc) for v in versions}
    if len(ids) > 1:
        first = versions[0].rule_file.doc
        problems.append(Diagnostic("ruleset-mixed", f"one rules folder holds several rulesets: {', '.join(sorted(ids))}",
                                   first.value_locs[owner_key(first)].span,
                                   "give each scheme (and each module) a folder of its own"))
    misdated, found = _misdated(versions)
    problems += found
    ordered = [v for v in versions if v.version not in misdated]  # the others keep their places
    seen: dict[str, VersionFile] = {}
    for index, current in enumerate(ordered):
        doc = current.rule_file.doc
        if current.version in seen:
            problems.append(Diagnostic("version-duplicate", f"version '{current.version}' is defined twice "
                                       f"(also in {seen[current.version].rule_file.path})", doc.value_locs["version"].span))
        seen[current.version] = current
        previous = ordered[index - 1] if index else None
        if previous is None:
            if current.follows is not None:
                problems.append(Diagnostic("version-follows", f"version {current.version} follows '{current.follows}', "
                                           "but no earlier version exists", doc.value_locs["follows"].span))
            continue
        if previous.effective_from == current.effective_from:  # neither follows the other
            problems.append(Diagnostic("version-overlap", f"versions {previous.version} and {current.version} "
                                       f"both start on {current.effective_from}", doc.value_locs["effective_from"].span,
                                       _id_hint(current)))
        elif current.follows is None:
            problems.append(Diagnostic("version-follows", f"version {current.version} starts after {previous.version} "
                                       f"but has no 'follows: {previous.version}'; only the first version is a complete file",
                                       doc.value_locs["version"].span))
        elif current.follows != previous.version and current.follows not in misdated:  # misdated: said there
            problems.append(_follows_problem(current, previous, versions))
        if previous.effective_until is not None:
            expected = current.effective_from - timedelta(days=1)
            fix = f"end it on {expected}, or drop effective_until: a version ends the day before the next one starts"
            if previous.effective_until < expected:
                first = previous.effective_until + timedelta(days=1)
                days = f"on {first}" if first == expected else f"from {first} to {expected}"
                problems.append(Diagnostic("version-gap", f"version {previous.version} ends on {previous.effective_until} "
                                           f"but {current.version} starts on {current.effective_from}: no rules {days}",
                                           previous.rule_file.doc.value_locs["effective_until"].span, fix))
            elif previous.effective_until > expected:
                problems.append(Diagnostic("version-overlap", f"version {previous.version} ends on {previous.effective_until}, "
                                           f"after {current.version} starts on {current.effective_from}",
                                           previous.rule_file.doc.value_locs["effective_until"].span, fix))
    for version in versions:
        if version.version != version.effective_from.isoformat() and not (
                version.version in misdated and _id_hint(version) is not None):  # the overlap's hint says it
            problems.append(_id_problem(version, versions))
    return problems


def _misdated(versions: list[VersionFile]) -> tuple[set[str], list[Diagnostic]]:
    """The versions whose effective_from is the slip: each starts on the day the version it follows starts, or
    before it while its id names another day. Ordered by date, such a version would sit in the wrong place and
    every version around it would seem to follow the wrong one; it is one mistake, reported at its date."""
    by_id = {v.version: v for v in versions}
    misdated: set[str] = set()
    problems = []
    for version in versions:
        followed = by_id.get(version.follows) if version.follows is not None else None
        if followed is None or followed is version:
            continue
        at = version.rule_file.doc.value_locs["effective_from"].span
        if version.effective_from == followed.effective_from:
            problems.append(Diagnostic("version-overlap", f"versions {followed.version} and {version.version} both "
                                       f"start on {version.effective_from}", at, _id_hint(version)))
        elif version.effective_from < followed.effective_from and version.version != version.effective_from.isoformat():
            inside = [v for v in versions if v.effective_from <= version.effective_from and v is not version]
            where = f"inside the period of version {inside[-1].version}" if inside else "before the first version"
            problems.append(Diagnostic(
                "version-overlap", f"version {version.version} starts on {version.effective_from}, {where}, yet it "
                f"follows version {followed.version}, which starts on {followed.effective_from}", at,
                _id_hint(version) or f"a version starts after the one it follows: after {followed.effective_from}"))
        else:
            continue
        misdated.add(version.version)
    return misdated, problems


def _follows_problem(current: VersionFile, previous: VersionFile, versions: list[VersionFile]) -> Diagnostic:
    """A version that follows another than the one in force just before it."""
    named = next((v for v in versions if v.version == current.follows), None)
    if named is None:
        why = " (no version has that id)"
    elif named.effective_from > current.effective_from:
        why = f" (which starts later, on {named.effective_from})"
    else:
        why = ""
    return Diagnostic("version-follows", f"version {current.version} follows '{current.follows}'{why}, but the "
                      f"version in force just before it is {previous.version}",
                      current.rule_file.doc.value_locs["follows"].span, f"write follows: \"{previous.version}\"")


def _is_day(text: str) -> bool:
    try:
        return date.fromisoformat(text).isoformat() == text
    except ValueError:
        return False


def _id_problem(version: VersionFile, versions: list[VersionFile]) -> Diagnostic:
    """A version whose id is not its first day: the one of the two that disagrees with the file name is the
    slip, and is where the problem is shown."""
    doc, start = version.rule_file.doc, version.effective_from.isoformat()
    message = f"version {version.version} starts on {start}: a version's id is the day it starts"
    stem = Path(version.rule_file.path).stem
    if stem == version.version and _is_day(stem):  # the id and the file name agree: the date is the odd one out
        return Diagnostic("version-id", message, doc.value_locs["effective_from"].span,
                          f"its id and its file name say {stem}: is effective_from right? If it is, give the id and "
                          "the file that date")
    hint = f'write version: "{start}"'
    if _is_day(stem) and stem != start:
        hint += f" and name the file {start}{Path(version.rule_file.path).suffix}"
    followers = [v.version for v in versions if v.follows == version.version]
    if followers:
        hint += f", and follows: \"{start}\" in version {followers[0]}"
    return Diagnostic("version-id", message, doc.value_locs["version"].span, hint)


def _id_hint(version: VersionFile) -> str | None:
    """When a version's id is a date other than its effective_from, one of the two is probably a slip."""
    try:
        named = date.fromisoformat(version.version)
    except ValueError:
        return None
    if named == version.effective_from:
        return None
    return f"its version id says {named}: is effective_from right?"


def effective_until(versions: list[VersionFile], index: int) -> date | None:
    if index + 1 < len(versions):
        return versions[index + 1].effective_from - timedelta(days=1)
    return versions[index].effective_until


def _flatten_parameters(tree: PosDict, prefix: str, file_text: str, version: str, out: dict) -> None:
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, PosDict) and "value" in value:
            out[name] = Item(name, value, tree.key_spans[key], file_text, version, tree.value_locs[key])
        elif isinstance(value, PosDict):
            _flatten_parameters(value, name + ".", file_text, version, out)
        else:
            out[name] = Item(name, value, tree.key_spans[key], file_text, version, tree.value_locs[key])


def _rows_of(table: PosDict, version: str, file_text: str) -> dict[str, Row]:
    rows = table.get("rows") or {}
    if isinstance(rows, list):
        return {str(k): Row(str(k), None, rows.value_locs[i].span, version, file_text) for i, k in enumerate(rows)}
    return {str(k): Row(str(k), v, rows.key_spans[k], version, file_text) for k, v in rows.items()}


def _items(section, rule_file: RuleFile, version: str) -> dict[str, Item]:
    if not section:
        return {}
    return {str(k): Item(str(k), v, section.key_spans[k], rule_file.text, version, section.value_locs[k])
            for k, v in section.items()}


class _Ordered:
    """Named entries in order, where an entry may be put right after another: each step costs the same
    however many entries there are (a linked list beside the dict of entries)."""

    def __init__(self, entries: dict):
        self.values = dict(entries)
        names = list(entries)
        self.next = dict(zip(names, names[1:] + [None]))
        self.previous = dict(zip(names, [None] + names[:-1]))
        self.first, self.last = (names[0], names[-1]) if names else (None, None)

    def __contains__(self, name) -> bool:
        return name in self.values

    def __iter__(self):
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)

    def _unlink(self, name) -> None:
        before, after = self.previous.pop(name), self.next.pop(name)
        if before is None:
            self.first = after
        else:
            self.next[before] = after
        if after is None:
            self.last = before
        else:
            self.previous[after] = before

    def _link_after(self, name, anchor) -> None:
        after = self.next[anchor] if anchor is not None else self.first
        self.previous[name], self.next[name] = anchor, after
        if anchor is None:
            self.first = name
        else:
            self.next[anchor] = name
        if after is None:
            self.last = name
        else:
            self.previous[after] = name

    def set(self, name, value) -> None:
        """Change an entry in place, or add it at the end."""
        if name not in self.values:
            self._link_after(name, self.last)
        self.values[name] = value

    def insert_after(self, name, value, anchor) -> None:
        if name in self.values:
            self._unlink(name)
        self._link_after(name, anchor)
        self.values[name] = value

    def pop(self, name, default=None):
        if name not in self.values:
            return default
        self._unlink(name)
        return self.values.pop(name)

    def as_dict(self) -> dict:
        out, name = {}, self.first
        while name is not None:
            out[name] = self.values[name]
            name = self.next[name]
        return out


def _too_big(source: RuleSource, at: Span) -> list[Diagnostic]:
    """A version that holds more than the limits allow: checking it would take too long to be of use."""
    problems = []
    count = sum(len(section) for section in (source.parameters, source.tables, source.rules, source.conditions,
                                              source.notes, source.input_checks, source.outputs))
    if count > MAX_DEFINITIONS:
        problems.append(Diagnostic("too-many-definitions", f"version {source.version} has {count:,} definitions "
                                   f"(parameters, tables, rules, conditions, notes, input checks and outputs); "
                                   f"a version has at most {MAX_DEFINITIONS:,}", at,
                                   "a long list of values is a table"))
    for name, rows in source.table_rows.items():
        if len(rows) > MAX_TABLE_ROWS:
            table = source.tables.get(name)
            problems.append(Diagnostic("too-many-rows", f"table {name} has {len(rows):,} rows in version "
                                       f"{source.version}; a table has at most {MAX_TABLE_ROWS:,}",
                                       table.span if table is not None else at))
    return problems


def _base_source(vf: VersionFile, until: date | None, case_schema: Path) -> RuleSource:
    doc, rf = vf.rule_file.doc, vf.rule_file
    parameters: dict[str, Item] = {}
    _flatten_parameters(doc.get("parameters") or PosDict(), "", rf.text, vf.version, parameters)
    tables = _items(doc.get("tables"), rf, vf.version)
    return RuleSource(
        ruleset=owner(doc), version=vf.version, effective_from=vf.effective_from, effective_until=until,
        summary=str(doc.get("summary", "")), source=str(doc.get("source", "")), follows=None, file=rf.path,
        case_schema=case_schema,
        assumptions=tuple(str(a) for a in doc.get("assumptions") or ()),
        parameters=parameters, tables=tables,
        table_rows={name: _rows_of(item.data, vf.version, rf.text) for name, item in tables.items()},
        rules=_items(doc.get("rules"), rf, vf.version), conditions=_items(doc.get("conditions"), rf, vf.version),
        notes=_items(doc.get("notes"), rf, vf.version), input_checks=_items(doc.get("input_checks"), rf, vf.version),
        outputs=_items(doc.get("outputs"), rf, vf.version), history=(vf.version,),
        imports=_items(doc.get("imports"), rf, vf.version), inputs=_items(doc.get("inputs"), rf, vf.version),
        kind="module" if owner_key(doc) == "module" else "scheme",
    )


def _case_schema(vf: VersionFile) -> tuple[Path | None, Diagnostic | None]:
    """The case schema a rule file names, relative to it: a regular file inside the rules folder, or a
    schema shipped with the engine. A path that leaves the folder names the shipped schema of that file
    name (a copied rules folder keeps working); anything else is a problem at the path as written."""
    doc = vf.rule_file.doc
    written = str(doc["case_schema"])
    at = doc.value_locs["case_schema"].span
    root = vf.root if vf.root is not None else vf.folder
    hint = "write the path of a JSON Schema inside the rules folder, relative to this file"
    if not written.strip():
        return None, Diagnostic("case-schema", "the case schema is not named", at, hint)
    if os.path.isabs(written) or Path(written).drive:
        return None, Diagnostic("case-schema", f"the case schema {written} is an absolute path; a rules folder "
                                "may only name files inside it", at, hint)
    lexical = os.path.normpath(os.path.join(os.path.abspath(vf.folder), written))
    try:
        leaves = os.path.commonpath([lexical, os.path.abspath(root)]) != os.path.abspath(root)
    except ValueError:  # another drive
        leaves = True
    if leaves:
        bundled = bundled_schemas_dir() / Path(written).name
        if Path(written).name not in ("", ".", "..") and bundled.is_file() and not bundled.is_symlink():
            return bundled, None
        return None, Diagnostic("case-schema", f"the case schema {written} lies outside the rules folder, and "
                                "no schema of that name ships with the engine", at, hint)
    path = vf.folder / written
    text, problem = read_text_inside(path, root, MAX_FILE_BYTES, at=at, what=f"the case schema {written}")
    if problem is not None:
        return None, replace(problem, code="case-schema", hint=problem.hint or hint)
    return Path(os.path.realpath(path)), None


_SUGGESTED = 200  # "did you mean" for the first problems of a version only: each one searches every name


def _unknown(kind: str, name: str, known, span: Span, previous: str, problems: list) -> Diagnostic:
    hint = did_you_mean(name, known, among=MAX_SUGGESTIONS_FROM) if len(problems) < _SUGGESTED else None
    return Diagnostic("change-unknown", f"this change names the {kind} '{name}', which version {previous} does not have",
                      span, hint)


class _Change:
    """One change file being applied to the version it follows: what it may touch, and a method per verb."""

    def __init__(self, base: RuleSource, vf: VersionFile, problems: list[Diagnostic]):
        self.base, self.vf, self.problems = base, vf, problems
        self.rule_file, self.version = vf.rule_file, vf.version
        self.parameters = dict(base.parameters)
        self.tables = dict(base.tables)
        self.table_rows = dict(base.table_rows)  # a table's rows are copied only when this version changes them
        self.copied: set[str] = set()
        self.sections = {"rules": _Ordered(base.rules), "conditions": _Ordered(base.conditions),
                         "notes": _Ordered(base.notes), "input_checks": _Ordered(base.input_checks),
                         "outputs": _Ordered(base.outputs), "imports": _Ordered(base.imports),
                         "inputs": _Ordered(base.inputs)}

    def unknown(self, kind: str, name: str, known, span: Span) -> None:
        self.problems.append(_unknown(kind, name, known, span, self.base.version, self.problems))

    def exists(self, message: str, span: Span) -> None:
        self.problems.append(Diagnostic("change-exists", message, span))

    def item(self, name: str, entry, value: PosDict, span: Span) -> Item:
        return Item(name, entry, span, self.rule_file.text, self.version, value.value_locs[name])

    def rows_to_change(self, name: str) -> dict:
        if name not in self.copied:
            self.table_rows[name] = dict(self.table_rows[name])
            self.copied.add(name)
        return self.table_rows[name]

    # -- one method per verb; `value` is what the change file writes under it, `span_of(name)` where
    def set_parameters(self, value, span_of, add: bool = False) -> None:
        for name, leaf in value.items():
            if not add and name not in self.parameters:
                self.unknown("parameter", name, self.parameters, span_of(name))
            elif add and name in self.parameters:
                self.exists(f"the parameter '{name}' already exists in version {self.base.version}; "
                            "use set_parameters to change it", span_of(name))
            else:
                self.parameters[name] = self.item(name, leaf, value, span_of(name))

    def add_parameters(self, value, span_of) -> None:
        self.set_parameters(value, span_of, add=True)

    def remove_parameters(self, value, span_of) -> None:
        for i, name in enumerate(value):
            if self.parameters.pop(str(name), None) is None:
                self.unknown("parameter", str(name), self.parameters, value.value_locs[i].span)

    def add_tables(self, value, span_of) -> None:
        for name, table in value.items():
            if name in self.tables:
                self.exists(f"the table '{name}' already exists in version {self.base.version}", span_of(name))
                continue
            self.tables[name] = self.item(name, table, value, span_of(name))
            self.table_rows[name] = _rows_of(table, self.version, self.rule_file.text)
            self.copied.add(name)

    def remove_tables(self, value, span_of) -> None:
        for i, name in enumerate(value):
            if self.tables.pop(str(name), None) is None:
                self.unknown("table", str(name), self.tables, value.value_locs[i].span)
            self.table_rows.pop(str(name), None)

    def table_rows_(self, value, span_of) -> None:
        for name, edit in value.items():
            if name not in self.tables:
                self.unknown("table", name, self.tables, span_of(name))
                continue
            rows = self.rows_to_change(name)
            for op, entries in edit.items():
                if op == "remove":
                    self.remove_rows(name, rows, entries)
                elif op != "source":
                    self.add_or_set_rows(name, rows, op, entries)
            if "source" in edit:
                self.tables[name] = replace(self.tables[name], changed_in=self.version)

    def remove_rows(self, name: str, rows: dict, entries) -> None:
        for i, row_key in enumerate(entries):
            if rows.pop(str(row_key), None) is None:
                self.unknown(f"row of table {name}", str(row_key), rows, entries.value_locs[i].span)

    def add_or_set_rows(self, name: str, rows: dict, op: str, entries) -> None:
        listed = entries.items() if isinstance(entries, PosDict) else ((k, None) for k in entries)
        for i, (row_key, row) in enumerate(listed):
            row_key = str(row_key)
            at = entries.key_spans[row_key] if isinstance(entries, PosDict) else entries.value_locs[i].span
            if op == "add" and row_key in rows:
                self.exists(f"table {name} already has the row '{row_key}'", at)
            elif op == "set" and row_key not in rows:
                self.unknown(f"row of table {name}", row_key, rows, at)
            else:
                rows[row_key] = Row(row_key, row, at, self.version, self.rule_file.text)

    def definitions(self, verb: str, section_name: str, value, span_of) -> None:
        """add_/replace_/set_/remove_ rules, conditions, notes, input_checks or outputs."""
        section = self.sections[section_name]
        kind = section_name.rstrip("s").replace("_", " ")
        if verb == "remove":
            for i, name in enumerate(value):
                if section.pop(str(name), None) is None:
                    self.unknown(kind, str(name), section, value.value_locs[i].span)
            return
        for name, entry in value.items():
            exists = name in section
            if verb in ("replace", "set") and not exists:
                self.unknown(kind, name, section, span_of(name))
            elif verb == "add" and exists:
                self.exists(f"the {kind} '{name}' already exists in version {self.base.version}; "
                            f"use replace_{section_name} to change it", span_of(name))
            else:
                self.place(section, kind, name, self.item(name, entry, value, span_of(name)),
                           entry.get("after") if verb == "add" and isinstance(entry, PosDict) else None, entry)

    def place(self, section: "_Ordered", kind: str, name: str, item: Item, after, entry) -> None:
        if after is None:
            section.set(name, item)
        elif after not in section:
            self.unknown(kind, str(after), section, entry.value_locs["after"].span)
            section.set(name, item)
        else:
            section.insert_after(name, item, after)

    def result(self, until: date | None) -> RuleSource:
        doc, sections = self.rule_file.doc, self.sections
        return RuleSource(
            ruleset=self.base.ruleset, version=self.version, effective_from=self.vf.effective_from,
            effective_until=until, summary=str(doc.get("summary", "")), source=str(doc.get("source", "")),
            follows=self.vf.follows, file=self.rule_file.path, case_schema=self.base.case_schema,
            assumptions=tuple(str(a) for a in doc.get("assumptions") or ()),
            parameters=self.parameters, tables=self.tables, table_rows=self.table_rows,
            rules=sections["rules"].as_dict(), conditions=sections["conditions"].as_dict(),
            notes=sections["notes"].as_dict(), input_checks=sections["input_checks"].as_dict(),
            outputs=sections["outputs"].as_dict(), history=self.base.history + (self.version,),
            imports=sections["imports"].as_dict(), inputs=sections["inputs"].as_dict(), kind=self.base.kind,
        )


_VERBS = {"set_parameters": _Change.set_parameters, "add_parameters": _Change.add_parameters,
          "remove_parameters": _Change.remove_parameters, "add_tables": _Change.add_tables,
          "remove_tables": _Change.remove_tables, "table_rows": _Change.table_rows_}


def _apply(base: RuleSource, vf: VersionFile, until: date | None, problems: list[Diagnostic]) -> RuleSource:
    """A change file applied to the version it follows -> the new version."""
    changes = vf.rule_file.doc.get("changes") or PosDict()
    change = _Change(base, vf, problems)
    for key, value in changes.items():
        span_of = (lambda name, key=key: changes[key].key_spans[name]) if isinstance(value, PosDict) else None
        if key in _VERBS:
            _VERBS[key](change, value, span_of)
        else:
            verb, _, section_name = key.partition("_")
            change.definitions(verb, section_name, value, span_of)
    return change.result(until)


def resolve_versions(versions: list[VersionFile]) -> tuple[list[RuleSource], list[Diagnostic]]:
    """Every version, resolved in date order (each from the one before it)."""
    with building():
        return _resolve(versions)


def _resolve(versions: list[VersionFile]) -> tuple[list[RuleSource], list[Diagnostic]]:
    problems: list[Diagnostic] = []
    resolved: list[RuleSource] = []
    for index, vf in enumerate(versions):
        until = effective_until(versions, index)
        doc = vf.rule_file.doc
        if index == 0 and owner_key(doc) == "module":
            if "changes" in doc:
                problems.append(Diagnostic("version-base", f"the first version ({vf.version}) of a module must be "
                                           "complete (with inputs, parameters, rules, ...), not a change file",
                                           doc.value_locs["version"].span))
                return [], problems
            resolved.append(_base_source(vf, until, Path()))
        elif index == 0:
            if "changes" in doc or "case_schema" not in doc:
                problems.append(Diagnostic("version-base", f"the first version ({vf.version}) must be a complete ruleset "
                                           "(with case_schema, parameters, rules, ...), not a change file",
                                           doc.value_locs["version"].span))
                return [], problems
            case_schema, problem = _case_schema(vf)
            if problem is not None:
                problems.append(problem)
                return [], problems
            resolved.append(_base_source(vf, until, case_schema))
        else:
            if "changes" not in doc:
                problems.append(Diagnostic("version-change", f"version {vf.version} follows another and must state its "
                                           "changes under 'changes:'", doc.value_locs["version"].span))
                continue
            resolved.append(_apply(resolved[-1], vf, until, problems))
        too_big = _too_big(resolved[-1], doc.value_locs["version"].span)
        if too_big:  # this version and the ones built on it are not checked further
            problems += too_big
            resolved.pop()
            break
    return resolved, problems
