"""Many cases: each decided under the version in force on its own date, in input order, on every core.

The rules are opened once per process. With `jobs` above one, worker
processes each open the same rules folder once and decide chunks of cases;
at most a few chunks per worker are in flight, so memory stays flat however
long the input is, and results come back in the order the cases went in.

Two ways in: `evaluate_many` (cases as data -> Decisions, for the Python
API), and `write_blocks` (JSON Lines, cut into blocks of whole lines, ->
output lines, for the command line), where a worker reads its block of a
file where it lies and writes its decisions to the output itself, in turn.
"""
from __future__ import annotations

import itertools
import json
import os
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from datetime import date

from ..core.diagnostics import CaseError, CaseProblem, KmoRulesError, VersionNotFound
from ..core.span import format_json_path
from ..source.case import CaseTextError, parse_case_text
from .evaluate import Reason

CHUNK = 1024           # cases sent to a worker at a time (fewer, larger messages between processes)
IN_FLIGHT_PER_JOB = 3  # chunks queued per worker: enough to keep it busy, few enough to stay small


def default_jobs() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class LineResult:
    """What became of one line of a JSON Lines batch: a decision (as JSON text) or its problems."""

    line: int
    decision: str | None
    problems: tuple[CaseProblem, ...] = ()

    def error_json(self) -> str:
        """The contract's error line: {"line": N, "problems": [{"path", "message"}]}."""
        return json.dumps({"line": self.line, "problems": [
            {"path": format_json_path(p.path), "message": p.message} for p in self.problems]}, ensure_ascii=False)


# -- one process ------------------------------------------------------------------

_WORKER: dict = {}  # in a worker process: the rules it opened, and how to decide


def _open_in_worker(book, explain: bool, lang: str, on: str | None) -> None:
    """A worker's start: the book arrives as its folder (RuleBook pickles so) and is opened once, here."""
    _WORKER["book"] = book
    _WORKER["options"] = (explain, lang, on)
    _WORKER["decider"] = LineDecider(book, explain, lang, on)


def decide_line(book, number: int, text: str, explain: bool = False, lang: str = "en", on=None) -> LineResult:
    """One line of JSON Lines -> its decision as one line of JSON, or its problems."""
    try:
        raw = parse_case_text(text)
        decision = book.evaluate(raw, explain=explain, lang=lang, on=date.fromisoformat(on) if isinstance(on, str) else on)
    except CaseTextError as error:
        return LineResult(number, None, (CaseProblem((), str(error)),))
    except CaseError as error:
        return LineResult(number, None, error.problems)
    except VersionNotFound as error:
        return LineResult(number, None, (CaseProblem((), str(error)),))
    return LineResult(number, decision_json(decision))


def _json_writer() -> Callable:
    """JSON text of a value as `json.dumps(value, ensure_ascii=False)` writes it, the C encoder made once (dumps
    makes it anew on every call: a tenth of a decision)."""
    from json import encoder
    if encoder.c_make_encoder is None or encoder.c_encode_basestring is None:  # pragma: no cover - not CPython
        return json.JSONEncoder(ensure_ascii=False).encode

    def refuse(value):
        raise TypeError(f"{type(value).__name__} is not JSON")

    chunks = encoder.c_make_encoder(None, refuse, encoder.c_encode_basestring, None, ": ", ", ", False, False, True)
    return lambda value: "".join(chunks(value, 0))


_WRITE = _json_writer()


class DecisionText:
    """A version's decisions as their JSON line, byte for byte `json.dumps(decision.to_dict(),
    ensure_ascii=False)`, from the parts of each: the version's fast path hands them over for a plain
    decision (no Decision is made), `decision_json` for any other. The ruleset's part, alike for every
    decision of the version, is written once."""

    __slots__ = ("info", "head")
    _known: dict = {}  # id(RulesetInfo) -> its DecisionText (a few versions per process)

    def __init__(self, info):
        self.info = info
        self.head = '{"ruleset": ' + _WRITE(info.to_dict()) + ', "eligible": '

    @classmethod
    def of(cls, info) -> "DecisionText":
        known = cls._known.get(id(info))
        if known is None or known.info is not info:
            if len(cls._known) >= 256:
                cls._known.clear()
            known = cls._known[id(info)] = cls(info)
        return known

    def __call__(self, info, eligible, outputs, reasons, notes, explanation=None) -> str:
        written = _WRITE(outputs)
        return (self.head + ("true" if eligible else "false") + (", " + written[1:-1] if len(written) > 2 else "")
                + ', "reasons": ' + (_WRITE(reasons) if reasons else "[]")
                + ', "notes": ' + (_WRITE(notes) if notes else "[]")
                + ', "explanation": ' + ("null" if explanation is None else _WRITE(explanation)) + "}")


def decision_json(decision) -> str:
    """A Decision as one line of JSON (see DecisionText)."""
    fields = decision.__dict__
    explanation = fields["explanation"]
    return DecisionText.of(fields["ruleset"])(
        fields["ruleset"], fields["eligible"], fields["outputs"], [r.to_dict() for r in fields["reasons"]],
        [n.to_dict() for n in fields["notes"]], explanation.to_dict() if explanation is not None else None)


class LineDecider:
    """Lines of JSON Lines -> decisions as JSON text, for one book and one set of options.

    Most lines are plain cases: each is read, its version found, and decided by
    the version's fast path, which hands its parts to `DecisionText` (no
    Decision, no dict of it, no json.dumps). Anything else (an explanation asked
    for, a case with a problem, a version without a fast path) goes through
    `decide_line`, the full way, which says what is wrong."""

    def __init__(self, book, explain: bool = False, lang: str = "en", on=None):
        self.book, self.explain, self.lang = book, explain, lang
        self.day = date.fromisoformat(on) if isinstance(on, str) else on
        # the version the line before was decided by, its writer and its fast path
        self.built = self.writer = self.run = None

    def text(self, text: str) -> str | None:
        """A line's decision as JSON text, or None when it must be decided the full way."""
        if self.explain:
            return None
        try:
            raw = parse_case_text(text)
            book = self.book
            built = book.on(self.day) if self.day is not None else book.for_case(raw)
        except (CaseTextError, KmoRulesError):
            return None
        if built is not self.built:
            self.writer, self.built, self.run = DecisionText.of(built.info), built, None
        run = self.run
        if run is None:  # None until the full way has built it: asked again until then
            run = self.run = built.compiled.fast_path
            if run is None:
                return None
        return run(raw, self.lang, built.info, self.writer, Reason.written)

    def full_way(self, number: int, text: str) -> LineResult:
        """A line that `text` gave up on, decided the full way: its decision, or what is wrong with it."""
        return decide_line(self.book, number, text, self.explain, self.lang, self.day)


def _decide_cases(chunk: list) -> list:
    book = _WORKER["book"]
    explain, lang, on = _WORKER["options"]
    out = []
    for case in chunk:
        try:
            out.append(book.evaluate(case, explain=explain, lang=lang, on=on))
        except KmoRulesError as error:
            out.append(error)
    return out


# -- many processes ---------------------------------------------------------------

def _chunks(items: Iterable, size: int) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def evaluate_many(book, cases: Iterable, *, jobs: int | None = None, explain: bool = False, lang: str = "en",
                  on=None, keep_going: bool = False) -> Iterator:
    """Cases -> their decisions, in input order; each under the version in force on its own date.

    An invalid case raises its CaseError where it stands (the decisions before
    it have been yielded); with `keep_going` the error is yielded in its place.

    `jobs`: the processes to decide on. Left out, the first chunk of cases is
    decided here, and the rest goes to a worker on every core only if that
    pays: a case and its decision must be pickled both ways, which for a
    plain decision of this engine costs more than deciding it.
    """
    def checked(results):
        for result in results:
            if isinstance(result, KmoRulesError) and not keep_going:
                raise result
            yield result

    cases = iter(cases)
    if jobs is None:
        jobs = default_jobs()
        if jobs > 1:
            first = list(itertools.islice(cases, CHUNK))
            decided, seconds = [], []
            clock = time.perf_counter
            for case in first:
                start = clock()
                decided.append(_safe(book, case, explain, lang, on))
                seconds.append(clock() - start)
            yield from checked(decided)
            if len(first) < CHUNK:  # every case is decided: nothing left to measure for
                return
            # the median case: building a version (on the first case of each) is not what the rest will cost
            deciding = sorted(seconds)[len(seconds) // 2] * len(seconds) if seconds else 0.0
            if not processes_pay(jobs, deciding, *_moving(first, decided)):
                jobs = 1
    if jobs <= 1:
        yield from checked(_safe(book, case, explain, lang, on) for case in cases)
        return
    from .workers import Workers, start_context  # (multiprocessing is imported only for many jobs)
    with Workers(start_context(), jobs, _open_in_worker, (book, explain, lang, on), _decide_cases) as workers:
        for chunk in workers.in_order(_chunks(cases, CHUNK), IN_FLIGHT_PER_JOB):
            yield from checked(chunk)


def processes_pay(cores: int, deciding: float, here: float, there: float, margin: float = 1.25) -> bool:
    """Whether cases decided in `deciding` seconds here would go faster on `cores` worker processes, when
    moving them costs `here` seconds in this process (pickling the cases, unpickling the decisions: one
    process does it for all) and `there` in the workers: this process must keep up, and every core must
    have room for the deciding and the moving together; `margin` for what the measure does not see."""
    if cores <= 1 or deciding <= 0:
        return False
    spread = max(here, (deciding + here + there) / cores)
    return spread * margin < deciding


def _moving(cases: list, decided: list) -> tuple[float, float]:
    """Seconds to move these cases to a worker and their decisions back: (in this process, in a worker).
    Anything that cannot be pickled cannot move: infinitely dear."""
    from multiprocessing.reduction import ForkingPickler
    try:
        start = time.perf_counter()
        out = ForkingPickler.dumps(cases)
        middle = time.perf_counter()
        ForkingPickler.loads(out)
        back = ForkingPickler.dumps(decided)
        end = time.perf_counter()
        ForkingPickler.loads(back)
        last = time.perf_counter()
    except Exception:
        return float("inf"), float("inf")
    return (middle - start) + (last - end), end - middle


def _safe(book, case, explain, lang, on):
    try:
        return book.evaluate(case, explain=explain, lang=lang, on=on)
    except KmoRulesError as error:
        return error


# -- JSON Lines from a file to a file, on every core ----------------------------------------------------------

NEWLINE = b"\n"
BLOCK_BYTES = 1 << 18  # a block of input: whole lines, about this many bytes (some 700 cases)


class NotUtf8(ValueError):
    """A line of the input that is not UTF-8 text."""

    def __init__(self, line: int):
        super().__init__(f"line {line}: not UTF-8 text")
        self.line = line


@dataclass(frozen=True)
class Block:
    """Whole lines of a JSON Lines input, the first of them line `first`: their text, or where they lie in a
    file (a worker then reads them there itself, and the text never crosses a pipe)."""

    index: int
    first: int
    text: str | None = None
    path: str | None = None
    offset: int = 0
    size: int = 0

    def lines(self) -> list[str]:
        text = self.text
        if text is None:
            data = os.pread(_opened(self.path), self.size, self.offset)
            try:
                if len(data) != self.size:
                    raise ValueError
                text = data.decode("utf-8")
            except ValueError:
                raise InputChanged(f"{self.path}: the file changed while it was read (line {self.first} on)") from None
        return text.split("\n")


class InputChanged(KmoRulesError):
    """A JSON Lines file that was cut short or rewritten while a batch read it."""


class OutputFailed(KmoRulesError):
    """The output of a batch could not be written (a full disk, say)."""


_OPENED: dict[str, int] = {}  # in a worker: the input file, opened once


def _opened(path: str) -> int:
    fd = _OPENED.get(path)
    if fd is None:
        fd = _OPENED[path] = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    return fd


def file_blocks(path: str, with_text: bool = True, longest: int | None = None) -> Iterator[Block]:
    """A JSON Lines file -> its blocks, read once here (to find where lines end and check they are UTF-8);
    without `with_text`, each block says where it lies instead of carrying its text. A line longer than
    `longest` bytes raises ValueError naming it."""
    with_text = with_text or not hasattr(os, "pread")  # a worker reads its block where it lies only with pread
    with open(path, "rb") as handle:
        index, first, offset = 0, 1, 0
        while True:
            data = handle.read(BLOCK_BYTES)
            if not data:
                return
            if not data.endswith(b"\n"):
                data += handle.readline(longest + 1 if longest else -1)
                if longest is not None and len(data) - data.rfind(b"\n") - 1 > longest:
                    raise ValueError(f"line {first + data.count(NEWLINE)}: longer than {longest:,} bytes")
            text = None
            if with_text or not data.isascii():  # ASCII is UTF-8: checked a few times quicker than decoded
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError as error:
                    raise NotUtf8(first + data.count(b"\n", 0, error.start)) from None
            yield Block(index, first, text if with_text else None, None if with_text else str(path), offset,
                        len(data))
            index, first, offset = index + 1, first + data.count(NEWLINE), offset + len(data)


def text_blocks(lines: Iterable[str], longest: int | None = None) -> Iterator[Block]:
    """Lines (standard input, read as they come) -> blocks of about BLOCK_BYTES characters. A line longer
    than `longest` raises ValueError naming it."""
    index, first, held, size = 0, 1, [], 0
    for line in lines:
        if longest is not None and len(line) > longest:
            raise ValueError(f"line {first + len(held)}: longer than {longest:,} characters")
        held.append(line if line.endswith("\n") else line + "\n")
        size += len(line)
        if size >= BLOCK_BYTES:
            yield Block(index, first, "".join(held))
            index, first, held, size = index + 1, first + len(held), [], 0
    if held:
        yield Block(index, first, "".join(held))


@dataclass(frozen=True)
class BlockResult:
    """What became of a block: its output lines (decisions, and error lines with keep_going) as one text, how
    many cases it held and how many were invalid; `stopped`, the first invalid line without keep_going (the
    output then ends before it)."""

    index: int
    text: str
    cases: int
    invalid: int = 0
    stopped: LineResult | None = None


def decide_block(decider: LineDecider, block: Block, keep_going: bool) -> BlockResult:
    """A block's lines decided: blank lines skipped, each invalid one an error line (with keep_going) or
    the end of the output."""
    out, cases, invalid = [], 0, 0
    decide = decider.text
    for number, line in enumerate(block.lines(), start=block.first):
        if not line or line.isspace():
            continue
        cases += 1
        decided = decide(line)
        if decided is None:
            result = decider.full_way(number, line.rstrip("\r"))
            if result.decision is None:
                if not keep_going:
                    return BlockResult(block.index, _lines_text(out), cases, 1, result)
                invalid += 1
                decided = result.error_json()
            else:
                decided = result.decision
        out.append(decided)
    return BlockResult(block.index, _lines_text(out), cases, invalid)


def _lines_text(lines: list[str]) -> str:
    return "\n".join(lines) + "\n" if lines else ""


_TURN: dict = {}  # in a worker writing straight to the output: (fd, the block whose turn it is, its condition)


def _open_writer(book, explain, lang, on, keep_going, fd, turn, condition) -> None:
    _open_in_worker(book, explain, lang, on)
    _WORKER["keep_going"] = keep_going
    _TURN.update(fd=fd, turn=turn, condition=condition, parent=os.getppid())


def _decide_and_write(block: Block):
    """In a worker: a block decided, and its output written to the output file itself when its turn comes
    (every block before it written); meanwhile the worker may decide its next block. Only the counts go
    back to the parent, once written."""
    result = decide_block(_WORKER["decider"], block, _WORKER["keep_going"])
    if _TURN["fd"] is None:
        return result
    from .workers import Later
    turn = _TURN["turn"]
    return Later(lambda: turn.value == block.index or turn.value < 0, lambda: _write_in_turn(block.index, result))


def _write_in_turn(index: int, result: BlockResult) -> BlockResult:
    fd, turn, condition = _TURN["fd"], _TURN["turn"], _TURN["condition"]
    data = memoryview(result.text.encode("utf-8"))
    with condition:
        while 0 <= turn.value != index:  # a stopped run (turn -1) writes nothing more
            if not condition.wait(1.0) and os.getppid() != _TURN["parent"]:
                raise SystemExit(1)  # the batch was killed: its turn will never come
        if turn.value >= 0:
            try:
                while data:
                    data = data[os.write(fd, data):]
            except BrokenPipeError:
                raise  # the reader stopped early: the command ends quietly
            except OSError as error:  # a full disk, a closed output: said, not a traceback
                raise OutputFailed(f"cannot write the decisions: {(error.strerror or str(error)).lower()}") from None
            finally:
                turn.value = -1 if result.stopped is not None else index + 1
                condition.notify_all()
    return BlockResult(result.index, "", result.cases, result.invalid, result.stopped)


def _first_version_built(book, blocks: Iterator[Block], day: str | None) -> Iterator[Block]:
    """The blocks, unchanged, once the version of the first case is built with its fast path: forked workers
    inherit it, so it is built once (not once a worker, each copying what the other already has)."""
    first = next(blocks, None)
    if first is None:
        return iter(())
    for line in first.lines()[:1]:
        try:
            built = book.on(date.fromisoformat(day)) if day else book.for_case(parse_case_text(line))
        except (CaseTextError, KmoRulesError):  # said where the case stands, by the worker that decides it
            break
        if built.compiled.fast is not None:
            built.compiled.fast.build_now()
    return itertools.chain((first,), blocks)


def write_blocks(book, blocks: Iterable[Block], *, jobs: int = 1, explain: bool = False, lang: str = "en",
                 on=None, keep_going: bool = False, fd: int | None = None) -> Iterator[BlockResult]:
    """Blocks of JSON Lines -> a BlockResult per block, in input order. With `fd` (and more than one job),
    the workers write each block's output to that file descriptor themselves, in input order, and the
    results carry only the counts: the decisions never cross a pipe. Otherwise each result's text is
    the caller's to write."""
    day = on.isoformat() if on else None
    if jobs <= 1:
        decider = LineDecider(book, explain, lang, day)
        for block in blocks:
            yield decide_block(decider, block, keep_going)
        return
    from .workers import Workers, start_context
    context = start_context()
    if context.get_start_method() == "fork":
        blocks = _first_version_built(book, iter(blocks), day)
    if fd is not None and context.get_start_method() != "fork" and fd > 2:
        fd = None  # a fresh process inherits standard output, not every descriptor
    turn, condition = context.Value("q", 0, lock=False), context.Condition()

    def no_more_writes() -> None:
        """Before the workers are stopped: none writes again, and the one writing ends its block first (it
        holds the condition while it writes), so the output stops after a whole line."""
        if condition.acquire(timeout=5):  # a worker killed while writing cannot hold the batch for ever
            try:
                turn.value = -1
                condition.notify_all()
            finally:
                condition.release()

    with Workers(context, jobs, _open_writer, (book, explain, lang, day, keep_going, fd, turn, condition),
                 _decide_and_write, no_more_writes) as workers:
        yield from workers.in_order(blocks, IN_FLIGHT_PER_JOB)
