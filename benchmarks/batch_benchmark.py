"""Time JSON Lines through the command line against the in-process API, on generated cases.

    python benchmarks/batch_benchmark.py [--cases 100000] [--seed 1] [--year 2024] [--rounds 1] [--million]

On N cases of benchmarks/corpus.py (written once as a JSON-lines file in a
temporary folder), side by side in one run:

  in-process     `open_rules()`, then per line `parse_case_text(line)` and
                 `book.evaluate(case).to_dict()` (and, on a second line, the
                 same with `json.dumps`, which is what the command line writes);
  CLI --jobs 1   `kmo-rules evaluate FILE.jsonl --jobs 1 > /dev/null`, the whole
                 process from start to exit, divided by N;
  CLI --jobs 2   the same on two worker processes.

Printed: microseconds per decision (median of the rounds), the ratios
CLI-jobs1 / in-process and the throughput of jobs 2 / jobs 1, and the peak
resident memory of the command line (GNU `/usr/bin/time -v` when present, else
`getrusage(RUSAGE_CHILDREN)`; with --jobs 2 it is the largest single process).
With --million, one million cases (100,000 distinct ones, repeated) go through
`--jobs 2` end to end once more, and its seconds and peak memory are printed.

Before timing, the command line's decisions on the first lines (--check, with
--jobs 1 and --jobs 2) are compared with the in-process ones. Exit status 0, or
1 when they differ or the command line gives no decision for a case.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from corpus import corpus_lines, generate_cases, year_spec  # noqa: E402
from engine import open_rules  # noqa: E402
from engine.source.case import parse_case_text  # noqa: E402

MILLION = 1_000_000
DISTINCT_FOR_MILLION = 100_000
GNU_TIME = "/usr/bin/time"
MAX_RSS = re.compile(r"Maximum resident set size \(kbytes\):\s*(\d+)")


def _cli() -> tuple[list[str], str]:
    found = shutil.which("kmo-rules")
    if found:
        return [found], "kmo-rules"
    return [sys.executable, "-m", "engine"], "python -m engine"


def _gnu_time() -> bool:
    """Whether /usr/bin/time is GNU time, which reports the peak memory with -v."""
    if not os.access(GNU_TIME, os.X_OK):
        return False
    try:
        out = subprocess.run([GNU_TIME, "-v", "true"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and MAX_RSS.search(out.stderr) is not None


class CliFailed(Exception):
    pass


def _run_cli(cli: list[str], path: Path, jobs: int, folder: Path, gnu_time: bool) -> tuple[float, float | None]:
    """One whole run of `evaluate FILE --jobs N > /dev/null` -> (seconds, peak resident MB)."""
    command = [*cli, "evaluate", str(path), "--jobs", str(jobs)]
    report = folder / "time.txt"
    if gnu_time:
        command = [GNU_TIME, "-v", "-o", str(report), *command]
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise CliFailed(f"{' '.join(command[-4:])} exited {done.returncode}:\n{tail}")
    if gnu_time:
        found = MAX_RSS.search(report.read_text(encoding="utf-8", errors="replace"))
        peak = int(found.group(1)) / 1024 if found else None
    else:  # the largest child so far (kilobytes on Linux): an upper bound for this run
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, peak


def _in_process(book, lines: list[str], dumps: bool) -> float:
    """Seconds for every line: parse, decide, to_dict (and json.dumps)."""
    evaluate, to_json = book.evaluate, json.dumps
    start = time.perf_counter()
    if dumps:
        for line in lines:
            to_json(evaluate(parse_case_text(line)).to_dict(), ensure_ascii=False)
    else:
        for line in lines:
            evaluate(parse_case_text(line)).to_dict()
    return time.perf_counter() - start


def _check(cli: list[str], book, lines: list[str], folder: Path) -> list[str]:
    """The command line's decisions on these lines, with --jobs 1 and 2, against the in-process ones."""
    path = folder / "check.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    expected = [json.loads(json.dumps(book.evaluate(parse_case_text(line)).to_dict())) for line in lines]
    problems = []
    for jobs in (1, 2):
        done = subprocess.run([*cli, "evaluate", str(path), "--jobs", str(jobs)], capture_output=True, text=True)
        got = [json.loads(text) for text in done.stdout.splitlines() if text.strip()]
        if done.returncode != 0 or len(got) != len(expected):
            tail = "\n".join(done.stderr.strip().splitlines()[-3:])
            problems.append(f"--jobs {jobs}: exit {done.returncode}, {len(got)} decisions for {len(lines)} lines "
                            f"{tail}")
            continue
        for number, (mine, theirs) in enumerate(zip(expected, got), 1):
            if mine != theirs:
                keys = [k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k)]
                problems.append(f"--jobs {jobs}, line {number}: differs on {', '.join(sorted(keys))}")
    return problems


def _write(path: Path, lines: list[str], repeat: int = 1) -> None:
    block = "".join(line + "\n" for line in lines)
    with path.open("w", encoding="utf-8") as out:
        for _ in range(repeat):
            out.write(block)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000, metavar="N")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--year", type=int, default=2024)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--check", type=int, default=2_000, metavar="LINES",
                        help="lines decided by both sides and compared before timing (default 2000)")
    parser.add_argument("--million", action="store_true", help="also one million cases end to end with --jobs 2")
    args = parser.parse_args(argv)
    if args.cases < 1 or args.rounds < 1:
        parser.error("--cases and --rounds must be at least 1")

    cli, cli_name = _cli()
    gnu_time = _gnu_time()
    book = open_rules()
    lines = list(corpus_lines(generate_cases(year_spec(args.cases, args.seed, args.year))))
    for line in lines[:50]:  # build the versions the corpus needs, outside the timings (the CLI builds its own)
        book.evaluate(parse_case_text(line))

    with tempfile.TemporaryDirectory(prefix="kmo-batch-") as name:
        folder = Path(name)
        corpus = folder / "corpus.jsonl"
        _write(corpus, lines)
        print(f"{args.cases:,} cases of {args.year} (seed {args.seed}), {corpus.stat().st_size / 2**20:.0f} MB of "
              f"JSON Lines; command line: {cli_name}; {os.cpu_count()} cores; median of {args.rounds} round(s)")
        problems = _check(cli, book, lines[:args.check], folder) if args.check > 0 else []
        print(f"decisions compared, CLI (--jobs 1 and 2) against in-process: {min(args.check, len(lines)):,} lines, "
              f"{len(problems)} differ")
        for problem in problems[:5]:
            print(f"  {problem}")

        timings = {"api": [], "api_json": [], 1: [], 2: []}
        peaks = {1: [], 2: []}
        try:
            for round_number in range(args.rounds):
                timings["api"].append(_in_process(book, lines, dumps=False))
                timings["api_json"].append(_in_process(book, lines, dumps=True))
                for jobs in ((1, 2) if round_number % 2 == 0 else (2, 1)):
                    seconds, peak = _run_cli(cli, corpus, jobs, folder, gnu_time)
                    timings[jobs].append(seconds)
                    peaks[jobs].append(peak)
        except CliFailed as error:
            print(f"the command line gave no decision: {error}")
            return 1

        us = {key: statistics.median(values) / args.cases * 1e6 for key, values in timings.items()}
        memory = "GNU time -v" if gnu_time else "getrusage(RUSAGE_CHILDREN), an upper bound"
        print(f"  {'':44} us/decision  decisions/s")
        rows = (("in-process: parse + evaluate + to_dict", "api"),
                ("in-process: the same + json.dumps", "api_json"),
                ("CLI evaluate FILE --jobs 1 > /dev/null", 1),
                ("CLI evaluate FILE --jobs 2 > /dev/null", 2))
        for label, key in rows:
            print(f"  {label:44} {us[key]:11.1f}  {1e6 / us[key]:11,.0f}")
        print(f"  ratio CLI jobs 1 / in-process (to_dict):     {us[1] / us['api']:.2f}")
        print(f"  ratio CLI jobs 1 / in-process (json.dumps):  {us[1] / us['api_json']:.2f}")
        print(f"  throughput jobs 2 / jobs 1:                  {us[1] / us[2]:.2f}")
        for jobs in (1, 2):
            if peaks[jobs][0] is not None:
                note = "" if jobs == 1 else " (largest single process)"
                print(f"  peak memory, CLI --jobs {jobs}:{'':19} {max(peaks[jobs]):.0f} MB{note} [{memory}]")

        if args.million:
            distinct = lines if (args.cases == DISTINCT_FOR_MILLION) else \
                list(corpus_lines(generate_cases(year_spec(DISTINCT_FOR_MILLION, args.seed, args.year))))
            del lines
            big = folder / "million.jsonl"
            _write(big, distinct, MILLION // DISTINCT_FOR_MILLION)
            size = big.stat().st_size / 2**20
            try:
                seconds, peak = _run_cli(cli, big, 2, folder, gnu_time)
            except CliFailed as error:
                print(f"the command line gave no decision: {error}")
                return 1
            peak_text = f", peak {peak:.0f} MB (largest single process)" if peak is not None else ""
            print(f"  one million cases ({DISTINCT_FOR_MILLION:,} distinct, repeated; {size:.0f} MB), CLI --jobs 2: "
                  f"{seconds:.1f} s, {seconds / MILLION * 1e6:.1f} us/decision{peak_text}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
