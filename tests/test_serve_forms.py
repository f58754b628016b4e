"""The pages without a browser: the form generated from the case schema, its round trip to a case, the
result, the comparison of two dates, "save as test case", "Compare versions" and "Rules", in both
languages. What a browser adds (a person filling the form, the script) is in test_serve_pages.py.
"""
import json
import re
import shutil
import warnings
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode

import pytest

pytest.importorskip("starlette", reason="the serve extra is not installed: pip install '.[serve]'")
pytest.importorskip("httpx", reason="Starlette's test client needs httpx: pip install '.[test]'")

from engine.serve.app import create_app  # noqa: E402
from engine.serve.form import case_of, form_model, values_of, with_row_added, with_row_removed  # noqa: E402
from engine.source.case import parse_case_text  # noqa: E402
from helpers import cli  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SCHEME = "kmo-portefeuille"
CASE_SCHEMA = ROOT / "schemas" / "case.schema.json"
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))
EXAMPLE = ROOT / "examples" / "small-cybersecurity-training.json"


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


class Controls(HTMLParser):
    """The named inputs and selects of a page (name -> value, selected option for a select)."""

    def __init__(self):
        super().__init__()
        self.fields: dict[str, str] = {}
        self.selects: dict[str, list[str]] = {}
        self._select = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("name") and attrs.get("type") not in ("hidden", "file"):
            self.fields[attrs["name"]] = attrs.get("value") or ""
        elif tag == "select" and attrs.get("name"):
            self._select = attrs["name"]
            self.selects[self._select] = []
            self.fields.setdefault(self._select, "")
        elif tag == "option" and self._select:
            self.selects[self._select].append(attrs.get("value", ""))
            if "selected" in attrs:
                self.fields[self._select] = attrs.get("value", "")

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def controls(html: str) -> Controls:
    parsed = Controls()
    parsed.feed(html.split('<form method="get" action="/try" id="case-form"', 1)[1].split("</form>", 1)[0])
    return parsed


def _leaves(schema: dict, node: dict, prefix: str = "") -> dict:
    out = {}
    for name, child in node.get("properties", {}).items():
        if "$ref" in child:
            child = {**schema["$defs"][child["$ref"].split("/")[-1]], **child}
        types = child.get("type") if isinstance(child.get("type"), list) else [child.get("type")]
        if "object" in types:
            out.update(_leaves(schema, child, f"{prefix}{name}."))
        elif "array" in types:
            out.update(_leaves(schema, child["items"], f"{prefix}{name}.0."))
        else:
            out[prefix + name] = child
    return out


def try_url(case: dict, **more) -> str:
    return "/try?" + urlencode(list(values_of(case).items()) + list(more.items()))


# -- the form --------------------------------------------------------------------------------

def test_the_form_has_a_field_for_every_field_of_the_case_schema(client):
    schema = json.loads(CASE_SCHEMA.read_text())
    leaves = _leaves(schema, schema)
    case = json.loads(EXAMPLE.read_text())
    values = values_of(case)
    for key in leaves:  # one row of each repeatable group, so that its fields are drawn
        head = key.split(".0.")[0]
        if ".0." in key and not any(v.startswith(head + ".0.") for v in values):
            values = with_row_added(values, head)
    page = client.get("/try?" + urlencode(list(values.items()) + [("add", "enterprise.prior_aid")]))
    assert page.status_code == 200
    found = controls(page.text)
    assert set(leaves) <= set(found.fields), set(leaves) - set(found.fields)
    for key, node in leaves.items():
        if "enum" in node:  # a choice: every value of the schema, and 'not given'
            offered = set(found.selects[key])
            assert {("null" if v is None else v) for v in node["enum"]} - {"null"} <= offered, key


def test_choices_are_labelled_from_the_rules_in_both_languages(client):
    english = client.get("/try?lang=en").text
    dutch = client.get("/try?lang=nl").text
    assert ">Business strategy</option>" in english and ">Bedrijfsstrategie</option>" in dutch
    assert "Aanvraagdatum" in dutch and "Application date" in english
    assert 'lang="nl"' in dutch and "Beslissen" in dutch


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_a_case_goes_through_the_form_and_back_unchanged(path):
    model = form_model(CASE_SCHEMA)
    case = parse_case_text(path.read_text())
    assert case_of(model, values_of(case)) == case


def test_rows_are_added_and_removed_without_a_script():
    values = values_of(json.loads(EXAMPLE.read_text()))
    more = with_row_added(values, "enterprise.prior_aid")
    assert "enterprise.prior_aid.2." in more
    fewer = with_row_removed(values, "enterprise.prior_aid.0")
    assert fewer["enterprise.prior_aid.0.amount"] == "50000" and "enterprise.prior_aid.1.amount" not in fewer


def test_the_add_row_button_draws_an_empty_row_and_decides_nothing(client):
    case = json.loads(EXAMPLE.read_text())
    page = client.get(try_url(case, add="enterprise.related_enterprises"))
    found = controls(page.text)
    assert found.fields["enterprise.related_enterprises.1.share"] == ""
    assert 'id="decision-first"' not in page.text
    removed = client.get(try_url(case, remove="enterprise.prior_aid.0"))
    assert "enterprise.prior_aid.1.amount" not in controls(removed.text).fields


# -- deciding on the page ----------------------------------------------------------------------

@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_the_page_shows_the_decision_the_api_makes(client, path):
    case = json.loads(path.read_text())
    decision = client.post(f"/v1/{SCHEME}/decisions", content=path.read_text(),
                           headers={"content-type": "application/json"}).json()
    page = client.get(try_url(case))
    assert page.status_code == 200
    text = page.text
    assert f'data-eligible="{"true" if decision["eligible"] else "false"}"' in text
    for name in ("subsidy", "eligible_cost", "rate"):
        shown = decision[name] if decision[name] is not None else ""
        assert f'<tr data-output="{name}"' in text and f'data-value="{shown}"' in text
    for reason in decision["reasons"]:
        assert f'data-code="{reason["code"]}"' in text and reason["message"] in text.replace("&#39;", "'")
    for note in decision["notes"]:
        assert f'data-code="{note["code"]}"' in text
    assert text.count('data-condition="') >= 10 and "How the amounts were found" in text
    assert f"version {decision['ruleset']['version']}" in text


def test_a_bad_case_shows_each_problem_beside_its_field(client):
    case = json.loads(EXAMPLE.read_text())
    case["enterprise"]["legal_form"] = "bvba"
    case["project"]["costs"]["fee"] = "abc"
    values = values_of(case)
    values["enterprise.prior_aid.1.amount"] = "-5"
    page = client.get("/try?" + urlencode(values))
    assert page.status_code == 422
    for key in ("enterprise.legal_form", "project.costs.fee", "enterprise.prior_aid.1.amount"):
        assert f'id="e-{key}"' in page.text, key
    assert "did you mean &#39;bv&#39;?" in page.text or "did you mean 'bv'?" in page.text


def test_the_version_in_force_is_shown_beside_the_date(client):
    page = client.get("/try?application_date=2020-03-01").text
    assert re.search(r'id="version-in-force"[^>]*>version 2020-01-01, in force from 2020-01-01 to 2020-06-30<', page)
    assert json.loads(page.split('id="versions-data">', 1)[1].split("</script>", 1)[0])[0]["version"] == "2016-04-01"
    early = client.get("/try?application_date=2001-03-01").text
    assert "no rules for 2001-03-01" in early


def test_compare_with_another_date_marks_what_changes(client):
    case = json.loads(EXAMPLE.read_text())
    page = client.get(try_url(case, compare="2020-01-01")).text
    first = page.split('id="decision-first"', 1)[1].split('id="decision-second"', 1)[0]
    second = page.split('id="decision-second"', 1)[1]
    assert 'data-version="2024-01-01"' in page and 'data-version="2020-01-01"' in page
    assert re.search(r'<tr data-output="subsidy" class="changed">', first)
    assert 'data-value="705.00"' in second and 'data-value="1057.50"' in first
    assert not re.search(r'<tr data-output="eligible_cost" class="changed">', first)
    bad = client.get(try_url(case, compare="soon")).text
    assert "compare: must be a date" in bad


def test_a_permalink_keeps_every_input(client):
    case = json.loads(EXAMPLE.read_text())
    page = client.get(try_url(case, lang="nl", compare="2020-01-01")).text
    link = re.search(r'<a href="([^"]+)" id="permalink"', page).group(1).replace("&amp;", "&")
    again = client.get(link)
    assert controls(again.text).fields == controls(page).fields
    assert 'data-version="2020-01-01"' in again.text and 'lang="nl"' in again.text


def test_save_as_test_case_gives_the_yaml_that_kmo_rules_test_passes(client, tmp_path):
    case = json.loads(EXAMPLE.read_text())
    answer = client.get(try_url(case, test_name="a case saved from the page").replace("/try?", "/try/test-case.yaml?"))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/yaml")
    assert "attachment" in answer.headers["content-disposition"]
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    saved = rules / SCHEME / "tests" / "saved.yaml"
    saved.write_text(answer.text)
    status, out, err = cli("test", rules / SCHEME, "-k", "saved from the page")
    assert status == 0 and "1 passed, 0 failed" in out, out + err
    saved.write_text(answer.text.replace("subsidy: '1057.50'", "subsidy: '1057.51'"))
    status, out, _ = cli("test", rules / SCHEME, "-k", "saved from the page")
    assert status == 1 and "1057.51" in out


def test_an_example_fills_the_form_through_a_permalink(client):
    answer = client.get("/try?example=small-cybersecurity-training", follow_redirects=False)
    assert answer.status_code == 303 and "enterprise.legal_form=bv" in answer.headers["location"]
    assert client.get("/try?example=../../etc/passwd").status_code == 404


def test_text_from_the_query_is_never_markup(client):
    page = client.get("/try?" + urlencode({"enterprise.nace_code": "<script>alert(1)</script>",
                                           "test_name": "<b>x</b>"})).text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# -- compare versions, rules ---------------------------------------------------------------------

def test_compare_versions_groups_the_diff_with_versions_and_sources(client):
    page = client.get("/compare?from=2019-11-30&to=2020-01-01&lang=en").text
    assert 'id="changes-parameters"' in page and 'data-name="rates.small"' in page
    assert "40 %" in page and "30 %" in page and "made in 2019-12-01" in page
    assert "BVR 26 Feb 2016, art. 18, as amended by MB 5 Nov 2019" in page
    dutch = client.get("/compare?from=2019-11-30&to=2020-01-01&lang=nl").text
    assert "Versies vergelijken" in dutch and "gemaakt in 2019-12-01" in dutch
    assert client.get("/compare?from=1990-01-01&to=2020-01-01").status_code == 400


def test_compare_versions_with_a_corpus_shows_the_impact(client):
    from corpus import corpus_lines, generate_cases, year_spec  # benchmarks/corpus.py
    body = "\n".join(corpus_lines(generate_cases(year_spec(80, 7, 2026)))) + "\n"
    page = client.post("/compare", data={"from": "2026-01-31", "to": "2026-02-01", "lang": "en"},
                       files={"corpus": ("cases.jsonl", body, "application/x-ndjson")})
    assert page.status_code == 200 and 'id="impact"' in page.text and "Impact on 80 cases" in page.text
    assert "advice_limited_to_cybersecurity" in page.text
    missing = client.post("/compare", data={"from": "2026-01-31", "to": "2026-02-01"})
    assert missing.status_code == 400 and "Choose a JSON Lines file" in missing.text


def test_the_rules_page_shows_the_resolved_rules_with_sources(client):
    page = client.get("/rules?on=2024-06-10&lang=nl").text
    assert "kmo-portefeuille 2024-01-01" in page and "Steunpercentage kleine onderneming" in page
    assert 'id="r-conditions"' in page and "BVR 26 Feb 2016, art. 4" in page
    assert client.get("/rules?on=1990-01-01").status_code == 404


def test_every_scheme_has_its_pages(client):
    for scheme in client.get("/v1/schemes").json()["schemes"]:
        for path in ("/try", "/compare", "/rules"):
            for lang in scheme["languages"]:
                answer = client.get(f"{path}?scheme={scheme['id']}&lang={lang}")
                assert answer.status_code == 200, (scheme["id"], path, lang)
    assert client.get("/try?scheme=nope").status_code == 404


def test_the_pages_never_fail_on_odd_queries(client):
    from hypothesis import HealthCheck, given, settings, strategies as st
    keys = st.sampled_from(["application_date", "enterprise.employees", "enterprise.prior_aid.0.amount",
                            "enterprise.related_enterprises.x.share", "add", "remove", "compare", "lang", "scheme",
                            "example", "project.kind", "enterprise", "test_name", "on", "from", "to"])
    values = st.text(max_size=40)

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.tuples(keys, values), max_size=8), st.sampled_from(["/try", "/compare", "/rules",
                                                                           "/try/test-case.yaml"]))
    def check(pairs, path):
        answer = client.get(path + "?" + urlencode(pairs))
        assert answer.status_code < 500, (path, pairs)
    check()
