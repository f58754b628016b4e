"""Stage 6, explain: `Decision` with its `Trace` -> text a person reads, in English or Dutch.

The trace is data recorded by `evaluate`; this module only renders it: first
the outcome, then each condition (met or not, with its source), then how
every amount was found, as an indented tree from the decision's fields down
to the case's figures and the parameters, each with its legal source.
"""
from __future__ import annotations

from decimal import Decimal

from . import typesys as T
from .check import CheckedRuleSet
from .evaluate import Decision, Trace, TraceStep
from .values import format_money, format_percent

WORDS = {
    "en": {
        "decision": "Decision", "under": "under", "in_force": "in force", "until": "to", "open": "onwards",
        "eligible": "Eligible", "not_eligible": "Not eligible", "subsidy": "subsidy", "of_cost": "of an eligible cost of",
        "rate": "rate", "own": "own contribution", "reasons": "Why not", "notes": "Notes", "conditions": "Conditions",
        "met": "passed", "not_met": "FAILED", "amounts": "How it was worked out", "because": "from",
        "from_case": "from the case", "source": "source", "see_above": "see above", "is": "is",
        "parameter": "parameter", "yes": "yes", "no": "no", "assumption": "assumption", "changed_in": "changed in",
        "deadlines": "Deadlines", "true": "yes", "false": "no", "null": "none", "items": "items",
    },
    "nl": {
        "decision": "Beslissing", "under": "volgens", "in_force": "van kracht", "until": "tot", "open": "en later",
        "eligible": "Komt in aanmerking", "not_eligible": "Komt niet in aanmerking", "subsidy": "subsidie",
        "of_cost": "op een subsidiabele kost van", "rate": "steunpercentage", "own": "eigen bijdrage",
        "reasons": "Waarom niet", "notes": "Opmerkingen", "conditions": "Voorwaarden", "met": "in orde",
        "not_met": "NIET IN ORDE", "amounts": "Hoe het berekend werd", "because": "uit", "from_case": "uit de aanvraag",
        "source": "bron", "see_above": "zie hoger", "is": "is", "parameter": "parameter", "yes": "ja", "no": "nee",
        "assumption": "aanname", "changed_in": "gewijzigd in", "deadlines": "Termijnen", "true": "ja", "false": "nee",
        "null": "geen", "items": "elementen",
    },
}


def _shown(value, typ: str, words: dict) -> str:
    """A rendered trace value (decimal strings, bools, dates) as a person reads it."""
    if value is None:
        return words["null"]
    if isinstance(value, bool):
        return words["true" if value else "false"]
    if typ.startswith("money"):
        try:
            return f"EUR {format_money(Decimal(str(value)))}"
        except ArithmeticError:
            return f"EUR {value}"
    if typ.startswith("percent"):
        try:
            return format_percent(Decimal(str(value)))
        except ArithmeticError:
            return str(value)
    return str(value)


def _type_of_use(name: str, checked: CheckedRuleSet | None) -> str:
    if checked is None:
        return ""
    if name in checked.parameters:
        return str(checked.parameters[name].type)
    if name in checked.rules:
        return str(checked.rules[name].type)
    typ = checked.case_model.type
    for part in name.split("."):
        typ = T.strip_optional(typ)
        if not isinstance(typ, T.Record) or typ.field(part) is None:
            return ""
        typ = typ.field(part)
    return str(T.strip_optional(typ))


class _Renderer:
    def __init__(self, decision: Decision, lang: str, checked: CheckedRuleSet | None):
        self.decision = decision
        self.lang = lang if lang in WORDS else "en"
        self.words = WORDS[self.lang]
        self.checked = checked
        self.trace: Trace = decision.explanation
        self.steps = {(s.kind, s.name): s for s in self.trace.steps} if self.trace else {}
        self.lines: list[str] = []
        self.shown: set[str] = set()

    def label(self, step: TraceStep) -> str:
        return step.label.get(self.lang) or step.label.get("en") or step.name.replace("_", " ")

    def param_label(self, name: str) -> str:
        if self.checked and name in self.checked.parameters:
            label = self.checked.parameters[name].label
            if label:
                return f"{label.get(self.lang) or label.get('en')} ({name})"
        return name

    def source(self, text: str) -> str:
        return f"  [{self.words['source']}: {text}]" if text else ""

    def header(self):
        d, w = self.decision, self.words
        info = d.ruleset
        until = info.effective_until.isoformat() if info.effective_until else w["open"]
        self.lines.append(f"{w['decision']} {w['under']} {info.id} {info.version} "
                          f"({w['in_force']} {info.effective_from.isoformat()} {w['until']} {until})")
        outputs = d.outputs
        if d.eligible:
            rate = f", {w['rate']} {_shown(outputs.get('rate'), 'percent', w)}" if outputs.get("rate") else ""
            self.lines.append(f"{w['eligible']}: {w['subsidy']} EUR {outputs.get('subsidy')} {w['of_cost']} "
                              f"EUR {outputs.get('eligible_cost')}{rate}; {w['own']} EUR {outputs.get('own_contribution')}.")
        else:
            self.lines.append(f"{w['not_eligible']}.")
            self.lines.append(f"{w['reasons']}:")
            for reason in d.reasons:
                self.lines.append(f"  - {reason.message}  [{reason.code}]")
        if d.notes:
            self.lines.append(f"{w['notes']}:")
            for note in d.notes:
                self.lines.append(f"  - {note.message}  [{note.code}]")

    def conditions(self):
        steps = [s for s in self.trace.steps if s.kind == "condition"]
        if not steps:
            return
        self.lines.append("")
        self.lines.append(f"{self.words['conditions']}:")
        for step in steps:
            failed = step.outcome == "failed"
            mark = "x" if failed else "v"
            verdict = self.words["not_met"] if failed else self.words["met"]
            self.lines.append(f"  [{mark}] {step.name.replace('_', ' ')}: {verdict}{self.source(step.source)}")
            self.lines.append(f"        {self.words['because']}: {step.expression}")
            for name, value in step.uses:
                if ("rule", name) in self.steps:
                    inner = self.steps[("rule", name)]
                    self.lines.append(f"        {self.label(inner)} {self.words['is']} {_shown(value, inner.type, self.words)}")
                elif self.checked is None or name not in self.checked.tables:
                    self.lines.append(f"        {name} {self.words['is']} "
                                      f"{_shown(value, _type_of_use(name, self.checked), self.words)}")

    def rule(self, step: TraceStep, depth: int):
        pad = "  " * depth
        value = _shown(step.value, step.type, self.words)
        if step.name in self.shown:
            self.lines.append(f"{pad}{self.label(step)} {self.words['is']} {value} ({self.words['see_above']})")
            return
        self.shown.add(step.name)
        self.lines.append(f"{pad}{self.label(step)} {self.words['is']} {value}{self.source(step.source)}")
        self.lines.append(f"{pad}    = {step.expression}")
        for name, used in step.uses:
            inner = self.steps.get(("rule", name))
            if inner is not None:
                self.rule(inner, depth + 1)
            elif self.checked is not None and name in self.checked.parameters:
                parameter = self.checked.parameters[name]
                self.lines.append(f"{pad}  {self.param_label(name)} {self.words['is']} "
                                  f"{_shown(used, str(parameter.type), self.words)}{self.source(parameter.source)}")
            elif self.checked is not None and name in self.checked.tables:
                continue
            else:
                typ = _type_of_use(name, self.checked)
                shown = used if isinstance(used, str) and used.endswith(("items", "item")) else _shown(used, typ, self.words)
                self.lines.append(f"{pad}  {name} {self.words['is']} {shown} ({self.words['from_case']})")

    def amounts(self):
        self.lines.append("")
        self.lines.append(f"{self.words['amounts']}:")
        for step in self.trace.steps:
            if step.kind != "output":
                continue
            target = self.steps.get(("rule", step.expression))
            if target is not None:
                self.rule(target, 1)
            else:
                self.lines.append(f"  {step.name.replace('_', ' ')} {self.words['is']} "
                                  f"{_shown(step.value, step.type, self.words)}")
                self.lines.append(f"      = {step.expression}")
                for name, _ in step.uses:
                    inner = self.steps.get(("rule", name))
                    if inner is not None:
                        self.rule(inner, 2)

    def render(self) -> str:
        self.header()
        if self.trace is not None:
            self.conditions()
            self.amounts()
        return "\n".join(self.lines) + "\n"


def render_decision(decision: Decision, lang: str = "en", checked: CheckedRuleSet | None = None) -> str:
    """A decision (with its trace, when it has one) as indented text in English or Dutch."""
    return _Renderer(decision, lang, checked).render()
