"""The engine and an independent hand-written function of the 2024 rules agree on thousands of cases."""
from datetime import date

from engine import CaseError, load_ruleset

from corpus import generate_cases, year_spec  # noqa: E402
import handwritten  # noqa: E402


def test_same_decisions_as_the_handwritten_rules_on_generated_cases():
    ruleset = load_ruleset(on=date(2024, 6, 1))
    generated = generate_cases(year_spec(2500, 99, 2024))
    compared = ineligible = capped = 0
    for case in generated:
        try:
            mine = ruleset.evaluate(case).to_dict()
        except CaseError:
            continue
        theirs = handwritten.decide(case)
        for key, value in theirs.items():
            got = [r["code"] for r in mine[key]] if key in ("reasons", "notes") else mine[key]
            assert got == value, f"{key}: engine {got!r}, hand-written {value!r} for {case}"
        compared += 1
        ineligible += not mine["eligible"]
        capped += "annual_ceiling_reached" in [n["code"] for n in mine["notes"]]
    # the generated cases exercise both outcomes and the ceiling
    assert compared > 2000 and 200 < ineligible < compared - 200 and capped > 5
