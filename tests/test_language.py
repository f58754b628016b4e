"""The rule language on its own: what expressions mean, and the mistakes caught before any case runs."""
import pytest

from engine import CaseError, RulesError
from engine.lang.parse import parse_expression
from engine.lang.printer import print_expr
from engine.core.span import Span
from mini import CASE, problems_of, value_of, write_rules


@pytest.mark.parametrize("expression, expected", [
    ("round(amount * 30 %)", "30.00"),
    ("round(EUR 1001.05 * 30 %)", "300.32"),          # 300.315: half up
    ("round(EUR 0.05 * 50 %)", "0.03"),                # 0.025: half up, not to even
    ("round(EUR 100.01 * 45 %)", "45.00"),             # 45.0045
    ("min(amount, EUR 20) + max(EUR 0, EUR 5 - amount)", "20.00"),
    ("sum(i.amount for i in items)", "12.50"),
    ("sum(i.amount for i in items if year(i.day) == year(day))", "2.50"),
    ("count(i.amount > EUR 5 for i in items)", 1),
    ("any(i.day < 2024-01-01 for i in items)", True),
    ("all(i.amount > EUR 5 for i in items)", False),
    ("day + 14 days", "2024-03-14"),
    ("day + 1 year", "2025-02-28"),                    # 29 February + 1 year
    ("end_of_year(day + 1 year)", "2025-12-31"),
    ("day - 2024-01-01", 59),
    ("if kind == alpha then 1 else 2", 1),
    ("kind in [beta]", False),
    ("count * share", "0.75"),
    ("amount / 4", "25.00"),
    ("coalesce(label, \"none\")", "none"),
    ("later == null", True),
    ("starts_with(\"62.010\", \"62\")", True),
    ("-amount + EUR 150", "50.00"),
    ("30 % + 15 %", "0.45"),
])
def test_expression_values(tmp_path, expression, expected):
    assert value_of(tmp_path / "rules", expression) == expected


def test_declared_enum_output(tmp_path):
    assert value_of(tmp_path / "rules", "if amount > EUR 50 then big else small",
                    type_="enum(small, big)") == "big"


@pytest.mark.parametrize("expression, message", [
    ("amount + day", "type-operands: cannot add money and date"),
    ("amount + 5", "type-operands: cannot add money and int (write amounts as EUR 100)"),
    ("amount > 0", "type-compare: cannot compare money with int using '>' (write amounts as EUR 100)"),
    ("day + 14", "type-operands: cannot add date and int (write a duration such as 10 days)"),
    ("kind == gamma", "unknown-value: 'gamma' is not one of kind: alpha, beta"),
    ("kind == alhpa", "unknown-value: 'alhpa' is not one of kind: alpha, beta (did you mean 'alpha'?)"),
    ("ammount * 2", "unknown-name: unknown name 'ammount' (did you mean 'amount'?)"),
    ("later > day", "maybe-null: later may be null here, so it cannot be used in '>' (test it first: later != null and ...)"),
    ("if amount > EUR 1 then day else amount", "type-branches: the two branches differ: 'then' gives date, 'else' gives money"),
    ("sum(i.amont for i in items)", "unknown-field: i has no field 'amont' (did you mean 'amount'?)"),
    ("round(day)", "type-call-argument: round takes money or decimal or percent, not date"),
    ("frobnicate(amount)", "unknown-function: unknown function 'frobnicate'"),
    ("amount > EUR 1 and 3", "type-condition: expected true or false here, got int"),
])
def test_type_errors_are_found_before_any_case(tmp_path, expression, message):
    found = problems_of(tmp_path / "rules", expression)
    assert any(p.startswith(message) for p in found), found


def test_a_null_tested_first_may_be_used(tmp_path):
    assert value_of(tmp_path / "rules", "later != null and later > day") is False
    assert value_of(tmp_path / "rules", "later == null or later > day") is True


@pytest.mark.parametrize("text", ["a =", "a = b", "(a + b", "a + * b", "EUR", "if a then b", "a < b < c"])
def test_syntax_errors_are_diagnostics_with_a_position(text):
    expr, problems = parse_expression(text, lambda offset: Span("f.yaml", 7, 10 + offset))
    assert expr is None and problems
    assert problems[0].code == "syntax" and problems[0].span.line == 7 and problems[0].span.column >= 10


def test_a_syntax_error_points_into_the_yaml_file(tmp_path):
    folder = write_rules(tmp_path / "rules", """\
parameters: {}
rules:
  x:
    value: |
      amount *
        (EUR 2 +)
    source: test
conditions: {}
outputs: {x: x}
""")
    with pytest.raises(RulesError) as raised:
        from engine import load_ruleset
        load_ruleset(on="2024-06-01", rules=folder)
    problem = raised.value.diagnostics[0]
    # the closing parenthesis is on line 12 of the file (6 header lines + 6), column 17
    assert (problem.code, problem.span.line, problem.span.column) == ("syntax", 12, 17)
    assert problem.span.file.endswith("2024-01-01.yaml")


def test_rules_that_refer_to_each_other_in_a_circle(tmp_path):
    folder = write_rules(tmp_path / "rules", """\
parameters: {}
rules:
  a: {value: b + EUR 1, source: test}
  b: {value: c, source: test}
  c: {value: a, source: test}
conditions: {}
outputs: {a: a}
""")
    found = [d.message for d in __import__("engine").pipeline.validate_rules(folder)]
    assert any("circle" in m and "a uses b, which uses c, which uses a" in m for m in found), found


def test_a_condition_cannot_depend_on_eligibility(tmp_path):
    folder = write_rules(tmp_path / "rules", """\
parameters: {}
rules:
  paid: {value: "if eligible then amount else EUR 0", source: test}
conditions:
  too_much:
    fails_when: paid > EUR 10
    message: {en: too much, nl: te veel}
    source: test
outputs: {paid: paid}
""")
    found = [d.message for d in __import__("engine").pipeline.validate_rules(folder)]
    assert any("depends on whether the case is eligible" in m for m in found), found


@pytest.mark.parametrize("text", [
    "if a < 50 and (b <= EUR 10000000 or c <= EUR 10000000) then small else if a < 250 then medium else large",
    "sum(r.employees * r.share for r in enterprise.related_enterprises if r.share >= 25 % and r.share <= 50 %)",
    "project.kind == advice and not (project.theme == digitalisation and project.focus == cybersecurity)",
    "x not in excluded_services",
    "end_of_year(application_date + 1 year)",
    "(a - b) - (c - d)",
    "a - (b - c)",
])
def test_the_printer_gives_text_that_parses_back_to_the_same_tree(text):
    place = lambda offset: Span("f", 1, offset + 1)  # noqa: E731
    tree, problems = parse_expression(text, place)
    assert not problems
    printed = print_expr(tree)
    again, problems = parse_expression(printed, place)
    assert not problems and again == tree
    assert print_expr(again) == printed


def test_layout_does_not_matter_to_the_tree():
    place = lambda offset: Span("f", 1, offset + 1)  # noqa: E731
    one, _ = parse_expression("min(a,b)+c", place)
    two, _ = parse_expression("min( a ,\n      b )\n  + c  # a comment", place)
    assert one == two


def test_money_is_exact_decimal_even_when_the_case_gives_floats(tmp_path):
    case = dict(CASE, amount=0.1)
    assert value_of(tmp_path / "rules", "amount * 3", case) == "0.30"


def test_a_runtime_failure_names_the_rule(tmp_path):
    folder = tmp_path / "rules"
    with pytest.raises(RulesError) as raised:
        value_of(folder, "amount / (count - 3)")
    assert "rule x failed on this case: a division by zero" in str(raised.value)


def test_an_output_that_is_not_a_whole_cent_asks_for_explicit_rounding(tmp_path):
    with pytest.raises(RulesError) as raised:
        value_of(tmp_path / "rules", "amount * 0.12345")
    assert "not a whole cent" in str(raised.value)


def test_bad_input_to_the_mini_ruleset_is_reported_by_path(tmp_path):
    with pytest.raises(CaseError) as raised:
        value_of(tmp_path / "rules", "amount", dict(CASE, amount=-1, kind="gamma", extra=1))
    shown = str(raised.value)
    assert "amount: must be a number >= 0" in shown and "kind: must be one of alpha, beta" in shown
    assert "extra: unknown field" in shown
