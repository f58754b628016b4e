"""The synthetic corpus: valid, reproducible, and shaped like the real scheme."""
import io
import json
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest

from engine.core.diagnostics import CaseError
from engine.run.evaluate import evaluate_case

ROOT = Path(__file__).resolve().parent.parent
import corpus  # noqa: E402  (benchmarks/corpus.py)
from corpus import CorpusSpec, corpus_lines, generate_cases, year_spec  # noqa: E402


def cli(*argv):
    """`python benchmarks/corpus.py ARGS`, in memory."""
    out, err = io.StringIO(), io.StringIO()
    status = corpus.main(list(argv[1:]), out, err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def cases_2025():
    return generate_cases(year_spec(6000, 2025, 2025))


@pytest.fixture(scope="module")
def decisions_2025(book, cases_2025):
    built = book.build(book.source_named("2024-01-01"))
    return [evaluate_case(built.compiled, built.info, case) for case in cases_2025]


def test_the_same_seed_gives_the_same_corpus_and_another_seed_another():
    first = list(corpus_lines(generate_cases(year_spec(200, 42, 2026))))
    assert first == list(corpus_lines(generate_cases(year_spec(200, 42, 2026))))
    assert first != list(corpus_lines(generate_cases(year_spec(200, 43, 2026))))


def test_every_case_is_valid_against_the_case_schema():
    schema = json.loads((ROOT / "schemas" / "case.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    for line in corpus_lines(generate_cases(year_spec(1500, 9, 2024))):
        case = json.loads(line)
        errors = [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(case)]
        assert not errors, f"{line}\n{errors}"


def test_every_case_is_valid_input_under_every_version(book):
    lines = list(corpus_lines(generate_cases(CorpusSpec(800, 4, date(2016, 4, 1), date(2026, 12, 31)))))
    for source in book.sources:
        built = book.build(source)
        for line in lines:
            try:
                evaluate_case(built.compiled, built.info, json.loads(line, parse_float=Decimal))
            except CaseError as error:
                pytest.fail(f"{source.version}: {error}\n{line}")


def test_application_dates_fall_in_the_chosen_year_or_period():
    assert {c["application_date"][:4] for c in generate_cases(year_spec(300, 1, 2026))} == {"2026"}
    days = {c["application_date"] for c in generate_cases(CorpusSpec(300, 1, date(2026, 1, 25), date(2026, 2, 5)))}
    assert min(days) >= "2026-01-25" and max(days) <= "2026-02-05" and len(days) > 5


def test_about_nine_in_ten_enterprises_are_small_and_training_dominates(cases_2025, decisions_2025):
    sizes = Counter(d.size_class for d in decisions_2025)
    assert 0.86 <= sizes["small"] / len(decisions_2025) <= 0.94
    assert sizes["medium"] > 0 and sizes["large"] > 0
    kinds = Counter(c["project"]["kind"] for c in cases_2025)
    assert 0.90 <= kinds["training"] / len(cases_2025) <= 0.97


def test_average_aid_is_about_300_for_training_and_2300_for_advice(cases_2025, decisions_2025):
    totals = {"training": [], "advice": []}
    for case, decision in zip(cases_2025, decisions_2025):
        if decision.eligible:
            totals[case["project"]["kind"]].append(Decimal(decision.subsidy))
    training = sum(totals["training"]) / len(totals["training"])
    advice = sum(totals["advice"]) / len(totals["advice"])
    assert Decimal(255) <= training <= Decimal(345), training
    assert Decimal(1950) <= advice <= Decimal(2650), advice


def test_the_corpus_holds_the_usual_kinds_of_ineligible_case(decisions_2025):
    reasons = Counter(r.code for d in decisions_2025 for r in d.reasons)
    for code in ("legal_form_excluded", "outside_flemish_region", "application_too_late", "theme_not_eligible",
                 "service_excluded", "service_not_whitelisted", "not_sme", "activity_excluded",
                 "provider_not_registered", "below_minimum_amount", "distance_learning_without_interaction"):
        assert reasons[code] > 0, code
    eligible = sum(d.eligible for d in decisions_2025) / len(decisions_2025)
    assert 0.75 <= eligible <= 0.9
    notes = Counter(n.code for d in decisions_2025 for n in d.notes)
    assert notes["catering_capped"] > 0 and notes["annual_ceiling_reached"] > 0 and notes["de_minimis_ceiling_reached"] > 0


def test_cli_writes_n_cases_as_json_lines(tmp_path):
    status, out, err = cli("corpus", "5", "--seed", "3", "--year", "2024")
    assert status == 0 and err == ""
    lines = out.splitlines()
    assert len(lines) == 5 and all(json.loads(line)["application_date"].startswith("2024-") for line in lines)
    target = tmp_path / "cases.jsonl"
    status, out, _ = cli("corpus", "5", "--seed", "3", "--year", "2024", "--out", str(target))
    assert status == 0 and out == "" and target.read_text(encoding="utf-8").splitlines() == lines
    status, out, _ = cli("corpus", "20", "--from", "2026-01-25", "--to", "2026-02-05")
    assert status == 0 and len(out.splitlines()) == 20


@pytest.mark.parametrize("argv, message", [
    (("corpus", "5", "--from", "2026-01-01"), "--from and --to go together"),
    (("corpus", "5", "--from", "2026-02-01", "--to", "2026-01-01"), "lies before"),
    (("corpus", "-3"), "is not a number of cases"),
    (("corpus", "5", "--from", "2026-02-30", "--to", "2026-03-01"), "is not a date"),
])
def test_cli_refuses_a_bad_period_or_size_with_exit_2(argv, message):
    status, out, err = cli(*argv)
    assert status == 2 and out == "" and message in err and "Traceback" not in err
