"""The kinds of definition a ruleset holds, declared once: every stage reads this table.

A kind is what a rule file calls a section (`conditions:`), what one entry is
called in messages (`condition`), the title of its part of a report, the key
that holds its expression, and how an explanation or an audit reads that
expression, in English and Dutch.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of definition."""

    id: str            # parameter, table, rule, condition, note, input_check, output
    section: str       # the key of its section in a rule file: parameters, tables, ...
    expression_key: str | None  # the key that holds its expression (value, fails_when, when)
    noun: dict         # {"en": "input check", "nl": "invoercontrole"}
    plural: dict       # {"en": "input checks", "nl": "invoercontroles"}
    title: dict        # a report's heading
    expression_words: dict  # how a report reads the expression: "fails when"
    decides: bool      # whether a case's decision reads it (an input check only refuses cases)
    ordered: bool = False  # whether the order of its definitions is meaning: reasons, notes and fields follow it
    messages: bool = False  # whether its definitions carry a message for the applicant, in each language


KINDS: tuple[Kind, ...] = (
    Kind("parameter", "parameters", "value", {"en": "parameter", "nl": "parameter"},
         {"en": "parameters", "nl": "parameters"}, {"en": "Parameters", "nl": "Parameters"},
         {"en": "value", "nl": "waarde"}, True),
    Kind("table", "tables", None, {"en": "table", "nl": "tabel"}, {"en": "tables", "nl": "tabellen"},
         {"en": "Tables", "nl": "Tabellen"}, {"en": "", "nl": ""}, True),
    Kind("rule", "rules", "value", {"en": "rule", "nl": "regel"}, {"en": "rules", "nl": "regels"},
         {"en": "Rules", "nl": "Regels"}, {"en": "value", "nl": "waarde"}, True),
    Kind("condition", "conditions", "fails_when", {"en": "condition", "nl": "voorwaarde"},
         {"en": "conditions", "nl": "voorwaarden"}, {"en": "Conditions", "nl": "Voorwaarden"},
         {"en": "fails when", "nl": "faalt als"}, True, True, True),
    Kind("note", "notes", "when", {"en": "note", "nl": "opmerking"}, {"en": "notes", "nl": "opmerkingen"},
         {"en": "Notes", "nl": "Opmerkingen"}, {"en": "applies when", "nl": "geldt als"}, True, True, True),
    Kind("input_check", "input_checks", "fails_when", {"en": "input check", "nl": "invoercontrole"},
         {"en": "input checks", "nl": "invoercontroles"}, {"en": "Input checks", "nl": "Invoercontroles"},
         {"en": "fails when", "nl": "faalt als"}, False, messages=True),
    Kind("output", "outputs", "value", {"en": "output", "nl": "uitvoer"}, {"en": "outputs", "nl": "uitvoer"},
         {"en": "Outputs", "nl": "Uitvoer"}, {"en": "value", "nl": "waarde"}, True, True),
)

# What a decision writes itself, beside the outputs (and before and after them): no output may take one of
# these names, or the decision would hold two values under one key.
DECISION_FIELDS = ("ruleset", "eligible", "reasons", "notes", "explanation")

BY_ID = {kind.id: kind for kind in KINDS}
BY_SECTION = {kind.section: kind for kind in KINDS}
SECTIONS = tuple(kind.section for kind in KINDS)
EXPRESSION_KINDS = tuple(kind for kind in KINDS if kind.id not in ("parameter", "table"))
# The order `show` prints a version in: a case's input is checked before its conditions are, so input
# checks come before conditions there.
SHOWN = tuple(BY_ID[kind_id] for kind_id in ("parameter", "table", "rule", "input_check", "condition", "note", "output"))


def noun(kind_id: str, lang: str = "en") -> str:
    return BY_ID[kind_id].noun[lang]


def counted(count: int, kind_id: str, lang: str = "en") -> str:
    """`1 condition`, `3 input checks`."""
    kind = BY_ID[kind_id]
    return f"{count} {kind.noun[lang] if count == 1 else kind.plural[lang]}"
