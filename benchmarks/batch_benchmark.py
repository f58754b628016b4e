"""Time JSON Lines through the command line against the in-process API, on generated cases.

    python benchmarks/batch_benchmark.py [--cases 100000] [--seed 1] [--year 2024] [--rounds 1] [--million]

On N cases of benchmarks/corpus.py (written once as a JSON-lines file in a
temporary folder), side by side in one run:

  in-process     `open_rules()`, then `book.evaluate(case).to_dict()` on the cases
                 parsed beforehand; the same with `parse_case_text(line)` of each
                 line; and with `json.dumps` too, which is what the command line
                 writes; `book.evaluate_many(cases)` on the parsed cases (it
                 chooses whether workers pay) and with `jobs=2`; and only the
                 reading of each line, as the command line reads it (a floor:
                 the decision plus that reading is what the command line would
                 cost were everything else it does free);
  CLI --jobs 1   `python -m engine evaluate FILE.jsonl --jobs 1 > /dev/null` of this
                 checkout, the whole process from start to exit, divided by N;
  CLI --jobs 2   the same on two worker processes.

Printed: microseconds per decision (median of the rounds) in wall clock and in
CPU time (this process's, and every process of a command line run together:
the machines are shared, and a moment another process holds a core is not
counted), the ratios the targets of issue 12 (item 3) name, whether each is
met, and the peak resident memory of the command line with one and two jobs,
every process of it together, sampled from /proc every 20 ms in a run of its
own (the sampling takes a tenth of a core, which would slow the timed runs,
two jobs more than one). With --million, one million cases
(100,000 distinct ones, repeated) go through `--jobs 2` end to end once more,
and its seconds and peak memory are printed.

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
import statistics
import subprocess
import sys
import tempfile
import threading
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


def _cli() -> tuple[list[str], str]:
    """The command line of this checkout (an installed `kmo-rules` may be another copy of the engine)."""
    return [sys.executable, "-m", "engine"], "python -m engine"


def _tree_rss(pid: int) -> int | None:
    """Resident kilobytes of a process and all its descendants, from /proc (None where there is none)."""
    try:
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat", "rb") as stat:
                        fields = stat.read().rsplit(b")", 1)[1].split()
                    children.setdefault(int(fields[1]), []).append(int(entry))
                except (OSError, IndexError, ValueError):
                    continue
        total, todo = 0, [pid]
        while todo:
            current = todo.pop()
            todo += children.get(current, [])
            try:
                with open(f"/proc/{current}/status", "rb") as status:
                    found = re.search(rb"VmRSS:\s*(\d+)", status.read())
                total += int(found.group(1)) if found else 0
            except OSError:
                continue
        return total
    except OSError:
        return None


class CliFailed(Exception):
    pass


def _run_cli(cli: list[str], path: Path, jobs: int, memory: bool = False) -> tuple[float, float, float | None]:
    """One whole run of `evaluate FILE --jobs N > /dev/null` -> (wall seconds, CPU seconds of every process
    of it, and with `memory` the peak resident MB of all its processes together, sampled every 20 ms). The
    sampling reads all of /proc each time, a tenth of a core: a run that samples is not a timed one."""
    command = [*cli, "evaluate", str(path), "--jobs", str(jobs)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    peak: list[int | None] = [None]
    stop = threading.Event()

    def sample():
        while not stop.wait(0.02):
            rss = _tree_rss(process.pid)
            if rss is not None:
                peak[0] = max(peak[0] or 0, rss)

    sampler = threading.Thread(target=sample, daemon=True)
    if memory:
        sampler.start()
    _, stderr = process.communicate()
    seconds = time.perf_counter() - start
    stop.set()
    if memory:
        sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if process.returncode != 0:
        tail = "\n".join(stderr.decode("utf-8", "replace").strip().splitlines()[-5:])
        raise CliFailed(f"{' '.join(command[-4:])} exited {process.returncode}:\n{tail}")
    return seconds, cpu, (peak[0] / 1024 if peak[0] is not None else None)


def _in_process(book, lines: list[str], step: str) -> tuple[float, float]:
    """(wall, CPU) seconds for every line: parse, decide, to_dict (and json.dumps); or, with step
    "decide", only evaluate(...).to_dict() of the cases parsed beforehand; with "read", only the reading
    of each line, as the command line reads it (the C decoder and its check for keys written twice)."""
    evaluate, to_json = book.evaluate, json.dumps
    cases = [parse_case_text(line) for line in lines] if step in ("decide", "many", "many2") else None
    start, cpu = time.perf_counter(), time.process_time()
    if step == "read":  # what the command line does to read a line, and no more
        for line in lines:
            parse_case_text(line)
    elif step == "decide":
        for case in cases:
            evaluate(case).to_dict()
    elif step in ("many", "many2"):
        for decision in book.evaluate_many(cases, jobs=2 if step == "many2" else None, keep_going=True):
            decision.to_dict()
    elif step == "dumps":
        for line in lines:
            to_json(evaluate(parse_case_text(line)).to_dict(), ensure_ascii=False)
    else:
        for line in lines:
            evaluate(parse_case_text(line)).to_dict()
    return time.perf_counter() - start, time.process_time() - cpu


def _check(cli: list[str], book, lines: list[str], folder: Path) -> list[str]:
    """The command line's decisions on these lines, with --jobs 1 and 2, against the in-process ones."""
    path = folder / "check.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    expected = [json.loads(json.dumps(book.evaluate(parse_case_text(line)).to_dict())) for line in lines]
    problems = []
    for jobs in (1, 2):
        done = subprocess.run([*cli, "evaluate", str(path), "--jobs", str(jobs)], capture_output=True, text=True,
                              cwd=ROOT)
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
    load = os.getloadavg()
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

        walls = {"decide": [], "parse": [], "dumps": [], "read": [], "many": [], "many2": [], 1: [], 2: []}
        cpus = {key: [] for key in walls}
        peaks = {1: [], 2: []}
        try:
            for round_number in range(args.rounds):
                for step in ("decide", "parse", "dumps", "read", "many", "many2"):
                    wall, cpu = _in_process(book, lines, step)
                    walls[step].append(wall)
                    cpus[step].append(cpu)
                for jobs in ((1, 2) if round_number % 2 == 0 else (2, 1)):
                    wall, cpu, _ = _run_cli(cli, corpus, jobs)
                    walls[jobs].append(wall)
                    cpus[jobs].append(cpu)
            for jobs in (1, 2):  # memory in runs of their own, untimed
                peaks[jobs].append(_run_cli(cli, corpus, jobs, memory=True)[2])
        except CliFailed as error:
            print(f"the command line gave no decision: {error}")
            return 1

        wall_us = {key: statistics.median(values) / args.cases * 1e6 for key, values in walls.items()}
        cpu_us = {key: statistics.median(values) / args.cases * 1e6 for key, values in cpus.items()}
        print(f"load average before: {load[0]:.1f} (the machine's other work slows wall clock figures; CPU time "
              "counts this run's own processes only)")
        print(f"  {'':46} wall us/decision  CPU us/decision  decisions/s (wall)")
        rows = (("in-process: evaluate(case).to_dict()", "decide"),
                ("in-process: parse + evaluate + to_dict", "parse"),
                ("in-process: the same + json.dumps", "dumps"),
                ("in-process: reading each line only", "read"),
                ("in-process: evaluate_many(cases), to_dict", "many"),
                ("in-process: evaluate_many(cases, jobs=2)", "many2"),
                ("CLI evaluate FILE --jobs 1 > /dev/null", 1),
                ("CLI evaluate FILE --jobs 2 > /dev/null", 2))
        for label, key in rows:
            print(f"  {label:46} {wall_us[key]:16.1f}  {cpu_us[key]:15.1f}  {1e6 / wall_us[key]:12,.0f}")
        per_decision = cpu_us[1] / cpu_us["decide"]
        print("targets (issue 12, item 3):")
        print(f"  CLI jobs 1 / in-process evaluate(...).to_dict(), CPU per decision:   {per_decision:5.2f}  "
              f"(at most 1.3: {'met' if per_decision <= 1.3 else 'NOT met'})")
        print(f"  the same were reading each line all the command line adds:           "
              f"{(cpu_us['decide'] + cpu_us['read']) / cpu_us['decide']:5.2f}  (no start-up, no file, "
              "no JSON out)")
        print(f"  the same against in-process parse + evaluate + to_dict:              "
              f"{cpu_us[1] / cpu_us['parse']:5.2f}")
        print(f"  the same against in-process parse + evaluate + to_dict + json.dumps: "
              f"{cpu_us[1] / cpu_us['dumps']:5.2f}")
        throughput = wall_us[1] / wall_us[2]
        print(f"  throughput --jobs 2 / --jobs 1 (wall clock):                         {throughput:5.2f}  "
              f"(at least 1.7: {'met' if throughput >= 1.7 else 'NOT met'})")
        # the same once the rules are open: each run less a run of the same command on one case
        one_case = folder / "one.jsonl"
        _write(one_case, lines[:1])
        start_up = {jobs: statistics.median(_run_cli(cli, one_case, jobs)[0] for _ in range(3)) for jobs in (1, 2)}
        flowing = {jobs: statistics.median(walls[jobs]) - start_up[jobs] for jobs in (1, 2)}
        print(f"  the same without the start-up (each run less a run on one case: "
              f"{start_up[1] * 1000:.0f} / {start_up[2] * 1000:.0f} ms): {flowing[1] / flowing[2]:5.2f}")
        for jobs in (1, 2):
            if peaks[jobs] and peaks[jobs][0] is not None:
                print(f"  peak memory of the whole run, CLI --jobs {jobs} (every process):         "
                      f"{max(peaks[jobs]):5.0f} MB  (under 300: {'met' if max(peaks[jobs]) < 300 else 'NOT met'})")

        if args.million:
            distinct = lines if (args.cases == DISTINCT_FOR_MILLION) else \
                list(corpus_lines(generate_cases(year_spec(DISTINCT_FOR_MILLION, args.seed, args.year))))
            del lines
            big = folder / "million.jsonl"
            _write(big, distinct, MILLION // DISTINCT_FOR_MILLION)
            size = big.stat().st_size / 2**20
            try:
                seconds, cpu, peak = _run_cli(cli, big, 2, memory=True)
            except CliFailed as error:
                print(f"the command line gave no decision: {error}")
                return 1
            peak_text = f", peak {peak:.0f} MB of every process together" if peak is not None else ""
            print(f"  one million cases ({DISTINCT_FOR_MILLION:,} distinct, repeated; {size:.0f} MB), CLI --jobs 2, "
                  f"its memory sampled: {seconds:.1f} s wall, {cpu:.1f} s CPU{peak_text}  (under 60 s: "
                  f"{'met' if seconds < 60 else 'NOT met'}; under 300 MB: "
                  f"{'met' if peak is not None and peak < 300 else 'NOT met'})")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
