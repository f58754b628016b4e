"""Time `Ruleset.evaluate` against a hand-written Python function of the same rules, side by side.

    python benchmarks/evaluate_benchmark.py [--cases 10000] [--rounds 5] [--no-processes]

On the same generated cases of 2024 (benchmarks/corpus.py), in one run:

  hand-written          benchmarks/handwritten.py: validates the case, every reason, deadlines,
                        prior aid, both ceilings; returns the contract's values as a dict;
  evaluate              `Ruleset.evaluate(case)`: the Decision;
  evaluate + to_dict    `Ruleset.evaluate(case).to_dict()`: the full contract, as JSON-ready data;
  validation            `check_case`: the case checked and converted, the version's input checks
                        (what `Ruleset.case` and `RuleBook.for_case` do, without their wrappers);
  decision              the compiled decision function on a checked case: every rule, condition,
                        note and output (what the engine decides, before it writes the contract);
  validation in evaluate  the fast path's own reading of the case alone (the same checks and
                        conversions as evaluate makes them, no decision).

Machines are shared and noisy, so the contenders are interleaved finely: each round walks the
cases in slices of 250, and every contender decides each slice in turn (the order rotating), so a
burst of load falls on all of them alike; each is timed in this process's CPU time. Printed: the
median over the rounds of microseconds per decision; each one's time over the hand-written code's,
slice by slice, and the median of those ratios; the ratios the targets name (issue 12, item 3), and
whether each is met. Then a cold load of the catalog and a whole command-line evaluation, each in
new processes.

Exit status 0, or 1 when the engine and the hand-written code disagree on a decision.
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
sys.path.insert(0, str(ROOT / "benchmarks"))

from corpus import generate_cases, year_spec  # noqa: E402
import handwritten  # noqa: E402
from engine import CaseError, load_ruleset  # noqa: E402
from engine.core.values import in_engine_context  # noqa: E402
from engine.run.evaluate import check_case  # noqa: E402

SLICE = 250
TARGETS = (  # (what, numerator, denominator, at most)
    ("the full contract per decision / hand-written", "evaluate + to_dict", "hand-written", 1.0),
    ("Ruleset.evaluate / hand-written", "evaluate", "hand-written", 1.0),
    ("validation / the decision itself", "validation", "decision", 1.0),
    ("validation in evaluate / the decision itself", "validation in evaluate", "decision", 1.0),
)


def _quiet(fn):
    """fn, with an input error counted as a decision made (both sides refuse the same few cases)."""
    def run(case):
        try:
            fn(case)
        except (CaseError, handwritten.InvalidCase):
            pass
    return run


def _reading_alone(ruleset):
    """The fast path's reading of a case, alone: the lines the compiled decision starts with, wanting no
    value, in a function of their own (None when the case schema has no fast path)."""
    reading = getattr(ruleset.checked.case_model, "reading", None)  # an engine before the fast path has none
    got = reading("case", {}, 2) if reading is not None else None
    if got is None:
        return None
    lines, namespace = got
    source = "\n".join(["def read(case):", "    try:"] + lines +
                       ["        return True", "    except Exception:", "        return None"]) + "\n"
    scope = dict(namespace)
    exec(compile(source, "<benchmark: the case read alone>", "exec"), scope)
    return in_engine_context(scope["read"])  # the context it runs in, as in the decision


def side_by_side(contenders: dict, inputs: dict, rounds: int) -> tuple[dict, dict]:
    """{name: fn}, {name: its inputs} -> ({name: microseconds per decision, per round},
    {name: its time / the first contender's, per slice and round}).

    A ratio is taken slice by slice, between runs a few milliseconds apart, and its median kept: a burst
    of load from another process then moves one slice's ratio, not the figure."""
    names = list(contenders)
    size = len(next(iter(inputs.values())))
    timings = {name: [] for name in names}
    ratios = {name: [] for name in names}
    clock = time.process_time  # this process's own CPU time: a moment another process holds the core is not counted
    for round_number in range(rounds):
        spent = dict.fromkeys(names, 0.0)
        for turn, start in enumerate(range(0, size, SLICE)):
            shift = (round_number + turn) % len(names)
            here = {}
            for name in names[shift:] + names[:shift]:
                fn, items = contenders[name], inputs[name][start:start + SLICE]
                began = clock()
                for item in items:
                    fn(item)
                here[name] = clock() - began
                spent[name] += here[name]
            for name in names:
                ratios[name].append(here[name] / here[names[0]])
        for name in names:
            timings[name].append(spent[name] / size * 1e6)
    return timings, ratios


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


def _cold(code: str, runs: int = 5) -> float:
    subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=ROOT, env=ENVIRONMENT, check=True)
    found = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                             env=ENVIRONMENT, check=True)
        found.append(float(out.stdout.strip()))
    return statistics.median(found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-processes", action="store_true", help="skip the cold load and the command line")
    args = parser.parse_args(argv)
    cases = generate_cases(year_spec(args.cases, 7, 2024))
    ruleset = load_ruleset(on=date(2024, 6, 1), rules=ROOT / "rules", scheme="kmo-portefeuille")
    differ = _agree(ruleset, cases)
    print(f"{len(cases):,} cases of 2024; decisions that differ between the engine and the hand-written code: {differ}")

    compiled = ruleset._built.compiled
    checked_cases = []
    for case in cases:
        try:
            checked_cases.append(check_case(compiled, case).values)
        except CaseError:
            checked_cases.append(None)
    valid = [values for values in checked_cases if values is not None]
    contenders = {
        "hand-written": _quiet(handwritten.decide),
        "evaluate": _quiet(ruleset.evaluate),
        "evaluate + to_dict": _quiet(lambda case: ruleset.evaluate(case).to_dict()),
        "validation": _quiet(lambda case: check_case(compiled, case)),
        "decision": in_engine_context(compiled.decide),
    }
    inputs = {name: cases for name in contenders}
    inputs["decision"] = (valid * (len(cases) // max(len(valid), 1) + 1))[:len(cases)]
    reading = _reading_alone(ruleset)
    if reading is not None:
        contenders["validation in evaluate"] = reading
        inputs["validation in evaluate"] = cases
    for fn, items in zip(contenders.values(), inputs.values()):  # warm: every path compiled, every memo filled
        for item in items[:SLICE]:
            fn(item)
    timings, ratios = side_by_side(contenders, inputs, args.rounds)
    medians = {name: statistics.median(values) for name, values in timings.items()}
    relative = {name: statistics.median(values) for name, values in ratios.items()}  # to the hand-written code

    print(f"side by side, slices of {SLICE} cases interleaved, {args.rounds} rounds (ratios: median over the "
          "slices of each one's time / the hand-written code's on the same slice):")
    print(f"  {'':26} us/decision  / hand-written  rounds (us)")
    for name in contenders:
        rounds = " ".join(f"{value:.1f}" for value in timings[name])
        print(f"  {name:26} {medians[name]:11.2f}  {relative[name]:13.2f}  {rounds}")
    print("targets:")
    for what, numerator, denominator, limit in TARGETS:
        if numerator in relative and denominator in relative:
            ratio = relative[numerator] / relative[denominator]
            print(f"  {what:50} {ratio:5.2f}  (at most {limit:.1f}: {'met' if ratio <= limit else 'NOT met'})")

    if not args.no_processes:
        load = _cold("import time; t=time.perf_counter(); from engine import list_schemes, load_ruleset; "
                     "from datetime import date; [load_ruleset(on=date(2024, 6, 1), scheme=s.id) for s in "
                     "list_schemes()]; print(time.perf_counter()-t)")
        one = _cold("import time; t=time.perf_counter(); from engine import load_ruleset; from datetime import date; "
                    "load_ruleset(on=date(2024, 6, 1), scheme='kmo-portefeuille'); print(time.perf_counter()-t)")
        print(f"cold load (import included, median of 5 processes): kmo-portefeuille alone {one * 1000:.0f} ms, "
              f"every scheme {load * 1000:.0f} ms (at most 200: {'met' if load <= 0.2 else 'NOT met'})")
        cli = []
        for _ in range(5):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "engine", "evaluate", "examples/small-cybersecurity-training.json"],
                           cwd=ROOT, capture_output=True, env=ENVIRONMENT, check=True)
            cli.append(time.perf_counter() - start)
        print(f"whole command-line evaluation, process start to JSON out: {statistics.median(cli) * 1000:.0f} ms")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
