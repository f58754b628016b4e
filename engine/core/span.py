"""Source positions shared by every stage.

A `Span` addresses rule files (file:line:col, 1-based) for rule authors; a
`JsonPath` addresses case data (`project.costs.fee`) for portal developers.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    """Where something was written: file, line and column, 1-based."""

    file: str
    line: int
    column: int
    end_line: int = 0
    end_column: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


NO_SPAN = Span("<builtin>", 0, 0)


def format_json_path(path: tuple[str | int, ...]) -> str:
    """`("project", "costs", "fee")` -> `project.costs.fee`; list items as `[0]`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "(the case)"
