"""A tiny ruleset built in a temporary folder, to test the rule language on its own."""
from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

from engine import load_ruleset
from engine.pipeline import validate_rules

DATA = Path(__file__).resolve().parent / "data"

HEADER = """\
ruleset: mini
version: "2024-01-01"
effective_from: 2024-01-01
summary: a ruleset for testing the language
source: the test suite
case_schema: mini.case.schema.json
"""


def write_rules(folder: Path, body: str) -> Path:
    """A rules folder holding one complete version: HEADER + body (YAML)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(DATA / "mini.case.schema.json", folder / "mini.case.schema.json")
    (folder / "2024-01-01.yaml").write_text(HEADER + textwrap.dedent(body), encoding="utf-8")
    return folder


def one_rule(folder: Path, expression: str, *, type_: str | None = None, parameters: str = "{}") -> Path:
    """A ruleset whose only rule `x` is the expression, output as `x`."""
    declared = f"\n    type: {type_}" if type_ else ""
    body = f"""\
parameters: {parameters}
rules:
  x:
    value: {expression!r}{declared}
    source: test
conditions: {{}}
outputs:
  x: x
"""
    return write_rules(folder, body)


CASE = {"day": "2024-02-29", "amount": "100.00", "count": 3, "share": 0.25, "kind": "alpha",
        "items": [{"amount": 10, "day": "2023-12-31"}, {"amount": "2.50", "day": "2024-01-15"}]}


def value_of(folder: Path, expression: str, case: dict | None = None, **kwargs):
    one_rule(folder, expression, **kwargs)
    return load_ruleset(on="2024-06-01", rules=folder).evaluate(case or CASE).outputs["x"]


def problems_of(folder: Path, expression: str, **kwargs) -> list[str]:
    one_rule(folder, expression, **kwargs)
    return [f"{d.code}: {d.message}" + (f" ({d.hint})" if d.hint else "") for d in validate_rules(folder)
            if d.severity == "error"]
