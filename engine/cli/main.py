"""The `kmo-rules` command line: a thin layer over the Python API.

`run(argv, stdin, stdout, stderr) -> exit status` is testable in memory.
Exit status 0: done (a decision was made, eligible or not); 1: tests failed, or a
replayed decision (`verify`) differs;
2: the input or the rules are invalid (each problem on standard error, by JSON
path or file:line:col; nothing on standard output).
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from ..core.diagnostics import CaseError, EngineBug, KmoRulesError, RulesError, VersionNotFound
from ..present.render import problem_in, render_diagnostics
from ..core.values import in_engine_context
from ..source.versions import shown_path


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


def _jobs(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 512:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of processes from 1 to 512")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kmo-rules", description="The kmo-portefeuille rules as data: evaluate, explain, compare.")
    parser.add_argument("--version", action="store_true", help="print the version of kmo-rules and stop")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    evaluate = commands.add_parser("evaluate", help="decide cases (JSON or YAML files, or - for standard input)")
    evaluate.add_argument("cases", nargs="+", metavar="CASE")
    evaluate.add_argument("--on", type=_day, help="use the rules in force on this date, not the application date")
    evaluate.add_argument("--rules", type=Path, help="another rules folder (default: the bundled rules)")
    evaluate.add_argument("--explain", action="store_true", help="add the trace of the decision (with --format "
                          "text: how it was decided, for a person)")
    evaluate.add_argument("--full", action="store_true", help="with --format text: the explanation for an analyst, "
                          "with every expression, code and path (implies --explain)")
    evaluate.add_argument("--lang", choices=("en", "nl"), default="en", help="language of messages and explanations")
    evaluate.add_argument("--format", choices=("json", "text"), default="json",
                          help="json (the contract, default) or text (for a person)")
    evaluate.add_argument("--jobs", type=_jobs, metavar="N",
                          help="for JSON Lines: decide on N processes (default: every core; one for a file "
                               "of at most 256 KiB)")
    evaluate.add_argument("--keep-going", action="store_true",
                          help="for JSON Lines: write an error line for an invalid case and go on (exit 1)")

    versions = commands.add_parser(
        "versions", help="list the versions with their periods and hashes",
        description="List the versions with their periods and content hashes. The text shortens each sha256 to "
                    "as many characters as keep it unique (at least 12); --format json has the full hash.")
    versions.add_argument("--rules", type=Path)
    versions.add_argument("--format", choices=("text", "json"), default="text",
                          help="text for a person (default; hashes shortened), json with the full sha256")

    show = commands.add_parser("show", help="print the whole ruleset in force on a date, resolved, as YAML")
    show.add_argument("--on", type=_day)
    show.add_argument("--version", dest="version_id")
    show.add_argument("--rules", type=Path)
    show.add_argument("--provenance", action="store_true", help="say which version last changed each item")
    show.add_argument("--canonical", action="store_true",
                      help="print exactly the text whose sha256 is the version's hash (no newline at the end): "
                           "kmo-rules show --on DATE --canonical | sha256sum")

    verify = commands.add_parser(
        "verify", help="decide a stored decision's case again under the version it names, and compare",
        description="Replay a stored decision: decide CASE again under the version DECISION names (not the one "
                    "its date would pick today), check that the rules still hash to its sha256, and compare every "
                    "field. Exit 0 when identical, 1 listing each difference, 2 when the input is not usable.")
    verify.add_argument("case", metavar="CASE", help="the case (a JSON or YAML file, or - for standard input)")
    verify.add_argument("decision", metavar="DECISION", help="the stored decision (a JSON file, as evaluate wrote it)")
    verify.add_argument("--rules", type=Path, metavar="DIR", help="another rules folder (default: the bundled rules)")

    schemes = commands.add_parser("schemes", help="list the schemes of the rules folder, with their periods",
                                  description="List the schemes of a rules folder (each a folder with scheme.yaml), "
                                              "the modules they use and the period their versions cover.")
    schemes.add_argument("--rules", type=Path, metavar="DIR", help="another rules folder (default: the bundled rules)")
    schemes.add_argument("--format", choices=("text", "json"), default="text")

    from . import analyst, audit  # commands for analysts (validate, test) and auditors (diff, corpus)
    analyst.add_commands(commands, _HANDLERS)
    audit.add_commands(commands, _HANDLERS)
    for name, command in commands.choices.items():  # every command reads one scheme of the catalog
        if name != "schemes" and not any("--scheme" in a.option_strings for a in command._actions):
            every = name in ("validate", "test")
            command.add_argument("--scheme", metavar="ID", help="the scheme of the rules folder (default: "
                                 + ("every scheme" if every else "the one its catalog marks as default")
                                 + "; see kmo-rules schemes)")
    from ..serve import command as serve  # kmo-rules serve: every scheme over HTTP (needs the serve extra to run)
    serve.add_commands(commands, _HANDLERS)
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


def _checked_stdin(text: str) -> str:
    return _case_text("-", _Already(text))


class _Already:
    """Standard input already read (to see whether it is JSON Lines)."""

    def __init__(self, text: str):
        self.text = text

    def read(self, limit: int) -> str:
        return self.text[:limit]


def _file_text(name: str, limit: int, what: str) -> str:
    """The UTF-8 text of a file the user named: regular files only, at most `limit` bytes; or a problem
    that names the file (never a traceback, never a hang on a FIFO or /dev/zero)."""
    import os
    import stat
    try:
        info = os.stat(name)
        if stat.S_ISDIR(info.st_mode):
            raise _FileProblem(f"{name}: cannot read: it is a folder, not a {what} file")
        if not stat.S_ISREG(info.st_mode):
            raise _FileProblem(f"{name}: cannot read: not a regular file")
        if info.st_size > limit:
            raise _FileProblem(f"{name}: cannot read: larger than {limit:,} bytes")
        with open(name, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as error:
        raise _FileProblem(f"{name}: cannot read: {(error.strerror or str(error)).lower()}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _FileProblem(f"{name}: not UTF-8 text (byte {error.start + 1})") from None


def _case_text(name: str, stdin) -> str:
    """The text of a case file (or of standard input), bounded in size; regular files only."""
    if name == "-":
        text = stdin.read(MAX_CASE_BYTES + 1)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # standard input decoded with surrogateescape
            raise _FileProblem("<stdin>: not UTF-8 text") from None
    else:
        text = _file_text(name, MAX_CASE_BYTES, "case")
    if len(text) > MAX_CASE_BYTES:
        raise _FileProblem(f"{'<stdin>' if name == '-' else name}: larger than {MAX_CASE_BYTES:,} bytes")
    if not text.strip():
        raise _FileProblem(f"{'<stdin>' if name == '-' else name}: the case is empty")
    return text


def _read_case(name: str, stdin, already_read: str | None = None) -> object:
    from ..source.case import CaseTextError, parse_case_text
    text = _case_text(name, stdin) if already_read is None else _checked_stdin(already_read)
    try:
        return parse_case_text(text)
    except CaseTextError as error:
        raise _FileProblem(f"{'<stdin>' if name == '-' else name}: {error}") from None


LINES_SUFFIXES = (".jsonl", ".ndjson")


def _batch_input(args, stdin):
    """A JSON Lines batch, as ("file", (its name, its size)) or ("lines", the lines of standard input); None when
    the input is one or more single cases."""
    import itertools
    if len(args.cases) != 1:
        return None
    name = args.cases[0]
    if name != "-":
        if not name.endswith(LINES_SUFFIXES):
            return None
        return "file", (name, _case_text_checks(name))
    first = stdin.readline(MAX_CASE_BYTES + 1)
    try:
        json.loads(first)
    except ValueError:  # a case written over several lines (or not JSON at all): one case
        args.stdin_text = first + stdin.read(MAX_CASE_BYTES + 1)
        return None
    second = stdin.readline(MAX_CASE_BYTES + 1)
    if not second.strip():
        rest = stdin.read(MAX_CASE_BYTES + 1)
        if not rest.strip():  # one line alone is one case
            args.stdin_text = first + second + rest
            return None
        second += rest  # pragma: no cover - blank lines inside JSON Lines
    return "lines", _utf8_lines(itertools.chain([first, second], stdin), "<stdin>")


def _batch_blocks(batch, jobs: int):
    """The blocks of a batch: a file's are read by the workers themselves where they lie (with more than
    one job); standard input's come as text."""
    from ..run.batch import file_blocks, text_blocks
    kind, source = batch
    source = source[0] if kind == "file" else source
    shown = source if kind == "file" else "<stdin>"
    try:
        yield from (file_blocks(source, with_text=jobs <= 1, longest=MAX_CASE_BYTES) if kind == "file"
                    else text_blocks(source, longest=MAX_CASE_BYTES))
    except ValueError as error:  # a line not UTF-8, or longer than a case may be: named by its number
        raise _FileProblem(f"{shown}: {error}") from None
    except OSError as error:
        raise _FileProblem(f"{shown}: cannot read: {(error.strerror or str(error)).lower()}") from None


def _utf8_lines(lines, name: str):
    number = 0
    try:
        for number, line in enumerate(lines, start=1):
            yield line
    except UnicodeDecodeError:
        raise _FileProblem(f"{name}: line {number + 1}: not UTF-8 text") from None


def _case_text_checks(name: str) -> int:
    """A JSON Lines file must be a regular file we can open (its lines are then read as they come) -> its size,
    by which a file of one block is decided here without --jobs, starting no process."""
    import os
    import stat
    try:
        info = os.stat(name)
    except OSError as error:
        raise _FileProblem(f"{name}: cannot read: {(error.strerror or str(error)).lower()}") from None
    if not stat.S_ISREG(info.st_mode):
        raise _FileProblem(f"{name}: cannot read: not a regular file")
    return info.st_size


class _Progress:
    """A line on standard error, redrawn at most twice a second, when it is a terminal."""

    def __init__(self, stderr):
        import time
        self.stderr, self.clock = stderr, time.monotonic
        self.shown = getattr(stderr, "isatty", lambda: False)()
        self.start = self.last = self.clock()

    def tick(self, done: int) -> None:
        now = self.clock()
        if self.shown and now - self.last >= 0.5:
            self.last = now
            rate = done / max(now - self.start, 1e-9)
            self.stderr.write(f"\r{done:,} cases, {rate:,.0f} a second")
            self.stderr.flush()

    def end(self, done: int, invalid: int) -> None:
        if self.shown:
            self.stderr.write("\r\x1b[K")
        seconds = self.clock() - self.start
        self.stderr.write(f"{done:,} cases: {done - invalid:,} decided, {invalid:,} invalid, {seconds:.1f} s\n")


def _output_fd(stdout) -> int | None:
    """The file descriptor under the output stream, flushed, which the workers of a batch write to
    themselves; None when it has none (a stream in memory)."""
    try:
        fd = stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    stdout.flush()
    return fd


def _evaluate_lines(args, book, batch, stdout, stderr) -> int:
    from ..run.batch import BLOCK_BYTES, default_jobs, write_blocks
    if args.format == "text":
        raise _UsageError("kmo-rules evaluate: --format text is for single cases; JSON Lines give JSON Lines")
    jobs = args.jobs or (1 if batch[0] == "file" and batch[1][1] <= BLOCK_BYTES else default_jobs())
    progress = _Progress(stderr)
    done = invalid = 0
    for result in write_blocks(book, _batch_blocks(batch, jobs), jobs=jobs, explain=args.explain, lang=args.lang,
                               on=args.on, keep_going=args.keep_going, fd=_output_fd(stdout) if jobs > 1 else None):
        done += result.cases
        invalid += result.invalid
        if result.text:
            stdout.write(result.text)
        if result.stopped is not None:
            stdout.flush()
            stderr.write("".join(f"line {result.stopped.line}: {p}\n" for p in result.stopped.problems))
            progress.end(done, invalid)
            return 2
        progress.tick(done)
    progress.end(done, invalid)
    return 1 if invalid else 0


def _evaluate(args, stdin, stdout, stderr) -> int:
    from ..run.evaluate import evaluate_case
    from ..pipeline import open_rules
    book = open_rules(args.rules, args.scheme)
    args.explain = args.explain or args.full
    batch = _batch_input(args, stdin)
    if batch is not None:
        return _evaluate_lines(args, book, batch, stdout, stderr)
    outputs: list[str] = []
    problems: list[str] = []
    refused: list = []  # the cases the scheme refused as input, to see whether another scheme takes them
    for name in args.cases:
        shown = "<stdin>" if name == "-" else name
        try:
            raw = _read_case(name, stdin, getattr(args, "stdin_text", None))
            built = book.on(args.on) if args.on else book.for_case(raw, shown)
            decision = evaluate_case(built.compiled, built.info, raw, explain=args.explain, lang=args.lang, source=shown)
        except CaseError as error:
            prefix = f"{error.source}: " if error.source and len(args.cases) > 1 else ""
            problems += [prefix + _problem_text(p, args.lang) for p in error.problems]
            refused.append(raw)
            continue
        except (VersionNotFound, _FileProblem) as error:
            problems.append(str(error) if isinstance(error, _FileProblem) else
                            f"{shown}: {problem_in(str(error), args.lang)}")
            continue
        if args.format == "text":
            from ..present.explain import render_decision
            outputs.append(render_decision(decision, args.lang, book.build(built.source).checked,
                                           scheme=book.scheme, full=args.full))
        elif len(args.cases) == 1:
            outputs.append(json.dumps(decision.to_dict(), indent=2, ensure_ascii=False))
        else:
            outputs.append(json.dumps(decision.to_dict(), ensure_ascii=False))
    if problems:
        stderr.write("\n".join(problems) + "\n")
        if refused and args.scheme is None:
            stderr.write(_other_scheme_hint(args, book, refused[0]))
        return 2
    stdout.write("\n".join(outputs) + "\n")
    return 0


def _other_scheme_hint(args, book, raw) -> str:
    """When no --scheme was named and another scheme of the catalog takes the case the default refused."""
    from ..pipeline import open_catalog, open_rules
    from ..run.evaluate import check_case
    fits = []
    for scheme in open_catalog(args.rules).schemes:
        if scheme == book.ruleset_id:
            continue
        try:
            other = open_rules(args.rules, scheme)
            check_case(other.for_case(raw).compiled, raw)
        except KmoRulesError:
            continue
        fits.append(scheme)
    if len(fits) != 1:
        return ""
    if args.lang == "nl":
        return (f"kmo-rules: dit is een aanvraag voor de maatregel {fits[0]}, niet voor {book.ruleset_id}: "
                f"voeg --scheme {fits[0]} toe\n")
    return (f"kmo-rules: this is a case of the scheme {fits[0]}, not of {book.ruleset_id}: "
            f"add --scheme {fits[0]}\n")


def _problem_text(problem, lang: str) -> str:
    """`a.b: must be one of ...`, in the language the reader asked for."""
    from ..core.span import format_json_path
    given = problem.message_in(lang)
    return f"{format_json_path(problem.path)}: {given or problem_in(problem.message, lang)}"


def _versions(args, stdout) -> int:
    from ..pipeline import open_rules
    book = open_rules(args.rules, args.scheme)
    rows = []
    for source in book.sources:
        built = book.build(source)
        parts = dict(source.parts)
        rows.append({"version": source.version, "effective_from": source.effective_from.isoformat(),
                     "effective_until": source.effective_until.isoformat() if source.effective_until else None,
                     "summary": source.summary, "source": source.source, "sha256": built.info.sha256,
                     "file": source.file, "changed": source.changed_part or book.ruleset_id,
                     "scheme_version": parts.get(book.ruleset_id, source.version),
                     "modules": {k: v for k, v in parts.items() if k != book.ruleset_id}})
    if args.format == "json":
        stdout.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
        return 0
    modules = sorted({m for row in rows for m in row["modules"]})
    using = f" (using the modules {', '.join(modules)})" if modules else ""
    stdout.write(f"{book.ruleset_id}: {len(rows)} versions{using}\n")
    shown = _unique_prefix([row["sha256"] for row in rows])
    width = max(len(row["changed"]) for row in rows)
    for row in rows:
        until = row["effective_until"] or "open"
        stdout.write(f"{row['version']}  {row['effective_from']} .. {until:<10}  sha256 {row['sha256'][:shown]}  "
                     f"{row['changed']:<{width}}  {row['summary']}\n")
    return 0


def _schemes(args, stdout) -> int:
    from ..pipeline import open_catalog, open_rules
    catalog = open_catalog(args.rules)
    rows = []
    for spec in catalog.schemes.values():
        book = open_rules(args.rules, spec.id)
        first, last = book.sources[0], book.sources[-1]
        rows.append({"id": spec.id, "title": spec.title, "default": spec.default, "languages": list(spec.languages),
                     "version_field": spec.version_field, "versions": len(book.sources),
                     "from": first.effective_from.isoformat(),
                     "until": last.effective_until.isoformat() if last.effective_until else None,
                     "modules": sorted({m for s in book.sources for m, _ in s.parts[1:]}),
                     "folder": shown_path(spec.folder)})
    if args.format == "json":
        stdout.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
        return 0
    width = max((len(row["id"]) for row in rows), default=0)
    for row in rows:
        title = row["title"].get("en") or next(iter(row["title"].values()), "")
        modules = f"; modules {', '.join(row['modules'])}" if row["modules"] else ""
        marked = " (default)" if row["default"] else ""
        stdout.write(f"{row['id']:<{width}}  {row['from']} .. {row['until'] or 'open':<10}  {row['versions']} versions"
                     f"{modules}  {title}{marked}\n")
    return 0


def _unique_prefix(hashes: list[str], least: int = 12) -> int:
    """How many leading characters tell every distinct hash apart: at least `least`."""
    distinct = set(hashes)
    length = least
    while length < max(map(len, distinct), default=0) and len({h[:length] for h in distinct}) < len(distinct):
        length += 1
    return length


def _show(args, stdout, stderr) -> int:
    if args.canonical and args.provenance:
        stderr.write("kmo-rules show: --canonical prints the hashed text, which has no provenance\n")
        return 2
    import yaml
    from ..pipeline import open_rules
    from ..lang.printer import canonical
    book = open_rules(args.rules, args.scheme)
    source = book.source_named(args.version_id) if args.version_id else book.source_on(args.on or date.today())
    built = book.build(source)
    if args.canonical:
        from ..audit.replay import checked_text
        stdout.write(checked_text(built.checked))  # byte for byte what is hashed: no newline at the end
        return 0
    data = canonical(built.checked, with_provenance=args.provenance)
    data["sha256"] = built.info.sha256
    stdout.write(f"# {source.ruleset} {source.version}, resolved from {', '.join(source.history)}\n")
    stdout.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110))
    return 0


MAX_DECISION_BYTES = 50_000_000  # a decision with its explanation is larger than a case


def _read_decision(name: str) -> object:
    """The stored decision of a JSON file, or a problem naming the file."""
    text = _file_text(name, MAX_DECISION_BYTES, "decision")
    if not text.strip():
        raise _FileProblem(f"{name}: the decision is empty")
    try:
        return json.loads(text)
    except ValueError as error:
        reason = getattr(error, "msg", str(error))
        where = f" at line {error.lineno}, column {error.colno}" if hasattr(error, "lineno") else ""
        raise _FileProblem(f"{name}: not JSON{where}: {reason}") from None


def _verify(args, stdin, stdout, stderr) -> int:
    from ..core.diagnostics import ArgumentError
    from ..audit.replay import replay
    from ..pipeline import open_rules
    shown = "<stdin>" if args.case == "-" else args.case
    try:
        stored = _read_decision(args.decision)
        raw = _read_case(args.case, stdin)
    except _FileProblem as error:
        stderr.write(f"kmo-rules: {error}\n")
        return 2
    named = stored.get("ruleset") if isinstance(stored, dict) else None
    scheme = args.scheme or (named.get("id") if isinstance(named, dict) and isinstance(named.get("id"), str) else None)
    from ..pipeline import open_catalog
    if args.scheme is None and scheme not in open_catalog(args.rules).schemes:
        scheme = None  # a decision naming no scheme of the folder: the default scheme says why it differs
    book = open_rules(args.rules, scheme)
    try:
        result = replay(book, raw, stored)
    except ArgumentError as error:
        stderr.write(f"kmo-rules: {args.decision}: {error}\n")
        return 2
    except VersionNotFound as error:
        stderr.write(f"kmo-rules: {args.decision}: {error}\n")
        return 2
    except CaseError as error:
        stderr.write("".join(f"{shown}: {p}\n" for p in error.problems))
        return 2
    if result.identical:
        stdout.write(f"{result}\n")
        return 0
    count = len(result.differences)
    stdout.write(f"different: {count} field{'s' if count != 1 else ''} of the decision made again under version "
                 f"{result.version} {'differ' if count != 1 else 'differs'} from the stored one\n")
    stdout.write("".join(f"  {d}\n" for d in result.differences))
    return 1


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
    except KeyboardInterrupt:  # Ctrl-C: what was written stands, ending with a whole line; no traceback
        stderr.write("kmo-rules: interrupted\n")
        return 130
    except OSError as error:  # the output cannot be written (a full disk): said, not a traceback
        where = f" ({error.filename})" if error.filename else ""
        stderr.write(f"kmo-rules: cannot go on: {(error.strerror or str(error)).lower()}{where}\n")
        return 2
    except EngineBug as error:  # not the user's fault: say so, with what a bug report needs
        import traceback
        stderr.write(f"kmo-rules: internal error, a bug in kmo-rules {_installed_version()} and not in your rules "
                     f"or case: {error}\n" + "".join(traceback.format_exception(error.__cause__ or error)))
        return 3


_HANDLERS = {
    "evaluate": _evaluate,
    "versions": lambda args, stdin, stdout, stderr: _versions(args, stdout),
    "schemes": lambda args, stdin, stdout, stderr: _schemes(args, stdout),
    "show": lambda args, stdin, stdout, stderr: _show(args, stdout, stderr),
    "verify": lambda args, stdin, stdout, stderr: _verify(args, stdin, stdout, stderr),
}


def main() -> int:
    return run(sys.argv[1:])
