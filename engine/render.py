"""Render diagnostics and case problems for people; nothing below the CLI prints.

`file:line:col: code: message`, then the source line and a caret under the
spot, so an analyst sees the mistake where it is.
"""
from __future__ import annotations

from pathlib import Path

from .diagnostics import CaseError, Diagnostic


def _source_line(file: str, line: int, cache: dict) -> str | None:
    if file not in cache:
        try:
            cache[file] = Path(file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            cache[file] = []
    lines = cache[file]
    return lines[line - 1] if 0 < line <= len(lines) else None


def render_diagnostics(diagnostics, *, excerpts: bool = True) -> str:
    """Diagnostics -> text: one line each, with the source line and a caret when known."""
    cache: dict = {}
    out = []
    for d in diagnostics:
        out.append(str(d))
        if excerpts and d.span and d.span.line:
            text = _source_line(d.span.file, d.span.line, cache)
            if text is not None:
                out.append(f"    {text}")
                out.append("    " + " " * (d.span.column - 1) + "^")
    return "\n".join(out)


def render_case_error(error: CaseError) -> str:
    return str(error)


def summary_line(diagnostics) -> str:
    errors = sum(1 for d in diagnostics if d.severity == "error")
    warnings = sum(1 for d in diagnostics if d.severity == "warning")
    return f"{errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}"
