"""`kmo-rules evaluate`, `versions` and `show` as a portal developer or batch job uses them."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import cli

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "small-cybersecurity-training.json"


def test_evaluate_prints_the_contract_decision():
    status, out, err = cli("evaluate", EXAMPLE)
    assert (status, err) == (0, "")
    decision = json.loads(out)
    assert decision["subsidy"] == "1057.50" and decision["rate"] == "0.45"
    assert decision["ruleset"]["version"] == "2024-01-01" and len(decision["ruleset"]["sha256"]) == 64
    assert decision["explanation"] is None
    assert list(decision) == ["ruleset", "eligible", "size_class", "rate", "eligible_cost", "subsidy",
                              "own_contribution", "application_deadline", "completion_deadline", "reasons", "notes",
                              "explanation"]


def test_several_cases_give_one_json_line_each_in_order():
    cases = sorted((ROOT / "examples").glob("*.json"))
    status, out, err = cli("evaluate", *cases)
    assert status == 0
    lines = out.splitlines()
    assert len(lines) == len(cases)
    assert [json.loads(line)["eligible"] for line in lines] == [True, False, True, True, True, False]


def test_a_case_from_standard_input_in_yaml():
    case = EXAMPLE.read_text()
    yaml_case = "\n".join(f"{k}: {json.dumps(v)}" for k, v in json.loads(case).items())
    status, out, _ = cli("evaluate", "-", stdin=yaml_case)
    assert status == 0 and json.loads(out)["subsidy"] == "1057.50"


def test_on_picks_another_version():
    status, out, _ = cli("evaluate", EXAMPLE, "--on", "2019-11-30")
    decision = json.loads(out)
    assert decision["ruleset"]["version"] == "2016-04-01"
    assert decision["rate"] == "0.40" and decision["subsidy"] == "940.00"  # 40 % of 2350, no cyber uplift yet


def test_explain_fills_the_explanation_and_lang_nl_translates_messages():
    status, out, _ = cli("evaluate", EXAMPLE, "--explain", "--lang", "nl")
    decision = json.loads(out)
    steps = decision["explanation"]["steps"]
    subsidy = next(s for s in steps if s["kind"] == "rule" and s["name"] == "subsidy")
    assert subsidy["value"] == "1057.50" and subsidy["source"]
    assert decision["notes"][0]["message"].startswith("Catering telt voor maximaal")


@pytest.mark.parametrize("change, expected", [
    ({"project": {"costs": {"fee": "abc"}}}, 'project.costs.fee: must be a number >= 0 (euro, as a JSON number or a decimal string), got "abc"'),
    ({"enterprise": {"legal_form": "bvba"}}, "enterprise.legal_form: must be one of"),
    ({"enterprise": {"employees": -3}}, "enterprise.employees: must be a number >= 0, got -3"),
    ({"application_date": "2024-02-30"}, 'application_date: must be a date YYYY-MM-DD, got "2024-02-30"'),
    ({"project": {"costz": 1}}, "project.costz: unknown field; did you mean 'costs'?"),
    ({"project": {"focus": "energy_efficiency"}}, "project.focus: this focus belongs to another theme"),
    ({"project": {"end_date": "2024-05-01"}}, "project.end_date: the end date lies before the start date"),
    ({"project": {"service_category": "yoga"}}, "project.service_category: must be one of"),
    ({"project": {"participants": 1.5}}, "project.participants: must be a whole number >= 1, got 1.5"),
    ({"project": {"costs": {"fee": "1000.005"}}}, 'project.costs.fee: must be whole cents (at most two decimals), got "1000.005"'),
    ({"enterprise": {"related_enterprises": [{"share": 1.5, "employees": 1, "annual_turnover": 1,
                                              "balance_sheet_total": 1}]}},
     "enterprise.related_enterprises[0].share: must be a number >= 0 and <= 1, got 1.5"),
])
def test_bad_input_exits_2_naming_the_field_and_prints_nothing(tmp_path, change, expected):
    case = json.loads(EXAMPLE.read_text())
    for key, value in change.items():
        if isinstance(value, dict):
            for inner, inner_value in value.items():
                if isinstance(inner_value, dict):
                    case[key].setdefault(inner, {}).update(inner_value)
                else:
                    case[key][inner] = inner_value
        else:
            case[key] = value
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case))
    status, out, err = cli("evaluate", path)
    assert status == 2 and out == ""
    assert expected in err, err
    assert "Traceback" not in err


def test_every_problem_is_listed_not_only_the_first(tmp_path):
    case = json.loads(EXAMPLE.read_text())
    case["enterprise"]["employees"] = "many"
    case["project"]["kind"] = "coaching"
    del case["project"]["start_date"]
    path = tmp_path / "case.json"
    path.write_text(json.dumps(case))
    status, _, err = cli("evaluate", path)
    assert status == 2
    assert "enterprise.employees" in err and "project.kind" in err and "project.start_date: is required" in err


@pytest.mark.parametrize("argv, expected", [
    (["evaluate", "missing.json"], "missing.json: cannot read: no such file"),
    (["evaluate", "--on", "2015-12-31", str(EXAMPLE)], "no rules for 2015-12-31: the first version of kmo-portefeuille starts on 2016-04-01"),
    (["evaluate", "--on", "31/12/2024", str(EXAMPLE)], "is not a date YYYY-MM-DD"),
    (["evaluate", "--rules", "/nonexistent", str(EXAMPLE)], "the rules folder /nonexistent does not exist"),
    (["evaluate", "--lang", "fr", str(EXAMPLE)], "invalid choice: 'fr'"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_usage_and_environment_errors_exit_2_with_a_message(argv, expected):
    status, out, err = cli(*argv)
    assert status == 2 and out == ""
    assert expected in err and "Traceback" not in err


def test_invalid_json_names_line_and_column(tmp_path):
    path = tmp_path / "case.json"
    path.write_text('{"application_date": "2024-01-01",\n "enterprise": }')
    status, _, err = cli("evaluate", path)
    assert status == 2 and "not valid JSON" in err and "line 2" in err


def test_versions_lists_ten_versions_with_hashes():
    status, out, _ = cli("versions", "--format", "json")
    rows = json.loads(out)
    assert [r["version"] for r in rows] == ["2016-04-01", "2019-12-01", "2020-01-01", "2020-07-01", "2021-09-14",
                                            "2023-01-01", "2023-03-15", "2024-01-01", "2026-01-01", "2026-02-01"]
    assert all(len(r["sha256"]) == 64 for r in rows) and len({r["sha256"] for r in rows}) == 10
    assert rows[0]["effective_until"] == "2019-11-30" and rows[-1]["effective_until"] is None


def test_show_prints_the_resolved_ruleset_as_yaml():
    import yaml
    status, out, _ = cli("show", "--on", "2024-06-10", "--provenance")
    data = yaml.safe_load(out)
    assert data["version"] == "2024-01-01"
    assert data["parameters"]["rates.small"]["value"] == "30 %"
    assert data["parameters"]["rates.small"]["changed_in"] == "2019-12-01"
    assert "theme_not_eligible" in data["conditions"] and "excluded_services" in data["tables"]
    status, out2, _ = cli("versions", "--format", "json")
    assert data["sha256"] == next(r["sha256"] for r in json.loads(out2) if r["version"] == "2024-01-01")


def test_python_dash_m_engine_runs_as_a_real_process():
    done = subprocess.run([sys.executable, "-m", "engine", "evaluate", str(EXAMPLE)], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0 and json.loads(done.stdout)["subsidy"] == "1057.50"
    done = subprocess.run([sys.executable, "-m", "engine", "evaluate", "nope.json"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr and done.stdout == ""


@pytest.mark.parametrize("text, expected", [
    ('{"application_date": "2024-06-10", "application_date": "2024-06-11"}',
     "the key 'application_date' is written twice in one object"),
    ("[" * 100000 + "]" * 100000, "nested too deeply"),
    ("application_date: 2024-06-10\napplication_date: 2024-06-11\n", "the key 'application_date' is written twice"),
    ("a: &x [1, 2]\nb: *x\n", "aliases"),
    ("a: [1\n", "not valid YAML"),
])
def test_unreadable_case_files_exit_2_with_a_message(tmp_path, text, expected):
    path = tmp_path / "case.txt"
    path.write_text(text)
    status, out, err = cli("evaluate", path)
    assert status == 2 and out == "" and expected in err and "Traceback" not in err
