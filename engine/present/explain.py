"""Stage 6, explain: `Decision` with its `Trace` -> text a person reads, in English or Dutch.

The trace is data recorded by `evaluate`; this module only renders it: the
outcome, then each condition (met or not, what it looked at, its source),
then how each amount was found, as an indented tree of sentences from the
decision's fields down to the figures of the application and the
parameters. Every word of the frame comes from `WORDS`; labels, messages and
sources come from the rule files.
"""
from __future__ import annotations

import re

from ..core import typesys as T
from ..lang.check import CheckedRuleSet
from ..run.evaluate import Decision, TraceStep
from ..core.values import format_for_people

WORDS = {
    "en": {
        "decision": "Decision under {ruleset} {version} (in force from {start} to {end})",
        "decision_open": "Decision under {ruleset} {version} (in force from {start})",
        "eligible": "Eligible.",
        "not_eligible": ("Not eligible, for 1 reason:", "Not eligible, for {count} reasons:"), "notes": "Notes:",
        "conditions": "Conditions: {failed} of {count} not met", "all_met": "Conditions: all {count} met",
        "met": "met", "not_met": "NOT MET", "fails_when": "fails when", "applies_when": "applies when",
        "amounts": "How the amounts were found:", "is": "is", "see_above": "see above", "source": "source",
        "from_case": "from the application", "in_decision": "in the decision", "assumption": "assumption",
        "applies": "applies", "does_not_apply": "does not apply",
        "true": "yes", "false": "no", "null": "none",
        "units": {"day": ("day", "days"), "month": ("month", "months"), "year": ("year", "years"),
                  "item": ("item", "items")},
    },
    "nl": {
        "decision": "Beslissing volgens {ruleset} {version} (van kracht van {start} tot en met {end})",
        "decision_open": "Beslissing volgens {ruleset} {version} (van kracht vanaf {start})",
        "eligible": "Komt in aanmerking.",
        "not_eligible": ("Komt niet in aanmerking, om 1 reden:", "Komt niet in aanmerking, om {count} redenen:"),
        "notes": "Opmerkingen:",
        "conditions": "Voorwaarden: {failed} van {count} niet vervuld", "all_met": "Voorwaarden: alle {count} vervuld",
        "met": "vervuld", "not_met": "NIET VERVULD", "fails_when": "niet vervuld als", "applies_when": "geldt als",
        "amounts": "Hoe de bedragen berekend werden:", "is": "is", "see_above": "zie hoger", "source": "bron",
        "from_case": "uit de aanvraag", "in_decision": "in de beslissing", "assumption": "aanname",
        "applies": "geldt", "does_not_apply": "geldt niet",
        "true": "ja", "false": "nee", "null": "geen",
        "units": {"day": ("dag", "dagen"), "month": ("maand", "maanden"), "year": ("jaar", "jaar"),
                  "item": ("element", "elementen")},
    },
}
_OUTPUT = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_UNIT = re.compile(r"(-?\d+) (day|month|year|item)s?\b")


class _Renderer:
    def __init__(self, decision: Decision, lang: str, checked: CheckedRuleSet | None, depends: dict | None,
                 deepest: int | None = None, headline: dict | None = None):
        self.decision = decision
        self.headline = headline or {}  # language -> the scheme's first line for an eligible decision
        self.deepest = deepest  # rules deeper than this are shown on one line, not unfolded
        self.lang = lang if lang in WORDS else "en"
        self.words = WORDS[self.lang]
        self.checked = checked
        self.depends = depends  # "rule:x" -> names the case depended on; None: everything the rule reads
        trace = decision.explanation
        self.steps = {(s.kind, s.name): s for s in trace.steps} if trace else {}
        self.lines: list[str] = []
        self.shown: set[str] = set()

    # -- words and values ------------------------------------------------------
    def value(self, value, typ: str) -> str:
        """A trace value (decimal strings, bools, dates, durations) as a person reads it."""
        w = self.words
        if value is None or isinstance(value, bool) or typ.startswith(("money", "percent")):
            return format_for_people(value, typ, w)

        def unit(match):
            amount = int(match.group(1))
            one, many = w["units"][match.group(2)]
            return f"{amount} {one if abs(amount) == 1 else many}"
        return _UNIT.sub(unit, str(value))

    def label(self, step: TraceStep) -> str:
        return step.label.get(self.lang) or step.label.get("en") or step.name.replace("_", " ")

    def type_of(self, name: str) -> str:
        if self.checked is None:
            return ""
        if name in self.checked.parameters:
            return str(self.checked.parameters[name].type)
        typ = self.checked.case_model.type
        for part in name.split("."):
            typ = T.strip_optional(typ)
            if not isinstance(typ, T.Record) or typ.field(part) is None:
                return ""
            typ = typ.field(part)
        return str(T.strip_optional(typ))

    def uses(self, step: TraceStep) -> list[tuple[str, object]]:
        """What a step read, in the order the expression names it (only what this case needed, when known)."""
        wanted = self.depends.get(f"{step.kind}:{step.name}") if self.depends is not None else None
        uses = [(n, v) for n, v in step.uses if wanted is None or n in wanted]
        if self.checked is not None:
            uses = [(n, v) for n, v in uses if n not in self.checked.tables]

        def position(pair):
            found = re.search(rf"(?<![\w.]){re.escape(pair[0])}(?![\w])", step.expression)
            return found.start() if found else len(step.expression)
        return sorted(uses, key=position)

    def add(self, depth: int, text: str) -> None:
        self.lines.append("  " * depth + text)

    def sourced(self, depth: int, source: str, assumption: str | None = None) -> None:
        if source:
            self.add(depth, f"{self.words['source']}: {source}")
        if assumption:
            self.add(depth, f"{self.words['assumption']}: {assumption}")

    # -- parts -------------------------------------------------------------------
    def header(self) -> None:
        d, w = self.decision, self.words
        info = d.ruleset
        key = "decision" if info.effective_until else "decision_open"
        self.add(0, w[key].format(ruleset=info.id, version=info.version, start=info.effective_from.isoformat(),
                                  end=info.effective_until.isoformat() if info.effective_until else ""))
        if d.eligible:
            self.add(0, self.eligible_line())
        else:
            one, many = w["not_eligible"]
            self.add(0, (one if len(d.reasons) == 1 else many).format(count=len(d.reasons)))
            for reason in d.reasons:
                self.add(1, f"- {reason.message}  [{reason.code}]")
        if d.notes:
            self.add(0, w["notes"])
            for note in d.notes:
                self.add(1, f"- {note.message}  [{note.code}]")

    def eligible_line(self) -> str:
        """The scheme's headline with the decision's outputs in it; without one, each output by its name."""
        outputs = self.decision.outputs
        template = self.headline.get(self.lang) or self.headline.get("en")
        if template:
            return _OUTPUT.sub(lambda m: self.value(outputs.get(m.group(1)), self.output_type(m.group(1)))
                               if m.group(1) in outputs else m.group(0), template)
        shown = "; ".join(f"{name} {self.value(value, self.output_type(name))}" for name, value in outputs.items())
        return f"{self.words['eligible']} {shown}" if shown else self.words["eligible"]

    def output_type(self, name: str) -> str:
        if self.checked is None or name not in self.checked.outputs:
            return ""
        return str(T.strip_optional(self.checked.outputs[name].type))

    def read_values(self, step: TraceStep, depth: int) -> None:
        """The values a condition or note looked at: rules by their label, the rest by name."""
        for name, used in self.uses(step):
            rule = self.steps.get(("rule", name))
            if rule is not None:
                self.add(depth, f"{self.label(rule)} {self.words['is']} {self.value(used, rule.type)}")
            else:
                self.leaf(name, used, depth)

    def verdict(self, step: TraceStep, depth: int) -> None:
        w = self.words
        if step.kind == "condition":
            mark, outcome, when = ("[x]", w["not_met"], w["fails_when"]) if step.outcome == "failed" else (
                "[v]", w["met"], w["fails_when"])
        else:
            mark, outcome, when = ("[!]", w["applies"], w["applies_when"]) if step.outcome == "applies" else (
                "[ ]", w["does_not_apply"], w["applies_when"])
        self.add(depth, f"{mark} {self.label(step)}: {outcome}  [{step.name}]")
        self.add(depth + 3, f"{when} {step.expression}")
        self.read_values(step, depth + 3)
        self.sourced(depth + 3, step.source)

    def conditions(self) -> None:
        steps = [s for s in self.steps.values() if s.kind == "condition"]
        if not steps:
            return
        failed = sum(1 for s in steps if s.outcome == "failed")
        self.add(0, "")
        self.add(0, (self.words["conditions"] if failed else self.words["all_met"]).format(failed=failed,
                                                                                         count=len(steps)))
        for step in steps:
            self.verdict(step, 1)

    def leaf(self, name: str, used, depth: int) -> None:
        """A parameter (label, name, value, source) or a figure of the application."""
        w = self.words
        if self.checked is not None and name in self.checked.parameters:
            parameter = self.checked.parameters[name]
            label = parameter.label.get(self.lang) or parameter.label.get("en")
            shown = f"{label} ({name})" if label else name
            value = self.value(used, str(parameter.type))
            if "parameter:" + name in self.shown:
                self.add(depth, f"{shown} {w['is']} {value} ({w['see_above']})")
                return
            self.shown.add("parameter:" + name)
            self.add(depth, f"{shown} {w['is']} {value}")
            self.sourced(depth + 2, parameter.source, parameter.assumption)
        else:
            self.add(depth, f"{name} {w['is']} {self.value(used, self.type_of(name))} ({w['from_case']})")

    def rule(self, step: TraceStep, depth: int, name: str | None = None) -> None:
        w = self.words
        title = name or self.label(step)
        value = self.value(step.value, step.type)
        key = f"{step.kind}:{step.name}"
        if key in self.shown:
            self.add(depth, f"{title} {w['is']} {value} ({w['see_above']})")
            return
        if self.deepest is not None and depth > self.deepest:
            self.add(depth, f"{title} {w['is']} {value}")
            return
        self.shown.add(key)
        self.add(depth, f"{title} {w['is']} {value}")
        self.add(depth + 2, f"= {step.expression}")
        self.sourced(depth + 2, step.source, self.assumption(step))
        for used_name, used in self.uses(step):
            inner = self.steps.get(("rule", used_name))
            if inner is not None:
                self.rule(inner, depth + 1)
            else:
                self.leaf(used_name, used, depth + 1)

    def assumption(self, step: TraceStep) -> str | None:
        if self.checked is None or step.kind != "rule" or step.name not in self.checked.rules:
            return None
        return self.checked.rules[step.name].assumption

    def output(self, step: TraceStep, depth: int) -> None:
        target = self.steps.get(("rule", step.expression))
        if target is not None:
            self.rule(target, depth)
        else:
            self.rule(step, depth, f"{step.name} ({self.words['in_decision']})")

    def amounts(self) -> None:
        self.add(0, "")
        self.add(0, self.words["amounts"])
        for step in self.steps.values():
            if step.kind == "output":
                self.output(step, 1)

    def render(self) -> str:
        self.header()
        if self.steps:
            self.conditions()
            self.amounts()
        return "\n".join(self.lines) + "\n"


def render_decision(decision: Decision, lang: str = "en", checked: CheckedRuleSet | None = None,
                    depends: dict | None = None, headline: dict | None = None) -> str:
    """A decision (with its trace, when it has one) as indented text in English or Dutch; `headline` is the
    scheme's first line of an eligible decision, per language ({output} parts show its outputs)."""
    return _Renderer(decision, lang, checked, depends, headline=headline).render()


def render_steps(decision: Decision, keys, lang: str = "en", checked: CheckedRuleSet | None = None,
                 depends: dict | None = None, depth: int = 0, levels: int | None = None) -> str:
    """Part of an explanation: the trace below some outputs, conditions or notes, given as (kind, name);
    with `levels`, rules that many levels down are shown by their value only."""
    renderer = _Renderer(decision, lang, checked, depends, None if levels is None else depth + levels - 1)
    for kind, name in keys:
        step = renderer.steps.get((kind, name))
        if step is None:
            continue
        if kind == "output":
            renderer.output(step, depth)
        elif kind in ("condition", "note"):
            renderer.verdict(step, depth)
        else:
            renderer.rule(step, depth)
    return "\n".join(renderer.lines) + ("\n" if renderer.lines else "")
