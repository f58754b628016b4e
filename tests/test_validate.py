"""`kmo-rules validate` as an analyst meets it: one broken rules folder in, the exact report out.

Each folder of tests/rule_errors/ holds one kind of mistake: `patch.yaml`
(what was changed in the clean rules of rule_errors/clean/) and
`expected.txt` (what validate prints). Regenerate the expectations with
`pytest tests/test_validate.py --snapshot-update`, then read every diff.
"""
import io
import shutil
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
                 "change-unknown", "test-case", "test-expect"):
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
