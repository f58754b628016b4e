"""Many schemes in one rules folder: the catalog, shared modules with their own dates, a scheme made as data only.

A third, tiny scheme is written here into a copy of the bundled catalog (its own case fields, its own outputs,
one language, the de-minimis module imported) and goes through every command: the Python knows none of it.
"""
import ast
import json
import re
import shutil
import textwrap
from datetime import date
from pathlib import Path

import pytest

from engine import SchemeNotFound, list_schemes, load_ruleset, open_rules
from helpers import cli

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"
ENGINE = ROOT / "engine"
EXAMPLES = ROOT / "examples"


def groei_case(**changes):
    case = json.loads((RULES / "kmo-groeisubsidie" / "tests" / "examples" /
                       "advice-and-strategic-hire-in-a-call.json").read_text())
    case.update(changes)
    return case


# -- the catalog --------------------------------------------------------------------------

def test_the_catalog_lists_both_schemes_and_the_default():
    status, out, _ = cli("schemes", "--format", "json")
    rows = {row["id"]: row for row in json.loads(out)}
    assert status == 0 and set(rows) == {"kmo-portefeuille", "kmo-groeisubsidie"}
    assert rows["kmo-portefeuille"]["default"] and not rows["kmo-groeisubsidie"]["default"]
    assert rows["kmo-groeisubsidie"]["from"] == "2016-05-01"
    assert rows["kmo-groeisubsidie"]["modules"] == ["de-minimis", "eu-sme-definition"]
    status, text, _ = cli("schemes")
    assert status == 0 and "kmo-groeisubsidie  2016-05-01 .. open" in text and "(default)" in text


def test_python_api_per_scheme():
    assert {spec.id for spec in list_schemes()} == {"kmo-portefeuille", "kmo-groeisubsidie"}
    ruleset = load_ruleset(on=date(2023, 4, 10), scheme="kmo-groeisubsidie")
    decision = ruleset.evaluate(groei_case())
    assert (decision.subsidy, decision.first_tranche, decision.earliest_start) == ("37344.00", "18672.00",
                                                                                    "2023-05-01")
    assert open_rules(scheme="kmo-groeisubsidie").evaluate(groei_case()).subsidy == "37344.00"
    assert load_ruleset(on=date(2024, 6, 10)).info.id == "kmo-portefeuille"  # the default, as the contract has it
    with pytest.raises(SchemeNotFound, match="kmo-groeisubsidie"):
        open_rules(scheme="kmo-groeisubsidy")


def test_an_unknown_scheme_on_the_command_line_is_exit_2_with_a_suggestion():
    status, out, err = cli("versions", "--scheme", "kmo-groeisubsidy")
    assert (status, out) == (2, "") and "did you mean 'kmo-groeisubsidie'" in err


# -- modules with their own dates ------------------------------------------------------------

def test_the_2024_change_is_the_de_minimis_modules_and_the_version_id_stays_its_first_day():
    status, out, _ = cli("versions", "--format", "json")
    rows = {row["version"]: row for row in json.loads(out)}
    assert rows["2024-01-01"]["changed"] == "de-minimis"
    assert rows["2024-01-01"]["scheme_version"] == "2023-03-15"
    assert rows["2024-01-01"]["modules"] == {"eu-sme-definition": "2005-01-01", "de-minimis": "2024-01-01"}
    assert rows["2023-03-15"]["modules"]["de-minimis"] == "2014-01-01"
    assert not (RULES / "kmo-portefeuille" / "2024-01-01.yaml").exists()
    # the same module change reaches the second scheme, which has no file of that day either
    status, out, _ = cli("versions", "--scheme", "kmo-groeisubsidie")
    assert status == 0 and "2024-01-01  2024-01-01 .. open" in out and "de-minimis" in out


def test_a_decision_names_the_scheme_version_and_each_module_version():
    case = json.loads((EXAMPLES / "small-cybersecurity-training.json").read_text())
    ruleset = load_ruleset(on=date(2024, 6, 10)).evaluate(case).to_dict()["ruleset"]
    assert ruleset["version"] == "2024-01-01" and ruleset["effective_from"] == "2024-01-01"
    assert ruleset["scheme_version"] == "2023-03-15"
    assert ruleset["modules"] == {"eu-sme-definition": "2005-01-01", "de-minimis": "2024-01-01"}


def test_diff_shows_the_modules_change_with_its_source():
    status, out, _ = cli("diff", "2023-12-31", "2024-01-01", "--format", "json")
    data = json.loads(out)
    assert status == 0 and data["versions_crossed"][0]["module"] == "de-minimis 2024-01-01"
    ceiling = next(c for c in data["changes"] if c["name"] == "de_minimis.ceiling")
    assert ceiling["made_in"] == ["2024-01-01 (module de-minimis 2024-01-01)"]
    assert "2023/2831" in ceiling["source"]


def _copy(tmp_path: Path) -> Path:
    shutil.copytree(RULES, tmp_path / "rules")
    return tmp_path / "rules"


def test_a_new_module_version_changes_every_scheme_that_imports_it_from_its_day(tmp_path):
    rules = _copy(tmp_path)
    (rules / "modules" / "eu-sme-definition" / "2030-01-01.yaml").write_text(textwrap.dedent("""\
        module: eu-sme-definition
        version: "2030-01-01"
        follows: "2005-01-01"
        effective_from: 2030-01-01
        summary: A thought experiment, the small threshold at 60 work units.
        source: the test suite
        changes:
          set_parameters:
            size.small.work_units_below:
              value: 60
              source: the test suite
        """))
    for scheme in ("kmo-portefeuille", "kmo-groeisubsidie"):
        book = open_rules(rules, scheme)
        last = book.sources[-1]
        assert (last.version, last.changed_part) == ("2030-01-01", "eu-sme-definition")
    case = json.loads((EXAMPLES / "small-cybersecurity-training.json").read_text())
    case["enterprise"]["employees"] = 52  # 52 + 6 partner units: medium before 2030, small from it
    before = load_ruleset(on=date(2029, 12, 31), rules=rules).evaluate(case)
    after = load_ruleset(on=date(2030, 1, 1), rules=rules).evaluate(case)
    assert (before.size_class, after.size_class) == ("medium", "small")
    assert after.ruleset.modules["eu-sme-definition"] == "2030-01-01"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


def test_a_binding_of_the_wrong_type_is_a_load_error_at_the_binding(tmp_path):
    rules = _copy(tmp_path)
    _edit(rules / "kmo-portefeuille" / "2016-04-01.yaml", "      employees: enterprise.employees\n",
          "      employees: application_date\n")
    status, out, _ = cli("validate", rules, "--scheme", "kmo-portefeuille")
    assert status == 2
    assert "type-declared: rule sme.employees is declared decimal but its value is date" in out
    assert "rules/kmo-portefeuille/2016-04-01.yaml:" in out and "employees: application_date" in out


def test_a_missing_or_unknown_binding_and_an_unknown_module_are_named(tmp_path):
    rules = _copy(tmp_path)
    base = rules / "kmo-portefeuille" / "2016-04-01.yaml"
    _edit(base, "      public_share: enterprise.public_share\n", "      public_shares: enterprise.public_share\n")
    _edit(base, "    module: de-minimis\n", "    module: de-minimus\n")
    status, out, _ = cli("validate", rules, "--scheme", "kmo-portefeuille")
    assert status == 2
    assert "the import sme binds no 'public_share', an input of the module eu-sme-definition" in out
    assert "the module eu-sme-definition has no input 'public_shares' (did you mean 'public_share'?)" in out
    assert "names the module 'de-minimus', which the rules folder does not hold (did you mean 'de-minimis'?)" in out


def test_a_message_missing_a_language_of_the_scheme_is_named(tmp_path):
    rules = _copy(tmp_path)
    _edit(rules / "kmo-groeisubsidie" / "scheme.yaml", "languages: [en, nl]", "languages: [en, nl, fr]")
    status, out, _ = cli("validate", rules, "--scheme", "kmo-groeisubsidie")
    assert status == 2 and "language-missing" in out and "has no 'fr' text, a language of the scheme" in out


# -- a third scheme, in data only -----------------------------------------------------------

TINY_CASE_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "aanvraagdatum": {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
        "kilometers": {"type": ["number", "string"], "pattern": "^[0-9]+(\\.[0-9]+)?$", "minimum": 0,
                       "maximum": 100000},
        "steun": {"type": "array", "default": [], "items": {
            "type": "object",
            "properties": {"granted_on": {"type": "string", "format": "date",
                                          "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
                           "amount": {"type": ["number", "string"], "pattern": "^[0-9]+(\\.[0-9]{1,2})?$",
                                      "minimum": 0, "maximum": 1000000000, "x-type": "money"}},
            "required": ["granted_on", "amount"], "additionalProperties": False}},
    },
    "required": ["aanvraagdatum", "kilometers"],
    "additionalProperties": False,
}
TINY_SCHEME = """\
scheme: fietsvergoeding
title: {nl: Fietsvergoeding}
version_field: aanvraagdatum
languages: [nl]
explanation:
  headline:
    nl: "Komt in aanmerking: een vergoeding van {vergoeding}."
impact:
  total: vergoeding
  label: {nl: vergoeding}
"""
TINY_2025 = """\
ruleset: fietsvergoeding
version: "2025-01-01"
effective_from: 2025-01-01
summary: Een vergoeding per kilometer, tot een plafond.
source: de testreeks
case_schema: case.schema.json
imports:
  de_minimis:
    module: de-minimis
    inputs:
      grant_date: aanvraagdatum
      prior_aid: steun
      road_freight_for_hire: "false"
      requested: if eligible then bruto else EUR 0
parameters:
  per_km: {value: EUR 0.27, label: {nl: Vergoeding per kilometer}, source: de testreeks}
  minimum_km: {value: 10, label: {nl: Minimum aantal kilometer}, source: de testreeks}
rules:
  bruto:
    label: {nl: Vergoeding voor het plafond}
    value: round(per_km * kilometers)
    source: de testreeks
  vergoeding:
    label: {nl: Vergoeding}
    value: if eligible then min(bruto, de_minimis.left) else EUR 0
    source: de testreeks
conditions:
  te_weinig_kilometer:
    label: {nl: Genoeg kilometer}
    fails_when: kilometers < minimum_km
    message: {nl: "Er zijn minstens {minimum_km} kilometer nodig."}
    source: de testreeks
outputs:
  vergoeding: vergoeding
"""
TINY_2026 = """\
ruleset: fietsvergoeding
version: "2026-01-01"
follows: "2025-01-01"
effective_from: 2026-01-01
summary: Meer per kilometer.
source: de testreeks
changes:
  set_parameters:
    per_km: {value: EUR 0.35, label: {nl: Vergoeding per kilometer}, source: de testreeks}
"""
TINY_TESTS = """\
tests:
  - name: honderd kilometer in 2025
    case: {aanvraagdatum: "2025-03-01", kilometers: 100}
    expect: {version: "2025-01-01", eligible: true, vergoeding: "27.00", reasons: []}
  - name: honderd kilometer in 2026
    case: {aanvraagdatum: "2026-03-01", kilometers: 100}
    expect: {version: "2026-01-01", vergoeding: "35.00"}
  - name: te weinig kilometer
    case: {aanvraagdatum: "2026-03-01", kilometers: 9}
    expect: {eligible: false, vergoeding: "0.00", reasons: [te_weinig_kilometer]}
  - name: het de-minimisplafond is bijna op
    case: {aanvraagdatum: "2026-03-01", kilometers: 100, steun: [{granted_on: "2025-01-01", amount: 299990}]}
    expect: {vergoeding: "10.00", notes: [de_minimis_ceiling_reached]}
"""


@pytest.fixture()
def catalog(tmp_path) -> Path:
    rules = _copy(tmp_path)
    folder = rules / "fietsvergoeding"
    (folder / "tests").mkdir(parents=True)
    (folder / "case.schema.json").write_text(json.dumps(TINY_CASE_SCHEMA, indent=2))
    (folder / "scheme.yaml").write_text(TINY_SCHEME)
    (folder / "2025-01-01.yaml").write_text(TINY_2025)
    (folder / "2026-01-01.yaml").write_text(TINY_2026)
    (folder / "tests" / "amounts.yaml").write_text(TINY_TESTS)
    return rules


def test_a_third_scheme_made_of_data_goes_through_every_command(catalog, tmp_path):
    status, out, _ = cli("schemes", "--rules", catalog)
    assert status == 0 and "fietsvergoeding" in out and "kmo-portefeuille" in out
    status, out, err = cli("validate", catalog)
    assert status == 0, out + err
    status, out, err = cli("test", catalog, "--scheme", "fietsvergoeding")
    assert status == 0 and "4 passed, 0 failed" in out, out + err
    case = tmp_path / "case.json"
    case.write_text(json.dumps({"aanvraagdatum": "2026-05-04", "kilometers": "40"}))
    status, out, _ = cli("evaluate", case, "--rules", catalog, "--scheme", "fietsvergoeding")
    decision = json.loads(out)
    assert status == 0 and decision["vergoeding"] == "14.00" and decision["ruleset"]["version"] == "2026-01-01"
    assert decision["ruleset"]["modules"] == {"de-minimis": "2024-01-01"}
    status, out, _ = cli("evaluate", case, "--rules", catalog, "--scheme", "fietsvergoeding", "--explain",
                         "--format", "text", "--lang", "nl")
    assert status == 0 and out.splitlines()[1] == "Komt in aanmerking: een vergoeding van EUR 14,00."
    status, out, _ = cli("versions", "--rules", catalog, "--scheme", "fietsvergoeding")
    assert status == 0 and "2 versions" in out
    status, out, _ = cli("show", "--rules", catalog, "--scheme", "fietsvergoeding", "--on", "2026-02-01")
    assert status == 0 and "per_km" in out and "de_minimis.left" in out
    status, out, _ = cli("diff", "2025-06-01", "2026-06-01", "--rules", catalog, "--scheme", "fietsvergoeding")
    assert status == 0 and "per_km: EUR 0.27 -> EUR 0.35" in out
    cases = tmp_path / "cases.jsonl"
    cases.write_text("\n".join(json.dumps({"aanvraagdatum": "2026-05-04", "kilometers": km}) for km in (9, 40, 100)))
    status, out, _ = cli("diff", "2025-06-01", "2026-06-01", "--rules", catalog, "--scheme", "fietsvergoeding",
                         "--cases", cases, "--format", "json")
    report = json.loads(out)
    totals = report["impact"]["vergoeding"]
    assert status == 0 and (totals["before"], totals["after"]) == ("37.80", "49.00")
    stored = tmp_path / "decision.json"
    status, out, _ = cli("evaluate", case, "--rules", catalog, "--scheme", "fietsvergoeding")
    stored.write_text(out)
    status, out, _ = cli("verify", case, stored, "--rules", catalog)  # the scheme is the one the decision names
    assert (status, out.split(":")[0]) == (0, "identical"), out
    status, out, _ = cli("show", "--rules", catalog, "--scheme", "fietsvergoeding", "--on", "2026-05-04",
                         "--canonical")
    import hashlib
    assert hashlib.sha256(out.encode()).hexdigest() == json.loads(stored.read_text())["ruleset"]["sha256"]
    status, out, _ = cli("evaluate", case, "--rules", catalog)  # without --scheme: the default scheme refuses it
    assert status == 2


def test_a_case_of_the_third_scheme_is_checked_against_its_own_fields(catalog, tmp_path):
    case = tmp_path / "case.json"
    case.write_text(json.dumps({"aanvraagdatum": "2026-05-04", "kilometer": 40}))
    status, out, err = cli("evaluate", case, "--rules", catalog, "--scheme", "fietsvergoeding")
    assert status == 2 and out == ""
    assert "kilometer" in err and "kilometers" in err


# -- the engine names no field of any scheme ---------------------------------------------------

# Words the engine owns that a scheme happens to use too: the kind of a definition (core/kinds.py), the
# catalog's own notion of a scheme, and a unit of the duration type.
ENGINE_WORDS = {"kind", "scheme", "days"}
_DOTTED = re.compile(r"[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)+")


def _field_names() -> set[str]:
    names: set[str] = set()

    def walk(schema):
        if isinstance(schema, dict):
            for key, sub in (schema.get("properties") or {}).items():
                names.add(key)
                walk(sub)
            for key in ("items", "additionalProperties"):
                walk(schema.get(key))
            for sub in (schema.get("$defs") or {}).values():
                walk(sub)
    for spec in list_schemes():
        for source in open_rules(scheme=spec.id).sources:
            walk(json.loads(Path(source.case_schema).read_text()))
            names.update(source.outputs)
    return names


def _literals(path: Path):
    """Every string literal of a module but its docstrings."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


def test_no_string_of_the_engine_names_a_field_of_any_schemes_case_or_decision():
    fields = _field_names()
    assert {"application_date", "subsidy", "advice_subsidy", "earliest_start", "related_enterprises"} <= fields
    roots = {"enterprise", "project", "advice", "hire"}
    hits = []
    for path in ENGINE.rglob("*.py"):
        for line, text in _literals(path):
            words = {text} | set(_DOTTED.findall(text))
            named = {w for w in words if w in fields - ENGINE_WORDS or w.split(".")[0] in roots & fields}
            if named:
                hits.append(f"{path.relative_to(ROOT)}:{line}: {sorted(named)}")
    assert not hits, hits


def test_an_import_names_a_module_by_id_never_by_path(tmp_path):
    rules = _copy(tmp_path)
    _edit(rules / "kmo-portefeuille" / "2016-04-01.yaml", "    module: de-minimis\n", "    module: ../../modules/de-minimis\n")
    status, out, _ = cli("validate", rules, "--scheme", "kmo-portefeuille")
    assert status == 2 and "schema:" in out and "module" in out


@pytest.mark.parametrize("target", ["kmo-groeisubsidie/scheme.yaml", "kmo-portefeuille/2019-12-01.yaml",
                                    "modules/de-minimis/2024-01-01.yaml"])
def test_a_link_out_of_the_catalog_is_refused_without_showing_what_it_points_at(tmp_path, target):
    rules = _copy(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("the password is swordfish\n")
    (rules / target).unlink()
    (rules / target).symlink_to(secret)
    for argv in (("validate", rules), ("schemes", "--rules", rules)):
        status, out, err = cli(*argv)
        assert status == 2 and "file-outside" in out + err
        assert "swordfish" not in out + err


def test_a_case_of_another_scheme_without_scheme_says_which_scheme_takes_it():
    case = RULES / "kmo-groeisubsidie" / "tests" / "examples" / "advice-and-strategic-hire-in-a-call.json"
    status, out, err = cli("evaluate", case)
    assert (status, out) == (2, "") and "project: is required" in err
    assert err.rstrip().endswith("this is a case of the scheme kmo-groeisubsidie, not of kmo-portefeuille: "
                                 "add --scheme kmo-groeisubsidie")
    bad = json.loads((EXAMPLES / "small-cybersecurity-training.json").read_text())
    bad["project"]["costs"]["fee"] = "abc"
    status, _, err = cli("evaluate", "-", stdin=json.dumps(bad))
    assert status == 2 and "--scheme" not in err  # a bad case of its own scheme gets no hint
