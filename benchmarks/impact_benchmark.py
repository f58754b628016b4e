"""Benchmark: impact of a change of rules over 10,000 synthetic cases -> seconds per run (target: under 10 s).

    cd <checkout> && python benchmarks/impact_benchmark.py [--cases 10000] [--rounds 3] [--seed 1]

Two changes are measured on a corpus of their own year: the advice reform of
2026-02-01 (a few percent of the decisions change) and the rate cut and new
ceiling of 2019-12-01 / 2020-01-01 (nearly every eligible decision changes,
so nearly every case is explained a second time with its trace). Each figure
is the median of the rounds, the whole `impact` call: both versions, every
case, the traces of the changed cases and the report. The last line times
the command line end to end, from a JSON-lines file to the text report.
"""
from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.cli import run  # noqa: E402
from corpus import corpus_lines, generate_cases, year_spec  # noqa: E402
from engine.audit.impact_analysis import impact  # noqa: E402
from engine.pipeline import open_rules  # noqa: E402

CHANGES = (("2026-01-31", "2026-02-01", 2026), ("2019-11-30", "2020-01-01", 2019))


def _median_seconds(action, rounds: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    book = open_rules()
    for source in book.sources:
        book.build(source)  # load and check once, outside the timings
    print(f"impact over {args.cases} cases, median of {args.rounds} rounds")
    for first, second, year in CHANGES:
        cases = generate_cases(year_spec(args.cases, args.seed, year))
        seconds, report = _median_seconds(lambda: impact(book, first, second, cases), args.rounds)
        print(f"  {first} -> {second}: {seconds:6.2f} s  ({seconds / args.cases * 1e6:5.0f} us per case; "
              f"{len(report.changed)} decisions changed, {report.subsidy_change:,} EUR)")

    first, second, year = CHANGES[0]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "corpus.jsonl"
        path.write_text("".join(line + "\n" for line in corpus_lines(generate_cases(
            year_spec(args.cases, args.seed, year)))), encoding="utf-8")
        argv_diff = ["diff", first, second, "--cases", str(path)]
        seconds, status = _median_seconds(lambda: run(argv_diff, io.StringIO(), io.StringIO(), io.StringIO()),
                                          args.rounds)
        print(f"  kmo-rules {' '.join(argv_diff[:3])} --cases corpus.jsonl: {seconds:6.2f} s (exit {status})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
