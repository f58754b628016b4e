"""Impact of a change of rules on cases: which decisions move, by how much, and why."""
import copy
import io
import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from engine.audit.audit_render import render_impact_text
from engine.cli import run
from engine.run.evaluate import evaluate_case
from engine.audit.impact_analysis import CaseInput, impact, read_cases
from engine.pipeline import open_rules
from corpus import corpus_lines, generate_cases, year_spec  # benchmarks/corpus.py

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots" / "test_impact"


def a_case(application_date="2019-11-20", *, kind="training", fee=1000, employees=10, legal_form="bv",
           theme="business_strategy", focus=None, **project):
    """A small Flemish bv applying in time for one service; keyword arguments adjust the project."""
    case = {
        "application_date": application_date,
        "enterprise": {"legal_form": legal_form, "establishment_region": "flemish", "nace_code": "62.010",
                       "employees": employees, "annual_turnover": 1_500_000 if employees < 50 else 20_000_000,
                       "balance_sheet_total": 800_000 if employees < 50 else 12_000_000},
        "project": {"kind": kind, "theme": theme, "provider_registered": True, "start_date": application_date,
                    "costs": {"fee": fee}, **project},
    }
    if focus:
        case["project"]["focus"] = focus
    return case


def cli(*argv, stdin="", stderr=None):
    out, err = io.StringIO(), stderr if stderr is not None else io.StringIO()
    status = run(list(argv), io.StringIO(stdin), out, err)
    return status, out.getvalue(), err.getvalue()


# -- the 2019-12-01 rate cut --------------------------------------------------------------

def test_the_rate_cut_lowers_a_small_enterprise_subsidy_by_a_quarter(book):
    cases = [CaseInput(f"fee {fee}", a_case(fee=fee)) for fee in (200, 1000, 2480, 9000)]
    report = impact(book, "2019-11-30", "2019-12-01", cases)
    assert report.decided == 4 and len(report.changed) == 4
    for change in report.changed:
        assert change.subsidy_after == change.subsidy_before * 3 / 4
        assert change.field("rate").old == "0.40" and change.field("rate").new == "0.30"
    assert report.changed[1].subsidy_before == Decimal("400.00")
    assert report.changed[1].subsidy_after == Decimal("300.00")
    assert report.subsidy_change == -(Decimal("80") + 400 + Decimal("992") + 3600) / 4
    assert report.became_eligible == report.became_ineligible == 0


def test_the_rate_cut_takes_a_third_from_a_medium_enterprise_and_nothing_from_a_refused_one(book):
    medium = CaseInput("medium", a_case(employees=120, fee=3000))
    refused = CaseInput("vzw", a_case(legal_form="vzw", fee=3000))
    report = impact(book, "2019-11-30", "2019-12-01", [medium, refused])
    assert [c.id for c in report.changed] == ["medium"]
    change = report.case("medium")
    assert (change.subsidy_before, change.subsidy_after) == (Decimal("900.00"), Decimal("600.00"))
    assert report.unchanged == 1


def test_the_changed_rate_is_explained_by_the_parameter_it_reads(book):
    report = impact(book, "2019-11-30", "2019-12-01", [a_case()])
    change = report.changed[0]
    assert [(s.kind, s.name, s.old, s.new) for s in change.causes] == [("rule", "applicable_rate", "0.40", "0.30")]
    assert "rates.small" in change.causes[0].because
    assert {s.name for s in change.consequences} >= {"gross_subsidy", "subsidy", "own_contribution"}
    assert [(c.name, c.cases) for c in report.causes] == [("applicable_rate", 1)]
    text = render_impact_text(report)
    assert "why: rule applicable_rate: 40 % -> 30 % (reads rates.medium 30 % -> 20 %, rates.small 40 % -> 30 %)" in text


def test_in_a_realistic_corpus_every_small_eligible_subsidy_below_the_ceiling_loses_a_quarter(book):
    cases = generate_cases(year_spec(600, 11, 2019))
    report = impact(book, "2019-11-30", "2019-12-01", cases)
    before = book.build(book.source_named("2016-04-01"))
    checked = 0
    for number, case in enumerate(cases, start=1):
        decision = evaluate_case(before.compiled, before.info, case)
        if not decision.eligible or decision.size_class != "small" or decision.notes and any(
                n.code.endswith("ceiling_reached") for n in decision.notes):
            continue
        change = report.case(f"#{number}")
        assert change is not None
        assert abs(change.subsidy_after - change.subsidy_before * 3 / 4) <= Decimal("0.01")
        checked += 1
    assert checked > 400
    assert report.became_eligible == report.became_ineligible == 0


# -- the 2026-02-01 advice reform ----------------------------------------------------------

def test_advice_other_than_cybersecurity_becomes_ineligible_on_2026_02_01(book):
    day = "2026-01-20"
    cases = [
        CaseInput("strategy advice", a_case(day, kind="advice", fee=6000)),
        CaseInput("energy advice", a_case(day, kind="advice", fee=6000, theme="sustainability",
                                          focus="energy_efficiency")),
        CaseInput("cyber advice", a_case(day, kind="advice", fee=6000, theme="digitalisation", focus="cybersecurity")),
        CaseInput("energy training", a_case(day, fee=2000, theme="sustainability", focus="energy_efficiency")),
    ]
    report = impact(book, "2026-01-31", "2026-02-01", cases)
    assert [c.id for c in report.changed] == ["strategy advice", "energy advice"]
    assert report.became_ineligible == 2 and report.became_eligible == 0
    assert [(c.code, c.cases) for c in report.reasons_appeared] == [("advice_limited_to_cybersecurity", 2)]
    assert report.reasons_disappeared == ()
    strategy = report.case("strategy advice")
    assert strategy.field("eligible").old is True and strategy.field("eligible").new is False
    assert strategy.field("reasons").new == ["advice_limited_to_cybersecurity"]
    assert (strategy.subsidy_before, strategy.subsidy_after) == (Decimal("1800.00"), Decimal("0.00"))
    cause = strategy.causes[0]
    assert (cause.kind, cause.name, cause.in_from, cause.in_to, cause.new) == (
        "condition", "advice_limited_to_cybersecurity", False, True, True)
    energy = report.case("energy advice")
    assert {s.name for s in energy.causes} == {"advice_limited_to_cybersecurity", "uplifted"}
    assert report.subsidy_change == Decimal("-1800.00") - Decimal("2700.00")
    text = render_impact_text(report)
    assert "why: condition advice_limited_to_cybersecurity failed (it was added in 2026-02-01)" in text


def test_the_distribution_counts_every_changed_decision_once(book):
    cases = generate_cases(year_spec(400, 5, 2026))
    report = impact(book, "2026-01-31", "2026-02-01", cases)
    assert sum(b.cases for b in report.distribution) == len(report.changed) > 0
    assert sum((b.total for b in report.distribution), Decimal(0)) == report.subsidy_change
    lower = [b for b in report.distribution if b.direction == "lower" and b.cases]
    assert lower and all(b.total < 0 for b in lower)
    assert report.average_change == (report.subsidy_change / report.decided).quantize(Decimal("0.01"))


def test_a_table_entry_removed_makes_cases_eligible_and_names_the_table(tmp_path):
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    (tmp_path / "rules" / "kmo-portefeuille" / "2027-01-01.yaml").write_text(
        'ruleset: kmo-portefeuille\nversion: "2027-01-01"\nfollows: "2026-02-01"\neffective_from: 2027-01-01\n'
        "summary: Foundations admitted.\nsource: A test decree\n"
        "changes:\n  table_rows:\n    excluded_legal_forms:\n      remove: [foundation]\n", encoding="utf-8")
    edited = open_rules(tmp_path / "rules")
    cases = [CaseInput("foundation", a_case("2026-12-20", legal_form="foundation")),
             CaseInput("vzw", a_case("2026-12-20", legal_form="vzw"))]
    report = impact(edited, "2026-12-31", "2027-01-01", cases)
    assert [c.id for c in report.changed] == ["foundation"]
    assert report.became_eligible == 1
    assert [(c.code, c.cases) for c in report.reasons_disappeared] == [("legal_form_excluded", 1)]
    cause = report.changed[0].causes[0]
    assert (cause.kind, cause.name, cause.because) == ("condition", "legal_form_excluded", ("excluded_legal_forms",))
    assert "why: condition legal_form_excluded: failed -> passed (reads excluded_legal_forms)" in \
        render_impact_text(report)


# -- invalid input is counted, never fatal -----------------------------------------------------

def test_invalid_cases_are_counted_and_listed_with_their_first_problem(book):
    broken = a_case()
    broken["project"]["costs"]["fee"] = "abc"
    no_code = a_case("2022-12-20", theme="professional_competences")  # a service code is required from 2023
    cases = [CaseInput("good", a_case("2022-12-20")), CaseInput("broken", broken), CaseInput("no code", no_code),
             CaseInput("unreadable", None, "not valid JSON: Expecting value at column 1")]
    report = impact(book, "2022-12-31", "2023-01-01", cases)
    assert report.cases == 4 and report.decided == 1
    invalid = {c.id: c for c in report.invalid}
    assert invalid["broken"].problem.startswith("project.costs.fee: must be a number")
    assert invalid["broken"].under == ("2021-09-14", "2023-01-01")
    assert invalid["no code"].under == ("2023-01-01",)
    assert invalid["unreadable"].under == ()
    text = render_impact_text(report)
    assert "Invalid cases (3), not compared" in text and "broken: project.costs.fee: must be a number" in text


def test_cases_are_read_from_a_folder_and_from_json_lines(tmp_path):
    folder = tmp_path / "cases"
    (folder / "more").mkdir(parents=True)
    (folder / "a.json").write_text(json.dumps(a_case()), encoding="utf-8")
    (folder / "more" / "b.yaml").write_text("application_date: 2019-11-20\nenterprise: {}\nproject: {}\n",
                                            encoding="utf-8")
    (folder / "c.json").write_text("{not json", encoding="utf-8")
    cases = read_cases(folder)
    assert [c.id for c in cases] == ["a.json", "c.json", "more/b.yaml"]
    assert cases[1].problem.startswith("not valid JSON")
    lines = tmp_path / "cases.jsonl"
    lines.write_text(json.dumps(a_case()) + "\n\n{oops\n" + json.dumps(a_case(fee=5)) + "\n", encoding="utf-8")
    cases = read_cases(lines)
    assert [c.id for c in cases] == ["cases.jsonl:1", "cases.jsonl:3", "cases.jsonl:4"]
    assert cases[1].problem is not None and cases[2].raw["project"]["costs"]["fee"] == 5


# -- the command line ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def corpus_2026(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "corpus-2026.jsonl"
    path.write_text("".join(line + "\n" for line in corpus_lines(generate_cases(year_spec(300, 3, 2026)))),
                    encoding="utf-8")
    return path


def test_cli_reports_the_impact_of_the_advice_reform(corpus_2026, snapshot):
    status, out, err = cli("diff", "2026-01-31", "2026-02-01", "--cases", str(corpus_2026), "--show", "5")
    assert status == 0 and err == ""
    snapshot.snapshot_dir = SNAPSHOTS
    snapshot.assert_match(out[out.index("Impact on"):], "2026-01-31_to_2026-02-01.txt")


def test_cli_impact_as_json_for_programs(corpus_2026):
    status, out, _ = cli("diff", "2026-01-31", "2026-02-01", "--cases", str(corpus_2026), "--format", "json")
    assert status == 0
    data = json.loads(out)["impact"]
    assert data["cases"] == 300 and data["decided"] == 300
    assert data["changed"] == len(data["changed_cases"]) > 0
    assert data["reasons_appeared"]["advice_limited_to_cybersecurity"] == data["became_ineligible"] + sum(
        1 for c in data["changed_cases"] if not c["eligible"]["before"])
    first = data["changed_cases"][0]
    assert first["causes"][0]["name"] == "advice_limited_to_cybersecurity"
    assert Decimal(data["subsidy"]["change"]) < 0


def test_cli_reads_json_lines_from_standard_input(corpus_2026):
    lines = corpus_2026.read_text(encoding="utf-8").splitlines()[:20]
    status, out, _ = cli("diff", "2026-01-31", "2026-02-01", "--cases", "-", "--format", "json",
                         stdin="\n".join(lines) + "\n")
    assert status == 0 and json.loads(out)["impact"]["cases"] == 20


def test_cli_markdown_impact(corpus_2026):
    status, out, _ = cli("diff", "2026-01-31", "2026-02-01", "--cases", str(corpus_2026), "--format", "markdown")
    assert status == 0
    assert "## Impact on 300 cases: 2026-01-01 → 2026-02-01" in out
    assert "| `advice_limited_to_cybersecurity` |" in out


def test_cli_refuses_a_missing_cases_path_with_exit_2(tmp_path):
    status, out, err = cli("diff", "2026-01-31", "2026-02-01", "--cases", str(tmp_path / "nowhere"))
    assert status == 2 and out == ""
    assert "cannot read the cases: no file or folder" in err and "Traceback" not in err


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_goes_to_standard_error_only_when_it_is_a_terminal(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(line + "\n" for line in corpus_lines(generate_cases(year_spec(2000, 1, 2026)))),
                    encoding="utf-8")
    status, _, err = cli("diff", "2026-01-31", "2026-02-01", "--cases", str(path), "--format", "json")
    assert status == 0 and err == ""
    terminal = _Terminal()
    status, out, _ = cli("diff", "2026-01-31", "2026-02-01", "--cases", str(path), "--format", "json",
                         stderr=terminal)
    assert status == 0 and "deciding 2000/2000 cases" in terminal.getvalue()
    assert "deciding" not in out


def test_cases_are_never_changed_by_the_comparison(book):
    case = a_case()
    kept = copy.deepcopy(case)
    impact(book, "2019-11-30", "2019-12-01", [case])
    assert case == kept
