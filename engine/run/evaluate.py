"""Stage 5, evaluate: `CompiledRuleSet` x case -> `Decision` (and its trace, when asked).

The case is checked and converted first (every problem with its JSON path),
then the ruleset's own input checks run (impossible combinations), then the
compiled decision function. Without `explain`, nothing is recorded; with it,
the decision carries a trace: each rule, condition, note and output with its
value, what it read, and its legal source.
"""
from __future__ import annotations

from dataclasses import dataclass, fields as dataclass_fields
from datetime import date
from decimal import localcontext

from ..core import typesys as T
from ..lang.check import Definition
from .compile import ELIGIBLE_SLOT, CompiledRuleSet
from ..core.diagnostics import CaseError, CaseProblem, Diagnostic, EngineBug, RulesError
from ..source.case import Case
from .usage import Usage, branches_taken
from ..core.values import (ENGINE_CONTEXT, NotWholeCent as _NotWholeCent, contract_value as render_value,
                           format_value_in)


@dataclass(frozen=True, slots=True)
class RulesetInfo:
    """Which rules decided: the version, its period and the hash of its resolved content."""

    id: str
    version: str
    effective_from: date
    effective_until: date | None
    sha256: str
    parts: tuple[tuple[str, str], ...] = ()  # (the scheme, its own version), then (each module, its version)

    @property
    def scheme_version(self) -> str:
        return self.parts[0][1] if self.parts else self.version

    @property
    def modules(self) -> dict[str, str]:
        return dict(self.parts[1:])

    def to_dict(self) -> dict:
        return {"id": self.id, "version": self.version, "effective_from": self.effective_from.isoformat(),
                "effective_until": self.effective_until.isoformat() if self.effective_until else None,
                "sha256": self.sha256, "scheme_version": self.scheme_version, "modules": self.modules}


@dataclass(frozen=True, slots=True)
class Reason:
    """A failed condition (reason) or an amount-lowering remark (note)."""

    code: str
    message: str
    source: str

    @staticmethod
    def written(code: str, message: str, source: str) -> dict:
        """A reason or note as the decision JSON holds it (the fast path writes one so without the object)."""
        return {"code": code, "message": message, "source": source}

    def to_dict(self) -> dict:
        return Reason.written(self.code, self.message, self.source)

    def __reduce__(self):  # rebuilt by the constructor: quicker to unpickle than slots set one by one
        return (Reason, (self.code, self.message, self.source))


@dataclass(frozen=True, slots=True)
class TraceStep:
    """One evaluated definition: what it is, its value, what it read, where it comes from."""

    kind: str  # rule, condition, note, output
    name: str
    value: object  # rendered as in the decision (text, bool, number or null)
    type: str
    expression: str
    uses: tuple[tuple[str, object], ...]
    source: str
    label: dict
    changed_in: str
    outcome: str | None = None  # conditions: "passed" / "failed"; notes: "applies" / "does not apply"
    message: str | None = None

    def to_dict(self) -> dict:
        out = {"kind": self.kind, "name": self.name, "value": self.value, "type": self.type,
               "expression": self.expression, "uses": {k: v for k, v in self.uses}, "source": self.source,
               "changed_in": self.changed_in}
        if self.label:
            out["label"] = dict(self.label)
        if self.outcome is not None:
            out["outcome"] = self.outcome
        if self.message is not None:
            out["message"] = self.message
        return out


@dataclass(frozen=True, slots=True)
class Trace:
    """The explanation of a decision, as data: rendered to text by `explain.py`."""

    lang: str
    steps: tuple[TraceStep, ...]

    def to_dict(self) -> dict:
        return {"lang": self.lang, "steps": [s.to_dict() for s in self.steps]}


@dataclass(frozen=True)
class Decision:
    """The contract's decision. Output fields (`subsidy`, `rate`, ...) read as attributes."""

    ruleset: RulesetInfo
    eligible: bool
    outputs: dict  # contract field -> JSON-ready value, in the ruleset's order
    reasons: tuple[Reason, ...]
    notes: tuple[Reason, ...]
    explanation: Trace | None = None

    def __reduce__(self):
        """Rebuilt by the constructor: decisions coming back from a batch's workers unpickle in half the time
        (no state dict, and no lookup of __setstate__ through __getattr__)."""
        fields = self.__dict__
        return (Decision, (fields["ruleset"], fields["eligible"], fields["outputs"], fields["reasons"],
                           fields["notes"], fields["explanation"]))

    def __getattr__(self, name):
        outputs = object.__getattribute__(self, "outputs")
        if name in outputs:
            return outputs[name]
        raise AttributeError(name)

    def to_dict(self) -> dict:
        fields = self.__dict__  # read once each: this is written for every decision of a batch
        reasons, notes, explanation = fields["reasons"], fields["notes"], fields["explanation"]
        return {"ruleset": _ruleset_dict(fields["ruleset"]), "eligible": fields["eligible"], **fields["outputs"],
                "reasons": [r.to_dict() for r in reasons] if reasons else [],
                "notes": [n.to_dict() for n in notes] if notes else [],
                "explanation": explanation.to_dict() if explanation else None}


_RULESET_DICTS: dict[int, tuple[RulesetInfo, dict, tuple]] = {}


def _ruleset_dict(info: RulesetInfo) -> dict:
    """`info.to_dict()`, written once per version and copied for each decision (every decision of a batch
    names the same version; writing its dates again cost a tenth of a decision). The lists and dicts
    inside are copied too: a caller may change one decision's dict, and no other may change with it."""
    known = _RULESET_DICTS.get(id(info))
    if known is None or known[0] is not info:
        written = info.to_dict()
        if len(_RULESET_DICTS) >= 64:
            _RULESET_DICTS.clear()
        copies = tuple((key, _copier(value)) for key, value in written.items() if isinstance(value, (dict, list)))
        known = _RULESET_DICTS[id(info)] = (info, written, copies)
    out = known[1].copy()
    for key, copy in known[2]:
        out[key] = copy()
    return out


def _copier(value):
    """How to copy a list or dict of the ruleset's dict: shallow when it holds only texts and numbers."""
    items = value.values() if isinstance(value, dict) else value
    if all(item is None or isinstance(item, (str, int, float)) for item in items):
        return value.copy
    return lambda: _fresh(value)


def _fresh(value):
    """A copy of a JSON value that shares no list or dict with it."""
    if isinstance(value, dict):
        return {key: _fresh(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_fresh(item) for item in value]
    return value


def _message(compiled: CompiledRuleSet, kind: str, code: str, lang: str, case, values) -> str:
    fn = compiled.messages.get((kind, code, lang))
    if fn is None:
        lang, fn = "en", compiled.messages.get((kind, code, "en"))
    if fn is None:
        return code
    return "".join(text if typ is None else format_value_in(text, typ, lang) for text, typ in fn(case, values))


def _runtime_error(compiled: CompiledRuleSet, error: Exception) -> RulesError:
    """An error inside the compiled function -> a diagnostic at the rule that raised it."""
    owner, definition = _definition_at(compiled, error)
    if isinstance(error, ZeroDivisionError):
        what = "a division by zero"
    elif isinstance(error, KeyError):
        what = f"no table row {error}"
    else:
        what = str(error) or type(error).__name__
    return RulesError([Diagnostic("evaluation", f"{owner or 'a rule'} failed on this case: {what}",
                                  definition.span if definition else None)])


def _the_rules_fault(compiled: CompiledRuleSet, error: Exception) -> bool:
    """A failure the rule's own arithmetic or lookup makes on this case: a division by zero, or a table
    lookup of a key the table lacks. Anything else in checked rules is the engine's fault."""
    if isinstance(error, ZeroDivisionError):  # decimal's DivisionByZero and 0/0 included
        return True
    if isinstance(error, KeyError):
        _, definition = _definition_at(compiled, error)
        return definition is not None and _looks_up_a_table(definition.expr)
    return False


def _looks_up_a_table(expr) -> bool:
    """Whether an expression reads a table row by key (`table[key]`) anywhere inside it."""
    from ..core import nodes
    todo = [expr]
    while todo:
        node = todo.pop()
        if isinstance(node, nodes.Index):
            return True
        todo.extend(nodes.children(node))
    return False


def _out_of_range(error: Exception) -> bool:
    """A date computed past 9999-12-31 or before 0001-01-01 (datetime's own limits)."""
    return isinstance(error, OverflowError) or (isinstance(error, ValueError) and "out of range" in str(error))


def _date_inputs(compiled: CompiledRuleSet, definition) -> list[str]:
    """The case's date fields a definition reads, directly or through the rules it uses."""
    checked = compiled.checked
    seen, found, todo = set(), [], [definition]
    while todo:
        current = todo.pop()
        for used in current.uses:
            if used in seen:
                continue
            seen.add(used)
            if used in checked.rules:
                todo.append(checked.rules[used])
            elif used not in checked.parameters and used not in checked.tables and _input_type(checked, used) == T.DATE:
                found.append(used)
    return sorted(found)


def _input_type(checked, path: str):
    typ = checked.case_model.type
    for part in path.split("."):
        typ = T.strip_optional(typ)
        while isinstance(typ, T.List):
            typ = T.strip_optional(typ.item)
        if not isinstance(typ, T.Record) or typ.field(part) is None:
            return None
        typ = typ.field(part)
    return T.strip_optional(typ)


def _definition_at(compiled: CompiledRuleSet, error: Exception):
    tb = error.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith("<rules "):
            line = tb.tb_lineno
        tb = tb.tb_next
    owner = compiled.line_owner.get(line or -1, "")
    kind, _, name = owner.partition(" ")
    section = {"rule": compiled.checked.rules, "condition": compiled.checked.conditions,
               "note": compiled.checked.notes, "output": compiled.checked.outputs}.get(kind, {})
    return owner, section.get(name)


def _date_out_of_range(compiled: CompiledRuleSet, error: Exception, source: str | None) -> CaseError:
    """A date the rules compute from the case falls outside the calendar: the input's fault, named by its path."""
    owner, definition = _definition_at(compiled, error)
    paths = _date_inputs(compiled, definition) if definition is not None else []
    what = owner or "a date the rules compute"
    message = f"is too far in the future or the past: {what} would fall outside the calendar (0001-01-01 to 9999-12-31)"
    return CaseError([CaseProblem(tuple(path.split(".")), message) for path in paths] or [CaseProblem((), message)],
                     source)


def check_case(compiled: CompiledRuleSet, raw, source: str | None = None) -> Case:
    """Raw case (or a Case) -> a Case this version accepts, or CaseError listing every problem by JSON path.

    The case schema proves the shape; the version's own input checks refuse
    combinations that cannot be (both are input errors, never a decision)."""
    case = compiled.checked.case_model.case(raw, source)
    failed = compiled.failed_input_checks(case.values)
    if failed:
        checks = compiled.checked.input_checks
        raise CaseError([_check_problem(checks[n]) for n in failed], source)
    return case


def _check_problem(definition: Definition) -> CaseProblem:
    """A failed input check: its message in English (or the first language it is written in), with every
    language the rules give it."""
    texts = tuple((lang, template.text) for lang, template in definition.messages.items())
    message = dict(texts).get("en") or (texts[0][1] if texts else definition.name)
    return CaseProblem(tuple(definition.path.split(".")), message, texts)


def _made_decision(ruleset, eligible, outputs, reasons, notes, new=object.__new__, cls=Decision) -> Decision:
    """Decision(ruleset, eligible, outputs, reasons, notes), the fast path's way: the same fields in the
    same instance dict, without the frozen dataclass's __init__ (six object.__setattr__ calls, a
    twentieth of a whole decision). Used only while those are Decision's fields (see _DECISION)."""
    made = new(cls)
    fields = made.__dict__
    fields["ruleset"], fields["eligible"], fields["outputs"] = ruleset, eligible, outputs
    fields["reasons"], fields["notes"], fields["explanation"] = reasons, notes, None
    return made


# How the fast path makes its Decision: as above while the dataclass has exactly these fields and no
# __post_init__, else through its own __init__ (a field added with a default, or a check, is then kept).
_DECISION = _made_decision if tuple(f.name for f in dataclass_fields(Decision)) == (
    "ruleset", "eligible", "outputs", "reasons", "notes", "explanation") and not hasattr(Decision, "__post_init__") \
    and not hasattr(Decision, "__slots__") else Decision


def evaluate_case(compiled: CompiledRuleSet, info: RulesetInfo, raw, *, explain: bool = False, lang: str = "en",
                  source: str | None = None) -> Decision:
    """A raw case -> its Decision under this version (in the engine's own decimal context).

    Without an explanation, the version's fast path decides the case in one
    pass (`compile.py`, in the engine's context too). When it gives up (a
    problem in the case, a failed input check, a rule that fails on it), the
    case is decided again below, the full way, which names what is wrong: so
    every error is the one it always was."""
    fast = compiled.fast
    if fast is not None and not explain and fast.decide is compiled.decide:  # see CompiledRuleSet.fast_path
        made = fast.run(raw, lang, info, _DECISION, Reason)
        if made is not None:
            return made
    with localcontext(ENGINE_CONTEXT):
        case = check_case(compiled, raw, source).values
        try:
            values = compiled.decide(case)
        except Exception as error:  # noqa: BLE001 - sorted below: the case's, the rule's, or the engine's
            if _out_of_range(error):
                raise _date_out_of_range(compiled, error, source) from None
            if _the_rules_fault(compiled, error):
                raise _runtime_error(compiled, error) from None
            owner, _ = _definition_at(compiled, error)
            raise EngineBug(f"{owner or 'the decision'} raised {type(error).__name__}: {error}") from error
        # how each branch went, only for an explanation: the reference interpreter decides again, observed
        taken = branches_taken(compiled.checked, case) if explain else None
        reasons = tuple(Reason(code, _message(compiled, "condition", code, lang, case, values), source)
                        for code, position, source in compiled.condition_slots if values[position])
        notes = tuple(Reason(code, _message(compiled, "note", code, lang, case, values), source)
                      for code, position, source in compiled.note_slots if values[position])
        outputs = {}
        for name, position, write in compiled.output_writers:
            try:
                outputs[name] = write(values[position])
            except _NotWholeCent as error:
                raise RulesError([Diagnostic("rounding", f"output {name} is EUR {error}, not a whole cent: "
                                             "round it with round(...) in the rules",
                                             compiled.checked.outputs[name].span)]) from None
        trace = _trace(compiled, case, values, lang, reasons, notes, taken) if explain else None
        return Decision(info, values[compiled.slot_index[ELIGIBLE_SLOT]], outputs, reasons, notes, trace)


@dataclass(frozen=True, slots=True)
class _StepPlan:
    """What a trace step needs that does not depend on the case, worked out once per version."""

    kind: str
    name: str
    position: int
    type: object
    type_text: str
    expression: str
    source: str
    label: dict
    changed_in: str
    uses: tuple  # (name, "rule", position, type) | (name, "constant", shown) | (name, "input", path parts)


_PLANS: dict[int, tuple[CompiledRuleSet, tuple[_StepPlan, ...], Usage]] = {}


def _plan(compiled: CompiledRuleSet) -> tuple[tuple[_StepPlan, ...], Usage]:
    known = _PLANS.get(id(compiled))
    if known is not None and known[0] is compiled:
        return known[1], known[2]
    checked = compiled.checked
    index = compiled.slot_index
    steps = []
    for kind, section in (("rule", checked.rules), ("condition", checked.conditions), ("note", checked.notes),
                          ("output", checked.outputs)):
        for name, d in section.items():
            uses = []
            for used in d.uses:
                if used in checked.rules:
                    uses.append((used, "rule", index["rule:" + used], checked.rules[used].type))
                elif used in checked.parameters:
                    parameter = checked.parameters[used]
                    uses.append((used, "constant", render_value(parameter.value, parameter.type)))
                elif used in checked.tables:
                    uses.append((used, "constant", f"table {used} ({len(checked.tables[used].rows)} rows)"))
                else:
                    uses.append((used, "input", tuple(used.split("."))))
            steps.append(_StepPlan(kind, name, index[f"{kind}:{name}"], d.type, str(d.type), " ".join(d.text.split()),
                                   d.source, d.label, d.changed_in, tuple(uses)))
    usage = Usage(checked)
    _PLANS[id(compiled)] = (compiled, tuple(steps), usage)
    return tuple(steps), usage


def _input_shown(case, parts: tuple):
    value = case
    for part in parts:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    if isinstance(value, (tuple, dict)):
        return shown_value(value, None)
    return render_value(value, None)


def shown_value(value, typ):
    """A value for an explanation: as the decision writes it, or exactly when it is not a whole cent; a list
    by its length and a record by its fields, as the application's own are shown."""
    if isinstance(value, (tuple, list)):
        return f"{len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, dict):
        return ", ".join(f"{key} {shown_value(item, None)}" for key, item in value.items())
    try:
        return render_value(value, typ)
    except _NotWholeCent:
        return format(value, "f")


def _trace(compiled, case, values, lang, reasons, notes, taken) -> Trace:
    """The explanation: every definition with its value and only what it depended on for this case."""
    plans, usage = _plan(compiled)
    depends = usage.depends(taken, values, compiled.slot_index)
    reason_text = {r.code: r.message for r in reasons}
    note_text = {n.code: n.message for n in notes}
    steps = []
    for plan in plans:
        raw = values[plan.position]
        uses = []
        needed = depends[f"{plan.kind}:{plan.name}"]
        for use in plan.uses:
            if use[0] not in needed:
                continue
            if use[1] == "rule":
                uses.append((use[0], shown_value(values[use[2]], use[3])))
            elif use[1] == "constant":
                uses.append((use[0], use[2]))
            else:
                uses.append((use[0], _input_shown(case, use[2])))
        outcome = message = None
        if plan.kind == "condition":
            outcome = "failed" if raw else "passed"
            message = reason_text.get(plan.name)
        elif plan.kind == "note":
            outcome = "applies" if raw else "does not apply"
            message = note_text.get(plan.name)
        steps.append(TraceStep(plan.kind, plan.name, shown_value(raw, plan.type), plan.type_text, plan.expression, tuple(uses), plan.source,
                               plan.label, plan.changed_in, outcome, message))
    return Trace(lang, tuple(steps))
