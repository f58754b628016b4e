"""A scheme with the modules it imports, day by day: scheme versions + module versions -> resolved versions.

A scheme's rules change when the scheme changes and when a module it imports
changes: the de-minimis regulation of 2024 changes every scheme that uses it,
without a version of any scheme. So the resolved timeline of a scheme has a
version from each day on which any of its parts changes; its id is that day
(or the scheme's own version id, on a day the scheme itself changes), and it
records the version of each part (`parts`).

Composing keeps every definition as written and only renames a module's: its
parameters, tables and rules are read by the scheme under the import's prefix
(`sme.size_class`), and carry that prefix as their namespace, so that the
module's own expressions still read their own short names (`work_units`).
Each input a module declares becomes a rule of that name under the prefix,
its value the expression the scheme binds to it and its declared type the
module's, which the checker holds the binding to. A module's notes keep their
codes (`de_minimis_ceiling_reached`): the code is what a decision reports.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from ..core.diagnostics import Diagnostic
from ..core.kinds import EXPRESSION_KINDS, KINDS
from ..core.suggest import did_you_mean
from .load import PosDict
from .source import Item, RuleSource

_DEFINITION_SECTIONS = tuple(kind.section for kind in EXPRESSION_KINDS)
_WITH_MESSAGES = tuple(kind for kind in KINDS if kind.messages)


def _in_force(versions: list[RuleSource], day: date) -> RuleSource | None:
    for version in reversed(versions):
        if version.effective_from <= day and (version.effective_until is None or day <= version.effective_until):
            return version
    return None


def _module_of(item: Item) -> str:
    return str(item.data.get("module")) if isinstance(item.data, PosDict) else ""


def compose_timeline(scheme: list[RuleSource], modules: dict[str, list[RuleSource]],
                     languages: tuple[str, ...] = (), known: tuple[str, ...] = ()) -> tuple[list[RuleSource], list[Diagnostic]]:
    """The versions of a scheme as decided: one from each day on which the scheme or a module it imports
    changes. `modules` holds each module's resolved versions, by id; `known` every module of the catalog."""
    problems: list[Diagnostic] = []
    if not scheme:
        return [], problems
    if not any(version.imports for version in scheme):
        return [_checked_languages(replace(version, parts=((version.ruleset, version.version),)), languages, problems)
                for version in scheme], problems
    first = scheme[0].effective_from
    days = {version.effective_from for version in scheme}
    for version in scheme:
        for item in version.imports.values():
            for module_version in modules.get(_module_of(item), []):
                days.add(module_version.effective_from)
                if module_version.effective_until is not None and module_version.effective_until < date.max:
                    days.add(module_version.effective_until + timedelta(days=1))
    composed: list[RuleSource] = []
    reported: set = set()
    previous_key = None
    for day in sorted(d for d in days if d >= first):
        own = _in_force(scheme, day)
        if own is None:
            continue
        parts, used = [(own.ruleset, own.version)], []
        for prefix, item in own.imports.items():
            module_id = _module_of(item)
            versions = modules.get(module_id)
            if versions is None:
                if (prefix, own.version) not in reported:
                    reported.add((prefix, own.version))
                    problems.append(Diagnostic("import-unknown", f"the import {prefix} names the module '{module_id}', "
                                               "which the rules folder does not hold", _at(item, "module"),
                                               did_you_mean(module_id, known or modules) or
                                               f"modules: {', '.join(known or modules) or 'none'}"))
                continue
            module_version = _in_force(versions, day)
            if module_version is None:
                if (module_id, own.version) not in reported:
                    reported.add((module_id, own.version))
                    problems.append(Diagnostic("import-date", f"the module {module_id} has no version in force on "
                                               f"{day}, which version {own.version} of {own.ruleset} covers",
                                               _at(item, "module"), f"its first version starts on "
                                               f"{versions[0].effective_from}" if versions else None))
                continue
            parts.append((module_id, module_version.version))
            used.append((prefix, item, module_version))
        key = tuple(parts)
        if key == previous_key:
            continue
        previous_key = key
        if composed:
            composed[-1] = replace(composed[-1], effective_until=day - timedelta(days=1))
        changed = own if day == own.effective_from else \
            next((m for _, _, m in used if m.effective_from == day), own)
        version_id = own.version if day == own.effective_from else day.isoformat()
        composed.append(_compose(own, used, version_id, day, changed, problems))
    if composed:
        composed[-1] = replace(composed[-1], effective_until=scheme[-1].effective_until)
    return [_checked_languages(version, languages, problems) for version in composed], problems


def _at(item: Item, key: str):
    data = item.data
    if isinstance(data, PosDict) and key in data.value_locs:
        return data.value_locs[key].span
    return item.span


def _compose(own: RuleSource, used: list, version_id: str, day: date, changed: RuleSource,
             problems: list[Diagnostic]) -> RuleSource:
    parameters, tables, table_rows = dict(own.parameters), dict(own.tables), dict(own.table_rows)
    sections = {name: dict(getattr(own, name)) for name in _DEFINITION_SECTIONS}
    own_roots = {name.split(".")[0] for name in own.parameters} | set(own.tables) | set(own.rules)
    for prefix, item, module in used:
        if prefix in own_roots:
            problems.append(Diagnostic("name-clash", f"the import prefix '{prefix}' is also a name of "
                                       f"{own.ruleset}'s own parameters, tables or rules; rename one", item.span))
            continue

        def moved(entry: Item, name: str | None = None) -> Item:
            return replace(entry, name=name or f"{prefix}.{entry.name}", namespace=prefix,
                           changed_in=f"{module.ruleset} {entry.changed_in}")
        for name, entry in module.parameters.items():
            parameters[f"{prefix}.{name}"] = moved(entry)
        for name, entry in module.tables.items():
            tables[f"{prefix}.{name}"] = moved(entry)
            table_rows[f"{prefix}.{name}"] = module.table_rows.get(name, {})
        sections["rules"].update(_bindings(prefix, item, module, problems))
        for name, entry in module.rules.items():
            sections["rules"][f"{prefix}.{name}"] = moved(entry)
        for name, entry in module.notes.items():
            if name in sections["notes"]:
                problems.append(Diagnostic("name-clash", f"the note {name} of the module {module.ruleset} has the "
                                           f"code of a note of {own.ruleset}; rename one", entry.span))
                continue
            sections["notes"][name] = moved(entry, name)
    return replace(own, version=version_id, effective_from=day, summary=changed.summary, source=changed.source,
                   file=changed.file, follows=own.follows if changed is own else None,
                   assumptions=own.assumptions if changed is own else changed.assumptions,
                   changed_part="" if changed is own else changed.ruleset, parameters=parameters, tables=tables, table_rows=table_rows,
                   parts=((own.ruleset, own.version),) + tuple((m.ruleset, m.version) for _, _, m in used),
                   **sections)


def _bindings(prefix: str, item: Item, module: RuleSource, problems: list[Diagnostic]) -> dict[str, Item]:
    """Each input of the module as a rule `prefix.input`: the scheme's expression, the module's type."""
    data = item.data if isinstance(item.data, PosDict) else PosDict()
    bound = data.get("inputs") if isinstance(data.get("inputs"), PosDict) else PosDict()
    rules: dict[str, Item] = {}
    for name in bound:
        if name not in module.inputs:
            problems.append(Diagnostic("import-input", f"the module {module.ruleset} has no input '{name}'",
                                       bound.key_spans[name], did_you_mean(name, module.inputs) or
                                       f"its inputs: {', '.join(module.inputs)}"))
    for name, declared in module.inputs.items():
        wanted = declared.data if isinstance(declared.data, PosDict) else PosDict()
        if name not in bound:
            problems.append(Diagnostic("import-input", f"the import {prefix} binds no '{name}', an input of the module "
                                       f"{module.ruleset} ({wanted.get('type')})", item.span,
                                       f"write {name}: <an expression of type {wanted.get('type')}> under inputs"))
            continue
        rule = PosDict(value=bound[name], type=wanted.get("type"), label=wanted.get("label") or {},
                       source=wanted.get("source") or data.get("source") or f"{module.ruleset}, input {name}")
        rule.value_locs = {"value": bound.value_locs[name], "type": bound.value_locs[name]}
        rule.key_spans = {}
        rules[f"{prefix}.{name}"] = Item(f"{prefix}.{name}", rule, bound.key_spans[name], item.file_text,
                                         item.changed_in, bound.value_locs[name])
    return rules


def _checked_languages(version: RuleSource, languages: tuple[str, ...], problems: list[Diagnostic]) -> RuleSource:
    """Every message of the version written in each language of its scheme (a label, where given, too); a
    parameter or rule without a label is a warning: a person's explanation could only show its name."""
    for section, noun in (("parameters", "parameter"), ("rules", "rule")):
        for name, item in getattr(version, section).items():
            data = item.data
            if not isinstance(data, PosDict):
                continue
            label = data.get("label")
            if not label:
                problems.append(Diagnostic("label-missing", f"{noun} {name} has no label: an explanation for a "
                                           "person can only show its name", item.span,
                                           f"add label: {{{', '.join(f'{lang}: ...' for lang in languages)}}}",
                                           severity="warning"))
            elif isinstance(label, PosDict):
                for lang in languages:
                    if lang not in label:
                        problems.append(Diagnostic("language-missing", f"the label of {noun} {name} has no "
                                                   f"'{lang}' text, a language of the scheme {version.ruleset}",
                                                   data.value_locs["label"].span if "label" in data.value_locs
                                                   else item.span, f"add {lang}: ..."))
    for kind in _WITH_MESSAGES:
        for name, item in getattr(version, kind.section).items():
            data = item.data
            if not isinstance(data, PosDict):
                continue
            for key in ("message", "label"):
                texts = data.get(key)
                if not isinstance(texts, PosDict):
                    continue
                for lang in languages:
                    if lang not in texts:
                        problems.append(Diagnostic("language-missing", f"the {key} of {kind.noun['en']} "
                                                   f"{name} has no '{lang}' text, a language of the scheme "
                                                   f"{version.ruleset}", data.value_locs[key].span,
                                                   f"add {lang}: ..."))
    return version
