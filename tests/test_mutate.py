"""`kmo-rules test --mutate`: small mutants of the rules, the tests run against each, the ones no test kills.

The small rules of tests/rule_errors/clean (two versions, three tests) keep these fast; one test runs the
bundled rules with a budget, as CI would.
"""
import shutil
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest

from engine.core import nodes
from engine.lang.parsed import parse_ruleset
from engine.pipeline import open_rules
from engine.present.mutate import (INVALID, KILLED, NOT_RUN, SURVIVED, UNTESTED, _Versions, apply_mutant, mutants,
                                   run_mutants, try_mutant)
from engine.present.testing import citations, find_test_files, read_tests, run_test
from helpers import cli as kmo, mini_rules

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def rules(tmp_path, monkeypatch) -> Path:
    return mini_rules(tmp_path, monkeypatch)


def parsed_versions(book) -> dict:
    return {source.version: parse_ruleset(source)[0] for source in book.sources}


def results_of(book, folder: Path | None = None) -> list:
    """The results of the tests in `folder` (default: the whole rules folder of the book)."""
    paths = find_test_files(folder or book.rules_dir)
    return [run_test(book, test) for path in paths for test in read_tests(path, root=book.rules_dir)[0]]


def changes(found, name: str) -> set[tuple[str, str, str]]:
    return {(m.operator, m.before, m.after) for m in found if m.target.name == name}


def test_each_kind_of_change_is_made(rules):
    found = mutants(parsed_versions(open_rules(rules.parent)))
    size = changes(found, "size_class")
    assert ("flip", "enterprise.employees < 50", "enterprise.employees >= 50") in size
    assert ("boundary", "enterprise.employees < 50", "enterprise.employees <= 50") in size
    assert ("step", "50", "49") in size and ("step", "50", "51") in size
    assert ("swap", "if enterprise.employees < 50 then A else B", "then and else swapped") in size
    assert changes(found, "legal_form_excluded") == {
        ("flip", "enterprise.legal_form in excluded_legal_forms", "enterprise.legal_form not in excluded_legal_forms")}
    assert {("step", "14 days", "13 days"), ("step", "14 days", "15 days")} == changes(found, "application_period")
    assert ("step", "EUR 100", "EUR 99.99") in changes(found, "minimum_amount")
    rows = {(m.target.row, m.operator, m.after) for m in found if m.target.name == "excluded_legal_forms"}
    assert rows == {("vzw", "row", "removed"), ("foundation", "row", "removed")}


def test_a_definition_is_mutated_once_for_every_version_that_holds_it(rules):
    found = mutants(parsed_versions(open_rules(rules.parent)))
    size = [m for m in found if m.target.name == "size_class"]
    assert {m.target.versions for m in size} == {("2024-01-01", "2025-01-01")}
    rates = sorted({(m.target.span.file.rsplit("/", 1)[-1], m.target.versions) for m in found
                    if m.target.name == "rates.small"})
    assert rates == [("2024-01-01.yaml", ("2024-01-01",)), ("2025-01-01.yaml", ("2025-01-01",))]
    assert all(m.at.line >= m.target.span.line for m in found)  # each change points into its definition


def test_a_mutant_is_a_new_tree_and_the_version_stays_as_it_was(rules):
    book = open_rules(rules.parent)
    parsed = parse_ruleset(book.sources[0])[0]
    before = parsed.rules["size_class"].expr
    mutant = next(m for m in mutants({"2024-01-01": parsed}) if m.target.name == "size_class" and m.operator == "swap"
                  and m.path == ())
    mutated = apply_mutant(parsed, mutant)
    assert parsed.rules["size_class"].expr is before  # nothing changed in place
    after = mutated.rules["size_class"].expr
    assert isinstance(after, nodes.If) and after.then is before.otherwise and after.otherwise is before.then
    assert mutated.rules["subsidy"] is parsed.rules["subsidy"]  # the rest is shared, not copied
    assert list(mutated.rules) == list(parsed.rules)  # the order (of reasons, notes, fields) is kept
    row = next(m for m in mutants({"2024-01-01": parsed}) if m.target.row == "vzw")
    assert list(apply_mutant(parsed, row).tables["excluded_legal_forms"].rows) == ["foundation"]
    assert list(parsed.tables["excluded_legal_forms"].rows) == ["vzw", "foundation"]


def test_a_version_without_the_definition_as_written_is_left_out(rules):
    book = open_rules(rules.parent)
    versions = parsed_versions(book)
    rate_2024 = next(m for m in mutants(versions) if m.target.name == "rates.small" and
                     m.target.versions == ("2024-01-01",))
    assert apply_mutant(versions["2025-01-01"], rate_2024) is None  # 2025 sets its own rates.small


def test_the_report_names_what_no_test_kills(rules):
    book = open_rules(rules.parent)
    report = run_mutants(book, results_of(book))
    status = {(r.mutant.target.name, r.mutant.before, r.mutant.after): r for r in report.results}
    assert status[("rates.small", "30 %", "29 %")].status == KILLED  # the 2024 test expects 300.00
    assert status[("rates.small", "30 %", "29 %")].by.endswith("a small firm gets 30 % in 2024")
    assert status[("rates.small", "30 %", "29 %")].how == "rate: expected 30 %, got 0.29"
    assert status[("rates.medium", "20 %", "19 %")].status == SURVIVED  # no test of a medium firm
    boundary = status[("size_class", "enterprise.employees < 50", "enterprise.employees <= 50")]
    assert boundary.status == SURVIVED  # no test at 50 employees
    assert status[("excluded_legal_forms", "row vzw", "removed")].status == KILLED
    assert status[("excluded_legal_forms", "row foundation", "removed")].status == SURVIVED
    assert report.tests == 3 and report.failing == 0
    assert report.score == pytest.approx(100 * report.count(KILLED) / len(report.results))


def test_a_new_test_kills_what_survived(rules):
    (rules / "tests" / "boundary.yaml").write_text("""\
tests:
  - name: a firm of 50 is medium
    case:
      application_date: "2024-06-10"
      enterprise: {legal_form: bv, establishment_region: flemish, nace_code: "62.010", employees: 50,
                   annual_turnover: 1000000, balance_sheet_total: 500000}
      project: {kind: training, theme: digitalisation, provider_registered: true, start_date: "2024-06-03",
                costs: {fee: 1000}}
    expect: {size_class: medium, rate: 20 %}
""")
    book = open_rules(rules.parent)
    report = run_mutants(book, results_of(book))
    killed = {(r.mutant.target.name, r.mutant.after) for r in report.results if r.status == KILLED}
    assert ("size_class", "enterprise.employees <= 50") in killed
    assert ("rates.medium", "19 %") in killed
    assert report.tests == 4


def test_an_unchanged_tree_survives_and_a_failing_test_is_left_out(rules):
    book = open_rules(rules.parent)
    results = results_of(book)
    mutant = next(m for m in mutants(parsed_versions(book)) if m.target.name == "size_class" and m.path == ())
    same = replace(mutant, replacement=parse_ruleset(book.sources[0])[0].rules["size_class"].expr)
    state = _Versions(book, {"2024-01-01": tuple(r.test for r in results if r.version == "2024-01-01")}, None)
    assert try_mutant(state, same).status == SURVIVED  # the machinery itself kills nothing
    wrong = [replace(results[0], passed=False)] + results[1:]
    assert run_mutants(book, wrong).tests == 2 and run_mutants(book, wrong).failing == 1


def test_a_mutant_the_checker_refuses_is_not_counted(tmp_path):
    folder = tmp_path / "rules"
    folder.mkdir()
    shutil.copy(ROOT / "tests" / "data" / "mini.case.schema.json", folder)
    (folder / "2024-01-01.yaml").write_text("""\
ruleset: mini
version: "2024-01-01"
effective_from: 2024-01-01
summary: a ruleset for testing mutants
source: the test suite
case_schema: mini.case.schema.json
parameters: {}
rules:
  size_class:
    value: if later != null and later > day then large else small
    type: enum(small, medium, large)
    source: test
conditions: {}
outputs:
  size_class: size_class
""")
    (folder / "tests").mkdir()
    (folder / "tests" / "t.yaml").write_text("""\
tests:
  - name: later than the day
    case: {day: "2024-02-01", later: "2024-02-02", amount: 1, kind: alpha}
    on: 2024-06-01
    expect: {size_class: large}
""")
    book = open_rules(folder)
    report = run_mutants(book, results_of(book))
    status = {(r.mutant.operator, r.mutant.after): r.status for r in report.results}
    assert status[("flip", "later == null")] == INVALID  # `later` may be null in `later > day`
    assert status[("flip", "later <= day")] == KILLED
    assert status[("boundary", "later >= day")] == SURVIVED
    assert status[("swap", "then and else swapped")] == KILLED
    assert report.count(INVALID) == 1 and report.score == pytest.approx(200 / 3)


def test_untested_versions_and_the_time_budget(rules):
    book = open_rules(rules.parent)
    results = [r for r in results_of(book) if r.version == "2024-01-01"]
    report = run_mutants(book, results)
    rate_2025 = [r for r in report.results if r.mutant.target.versions == ("2025-01-01",)]
    assert rate_2025 and {r.status for r in rate_2025} == {UNTESTED}
    assert {r.status for r in run_mutants(book, results, budget=0).results} == {NOT_RUN}


def test_two_jobs_give_the_same_report_as_one(rules):
    book = open_rules(rules.parent)
    results = results_of(book)
    one = [(r.mutant.number, r.status) for r in run_mutants(book, results, jobs=1).results]
    two = run_mutants(book, results, jobs=2)
    assert [(r.mutant.number, r.status) for r in two.results] == one and two.jobs == 2


def test_the_command_reports_survivors_per_definition_a_score_and_junit(rules):
    status, out, err = kmo("test", "rules", "--mutate", "--jobs", "1", "--junit", "report.xml")
    assert (status, err) == (0, "")
    section = out[out.index("mutants no test kills"):]
    assert "parameter rates.medium  rules/mini/2024-01-01.yaml:18  (2 of 2 survive)\n" \
           "  19:14  20 %  ->  19 %\n  19:14  20 %  ->  21 %\n" in section
    assert "table excluded_legal_forms  rules/mini/2024-01-01.yaml:30  (1 of 2 survive)\n" \
           "  36:7  row foundation  ->  removed\n" in section
    assert "\nmutation score 50.0 %: 17 of 34 mutants killed; 3 tests, 1 job, " in section
    assert out.splitlines()[-1] == "3 passed, 0 failed"
    root = ET.parse("report.xml").getroot()
    suites = {suite.get("name"): suite for suite in root}
    assert set(suites) == {"rules/mini/tests/mini.yaml", "mutants of mini"}
    assert suites["rules/mini/tests/mini.yaml"].get("tests") == "3"
    cases = {case.get("name"): case for case in suites["mutants of mini"]}
    assert cases["parameter rates.medium"].find("failure").get("message") == "2 of 2 mutants survive"
    assert cases["parameter rates.small"].find("failure") is None


def test_junit_shows_a_failing_test_as_a_failure(rules):
    path = rules / "tests" / "mini.yaml"
    path.write_text(path.read_text().replace('subsidy: "300.00"', 'subsidy: "350.00"'))
    status, _, _ = kmo("test", "rules", "--junit", "report.xml")
    assert status == 1
    failed = [case for case in ET.parse("report.xml").getroot().iter("testcase") if case.find("failure") is not None]
    assert [case.get("name") for case in failed] == ["a small firm gets 30 % in 2024"]
    assert failed[0].find("failure").get("message") == "subsidy: expected 350.00, got 300.00"
    assert failed[0].get("line") == "3"


def test_junit_to_a_place_that_cannot_be_written(rules):
    status, _, err = kmo("test", "rules", "--junit", "no/such/folder/report.xml")
    assert status == 2 and "cannot write no/such/folder/report.xml" in err


def test_coverage_by_legal_source(rules):
    status, out, _ = kmo("test", "rules", "--coverage", "source")
    assert status == 0
    section = out[out.index("by legal source"):]
    assert "Test data\n  art. 1  5 definitions, 4 exercised, by 3 tests\n" \
           "            not exercised: parameter rates.medium  rules/mini/2024-01-01.yaml:18\n" in section
    assert "  art. 4  2 definitions, all exercised, by 3 tests\n" in section


@pytest.mark.parametrize("source, cited", [
    ("BVR 26 Feb 2016, art. 18, as amended by MB 5 Nov 2019", [("BVR 26 Feb 2016", "art. 18")]),
    ("Decree 16 Mar 2012, art. 3; BVR 26 Feb 2016, art. 7 and 18, as amended in 2025",
     [("Decree 16 Mar 2012", "art. 3"), ("BVR 26 Feb 2016", "art. 7"), ("BVR 26 Feb 2016", "art. 18")]),
    ("Regulation (EU) 1407/2013, art. 3(2) (the current and the two previous fiscal years)",
     [("Regulation (EU) 1407/2013", "art. 3(2)")]),
    ("Recommendation 2003/361/EC, annex, art. 5 and 6; VLAIO, Kmo-portefeuille, 5 Jun 2024 (zelfstandigheidscriterium)",
     [("Recommendation 2003/361/EC", "annex, art. 5"), ("Recommendation 2003/361/EC", "annex, art. 6"),
      ("VLAIO, Kmo-portefeuille, 5 Jun 2024", None)]),
    ("BVR 26 Feb 2016, art. 9, 1st para, 3°, h), as inserted by BVR 25 Nov 2022; MB 23 Dec 2022",
     [("BVR 26 Feb 2016", "art. 9"), ("MB 23 Dec 2022", None)]),
    ("MB 30 Mar 2016, art. 3 and annex (accepted main activities)", [("MB 30 Mar 2016", "art. 3"),
                                                                      ("MB 30 Mar 2016", "annex")]),
    ("VLAIO, Kmo-portefeuille, 5 Jun 2024 (welke kosten; advice counts its fee only)",
     [("VLAIO, Kmo-portefeuille, 5 Jun 2024", None)]),
    ("", []),
])
def test_the_acts_and_articles_a_source_cites(source, cited):
    assert [(c.act, c.article) for c in citations(source)] == cited


@pytest.mark.parametrize("scheme, floor", [("kmo-portefeuille", 85), ("kmo-groeisubsidie", 95)])
def test_the_bundled_rules_within_a_budget(scheme, floor):
    """What CI runs: each bundled scheme with two jobs, bounded in time, and pinned down by its tests (the
    survivors left are equivalent mutants and sample rows; see docs/mutation-testing.md)."""
    book = open_rules(ROOT / "rules", scheme)
    report = run_mutants(book, results_of(book, ROOT / "rules" / scheme), jobs=2, budget=90)
    assert report.failing == 0
    assert report.seconds < 150  # the budget, and the mutants in flight when it ran out
    assert report.score is not None and report.score > floor
    assert all(r.by for r in report.results if r.status == KILLED)
