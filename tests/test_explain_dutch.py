"""The kmo-portefeuille explained for a person (`kmo-rules evaluate --explain --format text --lang nl`): a Dutch
reader meets no English word and no code, an English reader no code either.

Checked on each public example (examples/*.json) and on refused cases built from the base cases of the rule tests
(rules/kmo-portefeuille/tests/cases/): a refusal for eleven reasons at once, legally required advice, advice outside
cybersecurity from February 2026, public bodies holding 30 %, a form without legal personality under the rules of
2016, a service that is not on the list; and notes: the size class fixed for the year, an aid withdrawn after the
application, the de minimis ceiling. The whole explanations of three examples are snapshots in tests/test_explain.py.
"""
import json
import re
from pathlib import Path

import pytest

from engine.pipeline import open_rules

import helpers

ROOT = Path(__file__).resolve().parent.parent
SCHEME = "kmo-portefeuille"
EXAMPLES = sorted(path.stem for path in (ROOT / "examples").glob("*.json"))
CASES_DIR = ROOT / "rules" / SCHEME / "tests" / "cases"

# Words that betray English left in a Dutch explanation. Words that are Dutch as well are left out: in, is, of, met,
# was, over, per, start, door, die, code, later, late, focus, project, contract, minimum, maximum, medium, pro rata,
# partner, sector, half, cent, rest, art, had, held, kind, item, list, fee, live, body, taken, trip, stop, cap,
# service, training, catering, team, be (vlaanderen.be), de minimis, and cybersecurity (VLAIO's own Dutch:
# "digitalisering – cybersecurity"; the explanation itself says cyberveiligheid, checked below).
ENGLISH = set("""
the and or with for from to at after before under by on an are were not no yes none null true false only when which
that this these its it than more less fewer also too each every all both between during without within since if then
else does do has have will would can may must applies apply given source assumption assumptions small sized large
advice days day months month years year undated version reform subsidy rounded up most excluding capped ceiling
ceilings period rate annex recommendation regulation decree enterprise enterprises application applications legal
form region main activity public bodies participation counts counted granted right arises fiscal current previous
road freight included any three share figures turnover balance sheet total units linked related scheme aid prior
paid eligible refused reason reasons conditions condition notes note how amounts found see above decision rules
force until whole provider providers registered amended replaced inserted amending costs cost energy efficiency
travel materials own contribution news announcement calendar uplift uplifted submitted fits themes theme competences
professional accepted excluded excepted scope primary agriculture fishing known assumed confirmed read stopped
withdrawn withdrawal pages page same text definition one two four eight sixteen writes distance learning interaction
teacher participants establishment seat natural persons companies company association foundation partnership sole
trader limited private general cooperative adapted work government flemish sustainability digitalisation innovation
internationalisation strategy business literacy financial exam networking study licence driving pilot subscription
hypnosis astrology reflexology meridian theory fixed size class window looked back grant end
""".split())
CASE_PATH = re.compile(r"\b(?:enterprise|project|sme|de_minimis|prior_aid)(?:\[\])?\.[a-z_]")


def explain(case_path: Path, lang: str, *extra: str) -> str:
    return helpers.explained(case_path, SCHEME, lang, *extra)


def codes_left_in(text: str) -> list[str]:
    """The reason codes in brackets, case paths and names with an underscore a text still holds, with their line."""
    found = []
    for line in text.splitlines():
        codes = helpers.CODE_IN_BRACKETS.findall(line) + CASE_PATH.findall(line) + (["_"] if "_" in line else [])
        found += [f"{codes}: {line.strip()}"] if codes else []
    return found


def english_left_in(text: str) -> list[str]:
    return helpers.english_left_in(text, ENGLISH, CASE_PATH)


def _base(name: str) -> dict:
    return json.loads((CASES_DIR / f"{name}.json").read_text(encoding="utf-8"))


def _changed(base: str, **changes) -> dict:
    """A base case with some fields set; a key names its path with double underscores (project__costs)."""
    return helpers.with_changes(_base(base), changes, "__")


LATE_2026 = {"application_date": "2026-03-09", "project__start_date": "2026-03-02"}
CASES = {
    # refusals
    "refused-for-eleven-reasons": _changed(
        "small-training", enterprise__legal_form="vzw", enterprise__establishment_region="brussels",
        enterprise__nace_code="01.110", project__theme=None, project__service_category="astrology",
        project__provider_registered=False, project__provider_related=True, project__distance_learning=True,
        project__live_interaction=False, project__start_date="2024-05-01", project__end_date="2026-03-01",
        project__costs={"fee": 80}),
    "legally-required-advice": _changed("small-advice", project__legally_required=True),
    "advice-outside-cybersecurity-in-2026": _changed("small-advice", **LATE_2026),
    "public-bodies-hold-30-percent": _changed(
        "small-training", enterprise__public_share=0.3,
        enterprise__previous_year={"employees": 8, "annual_turnover": 900000, "balance_sheet_total": 400000}),
    "temporary-partnership-in-2016": _changed(
        "small-training", application_date="2016-06-10", project__start_date="2016-06-03", project__theme=None,
        enterprise__legal_form="temporary_partnership"),
    "service-not-on-the-list": _changed("small-training", project__theme="professional_competences",
                                        project__service_code="BC-2024-017"),
    "related-provider": _changed("small-training", project__provider_related=True),
    # notes
    "size-fixed-as-medium": _changed(
        "small-training",
        enterprise__prior_aid=[{"granted_on": "2024-02-01", "amount": 500, "scheme": "kmo-portefeuille",
                                "size_class": "medium"}]),
    "withdrawn-after-the-application": _changed(
        "small-training",
        enterprise__prior_aid=[{"granted_on": "2024-02-01", "amount": 7300, "scheme": "kmo-portefeuille",
                                "withdrawn_on": "2024-06-11"}]),
    "de-minimis-in-2023": _changed(
        "small-training", application_date="2023-06-12", project__start_date="2023-06-05",
        enterprise__prior_aid=[{"granted_on": "2021-01-01", "amount": 199900, "scheme": "other-de-minimis"}]),
    "cybersecurity-training-of-an-adapted-work-vzw-in-2026": _changed(
        "small-training", enterprise__legal_form="vzw", enterprise__adapted_work_enterprise=True,
        enterprise__employees=300, project__theme="digitalisation", project__focus="cybersecurity", **LATE_2026),
}


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("portefeuille")
    paths = {}
    for name, case in CASES.items():
        paths[name] = folder / f"{name}.json"
        paths[name].write_text(json.dumps(case), encoding="utf-8")
    return paths


# -- Dutch throughout ------------------------------------------------------------------------------------

@pytest.mark.parametrize("example", EXAMPLES)
def test_the_dutch_explanation_of_an_example_has_no_english_word_or_code(example):
    assert english_left_in(explain(ROOT / "examples" / f"{example}.json", "nl")) == []


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_dutch_explanation_of_a_refusal_or_a_note_has_no_english_word_or_code(cases, name):
    assert english_left_in(explain(cases[name], "nl")) == []


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_english_explanation_has_no_code_or_path_either(cases, name):
    assert codes_left_in(explain(cases[name], "en")) == []


@pytest.mark.parametrize("example", EXAMPLES)
def test_the_english_explanation_of_an_example_has_no_code_or_path(example):
    assert codes_left_in(explain(ROOT / "examples" / f"{example}.json", "en")) == []


def test_the_check_finds_what_it_looks_for():
    assert english_left_in("bron: MB 30 maart 2016 (EUR 10.000 per calendar year)") != []
    assert english_left_in("aanname: Rounded half up to the cent; no rounding rule is published.") != []
    assert english_left_in("[x] De rechtsvorm is aanvaard: NIET VERVULD  [legal_form_excluded]") != []
    assert english_left_in("Rechtsvorm (enterprise.legal_form): vzw") != []
    assert english_left_in("bron: CONTRACT, prior_aid[].scheme") != []
    assert english_left_in("Soort dienst (uit de aanvraag): advice") != []
    assert english_left_in("[v] De aanvraag kwam op tijd: vervuld") == []
    assert english_left_in("bron: vlaanderen.be, \"Een kmo volgens de Europese kmo-definitie\" (de grootte wordt "
                           "vastgelegd bij de eerste succesvolle aanvraag van het kalenderjaar)") == []
    assert codes_left_in("Size class fixed for the year (size_class_fixed_for_the_year): none") != []
    assert codes_left_in("source: CONTRACT (the scheme of each aid granted before)") == []


def test_a_refusal_for_eleven_reasons_reads_in_dutch(cases):
    text = explain(cases["refused-for-eleven-reasons"], "nl")
    assert "Komt niet in aanmerking, om 11 redenen:" in text
    assert "Voorwaarden: 11 van 14 niet vervuld" in text
    assert "  - Een vzw komt niet in aanmerking voor de kmo-portefeuille" in text
    assert "  - Dit soort dienst is uitgesloten: astrologie." in text
    assert "  - De subsidiabele kost (EUR 80,00) ligt onder het minimum van EUR 100,00 voor een opleiding." in text
    assert "  - De aanvraag kwam op 10 juni 2024, na de laatste aanvraagdag 15 mei 2024 (14 kalenderdagen na de " \
           "start op 1 mei 2024)." in text
    # the values of the case's lists and its booleans by their Dutch names
    assert "Rechtsvorm (uit de aanvraag): vereniging zonder winstoogmerk (vzw)" in text
    assert "Gewest van de vestiging (uit de aanvraag): Brussels Hoofdstedelijk Gewest" in text
    assert "NACE-BEL-code van de hoofdactiviteit (uit de aanvraag): 01.110" in text
    assert "Thema (uit de aanvraag): niet opgegeven" in text
    assert "Categorie van de dienst (uit de aanvraag): astrologie" in text
    assert "Soort dienst (uit de aanvraag): opleiding" in text
    assert "Geregistreerde dienstverlener (uit de aanvraag): nee" in text
    # the related provider in the words of the source ("aanverwante bedrijven")
    assert "[x] De dienstverlener is geen aanverwant bedrijf van de onderneming: NIET VERVULD" in text
    assert "Dienstverlener aanverwant aan de onderneming (uit de aanvraag): ja" in text


def test_advice_and_its_focus_read_in_dutch(cases):
    text = explain(cases["advice-outside-cybersecurity-in-2026"], "nl")
    assert "  - Vanaf 1 februari 2026 komt enkel advies over cyberveiligheid in aanmerking." in text
    assert "[x] Het advies gaat over cyberveiligheid: NIET VERVULD" in text
    assert "Soort dienst (uit de aanvraag): advies" in text
    assert "Toegekend steunpercentage: geen" in text
    text = explain(cases["cybersecurity-training-of-an-adapted-work-vzw-in-2026"], "nl")
    assert "Focus (uit de aanvraag): cyberveiligheid" in text
    assert "Erkend maatwerkbedrijf (uit de aanvraag): ja" in text
    assert "bron: BVR 26 februari 2016, art. 18, zoals vervangen in 2025 (een middelgroot of groot maatwerkbedrijf " \
           "krijgt het steunpercentage van een middelgrote onderneming)" in text


def test_notes_read_in_dutch(cases):
    assert "  - De onderneming telt heel 2024 als middelgrote onderneming: haar eerste kmo-portefeuilleaanvraag van " \
           "het jaar legde de grootteklasse vast, ook al is ze volgens de Europese definitie nu klein." in \
           explain(cases["size-fixed-as-medium"], "nl")
    assert "  - Het jaarplafond van EUR 7.500,00 geldt: in 2024 werd al EUR 7.300,00 toegekend, dus EUR 200,00 van " \
           "EUR 300,00 kan uitbetaald worden." in explain(cases["withdrawn-after-the-application"], "nl")
    text = explain(cases["de-minimis-in-2023"], "nl")
    assert "bron: Verordening (EU) 1407/2013, art. 3(2) (het lopende en de twee voorgaande belastingjaren)" in text


def test_sources_and_assumptions_read_as_a_dutch_reader_cites_them():
    text = explain(ROOT / "examples" / "small-cybersecurity-training.json", "nl")
    assert "bron: MB 30 maart 2016 zoals gewijzigd, vanaf 1 januari 2020 (EUR 7.500 per kalenderjaar)" in text
    assert "bron: VLAIO-nieuws 8 januari 2016 (één plafond per onderneming per kalenderjaar, voor opleiding en " \
           "advies samen);" in text
    assert "bron: CONTRACT (de maatregel van elke eerder toegekende steun)" in text
    assert "bron: MB 7 september 2021 (cyberveiligheid); MB 15 maart 2023 (energie-efficiëntie)" in text
    assert "aanname: De verhoging voor energie-efficiëntie wordt geacht te starten op 15 maart 2023." in text
    assert "aanname: Afgerond op de cent, een halve cent naar boven; er is geen afrondingsregel gepubliceerd." in text
    assert "aanname: Bevestigd voor de huidige regels; verondersteld te gelden sinds 2016." in text
    english = explain(ROOT / "examples" / "small-cybersecurity-training.json", "en")
    assert "source: MB 30 Mar 2016 as amended, from 1 Jan 2020 (EUR 7,500 per calendar year)" in english
    assert "source: CONTRACT (the scheme of each aid granted before)" in english
    assert "assumption: The energy-efficiency uplift is taken to start on 15 Mar 2023." in english


# -- what the explanation is made of ---------------------------------------------------------------------

@pytest.mark.parametrize("scheme", ["kmo-portefeuille", "kmo-groeisubsidie"])
def test_every_definition_is_labelled_and_every_assumption_written_in_both_languages(scheme):
    book = open_rules(ROOT / "rules", scheme)
    missing = []
    for source in book.sources:
        checked = book.build(source).checked
        for kind in ("parameters", "rules", "conditions", "notes", "tables"):
            for name, definition in getattr(checked, kind).items():
                label = getattr(definition, "label", None)
                if kind != "tables" and not (isinstance(label, dict) and label.get("en") and label.get("nl")):
                    missing.append((source.version, kind, name, "label"))
                assumption = definition.assumption
                if assumption is not None and not (isinstance(assumption, dict) and assumption.get("en")
                                                   and assumption.get("nl")):
                    missing.append((source.version, kind, name, "assumption"))
    assert missing == []


def _schema_paths_and_values() -> tuple[set[str], set[str]]:
    schema = json.loads((ROOT / "schemas" / "case.schema.json").read_text(encoding="utf-8"))
    paths: set[str] = set()
    values: set[str] = set()

    def walk(node, path):
        if isinstance(node, list):
            for item in node:
                walk(item, path)
            return
        if not isinstance(node, dict):
            return
        values.update(v for v in node.get("enum", ()) if isinstance(v, str))
        for name, item in (node.get("properties") or {}).items():
            paths.add(f"{path}.{name}" if path else name)
            walk(item, f"{path}.{name}" if path else name)
        for key in ("items", "anyOf", "oneOf", "allOf"):
            if key in node:
                walk(node[key], path)
    walk(schema, "")
    return paths, values


def test_every_field_and_every_value_of_the_case_is_named_in_both_languages():
    book = open_rules(ROOT / "rules", SCHEME)
    paths, values = _schema_paths_and_values()

    def unnamed(names, vocabulary):
        return sorted(n for n in names if not (vocabulary.get(n, {}).get("en") and vocabulary.get(n, {}).get("nl")))
    assert paths and unnamed(paths, book.scheme.fields) == []
    assert values and unnamed(values, book.scheme.values) == []
