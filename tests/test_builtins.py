"""The table of built-ins (engine/lang/builtins.py) is the one place a function, aggregate or operator is declared.

Its reference in docs/rule-language.md is printed from it; every
implementation gives the type its overload declares; the compiled function
and the reference interpreter agree on every overload; and a function added
to the table alone is checked, compiled and interpreted like the others.

A new built-in: add it to the table, add what it takes to SAMPLES or
OPERANDS below if it is a new kind of value, then run
`python tests/test_builtins.py` to rewrite its reference in the docs.
"""
from __future__ import annotations

import itertools
import json
from datetime import date
from decimal import Decimal, localcontext
from pathlib import Path

import pytest

from engine.core import typesys as T
from engine.core.values import ENGINE_CONTEXT, Duration
from engine.lang.builtins import (ALL, FUNCTIONS, Builtin, KeyPrefixes, Mismatch, Overload, reference_markdown,
                                  typing_of)
from engine.pipeline import open_rules, validate_rules
from engine.run.interpret import interpret
from engine.run.usage import branches_taken
from mini import CASE, write_rules
from test_two_evaluators import _rederived

DOC = Path(__file__).resolve().parent.parent / "docs" / "rule-language.md"
BEGIN, END = "<!-- built-ins: begin -->\n", "<!-- built-ins: end -->"


def _documented(text: str) -> str:
    return text[text.index(BEGIN) + len(BEGIN):text.index(END)]


def test_the_reference_in_the_docs_is_the_table():
    assert _documented(DOC.read_text(encoding="utf-8")) == reference_markdown(), \
        "the built-ins changed: run `python tests/test_builtins.py` to rewrite their section of docs/rule-language.md"


def refresh_the_docs() -> None:
    text = DOC.read_text(encoding="utf-8")
    DOC.write_text(text.replace(BEGIN + _documented(text), BEGIN + reference_markdown()), encoding="utf-8")


# -- each implementation gives the type it declares ------------------------------------------------------------------

KIND = T.Enum("kind", ("alpha", "beta"))
KEYS = T.Table("kinds", KIND, T.Record("row of kinds", ()))
SAMPLES = {  # a type -> values of it a built-in may meet; none is zero, so any may be a divisor
    T.INT: (7, -2), T.DECIMAL: (Decimal("2.5"),), T.PERCENT: (Decimal("0.30"),),
    T.MONEY: (Decimal("100.00"), Decimal("0.05")), T.DATE: (date(2024, 2, 29), date(2023, 1, 31)),
    T.DURATION: (Duration(days=10), Duration(years=1), Duration(months=-1)), T.STRING: ("62.010", "62"),
    T.BOOL: (True, False), KIND: ("alpha",), T.NULL: (None,), T.Optional(T.MONEY): (None, Decimal("3.00")),
    T.Optional(T.STRING): (None, "62"), T.List(T.INT): ((1, 7), ()), T.List(T.STRING): (("62", "alpha"),),
    KEYS: (frozenset({"alpha"}), {"beta": {}}, KeyPrefixes(("al",))),
}


def _conforms(value, typ) -> bool:
    """Whether a runtime value is one of the type (a percentage, an amount and a decimal are all Decimal)."""
    if isinstance(typ, T.Optional):
        return value is None or _conforms(value, typ.inner)
    if isinstance(typ, T.List):
        return isinstance(value, tuple) and all(_conforms(item, typ.item) for item in value)
    if isinstance(typ, T.Enum):
        return type(value) is str and value in typ.members
    if isinstance(typ, T.Table):  # its keys: a tuple of them, or a set or dict of them as `in` sees them
        return isinstance(value, (tuple, frozenset, dict))
    wanted = {T.NULL: type(None), T.BOOL: bool, T.INT: int, T.DECIMAL: Decimal, T.PERCENT: Decimal,
              T.MONEY: Decimal, T.DATE: date, T.DURATION: Duration, T.STRING: str}[typ]
    return type(value) is wanted


def _arities(builtin: Builtin) -> range:
    if builtin.form == "aggregate":
        return range(1, 2)
    fewest, most = builtin.arities
    return range(fewest, (most if most is not None else fewest + 1) + 1)


def _typed(builtin: Builtin, types):
    """Each list of argument types drawn from `types` that the built-in takes: (types, result, overload)."""
    for count in _arities(builtin):
        for combination in itertools.product(types, repeat=count):
            try:
                result, overload = typing_of(builtin, combination)
            except Mismatch:
                continue
            yield combination, result, overload


def _run(builtin: Builtin, overload: Overload, values):
    if builtin.form == "aggregate":
        return [overload.run(chosen) for chosen in ([], list(values) * 2)]
    if builtin.lazy:
        return [overload.run(values[0], *(lambda value=value: value for value in values[1:]))]
    return [overload.run(*values)]


@pytest.mark.parametrize("builtin", ALL, ids=lambda b: f"{b.form} {b.name}")
def test_each_implementation_gives_the_type_it_declares(builtin):
    reached = set()
    with localcontext(ENGINE_CONTEXT):
        for types, result, overload in _typed(builtin, SAMPLES):
            reached.add(id(overload))
            for values in itertools.product(*(SAMPLES[t] for t in types)):
                for got in _run(builtin, overload, values):
                    assert _conforms(got, result), f"{builtin.name} on {values} gave {got!r}, declared {result}"
    assert reached == {id(o) for o in builtin.overloads}, f"{builtin.name}: an overload no argument types reach"


def test_a_message_names_the_argument_a_function_does_not_take():
    with pytest.raises(Mismatch) as raised:
        typing_of(FUNCTIONS["starts_with"], (T.STRING, T.INT))
    assert (raised.value.message, raised.value.argument) == ("starts_with takes string, not int", 1)


# -- the compiled function and the interpreter agree on every overload -----------------------------------------------

TABLES = """\
tables:
  kinds:
    key: kind
    source: test
    columns: {en: string}
    rows:
      alpha: {en: first}
      beta: {en: second}
  codes:
    key_prefix: true
    source: test
    columns: {en: string}
    rows:
      "62": {en: programming}
      "47": {en: retail}
"""
# Each value a built-in is tried on: most are rules (`t_3`), typed by the checker and free of the meaning a literal
# takes from its context; the literals stay literals where the generated code treats them apart.
OPERANDS = ["count", "share", "30 %", "amount", "day", "1 year", "2 months", "'62.010'", "amount > EUR 5", "kind",
            "later", "label", "[1, 7]", "['62', 'alpha']"]
LITERALS = ["null", "10 days", "kinds", "codes"]
BODIES = {"i.amount": T.MONEY, "year(i.day)": T.INT, "i.amount / EUR 1": T.DECIMAL, "30 %": T.PERCENT,
          "i.amount > EUR 5": T.BOOL, "i.day": T.DATE}  # over `i in items`
CASES = [CASE, {**CASE, "kind": "beta", "label": "62.5", "later": "2024-03-01", "items": [], "count": 5,
                "share": 0.5, "amount": "0.05"}]


def _rules(folder: Path, rules: dict[str, str]) -> Path:
    lines = [f"  {name}: {{value: {json.dumps(value)}, source: test}}" for name, value in rules.items()]
    return write_rules(folder, "parameters: {}\n" + TABLES + "rules:\n" + "\n".join(lines) +
                       "\nconditions: {}\noutputs: {}\n")


def _built(folder: Path, rules: dict[str, str]):
    _rules(folder, rules)
    errors = [d for d in validate_rules(folder) if d.severity == "error"]
    assert not errors, errors[:5]
    return open_rules(folder).on(date(2024, 6, 1))


def _written(builtin: Builtin, operands) -> str:
    if builtin.form == "function":
        return f"{builtin.name}({', '.join(operands)})"
    if builtin.form == "prefix":
        return f"{builtin.name}({operands[0]})" if builtin.name == "-" else f"{builtin.name} ({operands[0]})"
    return f"({operands[0]}) {builtin.name} ({operands[1]})"


def _uses(operand_types: dict[str, object]) -> dict[str, str]:
    """An expression for each built-in on each list of operands it takes (one operand per type and literal)."""
    one_each = {}
    for text, typ in operand_types.items():
        one_each.setdefault((typ, text in LITERALS or None), text)
    pool = list(one_each.values())
    found = {}
    for builtin in ALL:
        if builtin.form == "aggregate":
            for body, typ in BODIES.items():
                for tail in ("", " if i.day >= 2024-01-01"):
                    try:
                        typing_of(builtin, (typ,))
                    except Mismatch:
                        continue
                    found[f"b_{len(found)}"] = f"{builtin.name}({body} for i in items{tail})"
            continue
        for count in _arities(builtin):
            for operands in itertools.product(pool, repeat=count):
                try:
                    typing_of(builtin, tuple(operand_types[o] for o in operands))
                except Mismatch:
                    continue
                found[f"b_{len(found)}"] = _written(builtin, operands)
    return found


def test_the_compiled_function_and_the_interpreter_agree_on_every_builtin(tmp_path):
    names = {f"t_{i}": text for i, text in enumerate(OPERANDS + LITERALS)}
    typed = _built(tmp_path / "operands", names).checked
    operand_types = {(text if text in LITERALS else name): typed.rules[name].type for name, text in names.items()}
    uses = _uses(operand_types)
    built = _built(tmp_path / "uses", {**{n: t for n, t in names.items() if t not in LITERALS}, **uses})
    applied = {id(o) for o in built.checked.overloads.values()}
    missing = [f"{b.name} {o}" for b in ALL for o in b.overloads if id(o) not in applied]
    assert not missing, f"no expression reaches {missing}"
    compared = 0
    for raw in CASES:
        case, problems = built.checked.case_model.coerce(raw)
        assert not problems, problems
        reference = interpret(built.checked, case)
        with localcontext(ENGINE_CONTEXT):
            fast = dict(zip(built.compiled.slots, built.compiled.decide(case)))
        seen = []
        observed = interpret(built.checked, case, lambda expr, outcome: seen.append(expr))  # watched, it decides alike
        assert branches_taken(built.checked, case) == _rederived(built.checked, case, reference)
        assert {type(expr).__name__ for expr in seen} >= {"And", "Or", "Call"}  # `if`: test_two_evaluators
        for key, value in reference.items():
            assert (fast[key], type(fast[key])) == (value, type(value)), (key, uses.get(key[5:]), value, fast[key])
            assert (observed[key], type(observed[key])) == (value, type(value)), key
            compared += 1
    assert compared > 400


# -- a function added to the table alone works everywhere ------------------------------------------------------------

def test_a_function_added_to_the_table_is_checked_compiled_and_interpreted(tmp_path, monkeypatch):
    monkeypatch.setitem(FUNCTIONS, "half", Builtin(
        "half", "function", "half(x)", "half an amount", (Overload((T.MONEY,), T.MONEY, lambda amount: amount / 2),)))
    monkeypatch.setitem(FUNCTIONS, "twice", Builtin(
        "twice", "function", "twice(n)", "two times a number",
        (Overload((T.INT,), T.INT, lambda n: 2 * n, "(2 * {0})"),)))
    built = _built(tmp_path / "rules", {"a": "half(amount)", "b": "twice(count) + 1"})
    case, _ = built.checked.case_model.coerce(CASE)
    with localcontext(ENGINE_CONTEXT):
        fast = dict(zip(built.compiled.slots, built.compiled.decide(case)))
    assert fast["rule:a"] == Decimal("50.00") and fast["rule:b"] == 7
    assert interpret(built.checked, case) == fast
    _rules(tmp_path / "wrong", {"a": "half(day)", "b": "twice(count, count)"})
    found = {(d.code, d.message) for d in validate_rules(tmp_path / "wrong") if d.severity == "error"}
    assert found == {("type-call-argument", "half takes money, not date"), ("arity", "twice takes 1 argument, got 2")}


if __name__ == "__main__":
    refresh_the_docs()
