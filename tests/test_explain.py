"""Explanations: `kmo-rules evaluate --explain --format text` for a person, and `--full` for an analyst (with every
expression, code and path), in English and Dutch.

The snapshots in tests/snapshots/test_explain/ are whole explanations of the
public examples (NAME.LANG.txt the analyst's, NAME.LANG.person.txt the person's);
regenerate them with `pytest tests/test_explain.py --snapshot-update` and read
every one before accepting it.
"""
import io
import json
from pathlib import Path

import pytest

from engine.cli import run

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots" / "test_explain"
EXAMPLES = ["small-cybersecurity-training", "vzw-in-brussels-refused", "medium-strategy-advice-near-ceiling"]


def explain(example: str, *extra: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    status = run(["evaluate", str(ROOT / "examples" / f"{example}.json"), "--format", "text", *extra],
                 io.StringIO(), out, err)
    assert (status, err.getvalue()) == (0, "")
    return out.getvalue()


@pytest.mark.parametrize("lang", ["en", "nl"])
@pytest.mark.parametrize("example", EXAMPLES)
def test_explanation_of_an_example(example, lang, snapshot):
    snapshot.snapshot_dir = SNAPSHOTS
    snapshot.assert_match(explain(example, "--full", "--lang", lang), f"{example}.{lang}.txt")


@pytest.mark.parametrize("lang", ["en", "nl"])
@pytest.mark.parametrize("example", EXAMPLES)
def test_explanation_for_a_person(example, lang, snapshot):
    snapshot.snapshot_dir = SNAPSHOTS
    snapshot.assert_match(explain(example, "--explain", "--lang", lang), f"{example}.{lang}.person.txt")


def test_a_persons_explanation_shows_no_expression_code_or_path():
    for example in EXAMPLES:
        text = explain(example, "--explain")
        assert "[legal_form_excluded]" not in text and "fails when" not in text and "= " not in text
        assert "enterprise." not in text and "project." not in text and "sme." not in text


def test_amounts_and_dates_are_written_as_people_write_them():
    english = explain("small-cybersecurity-training", "--explain")
    dutch = explain("small-cybersecurity-training", "--explain", "--lang", "nl")
    assert "a subsidy of EUR 1,057.50 on an eligible cost of EUR 2,350.00" in english
    assert "een subsidie van EUR 1.057,50 op een subsidiabele kost van EUR 2.350,00" in dutch
    assert "Annual turnover with related enterprises: EUR 2,100,000.00" in english
    assert "Jaaromzet met gelieerde ondernemingen: EUR 2.100.000,00" in dutch
    assert "in force from 1 January 2024 to 31 December 2025" in english
    assert "van kracht van 1 januari 2024 tot en met 31 december 2025" in dutch
    assert "Grootteklasse: klein" in dutch and "Rechtsvorm (uit de aanvraag): besloten vennootschap (bv)" in dutch
    assert "bron: Decreet 16 maart 2012, art. 3; Aanbeveling 2003/361/EG, bijlage, art. 2 en 3(4)" in dutch


def test_a_refusal_names_each_failed_condition_by_label_and_code():
    text = explain("vzw-in-brussels-refused", "--full")
    assert "Not eligible, for 2 reasons:" in text
    assert "Conditions: 2 of 14 not met" in text
    assert "  [x] The legal form is accepted: NOT MET  [legal_form_excluded]\n" \
           "        fails when enterprise.legal_form in excluded_legal_forms\n" \
           "        enterprise.legal_form is vzw (from the application)\n" \
           "        source: BVR 26 Feb 2016, art. 4\n" in text
    assert "  [v] The service provider is registered: met  [provider_not_registered]" in text


def test_dutch_explanations_use_no_english_frame_words():
    for example in EXAMPLES:
        text = explain(example, "--full", "--lang", "nl")
        frame = [line for line in text.splitlines()
                 if not line.strip().startswith(("bron:", "aanname:", "= ", "niet vervuld als", "- "))]
        for english in ("Decision", "Conditions", "source", "from the application", "see above", "NOT MET",
                        ": met ", " days", " years", " items", " yes", " no ", " none", "How the"):
            assert not any(english in line for line in frame), (example, english)
    assert "Termijn om aan te vragen na de start (deadlines.application_period) is 14 dagen" in text
    assert "[v] De rechtsvorm is aanvaard: vervuld  [legal_form_excluded]" in text


def test_a_value_used_again_is_not_explained_again():
    text = explain("small-cybersecurity-training", "--full")
    amounts = text[text.index("How the amounts were found:"):]
    assert amounts.count("Size class is small\n") == 1
    assert "Size class is small (see above)" in amounts
    assert amounts.count("Share above which an enterprise is linked (sme.autonomy.linked_share_above) is 50 %\n") == 1


def test_without_explain_there_is_no_trace_and_no_tree():
    text = explain("small-cybersecurity-training")
    assert text.splitlines()[1].startswith("Eligible: a subsidy of EUR 1,057.50 on an eligible cost of EUR 2,350.00")
    assert "Conditions" not in text and "How the amounts were found" not in text
    out = io.StringIO()
    run(["evaluate", str(ROOT / "examples" / "small-cybersecurity-training.json")], io.StringIO(), out, io.StringIO())
    assert json.loads(out.getvalue())["explanation"] is None
