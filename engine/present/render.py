"""Render diagnostics and case problems for people; nothing below the CLI prints.

`file:line:col: code: message (hint)`, then the source line and a caret
under the spot (a line of carets under a value that fits on its line), so an
analyst sees the mistake where it is.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..core.diagnostics import Diagnostic
from ..source.load import read_text_inside


def _source_line(file: str, line: int, cache: dict) -> str | None:
    if file not in cache:
        path = Path(file)
        # regular files only, bounded (never /dev/zero), and never through a link that leads out of the file's
        # own folder: a diagnostic about such a link must not show what lies at the other end
        text, problem = read_text_inside(path, path.parent) if not path.is_symlink() else (None, True)
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
        if excerpts and d.span and d.span.line and d.code != "file-outside":
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


# -- case problems in the reader's language ---------------------------------------------------------
# The validator words each problem in English, from a small set of shapes; a reader who asked for Dutch gets
# them in Dutch. Each shape is declared once: a pattern over the English message and its Dutch wording. The
# parts in between (a list of values, what was given) are kept as they are, with their own words translated.

_PHRASES_NL = (
    ("a whole number", "een geheel getal"), ("a number", "een getal"), ("a date YYYY-MM-DD", "een datum JJJJ-MM-DD"),
    ("a text", "een tekst"), ("true or false", "true of false"), ("a list", "een lijst"), ("an object", "een object"),
    ("(euro, as a JSON number or a decimal string)", "(euro, als JSON-getal of als decimale tekst)"),
    ("whole cents (at most two decimals)", "in hele centen (hoogstens twee decimalen)"), ("at most", "hoogstens"),
    ("at least", "minstens"), ("characters", "tekens"), ("or null", "of null"), ("one of", "een van"),
)
_SHAPES_NL = (
    (r"^is required$", "is verplicht"),
    (r"^unknown field$", "onbekend veld"),
    (r"^has (\d+) more unknown fields$", r"heeft nog \1 onbekende velden"),
    (r"^is too long \(at most (\d+) characters\)$", r"is te lang (hoogstens \1 tekens)"),
    (r"^must be (.*?); got (.*)$", r"moet \1 zijn; niet \2"),
    (r"^must be (.*?), got (.*)$", r"moet \1 zijn, niet \2"),
    (r"^must be (.*)$", r"moet \1 zijn"),
    (r"^no rules for (\S+): the first version of (\S+) starts on (\S+)$",
     r"geen regels voor \1: de eerste versie van \2 begint op \3"),
    (r"^no version of (\S+) is in force on (\S+)$", r"geen versie van \1 is van kracht op \2"),
)
_DID_YOU_MEAN = re.compile(r" \(did you mean (.*)\?\)$")


def problem_in(message: str, lang: str) -> str:
    """A case problem's message in the reader's language (English as the validator words it)."""
    if lang != "nl":
        return message
    hint = _DID_YOU_MEAN.search(message)
    core = message[:hint.start()] if hint else message
    for pattern, wording in _SHAPES_NL:
        if re.match(pattern, core):
            core = re.sub(pattern, wording, core)
            for english, dutch in _PHRASES_NL:
                core = core.replace(english, dutch)
            break
    return core + (f" (bedoelde u {hint.group(1)}?)" if hint else "")
