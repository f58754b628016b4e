"""The fast path (one generated function per version that checks and decides a valid case in one pass) gives the
decision the full path gives, field for field, on every test case of every scheme and on generated corpora; and
on a case it cannot take it steps aside, so every error is the one the full path names."""
import json
from pathlib import Path

import pytest

import corpus  # noqa: E402  (benchmarks/corpus.py)
from engine import CaseError
from engine.pipeline import list_schemes, open_rules
from engine.present.testing import find_test_files, read_tests
from engine.run.evaluate import evaluate_case

ROOT = Path(__file__).resolve().parent.parent
BOOKS = {spec.id: open_rules(ROOT / "rules", spec.id) for spec in list_schemes(ROOT / "rules")}


def _both(book, raw, built=None):
    """(fast, full) as contract dicts, in English and in Dutch; the full path is the one an explanation takes,
    explanation left out."""
    built = built or book.for_case(raw)
    fast, full = [], []
    for lang in ("en", "nl"):
        fast.append(evaluate_case(built.compiled, built.info, raw, lang=lang).to_dict())
        full.append(evaluate_case(built.compiled, built.info, raw, explain=True, lang=lang).to_dict())
        full[-1]["explanation"] = None
    return fast, full


def _test_cases(scheme):
    book = BOOKS[scheme]
    for path in find_test_files(book.folder):
        tests, _ = read_tests(path, str(path.relative_to(ROOT)))
        for test in tests:
            if test.expect_error is None:
                yield test


@pytest.mark.parametrize("scheme", sorted(BOOKS))
def test_fast_and_full_agree_on_every_test_case_of_a_scheme(scheme):
    book = BOOKS[scheme]
    count = 0
    for test in _test_cases(scheme):
        built = book.on(test.on) if test.on else book.for_case(test.case)
        fast, full = _both(book, test.case, built)
        assert fast == full, f"{test.file}: {test.name}"
        assert json.dumps(fast) == json.dumps(full)  # the same order of fields too, in both languages
        count += 1
    assert count > 100


@pytest.mark.parametrize("year", [2019, 2023, 2024, 2026])
def test_fast_and_full_agree_on_a_generated_corpus(year):
    book = BOOKS["kmo-portefeuille"]
    for raw in corpus.generate_cases(corpus.year_spec(300, 11, year)):
        try:
            fast, full = _both(book, raw)
        except CaseError:
            continue
        assert fast == full


def test_an_invalid_case_gets_the_full_paths_problems():
    book = BOOKS["kmo-portefeuille"]
    raw = json.loads((ROOT / "examples" / "small-cybersecurity-training.json").read_text())
    raw["project"]["costs"]["fee"] = "12.345"
    raw["enterprise"]["legal_form"] = "bvba"
    built = book.for_case(raw)
    problems = []
    for explain in (False, True):
        with pytest.raises(CaseError) as error:
            evaluate_case(built.compiled, built.info, raw, explain=explain)
        problems.append([str(p) for p in error.value.problems])
    assert problems[0] == problems[1] and len(problems[0]) == 2
