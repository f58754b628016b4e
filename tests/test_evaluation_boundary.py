"""Attacks on evaluation, the API and the command line: each ends in a clean error or the right decision.

The rules folder and case files have their own attack tests
(test_rules_boundary.py, test_case_boundary.py); here are the ones a caller
meets: dates pushed past the calendar, a partner share that makes an amount
of fractions of a cent, the caller's own decimal context, arguments of the
wrong type, files that are not files, and the bundled rules checked instead
of the analyst's.
"""
import copy
import decimal
import io
import json
import os
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from engine import ArgumentError, CaseError, KmoRulesError, load_ruleset
from engine.cli import run
from helpers import cli

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "small-cybersecurity-training.json"


def example() -> dict:
    return json.loads(EXAMPLE.read_text(), parse_float=Decimal)


@pytest.fixture(scope="module")
def ruleset_2024():
    return load_ruleset(on="2024-06-10")


@pytest.mark.parametrize("field, value", [
    ("application_date", "9999-12-31"),   # the completion deadline would fall in year 10000
    ("application_date", "9999-06-30"),
])
def test_a_deadline_past_the_calendar_is_an_input_error_on_the_field_that_caused_it(ruleset_2024, field, value):
    case = example()
    case[field] = value
    with pytest.raises(CaseError) as caught:
        ruleset_2024.evaluate(case)
    paths = [p.path for p in caught.value.problems]
    assert ("application_date",) in paths
    assert "outside the calendar" in str(caught.value)


def test_through_the_cli_the_same_date_is_named_by_its_path():
    case = example()
    case["application_date"] = "9999-12-31"
    status, out, err = cli("evaluate", "-", stdin=json.dumps(case, default=str))
    assert status == 2 and out == ""
    assert err.startswith("application_date: ") and "Traceback" not in err


def test_a_date_before_the_first_version_names_application_date():
    case = example()
    case["application_date"] = "2010-01-01"
    status, out, err = cli("evaluate", "-", stdin=json.dumps(case, default=str))
    assert status == 2 and out == ""
    assert err.startswith("application_date: no rules for 2010-01-01")


def test_a_missing_date_is_reported_with_every_other_problem():
    case = example()
    del case["application_date"]
    case["enterprise"]["legal_form"] = "bvba"
    status, _, err = cli("evaluate", "-", stdin=json.dumps(case, default=str))
    assert status == 2
    assert "application_date: is required" in err and "enterprise.legal_form: must be one of" in err


def test_an_amount_of_fractions_of_a_cent_is_explained_not_a_crash(ruleset_2024):
    case = example()
    case["enterprise"]["related_enterprises"] = [
        {"share": Decimal("0.25"), "employees": 3, "annual_turnover": Decimal("1234567.89"),
         "balance_sheet_total": 100000}]
    plain = ruleset_2024.evaluate(case)
    explained = ruleset_2024.evaluate(case, explain=True)
    assert explained.subsidy == plain.subsidy == "1057.50"
    steps = {step.name: step for step in explained.explanation.steps if step.kind == "rule"}
    assert steps["sme.turnover"].value == "1808641.9725"  # with a quarter of the partner's, shown exactly
    assert ("sme.turnover", "1808641.9725") in steps["sme.class_by_figures"].uses
    status, out, err = cli("evaluate", "-", "--explain", "--format", "text", stdin=json.dumps(case, default=str))
    assert status == 0 and err == ""


@pytest.mark.parametrize("setup", ["prec6", "inexact", "rounding"])
def test_the_callers_decimal_context_changes_no_result(ruleset_2024, setup):
    case = example()
    expected = ruleset_2024.evaluate(case, explain=True).to_dict()
    with decimal.localcontext() as context:
        if setup == "prec6":
            context.prec = 6
        elif setup == "inexact":
            context.traps[decimal.Inexact] = True
            context.traps[decimal.Rounded] = True
        else:
            context.rounding = decimal.ROUND_FLOOR
            context.prec = 3
        assert ruleset_2024.evaluate(case, explain=True).to_dict() == expected
        assert load_ruleset(on=date(2024, 6, 10)).evaluate(case).to_dict()["subsidy"] == expected["subsidy"]


@pytest.mark.parametrize("call, words", [
    (lambda: load_ruleset(on="garbage"), "on must be a date YYYY-MM-DD"),
    (lambda: load_ruleset(on=12345), "on must be a date or a text YYYY-MM-DD, not int"),
    (lambda: load_ruleset(on="2024-06-10", rules=12), "rules must be the path of a rules folder"),
    (lambda: load_ruleset(version=2024), "version must be a text"),
    (lambda: load_ruleset(on="2024-06-10").evaluate(example(), lang="fr"), "lang must be one of en, nl"),
])
def test_api_arguments_of_the_wrong_type_or_value_raise_the_engines_own_error(call, words):
    with pytest.raises(ArgumentError) as caught:
        call()
    assert words in str(caught.value)
    assert isinstance(caught.value, KmoRulesError)


def test_any_mapping_is_a_case(ruleset_2024):
    from collections import OrderedDict
    from types import MappingProxyType

    def ordered(value):
        if isinstance(value, dict):
            return OrderedDict((k, ordered(v)) for k, v in value.items())
        if isinstance(value, list):
            return [ordered(v) for v in value]
        return value
    expected = ruleset_2024.evaluate(example()).to_dict()
    assert ruleset_2024.evaluate(ordered(example())).to_dict() == expected
    assert ruleset_2024.evaluate(MappingProxyType(example())).to_dict() == expected


def test_a_case_that_is_not_a_mapping_is_an_input_error(ruleset_2024):
    with pytest.raises(CaseError, match="must be an object"):
        ruleset_2024.evaluate([example()])


def _written(folder: Path, name: str, data: bytes) -> Path:
    (folder / name).write_bytes(data)
    return folder / name


@pytest.mark.parametrize("make, words", [
    (lambda d: d / "nope.json", "nope.json: cannot read: no such file"),
    (lambda d: d, "cannot read: it is a folder"),
    (lambda d: _written(d, "empty.json", b""), "empty.json: the case is empty"),
    (lambda d: _written(d, "blank.json", b"  \n"), "blank.json: the case is empty"),
    (lambda d: _written(d, "latin.json", b'{"a": "\xe9"}'), "latin.json: not UTF-8 text"),
    (lambda d: Path("/dev/zero"), "/dev/zero: cannot read: not a regular file"),
])
def test_a_case_file_that_cannot_be_read_is_named_in_the_message(tmp_path, make, words):
    path = make(tmp_path)
    status, out, err = cli("evaluate", path)
    assert status == 2 and out == ""
    assert words in err and "Traceback" not in err


def test_a_fifo_as_case_file_does_not_hang(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    status, _, err = cli("evaluate", fifo)
    assert status == 2 and "not a regular file" in err


def test_bytes_that_are_not_utf8_on_standard_input_are_an_input_error():
    stdin = io.TextIOWrapper(io.BytesIO(b"\xff{"), encoding="utf-8", errors="surrogateescape")
    out, err = io.StringIO(), io.StringIO()
    status = run(["evaluate", "-"], stdin, out, err)
    assert status == 2 and out.getvalue() == ""
    assert "UTF-8" in err.getvalue() and "Traceback" not in err.getvalue()


def test_version_flag_prints_the_installed_version():
    status, out, err = cli("--version")
    assert status == 0 and out.startswith("kmo-rules ")


def test_validate_and_test_without_a_folder_check_the_rules_of_the_current_folder(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    rate = tmp_path / "rules" / "kmo-portefeuille" / "2016-04-01.yaml"
    text = rate.read_text()
    line = text[:text.index("      value: 40 %\n")].count("\n") + 1
    rate.write_text(text.replace("      value: 40 %\n", "      value: 40\n", 1))
    monkeypatch.chdir(tmp_path)
    status, out, _ = cli("validate")
    assert status == 2
    assert f"rules/kmo-portefeuille/2016-04-01.yaml:{line}:14: type-unit:" in out
    assert "parameter rates.small is the bare number 40, where a percentage is meant (write 40 %)" in out
    assert out.rstrip().endswith("(checked rules)")
    status, out, err = cli("test")
    assert status == 2 and "type-unit" in err


def test_without_a_rules_folder_here_validate_says_it_checked_the_bundled_rules(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, _ = cli("validate")
    assert status == 0 and out.rstrip().endswith("(the bundled rules))")


def test_a_bare_number_where_a_rate_is_meant_is_caught_before_any_case(tmp_path):
    shutil.copytree(ROOT / "rules" / "kmo-portefeuille", tmp_path / "kmo-portefeuille")
    changed = tmp_path / "kmo-portefeuille" / "2019-12-01.yaml"
    text = changed.read_text()
    assert "      value: 30 %\n" in text
    changed.write_text(text.replace("      value: 30 %\n", "      value: 30\n", 1))
    from engine.pipeline import validate_rules
    problems = [p for p in validate_rules(tmp_path) if p.severity == "error"]
    assert [p.code for p in problems] == ["type-unit"]
    assert problems[0].hint == "write 30 %" and problems[0].span.file.endswith("2019-12-01.yaml")


DIVIDES = """\
ruleset: kmo-portefeuille
version: "2027-01-01"
follows: "2026-02-01"
effective_from: 2027-01-01
summary: A rule that divides by a figure of the case.
source: a test
changes:
  replace_rules:
    uplifted:
      value: project.costs.fee / project.costs.materials > 10
      source: a test
"""


@pytest.fixture
def dividing_rules(tmp_path):
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    (tmp_path / "rules" / "kmo-portefeuille" / "2027-01-01.yaml").write_text(DIVIDES)
    return tmp_path / "rules"


def _in_2027(materials) -> dict:
    case = example()
    case["application_date"] = case["project"]["start_date"] = "2027-03-01"
    case["project"]["end_date"] = "2027-06-30"
    case["enterprise"]["prior_aid"] = []
    case["project"]["costs"]["materials"] = materials
    return case


def test_a_division_by_zero_in_a_rule_is_reported_at_that_rule(dividing_rules):
    from engine import RulesError
    ruleset = load_ruleset(on="2027-03-01", rules=dividing_rules)
    assert ruleset.evaluate(_in_2027(100)).eligible is True
    with pytest.raises(RulesError) as caught:
        ruleset.evaluate(_in_2027(0))
    problem = caught.value.diagnostics[0]
    assert problem.code == "evaluation" and "rule uplifted failed on this case: a division by zero" in problem.message
    assert problem.span.file.endswith("2027-01-01.yaml")


def test_any_other_failure_is_the_engines_and_says_so(monkeypatch):
    """A TypeError inside checked rules can only be a bug of the engine: it is never blamed on a rule."""
    import dataclasses

    import engine.pipeline
    from engine import EngineBug, open_rules
    real = engine.pipeline.compile_ruleset

    def broken(case):
        raise TypeError("unsupported operand")
    monkeypatch.setattr(engine.pipeline, "compile_ruleset", lambda checked: dataclasses.replace(real(checked),
                                                                                                decide=broken))
    with pytest.raises(EngineBug, match="TypeError: unsupported operand"):
        open_rules().evaluate(example())
    assert not issubclass(EngineBug, KmoRulesError)  # never mistaken for the analyst's or the portal's mistake
    status, out, err = cli("evaluate", EXAMPLE)
    assert status == 3 and out == "" and "internal error, a bug in kmo-rules" in err
