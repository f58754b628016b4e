"""Test cases written as data beside the rules: YAML in, pass/fail with the why.

A test file holds `tests:`, each a case (a file next to it or written inline),
optional `with:` changes to that case (dotted paths, for boundaries), an
optional `on:` date, and `expect:` (decision fields, reason and note codes,
the version chosen) or `expect_error:` (the JSON paths of input errors).
Each test runs under the version in force on its date.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from .case import _exact_yaml, parse_case_text
from .diagnostics import CaseError, Diagnostic, KmoRulesError, RulesError
from .evaluate import Decision, evaluate_case
from .load import PosDict, PosList, read_yaml
from .pipeline import RuleBook
from .span import Span, format_json_path


@dataclass(frozen=True)
class TestCase:
    name: str
    file: str
    span: Span
    case: object
    on: date | None
    expect: dict
    expect_error: tuple[str, ...] | None


@dataclass(frozen=True)
class TestResult:
    test: TestCase
    passed: bool
    failures: tuple[str, ...] = ()
    decision: Decision | None = None
    version: str | None = None
    fired: frozenset = field(default_factory=frozenset)  # rules and parameters this test exercised


def _plain(value):
    """Positioned YAML data -> plain dicts and lists, numbers exact."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return value
    return _exact_yaml(value)


def _set_path(case, path: str, value) -> None:
    parts = path.split(".")
    target = case
    for part in parts[:-1]:
        target = target[int(part)] if isinstance(target, list) else target.setdefault(part, {})
    last = parts[-1]
    if isinstance(target, list):
        target[int(last)] = value
    elif value is None and last.endswith("!"):
        target.pop(last[:-1], None)
    else:
        target[last] = value


def _numeric(text) -> Decimal | None:
    if isinstance(text, bool) or text is None:
        return None
    try:
        return Decimal(str(text).replace("EUR", "").replace("%", "").strip())
    except InvalidOperation:
        return None


def _same(expected, actual, key: str) -> bool:
    if isinstance(expected, str) and expected.strip().endswith("%") and actual is not None:
        number = _numeric(expected)
        return number is not None and _numeric(actual) == number / 100
    a, b = _numeric(expected), _numeric(actual)
    if a is not None and b is not None and not isinstance(expected, bool):
        return a == b
    return str(expected) == str(actual) if expected is not None and actual is not None else expected == actual


def read_tests(path: Path, shown: str) -> tuple[list[TestCase], list[Diagnostic]]:
    """A test file -> its test cases (cases read and `with:` applied), or problems with file:line."""
    doc, problems = read_yaml(path.read_text(encoding="utf-8"), shown)
    if problems or doc is None:
        return [], problems or [Diagnostic("test-file", "the test file is empty", Span(shown, 1, 1))]
    tests_list = doc.get("tests") if isinstance(doc, PosDict) else None
    if not isinstance(tests_list, PosList):
        return [], [Diagnostic("test-file", "a test file holds 'tests:', a list of tests", getattr(doc, "span", Span(shown, 1, 1)))]
    out = []
    for i, entry in enumerate(tests_list):
        span = tests_list.value_locs[i].span
        if not isinstance(entry, PosDict):
            problems.append(Diagnostic("test-file", "each test is a mapping with name, case and expect", span))
            continue
        unknown = set(entry) - {"name", "case", "with", "on", "expect", "expect_error", "description"}
        for key in sorted(unknown):
            problems.append(Diagnostic("test-file", f"unknown field '{key}' in a test (allowed: name, case, with, on, "
                                       "expect, expect_error, description)", entry.key_spans[key]))
        name = str(entry.get("name") or f"test {i + 1}")
        raw = entry.get("case")
        if isinstance(raw, str):
            case_path = (path.parent / raw)
            try:
                case = parse_case_text(case_path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                problems.append(Diagnostic("test-file", f"cannot read the case file {raw}: {error}", entry.value_locs["case"].span))
                continue
        elif isinstance(raw, PosDict):
            case = _plain(raw)
        else:
            problems.append(Diagnostic("test-file", f"test '{name}' needs a case: a file name or the case itself", span))
            continue
        case = copy.deepcopy(case)
        for key, value in (entry.get("with") or {}).items():
            try:
                _set_path(case, str(key), _plain(value))
            except (KeyError, IndexError, ValueError, TypeError):
                problems.append(Diagnostic("test-file", f"cannot set {key} in the case", entry["with"].key_spans[key]))
        on = None
        if entry.get("on") is not None:
            try:
                on = date.fromisoformat(str(entry["on"]))
            except ValueError:
                problems.append(Diagnostic("test-file", f"on: '{entry['on']}' is not a date", entry.value_locs["on"].span))
        expect = _plain(entry.get("expect") or {})
        expect_error = entry.get("expect_error")
        if not expect and expect_error is None:
            problems.append(Diagnostic("test-file", f"test '{name}' has no expect: (what must the decision be?)", span))
        out.append(TestCase(name, shown, span, case, on, expect,
                            tuple(str(p) for p in expect_error) if expect_error is not None else None))
    return out, problems


def run_test(book: RuleBook, test: TestCase, *, lang: str = "en") -> TestResult:
    """One test case under the version in force on its date."""
    try:
        day = test.on or date.fromisoformat(str(test.case["application_date"]))
        built = book.on(day)
    except (KeyError, TypeError, ValueError) as error:
        return TestResult(test, False, (f"the case has no usable application_date ({error}) and the test no 'on:'",))
    except KmoRulesError as error:
        return TestResult(test, False, (str(error),))
    try:
        decision = evaluate_case(built.compiled, built.info, test.case, explain=True, lang=lang)
    except CaseError as error:
        paths = tuple(format_json_path(p.path) for p in error.problems)
        if test.expect_error is not None:
            missing = [p for p in test.expect_error if p not in paths]
            if missing:
                return TestResult(test, False, (f"expected input errors at {', '.join(missing)}; got: "
                                                + "; ".join(str(p) for p in error.problems),), version=built.info.version)
            return TestResult(test, True, version=built.info.version)
        return TestResult(test, False, ("the case was refused as input: " + "; ".join(str(p) for p in error.problems),),
                          version=built.info.version)
    except RulesError as error:
        return TestResult(test, False, (str(error),), version=built.info.version)
    if test.expect_error is not None:
        return TestResult(test, False, (f"expected input errors at {', '.join(test.expect_error)}, but a decision was made",),
                          decision, built.info.version)
    actual = decision.to_dict()
    failures = []
    for key, expected in test.expect.items():
        if key in ("reasons", "notes"):
            got = [r["code"] for r in actual[key]]
            want = [str(x) for x in (expected or [])]
            if sorted(got) != sorted(want):
                failures.append(f"{key}: expected {want}, got {got}")
        elif key == "version":
            if str(expected) != built.info.version:
                failures.append(f"version: expected {expected}, got {built.info.version}")
        elif key not in actual:
            failures.append(f"{key}: the decision has no such field")
        elif not _same(expected, actual[key], key):
            failures.append(f"{key}: expected {expected}, got {actual[key]}")
    fired = set()
    if decision.explanation:
        for step in decision.explanation.steps:
            fired.add(f"{step.kind}:{step.name}")
            for used, _ in step.uses:
                fired.add(used)
    return TestResult(test, not failures, tuple(failures), decision, built.info.version, frozenset(fired))


def find_test_files(rules_dir: Path) -> list[Path]:
    """Test files live in a `tests/` folder beside the rule files."""
    found = sorted(rules_dir.glob("tests/*.yaml")) + sorted(rules_dir.glob("*/tests/*.yaml"))
    return found
