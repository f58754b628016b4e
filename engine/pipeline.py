"""The whole engine, stage after stage. Read this file first.

    rule files --source.versions--> RuleSource (one per version, change files applied)
               --lang.parsed-->     ParsedRuleSet (typed definitions; no YAML past here)
               --lang.check-->      CheckedRuleSet (names resolved, types proved, an order found)
               --run.compile-->     CompiledRuleSet (one Python function per version)
    raw case   --source.case-->     Case --run.evaluate--> Decision (+ trace from run.interpret)

`build_version` is that chain for one version; `RuleBook` holds every version
of a rules folder, resolved, and builds each the first time it is needed.
The CLI, the tests, `diff` and `validate` all go through here.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from datetime import date, datetime
from pathlib import Path

from .source.case import CaseSchemaError, case_model
from .lang.check import CheckedRuleSet, check_ruleset
from .run.compile import CompiledRuleSet, compile_ruleset
from .core.diagnostics import CaseError, CaseProblem, Diagnostic, RulesError, SchemeNotFound, VersionNotFound
from .run.evaluate import RulesetInfo, check_case, evaluate_case
from .lang.parsed import parse_ruleset
from .lang.printer import content_hash
from .source.source import RuleSource
from .core.span import Span
from .source.catalog import Catalog, SchemeSpec, read_catalog
from .source.compose import compose_timeline
from .source.versions import (bundled_rules_dir, bundled_schemas_dir, read_versions, resolve_versions,
                              shown_path)


@dataclass
class Built:
    """One version ready to evaluate cases."""

    source: RuleSource
    checked: CheckedRuleSet
    compiled: CompiledRuleSet
    info: RulesetInfo
    warnings: tuple[Diagnostic, ...] = ()


def _sorted(problems) -> list[Diagnostic]:
    return sorted(problems, key=lambda d: (d.span.file, d.span.line, d.span.column) if d.span else ("", 0, 0))


def build_version(source: RuleSource) -> tuple[Built | None, list[Diagnostic]]:
    """RuleSource -> parsed -> checked -> compiled, or every problem found on the way."""
    schema_path = source.case_schema
    if not schema_path.is_file():
        return None, [Diagnostic("case-schema", f"the case schema {shown_path(schema_path)} does not exist",
                                 Span(source.file, 1, 1))]
    parsed, problems = parse_ruleset(source)                   # expressions -> AST
    if problems:
        return None, _sorted(problems)
    try:
        model = case_model(schema_path)                        # the case schema, checked and compiled
    except CaseSchemaError as error:
        text = f"{error.pointer}: {error.message}" if error.path else error.message
        return None, [Diagnostic("case-schema", f"the case schema {shown_path(schema_path)}: {text}",
                                 Span(shown_path(schema_path), error.line or 1, error.column or 1))]
    checked, problems = check_ruleset(parsed, model)           # names and types
    if checked is None:
        return None, _sorted(problems)
    compiled = compile_ruleset(checked)                        # AST -> one Python function
    info = RulesetInfo(source.ruleset, source.version, source.effective_from, source.effective_until,
                       content_hash(checked), source.parts)
    return Built(source, checked, compiled, info, tuple(problems)), []


_DAYS: dict[str, date] = {}  # the dates of a batch's cases, read once each (a batch has a few thousand)
_MAX_DAYS = 100_000


def _case_day(case, path: tuple[str, ...]) -> date | None:
    """The date that picks a case's version (at the scheme's `version_field`), or None when it has none that is
    valid."""
    value = case
    for part in path:
        value = value.get(part) if type(value) is dict or isinstance(value, Mapping) else None
    if type(value) is str:
        day = _DAYS.get(value)
        if day is not None:
            return day
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and len(value) == 10 and value.isascii() and value[:4].isdigit():
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return None
        if len(_DAYS) < _MAX_DAYS:
            _DAYS[value] = day
        return day
    return None


@dataclass
class RuleBook:
    """Every version of one scheme of a rules folder, resolved with the modules it imports; each built on
    first use."""

    rules_dir: Path
    sources: list[RuleSource]
    scheme: SchemeSpec | None = None
    _built: dict[str, Built] = field(default_factory=dict, repr=False)
    _last: tuple | None = field(default=None, repr=False)  # (from, until, Built) of the version used last

    @property
    def ruleset_id(self) -> str:
        return self.scheme.id if self.scheme is not None else self.sources[0].ruleset

    @property
    def version_field(self) -> str | None:
        """The case field whose date picks the version, as the scheme declares it."""
        return self.scheme.version_field if self.scheme is not None else None

    @cached_property
    def version_path(self) -> tuple[str, ...]:
        """The version field as a path into the case, split once (every case of a batch reads it)."""
        return tuple(self.version_field.split(".")) if self.version_field else ()

    @property
    def folder(self) -> Path:
        """The scheme's own folder (its version files and tests)."""
        return self.scheme.folder if self.scheme is not None else self.rules_dir

    def source_on(self, day: date) -> RuleSource:
        for source in reversed(self.sources):
            if source.effective_from <= day and (source.effective_until is None or day <= source.effective_until):
                return source
        first = self.sources[0].effective_from
        if day < first:
            raise VersionNotFound(f"no rules for {day.isoformat()}: the first version of {self.ruleset_id} "
                                  f"starts on {first.isoformat()}")
        raise VersionNotFound(f"no version of {self.ruleset_id} is in force on {day.isoformat()}")

    def source_named(self, version: str) -> RuleSource:
        found = self._named(version)
        if found is None:
            raise VersionNotFound(f"no version '{version}' of {self.ruleset_id}; versions: {self._known()}")
        return found

    def resolve(self, named: str | date) -> RuleSource:
        """A version id or a date (the version in force that day) -> its RuleSource, or VersionNotFound."""
        if isinstance(named, date):
            return self.source_on(named)
        text = str(named).strip()
        found = self._named(text)
        if found is not None:
            return found
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise VersionNotFound(f"'{text}' is neither a version of {self.ruleset_id} nor a date YYYY-MM-DD; "
                                  f"versions: {self._known()}") from None
        return self.source_on(day)

    def _named(self, version: str) -> RuleSource | None:
        return next((source for source in self.sources if source.version == version), None)

    def _known(self) -> str:
        return ", ".join(s.version for s in self.sources)

    def build(self, source: RuleSource) -> Built:
        if source.version not in self._built:
            built, problems = build_version(source)
            if built is None:
                raise RulesError(problems)
            self._built[source.version] = built
        return self._built[source.version]

    def on(self, day: date) -> Built:
        last = self._last  # cases of a batch mostly fall in the version the one before fell in
        if last is not None and last[0] <= day and (last[1] is None or day <= last[1]):
            return last[2]
        source = self.source_on(day)
        built = self.build(source)
        self._last = (source.effective_from, source.effective_until, built)
        return built

    def evaluate(self, case, *, explain: bool = False, lang: str = "en", on: date | None = None):
        """A case -> its Decision under the version in force on its own date (or on `on`)."""
        built = self.on(on) if on is not None else self.for_case(case)
        return evaluate_case(built.compiled, built.info, case, explain=explain, lang=lang)

    def evaluate_many(self, cases, *, jobs: int | None = None, explain: bool = False, lang: str = "en",
                      on: date | None = None, keep_going: bool = False):
        """Cases -> decisions in input order, on `jobs` processes (default: every core when that is faster than
        deciding here, which it measures on the first cases); see engine/run/batch.py."""
        from .run.batch import evaluate_many
        return evaluate_many(self, cases, jobs=jobs, explain=explain, lang=lang, on=on, keep_going=keep_going)

    def for_case(self, case, source: str | None = None) -> Built:
        """The version in force on a case's own date; when the date is missing or wrong, or no version is
        in force on it, a CaseError with that problem and every other one the latest version finds."""
        at = self.version_path
        if not at:
            raise VersionNotFound(f"the scheme {self.ruleset_id} does not say which case field picks its version "
                                  "(version_field in its scheme.yaml): name the date (--on DATE, or on=...)")
        day = _case_day(case, at)
        problem = None
        if day is None:
            problem = None  # the validator says what is wrong with the date
        else:
            try:
                return self.on(day)
            except VersionNotFound as error:
                problem = CaseProblem(at, str(error))
        found = [problem] if problem else []
        try:
            check_case(self.build(self.sources[-1]).compiled, case, source)
        except CaseError as error:
            found += [p for p in error.problems if not (problem and p.path[:len(at)] == at)]
        if not found:
            found = [CaseProblem(at, "must be a date YYYY-MM-DD")]
        raise CaseError(found, source)

    def __reduce__(self):
        """A book travels to another process as the folder it was opened from and the scheme's id."""
        return (open_rules, (self.rules_dir, self.scheme.id if self.scheme is not None else None))


def folder_digest(folder: Path, with_schemas: bool = True) -> str:
    """A digest of every rule, test and schema file under a folder and of the bundled schemas (and modules),
    by content."""
    import hashlib
    digest = hashlib.sha256()
    bases = (folder, bundled_schemas_dir(), bundled_rules_dir() / "modules") if with_schemas else (folder,)
    for base in bases:
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if path.suffix in (".yaml", ".yml", ".json") and not path.is_symlink():
                file_digest = _file_digest(path)
                if file_digest is None:
                    continue
                digest.update(str(path.relative_to(base)).encode("utf-8", "surrogateescape") + b"\0")
                digest.update(file_digest)
    return digest.hexdigest()


_FILE_DIGESTS: dict[str, tuple[int, int, bytes]] = {}


def _file_digest(path: Path) -> bytes | None:
    """The sha256 of a file's content, read again only when its size or modification time changed."""
    import hashlib
    import stat
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            return None
        known = _FILE_DIGESTS.get(str(path))
        if known is not None and known[:2] == (info.st_mtime_ns, info.st_size):
            return known[2]
        digest = hashlib.sha256(path.read_bytes()).digest()
    except OSError:
        return None
    _FILE_DIGESTS[str(path)] = (info.st_mtime_ns, info.st_size, digest)
    return digest


def _errors(problems) -> bool:
    return any(p.severity == "error" for p in problems)


def open_catalog(rules_dir: Path | str | None = None) -> Catalog:
    """A rules folder -> its catalog of schemes and modules; raises RulesError when a scheme.yaml is wrong."""
    folder = Path(rules_dir) if rules_dir is not None else bundled_rules_dir()
    if not folder.is_dir():
        raise RulesError([Diagnostic("no-rules", f"the rules folder {folder} does not exist", Span(str(folder), 1, 1))])
    key = (str(folder.resolve()), _declarations_digest(folder))
    if key not in _CATALOGS:
        _CATALOGS[key] = read_catalog(folder, bundled_rules_dir(), bundled_schemas_dir())
    catalog, problems = _CATALOGS[key]
    if _errors(problems):
        raise RulesError(_sorted(problems))
    return catalog


_CATALOGS: dict[tuple, tuple] = {}


def _declarations_digest(folder: Path) -> tuple:
    """What a catalog is read from, by content: the scheme.yaml files and the folders of the modules."""
    found = []
    for path in sorted([folder / "scheme.yaml"] + list(folder.glob("*/scheme.yaml"))):
        digest = _file_digest(path) if path.is_file() else None
        found.append((str(path), digest))
    for base in (folder / "modules", bundled_rules_dir() / "modules"):
        found.append((str(base), tuple(sorted(p.name for p in base.iterdir())) if base.is_dir() else ()))
    return tuple(found)


def scheme_sources(spec: SchemeSpec, catalog: Catalog) -> tuple[list[RuleSource], list[Diagnostic], bool]:
    """A scheme's version files and the modules it imports -> its resolved versions, day by day, with every
    problem found; the flag says whether its own timeline was sound (its tests can be checked)."""
    versions, problems = read_versions(spec.folder, "ruleset", spec.root)   # YAML -> RuleFiles, ordered by date
    if _errors(problems):
        return [], problems, False
    sources, resolve_problems = resolve_versions(versions)                  # change files applied in order
    problems = list(problems) + list(resolve_problems)
    if spec.file is not None and sources and sources[0].ruleset != spec.id:
        problems.append(Diagnostic("scheme-id", f"the version files say 'ruleset: {sources[0].ruleset}', but "
                                   f"{spec.file} declares the scheme '{spec.id}'", Span(sources[0].file, 1, 1),
                                   f"write ruleset: {spec.id}"))
    timeline_ok = not _errors(problems)
    modules: dict[str, list[RuleSource]] = {}
    for module_id in dict.fromkeys(str(item.data.get("module")) for source in sources
                                   for item in source.imports.values() if hasattr(item.data, "get")):
        if module_id in catalog.modules:
            modules[module_id], module_problems = module_sources(catalog, module_id)
            problems += module_problems
            if _errors(module_problems):  # its own mistakes are reported; the scheme's versions would only echo them
                return [], problems, False
    composed, compose_problems = compose_timeline(sources, modules, spec.languages,  # modules in, by date
                                                  tuple(catalog.modules))
    return composed, problems + compose_problems, timeline_ok


_MODULES: dict[tuple, tuple[list[RuleSource], list[Diagnostic]]] = {}


def module_sources(catalog: Catalog, module_id: str) -> tuple[list[RuleSource], list[Diagnostic]]:
    """A shared module's resolved versions (read once per content of its folder)."""
    folder, root = catalog.modules[module_id]
    key = (str(folder), folder_digest(folder, with_schemas=False))
    if key not in _MODULES:
        versions, problems = read_versions(folder, "module", root)
        sources, more = resolve_versions(versions) if not _errors(problems) else ([], [])
        problems = list(problems) + list(more)
        if sources and sources[0].ruleset != module_id:
            problems.append(Diagnostic("module-id", f"the module's files say 'module: {sources[0].ruleset}', but its "
                                       f"folder is {module_id}", Span(sources[0].file, 1, 1),
                                       f"write module: {module_id}"))
        _MODULES[key] = ([] if _errors(problems) else sources, problems)
    return _MODULES[key]


def list_schemes(rules_dir: Path | str | None = None) -> list[SchemeSpec]:
    """The schemes of a rules folder (default: the bundled rules), as their scheme.yaml declare them."""
    return list(open_catalog(rules_dir).schemes.values())


def open_rules(rules_dir: Path | str | None = None, scheme: str | None = None) -> RuleBook:
    """A rules folder and a scheme of it (default: kmo-portefeuille, or the folder's only scheme) -> its
    RuleBook; raises RulesError when the files or the timeline are wrong, SchemeNotFound for no such scheme."""
    catalog = open_catalog(rules_dir)
    spec = catalog.scheme(scheme)
    if spec is None:
        raise SchemeNotFound(catalog.unknown(scheme))
    sources, problems, _ = scheme_sources(spec, catalog)
    if _errors(problems) or not sources:
        raise RulesError(_sorted(problems))
    return RuleBook(catalog.root, sources, spec)


def validate_rules(rules_dir: Path | str | None = None, *, more=None, name_versions: bool = False,
                   scheme: str | None = None) -> list[Diagnostic]:
    """Every problem of every scheme of a rules folder (or of the one named) and of the modules they import,
    errors and warnings, without raising.

    A problem shared by several versions is reported once; with `name_versions`, one that holds for only
    some of the versions that include its file says which. `more(folder, sources)` adds the problems of
    what else a scheme's folder holds (its tests): `sources` are its versions, none when they are wrong."""
    folder = Path(rules_dir) if rules_dir is not None else bundled_rules_dir()
    if not folder.is_dir():
        return [Diagnostic("no-rules", f"the rules folder {folder} does not exist", Span(str(folder), 1, 1))]
    catalog, found = read_catalog(folder, bundled_rules_dir(), bundled_schemas_dir())
    specs = list(catalog.schemes.values())
    if scheme is not None:
        specs = [spec for spec in specs if spec.id == scheme]
        if not specs:
            found.append(Diagnostic("scheme-unknown", catalog.unknown(scheme), Span(shown_path(folder), 1, 1)))
    elif not specs and not found:
        found.append(Diagnostic("no-rules", f"no scheme (a folder with scheme.yaml or rule files) in "
                                f"{shown_path(folder)}", Span(shown_path(folder), 1, 1)))
    imported: set[str] = set()
    for spec in specs:
        sources, problems, timeline_ok = scheme_sources(spec, catalog)  # YAML, shapes, the timeline, modules
        found += problems
        imported |= {module for source in sources for module, _ in source.parts[1:]}
        per_version = []
        for source in sources:                                 # parse, names and types of each version
            built, build_problems = build_version(source)
            per_version.append((source.version, build_problems if built is None else list(built.warnings)))
        found += _once(per_version, {source.file: source.version for source in sources} if name_versions else None)
        if more is not None:
            found += more(spec.folder, sources if timeline_ok else [], spec)
    own_modules = {m: where for m, where in catalog.modules.items() if where[1] == catalog.root}
    for module_id, (module_folder, _) in own_modules.items():   # a module no scheme imports is still read
        if module_id not in imported and scheme is None:
            _, problems = module_sources(catalog, module_id)
            found += problems
            if not _errors(problems):
                found.append(Diagnostic("module-unused", f"no scheme imports the module {module_id}",
                                        Span(shown_path(module_folder), 1, 1), severity="warning"))
    unique = {(d.code, d.message, str(d.span)): d for d in found}
    return _sorted(unique.values())


def _once(per_version: list[tuple[str, list[Diagnostic]]], files: dict[str, str] | None) -> list[Diagnostic]:
    """Each version's problems -> each problem once (a mistake inherited by later versions is one mistake);
    with `files` (file -> the version that wrote it), one that holds only for some of the versions that
    include its file says which."""
    every = [version for version, _ in per_version]
    seen: dict[tuple, tuple[Diagnostic, list[str]]] = {}
    for version, problems in per_version:
        for problem in problems:
            key = (problem.code, problem.message, str(problem.span))
            seen.setdefault(key, (problem, []))[1].append(version)
    if files is None:
        return [problem for problem, _ in seen.values()]
    out = []
    for problem, versions in seen.values():
        origin = files.get(problem.span.file) if problem.span else None
        expected = every[every.index(origin):] if origin in every else every
        if versions != expected:
            problem = replace(problem, message=f"{versions_words(versions, every)}: {problem.message}")
        out.append(problem)
    return out


def versions_words(versions: list[str], every: list[str]) -> str:
    """`in version 2024-01-01`, `from version 2024-01-01 on`, `in versions 2016-04-01 to 2019-12-01`, ..."""
    if len(versions) == 1:
        return f"in version {versions[0]}"
    first, last = every.index(versions[0]), every.index(versions[-1])
    if every[first:last + 1] == versions:
        return f"from version {versions[0]} on" if last == len(every) - 1 else \
            f"in versions {versions[0]} to {versions[-1]}"
    return f"in versions {', '.join(versions)}"
