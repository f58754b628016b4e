"""Diagnostics are values: every stage collects them, the boundary raises once.

A rule-file problem carries a `Span`; a case problem carries a JSON path.
`RulesError` and `CaseError` are the only exceptions the public API raises for
bad rules or bad input; the CLI turns them into exit status 2.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .span import Span, format_json_path


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem in a rule file: a stable code, a plain message, where it is."""

    code: str
    message: str
    span: Span | None = field(default=None, compare=False)
    hint: str | None = None
    severity: str = "error"  # or "warning"

    def __str__(self) -> str:
        where = f"{self.span}: " if self.span else ""
        level = "warning: " if self.severity == "warning" else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{where}{level}{self.code}: {self.message}{hint}"


@dataclass(frozen=True, slots=True)
class CaseProblem:
    """One problem in a case: the JSON path of the field and what is wrong."""

    path: tuple[str | int, ...]
    message: str
    texts: tuple[tuple[str, str], ...] = field(default=(), compare=False)  # (language, message) the rules give

    def __str__(self) -> str:
        return f"{format_json_path(self.path)}: {self.message}"

    def message_in(self, lang: str) -> str | None:
        """The message in a language, when the rules wrote it in that language."""
        return dict(self.texts).get(lang)


class KmoRulesError(Exception):
    """Base of the errors the engine raises on purpose."""


class RulesError(KmoRulesError):
    """The rule files are invalid; `diagnostics` lists every problem found."""

    def __init__(self, diagnostics: tuple[Diagnostic, ...] | list[Diagnostic]):
        self.diagnostics = tuple(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))

    def __reduce__(self):
        return (type(self), (self.diagnostics,))

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "error")


class CaseError(KmoRulesError):
    """The case is invalid; `problems` lists every problem with its JSON path."""

    def __init__(self, problems: tuple[CaseProblem, ...] | list[CaseProblem], source: str | None = None):
        self.problems = tuple(problems)
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__("\n".join(prefix + str(p) for p in self.problems))

    def __reduce__(self):
        return (type(self), (self.problems, self.source))


class ArgumentError(KmoRulesError, ValueError):
    """An argument of the Python API has the wrong type or value; the message names it."""


class EngineBug(RuntimeError):
    """A failure of the engine itself, not of the rules or the case: checked rules never fail this way.

    Deliberately not a KmoRulesError, so that no caller mistakes it for bad input."""


class VersionNotFound(KmoRulesError):
    """No ruleset version is in force on the requested date."""


class SchemeNotFound(KmoRulesError, ValueError):
    """No scheme of that id in the rules folder; the message lists the ones there are."""
