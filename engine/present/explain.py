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
from decimal import Decimal

from ..core import typesys as T
from ..lang.check import CheckedRuleSet
from ..lang.resolve import input_type
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
        "not_given": "not given", "months": ("January", "February", "March", "April", "May", "June", "July",
                                             "August", "September", "October", "November", "December"),
        "decision_person": "Decision under the rules of {title} in force from {start} to {end} (version {version})",
        "decision_person_open": "Decision under the rules of {title} in force from {start} (version {version})",
        "thousands": ",", "decimal": ".",
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
        "not_given": "niet opgegeven", "months": ("januari", "februari", "maart", "april", "mei", "juni", "juli",
                                                  "augustus", "september", "oktober", "november", "december"),
        "decision_person": "Beslissing volgens de regels van {title} van kracht van {start} tot en met {end} "
                           "(versie {version})",
        "decision_person_open": "Beslissing volgens de regels van {title} van kracht vanaf {start} (versie {version})",
        "thousands": ".", "decimal": ",",
    },
}
_OUTPUT = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_DAY = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_AMOUNT = re.compile(r"(-?)EUR (\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?")
_ITEMS = re.compile(r"^(\d+) items?$")
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

    def sourced(self, depth: int, source: str, assumption=None) -> None:
        if source:
            self.add(depth, f"{self.words['source']}: {source}")
        if isinstance(assumption, dict):  # written per language
            assumption = assumption.get(self.lang) or assumption.get("en")
        if assumption:
            self.add(depth, f"{self.words['assumption']}: {assumption}")

    # -- parts -------------------------------------------------------------------
    FULL = True  # the analyst's view: expressions and codes shown; `_ForPeople` leaves them out

    def title_line(self, info) -> str:
        key = "decision" if info.effective_until else "decision_open"
        return self.words[key].format(ruleset=info.id, version=info.version, start=info.effective_from.isoformat(),
                                      end=info.effective_until.isoformat() if info.effective_until else "")

    def remark(self, reason) -> str:
        """A reason or a note as the header lists it."""
        return f"- {reason.message}  [{reason.code}]"

    def header(self) -> None:
        d, w = self.decision, self.words
        self.add(0, self.title_line(d.ruleset))
        if d.eligible:
            self.add(0, self.eligible_line())
        else:
            one, many = w["not_eligible"]
            self.add(0, (one if len(d.reasons) == 1 else many).format(count=len(d.reasons)))
            for reason in d.reasons:
                self.add(1, self.remark(reason))
        if d.notes:
            self.add(0, w["notes"])
            for note in d.notes:
                self.add(1, self.remark(note))

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
                self.add(depth, self.said(self.label(rule), self.value(used, rule.type)))
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
        self.add(depth, f"{mark} {self.label(step)}: {outcome}" + (f"  [{step.name}]" if self.FULL else ""))
        if self.FULL:
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

    # -- how one line says what a thing is: the analyst's wording; `_ForPeople` words it for a person
    def said(self, title: str, value: str) -> str:
        return f"{title} {self.words['is']} {value}"

    def parameter_title(self, label: str | None, name: str) -> str:
        return f"{label} ({name})" if label else name

    def input_line(self, name: str, used) -> str:
        return f"{name} {self.words['is']} {self.value(used, self.type_of(name))} ({self.words['from_case']})"

    def rule_value(self, step: TraceStep) -> str:
        return self.value(step.value, step.type)

    def formula(self, step: TraceStep, depth: int) -> None:
        if self.FULL:
            self.add(depth, f"= {step.expression}")

    def leaf(self, name: str, used, depth: int) -> None:
        """A parameter (label, name, value, source) or a figure of the application."""
        if self.checked is not None and name in self.checked.parameters:
            parameter = self.checked.parameters[name]
            label = parameter.label.get(self.lang) or parameter.label.get("en")
            line = self.said(self.parameter_title(label, name), self.value(used, str(parameter.type)))
            if "parameter:" + name in self.shown:
                self.add(depth, f"{line} ({self.words['see_above']})")
                return
            self.shown.add("parameter:" + name)
            self.add(depth, line)
            self.sourced(depth + 2, parameter.source, parameter.assumption)
        else:
            self.add(depth, self.input_line(name, used))

    def rule(self, step: TraceStep, depth: int, name: str | None = None) -> None:
        line = self.said(name or self.label(step), self.rule_value(step))
        key = f"{step.kind}:{step.name}"
        if key in self.shown:
            self.add(depth, f"{line} ({self.words['see_above']})")
            return
        if self.deepest is not None and depth > self.deepest:
            self.add(depth, line)
            return
        self.shown.add(key)
        self.add(depth, line)
        self.formula(step, depth + 2)
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
            self.rule(step, depth, self.output_title(step.name))

    def output_title(self, name: str) -> str:
        """A field of the decision that no rule of its own gives."""
        return f"{name} ({self.words['in_decision']})"

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


class _ForPeople(_Renderer):
    """The explanation a person reads: labels instead of names and expressions, values as people write them
    (EUR 2.100.000,00 in Dutch, 10 juni 2024), no codes beside what was met. The analyst's view, with every
    expression, code and path, is `_Renderer` itself (`--full`)."""

    def __init__(self, decision, lang, checked, depends, scheme, headline=None):
        super().__init__(decision, lang, checked, depends, headline=headline)
        self.scheme = scheme

    # -- values as people write them ---------------------------------------------------------
    def number(self, text: str) -> str:
        """1057.50 -> 1,057.50 (en) or 1.057,50 (nl)."""
        whole, _, fraction = text.lstrip("-").partition(".")
        grouped = f"{int(whole):,}".replace(",", self.words["thousands"]) if whole.isdigit() else whole
        return ("-" if text.startswith("-") else "") + grouped + (self.words["decimal"] + fraction if fraction else "")

    def day(self, match) -> str:
        year, month, day = int(match.group(1)), int(match.group(2)), int(match.group(3))
        if not 1 <= month <= 12:
            return match.group(0)
        return f"{day} {self.words['months'][month - 1]} {year}"

    def people(self, text: str) -> str:
        text = _DAY.sub(self.day, text)
        text = _AMOUNT.sub(lambda m: f"{m.group(1)}EUR "
                                     f"{self.number(m.group(2).replace(',', '') + ('.' + m.group(3) if m.group(3) else ''))}",
                           text)
        return text

    def value(self, value, typ: str) -> str:
        if isinstance(value, str) and self.scheme is not None and value in self.scheme.values:
            labels = self.scheme.values[value]
            return labels.get(self.lang) or labels.get("en") or value
        if isinstance(value, str) and _ITEMS.match(value):
            count = _ITEMS.match(value).group(1)
            return self.words["null"] if count == "0" else count
        shown = super().value(value, typ)
        if typ.startswith(("decimal", "int")) and isinstance(value, str) and shown == value:
            shown = self.number(format(Decimal(value).normalize(), "f")) if _NUMBER.match(value) else shown
        return self.people(shown)

    def text(self, text: str) -> str:
        """A source or a message: its words as the scheme writes them in this language, dates and amounts too."""
        for written, said in (self.scheme.terms.get(self.lang, ()) if self.scheme is not None else ()):
            before = r"(?<!\w)" if written[:1].isalnum() else ""
            after = r"(?!\w)" if written[-1:].isalnum() else ""
            text = re.sub(before + re.escape(written) + after, said.replace("\\", "\\\\"), text)
        return self.people(text)

    def field_label(self, name: str) -> str:
        """A field of the case (or of the decision) as the scheme's vocabulary names it, capitalised."""
        labels = self.scheme.fields.get(name) if self.scheme is not None else None
        text = (labels.get(self.lang) or labels.get("en") or name) if labels else name
        return text[:1].upper() + text[1:]

    def output_title(self, name: str) -> str:
        return self.field_label(name)

    def sourced(self, depth: int, source: str, assumption=None) -> None:
        if source:
            self.add(depth, f"{self.words['source']}: {self.text(source)}")
        if isinstance(assumption, dict):
            assumption = assumption.get(self.lang) or assumption.get("en")
        if assumption:
            self.add(depth, f"{self.words['assumption']}: {assumption}")

    # -- the parts ---------------------------------------------------------------------------
    FULL = False

    def title_line(self, info) -> str:
        title = self.scheme.title_in(self.lang) if self.scheme is not None else info.id
        key = "decision_person" if info.effective_until else "decision_person_open"
        end = self.people(info.effective_until.isoformat()) if info.effective_until else ""
        return self.words[key].format(title=title, version=info.version,
                                      start=self.people(info.effective_from.isoformat()), end=end)

    def remark(self, reason) -> str:
        return f"- {self.people(reason.message)}"

    def said(self, title: str, value: str) -> str:
        return f"{title}: {value}"  # a colon agrees with any subject, one or many

    def parameter_title(self, label: str | None, name: str) -> str:
        return label or name

    def as_percentage(self, path: str) -> bool:
        return self.scheme is not None and path in self.scheme.percentages

    def share(self, value) -> str:
        """A fraction of the case (0.3) as a percentage (30 %), as people read a share."""
        return self.people_number(format_for_people(str(Decimal(str(value)) * 1), "percent"))

    def people_number(self, text: str) -> str:
        return text.replace(".", self.words["decimal"])

    def input_line(self, name: str, used) -> str:
        if used is not None and self.as_percentage(name):
            return f"{self.field_label(name)} ({self.words['from_case']}): {self.share(used)}"
        shown = self.words["not_given"] if used is None else \
            self.record_text(used, self.case_type(name), name) or self.value(used, self.type_of(name))
        return f"{self.field_label(name)} ({self.words['from_case']}): {shown}"

    def rule_value(self, step: TraceStep) -> str:
        if step.value is not None and self.as_percentage(step.expression):  # a module's binding of such a field
            return self.share(step.value)
        return self.record(step) or self.value(step.value, step.type)

    def record(self, step: TraceStep) -> str | None:
        """A rule whose value is a record (the figures of a period): each field by its label, as people write it."""
        rule = self.checked.rules.get(step.name) if self.checked is not None and step.kind == "rule" else None
        typ = T.strip_optional(rule.type) if rule is not None else None
        return self.record_text(step.value, typ, step.expression)

    def record_text(self, value, typ, path: str) -> str | None:
        """`a 8, b 12.50` (a record at a case path, as the trace shows it) -> its fields by their labels."""
        if not isinstance(typ, T.Record) or not isinstance(value, str) or not value:
            return None
        given = dict(part.split(" ", 1) for part in value.split(", ") if " " in part)
        shown = []
        for name, field_type in typ.fields:
            if name in given:
                label = self.field_label(f"{path}.{name}")
                shown.append(f"{label[:1].lower() + label[1:]} {self.value(given[name], str(T.strip_optional(field_type)))}")
        return ", ".join(shown) or None

    def case_type(self, name: str):
        return input_type(self.checked.case_model.type, name) if self.checked is not None else None



_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def render_decision(decision: Decision, lang: str = "en", checked: CheckedRuleSet | None = None,
                    depends: dict | None = None, headline: dict | None = None, *, scheme=None,
                    full: bool = True) -> str:
    """A decision (with its trace, when it has one) as indented text in English or Dutch; `headline` is the
    scheme's first line of an eligible decision, per language ({output} parts show its outputs). With `full`
    (the analyst's view) every expression, code and path is shown; without, the text is for a person, in the
    words of the `scheme` (its vocabulary)."""
    if headline is None and scheme is not None:
        headline = {lang: text.text for lang, text in scheme.headline.items()}
    if not full:
        return _ForPeople(decision, lang, checked, depends, scheme, headline).render()
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
