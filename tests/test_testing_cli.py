"""`kmo-rules test` as an analyst meets it: dots and Fs, the why of a failure, what no test exercises."""
from pathlib import Path

import pytest

from helpers import cli as kmo, mini_rules

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def rules(tmp_path, monkeypatch) -> Path:
    return mini_rules(tmp_path, monkeypatch)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1
    path.write_text(text.replace(old, new))


def test_all_passing_prints_dots_and_a_last_line(rules):
    status, out, err = kmo("test", "rules")
    assert (status, err) == (0, "")
    assert out.splitlines()[0] == "testing rules/mini"
    assert out.splitlines()[1] == "rules/mini/tests/mini.yaml ..."
    assert out.splitlines()[-1] == "3 passed, 0 failed"


def test_a_failure_shows_where_expected_against_actual_and_the_explanation(rules):
    edit(rules / "tests" / "mini.yaml", 'rate: 30 %, subsidy: "300.00"}', 'rate: 30 %, subsidy: "350.00"}')
    status, out, _ = kmo("test", "rules")
    assert status == 1
    assert out.splitlines()[1] == "rules/mini/tests/mini.yaml F.."
    failure = out[out.index("a small firm gets 30 % in 2024"):]
    assert failure.splitlines()[1] == "rules/mini/tests/mini.yaml:3, under version 2024-01-01"
    assert "  subsidy: expected 350.00, got 300.00" in failure
    explanation = failure[failure.index("how the decision got there:"):]
    assert "    Subsidy is EUR 300.00\n        = if eligible then round(applicable_rate * eligible_cost) else EUR 0\n" \
           "        source: Test data, art. 1\n" in explanation
    assert "      Rate is 30 %" in explanation and "      Eligible cost is EUR 1000.00" in explanation
    assert out.splitlines()[-1] == "2 passed, 1 failed"


def test_a_wrong_reason_shows_the_condition_that_decided(rules):
    edit(rules / "tests" / "mini.yaml", "reasons: [legal_form_excluded]", "reasons: []")
    status, out, _ = kmo("test", "rules", "--lang", "nl")
    assert status == 1
    assert "  reasons: expected [], got ['legal_form_excluded']" in out
    assert "    [x] De rechtsvorm is aanvaard: NIET VERVULD  [legal_form_excluded]\n" \
           "          niet vervuld als enterprise.legal_form in excluded_legal_forms\n" \
           "          enterprise.legal_form is vzw (uit de aanvraag)\n" in out


def test_coverage_lists_what_no_test_exercises(rules):
    _, out, _ = kmo("test", "rules")
    coverage = out[out.index("not exercised by any test"):]
    assert "conditions no test makes fail (3 of 4):\n  not_sme               rules/mini/2024-01-01.yaml:" in coverage
    assert "legal_form_excluded" not in coverage  # the vzw test makes it fail
    # the small firms' rate reads rates.medium only on the branch they do not take
    assert "parameters no decision depended on (1 of 5):\n  rates.medium  rules/mini/2024-01-01.yaml:18" in coverage


def test_a_value_set_anew_needs_a_test_of_its_own(rules):
    tests = rules / "tests" / "mini.yaml"
    text = tests.read_text()
    tests.write_text(text[:text.index("  - name: a small firm gets 40 % from 2025")] +
                     text[text.index("  - name: a vzw is refused"):])
    _, out, _ = kmo("test", "rules")
    assert "  rates.small   rules/mini/2025-01-01.yaml:10  (in version 2025-01-01)\n" in out
    assert "versions no test runs under (1 of 2): 2025-01-01" in out


def test_coverage_by_version(rules):
    _, out, _ = kmo("test", "rules", "--coverage", "version")
    assert "version 2025-01-01 (1 test):\n  conditions no test makes fail (4 of 4):" in out
    assert "version 2024-01-01 (2 tests):" in out


def test_a_version_without_tests_is_named(rules):
    (rules / "2026-01-01.yaml").write_text(
        'ruleset: mini\nversion: "2026-01-01"\nfollows: "2025-01-01"\neffective_from: 2026-01-01\n'
        "summary: Nothing changes yet.\nsource: Test data, 2026\nchanges: {}\n")
    _, out, _ = kmo("test", "rules", "--coverage", "version")
    assert "version 2026-01-01: no test runs under it" in out


def test_k_runs_only_the_tests_whose_name_matches(rules):
    status, out, _ = kmo("test", "rules", "-k", "VZW")
    assert status == 0 and out.splitlines() == ["testing rules/mini", "rules/mini/tests/mini.yaml .", "", "1 passed, 0 failed"]


def test_an_invalid_test_file_exits_2_and_says_where(rules):
    edit(rules / "tests" / "mini.yaml", "  - name: a vzw is refused\n", "  - name: a vzw is refused\n    expct: {}\n")
    status, out, _ = kmo("test", "rules")
    assert status == 2
    assert "rules/mini/tests/mini.yaml:20:5: schema: unknown field 'expct' in test 'a vzw is refused' " \
           "(did you mean 'expect'?)" in out
    assert out.splitlines()[-1] == "2 passed, 0 failed"


def test_invalid_rules_exit_2_with_the_problems_on_standard_error(rules):
    edit(rules / "2024-01-01.yaml", "value: project.costs.fee\n", "value: project.costs.fees\n")
    status, out, err = kmo("test", "rules")
    assert status == 2 and out == ""
    assert "rules/mini/2024-01-01.yaml:50:26: unknown-field: project.costs has no field 'fees' " \
           "(did you mean 'fee'?)" in err
    assert "see kmo-rules validate" in err


def test_an_expected_input_error_passes(rules):
    (rules / "tests" / "errors.yaml").write_text(
        "tests:\n  - name: a fee in words is refused\n    case: case.json\n"
        "    with: {project.costs.fee: a thousand}\n    expect_error: [project.costs.fee]\n")
    (rules / "tests" / "case.json").write_text(
        '{"application_date": "2024-06-10", "enterprise": {"legal_form": "bv", "establishment_region": "flemish",'
        ' "nace_code": "62.010", "employees": 10, "annual_turnover": 1000000, "balance_sheet_total": 500000},'
        ' "project": {"kind": "training", "theme": "digitalisation", "provider_registered": true,'
        ' "start_date": "2024-06-03", "costs": {"fee": 1000}}}')
    status, out, _ = kmo("test", "rules")
    assert status == 0 and "rules/mini/tests/errors.yaml ." in out


def test_the_example_cases_beside_the_rules_are_the_published_ones():
    copies = ROOT / "rules" / "kmo-portefeuille" / "tests" / "examples"
    for original in (ROOT / "examples").glob("*.json"):
        assert (copies / original.name).read_text() == original.read_text(), original.name
