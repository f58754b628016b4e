"""kmo-rules: the kmo-portefeuille as rules written in data, evaluated exactly.

Public API:

    from engine import load_ruleset
    ruleset = load_ruleset(on=date(2024, 6, 10))   # rules=PATH for another folder
    decision = ruleset.evaluate(case_dict)          # decision.to_dict() is the contract JSON
"""
from __future__ import annotations

from datetime import date
from pathlib import Path

from .diagnostics import CaseError, CaseProblem, Diagnostic, KmoRulesError, RulesError, VersionNotFound
from .evaluate import Decision, Reason, RulesetInfo, Trace, evaluate_case
from .pipeline import Built, RuleBook, open_rules

__all__ = ["load_ruleset", "open_rules", "Ruleset", "RuleBook", "Decision", "Reason", "RulesetInfo", "Trace",
           "CaseError", "CaseProblem", "RulesError", "VersionNotFound", "KmoRulesError", "Diagnostic"]


class Ruleset:
    """One version of the rules, checked and compiled, ready to decide cases."""

    def __init__(self, built: Built):
        self._built = built

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

    def evaluate(self, case: dict, *, explain: bool = False, lang: str = "en") -> Decision:
        """A case (dict as in the contract) -> its Decision; CaseError lists every input problem."""
        if lang not in ("en", "nl"):
            raise ValueError("lang must be 'en' or 'nl'")
        return evaluate_case(self._built.compiled, self._built.info, case, explain=explain, lang=lang)

    def __repr__(self) -> str:
        info = self.info
        return f"<Ruleset {info.id} {info.version} from {info.effective_from}>"


def load_ruleset(on: date | str | None = None, *, rules: str | Path | None = None,
                 version: str | None = None) -> Ruleset:
    """The version in force on a date (default: today), or a version by id, from the bundled or given rules."""
    book = open_rules(rules)
    if version is not None:
        return Ruleset(book.build(book.source_named(version)))
    if isinstance(on, str):
        on = date.fromisoformat(on)
    return Ruleset(book.on(on or date.today()))
