"""Auditors replay a stored decision: `kmo-rules verify`, `engine.verify` and `kmo-rules show --canonical`."""
import hashlib
import json
from pathlib import Path

import pytest

import engine
from engine.audit.replay import Difference, Replay, canonical_text
from engine.lang.printer import content_hash
from helpers import cli

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "small-cybersecurity-training.json"
LATE = ROOT / "examples" / "late-application-and-no-theme.json"


def stored(tmp_path, *options, case=EXAMPLE, name="decision.json"):
    """The decision `kmo-rules evaluate` writes for a case, stored in a file, and the decision as data."""
    status, out, err = cli("evaluate", case, *options)
    assert (status, err) == (0, "")
    path = tmp_path / name
    path.write_text(out, encoding="utf-8")
    return path, json.loads(out)


def tampered(tmp_path, decision, change, name="tampered.json"):
    decision = json.loads(json.dumps(decision))
    change(decision)
    path = tmp_path / name
    path.write_text(json.dumps(decision, indent=2), encoding="utf-8")
    return path


def test_a_stored_decision_verifies_identical(tmp_path):
    path, decision = stored(tmp_path)
    status, out, err = cli("verify", EXAMPLE, path)
    assert (status, err) == (0, "")
    assert out == f"identical: 2024-01-01 sha256 {decision['ruleset']['sha256']}\n"


def test_a_decision_made_on_another_date_is_replayed_under_the_version_it_names(tmp_path):
    path, decision = stored(tmp_path, "--on", "2019-11-30")
    assert decision["ruleset"]["version"] == "2016-04-01"  # not the version the application date picks
    status, out, _ = cli("verify", EXAMPLE, path)
    assert status == 0 and out.startswith("identical: 2016-04-01 sha256 ")


def test_a_changed_subsidy_is_named(tmp_path):
    _, decision = stored(tmp_path)
    path = tampered(tmp_path, decision, lambda d: d.update(subsidy="1000.00"))
    status, out, err = cli("verify", EXAMPLE, path)
    assert (status, err) == (1, "")
    assert 'subsidy: stored "1000.00", now "1057.50"' in out
    assert len(out.splitlines()) == 2  # the heading and the one difference


def test_a_removed_reason_is_named(tmp_path):
    _, decision = stored(tmp_path, case=LATE)
    assert len(decision["reasons"]) >= 2
    codes = [r["code"] for r in decision["reasons"]]
    path = tampered(tmp_path, decision, lambda d: d["reasons"].pop())
    status, out, _ = cli("verify", LATE, path)
    assert status == 1
    assert f"reasons: stored {json.dumps(codes[:-1])}, now {json.dumps(codes)}" in out


def test_a_wrong_sha256_says_the_rules_changed(tmp_path):
    _, decision = stored(tmp_path)
    path = tampered(tmp_path, decision, lambda d: d["ruleset"].update(sha256="0" * 64))
    status, out, _ = cli("verify", EXAMPLE, path)
    assert status == 1
    assert (f"ruleset.sha256: stored {'0' * 64}, the rules give {decision['ruleset']['sha256']}: "
            "the rules of version 2024-01-01 changed since the decision was made") in out


def test_a_version_that_does_not_exist_exits_2(tmp_path):
    _, decision = stored(tmp_path)
    path = tampered(tmp_path, decision, lambda d: d["ruleset"].update(version="2024-01-02"))
    status, out, err = cli("verify", EXAMPLE, path)
    assert (status, out) == (2, "")
    assert "no version '2024-01-02' of kmo-portefeuille" in err and "Traceback" not in err


@pytest.mark.parametrize("content, expected", [
    ('{"subsidy": "1.00"}', "not a decision of the contract (schemas/decision.schema.json)"),
    ('{"ruleset":', "not JSON at line 1"),
    ("", "the decision is empty"),
    ("[1, 2]", "not a decision of the contract"),
])
def test_a_decision_that_is_not_the_contracts_shape_exits_2(tmp_path, content, expected):
    path = tmp_path / "decision.json"
    path.write_text(content)
    status, out, err = cli("verify", EXAMPLE, path)
    assert (status, out) == (2, "")
    assert expected in err and "Traceback" not in err


def test_a_bad_sha256_shape_is_bad_input(tmp_path):
    _, decision = stored(tmp_path)
    path = tampered(tmp_path, decision, lambda d: d["ruleset"].update(sha256="abc"))
    status, _, err = cli("verify", EXAMPLE, path)
    assert status == 2 and "ruleset.sha256" in err


def test_unreadable_files_exit_2(tmp_path):
    path, _ = stored(tmp_path)
    assert cli("verify", EXAMPLE, tmp_path / "missing.json")[0] == 2
    status, out, err = cli("verify", tmp_path / "missing-case.json", path)
    assert (status, out) == (2, "") and "missing-case.json: cannot read: no such file" in err
    status, _, err = cli("verify", EXAMPLE, tmp_path)
    assert status == 2 and "it is a folder" in err


def test_an_explained_decision_in_dutch_verifies(tmp_path):
    path, decision = stored(tmp_path, "--explain", "--lang", "nl")
    assert decision["explanation"]["lang"] == "nl"
    status, out, _ = cli("verify", EXAMPLE, path)
    assert status == 0 and out.startswith("identical: 2024-01-01")
    steps = decision["explanation"]["steps"]
    index = next(i for i, s in enumerate(steps) if s["name"] == "subsidy")
    path = tampered(tmp_path, decision, lambda d: d["explanation"]["steps"][index].update(value="1.00"))
    status, out, _ = cli("verify", EXAMPLE, path)
    assert status == 1 and f'explanation.steps[{index}].value: stored "1.00", now "1057.50"' in out


def test_a_decision_in_dutch_without_explanation_verifies(tmp_path):
    path, _ = stored(tmp_path, "--lang", "nl", case=LATE)
    assert cli("verify", LATE, path)[0] == 0


def test_verify_in_python_gives_a_replay():
    case = json.loads(EXAMPLE.read_text())
    decision = engine.load_ruleset(on="2024-06-10").evaluate(case).to_dict()
    result = engine.verify(case, decision)
    assert result == Replay(True, (), "2024-01-01", decision["ruleset"]["sha256"])
    decision["subsidy"] = "1000.00"
    result = engine.verify(case, decision)
    assert not result.identical
    assert result.differences == (Difference("subsidy", "1000.00", "1057.50"),)
    with pytest.raises(engine.ArgumentError):
        engine.verify(case, {"subsidy": "1.00"})
    with pytest.raises(engine.VersionNotFound):
        engine.verify(case, dict(decision, ruleset=dict(decision["ruleset"], version="1999-01-01")))


@pytest.mark.parametrize("day", ["2024-06-10", "2019-11-30"])
def test_the_canonical_text_hashes_to_the_decisions_sha256(tmp_path, day):
    _, decision = stored(tmp_path, "--on", day)
    status, out, err = cli("show", "--on", day, "--canonical")
    assert (status, err) == (0, "")
    assert not out.endswith("\n")  # what is printed is what is hashed, byte for byte
    assert hashlib.sha256(out.encode("utf-8")).hexdigest() == decision["ruleset"]["sha256"]


def test_the_canonical_text_and_the_content_hash_agree_for_every_version():
    book = engine.open_rules()
    for source in book.sources:
        checked = book.build(source).checked
        assert hashlib.sha256(canonical_text(checked).encode("utf-8")).hexdigest() == content_hash(checked)


def test_canonical_and_provenance_do_not_go_together():
    status, out, err = cli("show", "--on", "2024-06-10", "--canonical", "--provenance")
    assert (status, out) == (2, "") and "--canonical" in err


def test_versions_text_shows_unique_hashes_of_at_least_12_characters(capsys):
    status, out, _ = cli("versions")
    _, data, _ = cli("versions", "--format", "json")
    full = [row["sha256"] for row in json.loads(data)]
    assert status == 0 and all(len(h) == 64 for h in full)
    shown = [line.split("sha256 ")[1].split()[0] for line in out.splitlines()[1:]]
    assert len(shown) == len(full) and len(set(shown)) == len(set(full))
    assert all(len(s) >= 12 and h.startswith(s) for s, h in zip(shown, full))
    capsys.readouterr()
    assert cli("versions", "--help")[0] == 0
    help_text = capsys.readouterr().out  # argparse prints help on the process's standard output
    assert "--format json has the full hash" in " ".join(help_text.split())


def test_hashes_that_share_a_prefix_are_shown_longer():
    from engine.cli.main import _unique_prefix
    assert _unique_prefix(["a" * 64, "b" * 64]) == 12
    assert _unique_prefix(["0" * 14 + "1" + "0" * 49, "0" * 64]) == 15
    assert _unique_prefix(["c" * 64, "c" * 64]) == 12  # the same hash twice is one hash
