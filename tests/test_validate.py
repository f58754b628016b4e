"""`kmo-rules validate` as an analyst meets it: one broken rules folder in, the exact report out.

Each folder of tests/rule_errors/ holds one kind of mistake: `patch.yaml`
(what was changed in the clean rules of rule_errors/clean/) and
`expected.txt` (what validate prints). Regenerate the expectations with
`pytest tests/test_validate.py --snapshot-update`, then read every diff.
"""
import io
import shutil
import textwrap
from pathlib import Path

import pytest
import yaml

from engine.cli import run

CASES = Path(__file__).resolve().parent / "rule_errors"
CLEAN = CASES / "clean"
KINDS = sorted(p.name for p in CASES.iterdir() if (p / "patch.yaml").is_file())


def validate(folder: Path, monkeypatch) -> tuple[int, str, str]:
    monkeypatch.chdir(folder)
    out, err = io.StringIO(), io.StringIO()
    status = run(["validate", "rules"], io.StringIO(), out, err)
    return status, out.getvalue(), err.getvalue()


def broken_copy(kind: str, tmp_path: Path) -> Path:
    """The clean rules with the patch of one mistake applied."""
    shutil.copytree(CLEAN / "rules", tmp_path / "rules")
    patch = yaml.safe_load((CASES / kind / "patch.yaml").read_text(encoding="utf-8"))
    for edit in patch["edits"]:
        path = tmp_path / edit["file"]
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        if "replace" in edit:
            assert text.count(edit["replace"]) == 1, f"{kind}: '{edit['replace']}' must occur once in {edit['file']}"
            text = text.replace(edit["replace"], edit["by"])
        else:
            text = edit["by"]
        path.write_text(text, encoding="utf-8")
    return tmp_path


def test_the_clean_rules_pass(monkeypatch, snapshot):
    status, out, err = validate(CLEAN, monkeypatch)
    assert (status, err) == (0, "")
    snapshot.snapshot_dir = CLEAN
    snapshot.assert_match(out, "expected.txt")


def test_there_is_a_case_for_each_kind_of_mistake():
    codes = " ".join((CASES / kind / "expected.txt").read_text() for kind in KINDS)
    for code in ("yaml-syntax", "yaml-duplicate-key", "schema", "syntax", "unknown-name", "unknown-field",
                 "unknown-value", "type-operands", "type-compare", "type-call-argument", "type-branches", "cycle",
                 "unused-parameter", "unused-rule", "version-overlap", "version-gap", "version-follows",
                 "version-id", "change-unknown", "test-case", "test-expect", "yaml-indentation"):
        assert f": {code}: " in codes, f"no case in tests/rule_errors/ shows {code}"


@pytest.mark.parametrize("kind", KINDS)
def test_a_mistake_is_reported_where_it_is(kind, tmp_path, monkeypatch, snapshot):
    status, out, err = validate(broken_copy(kind, tmp_path), monkeypatch)
    snapshot.snapshot_dir = CASES / kind
    snapshot.assert_match(out, "expected.txt")
    errors = not out.rstrip().splitlines()[-1].startswith("0 errors")
    assert status == (2 if errors else 0) and err == ""


def test_every_problem_is_reported_at_once(tmp_path, monkeypatch):
    """Mistakes in several files and stages come out together, in file order, with one summary line."""
    shutil.copytree(CLEAN / "rules", tmp_path / "rules")
    base = tmp_path / "rules" / "mini" / "2024-01-01.yaml"
    base.write_text(base.read_text().replace("value: project.costs.fee\n", "value: project.costs.fees\n")
                    .replace("fails_when: size_class == large", "fails_when: size_class == huge"))
    change = tmp_path / "rules" / "mini" / "2025-01-01.yaml"
    change.write_text(change.read_text().replace("rates.small:", "rates.smal:"))
    status, out, _ = validate(tmp_path, monkeypatch)
    lines = [line for line in out.splitlines() if line.startswith("rules/")]
    assert status == 2
    assert [line.split(": ")[1] for line in lines] == ["unknown-field", "unknown-value", "change-unknown"]
    assert "did you mean 'fee'?" in lines[0] and "did you mean 'rates.small'?" in lines[2]
    assert out.splitlines()[-1].startswith("3 errors, 0 warnings in 4 files (checked ")


def test_a_missing_folder_is_an_error(tmp_path, monkeypatch):
    status, out, _ = validate(tmp_path, monkeypatch)
    assert status == 2 and "the rules folder rules does not exist" in out


def test_the_bundled_rules_and_their_tests_are_clean():
    out = io.StringIO()
    assert run(["validate"], io.StringIO(), out, io.StringIO()) == 0
    assert out.getvalue().startswith("0 errors")


# -- indentation: each mistake is shown on the line that holds it ------------------------------------------

BASE, CHANGE, TESTS = "rules/mini/2024-01-01.yaml", "rules/mini/2025-01-01.yaml", "rules/mini/tests/mini.yaml"
SCHEME = "rules/mini/scheme.yaml"
INDENTATION = {  # what is written wrongly -> (file, the text as it is, the text with the mistake[, its wrong line])
    "a value one space too little": (BASE, "    value: EUR 100\n", "   value: EUR 100\n"),
    "a value one space too many": (BASE, "    value: EUR 100\n", "     value: EUR 100\n"),
    "a nested value one space too little": (BASE, "      value: 20 %\n", "     value: 20 %\n"),
    "the first key of a rule one space too little": (BASE, "    label: {en: Size class", "   label: {en: Size class"),
    "a second key one space too many": (BASE, "    source: Test data, art. 2\n", "     source: Test data, art. 2\n"),
    "a second key one space too little": (BASE, "    source: Test data, art. 2\n", "   source: Test data, art. 2\n"),
    "a value a whole level too little": (BASE, "    value: EUR 100\n", "  value: EUR 100\n"),
    "a top key one space in": (CHANGE, "changes:\n", " changes:\n"),
    "the first top key one space in": (SCHEME, "scheme: mini\n", " scheme: mini\n"),
    "the first line of a text one space too deep": (
        BASE, "    value: project.costs.fee\n", "    value: |\n       project.costs.fee\n      + EUR 0\n", 1),
    "a later line of a text one space too little": (
        BASE, "    value: project.costs.fee\n", "    value: |\n      project.costs.fee\n      + EUR 0\n     + EUR 0\n", 3),
    "a key of a test one space too little": (TESTS, "    case:\n      application_date: \"2024-06-10\"",
                                             "   case:\n      application_date: \"2024-06-10\""),
    "the first key of a case one space too little": (TESTS, "      application_date: \"2024-06-10\"\n",
                                                     "     application_date: \"2024-06-10\"\n"),
    "the '-' of the first test one space too little": (TESTS, "  - name: a small firm gets 30 %",
                                                       " - name: a small firm gets 30 %"),
    "the '-' of a later test one space too many": (TESTS, "  - name: a vzw is refused", "   - name: a vzw is refused"),
}


@pytest.mark.parametrize("mistake", sorted(INDENTATION))
def test_an_indentation_mistake_is_reported_on_its_own_line(mistake, tmp_path, monkeypatch):
    file, written, wrong, *which = INDENTATION[mistake]
    shutil.copytree(CLEAN / "rules", tmp_path / "rules")
    path = tmp_path / file
    text = path.read_text(encoding="utf-8")
    wrong_line = text[:text.index(written)].count("\n") + 1 + (which[0] if which else 0)
    path.write_text(text.replace(written, wrong, 1), encoding="utf-8")
    status, out, _ = validate(tmp_path, monkeypatch)
    problems = [line for line in out.splitlines() if line.startswith("rules/")]
    assert status == 2 and len(problems) == 1, out
    assert problems[0].startswith(f"{file}:{wrong_line}:") and ": yaml-indentation: " in problems[0], out


def test_a_colon_in_a_value_is_not_taken_for_an_indentation_mistake(tmp_path, monkeypatch):
    shutil.copytree(CLEAN / "rules", tmp_path / "rules")
    path = tmp_path / BASE
    path.write_text(path.read_text().replace("summary: A small subsidy for small and medium-sized enterprises.",
                                             "summary: A small subsidy\n  for small and medium-sized: enterprises."))
    _, out, _ = validate(tmp_path, monkeypatch)
    assert f"{BASE}:9:29: yaml-syntax: a value holds ': '" in out


# -- versions: one line of days, each version named by its first day ---------------------------------------

def _with_version(tmp_path, name: str, text: str) -> Path:
    shutil.copytree(CLEAN / "rules", tmp_path / "rules")
    (tmp_path / "rules" / "mini" / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return tmp_path


NEXT_VERSION = """\
    ruleset: mini
    version: "{version}"
    follows: "2025-01-01"
    effective_from: {start}
    summary: The medium rate goes up to 25 %.
    source: Test data, amendment of 2026
    changes:
      set_parameters:
        rates.medium:
          value: 25 %
          label: {{en: Rate for a medium-sized enterprise, nl: Steunpercentage middelgrote onderneming}}
          source: Test data, art. 1 as amended in 2026
    """


def test_a_version_dated_before_every_other_is_one_overlap_at_its_date(tmp_path, monkeypatch):
    folder = _with_version(tmp_path, "2026-01-01.yaml", NEXT_VERSION.format(version="2026-01-01", start="2014-06-01"))
    status, out, _ = validate(folder, monkeypatch)
    problems = [line for line in out.splitlines() if line.startswith("rules/")]
    assert status == 2 and problems == [(
        "rules/mini/2026-01-01.yaml:4:17: version-overlap: version 2026-01-01 starts on 2014-06-01, before the first "
        "version, yet it follows version 2025-01-01, which starts on 2025-01-01 (its version id says 2026-01-01: is "
        "effective_from right?)")]


def test_a_version_inserted_between_two_asks_both_follows_to_change(tmp_path, monkeypatch):
    """Id and date agree, so the date is meant: the version goes between 2024 and 2025, and both 'follows:'
    around it must say so."""
    folder = _with_version(tmp_path, "2024-06-01.yaml", NEXT_VERSION.format(version="2024-06-01", start="2024-06-01"))
    _, out, _ = validate(folder, monkeypatch)
    problems = [line.split(": ", 2)[:2] for line in out.splitlines() if line.startswith("rules/")]
    assert problems == [["rules/mini/2024-06-01.yaml:3:10", "version-follows"],
                        ["rules/mini/2025-01-01.yaml:4:10", "version-follows"]]
    assert "follows '2025-01-01' (which starts later, on 2025-01-01), but the version in force just before it is " \
           "2024-01-01 (write follows: \"2024-01-01\")" in out


def test_a_version_id_that_is_not_its_date_is_shown_where_the_file_name_disagrees(tmp_path, monkeypatch):
    folder = _with_version(tmp_path, "2026-01-01.yaml", NEXT_VERSION.format(version="2025-12-01", start="2026-01-01"))
    _, out, _ = validate(folder, monkeypatch)
    problems = [line for line in out.splitlines() if line.startswith("rules/")]
    assert problems == [("rules/mini/2026-01-01.yaml:2:10: version-id: version 2025-12-01 starts on 2026-01-01: a "
                         "version's id is the day it starts (write version: \"2026-01-01\")")]


def test_a_module_version_id_is_its_date_too(tmp_path, monkeypatch):
    rules = Path(__file__).resolve().parent.parent / "rules"
    shutil.copytree(rules, tmp_path / "rules")
    module = tmp_path / "rules" / "modules" / "de-minimis" / "2024-01-01.yaml"
    text = module.read_text(encoding="utf-8")
    assert text.count("effective_from: 2024-01-01\n") == 1
    module.write_text(text.replace("effective_from: 2024-01-01\n", "effective_from: 2024-01-02\n"), encoding="utf-8")
    status, out, _ = validate(tmp_path, monkeypatch)
    line = text[:text.index("effective_from: 2024-01-01")].count("\n") + 1
    assert status == 2
    assert f"rules/modules/de-minimis/2024-01-01.yaml:{line}:17: version-id: version 2024-01-01 starts on " \
           "2024-01-02: a version's id is the day it starts" in out
