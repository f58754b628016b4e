"""Commands for auditors: `diff` (registered into the CLI).

    kmo-rules diff FROM TO [--cases PATH] [--format text|json|markdown] [--show N|all] [--rules DIR]

FROM and TO are version ids or dates (the version in force that day). Only
rendering happens here; `semantic_diff.py` and `impact_analysis.py` do the work. A synthetic
corpus to run impacts on is written by `benchmarks/corpus.py`.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

PROGRESS_FROM = 2000  # cases; fewer are done before anyone would look at a progress line


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
    from ..audit.render_json import diff_data, impact_data
    from ..audit.render_markdown import render_diff_markdown, render_impact_markdown
    from ..audit.render_text import render_diff_text, render_impact_text
    from ..audit.semantic_diff import diff as diff_of
    from ..audit.impact_analysis import cases_from_lines, impact, read_cases
    from ..pipeline import open_rules

    book = open_rules(args.rules, args.scheme)
    report = None
    if args.cases is None:
        ruleset_diff = diff_of(book, args.from_version, args.to_version)
    else:
        book.resolve(args.from_version)  # an unknown version is refused before any case is read
        book.resolve(args.to_version)
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


