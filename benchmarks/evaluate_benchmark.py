"""Time `Ruleset.evaluate` against a hand-written Python function of the same rules.

    python benchmarks/evaluate_benchmark.py [--cases 10000] [--rounds 5]

Both do the full contract on the same 10,000 generated cases (validate the
case, every reason, deadlines, prior aid, both ceilings). Prints microseconds
per decision (median of the rounds) and the ratio, checks that both give the
same decisions, then times a cold load of the ruleset and a whole CLI run.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from corpus import generate_cases, year_spec  # noqa: E402
import handwritten  # noqa: E402
from engine import CaseError, load_ruleset  # noqa: E402


def _per_decision(fn, cases, rounds: int) -> float:
    timings = []
    for _ in range(rounds):
        start = time.perf_counter()
        for case in cases:
            try:
                fn(case)
            except (CaseError, handwritten.InvalidCase):
                pass
        timings.append((time.perf_counter() - start) / len(cases) * 1e6)
    return statistics.median(timings)


def _agree(ruleset, cases) -> int:
    differ = 0
    for case in cases:
        mine = ruleset.evaluate(case).to_dict()
        theirs = handwritten.decide(case)
        for key, value in theirs.items():
            got = mine[key] if key not in ("reasons", "notes") else [r["code"] for r in mine[key]]
            if got != value:
                differ += 1
                print(f"  differs on {key}: engine {got!r}, hand-written {value!r}", file=sys.stderr)
                break
    return differ


# A new process each time, as a user's would be: Python may keep compiled modules (as an installed package does).
ENVIRONMENT = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _cold(code: str) -> float:
    subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=ROOT, env=ENVIRONMENT, check=True)
    runs = []
    for _ in range(5):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                             env=ENVIRONMENT, check=True)
        runs.append(float(out.stdout.strip()))
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    cases = generate_cases(year_spec(args.cases, 7, 2024))
    ruleset = load_ruleset(on=date(2024, 6, 1), rules=ROOT / "rules")
    differ = _agree(ruleset, cases)
    print(f"cases: {len(cases)}; decisions that differ between engine and hand-written code: {differ}")
    engine_us = _per_decision(ruleset.evaluate, cases, args.rounds)
    engine_json_us = _per_decision(lambda c: ruleset.evaluate(c).to_dict(), cases, args.rounds)
    hand_us = _per_decision(handwritten.decide, cases, args.rounds)
    print(f"hand-written Python, full contract: {hand_us:8.1f} us per decision")
    print(f"Ruleset.evaluate:                   {engine_us:8.1f} us per decision  ratio {engine_us / hand_us:.2f}x")
    print(f"Ruleset.evaluate(...).to_dict():    {engine_json_us:8.1f} us per decision  ratio {engine_json_us / hand_us:.2f}x")
    load = _cold("import time; t=time.perf_counter(); from engine import load_ruleset; from datetime import date; "
                 "load_ruleset(on=date(2024, 6, 1), rules='rules'); print(time.perf_counter()-t)")
    print(f"cold load and check of the ruleset (import included): {load * 1000:.0f} ms (median of 5 processes)")
    cli = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "engine", "evaluate", "examples/small-cybersecurity-training.json"],
                       cwd=ROOT, capture_output=True, env=ENVIRONMENT, check=True)
        cli.append(time.perf_counter() - start)
    print(f"whole command-line evaluation, process start to JSON out: {statistics.median(cli) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
