"""A policy change edits only data: a new version file in a copied rules folder, no Python touched."""
import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from engine import RulesError, load_ruleset
from engine.cli import run

ROOT = Path(__file__).resolve().parent.parent
CASE = json.loads((ROOT / "examples" / "late-application-and-no-theme.json").read_text())


def _on_time_case(application_date: str) -> dict:
    case = json.loads(json.dumps(CASE))
    case["application_date"] = application_date
    case["project"]["start_date"] = application_date
    case["project"]["theme"] = "financial_literacy"
    return case


@pytest.fixture
def rules(tmp_path) -> Path:
    folder = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", folder)
    return folder


NEW_RATE = """\
# yaml-language-server: $schema=../../schemas/ruleset.schema.json
ruleset: kmo-portefeuille
version: "2027-01-01"
follows: "2026-02-01"
effective_from: 2027-01-01
summary: Small enterprises get 35 %.
source: an amending decree (example)
changes:
  set_parameters:
    rates.small:
      value: 35 %
      source: an amending decree (example), art. 18
"""


def test_a_new_rate_from_a_date_is_one_small_file(rules):
    (rules / "kmo-portefeuille" / "2027-01-01.yaml").write_text(NEW_RATE)
    before = load_ruleset(on=date(2026, 12, 31), rules=rules).evaluate(_on_time_case("2026-12-31"))
    after = load_ruleset(on=date(2027, 1, 1), rules=rules).evaluate(_on_time_case("2027-01-01"))
    assert (before.rate, before.subsidy) == ("0.30", "135.00")   # 30 % of 450
    assert (after.rate, after.subsidy) == ("0.35", "157.50")     # 35 % of 450
    assert after.ruleset.version == "2027-01-01" and after.ruleset.effective_until is None
    assert before.ruleset.effective_until == date(2026, 12, 31)


def test_the_cli_picks_the_new_version_by_application_date(rules, tmp_path, capsys):
    (rules / "kmo-portefeuille" / "2027-01-01.yaml").write_text(NEW_RATE)
    path = tmp_path / "case.json"
    path.write_text(json.dumps(_on_time_case("2027-03-01")))
    assert run(["evaluate", str(path), "--rules", str(rules)]) == 0
    assert json.loads(capsys.readouterr().out)["subsidy"] == "157.50"


def test_a_new_theme_and_a_changed_formula_are_data_too(rules):
    (rules / "kmo-portefeuille" / "2027-01-01.yaml").write_text("""\
ruleset: kmo-portefeuille
version: "2027-01-01"
follows: "2026-02-01"
effective_from: 2027-01-01
summary: No catering any more; financial literacy leaves the themes.
source: an amending decree (example)
changes:
  table_rows:
    themes:
      remove: [financial_literacy]
  replace_rules:
    eligible_catering:
      value: EUR 0
      source: an amending decree (example)
""")
    case = _on_time_case("2027-01-04")
    case["project"]["costs"] = {"fee": 450, "catering": 50}
    decision = load_ruleset(on=date(2027, 1, 4), rules=rules).evaluate(case)
    assert decision.eligible is False
    assert [r.code for r in decision.reasons] == ["theme_not_eligible"]
    assert decision.eligible_cost == "450.00"


def test_a_change_naming_something_the_earlier_version_lacks_is_a_load_error(rules):
    (rules / "kmo-portefeuille" / "2027-01-01.yaml").write_text(NEW_RATE.replace("rates.small:", "rates.smal:"))
    with pytest.raises(RulesError) as raised:
        load_ruleset(on=date(2027, 1, 1), rules=rules)
    problem = raised.value.diagnostics[0]
    assert problem.code == "change-unknown" and "rates.smal" in problem.message
    assert problem.hint == "did you mean 'rates.small'?"
    assert problem.span.file.endswith("2027-01-01.yaml") and problem.span.line == 10


def test_versions_that_overlap_or_leave_a_gap_are_load_errors(rules):
    wrong = NEW_RATE.replace('follows: "2026-02-01"', 'follows: "2024-01-01"')
    (rules / "kmo-portefeuille" / "2027-01-01.yaml").write_text(wrong)
    with pytest.raises(RulesError, match="but the version in force just before it is 2026-02-01"):
        load_ruleset(on=date(2027, 1, 1), rules=rules)
    (rules / "kmo-portefeuille" / "2027-01-01.yaml").write_text(NEW_RATE.replace("2027-01-01\nsummary", "2026-02-01\nsummary"))
    with pytest.raises(RulesError, match="both start on 2026-02-01"):
        load_ruleset(on=date(2027, 1, 1), rules=rules)
    gap = (rules / "kmo-portefeuille" / "2026-01-01.yaml").read_text().replace(
        "effective_from: 2026-01-01", "effective_from: 2026-01-01\neffective_until: 2026-01-20")
    (rules / "kmo-portefeuille" / "2027-01-01.yaml").unlink()
    (rules / "kmo-portefeuille" / "2026-01-01.yaml").write_text(gap)
    with pytest.raises(RulesError, match="no rules from 2026-01-21 to 2026-01-31"):
        load_ruleset(on=date(2026, 6, 1), rules=rules)
