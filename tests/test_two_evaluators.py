"""The reference interpreter and the compiled fast path decide alike, to the last digit.

Every test case kept beside the rules and a generated corpus of every year
go through both; each definition's value (rules, conditions, notes,
outputs, eligibility) must be identical, and so must the input checks.
"""
from pathlib import Path

import pytest

from corpus import generate_cases, year_spec
from engine import CaseError, KmoRulesError
from engine.run.evaluate import check_case
from engine.run.interpret import failed_input_checks, interpret
from engine.pipeline import open_rules
from engine.present.testing import day_of, find_test_files, read_tests

ROOT = Path(__file__).resolve().parent.parent
BOOK = open_rules(ROOT / "rules")


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
    return True


def test_they_agree_on_every_test_case_beside_the_rules():
    decided = 0
    for path in find_test_files(ROOT / "rules"):
        tests, _ = read_tests(path)
        for test in tests:
            day = day_of(test)
            try:
                built = BOOK.on(day)
            except (KmoRulesError, TypeError):
                continue
            decided += _agree(built, test.case)
    assert decided > 150


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
