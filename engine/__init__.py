"""kmo-rules: the kmo-portefeuille as rules written in data, evaluated exactly.

Public API:

    from engine import load_ruleset
    ruleset = load_ruleset(on=date(2024, 6, 10))   # rules=PATH for another folder
    decision = ruleset.evaluate(case_dict)          # decision.to_dict() is the contract JSON

    changes = diff("2019-11-30", "2020-01-01")     # what changed between two versions (ids or dates)
    report = impact("2026-01-31", "2026-02-01", cases)  # which decisions it changes, and why
    replay = verify(case_dict, stored_decision)     # the same decision again, under the version it names?
"""
from __future__ import annotations

from datetime import date
from pathlib import Path

from .core.diagnostics import (ArgumentError, CaseError, CaseProblem, Diagnostic, EngineBug, KmoRulesError, RulesError,
                               SchemeNotFound, VersionNotFound)
from .run.evaluate import Decision, Reason, RulesetInfo, Trace, check_case, evaluate_case
from .source.case import Case
from .pipeline import Built, RuleBook, open_rules as _open_rules
from .core.values import in_engine_context

LANGUAGES = ("en", "nl")

__all__ = ["load_ruleset", "open_rules", "list_schemes", "SchemeNotFound", "diff", "impact", "verify", "Ruleset", "RuleBook", "Case", "Decision", "Reason", "RulesetInfo", "Trace",
           "CaseError", "CaseProblem", "RulesError", "VersionNotFound", "KmoRulesError", "ArgumentError", "EngineBug",
           "Diagnostic"]


def _day(value, name: str) -> date | None:
    """A date argument: a date, an ISO text YYYY-MM-DD, or None."""
    if value is None or (isinstance(value, date) and not hasattr(value, "hour")):
        return value
    if isinstance(value, str):
        try:
            if len(value) == 10:
                return date.fromisoformat(value)
        except ValueError:
            pass
        raise ArgumentError(f"{name} must be a date YYYY-MM-DD, got {value[:40]!r}")
    raise ArgumentError(f"{name} must be a date or a text YYYY-MM-DD, not {type(value).__name__}")


def _folder(value, name: str = "rules") -> Path | None:
    if value is None:
        return None
    if isinstance(value, (str, Path)):
        return Path(value)
    raise ArgumentError(f"{name} must be the path of a rules folder (str or Path), not {type(value).__name__}")


def _text(value, name: str) -> str:
    if isinstance(value, str):
        return value
    raise ArgumentError(f"{name} must be a text, not {type(value).__name__}")


def open_rules(rules: str | Path | None = None, scheme: str | None = None) -> RuleBook:
    """Every version of a scheme (default: the catalog's default scheme) of a rules folder (default: the bundled
    rules), each built the first time it is needed."""
    return in_engine_context(_open_rules)(_folder(rules), _scheme(scheme))


def list_schemes(rules: str | Path | None = None) -> list:
    """The schemes of a rules folder (default: the bundled rules), each as its scheme.yaml declares it: `.id`,
    `.title` (language -> text), `.languages`, `.version_field`, `.folder`, `.decision_schema`."""
    from .pipeline import list_schemes as listed
    return in_engine_context(listed)(_folder(rules))


def _scheme(value) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ArgumentError(f"scheme must be the id of a scheme (a text), not {type(value).__name__}")


class Ruleset:
    """One version of the rules, checked and compiled, ready to decide cases."""

    def __init__(self, built: Built, rules_dir: Path | None = None):
        self._built = built
        self._rules_dir = rules_dir
        self._scheme = built.source.ruleset

    @property
    def info(self) -> RulesetInfo:
        return self._built.info

    @property
    def version(self) -> str:
        return self._built.info.version

    @property
    def checked(self):
        return self._built.checked

    @property
    def warnings(self):
        return self._built.warnings

    def case(self, raw) -> Case:
        """A raw case (a mapping as in the contract) -> a Case this version accepts, or CaseError."""
        return in_engine_context(check_case)(self._built.compiled, raw)

    def evaluate(self, case, *, explain: bool = False, lang: str = "en") -> Decision:
        """A case (a mapping as in the contract) -> its Decision; CaseError lists every input problem."""
        if lang not in LANGUAGES:
            raise ArgumentError(f"lang must be one of {', '.join(LANGUAGES)}, got {lang!r}")
        if not isinstance(explain, bool):
            raise ArgumentError(f"explain must be true or false, not {type(explain).__name__}")
        return evaluate_case(self._built.compiled, self._built.info, case, explain=explain, lang=lang)

    def __repr__(self) -> str:
        info = self.info
        return f"<Ruleset {info.id} {info.version} from {info.effective_from}>"

    def __reduce__(self):
        """A ruleset travels to another process as its folder, version and hash; rebuilt and checked there."""
        return (_rebuilt, (self._rules_dir, self.version, self.info.sha256, self._scheme))


def _rebuilt(rules_dir, version: str, sha256: str, scheme: str | None = None) -> "Ruleset":
    ruleset = load_ruleset(rules=rules_dir, version=version, scheme=scheme)
    if ruleset.info.sha256 != sha256:
        raise RulesError([Diagnostic("ruleset-changed", f"the rules in {rules_dir} changed since version {version} "
                                     f"was sent: sha256 {ruleset.info.sha256[:12]}, not {sha256[:12]}")])
    return ruleset


@in_engine_context
def load_ruleset(on: date | str | None = None, *, rules: str | Path | None = None,
                 version: str | None = None, scheme: str | None = None) -> Ruleset:
    """The version of a scheme (default: the catalog's default) in force on a date (default: today), or a version
    by id, from the bundled or given rules."""
    day = _day(on, "on")
    book = _cached_book(_folder(rules), _scheme(scheme))
    if version is not None:
        return Ruleset(book.build(book.source_named(_text(version, "version"))), book.rules_dir)
    return Ruleset(book.on(day or date.today()), book.rules_dir)


_BOOKS: dict[tuple, RuleBook] = {}


def _cached_book(folder: Path | None, scheme: str | None = None) -> RuleBook:
    """The rules of a folder, opened once per content: calling load_ruleset per case costs a hash, not a load."""
    from .pipeline import folder_digest
    from .source.versions import bundled_rules_dir
    where = (folder or bundled_rules_dir()).resolve()
    key = (str(where), folder_digest(where), scheme)
    book = _BOOKS.get(key)
    if book is None:
        book = open_rules(where if folder is not None else None, scheme)
        if len(_BOOKS) >= 16:
            _BOOKS.pop(next(iter(_BOOKS)))
        _BOOKS[key] = book
    return book


@in_engine_context
def diff(from_version: str | date, to_version: str | date, *, rules: str | Path | None = None,
         scheme: str | None = None):
    """Every change between two versions (each a version id or a date), as a `RulesetDiff` to walk."""
    from .audit.semantic_diff import diff as diff_book
    return diff_book(open_rules(rules, scheme), from_version, to_version)


@in_engine_context
def impact(from_version: str | date, to_version: str | date, cases, *, rules: str | Path | None = None,
           scheme: str | None = None):
    """Cases (dicts, or the path of a folder or JSON-lines file) decided under both versions -> `ImpactReport`."""
    from .audit.impact_analysis import impact as impact_book, read_cases
    if isinstance(cases, (str, Path)):
        cases = read_cases(cases)
    return impact_book(open_rules(rules, scheme), from_version, to_version, cases)


@in_engine_context
def verify(case, decision, rules: str | Path | None = None, scheme: str | None = None):
    """A case and its stored decision (the contract's dict) -> `Replay`: the case decided again under the version
    the decision names, its content hash checked against the stored sha256 and every field compared.

    ArgumentError when the decision is not the contract's shape, VersionNotFound when the rules have no such
    version, CaseError when the case is not valid under it."""
    from .audit.replay import replay
    if scheme is None and isinstance(decision, dict) and isinstance(decision.get("ruleset"), dict):
        named = decision["ruleset"].get("id")
        scheme = named if isinstance(named, str) else None  # the scheme the decision names
    return replay(_cached_book(_folder(rules), _scheme(scheme)), case, decision)
