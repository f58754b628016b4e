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
from datetime import date, datetime
from pathlib import Path

from .source.case import CaseSchemaError, case_model
from .lang.check import CheckedRuleSet, check_ruleset
from .run.compile import CompiledRuleSet, compile_ruleset
from .core.diagnostics import CaseError, CaseProblem, Diagnostic, RulesError, VersionNotFound
from .run.evaluate import RulesetInfo
from .lang.parsed import parse_ruleset
from .lang.printer import content_hash
from .source.source import RuleSource
from .core.span import Span
from .source.versions import bundled_rules_dir, bundled_schemas_dir, read_versions, resolve_versions, shown_path


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
                       content_hash(checked))
    return Built(source, checked, compiled, info, tuple(problems)), []


VERSION_FIELD = "application_date"  # the case field whose date picks the version


def _case_day(case) -> date | None:
    """The date that picks a case's version, or None when it has none that is valid."""
    value = case.get(VERSION_FIELD) if isinstance(case, Mapping) else None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and len(value) == 10 and value.isascii() and value[:4].isdigit():
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


@dataclass
class RuleBook:
    """Every version of one rules folder, resolved; each built on first use."""

    rules_dir: Path
    sources: list[RuleSource]
    _built: dict[str, Built] = field(default_factory=dict, repr=False)

    @property
    def ruleset_id(self) -> str:
        return self.sources[0].ruleset

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
        return self.build(self.source_on(day))

    def evaluate(self, case, *, explain: bool = False, lang: str = "en", on: date | None = None):
        """A case -> its Decision under the version in force on its own date (or on `on`)."""
        from .run.evaluate import evaluate_case
        built = self.on(on) if on is not None else self.for_case(case)
        return evaluate_case(built.compiled, built.info, case, explain=explain, lang=lang)

    def evaluate_many(self, cases, *, jobs: int | None = None, explain: bool = False, lang: str = "en",
                      on: date | None = None, keep_going: bool = False):
        """Cases -> decisions in input order, on `jobs` processes (default: every core); see engine.batch."""
        from .run.batch import evaluate_many
        return evaluate_many(self, cases, jobs=jobs, explain=explain, lang=lang, on=on, keep_going=keep_going)

    def for_case(self, case, source: str | None = None) -> Built:
        """The version in force on a case's own date; when the date is missing or wrong, or no version is
        in force on it, a CaseError with that problem and every other one the latest version finds."""
        from .run.evaluate import check_case
        day = _case_day(case)
        problem = None
        if day is None:
            problem = None  # the validator says what is wrong with the date
        else:
            try:
                return self.on(day)
            except VersionNotFound as error:
                problem = CaseProblem((VERSION_FIELD,), str(error))
        found = [problem] if problem else []
        try:
            check_case(self.build(self.sources[-1]).compiled, case, source)
        except CaseError as error:
            found += [p for p in error.problems if not (problem and p.path[:1] == (VERSION_FIELD,))]
        if not found:  # pragma: no cover - a date the validator accepts always picks a version or fails above
            found = [CaseProblem((VERSION_FIELD,), "must be a date YYYY-MM-DD")]
        raise CaseError(found, source)

    def __reduce__(self):
        """A book travels to another process as the folder it was opened from."""
        return (open_rules, (self.rules_dir,))


def folder_digest(folder: Path) -> str:
    """A digest of every rule, test and schema file under a folder and of the bundled schemas, by content."""
    import hashlib
    digest = hashlib.sha256()
    for base in (folder, bundled_schemas_dir()):
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


def open_rules(rules_dir: Path | str | None = None) -> RuleBook:
    """A rules folder -> its RuleBook; raises RulesError when the files or the timeline are wrong."""
    folder = Path(rules_dir) if rules_dir is not None else bundled_rules_dir()
    if not folder.is_dir():
        raise RulesError([Diagnostic("no-rules", f"the rules folder {folder} does not exist", Span(str(folder), 1, 1))])
    versions, problems = read_versions(folder)                 # YAML -> RuleFiles, ordered by date
    if any(p.severity == "error" for p in problems):
        raise RulesError(_sorted(problems))
    sources, problems = resolve_versions(versions)             # change files applied in order
    if problems:
        raise RulesError(_sorted(problems))
    return RuleBook(folder, sources)


def validate_rules(rules_dir: Path | str | None = None, *, more=None,
                   name_versions: bool = False) -> list[Diagnostic]:
    """Every problem of every version of a rules folder (errors and warnings), without raising.

    A problem shared by several versions is reported once; with `name_versions`, one that holds for only
    some of the versions that include its file says which. `more(folder, sources)` adds the problems of
    what else the folder holds (its tests): `sources` are the versions, none when the timeline is wrong."""
    folder = Path(rules_dir) if rules_dir is not None else bundled_rules_dir()
    if not folder.is_dir():
        return [Diagnostic("no-rules", f"the rules folder {folder} does not exist", Span(str(folder), 1, 1))]
    versions, problems = read_versions(folder)                 # YAML, shapes, the timeline
    sources, resolve_problems = resolve_versions(versions) if versions else ([], [])
    found = list(problems) + list(resolve_problems)            # changes naming what is not there
    timeline_ok = not any(d.severity == "error" for d in found)
    per_version = []
    for source in sources:                                     # parse, names and types of each version
        built, build_problems = build_version(source)
        per_version.append((source.version, build_problems if built is None else list(built.warnings)))
    found += _once(per_version, {source.file: source.version for source in sources} if name_versions else None)
    if more is not None:
        found += more(folder, sources if timeline_ok else [])
    return _sorted(found)


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
