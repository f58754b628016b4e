"""The `kmo-rules` command line: a thin layer over the Python API.

`run(argv, stdin, stdout, stderr) -> exit status` is testable in memory.
Exit status 0: done (a decision was made, eligible or not); 1: tests failed;
2: the input or the rules are invalid (each problem on standard error, by JSON
path or file:line:col; nothing on standard output).
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from .diagnostics import CaseError, CaseProblem, KmoRulesError, RulesError, VersionNotFound
from .render import render_diagnostics
from .values import in_engine_context


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _UsageError(f"{self.prog}: {message}")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date YYYY-MM-DD") from None


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kmo-rules", description="The kmo-portefeuille rules as data: evaluate, explain, compare.")
    parser.add_argument("--version", action="store_true", help="print the version of kmo-rules and stop")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    evaluate = commands.add_parser("evaluate", help="decide cases (JSON or YAML files, or - for standard input)")
    evaluate.add_argument("cases", nargs="+", metavar="CASE")
    evaluate.add_argument("--on", type=_day, help="use the rules in force on this date, not the application date")
    evaluate.add_argument("--rules", type=Path, help="another rules folder (default: the bundled rules)")
    evaluate.add_argument("--explain", action="store_true", help="add the trace of the decision")
    evaluate.add_argument("--lang", choices=("en", "nl"), default="en", help="language of messages and explanations")
    evaluate.add_argument("--format", choices=("json", "text"), default="json",
                          help="json (the contract, default) or text (for a person)")

    versions = commands.add_parser("versions", help="list the versions with their periods and hashes")
    versions.add_argument("--rules", type=Path)
    versions.add_argument("--format", choices=("text", "json"), default="text")

    show = commands.add_parser("show", help="print the whole ruleset in force on a date, resolved, as YAML")
    show.add_argument("--on", type=_day)
    show.add_argument("--version", dest="version_id")
    show.add_argument("--rules", type=Path)
    show.add_argument("--provenance", action="store_true", help="say which version last changed each item")

    from . import analyst_cli, audit_cli  # commands for analysts (validate, test) and auditors (diff, corpus)
    analyst_cli.add_commands(commands, _HANDLERS)
    audit_cli.add_commands(commands, _HANDLERS)
    return parser


def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("kmo-rules")
    except PackageNotFoundError:
        return "(not installed)"


MAX_CASE_BYTES = 5_000_000  # a case file larger than this is refused, not read


class _FileProblem(KmoRulesError):
    """A case file that cannot be read at all: the message names the file."""


def _case_text(name: str, stdin) -> str:
    """The text of a case file (or of standard input), bounded in size; regular files only."""
    import os
    import stat
    if name == "-":
        text = stdin.read(MAX_CASE_BYTES + 1)
    else:
        try:
            info = os.stat(name)
            if stat.S_ISDIR(info.st_mode):
                raise _FileProblem(f"{name}: cannot read: it is a folder, not a case file")
            if not stat.S_ISREG(info.st_mode):
                raise _FileProblem(f"{name}: cannot read: not a regular file")
            if info.st_size > MAX_CASE_BYTES:
                raise _FileProblem(f"{name}: cannot read: larger than {MAX_CASE_BYTES:,} bytes")
            with open(name, "rb") as handle:
                data = handle.read(MAX_CASE_BYTES + 1)
        except OSError as error:
            reason = (error.strerror or str(error)).lower()
            raise _FileProblem(f"{name}: cannot read: {reason}") from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise _FileProblem(f"{name}: not UTF-8 text (byte {error.start + 1})") from None
    if name == "-":
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # standard input decoded with surrogateescape
            raise _FileProblem("<stdin>: not UTF-8 text") from None
    if len(text) > MAX_CASE_BYTES:
        raise _FileProblem(f"{'<stdin>' if name == '-' else name}: larger than {MAX_CASE_BYTES:,} bytes")
    if not text.strip():
        raise _FileProblem(f"{'<stdin>' if name == '-' else name}: the case is empty")
    return text


def _read_case(name: str, stdin) -> object:
    from .case import CaseTextError, parse_case_text
    text = _case_text(name, stdin)
    try:
        return parse_case_text(text)
    except CaseTextError as error:
        raise _FileProblem(f"{'<stdin>' if name == '-' else name}: {error}") from None


def _shown(value) -> str:
    """A value as the case validator shows it in a message."""
    from decimal import Decimal
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, default=str, ensure_ascii=False)[:80]


def _application_date(raw, name: str) -> date:
    if not isinstance(raw, dict):
        raise CaseError([CaseProblem((), "a case must be an object with application_date, enterprise and project")], name)
    value = raw.get("application_date")
    if value is None:
        raise CaseError([CaseProblem(("application_date",), "is required (it decides which rules apply)")], name)
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise CaseError([CaseProblem(("application_date",), f"must be a date YYYY-MM-DD, got {_shown(value)}")],
                        name) from None


def _with_the_other_problems(book, raw, error: Exception, shown: str) -> CaseError:
    """No version can be chosen: the date's problem, and every other problem the latest version finds."""
    from .evaluate import check_case
    first = list(error.problems) if isinstance(error, CaseError) else \
        [CaseProblem(("application_date",), str(error))]
    try:
        check_case(book.build(book.sources[-1]).compiled, raw, shown)
    except CaseError as other:
        first += [p for p in other.problems if p.path[:1] != ("application_date",)]
    return CaseError(first, shown)


def _evaluate(args, stdin, stdout, stderr) -> int:
    from .evaluate import evaluate_case
    from .pipeline import open_rules
    book = open_rules(args.rules)
    outputs: list[str] = []
    problems: list[str] = []
    for name in args.cases:
        shown = "<stdin>" if name == "-" else name
        try:
            raw = _read_case(name, stdin)
            try:
                day = args.on or _application_date(raw, shown)
                built = book.on(day)
            except (CaseError, VersionNotFound) as error:
                if args.on:
                    raise
                raise _with_the_other_problems(book, raw, error, shown) from None
            decision = evaluate_case(built.compiled, built.info, raw, explain=args.explain, lang=args.lang, source=shown)
        except CaseError as error:
            prefix = f"{error.source}: " if error.source and len(args.cases) > 1 else ""
            problems += [prefix + str(p) for p in error.problems]
            continue
        except (VersionNotFound, _FileProblem) as error:
            problems.append(str(error) if isinstance(error, _FileProblem) else f"{shown}: {error}")
            continue
        if args.format == "text":
            from .explain import render_decision
            outputs.append(render_decision(decision, args.lang, book.build(built.source).checked))
        elif len(args.cases) == 1:
            outputs.append(json.dumps(decision.to_dict(), indent=2, ensure_ascii=False))
        else:
            outputs.append(json.dumps(decision.to_dict(), ensure_ascii=False))
    if problems:
        stderr.write("\n".join(problems) + "\n")
        return 2
    stdout.write("\n".join(outputs) + "\n")
    return 0


def _versions(args, stdout) -> int:
    from .pipeline import open_rules
    book = open_rules(args.rules)
    rows = []
    for source in book.sources:
        built = book.build(source)
        rows.append({"version": source.version, "effective_from": source.effective_from.isoformat(),
                     "effective_until": source.effective_until.isoformat() if source.effective_until else None,
                     "summary": source.summary, "source": source.source, "sha256": built.info.sha256,
                     "file": source.file})
    if args.format == "json":
        stdout.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
        return 0
    stdout.write(f"{book.ruleset_id}: {len(rows)} versions\n")
    for row in rows:
        until = row["effective_until"] or "open"
        stdout.write(f"{row['version']}  {row['effective_from']} .. {until:<10}  sha256 {row['sha256'][:16]}  "
                     f"{row['summary']}\n")
    return 0


def _show(args, stdout) -> int:
    import yaml
    from .pipeline import open_rules
    from .printer import canonical
    book = open_rules(args.rules)
    source = book.source_named(args.version_id) if args.version_id else book.source_on(args.on or date.today())
    built = book.build(source)
    data = canonical(built.checked, with_provenance=args.provenance)
    data["sha256"] = built.info.sha256
    stdout.write(f"# {source.ruleset} {source.version}, resolved from {', '.join(source.history)}\n")
    stdout.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110))
    return 0


@in_engine_context
def run(argv: list[str], stdin=None, stdout=None, stderr=None) -> int:
    """Run one kmo-rules command; returns the exit status."""
    stdin = stdin if stdin is not None else sys.stdin
    stdout = stdout if stdout is not None else sys.stdout
    stderr = stderr if stderr is not None else sys.stderr
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as error:
        stderr.write(f"{error}\n")
        return 2
    except SystemExit as exit:  # --help
        return int(exit.code or 0)
    if args.version and args.command is None:
        stdout.write(f"kmo-rules {_installed_version()}\n")
        return 0
    if args.command is None:
        parser.print_help(stderr)  # a usage error: exit 2, nothing on standard output
        return 2
    try:
        handler = _HANDLERS[args.command]
        return handler(args, stdin, stdout, stderr)
    except RulesError as error:
        stderr.write(render_diagnostics(error.diagnostics) + "\n")
        return 2
    except VersionNotFound as error:
        stderr.write(f"kmo-rules: {error}\n")
        return 2
    except CaseError as error:
        stderr.write(str(error) + "\n")
        return 2
    except KmoRulesError as error:
        stderr.write(f"kmo-rules: {error}\n")
        return 2
    except BrokenPipeError:
        return 0


_HANDLERS = {
    "evaluate": _evaluate,
    "versions": lambda args, stdin, stdout, stderr: _versions(args, stdout),
    "show": lambda args, stdin, stdout, stderr: _show(args, stdout),
}


def main() -> int:
    return run(sys.argv[1:])
