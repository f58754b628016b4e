"""Runs every test case kept as YAML beside the rules (rules/*/tests/*.yaml) under pytest."""
from pathlib import Path

import pytest

from engine.pipeline import open_rules
from engine.present.testing import find_test_files, read_tests, run_test

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"
BOOK = open_rules(RULES)


def _collect():
    params = []
    for path in find_test_files(RULES):
        tests, problems = read_tests(path, str(path.relative_to(ROOT)))
        for problem in problems:
            params.append(pytest.param(None, problem, id=f"{path.stem}:{problem.span.line if problem.span else 0}"))
        for test in tests:
            params.append(pytest.param(test, None, id=f"{path.stem}: {test.name}"))
    return params


@pytest.mark.parametrize("test, problem", _collect())
def test_rule_case(test, problem):
    assert problem is None, f"broken test file: {problem}"
    result = run_test(BOOK, test)
    assert result.passed, f"{test.file}:{test.span.line}: {test.name}\n" + "\n".join(result.failures)


def test_there_are_rule_cases():
    assert len(_collect()) >= 6
