"""Generated and mutated cases through the API, the CLI and `--explain`: the contract holds on every one.

Each example is a realistic case from the synthetic corpus (any year, any
seed), then up to four mutations: a field set to a hostile value (huge or
tiny numbers, other scripts' digits, -0, text, lists, nulls), a field
removed, or an unknown field added. Whatever comes in, the engine answers
with a decision or with its own input errors, never anything else; the
decision is the same through every door (and the reference interpreter
agrees with the compiled function on it); and the amounts obey the contract.

CI runs a fixed number of derandomised examples; a longer campaign:
KMO_RULES_PROPERTY_EXAMPLES=20000 pytest tests/test_properties.py
"""
from __future__ import annotations

import copy
import io
import json
import os
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus import generate_cases, year_spec
from engine import CaseError, KmoRulesError, RulesError, open_rules
from engine.cli import run
from engine.run.evaluate import evaluate_case
from engine.run.interpret import interpret

EXAMPLES = int(os.environ.get("KMO_RULES_PROPERTY_EXAMPLES", "120"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 1000,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

BOOK = open_rules()

HOSTILE_NUMBERS = st.sampled_from([
    0, -1, 1, 49, 50, 250, 10**30, 10**31, -(10**40), 10**4000, Decimal("-0"), Decimal("0.25"),
    Decimal("49.99999999999999999999999999999"), Decimal("1e999999999"), Decimal("1e-999999999"),
    Decimal("1E+30"), Decimal("1234567.89"), Decimal("0.001"), Decimal("NaN"), Decimal("Infinity"),
    1.5, 1e308, float("nan"), "-0", "12.5", "12", "1e5", "١٠٠", "\uff10\uff11.130", "100\n", " 100", "",
    True, None, [], {}, "x" * 20000,
])
HOSTILE_TEXT = st.one_of(st.text(max_size=12), st.sampled_from([
    "01.130", "62.010", "\uff10\uff11.130", "٠١.١٣٠", "62.010\n", "bvba", "bv", "vzw", "9999-12-31",
    "0001-01-01", "2024-02-30", "2024-06-10", "2024-6-1", "0003-01-01",
]))
HOSTILE_DATES = st.one_of(st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)).map(date.isoformat),
                          HOSTILE_TEXT)
VALUES = st.one_of(HOSTILE_NUMBERS, HOSTILE_TEXT, HOSTILE_DATES,
                   st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-10, max_value=10**7))


def _leaves(value, path=()):
    """Every place in a case a mutation may touch."""
    yield path
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _leaves(inner, path + (key,))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _leaves(inner, path + (index,))


def _mutate(case: dict, choice: int, kind: int, value) -> None:
    places = [p for p in _leaves(case) if p]
    if not places:
        return
    path = places[choice % len(places)]
    parent = case
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if kind == 0 and isinstance(parent, dict):
        del parent[last]
    elif kind == 1 and isinstance(parent, dict):
        parent[f"{last}_extra"] = value
    else:
        parent[last] = value


@st.composite
def cases(draw):
    year = draw(st.integers(2016, 2026))
    seed = draw(st.integers(0, 10**6))
    case = generate_cases(year_spec(1, seed, year))[0]
    for _ in range(draw(st.integers(0, 4))):
        _mutate(case, draw(st.integers(0, 10**4)), draw(st.integers(0, 5)), draw(VALUES))
    return case


def _through_api(case):
    """The decision as the contract's JSON, or the input problems; anything else fails the test."""
    try:
        day = date.fromisoformat(case["application_date"])
    except (KeyError, TypeError, ValueError):
        day = None
    try:
        ruleset = BOOK.on(day) if day else BOOK.on(date(2024, 6, 10))
        decision = evaluate_case(ruleset.compiled, ruleset.info, copy.deepcopy(case))
        explained = evaluate_case(ruleset.compiled, ruleset.info, copy.deepcopy(case), explain=True, lang="nl")
        values = ruleset.checked.case_model.case(copy.deepcopy(case)).values  # both evaluators agree
        assert interpret(ruleset.checked, values) == dict(zip(ruleset.compiled.slots, ruleset.compiled.decide(values)))
    except RulesError as error:  # the rules are valid: no valid case may make them fail
        raise AssertionError(f"a rule failed on a case: {error}") from None
    except KmoRulesError as error:
        return None, error, None
    return decision, None, explained


def _money(text) -> Decimal:
    return Decimal(text)


def _check_contract(decision, explained) -> None:
    out = decision.to_dict()
    assert json.loads(json.dumps(out)) == out  # JSON-ready, numbers as decimal strings
    assert explained.to_dict() | {"explanation": None, "reasons": out["reasons"], "notes": out["notes"]} == \
        out | {"explanation": None}  # the same decision with an explanation
    assert [r.code for r in explained.reasons] == [r["code"] for r in out["reasons"]]
    if not decision.eligible:
        assert out["reasons"], "an ineligible decision names its reasons"
        return
    subsidy, cost, own = (_money(out[k]) for k in ("subsidy", "eligible_cost", "own_contribution"))
    assert own + subsidy == cost
    assert Decimal(0) <= subsidy <= cost
    assert subsidy == subsidy.quantize(Decimal("0.01"))
    rules = {s.name: s.value for s in explained.explanation.steps if s.kind == "rule"}
    for ceiling in ("annual_ceiling", "annual_ceiling_left", "de_minimis_left"):
        if rules.get(ceiling) is not None:
            assert subsidy <= _money(rules[ceiling]), f"subsidy {subsidy} above {ceiling} {rules[ceiling]}"


def _json(value) -> str:
    """A case as one line of JSON, numbers as written (1E+999999999 stays short)."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_json(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _through_cli(case) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = run(["evaluate", "-"], io.StringIO(_json(case)), out, err)
    return status, out.getvalue(), err.getvalue()


@SETTINGS
@given(cases())
def test_every_case_gets_a_decision_or_its_input_errors_and_the_contract_holds(case):
    decision, error, explained = _through_api(case)
    if decision is not None:
        _check_contract(decision, explained)


@settings(max_examples=max(EXAMPLES // 3, 20), deadline=None, derandomize=EXAMPLES <= 1000,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cases())
def test_the_cli_decides_as_the_api_does(case):
    from engine.source.case import CaseTextError, parse_case_text
    try:  # the API is given what the JSON text holds (JSON reads -0 as 0, 1.0E+3 as a decimal)
        as_read = parse_case_text(_json(case))
    except CaseTextError:
        as_read = case
    decision, error, _ = _through_api(as_read)
    status, out, err = _through_cli(case)
    assert "Traceback" not in err
    if decision is not None:
        assert (status, err) == (0, "")
        assert json.loads(out) == json.loads(json.dumps(decision.to_dict()))
    else:
        assert status == 2 and out == "" and err.strip()
        if isinstance(error, CaseError):
            for problem in error.problems:
                assert str(problem) in err


@SETTINGS
@given(st.integers(0, 10**6), st.integers(2016, 2026),
       st.decimals(min_value=Decimal("0.01"), max_value=Decimal(100_000), places=2))
def test_a_higher_fee_never_lowers_the_subsidy(seed, year, more):
    case = generate_cases(year_spec(1, seed, year))[0]
    decision, _, _ = _through_api(case)
    if decision is None or not decision.eligible:
        return
    dearer = copy.deepcopy(case)
    dearer["project"]["costs"]["fee"] = Decimal(str(dearer["project"]["costs"]["fee"])) + more
    again, _, _ = _through_api(dearer)
    assert again is not None
    if again.eligible:
        assert _money(again.subsidy) >= _money(decision.subsidy)


@pytest.mark.parametrize("prec, trap", [(6, True), (3, False), (100, False)])
def test_a_callers_decimal_context_changes_nothing(prec, trap):
    import decimal
    cases_2024 = generate_cases(year_spec(40, 11, 2024))
    ruleset = BOOK.on(date(2024, 6, 10))
    expected = [evaluate_case(ruleset.compiled, ruleset.info, c, explain=True).to_dict() for c in cases_2024
                if c["application_date"] >= "2024-01-01"]
    with decimal.localcontext() as context:
        context.prec = prec
        context.traps[decimal.Inexact] = trap
        got = [evaluate_case(ruleset.compiled, ruleset.info, c, explain=True).to_dict() for c in cases_2024
               if c["application_date"] >= "2024-01-01"]
    assert got == expected
