"""The published JSON Schemas describe exactly what the engine accepts and returns."""
import copy
import json
import random
from datetime import date
from pathlib import Path

import jsonschema

from engine import CaseError, load_ruleset

ROOT = Path(__file__).resolve().parent.parent
from corpus import generate_cases, year_spec  # noqa: E402

SCHEMAS = ROOT / "schemas"


def _schema(name):
    schema = json.loads((SCHEMAS / name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def _plain(value):
    return json.loads(json.dumps(value, default=float))


def test_every_decision_fits_the_decision_schema():
    decisions = _schema("decision.schema.json")
    ruleset = load_ruleset(on=date(2024, 6, 1))
    for case in generate_cases(year_spec(300, 5, 2024)):
        for explain in (False, True):
            decision = ruleset.evaluate(case, explain=explain).to_dict()
            errors = list(decisions.iter_errors(_plain(decision)))
            assert not errors, errors[0].message


def test_the_case_schema_and_the_engine_agree_on_what_is_valid():
    """The engine's compiled validator accepts what the published schema accepts, field by field."""
    case_schema = _schema("case.schema.json")
    ruleset = load_ruleset(on=date(2024, 6, 1))
    rng = random.Random(3)
    base = [_plain(c) for c in generate_cases(year_spec(40, 8, 2024))]
    checked = 0
    for case in base:
        for _ in range(8):
            mutated = copy.deepcopy(case)
            section = rng.choice(["enterprise", "project"])
            key = rng.choice(sorted(mutated[section]))
            mutated[section][key] = rng.choice([-5, "abc", None, 2.5, True, [], "2024-02-31", 10**13])
            schema_ok = not list(case_schema.iter_errors(mutated))
            try:
                ruleset.evaluate(mutated)
                engine_ok = True
            except CaseError as error:
                engine_ok = False
                structural = [p for p in error.problems if "belongs to another theme" not in p.message
                              and "before the start" not in p.message and "is required when" not in p.message]
                if schema_ok:
                    assert not structural, (mutated[section][key], key, error)
            if not schema_ok:
                assert not engine_ok, (section, key, mutated[section][key])
            checked += 1
    assert checked == 320
