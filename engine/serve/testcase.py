""""Save as test case": a case and its decision -> the YAML test file that `kmo-rules test` runs.

The file follows `schemas/tests.schema.json`: the case written out inline,
and `expect:` with the version, the verdict, every output the test schema
lets a test check, and the reason and note codes. Put it in
`rules/<scheme>/tests/` and `kmo-rules test` holds the rules to this
decision from then on.
"""
from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import yaml


class _Dumper(yaml.SafeDumper):
    """Block YAML; exact decimals written as plain numbers, as typed."""


_Dumper.add_representer(Decimal, lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:float", str(value)))


def expectable(tests_schema: Path | None) -> set[str] | None:
    """The decision fields a test may expect, from the test schema; None when any may be."""
    if tests_schema is None or not Path(tests_schema).is_file():
        return None
    schema = json.loads(Path(tests_schema).read_text(encoding="utf-8"))
    expect = (schema.get("$defs") or {}).get("expect") or {}
    properties = expect.get("properties")
    if not isinstance(properties, dict) or expect.get("additionalProperties", True) is not False:
        return None
    return set(properties)


def default_name(day, eligible: bool, reasons, more: str = "") -> str:
    """A name for the test, as a sentence: what was tried and what it got (`more`: an amount, say)."""
    outcome = "eligible" if eligible else f"refused ({', '.join(reasons)})" if reasons else "refused"
    text = f"a case of {day} tried on the page is {outcome}{', ' + more if more else ''}"
    return re.sub(r"\s+", " ", text).strip()[:200]


def tests_yaml(name: str, case: dict, decided, allowed: set[str] | None) -> str:
    """One test: the case inline, and every field of its decision that a test may check."""
    expect = {"version": decided.version, "eligible": decided.eligible}
    for key, value in decided.outputs.items():
        if allowed is None or key in allowed:
            expect[key] = value
    expect["reasons"] = list(decided.reasons)
    expect["notes"] = list(decided.notes)
    if allowed is not None:
        expect = {k: v for k, v in expect.items() if k in allowed}
    test = {"name": name, "case": case, "expect": expect}
    header = (f"# yaml-language-server: $schema=../../../schemas/tests.schema.json\n"
              f"# Saved from the \"Try a case\" page: the decision of {decided.scheme} {decided.version}\n"
              f"# (sha256 {decided.sha256}).\n"
              f"# Put this file in rules/{decided.scheme}/tests/ and run: kmo-rules test\n")
    return header + yaml.dump({"tests": [test]}, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)
