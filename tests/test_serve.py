"""`kmo-rules serve` as a portal developer uses it: the JSON API against the real app (Starlette's test client).

Every answer is held to what the command line says for the same input: the
same decisions, the same problems with their JSON paths, the same error
lines in a batch.
"""
import json
import warnings
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the serve extra is not installed: pip install '.[serve]'")
pytest.importorskip("httpx", reason="Starlette's test client needs httpx: pip install '.[test]'")

from engine.serve.app import create_app  # noqa: E402
from engine.serve.settings import Limits, Settings  # noqa: E402
from helpers import cli  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))
SCHEME = "kmo-portefeuille"
JSON = {"content-type": "application/json"}
LINES = {"content-type": "application/x-ndjson"}


def shared_examples() -> Path | None:
    for base in (ROOT.parent / "shared", Path("/work/shared")):
        if (base / "examples").is_dir():
            return base / "examples"
    return None


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


def decide(client, body, query="", scheme=SCHEME):
    text = body if isinstance(body, str) else json.dumps(body)
    return client.post(f"/v1/{scheme}/decisions{query}", content=text, headers=JSON)


# -- decisions ------------------------------------------------------------------------------

@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_a_decision_is_the_one_the_command_line_makes(client, path):
    answer = decide(client, path.read_text())
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    status, out, _ = cli("evaluate", path)
    assert status == 0 and answer.json() == json.loads(out)
    assert len(answer.headers["decision-id"]) == 36


def test_the_shared_examples_get_their_expected_decisions(client):
    folder = shared_examples()
    if folder is None:
        pytest.skip("no shared/examples beside the project")
    for case in sorted(folder.glob("*.case.json")):
        expected = json.loads(case.with_name(case.name.replace(".case.", ".expected.")).read_text())
        got = decide(client, case.read_text()).json()
        for key, value in expected.items():
            if key in ("reasons", "notes"):
                assert sorted(r["code"] for r in got[key]) == sorted(r["code"] for r in value), case.name
            else:
                assert got[key] == value, (case.name, key)


def test_explain_and_lang_work_as_on_the_command_line(client):
    path = ROOT / "examples" / "vzw-in-brussels-refused.json"
    answer = decide(client, path.read_text(), "?explain=true&lang=nl").json()
    _, out, _ = cli("evaluate", path, "--explain", "--lang", "nl")
    assert answer == json.loads(out)
    assert answer["explanation"]["lang"] == "nl" and answer["explanation"]["steps"]
    assert not answer["eligible"] and len(answer["reasons"]) == 2


def test_on_decides_under_the_rules_of_another_date(client):
    path = ROOT / "examples" / "small-cybersecurity-training.json"
    answer = decide(client, path.read_text(), "?on=2020-01-01").json()
    assert answer["ruleset"]["version"] == "2020-01-01" and answer["subsidy"] == "705.00"
    _, out, _ = cli("evaluate", path, "--on", "2020-01-01")
    assert answer == json.loads(out)


BAD_CASE = {"application_date": "2024-06-10", "enterprise": {"legal_form": "bvba", "establishment_region": "flemish",
            "nace_code": "62.010", "employees": 12, "annual_turnover": 1500000, "balance_sheet_total": 800000},
            "project": {"kind": "training", "theme": "digitalisation", "provider_registered": True,
                        "start_date": "2024-06-03", "costs": {"fee": "abc"}}}


def test_a_bad_case_is_422_problem_json_with_the_command_lines_problems(client):
    answer = decide(client, BAD_CASE)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"].endswith("/invalid-case") and problem["status"] == 422
    status, _, err = cli("evaluate", "-", stdin=json.dumps(BAD_CASE))
    assert status == 2
    assert [f"{p['path']}: {p['message']}" for p in problem["problems"]] == err.strip().splitlines()
    legal_form = next(p for p in problem["problems"] if p["path"] == "enterprise.legal_form")
    assert legal_form["did_you_mean"] == "bv" and "did you mean 'bv'?" in legal_form["message"]
    assert any(p["path"] == "project.costs.fee" for p in problem["problems"])


def test_an_unknown_scheme_is_404_with_the_known_ones(client):
    answer = decide(client, BAD_CASE, scheme="kmo-portefeuile")
    assert answer.status_code == 404 and answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert SCHEME in problem["schemes"] and f"did you mean '{SCHEME}'?" in problem["detail"]
    for route in ("versions", "rules", "diff?from=2020-01-01&to=2021-01-01", "schemas/case.json"):
        assert client.get(f"/v1/nope/{route}").status_code == 404


def test_query_parameters_are_checked_like_case_fields(client):
    body = (ROOT / "examples" / "small-cybersecurity-training.json").read_text()
    cases = {"?explain=maybe": "explain", "?lang=fr": "lang", "?on=2024-13-01": "on", "?onn=2024-01-01": "onn",
             "?on=1990-01-01": "on", "?lang=en&lang=nl": "lang"}
    for query, name in cases.items():
        answer = decide(client, body, query)
        assert answer.status_code == 400, query
        assert answer.json()["problems"][0]["path"] == name
    assert "did you mean 'on'?" in decide(client, body, "?onn=2024-01-01").json()["detail"]


# -- batches --------------------------------------------------------------------------------

def test_a_batch_is_json_lines_in_and_out_in_order_as_the_command_line(client, tmp_path):
    lines = [json.dumps(json.loads(p.read_text())) for p in EXAMPLES]
    body = "\n".join(lines[:3] + ["", "not json", json.dumps(BAD_CASE)] + lines[3:]) + "\n"
    answer = client.post(f"/v1/{SCHEME}/decisions:batch", content=body, headers=LINES)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/x-ndjson")
    batch = tmp_path / "cases.jsonl"
    batch.write_text(body)
    status, out, _ = cli("evaluate", batch, "--keep-going", "--jobs", "1")
    assert status == 1
    assert [json.loads(line) for line in answer.text.splitlines()] == [json.loads(line) for line in out.splitlines()]
    got = [json.loads(line) for line in answer.text.splitlines()]
    assert len(got) == len(EXAMPLES) + 2 and got[3]["line"] == 5 and got[4]["line"] == 6


def test_a_batch_over_the_limit_is_413_before_any_decision():
    with TestClient(create_app(Settings(limits=Limits(batch_cases=3)))) as client:
        body = "\n".join(json.dumps(json.loads(p.read_text())) for p in EXAMPLES[:4])
        answer = client.post(f"/v1/{SCHEME}/decisions:batch", content=body, headers=LINES)
        assert answer.status_code == 413 and answer.json()["type"].endswith("/batch-too-large")
        ok = client.post(f"/v1/{SCHEME}/decisions:batch", content=body.split("\n", 1)[1], headers=LINES)
        assert ok.status_code == 200 and len(ok.text.splitlines()) == 3


def test_a_batch_out_of_time_gives_every_case_left_its_error_line_in_order(monkeypatch):
    import time

    from engine.serve.backend import Backend
    with TestClient(create_app(Settings(limits=Limits(seconds=1.0)))) as client:
        real = Backend.decide_line

        def slow(self, *args, **kwargs):
            time.sleep(0.004)  # 64 cases a trip: the first trips fit in the second, 400 cases do not
            return real(self, *args, **kwargs)
        monkeypatch.setattr(Backend, "decide_line", slow)
        one = json.dumps(json.loads(EXAMPLES[0].read_text()))
        answer = client.post(f"/v1/{SCHEME}/decisions:batch", content="\n".join([one] * 400), headers=LINES)
        lines = [json.loads(line) for line in answer.text.splitlines()]
        assert answer.status_code == 200 and len(lines) == 400
        decided = [line for line in lines if "ruleset" in line]
        late = [line for line in lines if "line" in line]
        assert decided and late and lines.index(late[0]) == len(decided)
        assert [line["line"] for line in late] == list(range(len(decided) + 1, 401))
        assert "time limit" in late[0]["problems"][0]["message"] or "within" in late[0]["problems"][0]["message"]


# -- the catalog, the rules, audits -----------------------------------------------------------

def test_schemes_versions_and_health_name_what_is_served(client):
    schemes = client.get("/v1/schemes").json()["schemes"]
    ids = [s["id"] for s in schemes]
    assert ids[0] == SCHEME
    _, out, _ = cli("versions", "--format", "json")
    versions = client.get(f"/v1/{SCHEME}/versions").json()["versions"]
    assert [(v["version"], v["sha256"]) for v in versions] == [(v["version"], v["sha256"]) for v in json.loads(out)]
    health = client.get("/healthz").json()
    assert health["status"] == "ok"
    assert health["schemes"][SCHEME]["versions"] == [v["version"] for v in versions]
    assert set(health["schemes"]) == set(ids)


def test_every_scheme_of_the_catalog_decides_its_own_cases(client):
    folder = shared_examples()
    schemes = [s["id"] for s in client.get("/v1/schemes").json()["schemes"]]
    if folder is None or "kmo-groeisubsidie" not in schemes:
        pytest.skip("the second scheme or its shared examples are not there")
    for case in sorted((folder / "kmo-groeisubsidie").glob("*.case.json")):
        expected = json.loads(case.with_name(case.name.replace(".case.", ".expected.")).read_text())
        got = decide(client, case.read_text(), scheme="kmo-groeisubsidie").json()
        assert got["ruleset"]["id"] == "kmo-groeisubsidie"
        assert {k: got[k] for k in expected if k not in ("reasons", "notes")} == \
            {k: v for k, v in expected.items() if k not in ("reasons", "notes")}


def test_rules_on_a_date_are_what_show_prints(client):
    import yaml
    data = client.get(f"/v1/{SCHEME}/rules?on=2024-06-10").json()
    _, out, _ = cli("show", "--on", "2024-06-10", "--provenance")
    shown = yaml.safe_load(out)
    assert data["version"] == shown["version"] == "2024-01-01" and data["sha256"] == shown["sha256"]
    assert data["parameters"] == shown["parameters"] and data["conditions"] == shown["conditions"]
    text = client.get(f"/v1/{SCHEME}/rules?version=2024-01-01&format=yaml")
    assert text.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(text.text)["sha256"] == data["sha256"]
    assert client.get(f"/v1/{SCHEME}/rules?on=1990-01-01").status_code == 404
    assert client.get(f"/v1/{SCHEME}/rules?on=2024-06-10&version=2024-01-01").status_code == 400


def test_diff_is_the_command_lines_in_json_and_markdown(client):
    data = client.get(f"/v1/{SCHEME}/diff?from=2019-11-30&to=2020-01-01").json()
    _, out, _ = cli("diff", "2019-11-30", "2020-01-01", "--format", "json")
    expected = json.loads(out)
    expected.pop("impact", None)
    assert data == expected
    text = client.get(f"/v1/{SCHEME}/diff?from=2019-11-30&to=2020-01-01&format=markdown")
    _, out, _ = cli("diff", "2019-11-30", "2020-01-01", "--format", "markdown")
    assert text.headers["content-type"].startswith("text/markdown") and text.text == out
    assert client.get(f"/v1/{SCHEME}/diff?from=2019-11-30").status_code == 400
    assert client.get(f"/v1/{SCHEME}/diff?from=xyz&to=2020-01-01").status_code == 404


def test_impact_of_json_lines_cases_is_the_command_lines(client, tmp_path):
    from corpus import corpus_lines, generate_cases, year_spec  # benchmarks/corpus.py
    body = "\n".join(corpus_lines(generate_cases(year_spec(60, 7, 2026)))) + "\n"
    answer = client.post(f"/v1/{SCHEME}/impact?from=2026-01-31&to=2026-02-01", content=body, headers=LINES)
    assert answer.status_code == 200
    path = tmp_path / "line.jsonl"
    path.write_text(body)
    _, out, _ = cli("diff", "2026-01-31", "2026-02-01", "--cases", path, "--format", "json")
    expected = json.loads(out)["impact"]
    got = answer.json()["impact"]
    assert {k: v for k, v in got.items() if k != "changed_cases"} == \
        {k: v for k, v in expected.items() if k != "changed_cases"}
    assert [c["fields"] for c in got["changed_cases"]] == [c["fields"] for c in expected["changed_cases"]]
    assert got["cases"] == 60 and got["changed"] > 0


def test_verify_says_identical_or_lists_the_differences(client):
    case = json.loads((ROOT / "examples" / "small-cybersecurity-training.json").read_text())
    decision = decide(client, case).json()
    same = client.post(f"/v1/{SCHEME}/verify", json={"case": case, "decision": decision}).json()
    assert same["identical"] and same["differences"] == [] and same["version"] == "2024-01-01"
    decision["subsidy"] = "1000.00"
    other = client.post(f"/v1/{SCHEME}/verify", json={"case": case, "decision": decision}).json()
    assert not other["identical"] and [d["field"] for d in other["differences"]] == ["subsidy"]
    assert client.post(f"/v1/{SCHEME}/verify", json={"case": case}).status_code == 422
    assert client.post(f"/v1/{SCHEME}/verify", json={"case": case, "decision": 5}).status_code == 422
    assert client.post(f"/v1/{SCHEME}/verify", json={"case": case, "decision": decision, "x": 1}).status_code == 422


def test_the_schemas_are_the_contracts_files(client):
    for name, file in (("case.json", "case.schema.json"), ("decision.json", "decision.schema.json")):
        answer = client.get(f"/v1/{SCHEME}/schemas/{name}")
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/schema+json")
        assert answer.json() == json.loads((ROOT / "schemas" / file).read_text())
    assert client.get(f"/v1/{SCHEME}/schemas/other.json").status_code == 404


def test_an_unknown_route_or_method_is_a_problem_not_a_page(client):
    assert client.get("/v1/nothing").headers["content-type"] == "application/problem+json"
    answer = client.get(f"/v1/{SCHEME}/decisions")
    assert answer.status_code == 405 and "POST" in answer.headers["allow"]


# -- the decision log -------------------------------------------------------------------------

def test_the_log_has_one_line_per_decision_without_the_input_unless_asked(tmp_path):
    from engine.serve.decision_log import input_hash
    log = tmp_path / "decisions.jsonl"
    case = json.loads((ROOT / "examples" / "small-cybersecurity-training.json").read_text(), parse_float=str)
    with TestClient(create_app(Settings(log=log))) as client:
        first = decide(client, case)
        client.post(f"/v1/{SCHEME}/decisions:batch", content=json.dumps(case) + "\n{}\n" + json.dumps(case),
                    headers=LINES)
        decide(client, BAD_CASE)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) == 3  # two good cases in the batch; the invalid ones are no decisions
    entry = lines[0]
    assert entry["id"] == first.headers["decision-id"] and entry["scheme"] == SCHEME
    assert entry["version"] == "2024-01-01" and entry["sha256"] == first.json()["ruleset"]["sha256"]
    assert entry["outcome"]["eligible"] is True and entry["outcome"]["notes"] == ["catering_capped"]
    assert entry["outcome"]["outputs"]["subsidy"] == "1057.50" and entry["time"].endswith("Z")
    assert "input" not in entry and len(entry["input_sha256"]) == 64
    assert [line["line"] for line in lines[1:]] == [1, 3] and lines[1]["request"] == lines[2]["request"]
    assert len({line["id"] for line in lines}) == 3
    from engine.source.case import parse_case_text
    assert entry["input_sha256"] == input_hash(parse_case_text(json.dumps(case)))

    with_inputs = tmp_path / "with-inputs.jsonl"
    with TestClient(create_app(Settings(log=with_inputs, log_inputs=True))) as client:
        decide(client, json.dumps(case).replace('"share": "0.3"', '"share": 0.30'))
    entry = json.loads(with_inputs.read_text())
    assert entry["input"]["enterprise"]["related_enterprises"][0]["share"] == 0.30
    assert '"share":0.30' in with_inputs.read_text()  # the number as sent, not as a float prints it


def test_the_command_line_registers_serve_and_checks_its_options(capsys):
    status, _, _ = cli("serve", "--help")  # argparse prints help to the process's standard output
    out = capsys.readouterr().out
    assert status == 0 and "--max-body" in out and "--log-inputs" in out
    status, _, err = cli("serve", "--max-body", "lots")
    assert status == 2 and "not a size" in err
    status, _, err = cli("serve", "--log-inputs")
    assert status == 2 and "--log-inputs needs --log" in err
    status, _, err = cli("serve", "--port", "99999")
    assert status == 2 and "port" in err


def test_an_answer_that_takes_too_long_is_503_and_the_service_goes_on(monkeypatch):
    import time

    from engine.serve.backend import Backend
    body = (ROOT / "examples" / "small-cybersecurity-training.json").read_text()
    with TestClient(create_app(Settings(limits=Limits(seconds=0.3)))) as client:
        real = Backend.decide

        def slow(self, *args, **kwargs):
            time.sleep(0.6)
            return real(self, *args, **kwargs)
        monkeypatch.setattr(Backend, "decide", slow)
        answer = decide(client, body)
        assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
        assert answer.json()["type"].endswith("/time-limit") and "0.3 s" in answer.json()["detail"]
        monkeypatch.setattr(Backend, "decide", real)
        assert decide(client, body).status_code == 200


def test_an_impact_over_the_batch_limit_is_413():
    with TestClient(create_app(Settings(limits=Limits(batch_cases=2)))) as client:
        body = "\n".join(json.dumps(json.loads(p.read_text())) for p in EXAMPLES[:3])
        answer = client.post(f"/v1/{SCHEME}/impact?from=2023-01-01&to=2024-01-01", content=body, headers=LINES)
        assert answer.status_code == 413 and answer.json()["limit"] == 2
