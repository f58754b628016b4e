"""Many cases: each decided under the version in force on its own date, in input order, on every core.

The rules are opened once per process. With `jobs` above one, worker
processes each open the same rules folder once and decide chunks of cases;
at most a few chunks per worker are in flight, so memory stays flat however
long the input is, and results come back in the order the cases went in.
"""
from __future__ import annotations

import json
import os
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from datetime import date

from ..core.diagnostics import CaseError, CaseProblem, KmoRulesError, VersionNotFound
from ..core.span import format_json_path
from ..source.case import CaseTextError, parse_case_text

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
    count: int = 1  # with decide_lines(blocks=True): the lines a block of decisions holds, one per line

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


_RULESET_JSON: dict = {}  # RulesetInfo -> its part of a decision as JSON text: the same for every case it decides


def decision_json(decision) -> str:
    """A decision as one line of JSON, byte for byte `json.dumps(decision.to_dict(), ensure_ascii=False)`; the
    ruleset part, alike for every decision of a version, is written once."""
    data = decision.to_dict()
    info = decision.ruleset
    head = _RULESET_JSON.get(info)
    if head is None:
        if len(_RULESET_JSON) > 256:
            _RULESET_JSON.clear()
        head = _RULESET_JSON[info] = json.dumps(data["ruleset"], ensure_ascii=False)
    rest = json.dumps({key: value for key, value in data.items() if key != "ruleset"}, ensure_ascii=False)
    return '{"ruleset": ' + head + (", " + rest[1:] if len(rest) > 2 else "}") if next(iter(data)) == "ruleset" \
        else json.dumps(data, ensure_ascii=False)


def _decide_chunk(chunk):
    """A chunk of lines decided in a worker: it arrives as (their numbers, their text joined by newlines). When
    every line was decided, the decisions travel back as one text of lines (one object to send, not a
    thousand); otherwise each line's result."""
    return _decided_chunk(_WORKER["book"], *_WORKER["options"], chunk)


def _decided_chunk(book, explain: bool, lang: str, on: str | None, chunk):
    day = date.fromisoformat(on) if on else None
    numbers, joined = chunk
    chunk = list(zip(numbers, joined.split("\n")))
    results = [decide_line(book, number, text, explain, lang, day) for number, text in chunk]
    if all(result.decision is not None for result in results):
        return chunk[0][0] if chunk else 0, [result.line for result in results], \
            "\n".join(result.decision for result in results)
    return results


def _lines_of(answer, blocks: bool = False) -> list[LineResult]:
    """What `_decide_chunk` sent back -> a LineResult per line (with `blocks`, one for a chunk all decided)."""
    if isinstance(answer, list):
        return answer
    first, numbers, text = answer
    if blocks:
        return [LineResult(first, text, (), len(numbers))]
    return [LineResult(number, decision) for number, decision in zip(numbers, text.split("\n"))]


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


class _Done:
    """A chunk this process decided itself, in the queue beside those the workers decide."""

    __slots__ = ("answer",)

    def __init__(self, answer):
        self.answer = answer

    def get(self):
        return self.answer


def _in_order(pool, work: Callable, chunks: Iterator[list], jobs: int, whole: bool = False,
              local: Callable | None = None) -> Iterator:
    """Results of `work` on each chunk, in order, with a bounded number of chunks in flight (with `whole`,
    each chunk's answer as it came, else its items one by one). With `local`, every `jobs`-th chunk is
    decided here, by `local`: this process would otherwise only wait, on a core the workers need."""
    pending: deque = deque()
    for index, chunk in enumerate(chunks):
        if local is not None and index % jobs == jobs - 1:
            pending.append(_Done(local(chunk)))
        else:
            pending.append(pool.apply_async(work, (chunk,)))
        if len(pending) >= jobs * IN_FLIGHT_PER_JOB:
            answer = pending.popleft().get()
            yield from ((answer,) if whole else answer)
    while pending:
        answer = pending.popleft().get()
        yield from ((answer,) if whole else answer)


def _pool(jobs: int, book, explain: bool, lang: str, on):
    import multiprocessing
    import threading
    methods = multiprocessing.get_all_start_methods()
    # fork is fastest and safe in a process of one thread; with threads, a fresh server process is safe
    method = "fork" if "fork" in methods and threading.active_count() == 1 else (
        "forkserver" if "forkserver" in methods else "spawn")
    context = multiprocessing.get_context(method)
    return context.Pool(jobs, initializer=_open_in_worker, initargs=(book, explain, lang, on))


def decide_lines(book, lines: Iterable[str], *, jobs: int = 1, explain: bool = False, lang: str = "en",
                 on=None, blocks: bool = False) -> Iterator[LineResult]:
    """JSON Lines (blank lines skipped) -> a LineResult per case, in input order. With `blocks` (for a writer
    that only copies them out), a chunk whose cases were all decided comes as one result: its decisions as
    lines of one text, `count` of them."""
    numbered = ((n, text) for n, text in enumerate(lines, start=1) if text.strip())
    if jobs <= 1:
        for number, text in numbered:
            yield decide_line(book, number, text, explain, lang, on.isoformat() if on else None)
        return
    day = on.isoformat() if on else None
    pool = _pool(jobs - 1, book, explain, lang, day)  # this process decides a share too
    packed = ((tuple(n for n, _ in chunk), "\n".join(text.rstrip("\r\n") for _, text in chunk))
              for chunk in _chunks(numbered, CHUNK))
    here = lambda chunk: _decided_chunk(book, explain, lang, day, chunk)  # noqa: E731
    yield from _closing(pool, (line for answer in _in_order(pool, _decide_chunk, packed, jobs, whole=True,
                                                              local=here) for line in _lines_of(answer, blocks)))


def evaluate_many(book, cases: Iterable, *, jobs: int | None = None, explain: bool = False, lang: str = "en",
                  on=None, keep_going: bool = False) -> Iterator:
    """Cases -> their decisions, in input order; each under the version in force on its own date.

    An invalid case raises its CaseError where it stands (the decisions before
    it have been yielded); with `keep_going` the error is yielded in its place.
    """
    jobs = default_jobs() if jobs is None else jobs
    if jobs <= 1:
        results = (_safe(book, case, explain, lang, on) for case in cases)
    else:
        pool = _pool(jobs, book, explain, lang, on)
        results = _closing(pool, _in_order(pool, _decide_cases, _chunks(cases, CHUNK), jobs))
    try:
        for result in results:
            if isinstance(result, KmoRulesError) and not keep_going:
                raise result
            yield result
    finally:
        results.close()  # a pool behind it shuts down now, not whenever the generator is collected


def _safe(book, case, explain, lang, on):
    try:
        return book.evaluate(case, explain=explain, lang=lang, on=on)
    except KmoRulesError as error:
        return error


def _closing(pool, results: Iterator) -> Iterator:
    """Results from a pool, which is shut down however the caller stops: when done or closed early, the few
    chunks still in flight finish and the workers exit (terminating instead can leave a full pipe, and a
    handler thread, blocked for ever); on an error or an interrupt, the workers are stopped at once."""
    try:
        yield from results
    except GeneratorExit:
        pool.close()
        pool.join()
        raise
    except BaseException:
        pool.terminate()
        raise
    else:
        pool.close()
        pool.join()


def lines_of(path: Path | str) -> Iterator[str]:
    """The lines of a JSON Lines file, read lazily."""
    with open(path, encoding="utf-8") as handle:
        yield from handle
