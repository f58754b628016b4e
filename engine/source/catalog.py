"""The catalog of a rules folder: rules folder -> its schemes and the shared modules they may import.

A catalog holds one folder per scheme (`kmo-portefeuille/`), each with a
`scheme.yaml` that declares what the engine may not assume of a scheme: which
case field picks the version in force, its languages, the headline of its
explanations, the output an impact report totals. Shared law lives in
`modules/<id>/`, one folder of dated version files per module, so that the
law many schemes use is written once, on its own timeline.

A folder that is itself one scheme (a `scheme.yaml` beside version files, or
version files alone, as a copied or older rules folder has them) is a
catalog of that one scheme. Modules a catalog does not hold are taken from
the ones shipped with the engine, by id, as a shipped case schema is.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..core.diagnostics import Diagnostic
from ..core.span import Span
from ..core.suggest import did_you_mean
from .load import PosDict, is_inside, load_rule_file, read_text_inside
from .source import Text, text_at

SCHEME_FILE = "scheme.yaml"
MODULES_FOLDER = "modules"
SCHEME_SCHEMA = "scheme.schema.json"


@dataclass(frozen=True)
class SchemeSpec:
    """One scheme of the catalog as its `scheme.yaml` declares it (or, without one, only its folder and id)."""

    id: str
    folder: Path
    root: Path  # the catalog folder: every path the scheme names stays inside it
    title: dict = field(default_factory=dict)  # language -> text
    summary: dict = field(default_factory=dict)
    version_field: str | None = None  # the case field whose date picks the version; None: the caller says
    languages: tuple[str, ...] = ("en",)
    headline: dict = field(default_factory=dict)  # language -> Text: the first line of an eligible explanation
    impact_total: str | None = None  # the output an impact report totals
    impact_label: dict = field(default_factory=dict)
    decision_schema: Path | None = None
    file: str | None = None  # scheme.yaml as shown to users, when there is one
    default: bool = False  # the scheme a command means when it names none
    fields: dict = field(default_factory=dict)  # case path -> language -> how a person names the field
    values: dict = field(default_factory=dict)  # enum value -> language -> how a person names it
    terms: dict = field(default_factory=dict)  # language -> ((words of a source, as written there), ...)
    percentages: frozenset = frozenset()  # case fields holding a share as a fraction, read as a percentage

    def title_in(self, lang: str) -> str:
        return self.title.get(lang) or self.title.get(self.languages[0]) or self.id

    def language(self, lang: str | None) -> str:
        """The language asked for when the scheme has it, else its first."""
        return lang if lang in self.languages else self.languages[0]


@dataclass(frozen=True)
class Catalog:
    """The schemes of a rules folder, in the order of their folders, and where each module's versions lie."""

    root: Path
    schemes: dict[str, SchemeSpec]
    modules: dict[str, tuple[Path, Path]]  # module id -> (its folder, the folder its paths stay inside)

    def scheme(self, scheme_id: str | None) -> SchemeSpec | None:
        """The scheme asked for; with none asked, the default scheme, or the only one."""
        if scheme_id is None:
            marked = [spec for spec in self.schemes.values() if spec.default]
            if len(marked) == 1:
                return marked[0]
            return next(iter(self.schemes.values())) if len(self.schemes) == 1 else None
        return self.schemes.get(scheme_id)

    def unknown(self, scheme_id: str | None) -> str:
        """Why no scheme answers to `scheme_id`, with the known ones."""
        known = ", ".join(self.schemes) or "none"
        if scheme_id is None:
            return f"the rules folder holds several schemes ({known}); name one with --scheme"
        hint = did_you_mean(scheme_id, self.schemes)
        return f"no scheme '{scheme_id}' in the rules folder; schemes: {known}" + (f" ({hint})" if hint else "")


_RULESET_LINE = re.compile(r"^ruleset:\s*[\"']?([A-Za-z0-9_-]+)", re.MULTILINE)


def _has_rule_files(folder: Path) -> bool:
    return any(p.is_file() for pattern in ("*.yaml", "*.yml") for p in folder.glob(pattern) if p.name != SCHEME_FILE)


def _written_id(folder: Path, root: Path) -> str:
    """The id the version files of a folder without scheme.yaml give (`ruleset: ...`), else the folder's name."""
    for path in sorted(folder.glob("*.y*ml")):
        text, problem = read_text_inside(path, root)
        if problem is None:
            found = _RULESET_LINE.search(text[:4000])
            if found:
                return found.group(1)
    return folder.name


def bundled_modules(bundled_rules: Path) -> dict[str, tuple[Path, Path]]:
    return _modules_in(bundled_rules)


def _modules_in(root: Path) -> dict[str, tuple[Path, Path]]:
    base = root / MODULES_FOLDER
    if not base.is_dir() or not is_inside(base, root):
        return {}
    return {folder.name: (folder, root) for folder in sorted(base.iterdir())
            if folder.is_dir() and is_inside(folder, root)}


def read_catalog(root: Path, bundled_rules: Path, schemas: Path) -> tuple[Catalog, list[Diagnostic]]:
    """A rules folder -> its catalog (schemes and modules), with the problems of each scheme.yaml."""
    problems: list[Diagnostic] = []
    folders: list[Path]
    if (root / SCHEME_FILE).is_file() or _has_rule_files(root):
        folders = [root]
    else:
        folders = [folder for folder in sorted(root.iterdir()) if folder.is_dir() and folder.name != MODULES_FOLDER
                   and not folder.name.startswith((".", "_")) and is_inside(folder, root)
                   and ((folder / SCHEME_FILE).is_file() or _has_rule_files(folder))] if root.is_dir() else []
    schemes: dict[str, SchemeSpec] = {}
    for folder in folders:
        spec = _scheme(folder, root, schemas, problems)
        if spec is None:
            continue
        if spec.id in schemes:
            problems.append(Diagnostic("scheme-duplicate", f"the scheme '{spec.id}' is declared twice (also in "
                                       f"{schemes[spec.id].folder})", Span(spec.file or str(folder), 1, 1)))
            continue
        schemes[spec.id] = spec
    modules = {**(bundled_modules(bundled_rules) if bundled_rules.is_dir() else {}), **_modules_in(root)}
    return Catalog(root, schemes, modules), problems


def _scheme(folder: Path, root: Path, schemas: Path, problems: list[Diagnostic]) -> SchemeSpec | None:
    path = folder / SCHEME_FILE
    if not path.exists():
        return SchemeSpec(_written_id(folder, root), folder, root)
    from .versions import shown_path  # noqa: the one place a path is turned into what users read
    shown = shown_path(path)
    declared, found = load_rule_file(path, shown, schemas / SCHEME_SCHEMA, root)
    problems += found
    if declared is None:
        return None
    doc: PosDict = declared.doc
    languages = tuple(str(lang) for lang in doc["languages"])
    explanation = doc.get("explanation") or PosDict()
    headline = explanation.get("headline") or PosDict()
    impact = doc.get("impact") or PosDict()
    vocabulary = doc.get("vocabulary") or PosDict()
    decision_schema = None
    if doc.get("decision_schema"):
        written = folder / str(doc["decision_schema"])
        if is_inside(written, root) and written.is_file():
            decision_schema = written
        elif (schemas / Path(str(doc["decision_schema"])).name).is_file():
            decision_schema = schemas / Path(str(doc["decision_schema"])).name  # a shipped schema, by its name
        else:
            problems.append(Diagnostic("decision-schema", f"the decision schema {doc['decision_schema']} does not "
                                       "exist inside the rules folder", doc.value_locs["decision_schema"].span))
    spec = SchemeSpec(
        id=str(doc["scheme"]), folder=folder, root=root, title=dict(doc["title"]), summary=dict(doc.get("summary") or {}),
        version_field=str(doc["version_field"]), languages=languages,
        headline={lang: text_at(headline, lang, declared.text) for lang in headline},
        impact_total=str(impact["total"]) if impact.get("total") else None, impact_label=dict(impact.get("label") or {}),
        decision_schema=decision_schema, file=shown, default=bool(doc.get("default")),
        fields={str(k): dict(v) for k, v in (vocabulary.get("fields") or {}).items()},
        values={str(k): dict(v) for k, v in (vocabulary.get("values") or {}).items()},
        terms={str(lang): tuple((str(a), str(b)) for a, b in pairs) for lang, pairs in
               (vocabulary.get("terms") or {}).items()},
        percentages=frozenset(str(p) for p in vocabulary.get("percentages") or ()))
    for lang in languages:
        if headline and lang not in headline:
            problems.append(Diagnostic("language-missing", f"the headline has no '{lang}' text, a language of the "
                                       f"scheme {spec.id}", explanation.key_spans["headline"]))
    return spec


__all__ = ["Catalog", "SchemeSpec", "read_catalog", "SCHEME_FILE", "MODULES_FOLDER", "Text"]
