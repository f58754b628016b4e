"""Seeded cases for the benchmarks: varied, valid, with the mix of the real scheme in 2024."""
from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

THEMES = ["business_strategy", "digitalisation", "sustainability", "financial_literacy", "innovation",
          "internationalisation", "hr_management", "professional_competences", None]


def generate(n: int, seed: int = 2024, year: int = 2024) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        applied = date(year, 1, 1) + timedelta(days=rng.randrange(365))
        start = applied + timedelta(days=rng.randrange(-17, 30))
        small = rng.random() < 0.9
        theme = rng.choice(THEMES)
        focus = None
        if theme == "digitalisation" and rng.random() < 0.3:
            focus = "cybersecurity"
        elif theme == "sustainability" and rng.random() < 0.4:
            focus = "energy_efficiency"
        training = rng.random() < 0.93
        related = []
        for _ in range(rng.choice([0, 0, 0, 1, 2])):
            related.append({"share": Decimal(rng.choice(["0.1", "0.25", "0.3", "0.5", "0.8"])),
                            "employees": rng.randrange(0, 60), "annual_turnover": rng.randrange(0, 8_000_000),
                            "balance_sheet_total": rng.randrange(0, 5_000_000)})
        aid = []
        for _ in range(rng.choice([0, 0, 1, 2, 3])):
            aid.append({"granted_on": (applied - timedelta(days=rng.randrange(0, 1400))).isoformat(),
                        "amount": Decimal(rng.randrange(100, 7000)),
                        "scheme": rng.choice(["kmo-portefeuille", "kmo-portefeuille", "other-de-minimis"])})
        project = {
            "kind": "training" if training else "advice", "theme": theme, "focus": focus,
            "provider_registered": rng.random() < 0.98, "start_date": start.isoformat(),
            "participants": rng.randrange(1, 12), "days": rng.randrange(1, 5),
            "costs": {"fee": Decimal(rng.randrange(50, 3000 if training else 20000)) + Decimal(rng.randrange(100)) / 100},
        }
        if theme == "professional_competences":
            project["service_code"] = rng.choice(["PC-SAMPLE-003", "PC-SAMPLE-011", "XX-1"])
        if training and rng.random() < 0.5:
            project["costs"]["catering"] = Decimal(rng.randrange(0, 900))
            project["costs"]["materials"] = Decimal(rng.randrange(0, 300))
        if rng.random() < 0.05:
            project["service_category"] = rng.choice(["mindfulness", "team_building", "nlp"])
        if rng.random() < 0.5:
            project["end_date"] = (start + timedelta(days=rng.randrange(1, 800))).isoformat()
        out.append({
            "application_date": applied.isoformat(),
            "enterprise": {
                "legal_form": rng.choice(["bv"] * 6 + ["nv", "sole_trader", "cv", "vzw"]),
                "establishment_region": "flemish" if rng.random() < 0.96 else "brussels",
                "nace_code": rng.choice(["62.010", "43.210", "69.202", "01.110", "47.190", "25.110"]),
                "employees": rng.randrange(1, 45) if small else rng.randrange(50, 300),
                "annual_turnover": rng.randrange(50_000, 9_000_000) if small else rng.randrange(9_000_000, 60_000_000),
                "balance_sheet_total": rng.randrange(20_000, 9_000_000) if small else rng.randrange(5_000_000, 50_000_000),
                "related_enterprises": related, "prior_aid": aid,
            },
            "project": project,
        })
    return out
