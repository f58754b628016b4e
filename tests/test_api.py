"""The Python API of the contract: load the rules in force on a date, evaluate cases, get exact decisions."""
import copy
import json
import random
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from engine import CaseError, Decision, VersionNotFound, load_ruleset

ROOT = Path(__file__).resolve().parent.parent
CASE = json.loads((ROOT / "examples" / "small-cybersecurity-training.json").read_text())


def test_load_on_a_date_and_evaluate():
    ruleset = load_ruleset(on=date(2024, 6, 10))
    decision = ruleset.evaluate(CASE)
    assert isinstance(decision, Decision)
    assert ruleset.version == "2024-01-01"
    assert decision.subsidy == "1057.50" and decision.eligible is True
    assert decision.to_dict()["notes"][0]["code"] == "catering_capped"


def test_the_same_rules_give_the_same_hash_and_other_rules_another():
    a = load_ruleset(on=date(2024, 6, 10)).info.sha256
    b = load_ruleset(on=date(2025, 1, 1)).info.sha256
    c = load_ruleset(on=date(2023, 6, 1)).info.sha256
    assert a == b != c


def test_a_date_before_the_first_version_is_a_clear_error():
    with pytest.raises(VersionNotFound, match="starts on 2016-04-01"):
        load_ruleset(on=date(2016, 3, 31))


def test_money_given_as_float_string_or_int_is_the_same():
    ruleset = load_ruleset(on=date(2024, 6, 10))
    results = set()
    for fee in (2000, 2000.0, "2000", "2000.00", Decimal("2000")):
        case = copy.deepcopy(CASE)
        case["project"]["costs"]["fee"] = fee
        results.add(ruleset.evaluate(case).subsidy)
    assert results == {"1057.50"}


def _mutations(rng: random.Random, case):
    """Replace one random leaf (or container) of a case with a value of the wrong kind."""
    paths = []

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                paths.append(path + (key,))
                walk(value, path + (key,))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                paths.append(path + (i,))
                walk(value, path + (i,))
    walk(case, ())
    path = rng.choice(paths)
    bad = rng.choice([None, -1, "x", [], {}, 1.5, True, "2024-13-45", {"nested": 1}, 10**30, "NaN", "Infinity"])
    target = case
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = bad
    return path, bad


def test_bad_input_never_leaks_a_python_error():
    """Whatever is wrong with a case, the API raises CaseError (or decides), never KeyError/TypeError/decimal errors."""
    ruleset = load_ruleset(on=date(2024, 6, 10))
    rng = random.Random(11)
    refused = 0
    for _ in range(600):
        case = copy.deepcopy(CASE)
        _mutations(rng, case)
        try:
            ruleset.evaluate(case)
        except CaseError as error:
            refused += 1
            assert error.problems and all(p.message for p in error.problems)
    assert refused > 300


def test_not_a_dict_at_all():
    with pytest.raises(CaseError, match="must be an object"):
        load_ruleset(on=date(2024, 6, 10)).evaluate(["not", "a", "case"])


def test_diff_and_impact_from_the_public_api():
    from engine import diff, impact
    changes = diff("2019-11-30", "2020-01-01")
    assert changes.from_version.version == "2016-04-01" and changes.to_version.version == "2020-01-01"
    cases = [json.loads((ROOT / "examples" / name).read_text())
             for name in ("small-cybersecurity-training.json", "medium-strategy-advice-near-ceiling.json")]
    report = impact("2026-01-31", "2026-02-01", cases)
    # the strategy advice is refused from 1 February 2026; the cybersecurity training is not touched
    assert [change.id for change in report.changed] == ["#2"] and report.became_ineligible == 1
    assert report.reasons_appeared[0].code == "advice_limited_to_cybersecurity"


def test_reordering_conditions_changes_the_hash_but_layout_does_not(tmp_path):
    import shutil
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    first = rules / "kmo-portefeuille" / "2016-04-01.yaml"
    original = load_ruleset(on=date(2017, 1, 1), rules=rules).info.sha256
    text = first.read_text()
    first.write_text(text.replace("value: round(applicable_rate * eligible_cost)",
                                  "value: |\n      round(applicable_rate   # the rate of its size class\n"
                                  "        * eligible_cost)"))
    assert load_ruleset(on=date(2017, 1, 1), rules=rules).info.sha256 == original
    block_start = text.index("  legal_form_excluded:")
    block_end = text.index("  outside_flemish_region:")
    conditions_end = text.index("\nnotes:")
    moved = text[:block_start] + text[block_end:conditions_end] + "\n" + text[block_start:block_end].rstrip("\n") \
        + text[conditions_end:]
    first.write_text(moved)
    reordered = load_ruleset(on=date(2017, 1, 1), rules=rules)
    assert list(reordered.checked.conditions)[-1] == "legal_form_excluded"
    assert reordered.info.sha256 != original


def test_a_validated_case_is_a_case_and_only_its_converted_values_are_decided():
    from dataclasses import FrozenInstanceError

    from engine import Case
    ruleset = load_ruleset(on=date(2024, 6, 10))
    case = ruleset.case(CASE)
    assert isinstance(case, Case)
    assert case.values["project"]["costs"]["fee"] == Decimal("2000")  # converted once, exactly
    assert ruleset.evaluate(case).to_dict() == ruleset.evaluate(CASE).to_dict()
    with pytest.raises(FrozenInstanceError):
        case.values = {}
    bad = copy.deepcopy(CASE)
    bad["project"]["costs"]["fee"] = "abc"
    with pytest.raises(CaseError) as caught:
        ruleset.case(bad)
    assert caught.value.problems[0].path == ("project", "costs", "fee")


def test_a_case_made_under_one_version_is_decided_by_another():
    later = load_ruleset(on=date(2026, 3, 1))  # advice only on cybersecurity from 2026-02-01
    case = load_ruleset(on=date(2024, 6, 10)).case(CASE)
    assert later.evaluate(case).ruleset.version == later.version
