"""Every call the service makes into the engine, in this one module.

    Backend.open(rules)  the catalog -> every scheme's versions, each built once, at start
    decide / decide_text / decide_line   a case -> `Decided` or a `Problem` (bad input is a value here)
    versions, rules_on, diff, impact, verify, presentation, explanation_text, examples

The engine is growing from one scheme to a catalog of many. Where it offers
the catalog's API (`engine.list_schemes`, `engine.open_rules(rules, scheme=)`)
this module uses it; otherwise it serves the one scheme of a rules folder
(`engine.open_rules(rules)`). The rest of the service sees only the frozen
values defined here and `Problem`s, so an engine change is adapted here and
nowhere else. Nothing here knows a field of any scheme: labels, outputs and
the field that picks a version all come from the rules and their schemas.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from .. import LANGUAGES, open_rules as _open_rules
from ..core.diagnostics import ArgumentError, CaseError, KmoRulesError, RulesError, VersionNotFound
from ..core.span import format_json_path
from ..core.suggest import did_you_mean
from ..core.values import format_for_people, in_engine_context
from . import problems as P

try:  # the catalog of schemes, where the engine has it
    from .. import list_schemes as _list_schemes
except ImportError:  # one rules folder, one scheme
    _list_schemes = None


@dataclass(frozen=True)
class Scheme:
    """A scheme of the catalog as the service shows it."""

    id: str
    title: dict                 # language -> text
    languages: tuple[str, ...]
    version_field: str          # the case field whose date picks the version
    case_schema: Path
    decision_schema: Path
    tests_schema: Path | None   # what a test file beside the rules may hold
    fields: dict = field(default_factory=dict)  # language -> {case path -> label}: the scheme's vocabulary
    values: dict = field(default_factory=dict)  # language -> {enum value -> label}

    def title_in(self, lang: str) -> str:
        return self.title.get(lang) or self.title.get("en") or next(iter(self.title.values()), self.id)


@dataclass(frozen=True)
class Version:
    """One version of a scheme's rules: its period, what it changed, the hash of its resolved content."""

    scheme: str
    version: str
    effective_from: date
    effective_until: date | None
    summary: str
    source: str
    sha256: str

    def holds_on(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_until is None or day <= self.effective_until)

    def to_dict(self) -> dict:
        return {"version": self.version, "effective_from": self.effective_from.isoformat(),
                "effective_until": self.effective_until.isoformat() if self.effective_until else None,
                "summary": self.summary, "source": self.source, "sha256": self.sha256}


@dataclass(frozen=True)
class Decided:
    """A decision made: the contract's JSON (as data and as one line of text) and what a log line needs."""

    scheme: str
    decision: dict
    text: str
    version: str
    sha256: str
    eligible: bool
    reasons: tuple[str, ...]
    notes: tuple[str, ...]
    outputs: dict
    made: object = field(default=None, compare=False, repr=False)  # the engine's Decision, for explanation_text
    case: object = field(default=None, compare=False, repr=False)  # the raw case decided, for the log
    parts: dict = field(default_factory=dict)  # more about the rules that decided: the scheme's and modules' versions


@dataclass(frozen=True)
class LineError:
    """A batch line that is not a valid case: the command line's error line `{"line", "problems"}`."""

    line: int
    items: tuple[P.Item, ...]

    def to_dict(self) -> dict:
        return {"line": self.line, "problems": [{"path": i.path, "message": i.message} for i in self.items]}


@dataclass(frozen=True)
class Output:
    """A field of the decision besides the verdict: its label in each language and its type."""

    name: str
    label: dict
    type: str


@dataclass(frozen=True)
class Presentation:
    """What a page needs to show one version's decisions: outputs with labels, and labels for choices."""

    version: Version
    outputs: tuple[Output, ...]
    choices: dict   # a case field's JSON path (no indexes) -> {value: {language: label}}, from the rules' tables


@dataclass(frozen=True)
class Report:
    """An audit report (a diff, an impact) as data for JSON and as Markdown."""

    data: dict
    markdown: str


@dataclass(frozen=True)
class _Entry:
    scheme: Scheme
    book: object
    versions: tuple[Version, ...]


def _items_of(error: CaseError) -> tuple[P.Item, ...]:
    return tuple(P.Item(format_json_path(p.path), p.message) for p in error.problems)


def _schemes_dir() -> Path:
    from ..source.versions import bundled_schemas_dir
    return bundled_schemas_dir()


def _version_field(spec, book) -> str:
    """The case field that picks the version: declared by the scheme, else the engine's one field."""
    declared = getattr(spec, "version_field", None) or getattr(book, "version_field", None)
    if declared:
        return str(declared)
    from .. import pipeline
    return getattr(pipeline, "VERSION_FIELD", "")


def _scheme_of(spec, book, schemas: Path) -> Scheme:
    """What the service shows of a scheme, from what the catalog declares and what the book holds."""
    tests_schema = getattr(spec, "tests_schema", None) or schemas / "tests.schema.json"
    latest = book.sources[-1]
    title = dict(getattr(spec, "title", None) or {}) or {lang: book.ruleset_id for lang in LANGUAGES}
    languages = tuple(getattr(spec, "languages", None) or LANGUAGES)
    return Scheme(getattr(spec, "id", None) or book.ruleset_id, title, languages, _version_field(spec, book),
                  Path(getattr(spec, "case_schema", None) or latest.case_schema).resolve(),
                  Path(getattr(spec, "decision_schema", None) or schemas / "decision.schema.json").resolve(),
                  Path(tests_schema) if Path(tests_schema).is_file() else None,
                  _by_language(getattr(spec, "fields", None), True), _by_language(getattr(spec, "values", None)))


def _by_language(vocabulary: dict | None, capitalised: bool = False) -> dict:
    """{name: {language: text}} (as scheme.yaml writes it) -> {language: {name: text}} (as a form reads it)."""
    out: dict = {}
    for name, texts in (vocabulary or {}).items():
        for lang, text in texts.items():
            out.setdefault(lang, {})[name] = text[:1].upper() + text[1:] if capitalised else text
    return out


def _catalog(rules: Path | None) -> list[tuple[Scheme, object]]:
    """The schemes and their books: from the engine's catalog when it has one, else the one folder.
    The default scheme comes first."""
    schemas = _schemes_dir()
    if _list_schemes is None:
        book = _open_rules(rules)
        return [(_scheme_of(None, book, schemas), book)]
    specs = sorted(_list_schemes(rules), key=lambda spec: not getattr(spec, "default", False))
    found = []
    for spec in specs:
        book = _open_rules(rules, scheme=spec.id)
        found.append((_scheme_of(spec, book, schemas), book))
    return found


@dataclass(frozen=True)
class Backend:
    """The rules the service serves, opened and built once; every question to the engine goes through here."""

    entries: dict

    @classmethod
    @in_engine_context
    def open(cls, rules: Path | None = None) -> "Backend":
        """Open every scheme and build every version now, so no request pays for it (RulesError if invalid)."""
        entries = {}
        for scheme, book in _catalog(rules):
            versions = []
            for source in book.sources:
                info = book.build(source).info
                versions.append(Version(scheme.id, source.version, source.effective_from, source.effective_until,
                                        source.summary or "", source.source or "", info.sha256))
            entries[scheme.id] = _Entry(scheme, book, tuple(versions))
        return cls(entries)

    # -- the catalog ----------------------------------------------------------------
    def schemes(self) -> tuple[Scheme, ...]:
        return tuple(entry.scheme for entry in self.entries.values())

    def scheme(self, scheme_id: str) -> Scheme | P.Problem:
        entry = self.entries.get(scheme_id)
        if entry is not None:
            return entry.scheme
        known = list(self.entries)
        return P.unknown_scheme(scheme_id, known, did_you_mean(scheme_id, known, longest=64))

    def default_scheme(self) -> Scheme:
        return next(iter(self.entries.values())).scheme

    def versions(self, scheme_id: str) -> tuple[Version, ...]:
        return self.entries[scheme_id].versions

    def version_on(self, scheme_id: str, day: date) -> Version | P.Problem:
        for version in reversed(self.versions(scheme_id)):
            if version.holds_on(day):
                return version
        try:
            self.entries[scheme_id].book.source_on(day)  # the engine's own words for why not
        except VersionNotFound as error:
            return P.no_version(str(error))
        return P.no_version(f"no version of {scheme_id} is in force on {day.isoformat()}")  # pragma: no cover

    def resolve(self, scheme_id: str, named: str) -> Version | P.Problem:
        """A version id or a date YYYY-MM-DD (the version in force that day) -> the Version, or a Problem."""
        book = self.entries[scheme_id].book
        try:
            source = book.resolve(named)
        except VersionNotFound as error:
            return P.no_version(str(error))
        return next(v for v in self.versions(scheme_id) if v.version == source.version)

    def _built(self, scheme_id: str, version: str):
        book = self.entries[scheme_id].book
        return book.build(book.source_named(version))

    # -- deciding -------------------------------------------------------------------
    @staticmethod
    def parse_case(text: str) -> object | P.Problem:
        """JSON text -> the raw case, numbers exact (never float); a Problem when it is not JSON."""
        from ..source.case import CaseTextError, parse_case_text
        if not text.lstrip().startswith(("{", "[")):
            return P.not_json("not valid JSON: a case is a JSON object, {...}" if text.strip() else "the case is empty")
        try:
            return parse_case_text(text)
        except CaseTextError as error:
            return P.not_json(str(error))
        except (RecursionError, ValueError) as error:  # a number of thousands of digits, ...
            return P.not_json(f"not valid JSON: {str(error)[:200]}")

    @in_engine_context
    def decide(self, scheme_id: str, raw, *, on: date | None = None, explain: bool = False,
               lang: str = "en") -> Decided | P.Problem:
        """A raw case -> its decision under the version in force on its date (or on `on`); bad input a Problem."""
        book = self.entries[scheme_id].book
        try:
            made = book.evaluate(raw, explain=explain, lang=lang, on=on)
        except CaseError as error:
            return P.invalid_case(_items_of(error))
        except VersionNotFound as error:
            return P.bad_parameter("on", str(error))
        except RulesError as error:  # the rules cannot decide this case (a division by zero they make)
            return P.Problem(422, "rules-cannot-decide", "The rules cannot decide this case",
                             "; ".join(str(d) for d in error.diagnostics)[:2000])
        from ..run.batch import decision_json
        data = made.to_dict()
        return Decided(scheme_id, data, decision_json(made), made.ruleset.version,
                       made.ruleset.sha256, made.eligible, tuple(r.code for r in made.reasons),
                       tuple(n.code for n in made.notes), dict(made.outputs), made, raw,
                       {k: v for k, v in made.ruleset.to_dict().items()
                        if k not in ("id", "version", "effective_from", "effective_until", "sha256")})

    def decide_text(self, scheme_id: str, text: str, **options) -> Decided | P.Problem:
        raw = self.parse_case(text)
        return raw if isinstance(raw, P.Problem) else self.decide(scheme_id, raw, **options)

    def decide_line(self, scheme_id: str, number: int, text: str, **options) -> Decided | LineError:
        """One line of JSON Lines -> its decision, or the error line `kmo-rules evaluate --keep-going` writes."""
        from ..source.case import CaseTextError, parse_case_text
        try:
            raw = parse_case_text(text)
        except CaseTextError as error:
            return LineError(number, (P.Item("(the case)", str(error)),))
        except (RecursionError, ValueError) as error:
            return LineError(number, (P.Item("(the case)", f"not valid JSON: {str(error)[:200]}"),))
        found = self.decide(scheme_id, raw, **options)
        if isinstance(found, P.Problem):
            items = found.items if found.code == "invalid-case" else (P.Item("(the case)", found.detail),)
            return LineError(number, items)
        return found

    # -- reading the rules ------------------------------------------------------------
    @in_engine_context
    def rules_on(self, scheme_id: str, version: str, provenance: bool = True) -> dict:
        """The resolved rules of a version as plain data (what `kmo-rules show` prints), with its hash."""
        from ..lang.printer import canonical
        built = self._built(scheme_id, version)
        data = canonical(built.checked, with_provenance=provenance)
        data["history"] = list(built.source.history)
        data["sha256"] = built.info.sha256
        return data

    @in_engine_context
    def rules_yaml(self, scheme_id: str, version: str, provenance: bool = True) -> str:
        import yaml
        data = self.rules_on(scheme_id, version, provenance)
        history = data.pop("history")
        sha256 = data.pop("sha256")
        data["sha256"] = sha256
        return (f"# {scheme_id} {version}, resolved from {', '.join(history)}\n"
                + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110))

    @staticmethod
    def section_title(section: str, lang: str) -> str:
        """The heading of a part of the rules (parameters, conditions, ...) in a language."""
        from ..core import kinds
        kind = kinds.BY_SECTION.get(section)
        if kind is None:
            return section.replace("_", " ").capitalize()
        return kind.title.get(lang) or kind.title["en"]

    @staticmethod
    def shown_sections() -> tuple[str, ...]:
        """The parts of a version in the order `kmo-rules show` prints them."""
        from ..core import kinds
        return tuple(kind.section for kind in kinds.SHOWN)

    # -- audits -------------------------------------------------------------------------
    @in_engine_context
    def diff(self, scheme_id: str, from_version: str, to_version: str) -> Report | P.Problem:
        from ..audit.audit_render import diff_data, render_diff_markdown
        from ..audit.semantic_diff import diff as diff_of
        try:
            found = diff_of(self.entries[scheme_id].book, from_version, to_version)
        except VersionNotFound as error:
            return P.no_version(str(error))
        return Report(diff_data(found), render_diff_markdown(found))

    @in_engine_context
    def impact(self, scheme_id: str, from_version: str, to_version: str, lines: list[str], label: str = "line",
               show: int | None = 50) -> Report | P.Problem:
        """JSON Lines cases decided under two versions -> what changes (every changed case in the data;
        the first `show` in the Markdown). An unreadable or invalid case is counted, never fatal."""
        from ..audit.audit_render import diff_data, impact_data, render_diff_markdown, render_impact_markdown
        from ..audit.impact_analysis import cases_from_lines, impact
        book = self.entries[scheme_id].book
        for named in (from_version, to_version):
            try:
                book.resolve(named)
            except VersionNotFound as error:
                return P.no_version(str(error))
        try:
            report = impact(book, from_version, to_version, cases_from_lines(lines, label))
        except (RecursionError, ValueError) as error:  # pragma: no cover - a line the JSON reader cannot hold
            return P.not_json(f"a case of the corpus: {str(error)[:200]}", "JSON Lines")
        data = diff_data(report.diff)
        data["impact"] = impact_data(report)
        return Report(data, render_diff_markdown(report.diff) + "\n" + render_impact_markdown(report, show))

    @in_engine_context
    def verify(self, scheme_id: str, case, decision) -> dict | P.Problem:
        """A stored case and decision -> decided again under the version the decision names: identical, or
        every field that differs (what `kmo-rules verify` says)."""
        from ..audit.replay import replay
        try:
            found = replay(self.entries[scheme_id].book, case, decision)
        except ArgumentError as error:
            return P.Problem(422, "not-a-decision", "The stored decision is not the contract's shape", str(error),
                             (P.Item("decision", str(error)),))
        except VersionNotFound as error:
            return P.no_version(str(error), 422)
        except CaseError as error:
            return P.invalid_case(tuple(P.Item("case." + i.path if not i.path.startswith("(") else "case", i.message)
                                        for i in _items_of(error)))
        return {"identical": found.identical, "version": found.version, "sha256": found.sha256,
                "differences": [{"field": d.field, "stored": d.stored, "now": d.now, "note": d.note}
                                for d in found.differences],
                "text": str(found)}

    # -- for pages --------------------------------------------------------------------
    @in_engine_context
    def presentation(self, scheme_id: str, version: str) -> Presentation:
        built = self._built(scheme_id, version)
        checked = built.checked
        outputs = []
        for name, output in checked.outputs.items():
            named = [checked.rules[n] for n in (output.text, *output.uses) if n in checked.rules]
            label = dict(output.label or next((r.label for r in named if r.label), {}))  # the rule it gives
            outputs.append(Output(name, label, str(output.type)))
        choices: dict = {}
        for table in checked.tables.values():
            key = getattr(table, "key", None)
            if not key:
                continue
            for value, row in table.rows.items():
                texts = {lang: row[lang] for lang in LANGUAGES if isinstance(row.get(lang), str)}
                if texts:
                    choices.setdefault(key, {})[value] = texts
        found = next(v for v in self.versions(scheme_id) if v.version == version)
        return Presentation(found, tuple(outputs), choices)

    @in_engine_context
    def explanation_text(self, decided: Decided, lang: str) -> str:
        """How each output of an explained decision was found, as the command line's text explanation."""
        from ..present.explain import render_steps
        made = decided.made
        if made is None or made.explanation is None:
            return ""
        checked = self._built(decided.scheme, decided.version).checked
        return render_steps(made, [("output", name) for name in checked.outputs], lang, checked)

    @staticmethod
    def people_value(value, type_text: str, lang: str) -> str:
        """A decision's value as a person reads it: money as EUR 1234.50, a rate as 45 %, yes and no."""
        from ..present.explain import WORDS
        return format_for_people(value, type_text, WORDS.get(lang, WORDS["en"]))

    def examples(self, scheme_id: str) -> tuple[str, ...]:
        """The example cases kept beside a scheme's tests (rules/<scheme>/tests/examples/*.json), by name."""
        folder = self._examples_dir(scheme_id)
        if folder is None:
            return ()
        return tuple(sorted(p.stem for p in folder.glob("*.json") if p.is_file() and not p.is_symlink()))

    def example(self, scheme_id: str, name: str) -> object | None:
        if name not in self.examples(scheme_id):
            return None
        try:
            text = (self._examples_dir(scheme_id) / f"{name}.json").read_text(encoding="utf-8")
        except OSError:
            return None
        found = self.parse_case(text[:1_000_000])
        return None if isinstance(found, P.Problem) else found

    def _examples_dir(self, scheme_id: str) -> Path | None:
        book = self.entries[scheme_id].book
        where = getattr(book, "folder", None) or getattr(book, "rules_dir", None)  # the scheme's own folder
        folder = Path(where) / "tests" / "examples" if where is not None else None
        return folder if folder is not None and folder.is_dir() else None


def installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("kmo-rules")
    except PackageNotFoundError:
        return "0.0.0+checkout"


__all__ = ["Backend", "Scheme", "Version", "Decided", "LineError", "Output", "Presentation", "Report",
           "KmoRulesError", "installed_version"]
