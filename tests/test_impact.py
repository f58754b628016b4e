"""Impact of a change of rules on cases: which decisions move, by how much, and why."""
import copy
import io
import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from engine.audit.audit_render import render_impact_text
from engine.run.evaluate import evaluate_case
from engine.audit.impact_analysis import CaseInput, impact, read_cases
from engine.pipeline import open_rules
from corpus import corpus_lines, generate_cases, year_spec  # benchmarks/corpus.py
from helpers import cli

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


def test_the_changed_rate_is_explained_by_the_rate_of_the_enterprise_s_own_size(book):
    cases = [CaseInput("small", a_case()), CaseInput("medium", a_case(employees=120, fee=3000))]
    report = impact(book, "2019-11-30", "2019-12-01", cases)
    small, medium = report.case("small"), report.case("medium")
    assert [(s.kind, s.name, s.old, s.new, s.because) for s in small.causes] == [
        ("rule", "applicable_rate", "0.40", "0.30", ("rates.small",))]
    assert [s.because for s in medium.causes] == [("rates.medium",)]  # a medium enterprise never reads rates.small
    assert {s.name for s in small.consequences} >= {"gross_subsidy", "subsidy", "own_contribution"}
    assert [(c.name, c.cases, c.variants) for c in report.causes] == [
        ("applicable_rate", 2, ((("rates.medium",), 1), (("rates.small",), 1)))]
    text = render_impact_text(report)
    assert "why: rule applicable_rate: 40 % -> 30 % (reads rates.small 40 % -> 30 %)\n" in text
    assert "why: rule applicable_rate: 30 % -> 20 % (reads rates.medium 30 % -> 20 %)\n" in text


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
    # the uplift of energy efficiency ends for advice too, but refused advice gets no rate: no cause of anything
    assert [s.name for s in energy.causes] == ["advice_limited_to_cybersecurity"]
    assert "uplifted" in {s.name for s in energy.without_effect}
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


# -- honest causes: the definitions whose change changed the decision, counted on their own cases ---------------

def aid(day, amount, scheme="other-de-minimis"):
    return {"granted_on": day, "amount": amount, "scheme": scheme}


def with_aid(case, *aids):
    case["enterprise"]["prior_aid"] = list(aids)
    return case


RATE_CUT, CEILING, BOTH = ("2019-11-30", "2019-12-01"), ("2019-12-31", "2020-01-01"), ("2019-11-30", "2020-01-01")
THEMES, DE_MINIMIS, ADVICE = ("2022-12-31", "2023-01-01"), ("2023-12-31", "2024-01-01"), ("2026-01-31", "2026-02-01")

# (change, the case, its causes as (kind, name, because)); no causes: the decision does not change
KNOWN_CAUSES = {
    "2019 small": (RATE_CUT, lambda: a_case(fee=1000), [("rule", "applicable_rate", ("rates.small",))]),
    "2019 medium": (RATE_CUT, lambda: a_case(employees=120, fee=3000),
                    [("rule", "applicable_rate", ("rates.medium",))]),
    # the annual ceiling holds the subsidy at EUR 300 before and after: only the rate field changes
    "2019 at the ceiling": (RATE_CUT, lambda: with_aid(a_case(fee=2000), aid("2019-03-01", 9700, "kmo-portefeuille")),
                            [("rule", "applicable_rate", ("rates.small",))]),
    "2020 small above it": (CEILING, lambda: a_case("2019-12-20", fee=30000),
                            [("rule", "annual_ceiling", ("annual_ceilings.small",))]),
    "2020 medium above it": (CEILING, lambda: a_case("2019-12-20", employees=120, fee=50000),
                             [("rule", "annual_ceiling", ("annual_ceilings.medium",))]),
    "2020 below it": (CEILING, lambda: a_case("2019-12-20", fee=1000), []),
    "2019-2020 below the ceiling": (BOTH, lambda: a_case(fee=1000), [("rule", "applicable_rate", ("rates.small",))]),
    "2019-2020 above it": (BOTH, lambda: a_case(fee=30000), [("rule", "applicable_rate", ("rates.small",)),
                                                             ("rule", "annual_ceiling", ("annual_ceilings.small",))]),
    # nothing left of the ceiling before or after: its cut changes nothing
    "2019-2020 ceiling used up": (BOTH, lambda: with_aid(a_case(), aid("2019-02-01", 12000, "kmo-portefeuille")),
                                  [("rule", "applicable_rate", ("rates.small",))]),
    "2023 no theme": (THEMES, lambda: a_case("2022-12-20", theme=None),
                      [("condition", "theme_not_eligible", ("theme_not_eligible", "themes"))]),
    "2023 not on the list": (THEMES, lambda: a_case("2022-12-20", theme="professional_competences",
                                                    service_code="PC-UNKNOWN-999"),
                             [("condition", "service_not_whitelisted",
                               ("service_not_whitelisted", "professional_competences_whitelist"))]),
    "2023 on the list": (THEMES, lambda: a_case("2022-12-20", theme="professional_competences",
                                                service_code="PC-SAMPLE-001"), []),
    "2024 more room under the ceiling": (DE_MINIMIS, lambda: with_aid(a_case("2023-12-20"), aid("2021-06-01", 250000)),
                                         [("rule", "de_minimis.applicable_ceiling", ("de_minimis.ceiling",))]),
    # aid of late 2020 falls in the three years before the grant, not in the fiscal years 2021 to 2023
    "2024 a window back from the grant": (DE_MINIMIS, lambda: with_aid(a_case("2023-12-20"),
                                                                       aid("2020-12-30", 299800)),
                                          [("rule", "de_minimis.applicable_ceiling", ("de_minimis.ceiling",)),
                                           ("rule", "de_minimis.used", ("de_minimis.used", "de_minimis.window"))]),
    "2026 strategy advice": (ADVICE, lambda: a_case("2026-01-20", kind="advice", fee=6000),
                             [("condition", "advice_limited_to_cybersecurity", ("advice_limited_to_cybersecurity",))]),
    "2026 energy advice": (ADVICE, lambda: a_case("2026-01-20", kind="advice", fee=6000, theme="sustainability",
                                                  focus="energy_efficiency"),
                           [("condition", "advice_limited_to_cybersecurity", ("advice_limited_to_cybersecurity",))]),
    "2026 cybersecurity advice": (ADVICE, lambda: a_case("2026-01-20", kind="advice", fee=6000, theme="digitalisation",
                                                         focus="cybersecurity"), []),
}


@pytest.mark.parametrize("name", KNOWN_CAUSES)
def test_known_causes_of_each_change(book, name):
    (first, second), make, causes = KNOWN_CAUSES[name]
    report = impact(book, first, second, [make()])
    if not causes:
        assert report.changed == ()
        return
    assert [(s.kind, s.name, s.because) for s in report.changed[0].causes] == causes
    assert sorted((c.kind, c.name, c.because, c.cases) for c in report.causes) == sorted(c + (1,) for c in causes)


def test_with_two_causes_each_says_which_fields_it_changed(book):
    report = impact(book, *BOTH, [a_case(fee=30000)])
    rate, ceiling = report.changed[0].causes
    assert rate.changes == ("rate",) and ceiling.changes == ("subsidy", "own_contribution")
    text = render_impact_text(report)
    assert "why: rule applicable_rate: 40 % -> 30 % (reads rates.small 40 % -> 30 %), changing rate\n" in text
    assert "changing subsidy and own_contribution" in text
    assert "The changed decision has 2 causes; it counts under each." in text


def test_a_module_s_change_is_a_cause_like_any_other(book):
    report = impact(book, *DE_MINIMIS, [with_aid(a_case("2023-12-20"), aid("2020-12-30", 299800))])
    text = render_impact_text(report)
    assert "why: rule de_minimis.used: 0.00 -> 299800.00 (its definition changed in 2024-01-01, by the module " \
           "de-minimis 2024-01-01; reads de_minimis.window (none) -> 3 years)" in " ".join(text.split())
    assert "rule de_minimis.applicable_ceiling" in text.split("Causes of the changes")[1]


def test_a_module_s_input_binding_stays_out_of_the_consequences(book):
    # refused from February 2026: the aid asked of the de minimis module drops to 0, so its note goes too
    report = impact(book, *ADVICE, [with_aid(a_case("2026-01-20", kind="advice", fee=6000), aid("2025-05-01", 299000))])
    change = report.changed[0]
    assert [s.name for s in change.causes] == ["advice_limited_to_cybersecurity"]
    assert change.field("notes").old == ["de_minimis_ceiling_reached"]
    requested = next(s for s in change.consequences if s.name == "de_minimis.requested")
    assert requested.binding and requested.changes == ("notes",)
    assert "de_minimis.requested" not in render_impact_text(report)


@pytest.fixture(scope="module")
def corpus_2019():
    return generate_cases(year_spec(1200, 11, 2019))


@pytest.fixture(scope="module")
def reports(book, corpus_2019):
    """The impact of each change on a generated corpus of its own year."""
    def of(change, cases):
        return impact(book, *change, cases)
    return {"2019": of(RATE_CUT, corpus_2019), "2019-2020": of(BOTH, corpus_2019),
            "2020": of(CEILING, generate_cases(year_spec(4000, 20, 2020))),
            "2023": of(THEMES, generate_cases(year_spec(3000, 23, 2023))),
            "2024": of(DE_MINIMIS, generate_cases(year_spec(4000, 24, 2024))),
            "2026": of(ADVICE, generate_cases(year_spec(3000, 26, 2026)))}


def _size(book, version, case):
    built = book.build(book.resolve(version))
    return evaluate_case(built.compiled, built.info, case).size_class


def _trace(book, version, case):
    built = book.build(book.resolve(version))
    decision = evaluate_case(built.compiled, built.info, case, explain=True)
    return decision, {(s.kind, s.name): s.value for s in decision.explanation.steps}


def test_the_rate_cut_is_caused_by_the_rate_of_each_enterprise_s_own_size(book, corpus_2019, reports):
    report = reports["2019"]
    sizes = {f"#{n}": _size(book, "2019-11-30", case) for n, case in enumerate(corpus_2019, start=1)}
    assert len(report.changed) > 800
    for change in report.changed:
        rate = "rates.small" if sizes[change.id] == "small" else "rates.medium"
        assert [(s.name, s.because) for s in change.causes] == [("applicable_rate", (rate,))], change.id
    (cause,) = report.causes
    small = sum(1 for change in report.changed if sizes[change.id] == "small")
    assert dict(cause.variants) == {("rates.small",): small, ("rates.medium",): len(report.changed) - small}
    lines = render_impact_text(report, show=None).split("\n  #")[1:]  # one case each
    assert not [line for line in lines if "reads rates.medium" in line and sizes["#" + line.split()[0]] == "small"]


def test_the_2020_ceiling_is_a_cause_only_where_it_binds(book, reports):
    report = reports["2020"]
    assert 20 < len(report.changed) < 200
    for change in report.changed:
        assert [s.name for s in change.causes] == ["annual_ceiling"]
        assert change.subsidy_after < change.subsidy_before  # the ceiling binds under 2020-01-01
    assert report.causes[0].cases == len(report.changed)


def test_with_the_rate_cut_the_ceiling_is_named_only_on_the_cases_where_it_binds(book, corpus_2019, reports):
    report = reports["2019-2020"]
    named = {change.id for change in report.changed if any(s.name == "annual_ceiling" for s in change.causes)}
    binds = set()
    for number, case in enumerate(corpus_2019, start=1):
        before, old = _trace(book, "2019-11-30", case)
        after, new = _trace(book, "2020-01-01", case)
        left = ("rule", "annual_ceiling_left")
        noted = {n.code for n in after.notes} - {n.code for n in before.notes}
        # what is left of the ceiling moved, and it holds the subsidy down now (or its note appeared)
        if old[left] != new[left] and ("annual_ceiling_reached" in noted or (
                any(n.code == "annual_ceiling_reached" for n in after.notes) and after.subsidy == new[left])):
            binds.add(f"#{number}")
    assert named == binds and 0 < len(named) < len(report.changed) / 10
    assert all(any(s.name == "applicable_rate" for s in change.causes) for change in report.changed)


def test_each_new_condition_of_2023_is_counted_on_its_own_cases(reports):
    report = reports["2023"]
    appeared = {c.code: c.cases for c in report.reasons_appeared}
    assert {(c.kind, c.name): c.cases for c in report.causes} == {
        ("condition", "theme_not_eligible"): appeared["theme_not_eligible"],
        ("condition", "service_not_whitelisted"): appeared["service_not_whitelisted"]}
    assert sum(appeared.values()) == len(report.changed)
    for change in report.changed:
        reasons = change.field("reasons")
        assert [s.name for s in change.causes] == [code for code in reasons.new if code not in reasons.old]
    assert "passed" not in render_impact_text(report, show=None).split("Changed decisions")[1]


def test_the_advice_reform_has_one_cause(reports):
    report = reports["2026"]
    assert [(c.name, c.cases) for c in report.causes] == [("advice_limited_to_cybersecurity", len(report.changed))]
    assert any("uplifted" in {s.name for s in change.without_effect} for change in report.changed)
    assert f"Each of the {len(report.changed)} changed decisions has one cause" in render_impact_text(report)


def test_the_de_minimis_reform_is_caused_by_the_module_s_definitions(reports):
    report = reports["2024"]
    assert report.changed
    names = {c.name for c in report.causes}
    assert names and all(name.startswith("de_minimis.") for name in names)
    assert all(change.causes for change in report.changed)


@pytest.mark.parametrize("change", ["2019", "2019-2020", "2020", "2023", "2024", "2026"])
def test_every_cause_changed_its_cases_and_the_counts_add_up(reports, change):
    report = reports[change]
    changed_names = {name for section in ("parameters", "tables", "rules", "conditions", "notes", "outputs")
                     for name in report.diff.changed_names(section)}
    listed = {}
    for case in report.changed:
        assert case.causes, case.id
        for step in case.causes:
            assert step.old != step.new or step.in_from != step.in_to  # a value that changed
            assert not (step.kind == "condition" and not step.old and not step.new)  # never passed -> passed
            assert step.because and set(step.because) <= changed_names
            assert step.changes and set(step.changes) <= {f.field for f in case.fields}
            listed[(step.kind, step.name)] = listed.get((step.kind, step.name), 0) + 1
    assert {(c.kind, c.name): c.cases for c in report.causes} == listed
    for cause in report.causes:
        assert sum(n for _, n in cause.variants) == cause.cases


def test_the_text_shows_how_the_counts_of_a_cause_add_up(reports):
    report = reports["2019"]
    text = render_impact_text(report, show=0)
    (cause,) = report.causes
    section = text.split("Causes of the changes")[1].split("\n\n")[0]
    assert f"  rule applicable_rate  {cause.cases:>7}\n" in section
    for because, cases in cause.variants:
        assert f"{cases:>7}  reads {because[0]}\n" in section
    assert f"Each of the {cause.cases} changed decisions has one cause" in section


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


def test_cli_reports_the_causes_of_the_rate_cut_and_the_new_ceiling(snapshot):
    # a fixed corpus: under and over the ceiling, the ceiling used up, the de minimis ceiling binding, a vzw
    corpus = ROOT / "tests" / "data" / "impact" / "rate-cut-and-ceiling-2019.jsonl"
    status, out, err = cli("diff", "2019-11-30", "2020-01-01", "--cases", str(corpus), "--show", "all")
    assert status == 0 and err == ""
    snapshot.snapshot_dir = SNAPSHOTS
    snapshot.assert_match(out[out.index("Impact on"):], "2019-11-30_to_2020-01-01.txt")


def test_cli_impact_as_json_names_what_each_cause_changed_through():
    corpus = ROOT / "tests" / "data" / "impact" / "rate-cut-and-ceiling-2019.jsonl"
    status, out, _ = cli("diff", "2019-11-30", "2020-01-01", "--cases", str(corpus), "--format", "json")
    assert status == 0
    data = json.loads(out)["impact"]
    rate = next(c for c in data["causes"] if c["name"] == "applicable_rate")
    assert rate["cases"] == sum(v["cases"] for v in rate["variants"]) == 6
    assert rate["variants"] == [{"because": ["rates.small"], "cases": 4}, {"because": ["rates.medium"], "cases": 2}]
    above = next(c for c in data["changed_cases"] if c["id"].endswith(":3"))
    assert [(s["name"], s["because"], s["changes"]) for s in above["causes"]] == [
        ("applicable_rate", ["rates.small"], ["rate"]),
        ("annual_ceiling", ["annual_ceilings.small"], ["subsidy", "own_contribution"])]
    assert "gross_subsidy" in {s["name"] for s in above["without_effect"]}  # the ceiling holds the subsidy
    status, out, _ = cli("diff", "2019-11-30", "2020-01-01", "--cases", str(corpus), "--format", "markdown")
    assert "| rule `applicable_rate` | 6 |  |\n| | 4 | reads rates.small |\n| | 2 | reads rates.medium |" in out


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
