"""Find the versions of a ruleset and resolve each one: rule files -> `RuleSource`s.

The first version is a complete file; every later one is a small change file
that `follows` the version before it and states only what changes. Versions
are ordered by `effective_from`; each is in force until the day before the
next one starts, so overlaps and gaps are load errors, never silent.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

from .diagnostics import Diagnostic
from .load import PosDict, RuleFile, load_rule_file
from .source import Item, Row, RuleSource
from .span import Span

SCHEMA_NAME = "ruleset.schema.json"


@dataclass(frozen=True)
class VersionFile:
    rule_file: RuleFile
    version: str
    effective_from: date
    effective_until: date | None
    follows: str | None
    folder: Path


def _bundled(name: str) -> Path:
    """A folder shipped with the engine: inside the installed package, or beside it in a checkout."""
    here = Path(__file__).resolve().parent
    return here / name if (here / name).is_dir() else here.parent / name


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


def _is_rule_file(path: Path) -> bool:
    if path.suffix not in (".yaml", ".yml"):
        return False
    try:
        head = path.read_text(encoding="utf-8")[:4000]
    except (OSError, UnicodeDecodeError):
        return False
    return any(line.startswith("ruleset:") for line in head.splitlines())


def find_rule_files(rules_dir: Path) -> list[Path]:
    """Rule files are the YAML files with a top-level `ruleset:` key, in the folder or one below."""
    files = sorted(p for p in rules_dir.glob("*.y*ml") if _is_rule_file(p))
    if not files:
        files = sorted(p for p in rules_dir.glob("*/*.y*ml") if _is_rule_file(p))
    return files


def _parse_day(value, span: Span, what: str, problems: list) -> date | None:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        problems.append(Diagnostic("version-date", f"{what} must be a date YYYY-MM-DD, got '{value}'", span))
        return None


def read_versions(rules_dir: Path) -> tuple[list[VersionFile], list[Diagnostic]]:
    """Load every rule file under a folder and order the versions; report overlaps and gaps."""
    problems: list[Diagnostic] = []
    schema = bundled_schemas_dir() / SCHEMA_NAME
    files = find_rule_files(rules_dir)
    if not files:
        return [], [Diagnostic("no-rules", f"no rule files (YAML with a 'ruleset:' key) in {shown_path(rules_dir)}",
                               Span(shown_path(rules_dir), 1, 1))]
    versions: list[VersionFile] = []
    unusable_from: date | None = None  # the first day of a version that could not be read
    for path in files:
        rule_file, found = load_rule_file(path, shown_path(path), schema)
        problems += found
        start = until = None
        if rule_file is not None:
            doc = rule_file.doc
            start = _parse_day(doc["effective_from"], doc.value_locs["effective_from"].span, "effective_from", problems)
            if doc.get("effective_until") is not None:
                until = _parse_day(doc["effective_until"], doc.value_locs["effective_until"].span, "effective_until",
                                   problems)
        if start is None:
            guess = _guess_start(path)
            unusable_from = guess if unusable_from is None else min(unusable_from, guess)
            continue
        twin = next((v for v in versions if v.version == str(doc["version"])), None)
        if twin is not None:  # most likely a copied file whose version was not changed
            problems.append(Diagnostic("version-duplicate", f"version '{twin.version}' is defined twice (also in "
                                       f"{twin.rule_file.path})", doc.value_locs["version"].span,
                                       "give each version its own id, usually its first day"))
            unusable_from = start if unusable_from is None else min(unusable_from, start)
            continue
        versions.append(VersionFile(rule_file, str(doc["version"]), start, until,
                                    str(doc["follows"]) if doc.get("follows") is not None else None, path.parent))
    if unusable_from is not None:  # later versions build on the unreadable one: checking them would only mislead
        versions = [v for v in versions if v.effective_from < unusable_from]
    versions.sort(key=lambda v: (v.effective_from, v.version))
    problems += _check_timeline(versions)
    return versions, problems


def _guess_start(path: Path) -> date:
    """The first day of a rule file that could not be read: its effective_from line, or its file name."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""
    for candidate in re.findall(r"^effective_from:\s*[\"']?(\d{4}-\d{2}-\d{2})", text, re.MULTILINE) + [path.stem]:
        try:
            return date.fromisoformat(candidate)
        except ValueError:
            continue
    return date.min


def _check_timeline(versions: list[VersionFile]) -> list[Diagnostic]:
    problems = []
    seen: dict[str, VersionFile] = {}
    ids = {v.rule_file.doc["ruleset"] for v in versions}
    if len(ids) > 1:
        problems.append(Diagnostic("ruleset-mixed", f"one rules folder holds several rulesets: {', '.join(sorted(ids))}",
                                   versions[0].rule_file.doc.value_locs["ruleset"].span))
    for index, current in enumerate(versions):
        doc = current.rule_file.doc
        if current.version in seen:
            problems.append(Diagnostic("version-duplicate", f"version '{current.version}' is defined twice "
                                       f"(also in {seen[current.version].rule_file.path})", doc.value_locs["version"].span))
        seen[current.version] = current
        previous = versions[index - 1] if index else None
        if previous is None:
            if current.follows is not None:
                problems.append(Diagnostic("version-follows", f"version {current.version} follows '{current.follows}', "
                                           "but no earlier version exists", doc.value_locs["follows"].span))
        else:
            if previous.effective_from == current.effective_from:
                problems.append(Diagnostic("version-overlap", f"versions {previous.version} and {current.version} "
                                           f"both start on {current.effective_from}", doc.value_locs["effective_from"].span,
                                           _id_hint(current)))
            if current.follows is None:
                problems.append(Diagnostic("version-follows", f"version {current.version} starts after {previous.version} "
                                           f"but has no 'follows: {previous.version}'; only the first version is a complete file",
                                           doc.value_locs["version"].span))
            elif current.follows != previous.version:
                problems.append(Diagnostic("version-follows", f"version {current.version} follows '{current.follows}', "
                                           f"but the version in force just before it is {previous.version}",
                                           doc.value_locs["follows"].span, f"write follows: \"{previous.version}\""))
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
    return problems


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


def _rows_of(table: PosDict, version: str) -> dict[str, Row]:
    rows = table.get("rows") or {}
    if isinstance(rows, list):
        return {str(k): Row(str(k), None, rows.value_locs[i].span, version) for i, k in enumerate(rows)}
    return {str(k): Row(str(k), v, rows.key_spans[k], version) for k, v in rows.items()}


def _items(section, rule_file: RuleFile, version: str) -> dict[str, Item]:
    if not section:
        return {}
    return {str(k): Item(str(k), v, section.key_spans[k], rule_file.text, version, section.value_locs[k])
            for k, v in section.items()}


def _base_source(vf: VersionFile, until: date | None) -> RuleSource:
    doc, rf = vf.rule_file.doc, vf.rule_file
    parameters: dict[str, Item] = {}
    _flatten_parameters(doc.get("parameters") or PosDict(), "", rf.text, vf.version, parameters)
    tables = _items(doc.get("tables"), rf, vf.version)
    return RuleSource(
        ruleset=str(doc["ruleset"]), version=vf.version, effective_from=vf.effective_from, effective_until=until,
        summary=str(doc.get("summary", "")), source=str(doc.get("source", "")), follows=None, file=rf.path,
        case_schema=_case_schema(vf.folder, str(doc["case_schema"])),
        assumptions=tuple(str(a) for a in doc.get("assumptions") or ()),
        parameters=parameters, tables=tables,
        table_rows={name: _rows_of(item.data, vf.version) for name, item in tables.items()},
        rules=_items(doc.get("rules"), rf, vf.version), conditions=_items(doc.get("conditions"), rf, vf.version),
        notes=_items(doc.get("notes"), rf, vf.version), input_checks=_items(doc.get("input_checks"), rf, vf.version),
        outputs=_items(doc.get("outputs"), rf, vf.version), history=(vf.version,),
    )


def _case_schema(folder: Path, written: str) -> Path:
    """The case schema a rule file names, relative to it; a copied rules folder falls back to the bundled one."""
    path = (folder / written).resolve()
    bundled = bundled_schemas_dir() / Path(written).name
    return bundled if not path.is_file() and bundled.is_file() else path


def _unknown(kind: str, name: str, known, span: Span, previous: str) -> Diagnostic:
    close = difflib.get_close_matches(name, list(known), n=1)
    return Diagnostic("change-unknown", f"this change names the {kind} '{name}', which version {previous} does not have",
                      span, f"did you mean '{close[0]}'?" if close else None)


def _apply(base: RuleSource, vf: VersionFile, until: date | None, problems: list[Diagnostic]) -> RuleSource:
    """A change file applied to the version it follows -> the new version."""
    doc, rf, version = vf.rule_file.doc, vf.rule_file, vf.version
    changes = doc.get("changes") or PosDict()
    parameters = dict(base.parameters)
    tables = dict(base.tables)
    table_rows = {k: dict(v) for k, v in base.table_rows.items()}
    sections = {"rules": dict(base.rules), "conditions": dict(base.conditions), "notes": dict(base.notes),
                "input_checks": dict(base.input_checks), "outputs": dict(base.outputs)}

    def spans(key):
        section = changes[key]
        return section.key_spans if isinstance(section, PosDict) else None

    for key, value in changes.items():
        span_of = (lambda name, key=key: changes[key].key_spans[name]) if isinstance(value, PosDict) else None
        if key in ("set_parameters", "add_parameters"):
            for name, leaf in value.items():
                exists = name in parameters
                if key == "set_parameters" and not exists:
                    problems.append(_unknown("parameter", name, parameters, span_of(name), base.version))
                elif key == "add_parameters" and exists:
                    problems.append(Diagnostic("change-exists", f"the parameter '{name}' already exists in version "
                                               f"{base.version}; use set_parameters to change it", span_of(name)))
                else:
                    parameters[name] = Item(name, leaf, span_of(name), rf.text, version, value.value_locs[name])
        elif key == "remove_parameters":
            for i, name in enumerate(value):
                if parameters.pop(str(name), None) is None:
                    problems.append(_unknown("parameter", str(name), parameters, value.value_locs[i].span, base.version))
        elif key == "add_tables":
            for name, table in value.items():
                if name in tables:
                    problems.append(Diagnostic("change-exists", f"the table '{name}' already exists in version {base.version}",
                                               span_of(name)))
                    continue
                tables[name] = Item(name, table, span_of(name), rf.text, version, value.value_locs[name])
                table_rows[name] = _rows_of(table, version)
        elif key == "remove_tables":
            for i, name in enumerate(value):
                if tables.pop(str(name), None) is None:
                    problems.append(_unknown("table", str(name), tables, value.value_locs[i].span, base.version))
                table_rows.pop(str(name), None)
        elif key == "table_rows":
            for name, edit in value.items():
                if name not in tables:
                    problems.append(_unknown("table", name, tables, span_of(name), base.version))
                    continue
                rows = table_rows[name]
                for op, entries in edit.items():
                    if op == "source":
                        continue
                    if op == "remove":
                        for i, row_key in enumerate(entries):
                            if rows.pop(str(row_key), None) is None:
                                problems.append(_unknown(f"row of table {name}", str(row_key), rows,
                                                         entries.value_locs[i].span, base.version))
                        continue
                    listed = entries.items() if isinstance(entries, PosDict) else ((k, None) for k in entries)
                    for i, (row_key, row) in enumerate(listed):
                        row_key = str(row_key)
                        at = entries.key_spans[row_key] if isinstance(entries, PosDict) else entries.value_locs[i].span
                        if op == "add" and row_key in rows:
                            problems.append(Diagnostic("change-exists", f"table {name} already has the row '{row_key}'", at))
                        elif op == "set" and row_key not in rows:
                            problems.append(_unknown(f"row of table {name}", row_key, rows, at, base.version))
                        else:
                            rows[row_key] = Row(row_key, row, at, version)
                if "source" in edit:
                    old = tables[name]
                    tables[name] = replace(old, changed_in=version)
        else:
            verb, _, section_name = key.partition("_")
            section = sections[section_name]
            kind = section_name.rstrip("s").replace("_", " ")
            if verb == "remove":
                for i, name in enumerate(value):
                    if section.pop(str(name), None) is None:
                        problems.append(_unknown(kind, str(name), section, value.value_locs[i].span, base.version))
                continue
            for name, entry in value.items():
                exists = name in section
                if verb in ("replace", "set") and not exists:
                    problems.append(_unknown(kind, name, section, span_of(name), base.version))
                    continue
                if verb == "add" and exists:
                    problems.append(Diagnostic("change-exists", f"the {kind} '{name}' already exists in version "
                                               f"{base.version}; use replace_{section_name} to change it", span_of(name)))
                    continue
                item = Item(name, entry, span_of(name), rf.text, version, value.value_locs[name])
                after = entry.get("after") if isinstance(entry, PosDict) else None
                if verb == "add" and after is not None:
                    if after not in section:
                        problems.append(_unknown(kind, str(after), section, entry.value_locs["after"].span, base.version))
                        section[name] = item
                    else:
                        ordered = {}
                        for k, v in section.items():
                            ordered[k] = v
                            if k == after:
                                ordered[name] = item
                        section.clear()
                        section.update(ordered)
                else:
                    section[name] = item
    return RuleSource(
        ruleset=base.ruleset, version=version, effective_from=vf.effective_from, effective_until=until,
        summary=str(doc.get("summary", "")), source=str(doc.get("source", "")), follows=vf.follows, file=rf.path,
        case_schema=base.case_schema,
        assumptions=tuple(str(a) for a in doc.get("assumptions") or ()),
        parameters=parameters, tables=tables, table_rows=table_rows, rules=sections["rules"],
        conditions=sections["conditions"], notes=sections["notes"], input_checks=sections["input_checks"],
        outputs=sections["outputs"], history=base.history + (version,),
    )


def resolve_versions(versions: list[VersionFile]) -> tuple[list[RuleSource], list[Diagnostic]]:
    """Every version, resolved in date order (each from the one before it)."""
    problems: list[Diagnostic] = []
    resolved: list[RuleSource] = []
    for index, vf in enumerate(versions):
        until = effective_until(versions, index)
        doc = vf.rule_file.doc
        if index == 0:
            if "changes" in doc or "case_schema" not in doc:
                problems.append(Diagnostic("version-base", f"the first version ({vf.version}) must be a complete ruleset "
                                           "(with case_schema, parameters, rules, ...), not a change file",
                                           doc.value_locs["version"].span))
                return [], problems
            resolved.append(_base_source(vf, until))
        else:
            if "changes" not in doc:
                problems.append(Diagnostic("version-change", f"version {vf.version} follows another and must state its "
                                           "changes under 'changes:'", doc.value_locs["version"].span))
                continue
            resolved.append(_apply(resolved[-1], vf, until, problems))
    return resolved, problems
