"""The reference interpreter and the compiled fast path decide alike, to the last digit.

Every test case kept beside the rules and a generated corpus of every year
go through both; each definition's value (rules, conditions, notes,
outputs, eligibility) must be identical, and so must the input checks.

Explanations learn which branches a case took by watching the interpreter
(`usage.branches_taken`); what it reports is checked against the same
outcomes worked out again from the values alone, branch by branch.
"""
from collections import Counter
from pathlib import Path

import pytest

from corpus import generate_cases, year_spec
from engine import CaseError, KmoRulesError
from engine.core import nodes
from engine.lang.builtins import FUNCTIONS
from engine.run.evaluate import check_case
from engine.run.interpret import _Frame, failed_input_checks, interpret, value_of
from engine.run.usage import branch_key, branches_taken
from engine.pipeline import open_rules
from engine.present.testing import day_of, find_test_files, read_tests

ROOT = Path(__file__).resolve().parent.parent
BOOK = open_rules(ROOT / "rules")
OBSERVED = Counter()  # kind of branch node -> how many outcomes were compared


def _children(expr) -> list:
    kinds = nodes.Expr.__args__
    found = []
    for name in expr.__slots__:
        value = getattr(expr, name)
        found.extend(v for v in (value if isinstance(value, tuple) else (value,)) if isinstance(v, kinds))
    return found


def _rederived(checked, case, values) -> dict:
    """How each branch went, worked out again from the definitions' values: for each `if`, `and`, `or` and
    `coalesce` the case reaches (each aggregate item in turn, the last one kept), the outcome that decided it."""
    frame = _Frame(checked, case)
    frame.values = dict(values)
    out = {}

    def reach(expr):
        match expr:
            case nodes.If(condition=condition, then=then, otherwise=otherwise):
                reach(condition)
                out[branch_key(expr)] = held = bool(value_of(frame, condition))
                reach(then if held else otherwise)
            case nodes.And(left=left, right=right) | nodes.Or(left=left, right=right):
                reach(left)
                out[branch_key(expr)] = held = bool(value_of(frame, left))
                if held == isinstance(expr, nodes.And):
                    reach(right)
            case nodes.Call(function=function, args=(first, *rest)) if FUNCTIONS[function].fallback:
                reach(first)
                out[branch_key(expr)] = value_of(frame, first) is None
                for later in rest:
                    reach(later)
            case nodes.Aggregate(variable=variable, source=source, filter=condition, body=body):
                reach(source)
                outer = frame.variables
                for item in value_of(frame, source):
                    frame.variables = {**outer, variable: item}
                    if condition is not None:
                        reach(condition)
                    if condition is None or value_of(frame, condition):
                        reach(body)
                frame.variables = outer
            case _:
                for child in _children(expr):
                    reach(child)

    for section in (checked.rules, checked.conditions, checked.notes, checked.outputs):
        for definition in section.values():
            reach(definition.expr)
    return out


def _observed_alike(built, case, values) -> None:
    taken = branches_taken(built.checked, case)
    assert taken == _rederived(built.checked, case, values)
    nodes_by_key = {}
    for section in (built.checked.rules, built.checked.conditions, built.checked.notes, built.checked.outputs):
        todo = [d.expr for d in section.values()]
        while todo:
            node = todo.pop()
            nodes_by_key[branch_key(node)] = node
            todo.extend(_children(node))
    OBSERVED.update(type(nodes_by_key[key]).__name__ for key in taken)


def _agree(built, raw) -> bool:
    """True when the case was decided by both (and they agree); False when it is not a valid case."""
    case, problems = built.checked.case_model.coerce(raw)
    if problems:
        return False
    assert failed_input_checks(built.checked, case) == list(built.compiled.failed_input_checks(case))
    try:
        check_case(built.compiled, raw)
    except CaseError:
        return False
    fast = dict(zip(built.compiled.slots, built.compiled.decide(case)))
    reference = interpret(built.checked, case)
    assert reference == fast
    assert [type(v) for v in reference.values()] == [type(v) for v in fast.values()]
    _observed_alike(built, case, reference)
    return True


def test_they_agree_on_every_test_case_beside_the_rules():
    decided = 0
    for path in find_test_files(ROOT / "rules"):
        tests, _ = read_tests(path)
        for test in tests:
            day = day_of(test, "application_date")
            try:
                built = BOOK.on(day)
            except (KmoRulesError, TypeError):
                continue
            decided += _agree(built, test.case)
    assert decided > 150
    # the rules decide with if, and, or (coalesce only in messages: test_builtins watches it on every built-in)
    assert all(OBSERVED[kind] > 100 for kind in ("If", "And", "Or")), OBSERVED


@pytest.mark.parametrize("year", range(2016, 2027))
def test_they_agree_on_a_generated_corpus_of_every_year(year):
    from datetime import date
    decided = 0
    for raw in generate_cases(year_spec(400, 1000 + year, year)):
        try:
            built = BOOK.on(date.fromisoformat(raw["application_date"]))
        except KmoRulesError:  # a few cases apply before the first version
            continue
        decided += _agree(built, raw)
    assert decided > 250
