"""Time `Ruleset.evaluate` against GoRules Zen on the flat kmo-portefeuille decision of 2024.

    python benchmarks/peer_benchmark.py [--cases 10000] [--rounds 5] [--seed 2024]

The peer is the JDM graph in benchmarks/peers/kmo_portefeuille.jdm.json (two
decision tables and two expression nodes), run by zen-engine 2.1.3, a
benchmark-only dependency (`pip install zen-engine==2.1.3`), never one of the
package. The graph decides a flat case (employees, turnover, balance,
legal_form, region, kind, theme, focus, provider_registered, fee, catering,
materials, trainer_travel, participants, days, kmo_aid_this_year,
de_minimis_3y) and returns eligible, size, rate, eligible_cost and subsidy.

Method:
- Zen loads the graph once (`ZenDecisionContent`, and a `ZenEngine` whose
  loader returns it); each call is `engine.evaluate(key, flat)["result"]`.
- The engine maps each flat case onto the contract's case, as a caller would,
  inside the timed region: NACE 62.010, application 2024-06-10, start
  2024-06-05, no end date; `kmo_aid_this_year` as a kmo-portefeuille aid
  granted on 2024-02-01; `de_minimis_3y` minus it as an other-de-minimis aid
  granted on 2022-09-01; the theme professional_competences with a service
  code of the rules' own list; then `ruleset.evaluate(case)` and the five
  values read back.
- The cases are mostly small Flemish firms, plus the boundaries: 49/50/249/250
  work units, size thresholds met exactly, costs on the 100/500 minimum,
  catering over its cap, ceilings hit exactly, aid at or over 7,500/300,000 and
  half-cent ties. Both sides must give the same decision on every case
  (compared as Decimals; the engine gives no rate to an ineligible case, so the
  rate is compared where the case is eligible).
- Each engine runs in its own worker process (multiprocessing, spawn); the
  rounds alternate which one goes first, one at a time, each timed in its
  worker's own CPU time (a moment another process holds the core is not
  counted: the machines are shared); the figure is the median of the rounds,
  microseconds per call, and the ratio engine / zen, which the target wants
  below 1 (issue 12, item 3: faster than zen-engine in the same run).

Exit status 0, or 1 when the two disagree on a decision (2 when zen-engine is
not installed).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import multiprocessing
import random
import statistics
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from corpus import ADVICE_THEMES, FOCUS_SHARE, KINDS, LEGAL_FORMS, REGIONS, TRAINING_THEMES  # noqa: E402

GRAPH = HERE / "peers" / "kmo_portefeuille.jdm.json"
GRAPH_KEY = "kmo_portefeuille.jdm.json"
PIP = "pip install zen-engine==2.1.3"

APPLICATION_DAY = "2024-06-10"
START_DAY = "2024-06-05"
NACE_CODE = "62.010"
KMO_AID_DAY = "2024-02-01"
OTHER_AID_DAY = "2022-09-01"
WHITELIST_TABLE = "professional_competences_whitelist"

ANNUAL_CEILING = 750_000      # cents
DE_MINIMIS_CEILING = 30_000_000  # cents
EXCLUDED_FORMS = {"vzw", "ivzw", "foundation", "public_body"}
UPLIFTS = {("digitalisation", "cybersecurity"), ("sustainability", "energy_efficiency")}
RATES = {("small", True): 45, ("small", False): 30, ("medium", True): 35, ("medium", False): 20}


# -- the cases ---------------------------------------------------------------------

def _number(cents: int):
    """Cents -> the JSON number a caller holds: an int for whole euros, else a float with two decimals."""
    return cents // 100 if cents % 100 == 0 else cents / 100


def _cents(value) -> int:
    return int(Decimal(value if type(value) is int else repr(value)) * 100)


class _Cases:
    """Flat cases from one seeded generator: a realistic population and its boundaries."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def pick(self, weighted):
        return self.rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]

    def euros(self, median: float, spread: float, low: int, high: int, cents_share: float = 0.2) -> int:
        """An amount in cents, log-normally spread; a share of them with cents."""
        amount = min(high, max(low, round(self.rng.lognormvariate(math.log(median), spread))))
        extra = self.rng.randint(1, 99) if self.rng.random() < cents_share else 0
        return amount * 100 + extra

    def firm(self, size: str) -> dict:
        r = self.rng
        if size == "small":
            employees = r.randint(0, 9) if r.random() < 0.72 else r.randint(10, 49)
            turnover = min(9_500_000, r.randint(40_000, 190_000) * max(employees, 1))
        elif size == "medium":
            employees = r.randint(50, 249)
            turnover = min(49_000_000, r.randint(60_000, 250_000) * employees)
        else:
            employees = r.randint(250, 2_000)
            turnover = r.randint(51_000_000, 400_000_000)
        balance = turnover * r.randint(30, 90) // 100
        work_units = employees - 0.5 if employees and r.random() < 0.1 else employees
        return {"employees": work_units, "turnover": turnover, "balance": balance}

    def realistic(self) -> dict:
        r = self.rng
        size = self.pick((("small", 90), ("medium", 8), ("large", 2)))
        kind = self.pick(KINDS)
        theme = self.pick(TRAINING_THEMES if kind == "training" else ADVICE_THEMES)
        focus, share = FOCUS_SHARE.get((kind, theme), (None, 0))
        flat = {**self.firm(size), "legal_form": self.pick(LEGAL_FORMS), "region": self.pick(REGIONS),
                "kind": kind, "theme": theme, "focus": focus if focus and r.random() < share else None,
                "provider_registered": r.random() >= 0.01}
        if kind == "training":
            participants = r.randint(*self.pick((((1, 1), 40), ((2, 5), 40), ((6, 15), 20))))
            days = self.pick(((1, 50), (2, 25), (0.5, 10), (r.randint(3, 5), 15)))
            catering = r.randint(8, 40) * participants * Decimal(repr(days)) if r.random() < 0.3 else 0
            costs = {"fee": self.euros(650, 0.8, 20, 40_000),
                     "catering": int(catering) * 100,
                     "materials": self.euros(80, 0.8, 5, 2_000) if r.random() < 0.2 else 0,
                     "trainer_travel": self.euros(60, 0.6, 5, 800) if r.random() < 0.1 else 0}
        else:
            participants, days = 1, 1
            costs = {"fee": self.euros(6_400, 0.65, 300, 60_000), "catering": 0, "materials": 0, "trainer_travel": 0}
        kmo = 0
        if r.random() < 0.35:
            kmo = self.euros(6_500, 0.1, 4_000, 7_400, 0) if r.random() < 0.08 else self.euros(700, 0.9, 50, 4_000, 0)
        other = 0
        if r.random() < 0.08:
            other = DE_MINIMIS_CEILING - kmo - self.euros(400, 1.0, 10, 20_000, 0) if r.random() < 0.04 \
                else self.euros(20_000, 1.0, 1_000, 150_000, 0)
        flat.update({k: _number(v) for k, v in costs.items()})
        flat.update(participants=participants, days=days, kmo_aid_this_year=_number(kmo),
                    de_minimis_3y=_number(kmo + other))
        return flat

    # Each boundary starts from a small Flemish firm with an eligible training or advice.
    def _base(self, kind: str | None = None) -> dict:
        while True:
            flat = self.realistic()
            if kind and flat["kind"] != kind:
                continue
            flat.update(self.firm("small"), legal_form="bv", region="flemish", provider_registered=True)
            if flat["theme"] is None:
                flat["theme"] = "business_strategy"
            return flat

    def work_units(self) -> dict:
        flat = self._base()
        flat["employees"] = self.rng.choice((49, 50, 249, 250, 49.5, 249.5, 48.5, 250.5))
        flat["turnover"] = self.rng.choice((2_000_000, 9_000_000, 30_000_000))
        flat["balance"] = flat["turnover"] // 2
        return flat

    def size_thresholds(self) -> dict:
        flat = self._base()
        flat["employees"] = self.rng.choice((12, 49, 120, 249))
        flat["turnover"], flat["balance"] = self.rng.choice((
            (10_000_000, 20_000_000), (10_000_000.01, 10_000_000), (10_000_000.01, 10_000_000.01),
            (50_000_000, 60_000_000), (50_000_000.01, 43_000_000), (50_000_000.01, 43_000_000.01),
            (12_000_000, 9_999_999.99)))
        return flat

    def minimum_cost(self) -> dict:
        if self.rng.random() < 0.5:
            flat = self._base("training")
            fee, materials = self.rng.choice(((10_000, 0), (9_999, 0), (6_000, 4_000), (6_000, 3_999), (10_001, 0)))
            flat.update(fee=_number(fee), catering=0, materials=_number(materials), trainer_travel=0)
        else:
            flat = self._base("advice")
            flat["fee"] = _number(self.rng.choice((50_000, 49_999, 50_001, 10_000)))
        return flat

    def catering_over_cap(self) -> dict:
        flat = self._base("training")
        participants = self.rng.randint(1, 12)
        days = self.rng.choice((0.5, 1, 2, 3))
        cap = 2_500 * participants * Decimal(repr(days))
        flat.update(participants=participants, days=days,
                    catering=_number(int(cap) + self.rng.choice((0, 1, 500, 10_000))))
        return flat

    def rate(self, flat: dict) -> int:
        size = "small" if flat["employees"] < 50 else "medium"
        return RATES[size, (flat["theme"], flat["focus"]) in UPLIFTS]

    def gross(self, flat: dict) -> int:
        """The subsidy before the ceilings, in cents."""
        cost = _cents(flat["fee"])
        if flat["kind"] == "training":
            cap = 2_500 * flat["participants"] * Decimal(repr(flat["days"]))
            cost += min(_cents(flat["catering"]), int(cap)) + _cents(flat["materials"]) + _cents(flat["trainer_travel"])
        return int((Decimal(cost) * self.rate(flat) / 100).quantize(Decimal(1), ROUND_HALF_UP))

    def annual_ceiling_exact(self) -> dict:
        flat = self._base()
        gross = self.gross(flat)
        if gross >= ANNUAL_CEILING:
            flat.update(fee=2_000, catering=0, materials=0, trainer_travel=0)
            gross = self.gross(flat)
        kmo = ANNUAL_CEILING - gross
        flat.update(kmo_aid_this_year=_number(kmo), de_minimis_3y=_number(kmo + self.rng.choice((0, 100_000))))
        return flat

    def de_minimis_exact(self) -> dict:
        flat = self._base()
        kmo = self.rng.choice((0, 50_000))
        flat.update(kmo_aid_this_year=_number(kmo), de_minimis_3y=_number(DE_MINIMIS_CEILING - self.gross(flat)))
        return flat

    def aid_at_ceilings(self) -> dict:
        flat = self._base()
        kmo = self.rng.choice((ANNUAL_CEILING, ANNUAL_CEILING + 1, 800_000, 100_000))
        de_minimis = self.rng.choice((kmo, DE_MINIMIS_CEILING, DE_MINIMIS_CEILING + 1, 32_000_000))
        flat.update(kmo_aid_this_year=_number(kmo), de_minimis_3y=_number(max(kmo, de_minimis)))
        return flat

    def half_cent_tie(self) -> dict:
        """A cost whose subsidy before the ceilings ends on half a cent (a small firm: 30 % or 45 %)."""
        flat = self._base()
        rate = self.rate(flat)
        euros = self.rng.randint(100 if flat["kind"] == "training" else 500, 9_000)
        cents = self.rng.choice((5, 15, 25, 35, 45, 55, 65, 75, 85, 95)) if rate == 30 else \
            self.rng.choice((10, 30, 50, 70, 90))
        flat.update(fee=_number(euros * 100 + cents), catering=0, materials=0, trainer_travel=0)
        return flat

    BOUNDARIES = ("work_units", "size_thresholds", "minimum_cost", "catering_over_cap", "annual_ceiling_exact",
                  "de_minimis_exact", "aid_at_ceilings", "half_cent_tie")


def flat_cases(count: int, seed: int, boundary_share: float = 0.15) -> tuple[list[dict], int]:
    """`count` flat cases; about `boundary_share` of them on the boundaries, spread evenly over them."""
    cases = _Cases(seed)
    out, boundaries = [], 0
    for _ in range(count):
        if cases.rng.random() < boundary_share:
            out.append(getattr(cases, cases.BOUNDARIES[boundaries % len(cases.BOUNDARIES)])())
            boundaries += 1
        else:
            out.append(cases.realistic())
    return out, boundaries


# -- the two sides, each in its own process ------------------------------------------

def _zen_side(graph_text: str):
    import zen
    content = zen.ZenDecisionContent(graph_text)
    engine = zen.ZenEngine({"loader": lambda key: content})
    evaluate = engine.evaluate

    def decide(flat):
        r = evaluate(GRAPH_KEY, flat)["result"]
        return r["eligible"], r["size"], r["rate"], r["eligible_cost"], r["subsidy"]

    from importlib.metadata import version
    return decide, f"zen-engine {version('zen-engine')}"


def _service_code(ruleset) -> str:
    """A code from the rules' own list of professional-competences services."""
    rows = ruleset.checked.tables[WHITELIST_TABLE].rows
    return sorted(rows)[0]


def _engine_side(_graph_text: str):
    from engine import load_ruleset
    ruleset = load_ruleset(on=APPLICATION_DAY, scheme="kmo-portefeuille")
    service_code = _service_code(ruleset)
    evaluate = ruleset.evaluate

    def to_case(flat: dict) -> dict:
        kmo, de_minimis = flat["kmo_aid_this_year"], flat["de_minimis_3y"]
        aid = []
        if kmo:
            aid.append({"granted_on": KMO_AID_DAY, "amount": kmo, "scheme": "kmo-portefeuille"})
        if de_minimis != kmo:
            other = Decimal(repr(de_minimis)) - Decimal(repr(kmo))
            aid.append({"granted_on": OTHER_AID_DAY, "amount": other, "scheme": "other-de-minimis"})
        theme = flat["theme"]
        project = {"kind": flat["kind"], "theme": theme, "focus": flat["focus"],
                   "provider_registered": flat["provider_registered"], "start_date": START_DAY}
        if theme == "professional_competences":
            project["service_code"] = service_code
        if flat["kind"] == "training":
            project["participants"] = flat["participants"]
            project["days"] = flat["days"]
            project["costs"] = {"fee": flat["fee"], "catering": flat["catering"], "materials": flat["materials"],
                                "trainer_travel": flat["trainer_travel"]}
        else:
            project["costs"] = {"fee": flat["fee"]}
        return {"application_date": APPLICATION_DAY,
                "enterprise": {"legal_form": flat["legal_form"], "establishment_region": flat["region"],
                               "nace_code": NACE_CODE, "employees": flat["employees"],
                               "annual_turnover": flat["turnover"], "balance_sheet_total": flat["balance"],
                               "prior_aid": aid},
                "project": project}

    def decide(flat):
        decision = evaluate(to_case(flat))
        out = decision.outputs
        return decision.eligible, out["size_class"], out["rate"], out["eligible_cost"], out["subsidy"]

    return decide, f"kmo-rules {ruleset.version}, mapping + Ruleset.evaluate"


SIDES = {"zen": _zen_side, "engine": _engine_side}


def _worker(side: str, conn, graph_text: str, cases: list[dict]) -> None:
    import time
    try:
        decide, name = SIDES[side](graph_text)
    except Exception as error:  # noqa: BLE001 - reported to the parent
        conn.send(("failed", f"{type(error).__name__}: {error}"))
        return
    conn.send(("ready", name))
    while True:
        command = conn.recv()
        if command == "results":
            results = []
            for flat in cases:
                try:
                    results.append(decide(flat))
                except Exception as error:  # noqa: BLE001 - a disagreement to show
                    results.append(("error", f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"))
            conn.send(results)
        elif command == "time":
            start = time.process_time()
            for flat in cases:
                try:
                    decide(flat)
                except Exception:  # noqa: BLE001 - counted by the results pass
                    pass
            conn.send((time.process_time() - start) / len(cases) * 1e6)
        else:
            return


# -- comparing ----------------------------------------------------------------------

def _exact(value):
    return None if value is None else Decimal(repr(value) if type(value) is float else str(value))


def _differences(zen_result, engine_result) -> list[str]:
    if zen_result[0] == "error" or engine_result[0] == "error":
        return [f"zen {zen_result}, engine {engine_result}"] if zen_result != engine_result else []
    names = ("eligible", "size", "rate", "eligible_cost", "subsidy")
    out = []
    for index, name in enumerate(names):
        zen_value, engine_value = zen_result[index], engine_result[index]
        if name == "rate" and not engine_result[0]:
            continue  # no rate for an ineligible case
        if index >= 2:
            zen_value, engine_value = _exact(zen_value), _exact(engine_value)
        if zen_value != engine_value:
            out.append(f"{name}: zen {zen_result[index]!r}, engine {engine_result[index]!r}")
    return out


def _zen_installed() -> bool:
    try:
        return importlib.util.find_spec("zen") is not None
    except (ImportError, ValueError):
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args(argv)
    if args.cases < 1 or args.rounds < 1:
        parser.error("--cases and --rounds must be at least 1")
    if not _zen_installed():
        print(f"zen-engine is not installed; this benchmark needs it: {PIP}", file=sys.stderr)
        return 2
    graph_text = GRAPH.read_text(encoding="utf-8")
    cases, boundaries = flat_cases(args.cases, args.seed)

    context = multiprocessing.get_context("spawn")
    workers, names = {}, {}
    for side in SIDES:
        mine, theirs = context.Pipe()
        process = context.Process(target=_worker, args=(side, theirs, graph_text, cases), daemon=True)
        process.start()
        workers[side] = (process, mine)
    try:
        for side, (_, conn) in workers.items():
            status, text = conn.recv()
            if status != "ready":
                print(f"{side}: cannot start: {text}", file=sys.stderr)
                if side == "zen":
                    print(f"  (is zen-engine installed? {PIP})", file=sys.stderr)
                return 2
            names[side] = text
        results = {}
        for side, (_, conn) in workers.items():  # also the warm-up, untimed
            conn.send("results")
            results[side] = conn.recv()
        disagreements = []
        for flat, zen_result, engine_result in zip(cases, results["zen"], results["engine"]):
            differences = _differences(zen_result, engine_result)
            if differences:
                disagreements.append((flat, differences))
        timings = {side: [] for side in SIDES}
        for round_number in range(args.rounds):
            order = ("zen", "engine") if round_number % 2 == 0 else ("engine", "zen")
            for side in order:
                workers[side][1].send("time")
                timings[side].append(workers[side][1].recv())
    finally:
        for process, conn in workers.values():
            try:
                conn.send("stop")
            except (BrokenPipeError, OSError):
                pass
            process.join(timeout=10)

    eligible = sum(1 for r in results["engine"] if r[0] is True)
    print(f"flat kmo-portefeuille decision of 2024: {len(cases):,} cases (seed {args.seed}; {boundaries:,} on the "
          f"boundaries; {eligible:,} eligible)")
    print(f"each engine in its own process (spawn), {args.rounds} rounds alternating which goes first")
    print(f"decisions that differ: {len(disagreements):,} of {len(cases):,}")
    for flat, differences in disagreements[:5]:
        print(f"  {json.dumps(flat)}")
        for difference in differences:
            print(f"    {difference}")
    medians = {side: statistics.median(values) for side, values in timings.items()}
    width = max(len(name) for name in names.values())
    print(f"  {'':{width}}  median us/call  rounds (us/call)")
    for side in ("zen", "engine"):
        rounds = " ".join(f"{value:.1f}" for value in timings[side])
        print(f"  {names[side]:{width}}  {medians[side]:14.1f}  {rounds}")
    ratio = medians['engine'] / medians['zen']
    print(f"  ratio engine / zen: {ratio:.2f}")
    print(f"target: faster than zen-engine in the same run, engine / zen {ratio:.2f} (below 1.0: "
          f"{'met' if ratio < 1 else 'NOT met'})")
    return 1 if disagreements else 0


if __name__ == "__main__":
    raise SystemExit(main())
