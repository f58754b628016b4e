"""The kmo-portefeuille rules of 2024 written by hand in plain Python: the yardstick.

It does the same work as `Ruleset.evaluate` for the version in force from
2024-01-01: it validates the case JSON (field by field, with JSON paths),
converts money to Decimal, works out size, eligibility with every reason,
eligible cost, rate, subsidy with both ceilings, deadlines and notes. It is
used to time the engine against, and to cross-check its decisions.
"""
from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal(0)
EXCLUDED_FORMS = {"vzw", "ivzw", "foundation", "public_body", "partnership_without_legal_personality",
                  "temporary_partnership", "silent_partnership", "de_facto_association"}
LEGAL_FORMS = {"sole_trader", "bv", "nv", "cv", "vof", "commv"} | EXCLUDED_FORMS
REGIONS = {"flemish", "brussels", "walloon", "abroad"}
THEMES = {"business_strategy", "professional_competences", "digitalisation", "sustainability", "financial_literacy",
          "innovation", "internationalisation", "hr_management"}
FOCUS_THEME = {"cybersecurity": "digitalisation", "energy_efficiency": "sustainability"}
EXCLUDED_SERVICES = {"shiatsu", "mindfulness", "reflexology", "astrology", "insights_discovery", "mbti", "nlp", "exam",
                     "meridian_theory", "hypnosis", "driving_licence", "pilot_licence", "subscription_service",
                     "team_building", "networking", "study_trip"}
WHITELIST = {f"PC-SAMPLE-{i:03d}" for i in range(1, 21)}
NACE = re.compile(r"^\d{2}(\.\d{1,3})?$")
DECIMAL_TEXT = re.compile(r"^-?\d+(\.\d+)?$")


class InvalidCase(Exception):
    pass


def _money(value, path, problems, low=ZERO):
    if type(value) is int or type(value) is Decimal:
        number = Decimal(value)
    elif type(value) is str and DECIMAL_TEXT.match(value):
        number = Decimal(value)
    else:
        problems.append(f"{path}: must be a number >= 0, got {value!r}")
        return ZERO
    if number < low:
        problems.append(f"{path}: must be a number >= 0, got {value!r}")
    return number


def _flag(value, path, problems, default=False):
    if value is None:
        return default
    if type(value) is not bool:
        problems.append(f"{path}: must be true or false, got {value!r}")
        return default
    return value


def _class(units, turn, bal):
    if units < 50 and (turn <= 10_000_000 or bal <= 10_000_000):
        return "small"
    if units < 250 and (turn <= 50_000_000 or bal <= 43_000_000):
        return "medium"
    return "large"


def _day(value, path, problems):
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        problems.append(f"{path}: must be a date YYYY-MM-DD, got {value!r}")
        return date(2000, 1, 1)


def _only(obj, allowed, path, problems):
    for key in obj:
        if key not in allowed:
            problems.append(f"{path}.{key}: unknown field")


def decide(case: dict) -> dict:
    problems: list[str] = []
    _only(case, {"application_date", "enterprise", "project"}, "", problems)
    applied = _day(case.get("application_date"), "application_date", problems)
    ent = case.get("enterprise") or {}
    _only(ent, {"legal_form", "establishment_region", "nace_code", "employees", "annual_turnover",
                "balance_sheet_total", "adapted_work_enterprise", "related_enterprises", "prior_aid", "public_share",
                "previous_year", "road_freight_for_hire"}, "enterprise", problems)
    public = _money(ent.get("public_share", 0), "enterprise.public_share", problems)
    if public > 1:
        problems.append("enterprise.public_share: must be a number <= 1")
    _flag(ent.get("road_freight_for_hire"), "enterprise.road_freight_for_hire", problems)
    _flag(ent.get("adapted_work_enterprise"), "enterprise.adapted_work_enterprise", problems)
    before = ent.get("previous_year")
    if before is not None:
        _only(before, {"employees", "annual_turnover", "balance_sheet_total"}, "enterprise.previous_year", problems)
        before = (_money(before.get("employees"), "enterprise.previous_year.employees", problems),
                  _money(before.get("annual_turnover"), "enterprise.previous_year.annual_turnover", problems),
                  _money(before.get("balance_sheet_total"), "enterprise.previous_year.balance_sheet_total", problems))
    form = ent.get("legal_form")
    if form not in LEGAL_FORMS:
        problems.append("enterprise.legal_form: unknown")
    region = ent.get("establishment_region")
    if region not in REGIONS:
        problems.append("enterprise.establishment_region: unknown")
    nace = ent.get("nace_code")
    if not isinstance(nace, str) or not NACE.match(nace):
        problems.append("enterprise.nace_code: bad")
    employees = _money(ent.get("employees"), "enterprise.employees", problems)
    turnover = _money(ent.get("annual_turnover"), "enterprise.annual_turnover", problems)
    balance = _money(ent.get("balance_sheet_total"), "enterprise.balance_sheet_total", problems)
    related = []
    for i, r in enumerate(ent.get("related_enterprises", ())):
        p = f"enterprise.related_enterprises[{i}]"
        _only(r, {"share", "employees", "annual_turnover", "balance_sheet_total"}, p, problems)
        related.append((_money(r.get("share"), p + ".share", problems), _money(r.get("employees"), p + ".employees", problems),
                        _money(r.get("annual_turnover"), p + ".annual_turnover", problems),
                        _money(r.get("balance_sheet_total"), p + ".balance_sheet_total", problems)))
    aid = []
    for i, a in enumerate(ent.get("prior_aid", ())):
        p = f"enterprise.prior_aid[{i}]"
        _only(a, {"granted_on", "amount", "scheme", "size_class", "withdrawn_on"}, p, problems)
        granted = _day(a.get("granted_on"), p + ".granted_on", problems)
        withdrawn = _day(a["withdrawn_on"], p + ".withdrawn_on", problems) if a.get("withdrawn_on") is not None else None
        if a.get("size_class") not in (None, "small", "medium"):
            problems.append(f"{p}.size_class: unknown")
        if withdrawn is not None and withdrawn < granted:
            problems.append(f"{p}.withdrawn_on: before granted_on")
        aid.append((granted, _money(a.get("amount"), p + ".amount", problems), a.get("scheme"), a.get("size_class"),
                    withdrawn))
    pro = case.get("project") or {}
    _only(pro, {"kind", "theme", "focus", "service_code", "service_category", "provider_registered", "start_date",
                "end_date", "distance_learning", "live_interaction", "legally_required", "participants", "days", "costs",
                "provider_related"}, "project", problems)
    related_provider = _flag(pro.get("provider_related"), "project.provider_related", problems)
    kind = pro.get("kind")
    if kind not in ("training", "advice"):
        problems.append("project.kind: unknown")
    theme = pro.get("theme")
    if theme is not None and theme not in THEMES:
        problems.append("project.theme: unknown")
    focus = pro.get("focus")
    if focus is not None and focus not in FOCUS_THEME:
        problems.append("project.focus: unknown")
    category = pro.get("service_category")
    if category is not None and category not in EXCLUDED_SERVICES:
        problems.append("project.service_category: unknown")
    code = pro.get("service_code")
    start = _day(pro.get("start_date"), "project.start_date", problems)
    end = _day(pro["end_date"], "project.end_date", problems) if pro.get("end_date") is not None else None
    participants = pro.get("participants", 1)
    days = Decimal(pro.get("days", 1))
    costs = pro.get("costs") or {}
    _only(costs, {"fee", "catering", "materials", "trainer_travel"}, "project.costs", problems)
    fee = _money(costs.get("fee"), "project.costs.fee", problems)
    catering = _money(costs.get("catering", 0), "project.costs.catering", problems)
    materials = _money(costs.get("materials", 0), "project.costs.materials", problems)
    travel = _money(costs.get("trainer_travel", 0), "project.costs.trainer_travel", problems)
    if focus is not None and FOCUS_THEME[focus] != theme:
        problems.append("project.focus: belongs to another theme")
    if end is not None and end < start:
        problems.append("project.end_date: before start")
    if theme == "professional_competences" and code is None:
        problems.append("project.service_code: required")
    if problems:
        raise InvalidCase(problems)

    linked = [r for r in related if r[0] > Decimal("0.5")]
    partners = [r for r in related if Decimal("0.25") <= r[0] <= Decimal("0.5")]
    units = employees + sum(r[1] for r in linked) + sum(r[1] * r[0] for r in partners)
    turn = turnover + sum(r[2] for r in linked) + sum(r[2] * r[0] for r in partners)
    bal = balance + sum(r[3] for r in linked) + sum(r[3] * r[0] for r in partners)
    size = _class(units, turn, bal)
    if before is not None:  # two consecutive periods: the class of the period before until a change has lasted
        size = _class(before[0] + units - employees, before[1] + turn - turnover, before[2] + bal - balance)
    if public >= Decimal("0.25"):
        size = "large"
    own = [a for a in aid if a[2] == "kmo-portefeuille" and a[0].year == applied.year and a[0] <= applied and a[3]]
    fixed = min(own, key=lambda a: (a[0], a[3] != "small"))[3] if own else None
    eu_size, size = size, fixed or size
    cap = Decimal(25) * participants * days
    training = kind == "training"
    eligible_catering = min(catering, cap) if training else ZERO
    cost = fee + eligible_catering + materials + travel if training else fee
    deadline = start + timedelta(days=14)
    completion = date(applied.year + 1, 12, 31)

    reasons = []
    if form in EXCLUDED_FORMS:
        reasons.append("legal_form_excluded")
    if region != "flemish":
        reasons.append("outside_flemish_region")
    if size == "large":
        reasons.append("not_sme")
    if nace.startswith(("01", "03")):
        reasons.append("activity_excluded")
    if theme not in THEMES:
        reasons.append("theme_not_eligible")
    if theme == "professional_competences" and code not in WHITELIST:
        reasons.append("service_not_whitelisted")
    if category in EXCLUDED_SERVICES:
        reasons.append("service_excluded")
    if not pro.get("provider_registered"):
        reasons.append("provider_not_registered")
    if related_provider:
        reasons.append("provider_related")
    if training and pro.get("distance_learning", False) and not pro.get("live_interaction", True):
        reasons.append("distance_learning_without_interaction")
    if kind == "advice" and pro.get("legally_required", False):
        reasons.append("advice_excluded")
    if cost < (Decimal(100) if training else Decimal(500)):
        reasons.append("below_minimum_amount")
    if applied > deadline:
        reasons.append("application_too_late")
    if end is not None and end > completion:
        reasons.append("completion_too_late")
    eligible = not reasons

    uplifted = focus in ("cybersecurity", "energy_efficiency")
    rate = (Decimal("0.45") if size == "small" else Decimal("0.35")) if uplifted else (
        Decimal("0.30") if size == "small" else Decimal("0.20"))
    gross = (rate * cost).quantize(CENT, ROUND_HALF_UP)
    used = sum((amount for day, amount, scheme, _, stopped in aid
                if scheme == "kmo-portefeuille" and day.year == applied.year and day <= applied
                and not (stopped is not None and stopped <= applied and stopped.year == day.year)), ZERO)
    annual_left = max(ZERO, Decimal(7500) - used)
    try:
        window_start = applied.replace(year=applied.year - 3)
    except ValueError:
        window_start = date(applied.year - 3, 2, 28)
    dm_used = sum((amount for day, amount, *_ in aid if window_start < day <= applied), ZERO)
    dm_left = max(ZERO, Decimal(300_000) - dm_used)
    subsidy = min(gross, annual_left, dm_left) if eligible else ZERO
    notes = []
    if training and catering > cap:
        notes.append("catering_capped")
    if eligible and annual_left < gross:
        notes.append("annual_ceiling_reached")
    if fixed is not None and fixed != eu_size:
        notes.append("size_fixed_for_the_year")
    if eligible and dm_left < min(gross, annual_left):
        notes.append("de_minimis_ceiling_reached")
    return {
        "eligible": eligible, "size_class": size, "rate": str(rate) if eligible else None,
        "eligible_cost": str(cost.quantize(CENT)), "subsidy": str(subsidy.quantize(CENT)),
        "own_contribution": str((cost - subsidy).quantize(CENT)), "application_deadline": deadline.isoformat(),
        "completion_deadline": completion.isoformat(), "reasons": reasons, "notes": notes,
    }
