"""The case boundary: a case schema is untrusted data, a case is untrusted input.

A rules folder (and the case schema it names) may come from anyone: nothing
in it runs as code, and a schema the engine cannot use is refused with the
JSON path of the problem. A case gets a decision or input errors by JSON
path, never a Python error, a hang or a result that depends on how the
caller set up `decimal`.
"""
import copy
import decimal
import json
import shutil
import time
from collections import OrderedDict, defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import CaseError, RulesError, load_ruleset
from engine.source.case import (MAX_DIGITS, MAX_ITEMS, MAX_PATTERN_TEXT, MAX_STRING, MAX_UNKNOWN_FIELDS, TOO_MANY_DIGITS,
                         CaseSchemaError, CaseTextError, case_model, parse_case_text,
                         read_case_text_fully, read_object_line)
from engine.pipeline import validate_rules

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = json.loads((ROOT / "examples" / "small-cybersecurity-training.json").read_text())
MINI = json.loads((ROOT / "tests" / "data" / "mini.case.schema.json").read_text())


@pytest.fixture(scope="module")
def ruleset():
    return load_ruleset(on=date(2024, 6, 10))


def _case(**changes):
    """The example case with some fields replaced: keys are dotted paths."""
    case = copy.deepcopy(EXAMPLE)
    for dotted, value in changes.items():
        target = case
        parts = dotted.split(".")
        for part in parts[:-1]:
            target = target[part]
        target[parts[-1]] = value
    return case


def _problems(ruleset, case) -> dict:
    with pytest.raises(CaseError) as raised:
        ruleset.evaluate(case)
    return {".".join(str(p) for p in problem.path): problem.message for problem in raised.value.problems}


def _model(tmp_path, schema, name="case.schema.json"):
    path = tmp_path / name
    path.write_text(schema if isinstance(schema, str) else json.dumps(schema, indent=2), encoding="utf-8")
    return case_model(path)


def _mini(**properties):
    schema = copy.deepcopy(MINI)
    schema["properties"].update(properties)
    return schema


MINI_CASE = {"day": "2024-01-01", "amount": 10, "kind": "alpha"}


# -- a case schema the engine cannot use: a clean error with the JSON path --------------------------------

def _with(change):
    schema = copy.deepcopy(MINI)
    change(schema)
    return schema


def _ref_loop(schema):
    schema["$defs"] = {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}
    schema["properties"]["kind"] = {"$ref": "#/$defs/a"}


def _loop_through_properties(schema):
    schema["$defs"] = {"node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/node"}}}}
    schema["properties"]["kind"] = {"$ref": "#/$defs/node"}


def _deep(schema):
    node = {"type": "string"}
    for _ in range(40):
        node = {"type": "object", "properties": {"x": node}}
    schema["properties"]["deep"] = node


def _exponential_refs(schema):
    schema["$defs"] = {f"d{i}": {"type": "object", "properties": {"a": {"$ref": f"#/$defs/d{i + 1}"},
                                                                  "b": {"$ref": f"#/$defs/d{i + 1}"}}}
                       for i in range(30)}
    schema["$defs"]["d30"] = {"type": "string"}
    schema["properties"]["tree"] = {"$ref": "#/$defs/d0"}


def _prop(name, sub):
    return lambda schema: schema["properties"].__setitem__(name, sub)


BAD_SCHEMAS = [
    ("a $ref to the whole schema", _prop("kind", {"$ref": "#"}), "properties/kind/$ref", "loop"),
    ("a dangling $ref", _prop("kind", {"$ref": "#/$defs/nothing"}), "properties/kind/$ref", "points at nothing"),
    ("an external $ref", _prop("kind", {"$ref": "https://example.org/s.json#/x"}), "properties/kind/$ref",
     "only references inside the case schema"),
    ("a $ref loop", _ref_loop, "$defs/b/$ref", "loop"),
    ("a $ref loop through properties", _loop_through_properties, "$defs/node/properties/next/$ref", "loop"),
    ("an invalid regex", _prop("label", {"type": "string", "pattern": "(["}), "properties/label/pattern", "regex"),
    ("a string minimum", lambda s: s["properties"]["amount"].__setitem__("minimum", "0"),
     "properties/amount/minimum", "not of type 'number'"),
    ("an integer enum", _prop("kind", {"enum": [1, 2]}), "properties/kind/enum/0", "enums of strings"),
    ("properties as a list", lambda s: s.__setitem__("properties", []), "properties", "not of type 'object'"),
    ("a boolean schema", _prop("label", True), "properties/label", "must be a schema"),
    ("a field of no type", _prop("label", {"description": "anything"}), "properties/label", "must say its type"),
    ("an unsupported keyword", _prop("label", {"anyOf": [{"type": "string"}]}), "properties/label/anyOf",
     "not supported"),
    ("a default of the wrong kind", lambda s: s["properties"]["count"].__setitem__("default", "many"),
     "properties/count/default", "the default is not valid"),
    ("a bound beyond the engine's numbers",
     lambda s: s["properties"]["amount"].__setitem__("maximum", Decimal("1e999")),
     "properties/amount/maximum", "more digits than the engine supports"),
    ("a nested repeat (a+)+", _prop("label", {"type": "string", "pattern": "^(a+)+$"}), "properties/label/pattern",
     "exponential time"),
    ("a nested repeat (a*)*", _prop("label", {"type": "string", "pattern": "(a*)*b"}), "properties/label/pattern",
     "exponential time"),
    ("nesting deeper than the limit", _deep, None, "nest deeper than 32 levels"),
    ("$refs that expand exponentially", _exponential_refs, None, "too large"),
    ("unknown fields allowed", lambda s: s.__setitem__("additionalProperties", True), "additionalProperties",
     "must be false"),
    ("a required field that is not a property", lambda s: s["required"].append("ghost"), "required/3",
     "not one of the properties"),
    ("a list as the schema", lambda s: None, "", "must be a JSON object"),
]


def _dumps(value):
    return json.dumps(value, indent=2, default=str).replace('"1E+999"', "1e999")


@pytest.mark.parametrize("what, change, pointer, words", BAD_SCHEMAS, ids=[b[0] for b in BAD_SCHEMAS])
def test_a_case_schema_the_engine_cannot_use_is_refused_with_its_json_path(tmp_path, what, change, pointer, words):
    text = "[1, 2]" if what == "a list as the schema" else _dumps(_with(change))
    started = time.perf_counter()
    with pytest.raises(CaseSchemaError) as raised:
        _model(tmp_path, text)
    error = raised.value
    assert time.perf_counter() - started < 5
    assert words in error.message, error
    if pointer is not None:
        assert error.pointer == pointer
    assert str(error).startswith("case.schema.json: ")
    assert error.line is not None and error.line >= 1 and error.column >= 1


def test_a_schema_error_says_where_it_is_written(tmp_path):
    schema = _mini(label={"type": "string", "pattern": "^(a+)+$"})
    text = json.dumps(schema, indent=2)
    with pytest.raises(CaseSchemaError) as raised:
        _model(tmp_path, text)
    error = raised.value
    line = text.splitlines()[error.line - 1]
    assert line[error.column - 1:].startswith('"pattern"')
    assert str(error) == ("case.schema.json: properties/label/pattern: a repeat inside a repeat (such as (a+)+) "
                          "can take exponential time: write the pattern without one")


@pytest.mark.parametrize("text, words", [
    ('{"type": "object",\n "properties": {,}}', "not valid JSON"),
    ('{"type": "object", "type": "object"}', "written twice"),
    ('{"type": "object", "properties": {"a": {"type": "number", "minimum": NaN}}}', "NaN is not a JSON number"),
    ('{"type": "object", "properties": {"a": {"type": "number", "minimum": ' + "9" * 5000 + "}}}",
     "more digits than the engine supports"),
], ids=["syntax", "duplicate key", "NaN", "5000-digit bound"])
def test_unreadable_schema_text_is_a_schema_error(tmp_path, text, words):
    with pytest.raises(CaseSchemaError, match=words):
        _model(tmp_path, text)


def test_a_schema_that_is_not_utf8_is_a_schema_error(tmp_path):
    path = tmp_path / "case.schema.json"
    path.write_bytes(b'{"type": "object", "title": "\xff"}')
    with pytest.raises(CaseSchemaError, match="not valid UTF-8"):
        case_model(path)


def test_alternation_inside_a_repeat_is_allowed(tmp_path):
    model = _model(tmp_path, _mini(label={"type": ["string", "null"], "pattern": "^(a|aa)+$", "default": None}))
    assert model.coerce(dict(MINI_CASE, label="aaa"))[1] == []
    assert model.coerce(dict(MINI_CASE, label="aab"))[1][0].path == ("label",)


# -- nothing in a rules folder runs as code -----------------------------------------------------------------

def _crafted_rules(tmp_path: Path, marker: Path) -> tuple[Path, str, str]:
    """A copy of the bundled rules whose case schema tries, everywhere it can, to run open(marker, 'w')."""
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules" / "kmo-portefeuille", rules / "kmo-portefeuille")
    first = rules / "kmo-portefeuille" / "2016-04-01.yaml"
    text = first.read_text(encoding="utf-8")
    assert "case_schema: ../../schemas/case.schema.json" in text
    first.write_text(text.replace("case_schema: ../../schemas/case.schema.json", "case_schema: ../case.schema.json"),
                     encoding="utf-8")
    run = f"open({str(marker)!r}, 'w')"
    schema = json.loads((ROOT / "schemas" / "case.schema.json").read_text(encoding="utf-8"))
    root_name = f"a = 1\n{run}\nb"
    field_name = f"x'] = 1; {run}; y = o['"
    sneaky = {
        "type": ["string", "null"],
        "x-form": f'" + {run}.name + "',
        "examples": [f'" + {run}.name + "'],
        "default": f"'); {run} #",
    }
    schema["properties"][root_name] = dict(sneaky)
    schema["properties"]["enterprise"]["properties"][field_name] = dict(sneaky)
    schema["properties"]["project"]["properties"]["kind"]["enum"].append(f"'); {run} #")
    schema["$defs"][f"'); {run} #"] = {"type": "string"}
    (rules / "case.schema.json").write_text(json.dumps(schema, indent=2), encoding="utf-8")
    return rules, root_name, field_name


def test_nothing_in_a_case_schema_runs_as_code(tmp_path):
    marker = tmp_path / "MARKER"
    rules, root_name, field_name = _crafted_rules(tmp_path, marker)
    problems = validate_rules(rules)
    assert not [p for p in problems if p.severity == "error"], problems
    ruleset = load_ruleset(on=date(2024, 6, 10), rules=rules)
    model = ruleset.checked.case_model
    assert model.schema_path.resolve() == (rules / "case.schema.json").resolve()  # the crafted schema is in use
    assert model.type.field(root_name) is not None
    decision = ruleset.evaluate(copy.deepcopy(EXAMPLE))  # the defaults are filled in
    assert decision.eligible
    case = copy.deepcopy(EXAMPLE)
    case[root_name] = 5
    case["enterprise"][field_name] = 6
    with pytest.raises(CaseError) as raised:
        ruleset.evaluate(case)
    messages = {p.path: p.message for p in raised.value.problems}
    # the x-form is text of the message, not code
    assert messages[(root_name,)] == f'must be " + open({str(marker)!r}, \'w\').name + ", got 5'
    assert ("enterprise", field_name) in messages
    assert not marker.exists()


def test_a_field_may_have_any_name(tmp_path):
    name = "it's a \"name\"\n\\ with {braces}"
    model = _model(tmp_path, _mini(**{name: {"type": "boolean", "default": False}}))
    value, problems = model.coerce(dict(MINI_CASE, **{name: True}))
    assert problems == [] and value[name] is True
    _, problems = model.coerce(dict(MINI_CASE, **{name: "yes"}))
    assert [(p.path, p.message) for p in problems] == [((name,), 'must be true or false, got "yes"')]


# -- digits are ASCII, text ends where it ends ------------------------------------------------------------------

@pytest.mark.parametrize("path, value", [
    ("enterprise.nace_code", "\uff10\uff11.130"),       # full-width digits
    ("enterprise.nace_code", "\u0666\u0662.010"),       # Arabic-Indic digits
    ("enterprise.nace_code", "62.010\n"),               # a final newline
    ("project.costs.fee", "\u0661\u0660\u0660"),        # Arabic-Indic 100
    ("project.costs.fee", "100\n"),
    ("enterprise.employees", "\uff11\uff12"),
    ("project.start_date", "\u0662\u0660\u0662\u0664-06-03"),
    ("project.start_date", "2024-06-03\n"),
])
def test_only_ascii_digits_make_a_number_a_code_or_a_date(ruleset, path, value):
    problems = _problems(ruleset, _case(**{path: value}))
    assert list(problems) == [path] and problems[path].startswith("must be "), problems


def test_a_pattern_end_does_not_match_before_a_final_newline(tmp_path):
    model = _model(tmp_path, _mini(label={"type": ["string", "null"], "pattern": "^[a-z]+$", "default": None}))
    assert model.coerce(dict(MINI_CASE, label="abc"))[1] == []
    _, problems = model.coerce(dict(MINI_CASE, label="abc\n"))
    assert [p.path for p in problems] == [("label",)]


def test_a_pattern_is_searched_as_json_schema_does(tmp_path):
    """Without ^ a JSON Schema pattern may match anywhere, not only at the start."""
    model = _model(tmp_path, _mini(label={"type": ["string", "null"], "pattern": "[0-9]$", "default": None}))
    assert model.coerce(dict(MINI_CASE, label="room 7"))[1] == []
    assert model.coerce(dict(MINI_CASE, label="7 rooms"))[1] != []


# -- numbers --------------------------------------------------------------------------------------------------

def test_every_number_may_be_a_decimal_string(ruleset):
    as_numbers = ruleset.evaluate(_case(**{"enterprise.employees": 12, "project.participants": 4,
                                           "project.days": 2})).to_dict()
    as_text = ruleset.evaluate(_case(**{
        "enterprise.employees": "12", "project.participants": "4", "project.days": "2",
        "enterprise.related_enterprises": [{"share": "0.30", "employees": "20", "annual_turnover": "2000000",
                                            "balance_sheet_total": "1000000"}]})).to_dict()
    assert as_text == as_numbers


def test_a_whole_number_given_as_a_fraction_is_refused(ruleset):
    assert _problems(ruleset, _case(**{"project.participants": "12.5"})) == {
        "project.participants": 'must be a whole number >= 1, got "12.5"'}


@pytest.mark.parametrize("path, value", [
    ("project.participants", Decimal("1e999999999")),
    ("enterprise.employees", Decimal("1e-999999999")),
    ("enterprise.employees", 10 ** 5000),
    ("enterprise.employees", -10 ** 5000),
    ("enterprise.employees", "1" * 5000),
    ("project.days", "0." + "0" * 40 + "1"),
    ("project.costs.fee", "1" * (MAX_DIGITS + 1)),
    ("project.costs.fee", 10 ** MAX_DIGITS),
    ("project.costs.fee", 1e300),
    ("enterprise.related_enterprises.0.share", 5e-324),
], ids=["1e999999999", "1e-999999999", "5001-digit int", "negative 5001-digit int", "5000-digit text",
        "a digit below 1E-40", "31 digits", "10**30", "float 1e300", "float 5e-324"])
def test_numbers_beyond_the_engine_are_refused_at_once(ruleset, path, value):
    case = _case()
    if path.startswith("enterprise.related_enterprises.0"):
        case["enterprise"]["related_enterprises"][0]["share"] = value
    else:
        case = _case(**{path: value})
    started = time.perf_counter()
    problems = _problems(ruleset, case)
    assert time.perf_counter() - started < 1
    assert list(problems) == [path] and problems[path].startswith(TOO_MANY_DIGITS), problems


def test_numbers_at_the_limits_are_taken(ruleset):
    thirty = "1." + "2" * (MAX_DIGITS - 1)
    decision = ruleset.evaluate(_case(**{"enterprise.employees": thirty, "project.costs.fee": 10 ** 12}))
    assert decision.eligible is not None
    assert list(_problems(ruleset, _case(**{"enterprise.employees": thirty + "2"}))) == ["enterprise.employees"]


def test_numbers_in_case_text_never_crash_the_reader(ruleset):
    case = _case()
    text = json.dumps(case).replace('"employees": 12', '"employees": ' + "7" * 5000)
    text = text.replace('"participants": 4', '"participants": 1e99999999999999999999')
    problems = _problems(ruleset, parse_case_text(text))
    assert set(problems) == {"enterprise.employees", "project.participants"}
    assert all(message.startswith(TOO_MANY_DIGITS) for message in problems.values())


@pytest.mark.parametrize("zero", [0, -0.0, Decimal("-0"), "-0", Decimal("-0.00"), "-0.00"])
def test_minus_zero_is_zero(tmp_path, zero):
    model = _model(tmp_path, MINI)
    value, problems = model.coerce(dict(MINI_CASE, amount=zero, share=zero, count=zero))
    assert problems == []
    assert [str(value[name]).startswith("-") for name in ("amount", "share", "count")] == [False, False, False]
    assert value["amount"] == value["share"] == 0 and value["count"] == 0 and value["count"].__class__ is int


def test_no_minus_zero_reaches_a_decision(ruleset):
    case = _case(**{"project.costs.catering": "-0.00", "project.costs.materials": -0.0})
    decision = ruleset.evaluate(case, explain=True).to_dict()
    assert decision["eligible_cost"] == "2050.00" and "-0." not in json.dumps(decision)


@pytest.mark.parametrize("value", ["NaN", "Infinity", float("nan"), float("inf"), -float("inf"), Decimal("NaN"),
                                   Decimal("sNaN"), Decimal("-Infinity"), True])
def test_nan_and_infinity_are_not_numbers(ruleset, value):
    problems = _problems(ruleset, _case(**{"project.costs.fee": value}))
    assert list(problems) == ["project.costs.fee"] and problems["project.costs.fee"].startswith("must be a number")


def test_the_callers_decimal_context_changes_nothing(ruleset):
    from corpus import generate_cases, year_spec
    cases = generate_cases(year_spec(150, 5, 2024)) + [
        _case(**{"enterprise.employees": "12.3456789", "project.costs.fee": "1234567.89"})]

    def decide_all():
        out = []
        for case in cases:
            try:
                out.append(ruleset.evaluate(copy.deepcopy(case)).to_dict())
            except CaseError as error:
                out.append([str(p) for p in error.problems])
        return out

    expected = decide_all()
    with decimal.localcontext() as context:
        context.prec = 6
        context.rounding = decimal.ROUND_FLOOR
        context.traps[decimal.Inexact] = True
        context.traps[decimal.Rounded] = True
        context.traps[decimal.FloatOperation] = True
        assert decide_all() == expected


# -- objects and lists --------------------------------------------------------------------------------------------

def test_any_mapping_is_an_object_and_any_sequence_a_list(ruleset):
    expected = ruleset.evaluate(_case()).to_dict()
    case = _case()
    case["enterprise"] = OrderedDict(case["enterprise"])
    case["enterprise"]["prior_aid"] = tuple(MappingProxyType(aid) for aid in case["enterprise"]["prior_aid"])
    case["project"] = defaultdict(lambda: "surprise", case["project"])
    case["project"]["costs"] = MappingProxyType(case["project"]["costs"])
    assert ruleset.evaluate(MappingProxyType(case)).to_dict() == expected


@pytest.mark.parametrize("value", ["2024-02-01", b"abc", {"granted_on": "2024-02-01"}, {1, 2}, 42])
def test_what_is_not_a_list_is_refused(ruleset, value):
    problems = _problems(ruleset, _case(**{"enterprise.prior_aid": value}))
    assert list(problems) == ["enterprise.prior_aid"] and problems["enterprise.prior_aid"].startswith("must be a list")


def test_field_names_must_be_text(ruleset):
    case = _case()
    case["project"][1] = "one"
    case["project"][None] = "none"
    with pytest.raises(CaseError) as raised:
        ruleset.evaluate(case)
    found = [(p.path, p.message) for p in raised.value.problems]
    assert found == [(("project",), "field names must be text, got 1"),
                     (("project",), "field names must be text, got null")]


# -- limits ----------------------------------------------------------------------------------------------------

def test_a_deeply_nested_value_is_an_input_error(ruleset):
    deep = []
    for _ in range(100_000):
        deep = [deep]
    problems = _problems(ruleset, _case(**{"project.costs": deep}))
    assert list(problems) == ["project.costs"] and problems["project.costs"].startswith("must be an object, got [[[")


def test_too_many_list_items_is_an_input_error_at_once(ruleset):
    aid = {"granted_on": "2024-02-01", "amount": 1, "scheme": "other"}
    started = time.perf_counter()
    problems = _problems(ruleset, _case(**{"enterprise.prior_aid": [aid] * 1_000_000}))
    assert time.perf_counter() - started < 1
    assert problems == {"enterprise.prior_aid": f"has too many items: one case holds at most {MAX_ITEMS} "
                                                "list items in all"}


def test_list_items_count_across_lists(tmp_path):
    model = _model(tmp_path, MINI)
    item = {"amount": 1, "day": "2024-01-01"}
    started = time.perf_counter()
    value, problems = model.coerce(dict(MINI_CASE, items=[item] * MAX_ITEMS))
    assert problems == [] and len(value["items"]) == MAX_ITEMS
    assert time.perf_counter() - started < 5  # linear: a fraction of a second
    _, problems = model.coerce(dict(MINI_CASE, items=[item] * (MAX_ITEMS + 1)))
    assert [p.path for p in problems] == [("items",)]


def test_long_text_is_an_input_error(tmp_path):
    model = _model(tmp_path, _mini(code={"type": ["string", "null"], "pattern": "^a+$", "default": None}))
    assert model.coerce(dict(MINI_CASE, label="x" * MAX_STRING))[1] == []
    _, problems = model.coerce(dict(MINI_CASE, label="x" * (MAX_STRING + 1)))
    assert [(p.path, p.message) for p in problems] == [(("label",), f"is too long (at most {MAX_STRING} characters)")]
    started = time.perf_counter()
    _, problems = model.coerce(dict(MINI_CASE, code="a" * (MAX_PATTERN_TEXT + 1)))
    assert [(p.path, p.message) for p in problems] == [
        (("code",), f"is too long (at most {MAX_PATTERN_TEXT} characters)")]
    assert time.perf_counter() - started < 1


def test_a_schema_may_allow_less_text(tmp_path):
    model = _model(tmp_path, _mini(label={"type": ["string", "null"], "maxLength": 3, "default": None}))
    assert model.coerce(dict(MINI_CASE, label="abc"))[1] == []
    assert [p.message for p in model.coerce(dict(MINI_CASE, label="abcd"))[1]] == ["is too long (at most 3 characters)"]


def test_many_unknown_fields_are_counted_not_listed(ruleset):
    case = _case()
    case["project"].update({f"extra_{i}": i for i in range(50_000)})
    case["project"]["x" * 100_000] = 1
    started = time.perf_counter()
    with pytest.raises(CaseError) as raised:
        ruleset.evaluate(case)
    assert time.perf_counter() - started < 2
    problems = raised.value.problems
    assert len(problems) == MAX_UNKNOWN_FIELDS + 1
    assert problems[-1].message == f"has {50_001 - MAX_UNKNOWN_FIELDS} more unknown fields"


# -- case text ------------------------------------------------------------------------------------------------

def test_case_text_that_is_not_utf8_is_refused():
    raw = b"\xff{}".decode("utf-8", "surrogateescape")  # as standard input hands it over
    with pytest.raises(CaseTextError, match="not valid UTF-8"):
        parse_case_text(raw)


@pytest.mark.parametrize("text", ["", "   \n\t", "# only a comment\n"])
def test_an_empty_case_is_refused(text):
    with pytest.raises(CaseTextError, match="the case is empty"):
        parse_case_text(text)


def _read_as_parse_case_text_reads(text):
    """read_object_line's answer is None, or exactly what the full way reads (a line it refuses is None); and
    parse_case_text reads, or refuses, as the full way does."""
    quick = read_object_line(text)
    try:
        full = read_case_text_fully(text)
    except CaseTextError as error:
        assert quick is None, text
        with pytest.raises(CaseTextError) as again:
            parse_case_text(text)
        assert str(again.value) == str(error)
        return
    assert quick is None or repr(quick) == repr(full), text
    assert repr(parse_case_text(text)) == repr(full)
    return quick


@pytest.mark.parametrize("text, read", [
    ('{"a": 1, "b": [1.50, {"c": null}]}', True),
    ('{"a": 1}  \t\r', True),  # what JSON counts as space may follow
    ('{"a": 1}\x0b', False),  # other ASCII space is not JSON's: "Extra data"
    ('{"a": 1} {"b": 2}', False),
    ('{"a": 1, "a": 2}', False),  # a key written twice, in any object
    ('{"a": {"b": 1, "b": 1}}', False),
    (' {"a": 1}', False),  # read the full way (which takes it)
    ('[{"a": 1}]', False),
    ('{"a": "\\u00e9"}', True),
    ('{"a": "é"}', False),  # not ASCII: the full way checks it is UTF-8
    ('{"a": 1', False),
    ('{"a": 1' + "]" * 3, False),
    ('{"a": 1e999999999999}', True),  # an exponent beyond Decimal's, kept to be refused by path
    ('{"a": ' + "9" * 5000 + '}', False),  # longer than int() reads: the full way reads it as a Decimal
    ('{"a": ' + "[" * 100_000 + "]" * 100_000 + '}', False),
    ("{'a': 1}", False),
    ("{a: 1}", False),  # YAML, or nothing, the full way says
])
def test_a_batch_line_is_read_as_a_case_text_is(text, read):
    assert (_read_as_parse_case_text_reads(text) is not None) is read


def _written(pairs_or_value, space):
    """JSON text of a value whose objects are lists of (key, value) pairs: a key may come twice."""
    if isinstance(pairs_or_value, tuple):
        return "{" + ("," + space).join(f'"{key}"{space}:{space}{_written(value, space)}'
                                          for key, value in pairs_or_value) + "}"
    if isinstance(pairs_or_value, list):
        return "[" + ",".join(_written(value, space) for value in pairs_or_value) + "]"
    return pairs_or_value


JSON_LEAVES = st.sampled_from(["1", "-0", "2.50", "1e400", "1E-7", "9" * 4400, "true", "null", '"x"', '"\\u0041"',
                               '"\\""', '"a\\\\"'])
JSON_VALUES = st.recursive(JSON_LEAVES, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.lists(st.tuples(st.sampled_from("abc"), inner), max_size=4).map(tuple)), max_leaves=12)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.sampled_from("abcd"), JSON_VALUES), max_size=5).map(tuple),
       st.sampled_from(["", " ", "\t"]), st.sampled_from(["", " ", "\t\r", "\x0b", " x", "}", ",{}"]))
def test_any_line_is_read_as_a_case_text_is(case, space, after):
    _read_as_parse_case_text_reads(_written(case, space) + after)


def test_a_crafted_schema_error_reaches_the_rules_user(tmp_path):
    """A rules folder whose case schema the engine cannot use fails to load with the schema's problem, not a crash."""
    marker = tmp_path / "MARKER"
    rules, _, _ = _crafted_rules(tmp_path, marker)
    schema = json.loads((rules / "case.schema.json").read_text())
    schema["properties"]["enterprise"]["properties"]["nace_code"]["pattern"] = "^([0-9]+)+$"
    (rules / "case.schema.json").write_text(json.dumps(schema), encoding="utf-8")
    with pytest.raises((CaseSchemaError, RulesError)) as raised:
        load_ruleset(on=date(2024, 6, 10), rules=rules)
    assert "exponential time" in str(raised.value)
    assert not marker.exists()
