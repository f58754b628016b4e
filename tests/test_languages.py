"""What a Dutch reader gets besides explanations: the problems of a bad case follow --lang too."""
import io
import json
from pathlib import Path

from engine.cli import run

ROOT = Path(__file__).resolve().parent.parent


def errors(case: dict, *extra: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    status = run(["evaluate", "-", *extra], io.StringIO(json.dumps(case)), out, err)
    assert out.getvalue() == ""
    return status, err.getvalue()


def bad_case() -> dict:
    case = json.loads((ROOT / "examples" / "small-cybersecurity-training.json").read_text())
    case["enterprise"]["legal_form"] = "bvba"
    case["project"]["costs"]["fee"] = "abc"
    case["project"]["participants"] = 0
    case["enterprise"]["colour"] = "blue"
    del case["application_date"]
    return case


def test_input_errors_are_in_english_by_default():
    status, text = errors(bad_case())
    assert status == 2
    assert "enterprise.legal_form: must be one of sole_trader, bv" in text and "(did you mean 'bv'?)" in text
    assert "application_date: is required" in text and "enterprise.colour: unknown field" in text


def test_input_errors_follow_the_language_asked_for():
    status, text = errors(bad_case(), "--lang", "nl")
    assert status == 2
    assert "got" not in text and "must" not in text and "did you mean" not in text and "unknown" not in text
    assert "(bedoelde u 'bv'?)" in text
    assert "project.costs.fee: moet een getal >= 0 (euro, als JSON-getal of als decimale tekst) zijn, niet \"abc\"" in text
    assert "project.participants: moet een geheel getal >= 1 zijn, niet 0" in text
    assert "application_date: is verplicht" in text and "enterprise.colour: onbekend veld" in text


def test_a_date_before_the_first_version_in_dutch():
    case = json.loads((ROOT / "examples" / "small-cybersecurity-training.json").read_text())
    status, text = errors(case, "--lang", "nl", "--on", "2010-01-01")
    assert status == 2 and "geen regels voor 2010-01-01: de eerste versie van kmo-portefeuille begint op 2016-04-01" in text


def test_an_input_check_of_the_rules_speaks_the_language_asked_for():
    case = {"application_date": "2023-04-10", "theme": "digitalisation", "hire": {"start_date": "2023-05-01"},
            "enterprise": {"legal_form": "bv", "establishment_region": "flemish", "nace_code": "62.010",
                           "employees": 30, "annual_turnover": 4000000, "balance_sheet_total": 2500000}}
    status, english = errors(case, "--scheme", "kmo-groeisubsidie")
    assert status == 2 and english.startswith("hire.gross_annual_salary: is required for a hire applied for from")
    status, dutch = errors(case, "--scheme", "kmo-groeisubsidie", "--lang", "nl")
    assert status == 2 and dutch.startswith("hire.gross_annual_salary: is verplicht voor een aanwerving aangevraagd")


def test_a_decimal_in_a_message_is_written_as_the_language_writes_it():
    case = json.loads((ROOT / "examples" / "small-cybersecurity-training.json").read_text())
    case["enterprise"].update(employees="263.5", related_enterprises=[])
    for lang, shown in (("en", "(263.5 work units"), ("nl", "(263,5 arbeidsjaareenheden")):
        out = io.StringIO()
        assert run(["evaluate", "-", "--lang", lang], io.StringIO(json.dumps(case)), out, io.StringIO()) == 0
        reasons = json.loads(out.getvalue())["reasons"]
        assert reasons[0]["code"] == "not_sme" and shown in reasons[0]["message"]
