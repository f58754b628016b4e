"""Render diagnostics and case problems for people; nothing below the CLI prints.

`file:line:col: code: message (hint)`, then the source line and a caret
under the spot (a line of carets under a value that fits on its line), so an
analyst sees the mistake where it is.
"""
from __future__ import annotations

from pathlib import Path

from ..core.diagnostics import Diagnostic
from ..source.load import read_text_inside


def _source_line(file: str, line: int, cache: dict) -> str | None:
    if file not in cache:
        text, problem = read_text_inside(Path(file), None)  # regular files only, bounded: never /dev/zero
        cache[file] = [] if problem is not None else text.splitlines()
    lines = cache[file]
    return lines[line - 1] if 0 < line <= len(lines) else None


def _carets(d: Diagnostic, text: str) -> str:
    start = d.span.column - 1
    width = 1
    if d.span.end_line == d.span.line and d.span.end_column > d.span.column and text[start:start + 1] not in "{[":
        width = min(d.span.end_column, len(text) + 1) - d.span.column
    lead = "".join(ch if ch == "\t" else " " for ch in text[:start])
    return lead + "^" * max(width, 1)


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
                out.append(f"    {_carets(d, text)}")
    return "\n".join(out)


def _count(number: int, word: str) -> str:
    return f"{number} {word}{'' if number == 1 else 's'}"


def summary_line(diagnostics, files: int | None = None) -> str:
    """`3 errors, 1 warning in 11 files`."""
    errors = sum(1 for d in diagnostics if d.severity == "error")
    warnings = sum(1 for d in diagnostics if d.severity == "warning")
    where = f" in {_count(files, 'file')}" if files is not None else ""
    return f"{_count(errors, 'error')}, {_count(warnings, 'warning')}{where}"
