"""Every speed target of issue 12 (item 3), measured in one run: the three benchmarks, then a summary.

    python benchmarks/speed_targets.py [--quick] [--million]

Runs, one after the other, each in its own process so that none warms another:

  evaluate_benchmark.py   the full contract against the hand-written code; validation against
                          the decision; the cold load of the catalog;
  peer_benchmark.py       the flat decision against GoRules Zen (skipped, and said so, when
                          zen-engine is not installed);
  batch_benchmark.py      JSON Lines through the command line against the in-process API; two
                          jobs against one; peak memory (--million: one million cases too).

Each prints its own figures side by side; this prints them as they come, then every target line
again, together. --quick uses fewer cases (figures are then rougher). Exit status 0, or 1 when a
benchmark failed (a decision that differs, a command line that gave no decision); a target not met
is a figure to read, not a failure.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET_LINE = re.compile(r": (NOT )?met\)?\s*$")  # how each benchmark ends the line of a target


def _run(script: str, arguments: list[str]) -> tuple[int, list[str]]:
    """Run one benchmark, echoing its output -> (exit status, its lines)."""
    print(f"== {script} {' '.join(arguments)}", flush=True)
    process = subprocess.Popen([sys.executable, str(HERE / script), *arguments], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in process.stdout:
        print(line, end="", flush=True)
        lines.append(line.rstrip("\n"))
    return process.wait(), lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer cases: a rough figure in a minute")
    parser.add_argument("--million", action="store_true", help="also one million cases through the command line")
    args = parser.parse_args(argv)
    cases = ["--cases", "3000"] if args.quick else []
    runs = [("evaluate_benchmark.py", cases),
            ("peer_benchmark.py", cases),
            ("batch_benchmark.py", (["--cases", "20000"] if args.quick else []) +
             (["--million"] if args.million else []))]
    failed, targets = [], []
    for script, arguments in runs:
        status, lines = _run(script, arguments)
        if status == 2 and script == "peer_benchmark.py":
            targets.append(f"  {script}: zen-engine is not installed, so this target was not measured")
            continue
        if status != 0:
            failed.append(script)
        targets += [f"  {script}: {line.strip()}" for line in lines if TARGET_LINE.search(line)]
    print("== every target, as measured above")
    print("\n".join(targets))
    if failed:
        print(f"benchmarks that failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
