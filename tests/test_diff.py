"""`kmo-rules diff`: what changed between two versions, as an auditor reads it.

Snapshots of the text diff between every pair of consecutive versions (and
one Markdown, one JSON) live in tests/snapshots/test_diff/; after a deliberate
change of the rules or of the rendering, read the new text and accept it with
`pytest --snapshot-update`.
"""
import json
import shutil
from pathlib import Path

import pytest

from engine.audit.audit_render import diff_data, render_diff_markdown, render_diff_text
from engine.core.diagnostics import VersionNotFound
from engine.audit.semantic_diff import diff, diff_versions, resolve_version
from engine.pipeline import open_rules
from helpers import cli

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots" / "test_diff"
VERSIONS = [source.version for source in open_rules().sources]  # the scheme's own and its modules' changes
PAIRS = list(zip(VERSIONS, VERSIONS[1:]))


# -- snapshots ---------------------------------------------------------------------

def test_every_version_is_compared_with_the_one_before():
    assert len(VERSIONS) == 10
    assert PAIRS[0] == ("2016-04-01", "2019-12-01") and PAIRS[-1] == ("2026-01-01", "2026-02-01")


@pytest.mark.parametrize("older, newer", PAIRS, ids=[f"{a}..{b}" for a, b in PAIRS])
def test_text_diff_of_consecutive_versions(book, snapshot, older, newer):
    snapshot.snapshot_dir = SNAPSHOTS
    snapshot.assert_match(render_diff_text(diff(book, older, newer)), f"{older}_to_{newer}.txt")


def test_text_diff_across_two_versions_by_date(book, snapshot):
    snapshot.snapshot_dir = SNAPSHOTS
    snapshot.assert_match(render_diff_text(diff(book, "2019-11-30", "2020-01-01")), "2019-11-30_to_2020-01-01.txt")


def test_markdown_diff(book, snapshot):
    snapshot.snapshot_dir = SNAPSHOTS
    snapshot.assert_match(render_diff_markdown(diff(book, "2023-03-15", "2024-01-01")), "2023-03-15_to_2024-01-01.md")


def test_json_diff(book, snapshot):
    snapshot.snapshot_dir = SNAPSHOTS
    text = json.dumps(diff_data(diff(book, "2026-01-31", "2026-02-01")), indent=2, ensure_ascii=False) + "\n"
    snapshot.assert_match(text, "2026-01-31_to_2026-02-01.json")


# -- what the diff finds ---------------------------------------------------------------

def test_a_rate_cut_shows_old_and_new_value_with_its_legal_source(book):
    found = diff(book, "2016-04-01", "2019-12-01")
    small = found.change("parameters", "rates.small")
    assert (small.status, small.old, small.new, small.minor) == ("changed", "40 %", "30 %", False)
    assert small.source == "BVR 26 Feb 2016, art. 18, as amended by MB 5 Nov 2019"
    assert small.made_in == ("2019-12-01",)
    assert [c.name for c in found.changes] == ["rates.small", "rates.medium"]


def test_dates_name_the_version_in_force_that_day(book):
    found = diff(book, "2019-11-30", "2020-01-01")
    assert found.from_version.version == "2016-04-01" and found.asked_from == "2019-11-30"
    assert found.to_version.version == "2020-01-01"
    assert [v.version for v in found.crossed] == ["2019-12-01", "2020-01-01"]


def test_a_span_of_versions_names_the_version_that_made_each_change(book):
    found = diff(book, "2019-11-30", "2020-01-01")
    assert found.change("parameters", "rates.small").made_in == ("2019-12-01",)
    assert found.change("parameters", "annual_ceilings.small").made_in == ("2020-01-01",)
    whole = diff(book, "2016-04-01", "2026-02-01")
    uplifted = whole.change("rules", "uplifted")
    assert uplifted.status == "added"
    assert uplifted.made_in == ("2021-09-14", "2023-03-15", "2026-02-01")
    rate = whole.change("rules", "applicable_rate")
    assert rate.made_in == ("2021-09-14",)  # its logic; 2026-01-01 only rewrote its source
    assert next(d for d in rate.details if d.aspect == "source").made_in == ("2021-09-14", "2026-01-01")


def test_logic_changes_show_both_canonical_expressions(book):
    found = diff(book, "2023-01-01", "2023-03-15")
    change = found.change("rules", "uplifted")
    assert change.old == "project.focus == cybersecurity"
    assert change.new == "project.focus in [cybersecurity, energy_efficiency]"


def test_added_tables_list_their_entries(book):
    found = diff(book, "2020-01-01", "2020-07-01")
    assert found.change("tables", "excluded_services").status == "added"
    assert found.change("conditions", "service_excluded").status == "added"
    entries = [r.key for r in found.rows if r.table == "excluded_services"]
    assert len(entries) == 16 and "mindfulness" in entries and "team_building" in entries


def test_a_new_source_with_the_same_logic_is_a_minor_change(book):
    found = diff(book, "2024-01-01", "2026-01-01")
    rate = found.change("rules", "applicable_rate")
    assert rate.minor and rate.old == rate.new
    assert not found.change("conditions", "not_sme").minor


def test_going_back_in_time_swaps_old_and_new(book):
    found = diff(book, "2020-01-01", "2016-04-01")
    assert found.direction == "backward"
    small = found.change("parameters", "rates.small")
    assert (small.old, small.new, small.made_in) == ("30 %", "40 %", ("2019-12-01",))
    assert "undoes 2019-12-01" in render_diff_text(found)


def test_the_same_version_twice_is_no_change(book):
    found = diff(book, "2020-03-01", "2020-01-01")
    assert found.direction == "same" and found.is_empty
    assert "nothing changes" in render_diff_text(found)


def test_unknown_versions_and_impossible_dates_are_refused(book):
    with pytest.raises(VersionNotFound, match="neither a version"):
        resolve_version(book, "2019-13-01")
    with pytest.raises(VersionNotFound, match="starts on 2016-04-01"):
        resolve_version(book, "2010-01-01")


# -- formatting is not a change ------------------------------------------------------------

def _copy_rules(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    return tmp_path / "rules" / "kmo-portefeuille"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"expected one '{old[:40]}' in {path.name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_formatting_only_edits_give_an_empty_diff(book, tmp_path):
    folder = _copy_rules(tmp_path)
    base = folder / "2016-04-01.yaml"
    # reflow an expression over several lines, with a comment inside it
    _edit(base, "    value: round(applicable_rate * eligible_cost)\n",
          "    value: |\n      round(applicable_rate      # the rate of its size class\n"
          "        *   eligible_cost)\n")
    # spell literals another way
    _edit(base, "      value: 40 %\n", "      value: 40%\n")
    _edit(base, "      value: EUR 10000\n", "      value: EUR 10_000\n")
    # reorder keys inside an entry, and add comments
    _edit(base, "    small:\n      value: 40%\n"
                "      label: {en: Rate for a small enterprise, nl: Steunpercentage kleine onderneming}\n",
          "    small:\n      # the original rate\n"
          "      label: {nl: Steunpercentage kleine onderneming, en: Rate for a small enterprise}\n      value: 40%\n")
    # move a whole rule further down the file
    text = base.read_text(encoding="utf-8")
    start = text.index("  catering_cap:\n")
    end = text.index("  eligible_catering:\n")
    block = text[start:end]
    text = text[:start] + text[end:]
    at = text.index("  minimum_amount:\n")
    base.write_text(text[:at] + block + text[at:], encoding="utf-8")
    # and in a change file: reorder keys and reflow
    _edit(folder / "2026-02-01.yaml",
          "      value: project.focus == cybersecurity or "
          "(project.focus == energy_efficiency and project.kind == training)\n",
          "      value: >-\n        project.focus == cybersecurity\n        or (project.focus == energy_efficiency\n"
          "            and project.kind == training)\n")
    edited = open_rules(tmp_path / "rules")
    for version in VERSIONS:
        original = book.build(book.source_named(version))
        reformatted = edited.build(edited.source_named(version))
        found = diff_versions(original, reformatted)
        assert found.is_empty, f"{version}: {[(c.section, c.name, c.details) for c in found.changes]}"


def test_a_real_edit_in_a_copy_is_found(book, tmp_path):
    folder = _copy_rules(tmp_path)
    _edit(folder / "2016-04-01.yaml", "      value: 40 %\n", "      value: 41 %\n")
    edited = open_rules(tmp_path / "rules")
    found = diff_versions(book.build(book.source_named("2016-04-01")), edited.build(edited.source_named("2016-04-01")))
    assert [(c.name, c.old, c.new) for c in found.changes] == [("rates.small", "40 %", "41 %")]


def test_table_entries_removed_and_changed_are_listed(book, tmp_path):
    folder = _copy_rules(tmp_path)
    (folder / "2027-01-01.yaml").write_text(
        'ruleset: kmo-portefeuille\nversion: "2027-01-01"\nfollows: "2026-02-01"\neffective_from: 2027-01-01\n'
        "summary: Foundations admitted.\nsource: A test decree\n"
        "changes:\n  table_rows:\n    excluded_legal_forms:\n      remove: [foundation]\n"
        "      set:\n        vzw: {en: non-profit organisation, nl: vzw}\n", encoding="utf-8")
    edited = open_rules(tmp_path / "rules")
    found = diff(edited, "2026-02-01", "2027-01-01")
    rows = {(r.key, r.status): r for r in found.rows}
    assert set(rows) == {("foundation", "removed"), ("vzw", "changed")}
    assert rows[("vzw", "changed")].made_in == ("2027-01-01",)
    text = render_diff_text(found)
    assert "Table entries of excluded_legal_forms (2)" in text
    assert "- foundation: en: foundation; nl: stichting" in text
    assert "~ vzw: en: non-profit association -> non-profit organisation" in text
    assert found.changed_names("tables") == {"excluded_legal_forms"}


# -- the command line ---------------------------------------------------------------------

def test_cli_diff_prints_the_changes_between_two_dates():
    status, out, err = cli("diff", "2019-11-30", "2020-01-01")
    assert status == 0 and err == ""
    assert "rates.small: 40 % -> 30 %" in out
    assert "annual_ceilings.small: EUR 10000 -> EUR 7500" in out
    assert "made in 2020-01-01; source: MB 30 Mar 2016 as amended" in out


def test_cli_diff_as_json_and_markdown():
    status, out, _ = cli("diff", "2026-01-01", "2026-02-01", "--format", "json")
    data = json.loads(out)
    assert status == 0 and data["impact"] is None
    assert data["summary"]["conditions"] == {"changed": 0, "added": 1, "removed": 0}
    assert {c["name"] for c in data["changes"]} >= {"advice_limited_to_cybersecurity", "uplifted"}
    status, out, _ = cli("diff", "2026-01-01", "2026-02-01", "--format", "markdown")
    assert status == 0 and out.startswith("# kmo-portefeuille: from 2026-01-01 to 2026-02-01")


@pytest.mark.parametrize("argv, message", [
    (("diff", "1999-01-01", "2020-01-01"), "no rules for 1999-01-01"),
    (("diff", "2020-01-01", "2019-02-30"), "'2019-02-30' is neither a version of kmo-portefeuille nor a date"),
    (("diff", "2020-01-01", "latest"), "'latest' is neither a version"),
    (("diff", "2020-01-01"), "the following arguments are required: TO"),
])
def test_cli_diff_refuses_unknown_versions_with_exit_2(argv, message):
    status, out, err = cli(*argv)
    assert status == 2 and out == ""
    assert message in err and "Traceback" not in err
