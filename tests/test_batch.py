"""Batch jobs and portals: open the rules once, decide many cases in order, keep the bad ones as errors."""
import io
import json
import pickle
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from corpus import case_json, generate_cases, year_spec
from engine import CaseError, load_ruleset, open_rules
from engine.run.batch import CHUNK, IN_FLIGHT_PER_JOB
from engine.cli import run

ROOT = Path(__file__).resolve().parent.parent
CASES = generate_cases(year_spec(300, 5, 2024)) + generate_cases(year_spec(200, 6, 2019))
LINES = [case_json(c) for c in CASES]
BAD = json.dumps({"application_date": "2024-06-10", "enterprise": {}, "project": {}})


def cli(*argv, stdin=""):
    out, err = io.StringIO(), io.StringIO()
    status = run([str(a) for a in argv], io.StringIO(stdin), out, err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def singly():
    """Each case decided on its own through the API: what every batch path must reproduce."""
    book = open_rules()
    out = []
    for case in CASES:
        try:
            out.append(book.evaluate(case).to_dict())
        except CaseError as error:
            out.append(error)
    return out


def _decisions(out: str) -> list:
    return [json.loads(line) for line in out.splitlines()]


def test_a_jsonl_file_gives_one_decision_per_line_in_input_order(tmp_path, singly):
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(LINES) + "\n")
    status, out, err = cli("evaluate", path, "--jobs", "1")
    assert status == 0
    assert _decisions(out) == json.loads(json.dumps([d for d in singly if not isinstance(d, CaseError)]))
    assert err.strip() == f"{len(LINES)} cases: {len(LINES)} decided, 0 invalid, " + err.split("invalid, ")[1].strip()


def test_json_lines_on_standard_input_and_two_jobs_give_the_same_lines(tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(LINES) + "\n")
    _, one, _ = cli("evaluate", path, "--jobs", "1")
    status, two, _ = cli("evaluate", "-", "--jobs", "2", stdin="\n".join(LINES) + "\n")
    assert status == 0 and two == one


def test_keep_going_writes_an_error_line_in_place_and_exits_1():
    lines = LINES[:3] + [BAD] + LINES[3:6]
    status, out, err = cli("evaluate", "-", "--keep-going", "--jobs", "1", stdin="\n".join(lines))
    assert status == 1
    rows = _decisions(out)
    assert len(rows) == 7 and "ruleset" in rows[2] and "ruleset" in rows[4]
    assert rows[3]["line"] == 4
    paths = {p["path"] for p in rows[3]["problems"]}
    assert {"enterprise.legal_form", "project.kind"} <= paths
    assert "7 cases: 6 decided, 1 invalid" in err


def test_without_keep_going_the_first_bad_case_stops_the_run_with_exit_2():
    lines = LINES[:3] + [BAD] + LINES[3:6]
    status, out, err = cli("evaluate", "-", "--jobs", "1", stdin="\n".join(lines))
    assert status == 2
    assert len(out.splitlines()) == 3  # what was decided before it, nothing after
    assert "line 4: enterprise.legal_form: is required" in err


def test_a_bad_case_early_in_a_long_batch_on_two_jobs_stops_the_run_cleanly():
    lines = [BAD] + LINES * 20
    status, out, err = cli("evaluate", "-", "--jobs", "2", stdin="\n".join(lines))
    assert status == 2 and out == "" and "line 1: enterprise.legal_form: is required" in err


def test_a_line_that_is_not_json_is_an_error_line():
    status, out, _ = cli("evaluate", "-", "--keep-going", "--jobs", "1", stdin=LINES[0] + "\n{oops\n" + LINES[1])
    assert status == 1
    assert _decisions(out)[1]["line"] == 2 and "not valid JSON" in _decisions(out)[1]["problems"][0]["message"]


def test_one_case_on_one_line_is_still_one_case():
    status, out, _ = cli("evaluate", "-", stdin=LINES[0] + "\n")
    assert status == 0 and out.startswith("{\n")  # printed as a single decision


def test_evaluate_many_yields_decisions_in_input_order_on_two_processes(singly):
    book = open_rules()
    good = [c for c, d in zip(CASES, singly) if not isinstance(d, CaseError)]
    one = [d.to_dict() for d in book.evaluate_many(good, jobs=1)]
    two = [d.to_dict() for d in book.evaluate_many(good, jobs=2)]
    assert one == two == [d for d in singly if not isinstance(d, CaseError)]


def test_evaluate_many_raises_at_a_bad_case_or_yields_its_error_with_keep_going():
    book = open_rules()
    cases = CASES[:2] + [json.loads(BAD)] + CASES[2:4]
    got = []
    with pytest.raises(CaseError):
        for decision in book.evaluate_many(cases, jobs=1):
            got.append(decision)
    assert len(got) == 2
    kept = list(book.evaluate_many(cases, jobs=2, keep_going=True))
    assert len(kept) == 5 and isinstance(kept[2], CaseError)
    assert any(p.path == ("enterprise", "legal_form") for p in kept[2].problems)


def test_evaluate_many_reads_its_input_as_it_goes():
    pulled = 0

    def endless():
        nonlocal pulled
        while True:
            for case in CASES:
                pulled += 1
                yield case
    results = open_rules().evaluate_many(endless(), jobs=2)
    next(results)
    assert pulled <= CHUNK * (2 * IN_FLIGHT_PER_JOB + 1)
    results.close()


def test_a_book_and_a_ruleset_pickle_for_any_executor():
    ruleset = load_ruleset(on="2024-06-10")
    again = pickle.loads(pickle.dumps(ruleset))
    assert again.info == ruleset.info
    assert again.evaluate(CASES[0]).to_dict() == ruleset.evaluate(CASES[0]).to_dict()
    book = pickle.loads(pickle.dumps(open_rules()))
    assert book.evaluate(CASES[0]).to_dict() == ruleset.evaluate(CASES[0]).to_dict()
    error = pickle.loads(pickle.dumps(CaseError([], "x")))
    assert isinstance(error, CaseError) and error.source == "x"


def test_load_ruleset_per_case_reuses_the_rules_until_a_file_changes(tmp_path):
    folder = tmp_path / "rules"
    shutil.copytree(ROOT / "rules" / "kmo-portefeuille", folder / "kmo-portefeuille")
    first = load_ruleset(on="2024-06-10", rules=folder)
    assert load_ruleset(on="2024-06-10", rules=folder)._built is first._built  # not loaded again
    changed = folder / "kmo-portefeuille" / "2023-01-01.yaml"
    changed.write_text(changed.read_text() + "\n# an analyst's comment\n")
    assert load_ruleset(on="2024-06-10", rules=folder)._built is not first._built


def test_the_version_is_picked_by_each_cases_own_date():
    book = open_rules()
    decisions = {c["application_date"][:4]: book.evaluate(c).ruleset.version for c in CASES[::50]}
    assert decisions["2019"] == "2016-04-01" and decisions["2024"] == "2024-01-01"


def test_money_as_decimal_strings_in_json_lines(singly):
    first = dict(CASES[0])
    text = json.dumps(first, default=lambda v: format(v, "f") if isinstance(v, Decimal) else str(v))
    status, out, _ = cli("evaluate", "-", "--jobs", "1", stdin=text + "\n" + text + "\n")
    assert status == 0 and _decisions(out)[0] == json.loads(json.dumps(singly[0]))
