"""Stage 1, load: YAML rule file -> `RuleFile` (plain data that remembers positions).

A rules folder is untrusted data: it is copied, mailed and edited by hand. So
files are read only through `read_text_inside`: a regular file inside the
folder (never a symbolic link that leads out of it, a FIFO or a device), at
most `MAX_FILE_BYTES`, UTF-8. YAML is read safely and strictly: a duplicated
key, an anchor or alias (the "billion laughs" bomb), an explicit tag, nesting
deeper than `MAX_YAML_DEPTH`, a number longer than `MAX_DIGITS` or a YAML
syntax error is a diagnostic with file:line:column. Dates and yes/no stay
text; only `true`/`false` are booleans, so a table key `no` is never read as
False. The shape of each file is then checked against
`schemas/ruleset.schema.json`.
"""
from __future__ import annotations

import bisect
import functools
import gc
import hashlib
import os
import json
import re
import stat
from collections import defaultdict
from contextlib import contextmanager
from decimal import Decimal
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from yaml.events import (AliasEvent, MappingEndEvent, MappingStartEvent, ScalarEvent, SequenceEndEvent,
                         SequenceStartEvent, StreamEndEvent)

from ..core.diagnostics import Diagnostic
from ..core.span import Span
from ..core.suggest import closest, did_you_mean

# -- limits: what a rules folder may hold ---------------------------------------------------------------
# Each is a diagnostic when exceeded, never a crash, a hang or an exhausted memory.

MAX_FILE_BYTES = 5 * 1024 * 1024    # a rule file, test file, case file or case schema
MAX_YAML_DEPTH = 32                 # mappings and lists inside each other
MAX_DIGITS = 30                     # significant digits of a number (YAML or the rule language)
MAX_EXPRESSION_CHARS = 10_000       # one expression
MAX_EXPRESSION_DEPTH = 50           # operations inside each other in one expression
MAX_DEFINITIONS = 10_000            # parameters, tables, rules, conditions, notes, checks and outputs of a version
MAX_TABLE_ROWS = 250_000            # rows of one table
MAX_DURATION = {"years": 1_000, "months": 12_000, "days": 366_000}  # the longest duration of each unit
MAX_SUGGESTIONS_FROM = 2_000        # "did you mean" looks among at most this many names


@contextmanager
def building():
    """While many objects are made and kept (a large file read, a large table checked), the cyclic garbage
    collector would scan the growing heap again and again, for objects that form no cycle: it waits."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _size_words(limit: int) -> str:
    return f"{limit / (1024 * 1024):g} MB" if limit >= 1024 * 1024 else f"{limit:,} bytes"


_NOT_DIGIT = re.compile(r"\D+")


def significant_digits(text: str) -> int:
    """How many significant digits a number written as text has: 007.50 has 3 (7, 5, 0)."""
    return len(_NOT_DIGIT.sub("", text).lstrip("0"))


class PosDict(dict):
    """A YAML mapping that remembers where each key and value was written."""

    __slots__ = ("key_spans", "value_locs", "span")


class _KeySpans(dict):
    """key -> the Span of the key as written, made from its Loc when first asked (most never are)."""

    __slots__ = ()

    def __getitem__(self, key) -> Span:
        return dict.__getitem__(self, key).span

    def get(self, key, default=None):
        loc = dict.get(self, key)
        return default if loc is None else loc.span


class PosList(list):
    """A YAML sequence that remembers where each item was written."""

    __slots__ = ("value_locs", "span")


class Loc:
    """Where a value's text lies in its file: a span plus raw character offsets.

    Made for every value read, so it keeps plain numbers and makes its `Span` only when asked.
    """

    __slots__ = ("file", "_line", "_column", "_end_line", "_end_column", "start", "end", "_span")

    def __init__(self, file: str, line: int, column: int, end_line: int, end_column: int, start: int, end: int):
        # line and column counted from 0, as YAML marks are
        self.file, self._line, self._column, self._end_line, self._end_column = file, line, column, end_line, end_column
        self.start, self.end, self._span = start, end, None

    @property
    def span(self) -> Span:
        span = self._span
        if span is None:
            span = self._span = Span(self.file, self._line + 1, self._column + 1, self._end_line + 1,
                                     self._end_column + 1)
        return span

    def _key(self) -> tuple:
        return (self.file, self._line, self._column, self._end_line, self._end_column, self.start, self.end)

    def __eq__(self, other) -> bool:
        return isinstance(other, Loc) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"Loc(span={self.span!r}, start={self.start}, end={self.end})"


@dataclass(frozen=True, slots=True)
class RuleFile:
    """One rule file read from disk: its path as shown to users, its text, its data."""

    path: str
    text: str
    doc: object


# -- reading files ----------------------------------------------------------------------------------------

def is_inside(path: str | os.PathLike, root: str | os.PathLike) -> bool:
    """Whether a path, every symbolic link followed, lies inside a folder (itself resolved)."""
    real, real_root = os.path.realpath(path), os.path.realpath(root)
    try:
        return os.path.commonpath([real, real_root]) == real_root
    except ValueError:  # different drives
        return False


def _file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _open_regular(path: Path, root: Path | None, what: str, at: Span) -> tuple[int | None, os.stat_result | None,
                                                                                  Diagnostic | None]:
    """An open descriptor of a regular file (inside root, when given), its status, or why not."""
    hint = "a rules folder may only use the files inside it; copy the file into the folder"
    if root is not None and not is_inside(path, root):
        linked = os.path.islink(path)
        return None, None, Diagnostic("file-outside", f"{what} is a symbolic link that leads out of the rules folder"
                                      if linked else f"{what} lies outside the rules folder", at, hint)
    real = os.path.realpath(path) if root is not None else os.fspath(path)
    try:
        status = os.stat(real)
        if not stat.S_ISREG(status.st_mode):  # never open a FIFO or a device: opening alone may block or act
            return None, None, Diagnostic("file-kind", f"{what} is {_file_kind(status.st_mode)}, not a regular file", at)
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
        if root is not None:
            flags |= getattr(os, "O_NOFOLLOW", 0)  # resolved above: a link appearing now is refused
        fd = os.open(real, flags)
    except FileNotFoundError:
        return None, None, Diagnostic("file", f"{what} does not exist", at)
    except PermissionError:
        return None, None, Diagnostic("file", f"{what} cannot be read: permission denied", at)
    except OSError as error:
        return None, None, Diagnostic("file", f"{what} cannot be read: {error.strerror or error}", at)
    status = os.fstat(fd)
    if not stat.S_ISREG(status.st_mode):
        os.close(fd)
        return None, None, Diagnostic("file-kind", f"{what} is {_file_kind(status.st_mode)}, not a regular file", at)
    return fd, status, None


def _read_bounded(fd: int, limit: int) -> bytes | None:
    """At most `limit` bytes of an open file; None when it holds more."""
    chunks, size = [], 0
    while size <= limit:
        chunk = os.read(fd, min(1 << 20, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks) if size <= limit else None


def read_text_inside(path: str | os.PathLike, root: str | os.PathLike | None, limit: int = MAX_FILE_BYTES, *,
                     shown: str | None = None, at: Span | None = None,
                     what: str = "the file") -> tuple[str | None, Diagnostic | None]:
    """Read a text file a rules folder names: (text, None), or (None, the reason it cannot be used).

    Only a regular file is read (a FIFO or a device is refused before it is opened), and only inside `root`
    when given (a symbolic link that leads out of it is refused). At most `limit` bytes: a larger file is
    refused, never read to the end. The text must be UTF-8; line ends are read as Python reads text
    ('\\r\\n' and '\\r' become '\\n'). The problem is reported at `at` (default: the file, line 1), named
    `what` ("the case file cases/x.json").
    """
    shown = shown if shown is not None else os.fspath(path)
    at = at or Span(shown, 1, 1)
    fd, status, problem = _open_regular(Path(path), Path(root) if root is not None else None, what, at)
    if problem is not None:
        return None, problem
    try:
        data = _read_bounded(fd, limit) if status.st_size <= limit else None
    except OSError as error:
        return None, Diagnostic("file", f"{what} cannot be read: {error.strerror or error}", at)
    finally:
        os.close(fd)
    if data is None:
        return None, Diagnostic("file-size", f"{what} is larger than {_size_words(limit)}", at,
                                "split it into smaller files")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None, Diagnostic("file-encoding", f"{what} is not UTF-8 text", at, "save it as UTF-8")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text, None


# -- YAML -------------------------------------------------------------------------------------------------

class _StrictResolver(yaml.resolver.BaseResolver):
    pass


for _tag, _regexp, _first in (
    ("tag:yaml.org,2002:bool", r"^(?:true|false)$", list("tf")),
    ("tag:yaml.org,2002:int", r"^-?(?:0|[1-9][0-9_]*)$", list("-0123456789")),
    ("tag:yaml.org,2002:float", r"^-?(?:0|[1-9][0-9_]*)\.[0-9_]+$", list("-0123456789")),
    ("tag:yaml.org,2002:null", r"^(?:~|null|)$", ["~", "n", ""]),
):
    _StrictResolver.add_implicit_resolver(_tag, re.compile(_regexp), _first)

_MAP, _SEQ, _STR = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:str"
_INT, _FLOAT, _BOOL = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool"


class _PyEvents(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
    """Pure-Python YAML events (used where PyYAML has no libyaml)."""

    def __init__(self, text: str):
        yaml.reader.Reader.__init__(self, text)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)


if getattr(yaml, "__with_libyaml__", False):
    from yaml._yaml import CParser as _Events  # libyaml: the same events with marks, much faster
else:  # pragma: no cover - depends on how PyYAML was built
    _Events = _PyEvents


def _shown_tag(tag: str) -> str:
    return "!!" + tag[len("tag:yaml.org,2002:"):] if tag.startswith("tag:yaml.org,2002:") else tag


class _Frame:
    """A mapping or list being read: what is known of it so far."""

    __slots__ = ("out", "start", "refused", "key", "skip", "mapping")

    def __init__(self, out, start, refused: bool, mapping: bool):
        self.out, self.start, self.refused, self.mapping = out, start, refused, mapping
        self.key = None    # in a mapping: (key text, where the key is) waiting for its value
        self.skip = False  # in a mapping: the next value belongs to a refused key


_NO_VALUE = object()
_IMPLICIT = {first: tuple(resolvers) for first, resolvers in _StrictResolver.yaml_implicit_resolvers.items()}


def _implicit_tag(value: str, plain: bool) -> str:
    """The tag YAML gives a scalar written without one (the strict resolver's)."""
    if plain:
        for tag, regexp in _IMPLICIT.get(value[:1], ()):
            if regexp.match(value):
                return tag
    return _STR


class _Builder:
    """YAML events -> PosDict / PosList / scalars, collecting every problem, without recursion.

    Built straight from the parser's events, so neither a deep document nor an alias bomb can exhaust
    the stack or the memory: nesting deeper than MAX_YAML_DEPTH stops the reading; an alias of a mapping
    or list is refused, never expanded.
    """

    def __init__(self, file: str):
        self.file = file
        self.diagnostics: list[Diagnostic] = []
        self.anchors: dict[str, tuple] = {}  # anchor -> (start mark, (value, loc) of a scalar, or None)
        self.stack: list[_Frame] = []  # the mappings and lists open: where a syntax error stopped the reading
        self.root = None  # the document read, when a syntax error comes after it

    def span(self, start, end) -> Span:
        return Span(self.file, start.line + 1, start.column + 1, end.line + 1, end.column + 1)

    def loc(self, start, end) -> Loc:
        return Loc(self.file, start.line, start.column, end.line, end.column, start.index, end.index)

    def _tag_refused(self, event, implicit_tag: str) -> bool:
        """An explicit tag is refused unless it is the one YAML would give the value anyway."""
        tag = event.tag
        if tag is None or tag == implicit_tag:
            return False
        self.diagnostics.append(Diagnostic(
            "yaml-tag", f"the YAML tag {_shown_tag(tag)} is not allowed here", self.span(event.start_mark, event.start_mark),
            "write the value without a tag ('!...'); put it in quotes if it is a text"))
        return True

    def _number(self, text: str, event) -> bool:
        if len(text) <= MAX_DIGITS or significant_digits(text) <= MAX_DIGITS:
            return True
        self.diagnostics.append(Diagnostic(
            "number-too-long", f"this number has more than {MAX_DIGITS} significant digits",
            self.span(event.start_mark, event.end_mark), f"a number has at most {MAX_DIGITS} significant digits"))
        return False

    def scalar(self, event):
        """A scalar value: text, an exact number, a boolean or None."""
        value = event.value
        implicit = _implicit_tag(value, not event.style)
        if event.tag is not None and self._tag_refused(event, implicit):
            return None
        if implicit is _STR:
            return value
        if implicit == _INT:
            return int(value.replace("_", "")) if self._number(value, event) else None
        if implicit == _FLOAT:
            return Decimal(value.replace("_", "")) if self._number(value, event) else None  # exact, never a float
        if implicit == _BOOL:
            return value == "true"
        return None  # null

    def read(self, events) -> object:
        """The whole document, or None (an empty stream, or a problem that stops the reading)."""
        with building():  # a large file makes a million objects, none in a cycle
            return self._read(events)

    def _read(self, events) -> object:
        events.get_event()  # the start of the stream
        if events.check_event(StreamEndEvent):
            return None
        events.get_event()  # the start of the document
        first = events.peek_event()
        doc = self.root = self._document(events)
        if doc is _NO_VALUE:
            return None
        events.get_event()  # the end of the document
        if not events.check_event(StreamEndEvent):
            event = events.get_event()
            raise yaml.composer.ComposerError("expected a single document in the stream", first.start_mark,
                                              "but found another document", event.start_mark)
        return doc

    def _anchor(self, event, scalar=None) -> None:
        anchor = event.anchor
        if anchor in self.anchors:
            raise yaml.composer.ComposerError(f"found duplicate anchor {anchor!r}; first occurrence",
                                              self.anchors[anchor][0], "second occurrence", event.start_mark)
        self.anchors[anchor] = (event.start_mark, scalar)

    def _document(self, events):
        """The events of one document -> its value; the loop runs once per event, so it is kept tight."""
        file, problems, get_event = self.file, self.diagnostics, events.get_event
        stack: list[_Frame] = self.stack
        frame = None  # the innermost open mapping or list
        while True:
            event = get_event()
            kind = type(event)
            start, end = event.start_mark, event.end_mark
            if kind is ScalarEvent:
                if frame is not None and frame.mapping and frame.key is None and not frame.skip:
                    # a key: kept as written, never converted
                    if event.tag is not None and self._tag_refused(event, _implicit_tag(event.value, not event.style)):
                        value, is_text = _NO_VALUE, False
                    else:
                        value, is_text = event.value, True
                elif event.tag is None and event.style:  # quoted or block text: the common case, made short
                    value, is_text = event.value, True
                else:
                    value, is_text = self.scalar(event), True
                if event.anchor is not None:
                    self._anchor(event, (value, self.loc(start, end)))
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                if len(stack) >= MAX_YAML_DEPTH:
                    problems.append(Diagnostic(
                        "yaml-depth", f"the data is nested more than {MAX_YAML_DEPTH} levels deep",
                        self.span(start, start), "a rule file or a case needs only a few levels"))
                    return _NO_VALUE
                mapping = kind is MappingStartEvent
                if mapping:
                    out = PosDict()
                    out.key_spans, out.value_locs = _KeySpans(), {}
                else:
                    out = PosList()
                    out.value_locs = []
                refused = event.tag is not None and self._tag_refused(event, _MAP if mapping else _SEQ)
                if event.anchor is not None:
                    self._anchor(event)
                frame = _Frame(out, start, refused, mapping)
                stack.append(frame)
                continue
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                done = stack.pop()
                start = done.start
                done.out.span = Span(file, start.line + 1, start.column + 1, end.line + 1, end.column + 1)
                value, is_text = (None if done.refused else done.out), False
                frame = stack[-1] if stack else None
            elif kind is AliasEvent:
                known = self.anchors.get(event.anchor)
                if known is None:
                    raise yaml.composer.ComposerError(None, None, f"found undefined alias {event.anchor!r}", start)
                at_key = frame is not None and frame.mapping and frame.key is None and not frame.skip
                if known[1] is not None and not at_key:
                    value, loc = known[1]  # a text repeated: harmless, read as the text it repeats
                    if frame is None:
                        return value
                    self._attach(frame, value, loc, True)
                    continue
                where = frame.key[1].span if frame is not None and frame.key is not None else self.span(start, end)
                problems.append(Diagnostic(
                    "yaml-alias", f"this value repeats the one at line {known[0].line + 1} through an alias "
                    "(*name); anchors and aliases are not allowed here: write the value out", where))
                value, is_text = _NO_VALUE, False
            else:  # pragma: no cover - the parser gives no other event inside a document
                raise yaml.composer.ComposerError(None, None, f"unexpected {kind.__name__}", start)
            if frame is None:
                return None if value is _NO_VALUE else value
            loc = Loc(file, start.line, start.column, end.line, end.column, start.index, end.index)
            if not frame.mapping:
                frame.out.append(None if value is _NO_VALUE else value)
                frame.out.value_locs.append(loc)
            elif frame.key is not None and not frame.skip:  # the value of a key: the common case, made short
                key, key_span = frame.key
                frame.key = None
                out = frame.out
                out[key] = None if value is _NO_VALUE else value
                out.key_spans[key] = key_span
                out.value_locs[key] = loc
            else:
                self._attach(frame, value, loc, is_text)

    def _attach(self, frame: _Frame, value, loc: Loc, is_text: bool) -> None:
        out = frame.out
        if not frame.mapping:
            out.append(None if value is _NO_VALUE else value)
            out.value_locs.append(loc)
            return
        if frame.skip:  # the value of a key that was refused
            frame.skip = False
            return
        if frame.key is None:  # this is a key
            if value is _NO_VALUE:
                frame.skip = True
            elif is_text and value == "<<":
                self.diagnostics.append(Diagnostic(
                    "yaml-alias", "merge keys (<<) are not allowed here; write the values out", loc.span))
                frame.skip = True
            elif not is_text:
                self.diagnostics.append(Diagnostic("yaml-key", "a key must be plain text", loc.span))
                frame.skip = True
            elif value in out:
                first = out.key_spans[value]
                self.diagnostics.append(Diagnostic(
                    "yaml-duplicate-key",
                    f"the key '{value}' is written twice in this mapping (first at line {first.line})", loc.span))
                frame.skip = True
            else:
                frame.key = (value, loc)
            return
        key, key_span = frame.key
        frame.key = None
        out[key] = None if value is _NO_VALUE else value
        out.key_spans[key] = key_span
        out.value_locs[key] = loc


def _syntax_problem(error: yaml.MarkedYAMLError, text: str, file: str, stack: list[_Frame] = (),
                    root=None) -> Diagnostic:
    """A YAML syntax error -> a plain sentence at the spot to fix (the opening quote, not the end of the file;
    the line indented wrongly, not the line after it). `stack`: the mappings and lists open when it stopped;
    `root`: the document, when the error comes after it."""
    problem, context = (error.problem or "invalid YAML").strip(), (error.context or "").strip()
    at, opened = error.problem_mark or error.context_mark, error.context_mark or error.problem_mark
    if at and ("mapping values are not allowed" in problem or "expected key" in problem or "expected '-'" in problem
               or "expected <block end>" in problem or "document start" in problem):
        indentation = _indentation_problem(text, at, file, stack, root)
        if indentation is not None:
            return indentation

    def span(mark) -> Span:
        return Span(file, mark.line + 1, mark.column + 1) if mark else Span(file, 1, 1)

    char = text[at.index] if at and at.index < len(text) else ""
    line = text.splitlines()[at.line] if at and at.line < len(text.splitlines()) else ""
    quote_hint = "put the whole value in quotes"
    if "mapping values are not allowed" in problem:
        return Diagnostic("yaml-syntax", "a value holds ': ' (a colon and a space), which YAML reads as a new key",
                          span(at), f"{quote_hint}, or check the indentation of this line")
    if "cannot start any token" in problem and char == "\t":
        return Diagnostic("yaml-syntax", "a tab character: YAML is indented with spaces only", span(at),
                          "replace the tab by spaces")
    if "cannot start any token" in problem or "undefined alias" in problem:
        return Diagnostic("yaml-syntax", f"a value cannot start with '{char}'", span(at), quote_hint)
    if "end of stream" in problem and "quoted scalar" in context:
        return Diagnostic("yaml-syntax", "this quote is never closed", span(opened), "end the text with the same quote")
    if "could not find expected ':'" in problem:
        return Diagnostic("yaml-syntax", "this line has no ':'; each line of a mapping is 'key: value'", span(opened))
    if "expected ',' or '}'" in problem or "expected ',' or ']'" in problem:
        closing = "}" if "}" in problem else "]"
        return Diagnostic("yaml-syntax", f"this '{'{' if closing == '}' else '['}' is never closed with '{closing}'",
                          span(opened), f"a value with ',' or '{closing}' in it must be put in quotes")
    if "expected key" in problem or "expected '-'" in problem:
        if at and at.column > len(line) - len(line.lstrip()):
            return Diagnostic("yaml-syntax", "unexpected text after the value", span(at),
                              "a value that starts with a quote must end with it; put the whole value in quotes")
        return Diagnostic("yaml-indentation", "this line is not indented like the lines above it", span(at),
                          "keys of one mapping, and the items of one list, start in the same column")
    return Diagnostic("yaml-syntax", f"{problem} ({context})" if context else problem, span(at))


_KEY_AT_START = re.compile(r"""( *)((?:[^\s:#'"{}\[\],&*!|>%@`-][^\s:]*|-[^\s:]+|"[^"\n]*"|'[^'\n]*'))[ \t]*:(?:[ \t]|$)""")
_ITEM_AT_START = re.compile(r"( *)-(?:[ \t]|$)")
_SAME_COLUMN = "the keys of one mapping start in the same column"


def _spaces(count: int) -> str:
    return "one space" if count == 1 else f"{count} spaces"


def _indent(key: str, column: int) -> str:
    return f"indent '{key}' by {column} spaces" if column else f"start '{key}' at the beginning of the line"


def _key_loc(mapping: PosDict, key: str) -> Loc:
    return dict.__getitem__(mapping.key_spans, key)


def _at(file: str, loc: Loc) -> Span:
    return Span(file, loc._line + 1, loc._column + 1, loc._end_line + 1, loc._end_column + 1)


def _indentation_problem(text: str, at, file: str, stack: list[_Frame], root=None) -> Diagnostic | None:
    """A key or list item that YAML finds in a column where nothing open has its keys or items -> the line
    indented wrongly, in words. None when the problem is another one.

    YAML notices a key indented one space too little only on the line after it: the next key is then deeper
    than it, so it reads as a second line of its value, or as a key out of place. What was open when the
    reading stopped says which line it is: when the first key of a mapping (or the first item of a list) and
    the one after it disagree, the one indented by the file's usual step under the key above them is right,
    and the other is shown.
    """
    lines = text.split("\n")
    if at.line >= len(lines):
        return None
    if not stack:
        return _top_level_problem(root, at.line, file)
    frame = stack[-1]
    if text[frame.start.index:frame.start.index + 1] in "{[":
        return None  # inside [...] or {...}: indentation means nothing there
    item, written = _ITEM_AT_START.match(lines[at.line]), _KEY_AT_START.match(lines[at.line])
    if item is not None:
        return _item_out_of_line(stack, len(item.group(1)), at.line, file, lines)
    if written is None:
        return _block_text_out_of_line(text, lines, frame, len(lines[at.line]) - len(lines[at.line].lstrip(" ")),
                                       at.line, file)
    column, key, line = len(written.group(1)), written.group(2), at.line
    if not frame.mapping:
        return _item_key_out_of_line(stack, column, key, line, file, lines)
    if frame.key is not None:
        previous_key, previous = frame.key
    elif frame.out:
        previous_key = next(reversed(frame.out))
        previous = _key_loc(frame.out, previous_key)
    else:
        return None
    keys_column = frame.start.column
    if previous._line >= line or column <= keys_column:
        return None  # not a line of its own, or meant for an outer mapping: another mistake, or said as it is
    step = _usual_step(lines, line, previous._line, frame.start.line)
    where = Span(file, line + 1, column + 1, line + 1, column + 1 + len(key))
    outer = stack[-2] if len(stack) > 1 else None
    parent = outer.key[1] if outer is not None and outer.mapping and outer.key is not None else None
    first_key_wrong = (len(frame.out) + (frame.key is not None) == 1 and parent is not None
                       and parent._line < frame.start.line and column == parent._column + step != keys_column)
    inner = frame.out.get(previous_key) if frame.key is None else None
    if isinstance(inner, PosDict) and inner and inner.span.line - 1 > previous._line:
        # the mapping written under the key before has ended: this key lies between its keys and this mapping's
        inner_column, inner_keys = inner.span.column - 1, list(inner)
        step = _usual_step(lines, line, previous._line, frame.start.line, inner.span.line - 1)
        if len(inner_keys) == 1 and column == keys_column + step != inner_column:
            return _first_out_of_line(f"'{inner_keys[0]}'", _key_loc(inner, inner_keys[0]), column,
                                      f"'{key}' on line {line + 1}, the next key of the same mapping", file,
                                      f"{_indent(inner_keys[0], column)}, like '{key}'; {_SAME_COLUMN}")
        if first_key_wrong:
            return _first_out_of_line(f"'{previous_key}'", previous, column,
                                      f"'{key}' on line {line + 1}, the next key of the same mapping", file,
                                      f"{_indent(previous_key, column)}, like '{key}'; {_SAME_COLUMN}")
        last = _key_loc(inner, inner_keys[-1])
        return Diagnostic(
            "yaml-indentation", f"'{key}' is indented {_spaces(column)}, between '{previous_key}' on line "
            f"{previous._line + 1} ({_spaces(keys_column)}) and the keys under it ({_spaces(inner_column)}, "
            f"'{inner_keys[-1]}' on line {last._line + 1})", where, f"indent it like one of them; {_SAME_COLUMN}")
    if isinstance(inner, PosList) and inner.span.line - 1 > previous._line:
        return None  # a list has ended: a mistake of another kind
    if (outer is not None and not outer.mapping and not outer.out and frame.start.line == outer.start.line
            and len(frame.out) + (frame.key is not None) == 1):  # '- key: value' first in its list, a key under it
        dash = _dash_out_of_line(stack[:-1], column - (keys_column - outer.start.column), key, line, file, lines)
        if dash is not None:
            return dash
    if first_key_wrong:
        return _first_out_of_line(f"'{previous_key}'", previous, column,
                                  f"'{key}' on line {line + 1}, the next key of the same mapping", file,
                                  f"{_indent(previous_key, column)}, like '{key}'; {_SAME_COLUMN}")
    keys = list(frame.out) + ([previous_key] if frame.key is not None else [])
    if len(keys) > 1:  # 'a:' left empty, then 'b: ...' meant under it, as the key after it is
        before, before_value = _key_loc(frame.out, keys[-2]), frame.out.get(keys[-2], "")
        if before_value is None and before._line == previous._line - 1 and column == before._column + step:
            return _first_out_of_line(f"'{previous_key}'", previous, column,
                                      f"'{key}' on line {line + 1}, the next key of the same mapping", file,
                                      f"{_indent(previous_key, column)}, like '{key}'; {_SAME_COLUMN}")
    return Diagnostic(
        "yaml-indentation", f"'{key}' is indented {_spaces(column - keys_column)} more than '{previous_key}' on "
        f"line {previous._line + 1}, the key before it", where,
        f"{_indent(key, keys_column)}, like '{previous_key}'; {_SAME_COLUMN}")


def _first_out_of_line(what: str, first: Loc, column: int, than: str, file: str, hint: str) -> Diagnostic:
    """The first key of a mapping (or item of a list) indented otherwise than the one after it, which is right."""
    more = first._column > column
    return Diagnostic("yaml-indentation", f"{what} is indented {_spaces(abs(first._column - column))} "
                      f"{'more' if more else 'less'} than {than}", _at(file, first), hint)


def _item_key_out_of_line(stack: list[_Frame], column: int, key: str, line: int, file: str,
                          lines: list[str]) -> Diagnostic | None:
    """A key after a list item 'key: value' that lies between the '-' and the item's keys: meant for the item."""
    frame = stack[-1]
    items = frame.out
    if not items or not isinstance(items[-1], PosDict) or not items[-1]:
        return None
    item = items[-1]
    item_column = item.span.column - 1
    if item.span.line - 1 != items.value_locs[-1]._line or not frame.start.column < column < item_column:
        return None
    if len(items) == 1:  # the first item: its '-' may be the one out of line
        dash = _dash_out_of_line(stack, column - (item_column - frame.start.column), key, line, file, lines)
        if dash is not None:
            return dash
    last_key = list(item)[-1]
    last = _key_loc(item, last_key)
    return Diagnostic(
        "yaml-indentation", f"'{key}' is indented {_spaces(item_column - column)} less than '{last_key}' on line "
        f"{last._line + 1}, the key before it", Span(file, line + 1, column + 1, line + 1, column + 1 + len(key)),
        f"{_indent(key, item_column)}, like '{last_key}'; the keys of a list item start just after "
        "its '- '")


def _dash_out_of_line(stack: list[_Frame], dash_needed: int, key: str, line: int, file: str,
                      lines: list[str]) -> Diagnostic | None:
    """The '-' of the first item of a list (stack[-1]) out of line with the key after it, when moving the '-'
    to where the file's usual step puts it would bring its keys in line with that key."""
    frame, outer = stack[-1], stack[-2] if len(stack) > 1 else None
    owner = outer.key[1] if outer is not None and outer.mapping and outer.key is not None else None
    dash = frame.start.column
    if owner is None or owner._line >= frame.start.line or dash_needed == dash \
            or dash_needed not in (owner._column + _usual_step(lines, line, frame.start.line), owner._column):
        return None
    return Diagnostic(
        "yaml-indentation", f"this '-' is indented {_spaces(abs(dash - dash_needed))} "
        f"{'more' if dash > dash_needed else 'less'} than the keys of its item need ('{key}' on line {line + 1})",
        Span(file, frame.start.line + 1, dash + 1, frame.start.line + 1, dash + 2),
        f"indent the '-' by {dash_needed} spaces; the keys of a list item start just after its '- ', in the same "
        "column")


def _block_text_out_of_line(text: str, lines: list[str], frame: _Frame, column: int, line: int,
                            file: str) -> Diagnostic | None:
    """A text after '|' or '>' whose first line is indented deeper than the lines after it: YAML takes the
    first line's indentation for the whole text, and ends it at the first line indented less."""
    if not frame.mapping or frame.key is not None or not frame.out:
        return None
    key = next(reversed(frame.out))
    loc = frame.out.value_locs[key]
    if text[loc.start:loc.start + 1] not in ("|", ">") or not isinstance(frame.out[key], str):
        return None
    first = loc._line + 1
    while first < line and not lines[first].strip():
        first += 1
    indent = len(lines[first]) - len(lines[first].lstrip(" ")) if first < line else -1
    if not frame.start.column < column < indent:
        return None
    alone = all(not text_line.strip() for text_line in lines[first + 1:line])
    if column == frame.start.column + _usual_step(lines, first, line):
        return Diagnostic(
            "yaml-indentation", f"the first line of the text of '{key}' is indented {_spaces(indent - column)} more "
            f"than line {line + 1}: YAML takes the first line's indentation for the whole text, and ends it there",
            Span(file, first + 1, indent + 1, first + 1, indent + 2),
            f"indent the lines of the text alike, here by {column} spaces")
    if alone or all(len(text_line) - len(text_line.lstrip(" ")) == indent
                    for text_line in lines[first:line] if text_line.strip()):
        return Diagnostic(
            "yaml-indentation", f"this line of the text of '{key}' is indented {_spaces(indent - column)} less than "
            f"the line{'' if alone else 's'} above it: YAML ends the text at it", Span(file, line + 1, column + 1),
            f"indent the lines of the text alike, here by {indent} spaces")
    return Diagnostic(
        "yaml-indentation", f"this line of the text of '{key}' is indented less than its first line (line {first + 1}, "
        f"{_spaces(indent)}): YAML takes the first line's indentation for the whole text, and ends it here",
        Span(file, line + 1, column + 1), "indent no line of the text less than its first line")


def _item_out_of_line(stack: list[_Frame], column: int, line: int, file: str,
                      lines: list[str]) -> Diagnostic | None:
    """A list item '- ' in a column where the list before it does not have its items."""
    frame = stack[-1]
    if frame.mapping:  # the list under the last key has ended
        if frame.key is not None or not frame.out:
            return None
        owner_key = next(reversed(frame.out))
        owner, items = _key_loc(frame.out, owner_key), frame.out[owner_key]
        if not isinstance(items, PosList) or not items or items.span.line - 1 <= owner._line \
                or column <= frame.start.column:
            return None
        items_line, items_column = items.span.line - 1, items.span.column - 1
    else:  # the list is open: the item is deeper than its items
        items, outer = frame.out, stack[-2] if len(stack) > 1 else None
        owner = outer.key[1] if outer is not None and outer.mapping and outer.key is not None else None
        if not items or owner is None or owner._line >= frame.start.line:
            return None
        items_line, items_column = frame.start.line, frame.start.column
    if column == items_column:
        return None
    step = _usual_step(lines, line, items_line)
    first = Loc(file, items_line, items_column, items_line, items_column + 1, 0, 0)
    if len(items) == 1 and column in (owner._column, owner._column + step):
        return _first_out_of_line("this item", first, column, f"the next item of the same list, on line {line + 1}",
                                  file, f"indent its '-' by {column} spaces, like the one on line {line + 1}; the "
                                  "items of one list start in the same column")
    before = items.value_locs[-1]._line + 1
    return Diagnostic(
        "yaml-indentation", f"this item is indented {_spaces(abs(column - items_column))} "
        f"{'more' if column > items_column else 'less'} than the item before it in the same list, on line {before}",
        Span(file, line + 1, column + 1, line + 1, column + 2),
        f"indent its '-' by {items_column} spaces; the items of one list start in the same column")


def _top_level_problem(root, line: int, file: str) -> Diagnostic | None:
    """The keys at the top of a file, indented: YAML ends the file at the first key that is not."""
    if not isinstance(root, PosDict) or not root or root.span.column == 1:
        return None
    keys = list(root)
    first, last = _key_loc(root, keys[0]), _key_loc(root, keys[-1])
    lines = f"'{keys[0]}'" if len(keys) == 1 else f"the keys from '{keys[0]}' to '{keys[-1]}' (line {last._line + 1})"
    return Diagnostic("yaml-indentation", f"'{keys[0]}' is indented {_spaces(first._column)}, but line {line + 1} "
                      "is not: the keys at the top of a file start in the first column", _at(file, first),
                      f"remove the spaces before {lines}")


def _usual_step(lines: list[str], *suspects: int) -> int:
    """How many spaces deeper the lines under a 'key:' are written in this file, most often, the lines under
    suspicion (indexes) left out (2 when no line says)."""
    steps: dict[int, int] = {}
    opener = None  # the indentation of the last line that ends with ':'
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        if opener is not None and indent > opener and index not in suspects:
            steps[indent - opener] = steps.get(indent - opener, 0) + 1
        opener = indent if stripped.endswith(":") and index not in suspects else None
    return max(steps, key=lambda s: (steps[s], -s)) if steps else 2


def read_yaml(text: str, file: str) -> tuple[object, list[Diagnostic]]:
    """YAML text -> data with positions, and the problems found (all of them)."""
    events = _Events(text)
    builder = _Builder(file)
    try:
        doc = builder.read(events)
    except yaml.MarkedYAMLError as error:
        return None, [_syntax_problem(error, text, file, builder.stack, builder.root)]
    except yaml.YAMLError as error:
        return None, [Diagnostic("yaml-syntax", str(error).splitlines()[0], Span(file, 1, 1))]
    finally:
        events.dispose()
    if doc is None and builder.diagnostics:
        return None, builder.diagnostics
    return doc, builder.diagnostics


def locate(doc, path) -> Span | None:
    """The span of the value at a path inside a loaded document (the deepest that exists)."""
    span = getattr(doc, "span", None)
    node = doc
    for part in path:
        if isinstance(node, PosDict) and part in node:
            span = node.value_locs[part].span
            node = node[part]
        elif isinstance(node, PosList) and isinstance(part, int) and part < len(node):
            span = node.value_locs[part].span
            node = node[part]
        else:
            break
    return span


def key_span(doc, path, key) -> Span | None:
    """The span of a key (for 'unknown field' errors, point at the key itself)."""
    node = doc
    for part in path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    if isinstance(node, PosDict):
        return node.key_spans.get(key)
    return None


@lru_cache(maxsize=None)
def _schema_validator(schema_path: str):
    schema = json.loads(Path(schema_path).read_text(encoding="utf-8"))
    import jsonschema  # only when a file's shape is not known to be good: it costs a twentieth of a second
    return jsonschema.Draft202012Validator(schema)


_NOUNS = {"parameters": "parameter", "tables": "table", "rules": "rule", "conditions": "condition", "notes": "note",
          "input_checks": "input check", "outputs": "output", "tests": "test"}
_LEAF_FIELDS = {"value", "source", "label", "assumption"}
_TYPE_WORDS = {"object": "a mapping (indented 'key: value' lines)", "array": "a list (lines that start with '- ')",
               "string": "text", "number": "a number", "integer": "a whole number", "boolean": "true or false",
               "null": "empty"}


def _where(path, doc) -> tuple[str, str]:
    """A path inside a file -> (what it belongs to, the field inside it), in words.

    ['changes', 'add_conditions', 'x', 'message'] -> ('condition x', 'message');
    ['parameters', 'rates', 'small', 'value'] -> ('parameter rates.small', 'value');
    ['tests', 2, 'expect'] -> ("test 'its name'", 'expect').
    """
    parts = list(path)
    if parts[:1] == ["changes"] and len(parts) > 2 and "_" in str(parts[1]):
        parts = [str(parts[1]).split("_", 1)[1]] + parts[2:]
    if len(parts) < 2 or str(parts[0]) not in _NOUNS:
        return "/".join(str(p) for p in parts) or "the file", ""
    section, rest = str(parts[0]), parts[1:]
    if section == "tests" and isinstance(rest[0], int):
        try:
            name = f"'{doc['tests'][rest[0]]['name']}'"
        except (KeyError, IndexError, TypeError):
            name = str(rest[0] + 1)
        return f"test {name}", "/".join(str(p) for p in rest[1:])
    count = 1
    if section == "parameters" and path[0] == "parameters":  # groups nest: rates: small: value:
        while count < len(rest) and str(rest[count]) not in _LEAF_FIELDS:
            count += 1
        count = min(count, len(rest))
    name = ".".join(str(p) for p in rest[:count])
    return f"{_NOUNS[section]} {name}", "/".join(str(p) for p in rest[count:])


def _schema_message(error, doc) -> tuple[str, str | None, str | None]:
    """A plain sentence for a jsonschema error, a hint, and the key it is about, if any."""
    owner, inside = _where(list(error.absolute_path), doc)
    field_of = f"'{inside}' of {owner}" if inside else owner
    hint = error.schema.get("description")
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))[0]
        return (f"unknown field '{extra}' in {field_of}",
                did_you_mean(extra, allowed) or f"allowed here: {', '.join(allowed)}", extra)
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        described = error.schema.get("properties", {}).get(missing, {})
        return (f"{field_of} lacks the required field '{missing}'",
                described.get("description") if isinstance(described, dict) else None, None)
    shown = json.dumps(error.instance, default=str, ensure_ascii=False)
    shown = shown if len(shown) <= 40 else shown[:37] + '..."'
    if error.validator == "type":
        expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        words = " or ".join(_TYPE_WORDS.get(e, e) for e in expected)
        return f"{field_of} must be {words}, not {shown}", hint, None
    if error.validator == "enum":
        return f"{field_of} must be one of {', '.join(map(str, error.validator_value))}, not {shown}", hint, None
    if error.validator == "pattern":
        return f"{field_of} must be {error.schema.get('description') or 'of the form ' + error.validator_value}, " \
               f"not {shown}", None, None
    if error.validator == "minLength":
        return f"{field_of} is too short", hint, None
    if error.validator == "maxLength":
        return f"{field_of} is longer than {error.validator_value:,} characters", hint, None
    if error.validator in ("maxItems", "maxProperties"):
        return f"{field_of} holds more than {error.validator_value:,} entries", hint, None
    if error.validator in ("oneOf", "anyOf") and error.context:
        from jsonschema.exceptions import best_match
        best = best_match(error.context)
        if best is not None:
            return _schema_message(best, doc)
    message = error.message if len(error.message) <= 200 else error.message[:197] + "..."
    return f"{field_of}: {message}", hint, None


def check_shape(rule_file: RuleFile, schema_path: Path) -> list[Diagnostic]:
    """Validate a loaded file against a JSON Schema, one diagnostic per problem.

    A misspelt field is one mistake, not two: "unknown field 'wen'" absorbs
    the "lacks the required field 'when'" it causes.
    """
    validator = _schema_validator(str(schema_path))
    errors = []
    for error in validator.iter_errors(rule_file.doc):
        if error.validator in ("oneOf", "anyOf") and error.context:
            error = max(error.context, key=lambda e: len(e.absolute_path))
        errors.append(error)
    unknown: dict[tuple, list[str]] = defaultdict(list)  # path -> the unknown fields there
    for e in errors:
        if e.validator == "additionalProperties":
            unknown[tuple(e.absolute_path)] += set(e.instance) - set(e.schema.get("properties", {}))
    found = []
    for error in sorted(errors, key=lambda e: list(map(str, e.absolute_path))):
        path = tuple(error.absolute_path)
        if error.validator == "required" and "'" in error.message:
            missing = error.message.split("'")[1]
            if any(closest(missing, [extra]) is not None for extra in unknown.get(path, ())):
                continue
        message, hint, key = _schema_message(error, rule_file.doc)
        span = key_span(rule_file.doc, list(path), key) if key else None
        if span is None and error.validator == "required" and path:
            span = key_span(rule_file.doc, list(path[:-1]), path[-1])  # the name of what lacks the field
        span = span or locate(rule_file.doc, list(path)) or Span(rule_file.path, 1, 1)
        found.append(Diagnostic("schema", message, span, hint))
    return found


def load_rule_file(path: Path, shown_as: str, schema_path: Path, root: Path | None = None,
                   text: str | None = None) -> tuple[RuleFile | None, list[Diagnostic]]:
    """Read one rule file (inside `root`, by default its own folder; or its `text`, already read so) and
    check its shape; None when it cannot be used at all."""
    if text is None:
        text, problem = read_text_inside(path, root if root is not None else Path(path).parent, shown=shown_as)
        if problem is not None:
            return None, [problem]
    doc, problems = read_yaml(text, shown_as)
    if doc is None and not problems:
        problems = [Diagnostic("file", "the file is empty", Span(shown_as, 1, 1))]
    if doc is None:
        return None, problems
    rule_file = RuleFile(shown_as, text, doc)
    if not problems and _shape_known_good(text, schema_path):
        return rule_file, problems
    shape = check_shape(rule_file, schema_path)
    if not shape and not problems:
        _remember_shape(text, schema_path)
    refused = {(p.span.line, p.span.column) for p in problems if p.span is not None}
    shown = [d for d in shape if d.span is None or (d.span.line, d.span.column) not in refused]  # not said twice
    return (None if shape else rule_file), problems + shown


# -- a private cache ---------------------------------------------------------------------------------------
# Loading remembers which rule files already fit their schema, and the parser tables of the grammar, in
# $XDG_CACHE_HOME/kmo-rules (default ~/.cache/kmo-rules). Only a folder of the user's own, not writable by
# others, reached without following a symbolic link, is used; an entry is used only when its content is the
# digest it must hold. Anything else, or KMO_RULES_NO_CACHE=1, means working without it.

CACHE_ENTRY_BYTES = 1 << 20
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _cache_base() -> Path | None:
    configured = os.environ.get("XDG_CACHE_HOME")
    if configured and os.path.isabs(configured):  # a relative path is to be ignored (XDG base directory spec)
        return Path(configured)
    try:
        home = Path.home()
    except (RuntimeError, KeyError, OSError):
        return None
    return home / ".cache" if home != Path("/") and home.is_absolute() else None


def _cache_usable() -> bool:
    return (os.name == "posix" and bool(_NOFOLLOW) and not os.environ.get("KMO_RULES_NO_CACHE")
            and {os.open, os.mkdir, os.rename} <= os.supports_dir_fd and hasattr(os, "geteuid"))


def _plain_name(name: str) -> bool:
    return bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name and "\0" not in name


def _private_dir(name: str) -> int | None:
    """An open descriptor of the cache folder `kmo-rules/<name>`, made 0700 when missing; None when unsafe."""
    if not _cache_usable() or not _plain_name(name):
        return None
    base = _cache_base()
    if base is None:
        return None
    try:
        os.makedirs(base, mode=0o700, exist_ok=True)
        fd = os.open(base, _DIR_FLAGS)
    except OSError:
        return None
    try:
        for part in ("kmo-rules", name):
            try:
                os.mkdir(part, 0o700, dir_fd=fd)
            except FileExistsError:
                pass
            inner = os.open(part, _DIR_FLAGS | _NOFOLLOW, dir_fd=fd)  # a symbolic link here is refused
            os.close(fd)
            fd = inner
            status = os.fstat(fd)
            if not stat.S_ISDIR(status.st_mode) or status.st_uid != os.geteuid():
                os.close(fd)
                return None
            if status.st_mode & 0o077:  # made by an older version, or under a loose umask: make it private
                os.fchmod(fd, 0o700)
                if os.fstat(fd).st_mode & 0o022:
                    os.close(fd)
                    return None
        return fd
    except OSError:
        try:
            os.close(fd)
        except OSError:
            pass
        return None


def cache_read(folder: str, name: str) -> bytes | None:
    """The content of a cache entry: a regular file of the user's own, reached without a symbolic link."""
    directory = _private_dir(folder) if _plain_name(name) else None
    if directory is None:
        return None
    try:
        fd = os.open(name, os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0),
                     dir_fd=directory)
    except OSError:
        return None
    finally:
        os.close(directory)
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode) or status.st_uid != os.geteuid() or status.st_size > CACHE_ENTRY_BYTES:
            return None
        return _read_bounded(fd, CACHE_ENTRY_BYTES)
    except OSError:
        return None
    finally:
        os.close(fd)


def cache_write(folder: str, name: str, content: bytes) -> None:
    """Write a cache entry whole (a new file renamed over the old), or not at all: a read-only home only
    costs speed."""
    directory = _private_dir(folder) if _plain_name(name) else None
    if directory is None:
        return
    temporary = f".{name}.{os.getpid()}.{os.urandom(4).hex()}"
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0),
                     0o600, dir_fd=directory)
        try:
            os.write(fd, content)
        finally:
            os.close(fd)
        os.rename(temporary, name, src_dir_fd=directory, dst_dir_fd=directory)
    except OSError:
        try:
            os.unlink(temporary, dir_fd=directory)
        except OSError:
            pass
    finally:
        os.close(directory)


def _shape_digests(text: str, schema_path: Path) -> tuple[str, bytes] | None:
    """The name of the entry for "this exact text fits this exact schema", and the content it must hold."""
    try:
        schema = Path(schema_path).read_bytes()
    except OSError:
        return None
    data = schema + b"\0" + text.encode("utf-8")
    name = hashlib.sha256(b"kmo-rules shape entry\0" + data).hexdigest()
    content = hashlib.sha256(b"kmo-rules shape verified\0" + data).hexdigest().encode("ascii")
    return name, content


def _shape_known_good(text: str, schema_path: Path) -> bool:
    if not _cache_usable():
        return False
    digests = _shape_digests(text, schema_path)
    return digests is not None and cache_read("shapes", digests[0]) == digests[1]


def _remember_shape(text: str, schema_path: Path) -> None:
    if not _cache_usable():
        return
    digests = _shape_digests(text, schema_path)
    if digests is not None:
        cache_write("shapes", digests[0], digests[1])


# -- positions inside values -----------------------------------------------------------------------------

@lru_cache(maxsize=16)
def _line_starts(text: str) -> list[int]:
    """The offset of each '\\n' of a file's text (the hash of a str is kept by the str: a lookup is cheap)."""
    return [match.start() for match in re.finditer("\n", text)]


@functools.lru_cache(maxsize=8192)
def _blanks_skipped(value: str) -> tuple[int, ...]:
    """For each offset into a value, how many non-blank characters lie before it (one walk per value)."""
    counts, seen = [0], 0
    for ch in value:
        seen += not ch.isspace()
        counts.append(seen)
    return tuple(counts)


@functools.lru_cache(maxsize=8192)
def _nonblank_positions(raw: str) -> tuple[int, ...]:
    """The offsets of the non-blank characters of a value as written, after an opening quote or the line of
    a block indicator (| or >)."""
    start = 0
    if raw[:1] in ("'", '"'):
        start = 1
    elif raw[:1] in ("|", ">"):
        start = raw.find("\n") + 1 if "\n" in raw else len(raw)
    return tuple(i for i in range(start, len(raw)) if not raw[i].isspace())


def span_in_value(rule_file_text: str, loc: Loc, value: str, offset: int) -> Span:
    """Map an offset inside a YAML string value back to its file line and column.

    Plain, quoted, literal and folded scalars differ only in white space (and
    the opening quote), so walk both texts matching non-blank characters.
    """
    first = rule_file_text[loc.start:loc.start + 1]
    if offset == 0 and first and not first.isspace() and first not in "'\"|>":
        absolute = loc.start  # the start of a plain value: the common case, made short
    else:
        raw = rule_file_text[loc.start:loc.end]
        counts = _blanks_skipped(value)
        target = counts[min(offset, len(value))]
        positions = _nonblank_positions(raw)
        absolute = loc.start + (positions[target] if target < len(positions) else len(raw))
    newlines = _line_starts(rule_file_text)
    before = bisect.bisect_left(newlines, absolute)  # the '\n' before this offset
    line = before + 1
    column = absolute - (newlines[before - 1] + 1 if before else 0) + 1
    return Span(loc.span.file, line, column)
