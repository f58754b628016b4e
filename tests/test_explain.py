"""Explanations as a person reads them: `kmo-rules evaluate --explain --format text`, in English and Dutch.

The snapshots in tests/snapshots/test_explain/ are whole explanations of the
public examples; regenerate them with `pytest tests/test_explain.py
--snapshot-update` and read every one before accepting it.
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
    snapshot.assert_match(explain(example, "--explain", "--lang", lang), f"{example}.{lang}.txt")


def test_a_refusal_names_each_failed_condition_by_label_and_code():
    text = explain("vzw-in-brussels-refused", "--explain")
    assert "Not eligible, for 2 reasons:" in text
    assert "Conditions: 2 of 13 not met" in text
    assert "  [x] The legal form is accepted: NOT MET  [legal_form_excluded]\n" \
           "        fails when enterprise.legal_form in excluded_legal_forms\n" \
           "        enterprise.legal_form is vzw (from the application)\n" \
           "        source: BVR 26 Feb 2016, art. 4\n" in text
    assert "  [v] The service provider is registered: met  [provider_not_registered]" in text


def test_dutch_explanations_use_no_english_frame_words():
    for example in EXAMPLES:
        text = explain(example, "--explain", "--lang", "nl")
        frame = [line for line in text.splitlines()
                 if not line.strip().startswith(("bron:", "aanname:", "= ", "niet vervuld als", "- "))]
        for english in ("Decision", "Conditions", "source", "from the application", "see above", "NOT MET",
                        ": met ", " days", " years", " items", " yes", " no ", " none", "How the"):
            assert not any(english in line for line in frame), (example, english)
    assert "Termijn om aan te vragen na de start (deadlines.application_period) is 14 dagen" in text
    assert "[v] De rechtsvorm is aanvaard: vervuld  [legal_form_excluded]" in text


def test_a_value_used_again_is_not_explained_again():
    text = explain("small-cybersecurity-training", "--explain")
    amounts = text[text.index("How the amounts were found:"):]
    assert amounts.count("Size class is small\n") == 1
    assert "Size class is small (see above)" in amounts
    assert amounts.count("Share above which an enterprise is linked (sme.autonomy.linked_share_above) is 50 %\n") == 1


def test_without_explain_there_is_no_trace_and_no_tree():
    text = explain("small-cybersecurity-training")
    assert text.splitlines()[1].startswith("Eligible: a subsidy of EUR 1057.50 on an eligible cost of EUR 2350.00")
    assert "Conditions" not in text and "How the amounts were found" not in text
    out = io.StringIO()
    run(["evaluate", str(ROOT / "examples" / "small-cybersecurity-training.json")], io.StringIO(), out, io.StringIO())
    assert json.loads(out.getvalue())["explanation"] is None
