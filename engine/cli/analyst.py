"""Commands for policy analysts: `validate` and `test` (registered into the CLI).

    kmo-rules validate [DIR]   every problem of every version and of the tests, with file:line:col
    kmo-rules test [DIR]       the YAML test cases beside the rules, like pytest, with coverage

Both read a rules folder (default: the bundled rules) and print a report;
the exit status says how it went (0 fine, 1 a test failed, 2 invalid rules
or tests).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..core.diagnostics import Diagnostic, KmoRulesError, RulesError
from ..pipeline import RuleBook, open_rules, validate_rules, versions_words
from ..present.render import render_diagnostics, summary_line
from ..source.versions import bundled_rules_dir, find_rule_files, shown_path

if TYPE_CHECKING:  # the tests' and mutants' modules are imported when a command needs them: every command
    from ..present.testing import CoverageGroup, TestCase, TestResult  # starts this module's parsers


def add_commands(commands, handlers: dict) -> None:
    """Add this module's subcommands to the CLI; each handler is f(args, stdin, stdout, stderr) -> int."""
    validate = commands.add_parser(
        "validate", help="check every version of the rules and their tests; report every problem with file:line:col",
        description="Load every version of a rules folder and its test files and report all problems at once. "
                    "Exit status 0: no errors (warnings allowed); 2: errors.")
    validate.add_argument("rules_dir", nargs="?", type=Path, metavar="DIR",
                          help="the rules folder (default: ./rules when there is one, else the bundled rules)")
    handlers["validate"] = _validate

    test = commands.add_parser(
        "test", help="run the YAML test cases beside the rules and show what no test exercises",
        description="Run every test of tests/*.yaml beside the rules, each under the version in force on its date. "
                    "Exit status 0: all passed; 1: a test failed; 2: the rules or a test file are invalid.")
    test.add_argument("rules_dir", nargs="?", type=Path, metavar="DIR",
                      help="the rules folder (default: ./rules when there is one, else the bundled rules)")
    test.add_argument("-k", dest="pattern", metavar="TEXT", help="run only the tests whose name contains TEXT")
    test.add_argument("--coverage", choices=("overall", "version", "source", "off"), default="overall",
                      help="list what no test exercises: each definition over all versions (default), "
                           "for each version, by legal source (act and article), or not at all")
    test.add_argument("--lang", choices=("en", "nl"), default="en", help="language of the explanations of failures")
    test.add_argument("--mutate", action="store_true",
                      help="also make small mutants of the rules and report those no test kills, with a score")
    test.add_argument("--jobs", type=int, metavar="N", help="processes for --mutate (default: every core)")
    test.add_argument("--budget", type=float, default=300, metavar="SECONDS",
                      help="start no mutant after this many seconds (default 300); those left are reported")
    test.add_argument("--junit", type=Path, metavar="FILE", help="also write the results as JUnit XML, for CI")
    handlers["test"] = _test


# -- validate -----------------------------------------------------------------------

def validate_folder(folder: Path, scheme: str | None = None) -> tuple[list[Diagnostic], int]:
    """A rules folder -> every problem of its schemes (or of the one named), their modules and test files,
    and how many files were read."""
    from ..present.testing import check_tests, find_test_files, read_tests
    test_files: list[Path] = []
    rule_files: list[Path] = []

    def test_problems(folder: Path, sources, spec) -> list[Diagnostic]:    # test files and their cases
        found: list[Diagnostic] = []
        mine = find_test_files(folder)
        test_files.extend(mine)
        rule_files.extend(find_rule_files(folder) + [p for p in [folder / "scheme.yaml"] if p.is_file()])
        for path in mine:
            tests, problems = read_tests(path, root=folder)
            found += problems
            if sources:
                found += check_tests(sources, tests, spec.version_field)
        return found
    problems = validate_rules(folder, more=test_problems, name_versions=True, scheme=scheme)
    modules = list((folder / "modules").glob("*/*.y*ml")) if folder.is_dir() else []
    return problems, len(rule_files) + len(test_files) + len(modules)


def rules_folder(given: Path | None) -> Path:
    """The folder an analyst means: the one named, else ./rules when there is one, else the bundled rules."""
    if given is not None:
        return given
    here = Path.cwd() / "rules"
    return here if here.is_dir() else bundled_rules_dir()


def _folder_words(folder: Path) -> str:
    bundled = folder.resolve() == bundled_rules_dir().resolve()
    return f"{shown_path(folder)}{' (the bundled rules)' if bundled else ''}"


def _validate(args, stdin, stdout, stderr) -> int:
    folder = rules_folder(args.rules_dir)
    problems, files = validate_folder(folder, args.scheme)
    if problems:
        stdout.write(render_diagnostics(problems) + "\n\n")
    stdout.write(f"{summary_line(problems, files)} (checked {_folder_words(folder)})\n")
    return 2 if any(d.severity == "error" for d in problems) else 0


# -- test -----------------------------------------------------------------------------

_KINDS = {"condition": "conditions no test makes fail", "note": "notes no test makes apply",
          "rule": "rules no decision depended on", "parameter": "parameters no decision depended on"}


def _banner(text: str, fill: str = "=", width: int = 78) -> str:
    return f" {text} ".center(width, fill)


def _why(book: RuleBook, result: TestResult, lang: str) -> list[str]:
    """The part of the explanation that produced the wrong fields."""
    from ..present.explain import render_steps
    decision = result.decision
    if decision is None or decision.explanation is None:
        return []
    checked = book.build(book.source_named(result.version)).checked
    expect, actual = result.test.expect, decision.to_dict()
    keys: list[tuple[str, str]] = []
    for name in result.wrong:
        if name in ("reasons", "notes"):
            kind = "condition" if name == "reasons" else "note"
            differ = set(map(str, expect.get(name) or ())) ^ {r["code"] for r in actual[name]}
            keys += [(kind, code) for code in (checked.conditions if kind == "condition" else checked.notes)
                     if code in differ]
        elif name == "eligible":
            failed = [("condition", r["code"]) for r in actual["reasons"]]
            keys += failed or [("condition", code) for code in checked.conditions]
        elif name == "version":
            continue
        else:
            keys.append(("output", name))
    text = render_steps(decision, list(dict.fromkeys(keys)), lang, checked, result.depends, depth=2, levels=2)
    return text.rstrip("\n").splitlines()


def _failure(book: RuleBook, result: TestResult, lang: str) -> list[str]:
    test = result.test
    under = f", under version {result.version}" if result.version else ""
    lines = [_banner(test.name, "_"), f"{test.file}:{test.span.line}{under}"]
    lines += [f"  {failure}" for failure in result.failures]
    why = _why(book, result, lang)
    if why:
        lines += ["", "  how the decision got there:"] + why
    return lines + [""]


def _coverage_lines(groups: list[CoverageGroup], per_version: bool, every: list[str]) -> list[str]:
    lines = [_banner("not exercised by any test" + (", by version" if per_version else ""))]
    for group in groups:
        if per_version:
            if group.tests == 0:
                lines.append(f"version {group.version}: no test runs under it")
                continue
            lines.append(f"version {group.version} ({group.tests} test{'s' if group.tests != 1 else ''}):")
        missing = {kind: [u for u in group.missing if u.kind == kind] for kind in _KINDS}
        pad = "  " if per_version else ""
        for kind, items in missing.items():
            if not items:
                continue
            lines.append(f"{pad}{_KINDS[kind]} ({len(items)} of {group.totals[kind]}):")
            width = max(len(u.name) for u in items)
            for u in items:
                where = f"{u.span.file}:{u.span.line}"
                when = "" if per_version or list(u.versions) == every else \
                    f"  ({versions_words(list(u.versions), every)})"
                lines.append(f"{pad}  {u.name:<{width}}  {where}{when}")
        if group.untested:
            lines.append(f"versions no test runs under ({len(group.untested)} of {len(every)}): "
                         f"{', '.join(group.untested)}")
        if not group.missing and not group.untested:
            lines.append(f"{pad}everything is exercised")
    return lines


def _test(args, stdin, stdout, stderr) -> int:
    """The tests of every scheme of the catalog (or of the one named), one scheme after the other."""
    from ..pipeline import open_catalog
    folder = rules_folder(args.rules_dir)
    schemes = [args.scheme] if args.scheme else list(open_catalog(folder).schemes)
    status = 0
    for index, scheme in enumerate(schemes):
        if index:
            stdout.write("\n")
        status = max(status, _test_scheme(args, folder, open_rules(folder, scheme), stdout, stderr))
    return status


def _test_scheme(args, folder: Path, book: RuleBook, stdout, stderr) -> int:
    from ..present.testing import coverage, coverage_by_source, find_test_files, read_tests, run_test, \
        source_coverage_lines
    files: list[tuple[Path, list[TestCase]]] = []
    problems: list[Diagnostic] = []
    for path in find_test_files(book.folder):
        tests, found = read_tests(path, root=book.rules_dir)
        problems += found
        if args.pattern:
            tests = [t for t in tests if args.pattern.lower() in t.name.lower()]
        if tests:
            files.append((path, tests))
    rule_problems: list[Diagnostic] = []
    for source in book.sources:  # every version a test needs must build
        if any(_runs_under(book, t) == source.version for _, tests in files for t in tests):
            try:
                book.build(source)
            except RulesError as error:
                rule_problems += error.diagnostics
    if rule_problems:
        stderr.write(render_diagnostics(rule_problems) + "\n")
        stderr.write(f"kmo-rules: the rules are invalid ({summary_line(rule_problems)}); "
                     "see kmo-rules validate\n")
        return 2
    stdout.write(f"testing {_folder_words(book.folder)}\n")
    if problems:
        stdout.write(render_diagnostics(problems) + "\n\n")
    results: list[TestResult] = []
    for path, tests in files:
        line = []
        for test in tests:
            result = run_test(book, test, lang=args.lang)
            results.append(result)
            line.append("." if result.passed else "F")
        stdout.write(f"{shown_path(path)} {''.join(line)}\n")
    failed = [r for r in results if not r.passed]
    out: list[str] = []
    if failed:
        out += ["", _banner("failures")]
        for result in failed:
            out += _failure(book, result, args.lang)
        out.pop()  # the blank line after the last failure
    if args.coverage == "source" and results and not args.pattern:
        out += ["", _banner("exercised by the tests, by legal source")] + source_coverage_lines(
            coverage_by_source(book, results))
    elif args.coverage != "off" and results and not args.pattern:
        out += [""] + _coverage_lines(coverage(book, results, per_version=args.coverage == "version"),
                                      args.coverage == "version", [s.version for s in book.sources])
    written = _mutants_and_junit(args, book, results, out, stderr)
    if problems:
        out += ["", f"{summary_line(problems)} in the test files; the tests they concern did not run"]
    out += ["", f"{len(results) - len(failed)} passed, {len(failed)} failed"]
    stdout.write("\n".join(out) + "\n")
    if problems or not written:
        return 2
    return 1 if failed else 0


def _runs_under(book: RuleBook, test: TestCase) -> str | None:
    from ..present.testing import day_of
    day = day_of(test, book.version_field)
    if day is None:
        return None
    try:
        return book.source_on(day).version
    except KmoRulesError:  # reported by the test itself
        return None


def _mutants_and_junit(args, book: RuleBook, results: list[TestResult], out: list[str], stderr) -> bool:
    """With --mutate, the mutants no test kills and the score; with --junit, the results (and the mutants)
    written as JUnit XML. False when the file cannot be written."""
    from ..present.mutate import junit_suite, mutation_lines, run_mutants
    from ..present.testing import junit_xml, test_suites
    report = None
    if args.mutate:
        from ..run.batch import default_jobs
        report = run_mutants(book, results, jobs=max(1, args.jobs or default_jobs()), budget=args.budget)
        out += ["", _banner("mutants no test kills")] + mutation_lines(report, [s.version for s in book.sources])
    if args.junit is not None:
        every = [s.version for s in book.sources]
        suites = getattr(args, "junit_suites", [])  # of the schemes tested before this one, if any
        suites += test_suites(results) + ([junit_suite(report, every, f"mutants of {book.ruleset_id}")] if report
                                          else [])
        args.junit_suites = suites
        try:
            args.junit.write_text(junit_xml(suites), encoding="utf-8")
        except OSError as error:
            stderr.write(f"kmo-rules: cannot write {args.junit}: {error.strerror or error}\n")
            return False
    return True
