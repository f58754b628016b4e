"""Runs every test case kept as YAML beside the rules of every scheme (rules/<scheme>/tests/*.yaml) under pytest."""
from pathlib import Path

import pytest

from engine.pipeline import list_schemes, open_rules
from engine.present.testing import find_test_files, read_tests, run_test

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"
BOOKS = {spec.id: open_rules(RULES, spec.id) for spec in list_schemes(RULES)}


def _collect():
    params = []
    for scheme, book in BOOKS.items():
        for path in find_test_files(book.folder):
            tests, problems = read_tests(path, str(path.relative_to(ROOT)))
            for problem in problems:
                params.append(pytest.param(None, None, problem, id=f"{scheme}/{path.stem}:{problem.span.line if problem.span else 0}"))
            for test in tests:
                params.append(pytest.param(scheme, test, None, id=f"{scheme}/{path.stem}: {test.name}"))
    return params


@pytest.mark.parametrize("scheme, test, problem", _collect())
def test_rule_case(scheme, test, problem):
    assert problem is None, f"broken test file: {problem}"
    result = run_test(BOOKS[scheme], test)
    assert result.passed, f"{test.file}:{test.span.line}: {test.name}\n" + "\n".join(result.failures)


def test_every_scheme_has_rule_cases():
    counted = {scheme: sum(1 for p in _collect() if p.values[0] == scheme) for scheme in BOOKS}
    assert set(counted) == {"kmo-portefeuille", "kmo-groeisubsidie"}
    assert all(count >= 100 for count in counted.values()), counted
