"""The engine and an independent hand-written function of the 2024 rules agree on thousands of cases."""
from datetime import date

from engine import CaseError, load_ruleset

from corpus import generate_cases, year_spec  # noqa: E402
import handwritten  # noqa: E402


def assert_same(mine: dict, theirs: dict, what) -> None:
    """Every field the hand-written code gives, the engine gives alike (reasons and notes by their codes)."""
    for key, value in theirs.items():
        got = [r["code"] for r in mine[key]] if key in ("reasons", "notes") else mine[key]
        assert got == value, f"{key}: engine {got!r}, hand-written {value!r} for {what}"


def test_same_decisions_as_the_handwritten_rules_on_generated_cases():
    ruleset = load_ruleset(on=date(2024, 6, 1))
    generated = generate_cases(year_spec(2500, 99, 2024))
    compared = ineligible = capped = 0
    for case in generated:
        try:
            mine = ruleset.evaluate(case).to_dict()
        except CaseError:
            continue
        assert_same(mine, handwritten.decide(case), case)
        compared += 1
        ineligible += not mine["eligible"]
        capped += "annual_ceiling_reached" in [n["code"] for n in mine["notes"]]
    # the generated cases exercise both outcomes and the ceiling
    assert compared > 2000 and 200 < ineligible < compared - 200 and capped > 5


def _variants():
    """The shared-law and fidelity fields, each set on generated cases in turn."""
    return [
        ("public bodies hold 30 %", lambda c: c["enterprise"].update(public_share="0.30")),
        ("a large year before", lambda c: c["enterprise"].update(
            previous_year={"employees": 300, "annual_turnover": 60_000_000, "balance_sheet_total": 50_000_000})),
        ("a small year before", lambda c: c["enterprise"].update(
            previous_year={"employees": 5, "annual_turnover": 100_000, "balance_sheet_total": 100_000})),
        ("a related provider", lambda c: c["project"].update(provider_related=True)),
        ("a maatschap", lambda c: c["enterprise"].update(legal_form="partnership_without_legal_personality")),
        ("the class fixed medium this year", lambda c: c["enterprise"].setdefault("prior_aid", []).append(
            {"granted_on": c["application_date"][:4] + "-01-02", "amount": 100, "scheme": "kmo-portefeuille",
             "size_class": "medium"})),
        ("an aid withdrawn the same year", lambda c: c["enterprise"].setdefault("prior_aid", []).append(
            {"granted_on": c["application_date"][:4] + "-01-02", "amount": 7000, "scheme": "kmo-portefeuille",
             "withdrawn_on": c["application_date"][:4] + "-01-03"})),
    ]


def test_same_decisions_on_the_shared_law_and_fidelity_fields():
    import copy
    ruleset = load_ruleset(on=date(2024, 6, 1))
    for name, change in _variants():
        compared = 0
        for case in generate_cases(year_spec(150, 5, 2024)):
            case = copy.deepcopy(case)
            if not case["application_date"].startswith("2024") or case["application_date"] < "2024-01-04":
                continue
            change(case)
            try:
                mine = ruleset.evaluate(case).to_dict()
            except CaseError:
                continue
            assert_same(mine, handwritten.decide(case), name)
            compared += 1
        assert compared > 50, name
