"""Synthetic cases: (size, seed, period) -> a realistic, reproducible corpus of kmo-portefeuille applications.

    python benchmarks/corpus.py N [--seed S] [--year YEAR | --from DATE --to DATE] [--out FILE.jsonl]

writes N cases as JSON lines, for impact analyses (`kmo-rules diff A B --cases FILE`)
and benchmarks. It is a tool beside the engine, not part of it: the shape of the
corpus is knowledge about applicants, not about the rules.

The mix follows the published scale of the scheme (about 90 % small
enterprises; training far more frequent than advice; an average aid of about
EUR 300 for a training and EUR 2,300 for advice under the 2024-2025 rules)
and includes the ineligible cases an auditor wants to see move: non-profit
legal forms, establishments outside Flanders, late applications, services
that fit no theme, excluded services, unregistered providers, amounts below
the minimum, large enterprises, prior aid close to the ceilings.

Every case is valid input (schemas/case.schema.json and the rules' input
checks), so a corpus measures decisions, not input errors. The same seed and
period always give the same cases. Money is `Decimal`; the random draws only
pick whole euro amounts.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Iterable, Iterator

# The illustrative professional-competences list shipped with the rules (sample data, like the list itself).
SAMPLE_SERVICE_CODES = tuple(f"PC-SAMPLE-{n:03d}" for n in range(1, 21))

LEGAL_FORMS = (("bv", 58), ("sole_trader", 24), ("nv", 7), ("cv", 2.5), ("vof", 2), ("commv", 1.5),
               ("vzw", 2.2), ("ivzw", 0.3), ("foundation", 0.4), ("public_body", 0.3))
REGIONS = (("flemish", 98), ("brussels", 1), ("walloon", 0.6), ("abroad", 0.4))
NACE_CODES = (("62.010", 10), ("69.201", 8), ("70.220", 8), ("47.110", 7), ("43.210", 7), ("56.101", 6),
              ("86.210", 5), ("41.201", 5), ("25.110", 5), ("46.900", 6), ("96.021", 5), ("71.111", 6),
              ("49.410", 5), ("85.599", 5), ("73.110", 4), ("01.110", 0.8), ("03.120", 0.3))
SIZES = (("small", 91), ("medium", 8), ("large", 1))
KINDS = (("training", 94), ("advice", 6))
TRAINING_THEMES = (("professional_competences", 22), ("digitalisation", 20), ("hr_management", 14),
                   ("business_strategy", 12), ("sustainability", 10), ("financial_literacy", 6), ("innovation", 6),
                   ("internationalisation", 5), (None, 3))
ADVICE_THEMES = (("business_strategy", 30), ("digitalisation", 22), ("sustainability", 15), ("innovation", 10),
                 ("internationalisation", 8), ("hr_management", 6), ("financial_literacy", 5), (None, 3))
FOCUS_SHARE = {("training", "digitalisation"): ("cybersecurity", 0.25),
               ("advice", "digitalisation"): ("cybersecurity", 0.45),
               ("training", "sustainability"): ("energy_efficiency", 0.35),
               ("advice", "sustainability"): ("energy_efficiency", 0.35)}
EXCLUDED_SERVICES = ("shiatsu", "mindfulness", "reflexology", "astrology", "insights_discovery", "mbti", "nlp", "exam",
                     "meridian_theory", "hypnosis", "driving_licence", "pilot_licence", "subscription_service",
                     "team_building", "networking", "study_trip")
# Prior de minimis aid close to the ceiling of its time, so that the ceiling sometimes binds.
DE_MINIMIS_CEILING_BEFORE_2024 = Decimal(200_000)
DE_MINIMIS_CEILING_FROM_2024 = Decimal(300_000)
OTHER_SCHEMES = ("ecologiepremie", "innovation-project", "other-de-minimis", "starterslening")


@dataclass(frozen=True)
class CorpusSpec:
    """What to generate: how many cases, from which seed, with application dates in which period."""

    size: int
    seed: int
    first_day: date
    last_day: date


def year_spec(size: int, seed: int, year: int) -> CorpusSpec:
    return CorpusSpec(size, seed, date(year, 1, 1), date(year, 12, 31))


class _Draw:
    """The random choices of one corpus, from one seeded generator."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, weighted):
        values = [v for v, _ in weighted]
        weights = [w for _, w in weighted]
        return self.rng.choices(values, weights)[0]

    def whole(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def euros(self, median: int, spread: float, low: int = 1, high: int | None = None) -> Decimal:
        """A whole euro amount, log-normally spread around its median."""
        amount = max(low, round(self.rng.lognormvariate(math.log(median), spread)))
        return Decimal(min(amount, high) if high is not None else amount)

    def day(self, first: date, last: date) -> date:
        return first + timedelta(days=self.rng.randint(0, (last - first).days))


def _figures(draw: _Draw, size: str) -> dict:
    """Work units, turnover and balance sheet total of an enterprise of one size."""
    if size == "small":
        employees = draw.whole(0, 9) if draw.chance(0.72) else draw.whole(10, 49)
        per_head = draw.euros(140_000, 0.5, 40_000, 190_000)
        turnover = min(Decimal(9_500_000), per_head * max(employees, 1))
    elif size == "medium":
        employees = draw.whole(50, 249)
        turnover = min(Decimal(49_000_000), draw.euros(160_000, 0.4, 60_000) * employees)
    else:
        employees = draw.whole(250, 2_000)
        turnover = draw.euros(90_000_000, 0.7, 51_000_000)
    balance = (turnover * Decimal(draw.whole(30, 90)) / 100).quantize(Decimal(1))
    work_units: object = employees
    if employees and draw.chance(0.1):
        work_units = Decimal(employees) - Decimal("0.5")  # part-time work gives half units
    return {"employees": work_units, "annual_turnover": turnover, "balance_sheet_total": balance}


def _related(draw: _Draw) -> list:
    related = []
    for _ in range(draw.whole(1, 2)):
        low, high = draw.pick((((51, 100), 3), ((25, 50), 5), ((5, 24), 2)))  # linked, partner, too small to count
        share = draw.whole(low, high)
        figures = _figures(draw, "small")
        related.append({"share": Decimal(share) / 100, **figures})
    return related


def _prior_aid(draw: _Draw, application: date) -> list:
    aid = []
    start_of_year = date(application.year, 1, 1)
    if application > start_of_year and draw.chance(0.35):
        big = draw.chance(0.08)  # close to the annual ceiling already
        for _ in range(1 if big else draw.whole(1, 3)):
            amount = draw.euros(6_500, 0.1, 4_000, 7_400) if big else draw.euros(700, 0.9, 50, 4_000)
            granted = draw.day(start_of_year, application - timedelta(days=1))
            aid.append({"granted_on": granted.isoformat(), "amount": amount, "scheme": "kmo-portefeuille"})
    if draw.chance(0.08):
        near_ceiling = draw.chance(0.04)
        ceiling = DE_MINIMIS_CEILING_FROM_2024 if application.year >= 2024 else DE_MINIMIS_CEILING_BEFORE_2024
        amount = ceiling - draw.euros(400, 1.0, 10, 20_000) if near_ceiling else \
            draw.euros(20_000, 1.0, 1_000, 150_000)
        granted = draw.day(application - timedelta(days=3 * 365 - 30), application - timedelta(days=1))
        aid.append({"granted_on": granted.isoformat(), "amount": amount, "scheme": draw.pick(
            tuple((s, 1) for s in OTHER_SCHEMES))})
    return aid


def _enterprise(draw: _Draw, application: date) -> dict:
    adapted = draw.chance(0.005)
    size = draw.pick((("small", 30), ("medium", 45), ("large", 25))) if adapted else draw.pick(SIZES)
    enterprise = {
        "legal_form": "vzw" if adapted and draw.chance(0.6) else draw.pick(LEGAL_FORMS),
        "establishment_region": draw.pick(REGIONS),
        "nace_code": draw.pick(NACE_CODES),
        **_figures(draw, size),
    }
    if adapted:
        enterprise["adapted_work_enterprise"] = True
    if size != "large" and draw.chance(0.1):
        enterprise["related_enterprises"] = _related(draw)
    aid = _prior_aid(draw, application)
    if aid:
        enterprise["prior_aid"] = aid
    return enterprise


def _training_costs(draw: _Draw, participants: int, days: Decimal) -> dict:
    costs = {"fee": draw.euros(650, 0.8, 20, 40_000)}
    if draw.chance(0.3):
        per_person_day = Decimal(draw.whole(8, 40))
        costs["catering"] = (per_person_day * participants * days).quantize(Decimal(1))
    if draw.chance(0.2):
        costs["materials"] = draw.euros(80, 0.8, 5, 2_000)
    if draw.chance(0.1):
        costs["trainer_travel"] = draw.euros(60, 0.6, 5, 800)
    return costs


def _project(draw: _Draw, application: date, listed_codes: tuple[str, ...]) -> dict:
    kind = draw.pick(KINDS)
    theme = draw.pick(TRAINING_THEMES if kind == "training" else ADVICE_THEMES)
    project: dict = {"kind": kind, "theme": theme}
    focus, share = FOCUS_SHARE.get((kind, theme), (None, 0))
    if focus and draw.chance(share):
        project["focus"] = focus
    if theme == "professional_competences":
        project["service_code"] = draw.pick(tuple((c, 1) for c in listed_codes)) if listed_codes and draw.chance(0.92) \
            else f"PC-OTHER-{draw.whole(100, 999)}"
    if kind == "training" and draw.chance(0.015):
        project["service_category"] = draw.pick(tuple((s, 1) for s in EXCLUDED_SERVICES))
    project["provider_registered"] = not draw.chance(0.01)
    timing = draw.pick((("started", 58), ("ahead", 39), ("late", 3)))
    if timing == "started":
        start = application - timedelta(days=draw.whole(0, 14))
    elif timing == "ahead":
        start = application + timedelta(days=draw.whole(1, 90))
    else:
        start = application - timedelta(days=draw.whole(15, 60))
    project["start_date"] = start.isoformat()
    if kind == "training":
        participants = draw.whole(*draw.pick((((1, 1), 40), ((2, 5), 40), ((6, 15), 20))))
        days = draw.pick(((Decimal(1), 50), (Decimal(2), 25), (Decimal("0.5"), 10), (None, 15))) or \
            Decimal(draw.whole(3, 5))
        length = max(0, math.ceil(days) - 1) + (draw.whole(0, 60) if draw.chance(0.3) else 0)
        if draw.chance(0.12):
            project["distance_learning"] = True
            if draw.chance(0.1):
                project["live_interaction"] = False
        project["participants"] = participants
        project["days"] = days
        costs = _training_costs(draw, participants, days)
    else:
        length = draw.whole(14, 240)
        if draw.chance(0.03):
            project["legally_required"] = True
        costs = {"fee": draw.euros(6_400, 0.65, 300, 60_000)}
    if draw.chance(0.003):
        end = date(application.year + 2, 1, draw.whole(1, 28))  # finished too late
    else:
        end = min(start + timedelta(days=length), date(application.year + 1, 12, 31))
        end = max(end, start)
    if not draw.chance(0.02):
        project["end_date"] = end.isoformat()
    project["costs"] = costs
    return project


def generate_cases(spec: CorpusSpec, listed_codes: tuple[str, ...] = SAMPLE_SERVICE_CODES) -> list[dict]:
    """A CorpusSpec -> that many cases (plain dicts as in the contract, money as Decimal)."""
    draw = _Draw(spec.seed)
    cases = []
    for _ in range(spec.size):
        application = draw.day(spec.first_day, spec.last_day)
        enterprise = _enterprise(draw, application)
        project = _project(draw, application, listed_codes)
        cases.append({"application_date": application.isoformat(), "enterprise": enterprise, "project": project})
    return cases


def case_json(value) -> str:
    """A case -> one line of JSON; Decimal amounts are written as exact JSON numbers."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{case_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(case_json(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return format(value, "f")
    return json.dumps(value, ensure_ascii=False)


def corpus_lines(cases: Iterable[dict]) -> Iterator[str]:
    """Cases -> JSON lines (without the line ends)."""
    for case in cases:
        yield case_json(case)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date YYYY-MM-DD") from None


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of cases")
    return int(text)


class _Arguments(argparse.ArgumentParser):
    def error(self, message):
        raise ValueError(f"{self.prog}: {message}")


def main(argv=None, stdout=None, stderr=None) -> int:
    """Write a corpus; exit status 0, or 2 with a message for bad arguments."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = _Arguments(prog="corpus.py", description="Write N realistic synthetic cases as JSON lines.")
    parser.add_argument("size", type=_count, metavar="N", help="how many cases")
    parser.add_argument("--seed", type=int, default=0, help="the same seed gives the same cases (default 0)")
    period = parser.add_mutually_exclusive_group()
    period.add_argument("--year", type=int, help="application dates in this calendar year (default: this year)")
    period.add_argument("--from", dest="first_day", type=_day, metavar="DATE", help="first application date")
    parser.add_argument("--to", dest="last_day", type=_day, metavar="DATE", help="last application date")
    parser.add_argument("--out", type=Path, metavar="FILE", help="write to this file instead of standard output")
    try:
        args = parser.parse_args(argv)
    except ValueError as error:
        stderr.write(f"{error}\n")
        return 2
    if args.first_day is not None or args.last_day is not None:
        if args.first_day is None or args.last_day is None:
            stderr.write("corpus.py: --from and --to go together\n")
            return 2
        if args.last_day < args.first_day:
            stderr.write(f"corpus.py: --to {args.last_day} lies before --from {args.first_day}\n")
            return 2
        spec = CorpusSpec(args.size, args.seed, args.first_day, args.last_day)
    else:
        spec = year_spec(args.size, args.seed, args.year if args.year is not None else date.today().year)
    text = "".join(line + "\n" for line in corpus_lines(generate_cases(spec)))
    if args.out is not None:
        try:
            args.out.write_text(text, encoding="utf-8")
        except OSError as error:
            stderr.write(f"corpus.py: cannot write {args.out}: {error.strerror or error}\n")
            return 2
    else:
        stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
