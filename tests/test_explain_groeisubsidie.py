"""The kmo-groeisubsidie explained for a person (`kmo-rules evaluate --scheme kmo-groeisubsidie --explain
--format text`), in English and in Dutch: a Dutch reader meets no English word and no code.

The snapshots in tests/snapshots/test_explain_groeisubsidie/ are the person's explanations of the three
shared examples (NAME.LANG.person.txt); regenerate them with
`pytest tests/test_explain_groeisubsidie.py --snapshot-update` and read every one before accepting it.
"""
import json
import re
from pathlib import Path

import pytest

from engine.pipeline import open_rules

import helpers

ROOT = Path(__file__).resolve().parent.parent
SCHEME = "kmo-groeisubsidie"
EXAMPLES_DIR = ROOT / "examples" / SCHEME
CASES_DIR = ROOT / "rules" / SCHEME / "tests" / "cases"
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots" / "test_explain_groeisubsidie"
EXAMPLES = ["advice-and-strategic-hire-in-a-call", "advice-between-two-calls-refused", "hire-in-2019-capped-at-25000"]

# Words that betray English left in a Dutch explanation. Words that are Dutch as well are left out: in, is, of,
# met, was, over, per, start, contract, permanent, minimum, maximum, pro rata, de, kind, training, order,
# sector, partner, half, cent, rest, art, had, held, go (Securex lex-go) and be (lint.be).
ENGLISH = set("""
the and or with for from to at after before under by on an are were not no yes none null true false only when
which that this these its it than more less fewer also too each every all both between during without within
since if then else does do has have will would can may must
applies apply given source assumption assumptions small medium sized large advice hire hired days day months
month years year items item undated version reform call calls subsidy rounded up most excluding employed profile
cap capped ceiling period rate annex recommendation regulation decree digital enterprise enterprises application
wage salary gross annual first second third party new group legal form region main activity equity difficulty
arrears recovery pending theme report commission example smes liberal professions public bodies participation
counts counted granted right arises fiscal current previous road freight included any three share figures
turnover balance sheet total units linked related scheme aid prior paid tranche tranches eligible refused reason
reasons conditions condition notes note how amounts found see above decision rules force until whole
""".split())
CASE_PATH = re.compile(r"\b(?:enterprise|advice|hire|theme|application_date|sme|de_minimis)\.[a-z_]")


def explain(case_path: Path, lang: str, *extra: str) -> str:
    return helpers.explained(case_path, SCHEME, lang, *extra)


@pytest.fixture(scope="module")
def refused_case(tmp_path_factory) -> Path:
    """A hire of 2023 refused for eight reasons at once: the enterprise (legal form, region, size through the
    public share, equity), the theme, and the hire (its start, its contract, the third party)."""
    case = json.loads((CASES_DIR / "hire-2023.json").read_text(encoding="utf-8"))
    case["enterprise"].update({"legal_form": "vzw", "establishment_region": "brussels", "public_share": 0.3,
                               "negative_equity": True})
    case["theme"] = None
    case["hire"].update({"start_date": "2023-04-11", "permanent_contract": False, "third_party": False})
    path = tmp_path_factory.mktemp("groeisubsidie") / "refused-for-eight-reasons.json"
    path.write_text(json.dumps(case), encoding="utf-8")
    return path


def english_left_in(text: str) -> list[str]:
    return helpers.english_left_in(text, ENGLISH, CASE_PATH)


# -- snapshots, read by eye ------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["en", "nl"])
@pytest.mark.parametrize("example", EXAMPLES)
def test_explanation_for_a_person(example, lang, snapshot):
    snapshot.snapshot_dir = SNAPSHOTS
    snapshot.assert_match(explain(EXAMPLES_DIR / f"{example}.json", lang), f"{example}.{lang}.person.txt")


# -- Dutch throughout ------------------------------------------------------------------------------------

@pytest.mark.parametrize("example", EXAMPLES)
def test_the_dutch_explanation_of_an_example_has_no_english_word_or_code(example):
    assert english_left_in(explain(EXAMPLES_DIR / f"{example}.json", "nl")) == []


def test_the_dutch_explanation_of_a_refusal_for_many_reasons_has_no_english_word_or_code(refused_case):
    text = explain(refused_case, "nl")
    assert "Komt niet in aanmerking, om 8 redenen:" in text
    assert english_left_in(text) == []
    # the enum values and the public share as a Dutch reader writes them
    assert "(aandeel in handen van overheidsinstanties 30 %, geen kmo vanaf 25 %;" in text
    assert "- Een vzw komt niet in aanmerking voor de kmo-groeisubsidie" in text
    assert "Rechtsvorm (uit de aanvraag): vereniging zonder winstoogmerk (vzw)" in text
    assert "Gewest van de vestiging (uit de aanvraag): Brussels Hoofdstedelijk Gewest" in text
    assert "Thema (uit de aanvraag): niet opgegeven" in text


def test_the_check_finds_what_it_looks_for():
    assert english_left_in("bron: VLAIO, undated (at most EUR 25,000)") != []
    assert english_left_in("Advice_subsidy: EUR 0,00") != []
    assert english_left_in("[x] De rechtsvorm is aanvaard: NIET VERVULD  [legal_form_excluded]") != []
    assert english_left_in("Rechtsvorm (enterprise.legal_form): vzw") != []
    assert english_left_in("[v] Het profiel was 6 van de 12 maanden in dienst: vervuld") == []


def test_sources_amounts_and_dates_read_as_a_dutch_reader_cites_them():
    text = explain(EXAMPLES_DIR / "hire-in-2019-capped-at-25000.json", "nl")
    assert "bron: VLAIO, \"Hoeveel subsidie kan ik krijgen?\", ongedateerd (maximaal EUR 25.000 voor één strategisch " \
           "profiel)" in text
    assert "bron: BVR 26 februari 2016, art. 4 (zoals voor de kmo-portefeuille); VLAIO, \"Wie kan de " \
           "kmo-groeisubsidie aanvragen?\", ongedateerd" in text
    assert "bron: VLAIO, \"Hoeveel subsidie kan ik krijgen?\", ongedateerde versie van vóór 2021 (EUR 50.000 per " \
           "12 maanden)" in text
    assert "aanname: Afgerond op de cent, een halve cent naar boven; er is geen afrondingsregel gepubliceerd." in text
    assert "Toegekende subsidie voor de aanwerving: EUR 25.000,00" in text
    english = explain(EXAMPLES_DIR / "hire-in-2019-capped-at-25000.json", "en")
    assert "source: VLAIO, \"Hoeveel subsidie kan ik krijgen?\", undated (at most EUR 25,000 for one strategic " \
           "profile)" in english
    assert "assumption: Rounded half up to the cent; no rounding rule is published." in english
    assert "Hire subsidy granted: EUR 25,000.00" in english


# -- what the explanation is made of ---------------------------------------------------------------------

def test_every_value_of_the_case_is_named_in_both_languages():
    book = open_rules(ROOT / "rules", SCHEME)
    schema = json.loads((ROOT / "rules" / SCHEME / "case.schema.json").read_text(encoding="utf-8"))
    values: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            values.update(v for v in node.get("enum", ()) if isinstance(v, str))
            for item in node.values():
                walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)
    walk(schema)
    vocabulary = book.scheme.values
    assert values and sorted(v for v in values if not (vocabulary.get(v, {}).get("en") and
                                                       vocabulary.get(v, {}).get("nl"))) == []
