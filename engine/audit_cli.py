"""Commands for auditors: `diff` and `corpus` (registered into the CLI).

    kmo-rules diff FROM TO [--cases PATH] [--format text|json|markdown] [--show N|all] [--rules DIR]
    kmo-rules corpus N [--seed S] [--year YEAR | --from DATE --to DATE] [--out FILE.jsonl]

FROM and TO are version ids or dates (the version in force that day). Only
rendering happens here; `diff.py`, `impact.py` and `corpus.py` do the work.
"""
from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

PROGRESS_FROM = 2000  # cases; fewer are done before anyone would look at a progress line

def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date YYYY-MM-DD") from None


def _show(text: str) -> int | None:
    if text == "all":
        return None
    try:
        number = int(text)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of cases or 'all'")
    return number


def _count(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of cases (0 or more)")
    return number


def add_commands(commands, handlers: dict) -> None:
    """Add this module's subcommands to the CLI; each handler is f(args, stdin, stdout, stderr) -> int."""
    diff = commands.add_parser(
        "diff", help="what changes between two versions (ids or dates), and what it does to a set of cases",
        description="Compare two versions of the rules, named by version id or by date (the version in force "
                    "that day). With --cases, decide every case under both and report what changes.")
    diff.add_argument("from_version", metavar="FROM", help="a version id or a date YYYY-MM-DD")
    diff.add_argument("to_version", metavar="TO", help="a version id or a date YYYY-MM-DD")
    diff.add_argument("--cases", metavar="PATH",
                      help="a folder of JSON/YAML cases, a JSON-lines file, or - for JSON lines on standard input")
    diff.add_argument("--format", choices=("text", "json", "markdown"), default="text",
                      help="text for a person (default), json for programs, markdown for a report")
    diff.add_argument("--show", type=_show, default=50, metavar="N|all",
                      help="how many changed cases to list in text and Markdown (default 50)")
    diff.add_argument("--rules", type=Path, metavar="DIR", help="another rules folder (default: the bundled rules)")
    handlers["diff"] = _diff

    corpus = commands.add_parser(
        "corpus", help="write N realistic synthetic cases as JSON lines (reproducible with --seed)",
        description="Generate a synthetic, valid corpus of applications with the scheme's real mix of sizes, "
                    "themes and amounts, including ineligible cases.")
    corpus.add_argument("size", type=_count, metavar="N", help="how many cases")
    corpus.add_argument("--seed", type=int, default=0, help="the same seed gives the same cases (default 0)")
    period = corpus.add_mutually_exclusive_group()
    period.add_argument("--year", type=int, help="application dates in this year (default: the current year)")
    period.add_argument("--from", dest="first_day", type=_day, metavar="DATE", help="first application date")
    corpus.add_argument("--to", dest="last_day", type=_day, metavar="DATE", help="last application date")
    corpus.add_argument("--out", type=Path, metavar="FILE", help="write to this file instead of standard output")
    handlers["corpus"] = _corpus


def _progress(stderr):
    """Progress on standard error, only when it is a terminal."""
    isatty = getattr(stderr, "isatty", None)
    if not (isatty and isatty()):
        return None, lambda: None
    shown = {"any": False}

    def report(stage: str, done: int, total: int) -> None:
        shown["any"] = True
        stderr.write(f"\r{stage} {done}/{total} cases ")
        stderr.flush()

    def finish() -> None:
        if shown["any"]:
            stderr.write("\r" + " " * 40 + "\r")
            stderr.flush()
    return report, finish


def _diff(args, stdin, stdout, stderr) -> int:
    from .audit_render import (diff_data, impact_data, render_diff_markdown, render_diff_text,
                               render_impact_markdown, render_impact_text)
    from .diff import diff as diff_of, resolve_version
    from .impact import cases_from_lines, impact, read_cases
    from .pipeline import open_rules

    book = open_rules(args.rules)
    report = None
    if args.cases is None:
        ruleset_diff = diff_of(book, args.from_version, args.to_version)
    else:
        resolve_version(book, args.from_version)  # an unknown version is refused before any case is read
        resolve_version(book, args.to_version)
        cases = cases_from_lines(stdin, "<stdin>") if args.cases == "-" else read_cases(args.cases)
        progress, finish = _progress(stderr) if len(cases) >= PROGRESS_FROM else (None, lambda: None)
        try:
            report = impact(book, args.from_version, args.to_version, cases, progress=progress)
        finally:
            finish()
        ruleset_diff = report.diff
    if args.format == "json":
        data = diff_data(ruleset_diff)
        data["impact"] = impact_data(report) if report is not None else None
        stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    elif args.format == "markdown":
        stdout.write(render_diff_markdown(ruleset_diff))
        if report is not None:
            stdout.write("\n" + render_impact_markdown(report, args.show))
    else:
        stdout.write(render_diff_text(ruleset_diff))
        if report is not None:
            stdout.write("\n" + render_impact_text(report, args.show))
    return 0


def _corpus(args, stdin, stdout, stderr) -> int:
    from .corpus import CorpusSpec, corpus_lines, generate_cases, year_spec
    if args.first_day is not None or args.last_day is not None:
        if args.first_day is None or args.last_day is None:
            stderr.write("kmo-rules corpus: --from and --to go together\n")
            return 2
        if args.last_day < args.first_day:
            stderr.write(f"kmo-rules corpus: --to {args.last_day} lies before --from {args.first_day}\n")
            return 2
        spec = CorpusSpec(args.size, args.seed, args.first_day, args.last_day)
    else:
        year = args.year if args.year is not None else date.today().year
        if not 1900 <= year <= 9998:
            stderr.write(f"kmo-rules corpus: --year {year} is not a plausible year\n")
            return 2
        spec = year_spec(args.size, args.seed, year)
    cases = generate_cases(spec)
    text = "".join(line + "\n" for line in corpus_lines(cases))
    if args.out is not None:
        try:
            args.out.write_text(text, encoding="utf-8")
        except OSError as error:
            stderr.write(f"kmo-rules corpus: cannot write {args.out}: {error.strerror or error}\n")
            return 2
    else:
        stdout.write(text)
    return 0
