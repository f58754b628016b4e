"""What the pages show, as data for the templates: form widgets, decisions, comparisons of two decisions.

    widgets(model, values, problems, labels)  the form fields with their values, choices and problems
    decision_view(decided, presentation)      a decision as a person reads it: verdict, amounts, conditions
    compared(first, second)                   two decision views side by side, each difference marked

Every text comes from the rules (labels, messages, sources), the case
schema (descriptions) or the vocabulary files beside the templates;
nothing here names a field of a scheme.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .form import NULL, FormField, form_key, row_numbers


@dataclass(frozen=True)
class Labels:
    """Where a form's words come from: the vocabulary (fields.json), the rules' tables, the page's words."""

    lang: str
    fields: dict    # language -> {name or dotted path -> label}
    values: dict    # language -> {value -> label}
    choices: dict   # dotted path -> {value -> {language -> label}}, from the rules in force
    words: dict     # the page's words in this language

    def field(self, f: FormField) -> str:
        mine = self.fields.get(self.lang, {})
        english = self.fields.get("en", {})
        return mine.get(f.path) or mine.get(f.name) or english.get(f.path) or english.get(f.name) or \
            f.name.replace("_", " ").capitalize()

    def choice(self, f: FormField, value) -> str:
        if value is None:
            return self.words["none"]
        from_rules = self.choices.get(f.path, {}).get(value, {})
        return from_rules.get(self.lang) or self.values.get(self.lang, {}).get(value) or from_rules.get("en") or \
            self.values.get("en", {}).get(value) or str(value).replace("_", " ")


@dataclass(frozen=True)
class Widget:
    """One field of the form as the template draws it."""

    key: str
    label: str
    kind: str
    value: str = ""
    required: bool = False
    options: tuple[tuple[str, str], ...] = ()  # (value, label) of a choice or a yes/no
    placeholder: str = ""
    help: str = ""
    errors: tuple[str, ...] = ()
    children: tuple["Widget", ...] = ()        # of a group
    rows: tuple[tuple[str, tuple["Widget", ...]], ...] = ()  # of repeatable rows: (row key, its widgets)
    template: tuple["Widget", ...] = ()        # an empty row, its number written __N__ (for the script)

    @property
    def filled(self) -> bool:
        """Whether anything in it is given or wrong (an optional group is shown folded otherwise)."""
        return bool(self.value or self.errors or any(c.filled for c in self.children) or self.rows)


def _default_text(f: FormField, labels: Labels) -> str:
    if not f.has_default:
        return ""
    value = f.default
    if f.kind == "bool":
        value = labels.words["yes"] if value else labels.words["no"]
    elif f.kind == "choice":
        value = labels.choice(f, value)
    elif isinstance(value, list):
        return ""
    elif value is None:
        value = labels.words["none"]
    return labels.words["default"].format(value=value)


def _options(f: FormField, labels: Labels) -> tuple[tuple[str, str], ...]:
    w = labels.words
    empty = _default_text(f, labels) or (w["choose"] if f.required else w["not_given"])
    if f.kind == "bool":
        return (("", empty), ("true", w["yes"]), ("false", w["no"]))
    out = [("", empty)]
    for value in f.choices:
        if value is None and f.has_default and f.default is None:
            continue  # leaving it empty already means none
        out.append((NULL if value is None else str(value), labels.choice(f, value)))
    return tuple(out)


def _widget(f: FormField, key: str, values: dict, problems: dict, labels: Labels, used: set) -> Widget:
    label = labels.field(f)
    errors = tuple(problems.get(key, ()))
    if errors:
        used.add(key)
    if f.kind == "group":
        return Widget(key, label, "group", required=f.required, help=f.description if labels.lang == "en" else "",
                      errors=errors,
                      children=tuple(_widget(c, f"{key}.{c.name}", values, problems, labels, used)
                                     for c in f.children))
    if f.kind == "rows":
        rows = tuple((f"{key}.{n}", tuple(_widget(c, f"{key}.{n}.{c.name}", values, problems, labels, used)
                                          for c in f.children)) for n in row_numbers(values, key))
        template = tuple(_widget(c, f"{key}.__N__.{c.name}", {}, {}, labels, set()) for c in f.children)
        return Widget(key, label, "rows", required=f.required, help=f.description if labels.lang == "en" else "",
                      errors=errors, rows=rows,
                      template=template)
    options = _options(f, labels) if f.kind in ("choice", "bool") else ()
    placeholder = _default_text(f, labels) if f.kind not in ("choice", "bool") else ""
    hint = f.hint or (labels.words["amount_hint"] if f.kind == "money" else "")
    return Widget(key, label, f.kind, str(values.get(key, "")), f.required, options, placeholder or hint,
                  f.description if labels.lang == "en" else "", errors)  # the schema speaks English


def widgets(model: tuple[FormField, ...], values: dict, problems: list, labels: Labels
            ) -> tuple[tuple[Widget, ...], tuple[str, ...]]:
    """The form's widgets, and the problems that belong to no field (shown above the form)."""
    by_key: dict[str, list[str]] = {}
    for item in problems:
        by_key.setdefault(form_key(item.path), []).append(item.message)
    used: set = set()
    out = tuple(_widget(f, f.name, values, by_key, labels, used) for f in model)
    loose = tuple(f"{item.path}: {item.message}" for item in problems if form_key(item.path) not in used)
    return out, loose


# -- decisions ------------------------------------------------------------------------

@dataclass(frozen=True)
class Amount:
    name: str
    label: str
    value: object   # as in the decision
    shown: str      # as a person reads it
    changed: bool = False


@dataclass(frozen=True)
class Verdict:
    """A condition met or not, or a note that applies, with its source."""

    code: str
    label: str
    met: bool
    source: str
    expression: str = ""
    message: str = ""
    changed: bool = False


@dataclass(frozen=True)
class DecisionView:
    version: object          # backend Version
    eligible: bool
    amounts: tuple[Amount, ...]
    conditions: tuple[Verdict, ...]
    notes: tuple[Verdict, ...]
    reasons: tuple[Verdict, ...]
    explanation: str
    decision: dict = field(repr=False, default_factory=dict)
    on: object = None         # the date whose rules decided, when not the case's own
    eligible_changed: bool = False


def _label(texts: dict, lang: str, fallback: str) -> str:
    return (texts or {}).get(lang) or (texts or {}).get("en") or fallback.replace("_", " ")


def decision_view(decided, presentation, lang: str, people_value, explanation: str, on=None,
                  values: dict | None = None) -> DecisionView:
    """A backend Decided (explained) -> what the result panel shows; `values` names the values of a choice
    (small -> klein) in this language."""
    data = decided.decision
    words = values or {}

    def shown(value, type_text: str) -> str:
        if isinstance(value, str) and type_text.startswith("one of") and value in words:
            return words[value]
        return people_value(value, type_text, lang)
    amounts = tuple(Amount(o.name, _label(o.label, lang, o.name), decided.outputs.get(o.name),
                           shown(decided.outputs.get(o.name), o.type))
                    for o in presentation.outputs)
    steps = (data.get("explanation") or {}).get("steps") or []
    messages = {r["code"]: r for r in data.get("reasons") or []}
    conditions = tuple(Verdict(s["name"], _label(s.get("label"), lang, s["name"]), s.get("outcome") != "failed",
                               s.get("source", ""), s.get("expression", ""),
                               messages.get(s["name"], {}).get("message", ""))
                       for s in steps if s.get("kind") == "condition")
    note_labels = {s["name"]: s.get("label") for s in steps if s.get("kind") == "note"}
    notes = tuple(Verdict(n["code"], _label(note_labels.get(n["code"]), lang, n["code"]), True, n.get("source", ""),
                          message=n.get("message", "")) for n in data.get("notes") or [])
    reasons = tuple(Verdict(r["code"], r["code"], False, r.get("source", ""), message=r.get("message", ""))
                    for r in data.get("reasons") or [])
    return DecisionView(presentation.version, decided.eligible, amounts, conditions, notes, reasons, explanation,
                        data, on)


def compared(first: DecisionView, second: DecisionView) -> tuple[DecisionView, DecisionView]:
    """Two views of one case under two versions, each amount, condition and note that differs marked."""
    def marked(view: DecisionView, other: DecisionView) -> DecisionView:
        theirs = {a.name: a.value for a in other.amounts}
        outcomes = {c.code: c.met for c in other.conditions}
        codes = {n.code for n in other.notes}
        return DecisionView(
            view.version, view.eligible,
            tuple(Amount(a.name, a.label, a.value, a.shown, a.name not in theirs or theirs[a.name] != a.value)
                  for a in view.amounts),
            tuple(Verdict(c.code, c.label, c.met, c.source, c.expression, c.message,
                          c.code not in outcomes or outcomes[c.code] != c.met) for c in view.conditions),
            tuple(Verdict(n.code, n.label, n.met, n.source, n.expression, n.message, n.code not in codes)
                  for n in view.notes),
            view.reasons, view.explanation, view.decision, view.on, view.eligible != other.eligible)
    return marked(first, second), marked(second, first)
