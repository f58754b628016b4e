"""The kmo-portefeuille as its sources have it: the rules the files lacked, in both languages of a decision.

The tests beside the rules (rules/kmo-portefeuille/tests/legal_forms_without_personality.yaml,
related_provider.yaml, size_fixed_for_the_year.yaml, withdrawn_aid.yaml) pin the codes and the amounts;
the test format cannot choose a language, so the messages, labels and sources a person reads, in English and
in Dutch, are checked here.
"""
import json
from datetime import date
from pathlib import Path

import jsonschema
import pytest

from engine import CaseError, load_ruleset

from helpers import explained, with_changes

ROOT = Path(__file__).resolve().parent.parent

# The training of 2024 that the data tests start from: 10 work units (small), EUR 1000 at 30 % = 300.00.
TRAINING = json.loads((ROOT / "rules" / "kmo-portefeuille" / "tests" / "cases" / "small-training.json").read_text())


def case(**changes):
    """The training of 2024 with dotted paths changed: case(**{"project.provider_related": True})."""
    return with_changes(TRAINING, changes)


def decide(made, lang="en", explain=False):
    on = date.fromisoformat(made["application_date"])
    return load_ruleset(on=on).evaluate(made, lang=lang, explain=explain)


def remark(remarks, code):
    found = [r for r in remarks if r.code == code]
    assert len(found) == 1, [r.code for r in remarks]
    return found[0]


# Forms without legal personality: rows of excluded_legal_forms, named in the message in each language

FORMS = {
    "partnership_without_legal_personality": ("A partnership without legal personality (maatschap) cannot use",
                                              "Een maatschap zonder rechtspersoonlijkheid komt niet in aanmerking"),
    "temporary_partnership": ("A temporary partnership (tijdelijke handelsvennootschap) cannot use",
                              "Een tijdelijke handelsvennootschap komt niet in aanmerking"),
    "silent_partnership": ("A silent partnership (stille handelsvennootschap) cannot use",
                           "Een stille handelsvennootschap komt niet in aanmerking"),
    "de_facto_association": ("A de facto association (feitelijke vereniging) cannot use",
                             "Een feitelijke vereniging komt niet in aanmerking"),
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_a_form_without_legal_personality_is_named_in_the_reason_in_both_languages(form):
    english, dutch = FORMS[form]
    for lang, text in (("en", english), ("nl", dutch)):
        decision = decide(case(**{"enterprise.legal_form": form}), lang=lang)
        assert not decision.eligible
        reason = remark(decision.reasons, "legal_form_excluded")
        assert reason.message.startswith(text), reason.message
        assert "BVR 26 Feb 2016, art. 4" in reason.source


def test_from_2026_the_reason_for_a_form_without_legal_personality_names_the_adapted_work_exception():
    made = case(**{"application_date": "2026-03-09", "project.start_date": "2026-03-02",
                   "enterprise.legal_form": "silent_partnership"})
    assert remark(decide(made).reasons, "legal_form_excluded").message == (
        "A silent partnership (stille handelsvennootschap) cannot use the kmo-portefeuille unless it is a "
        "recognised adapted-work enterprise.")
    assert remark(decide(made, "nl").reasons, "legal_form_excluded").message == (
        "Een stille handelsvennootschap komt niet in aanmerking voor de kmo-portefeuille, tenzij het een erkend "
        "maatwerkbedrijf is.")


# A related provider

def test_a_related_provider_is_refused_with_its_source_in_both_languages():
    made = case(**{"project.provider_related": True})
    english = remark(decide(made).reasons, "provider_related")
    dutch = remark(decide(made, "nl").reasons, "provider_related")
    assert english.message.startswith("Services between related enterprises are not subsidised: ")
    assert "relatives by blood up to the second degree" in english.message
    assert dutch.message.startswith("Dienstverlening tussen aanverwante bedrijven wordt niet gesubsidieerd: ")
    assert "bloedverwanten tot en met de tweede graad" in dutch.message
    for reason in (english, dutch):
        assert 'VLAIO, "FAQ subsidieerbare diensten"' in reason.source
        assert '"Beoordeling van de dienstverleners"' in reason.source


def test_the_related_provider_condition_is_explained_by_its_label_in_dutch():
    decision = decide(case(**{"project.provider_related": True}), "nl", explain=True).to_dict()
    step = next(s for s in decision["explanation"]["steps"] if s["name"] == "provider_related")
    assert step["kind"] == "condition" and step["outcome"] != "passed"
    assert step["label"]["nl"] == "De dienstverlener is geen aanverwant bedrijf van de onderneming"
    assert step["uses"] == {"project.provider_related": True}


# The size class fixed for the year

def aid(granted_on, size_class=None, amount=500, scheme="kmo-portefeuille", withdrawn_on=None):
    record = {"granted_on": granted_on, "amount": amount, "scheme": scheme}
    if size_class is not None:
        record["size_class"] = size_class
    if withdrawn_on is not None:
        record["withdrawn_on"] = withdrawn_on
    return record


@pytest.mark.parametrize("employees, fixed, english, dutch", [
    (60, "small",
     "The enterprise counts as small for the whole of 2024: its first kmo-portefeuille application of the year "
     "fixed the size class, although by the EU definition it is now medium-sized.",
     "De onderneming telt heel 2024 als kleine onderneming: haar eerste kmo-portefeuilleaanvraag van het jaar legde "
     "de grootteklasse vast, ook al is ze volgens de Europese definitie nu middelgroot."),
    (10, "medium",
     "The enterprise counts as medium-sized for the whole of 2024: its first kmo-portefeuille application of the "
     "year fixed the size class, although by the EU definition it is now small.",
     "De onderneming telt heel 2024 als middelgrote onderneming: haar eerste kmo-portefeuilleaanvraag van het jaar "
     "legde de grootteklasse vast, ook al is ze volgens de Europese definitie nu klein."),
    (300, "small",
     "The enterprise counts as small for the whole of 2024: its first kmo-portefeuille application of the year "
     "fixed the size class, although by the EU definition it is now large.",
     "De onderneming telt heel 2024 als kleine onderneming: haar eerste kmo-portefeuilleaanvraag van het jaar legde "
     "de grootteklasse vast, ook al is ze volgens de Europese definitie nu groot."),
])
def test_the_note_on_a_class_fixed_for_the_year_reads_in_both_languages(employees, fixed, english, dutch):
    made = case(**{"enterprise.employees": employees, "enterprise.prior_aid": [aid("2024-02-01", fixed)]})
    for lang, text in (("en", english), ("nl", dutch)):
        decision = decide(made, lang)
        assert decision.eligible and decision.to_dict()["size_class"] == fixed
        note = remark(decision.notes, "size_fixed_for_the_year")
        assert note.message == text
        assert 'vlaanderen.be, "Een kmo volgens de Europese kmo-definitie"' in note.source


def test_the_explanation_shows_the_class_fixed_for_the_year_before_the_eu_definition():
    made = case(**{"enterprise.employees": 60, "enterprise.prior_aid": [aid("2024-02-01", "small")]})
    steps = {s["name"]: s for s in decide(made, "nl", explain=True).to_dict()["explanation"]["steps"]
             if s["kind"] == "rule"}
    size = steps["size_class"]
    assert size["expression"] == ("if size_class_fixed_for_the_year != null then size_class_fixed_for_the_year "
                                  "else sme.size_class")
    assert size["uses"] == {"size_class_fixed_for_the_year": "small"}   # the EU definition was not needed
    fixed = steps["size_class_fixed_for_the_year"]
    assert fixed["value"] == "small"
    assert fixed["label"]["nl"] == "Grootteklasse vastgelegd voor het jaar door de eerste kmo-portefeuillesteun"
    assert "vastgeklikt bij de eerste succesvolle steunaanvraag in een kalenderjaar" in fixed["source"]


def test_without_a_class_fixed_for_the_year_the_eu_definition_decides_and_no_note_is_given():
    made = case(**{"enterprise.employees": 60, "enterprise.prior_aid": [aid("2023-12-31", "small")]})
    decision = decide(made, "nl", explain=True)
    assert decision.to_dict()["size_class"] == "medium" and decision.notes == ()
    steps = {s["name"]: s for s in decision.to_dict()["explanation"]["steps"] if s["kind"] == "rule"}
    assert steps["size_class_fixed_for_the_year"]["value"] is None
    assert steps["size_class"]["uses"] == {"size_class_fixed_for_the_year": None, "sme.size_class": "medium"}


# A stopped (withdrawn) aid

def test_the_annual_ceiling_note_counts_only_the_aid_not_stopped_in_both_languages():
    made = case(**{"enterprise.prior_aid": [aid("2024-01-10", amount=7000),
                                            aid("2024-02-01", amount=400, withdrawn_on="2024-03-01"),
                                            aid("2024-03-15", amount=300)]})
    english = remark(decide(made).notes, "annual_ceiling_reached")
    dutch = remark(decide(made, "nl").notes, "annual_ceiling_reached")
    assert "EUR 7300.00 was already granted in 2024, so EUR 200.00 of EUR 300.00 can be paid" in english.message
    assert "in 2024 werd al EUR 7300.00 toegekend, dus EUR 200.00 van EUR 300.00 kan uitbetaald worden" \
        in dutch.message


def test_the_rule_for_the_aid_used_cites_the_page_on_stopping_an_application():
    made = case(**{"enterprise.prior_aid": [aid("2024-02-01", amount=7300, withdrawn_on="2024-04-01")]})
    decision = decide(made, "nl", explain=True).to_dict()
    assert decision["subsidy"] == "300.00" and decision["notes"] == []
    used = next(s for s in decision["explanation"]["steps"] if s["name"] == "annual_aid_used")
    assert used["value"] == "0.00"
    assert '"Subsidies stopzetten en terugbetaling"' in used["source"]
    assert "indien de stopzetting in hetzelfde kalenderjaar als de subsidieaanvraag gebeurt" in used["source"]


def test_a_stopped_aid_still_counts_as_de_minimis_aid():
    made = case(**{"enterprise.prior_aid": [aid("2023-01-15", amount=299800, scheme="other-de-minimis"),
                                            aid("2024-02-01", amount=150, withdrawn_on="2024-03-01")]})
    decision = decide(made, "nl").to_dict()
    assert decision["subsidy"] == "50.00"
    assert [n["code"] for n in decision["notes"]] == ["de_minimis_ceiling_reached"]
    assert "werd al EUR 299950.00 de-minimissteun toegekend" in decision["notes"][0]["message"]


def test_a_stop_before_the_grant_is_refused_as_input():
    made = case(**{"enterprise.prior_aid": [aid("2024-02-01", withdrawn_on="2024-01-31")]})
    with pytest.raises(CaseError) as refused:
        decide(made)
    assert [(p.path, p.message) for p in refused.value.problems] == [
        (("enterprise", "prior_aid"), "an aid is withdrawn (withdrawn_on) before the day it was granted (granted_on)")]


# The published case schema and the command line

def test_the_published_case_schema_takes_the_new_fields_and_values():
    schema = json.loads((ROOT / "schemas" / "case.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    made = case(**{"enterprise.legal_form": "de_facto_association", "project.provider_related": True,
                   "enterprise.prior_aid": [aid("2024-02-01", "medium", withdrawn_on="2024-03-01"),
                                            {"granted_on": "2024-03-01", "amount": 10, "scheme": "x",
                                             "size_class": None, "withdrawn_on": None}]})
    assert not list(validator.iter_errors(made))
    wrong = case(**{"enterprise.prior_aid": [aid("2024-02-01", "large")]})
    assert list(validator.iter_errors(wrong))
    with pytest.raises(CaseError):
        decide(wrong)


def test_the_dutch_explanation_on_the_command_line_names_the_new_rules(tmp_path):
    made = case(**{"enterprise.employees": 60, "project.provider_related": True,
                   "enterprise.prior_aid": [aid("2024-02-01", "small")]})
    path = tmp_path / "case.json"
    path.write_text(json.dumps(made))
    text = explained(path, "kmo-portefeuille", "nl")
    assert "Dienstverlening tussen aanverwante bedrijven wordt niet gesubsidieerd" in text
    assert "De dienstverlener is geen aanverwant bedrijf van de onderneming" in text
    assert "Grootteklasse vastgelegd voor het jaar door de eerste kmo-portefeuillesteun" in text
    assert "De onderneming telt heel 2024 als kleine onderneming" in text
