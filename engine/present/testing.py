"""Test cases written as data beside the rules: test files -> results, problems and coverage.

A test file (`schemas/tests.schema.json`) holds `tests:`, each a case (a file
next to it or written inline), optional `with:` changes to that case (dotted
paths, for boundaries), an optional `on:` date, and `expect:` (decision
fields, reason and note codes, the version chosen) or `expect_error:` (the
JSON paths of input errors). Each test runs under the version in force on
its date.

    read_tests          test file -> TestCases, or problems at file:line:col
    check_tests         TestCases x versions -> what `validate` reports about them
    judge               compiled version x TestCase -> Verdict (the failures; also for mutants)
    run_test            RuleBook x TestCase -> TestResult (with what the decision depended on)
    coverage            RuleBook x TestResults -> what no test exercises
    coverage_by_source  RuleBook x TestResults -> what the tests exercise of each act and article
    junit_xml           JUnit suites (of test_suites, and of mutants) -> JUnit XML for CI systems
"""
from __future__ import annotations

import bisect
import copy
import re
import time
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path


from ..source.case import CaseTextError, _exact_yaml, case_model, parse_case_text
from ..lang.check import CheckedRuleSet
from ..core.diagnostics import CaseError, Diagnostic, KmoRulesError, RulesError
from ..core.kinds import noun
from ..run.compile import CompiledRuleSet
from ..run.evaluate import Decision, RulesetInfo, evaluate_case
from ..source.load import MAX_YAML_DEPTH, PosDict, PosList, RuleFile, check_shape, key_span, locate, read_text_inside, read_yaml
from ..pipeline import RuleBook
from ..source.source import RuleSource
from ..core.span import Span, format_json_path
from ..core.suggest import did_you_mean
from ..source.versions import bundled_schemas_dir, shown_path

TESTS_SCHEMA = "tests.schema.json"
COVERED_KINDS = ("condition", "note", "rule", "parameter")


@dataclass(frozen=True)
class TestCase:
    """One test as read from its file: the case with `with:` applied, and what it expects."""

    __test__ = False  # not a pytest class

    name: str
    file: str
    span: Span
    case: object
    on: date | None
    expect: dict
    expect_error: tuple[str, ...] | None
    spans: dict = field(default_factory=dict, compare=False, repr=False)  # "case", "with:<path>", "expect:<key>"
    case_doc: object = field(default=None, compare=False, repr=False)  # the case with positions, to point into it


@dataclass(frozen=True)
class TestResult:
    """A test run: passed or not, why not, and what the decision depended on."""

    __test__ = False

    test: TestCase
    passed: bool
    failures: tuple[str, ...] = ()
    decision: Decision | None = None
    version: str | None = None
    exercised: frozenset = field(default_factory=frozenset)  # "rule:x", "parameter:y", "condition:z", "note:n"
    depends: dict = field(default_factory=dict, repr=False)  # "rule:x" -> names its value depended on
    wrong: tuple[str, ...] = ()  # the decision fields that differ from what was expected
    seconds: float = 0.0  # how long it ran (for JUnit)


@dataclass(frozen=True)
class Unexercised:
    """A rule, condition, note or parameter that no test exercises."""

    kind: str
    name: str
    span: Span
    versions: tuple[str, ...]


@dataclass(frozen=True)
class CoverageGroup:
    """What the tests of one version (or of all, when `version` is None) leave unexercised."""

    version: str | None
    tests: int
    totals: dict  # kind -> how many there are
    missing: tuple[Unexercised, ...]
    untested: tuple[str, ...] = ()  # versions no test runs under


# -- reading -------------------------------------------------------------------

def _plain(value):
    """Positioned YAML data -> plain dicts and lists, numbers exact."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return value
    return _exact_yaml(value)


def _set_path(case, path: str, value) -> None:
    parts = path.split(".")
    if len(parts) > MAX_YAML_DEPTH:
        raise ValueError(f"a path has at most {MAX_YAML_DEPTH} parts")
    target = case
    for part in parts[:-1]:
        target = target[int(part)] if isinstance(target, list) else target.setdefault(part, {})
    last = parts[-1]
    if isinstance(target, list):
        target[int(last)] = value
    elif value is None and last.endswith("!"):
        target.pop(last[:-1], None)
    else:
        target[last] = value


def find_test_files(rules_dir: Path) -> list[Path]:
    """Test files live in a `tests/` folder beside the rule files."""
    return sorted(rules_dir.glob("tests/*.yaml")) + sorted(rules_dir.glob("*/tests/*.yaml"))


def _read_case_file(path: Path, shown: str, at: Span, root: Path) -> tuple[object, object, list[Diagnostic]]:
    """A case file inside the rules folder -> (raw case, the same with positions, problems)."""
    text, problem = read_text_inside(path, root, at=at, what=f"the case file {shown}")
    if problem is not None:
        return None, None, [replace(problem, code="test-case")]
    doc, problems = read_yaml(text, shown_path(path))  # the same data with positions, for messages
    try:
        case = parse_case_text(text)
    except (CaseTextError, ValueError, RecursionError) as error:  # a JSON number of thousands of digits, ...
        return None, None, problems or [Diagnostic("test-case", f"the case file {shown} is not valid: "
                                                   f"{str(error)[:200]}", at)]
    return case, doc, []


def read_tests(path: Path, shown: str | None = None, root: Path | None = None) -> tuple[list[TestCase], list[Diagnostic]]:
    """A test file -> its test cases (cases read and `with:` applied), or problems with file:line:col.

    Every file is read inside `root`, the rules folder (by default the folder that holds the test file's
    `tests/` folder): a case file outside it is refused, never read."""
    shown = shown or shown_path(path)
    root = root if root is not None else Path(path).parent.parent
    text, problem = read_text_inside(path, root, shown=shown, what="the test file")
    if problem is not None:
        return [], [replace(problem, code="test-file")]
    doc, problems = read_yaml(text, shown)
    if problems or doc is None:
        return [], problems or [Diagnostic("test-file", "the test file is empty", Span(shown, 1, 1))]
    problems = check_shape(RuleFile(shown, text, doc), bundled_schemas_dir() / TESTS_SCHEMA)
    entries = doc.get("tests") if isinstance(doc, PosDict) else None
    if not isinstance(entries, PosList):
        return [], problems
    out = []
    problem_lines = sorted(p.span.line for p in problems if p.span is not None)
    for i, entry in enumerate(entries):
        span = entries.value_locs[i].span
        first = bisect.bisect_left(problem_lines, span.line)
        if (first < len(problem_lines) and problem_lines[first] <= span.end_line) or not isinstance(entry, PosDict):
            continue  # a test of the wrong shape is reported above and not read
        spans = {"case": entry.value_locs["case"].span}
        raw = entry["case"]
        if isinstance(raw, str):
            case, case_doc, found = _read_case_file(path.parent / raw, raw, spans["case"], root)
            if found:
                problems += found
                continue
        else:
            case, case_doc = _plain(raw), raw
        case = copy.deepcopy(case)
        changes = entry.get("with") or PosDict()
        for key, value in changes.items():
            spans[f"with:{key}"] = changes.value_locs[key].span
            spans[f"with-key:{key}"] = changes.key_spans[key]
            try:
                _set_path(case, str(key), _plain(value))
            except (KeyError, IndexError, ValueError, TypeError, AttributeError):
                problems.append(Diagnostic("test-with", f"cannot set {key} in the case of test '{entry['name']}'",
                                           changes.key_spans[key], "a path names fields from the top of the case, "
                                           "with a dot between them and the number of an item of a list: "
                                           "a.b.0.c"))
        on = None
        if entry.get("on") is not None:
            try:
                on = date.fromisoformat(str(entry["on"]))
            except ValueError:
                problems.append(Diagnostic("test-date", f"on: '{entry['on']}' is not a real date",
                                           entry.value_locs["on"].span))
                continue
        expect = entry.get("expect") or PosDict()
        for key in expect:
            spans[f"expect:{key}"] = expect.key_spans[key]
            if isinstance(expect[key], PosList):
                for j, code in enumerate(expect[key]):
                    spans[f"expect:{key}:{code}"] = expect[key].value_locs[j].span
        expect_error = entry.get("expect_error")
        out.append(TestCase(str(entry["name"]), shown, span, case, on, _plain(expect),
                            tuple(str(p) for p in expect_error) if expect_error is not None else None,
                            spans, case_doc))
    return out, problems


# -- checking (for validate) -----------------------------------------------------

def day_of(test: TestCase, version_field: str | None) -> date | None:
    """The date that picks a test's version: its `on:`, else the case's date in the scheme's version field."""
    if test.on is not None:
        return test.on
    value = test.case
    for part in (version_field or "").split(".") if version_field else ():
        value = value.get(part) if isinstance(value, dict) else None
    try:
        return date.fromisoformat(str(value)) if version_field else None
    except (TypeError, ValueError):
        return None


def _problem_span(test: TestCase, path: tuple, unknown: bool = False) -> Span:
    """Where to point for a problem at a JSON path of a test's case: the `with:` line that set it, else the
    field in the case (its name, when the field is unknown)."""
    dotted = ".".join(str(p) for p in path)
    for key, span in test.spans.items():
        if key.startswith("with:") and (dotted == key[5:] or dotted.startswith(key[5:] + ".")):
            return span
        if key.startswith("with-key:") and key[9:].startswith(dotted + "."):
            return span  # the path made a field the case does not have
    if test.case_doc is not None:
        at = key_span(test.case_doc, list(path[:-1]), path[-1]) if unknown and path else None
        return at or locate(test.case_doc, list(path)) or test.spans["case"]
    return test.spans["case"]


def check_tests(sources: list[RuleSource], tests: list[TestCase], version_field: str | None) -> list[Diagnostic]:
    """Each test against the version it runs under: its case fits the case schema, its expectations exist."""
    book = RuleBook(Path("."), sources)
    found: list[Diagnostic] = []
    versions = [s.version for s in sources]
    for test in tests:
        day = day_of(test, version_field)
        if day is None:
            found.append(Diagnostic("test-date", f"test '{test.name}' has no date: its case lacks a valid "
                                    f"{version_field or 'date'} and the test has no 'on:'", test.spans["case"]))
            continue
        try:
            source = book.source_on(day)
        except KmoRulesError as error:
            found.append(Diagnostic("test-date", f"test '{test.name}': {error}", test.span))
            continue
        if test.expect_error is None:
            _, problems = case_model(source.case_schema).coerce(test.case)
            for problem in problems:
                unknown = problem.message.startswith("unknown field")
                found.append(Diagnostic("test-case", f"the case of test '{test.name}' does not fit the case schema: "
                                        f"{problem}", _problem_span(test, problem.path, unknown)))
        fields = {"version", "eligible", "reasons", "notes", *source.outputs}
        for key, expected in test.expect.items():
            at = test.spans.get(f"expect:{key}", test.span)
            if key not in fields:
                found.append(Diagnostic("test-expect", f"test '{test.name}' expects '{key}', which the decisions "
                                        f"of version {source.version} do not have", at, did_you_mean(key, fields)))
            elif key == "version" and str(expected) not in versions:
                found.append(Diagnostic("test-expect", f"test '{test.name}' expects version '{expected}', "
                                        "which does not exist", at, did_you_mean(str(expected), versions)))
            elif key in ("reasons", "notes"):
                known = source.conditions if key == "reasons" else source.notes
                what = "condition" if key == "reasons" else "note"
                for code in expected or ():
                    if str(code) not in known:
                        found.append(Diagnostic("test-expect", f"test '{test.name}' expects the {what} '{code}', "
                                                f"which version {source.version} does not have",
                                                test.spans.get(f"expect:{key}:{code}", at),
                                                did_you_mean(str(code), known)))
    return found


# -- running -------------------------------------------------------------------

def _numeric(text) -> Decimal | None:
    if isinstance(text, bool) or text is None:
        return None
    try:
        return Decimal(str(text).replace("EUR", "").replace("%", "").strip())
    except InvalidOperation:
        return None


def _same(expected, actual) -> bool:
    if isinstance(expected, str) and expected.strip().endswith("%") and actual is not None:
        number = _numeric(expected)
        return number is not None and _numeric(actual) == number / 100
    a, b = _numeric(expected), _numeric(actual)
    if a is not None and b is not None and not isinstance(expected, bool):
        return a == b
    return str(expected) == str(actual) if expected is not None and actual is not None else expected == actual


def _compare(test: TestCase, actual: dict, version: str) -> tuple[list[str], list[str]]:
    """Expected against actual -> failure lines and the fields that differ."""
    failures, wrong = [], []
    for key, expected in test.expect.items():
        if key in ("reasons", "notes"):
            got = [r["code"] for r in actual[key]]
            want = [str(x) for x in (expected or [])]
            if sorted(got) != sorted(want):
                failures.append(f"{key}: expected {want}, got {got}")
                wrong.append(key)
        elif key == "version":
            if str(expected) != version:
                failures.append(f"version: expected {expected}, got {version}")
                wrong.append(key)
        elif key not in actual:
            failures.append(f"{key}: the decision has no such field")
        elif not _same(expected, actual[key]):
            failures.append(f"{key}: expected {expected}, got {actual[key]}")
            wrong.append(key)
    return failures, wrong


@dataclass(frozen=True)
class Verdict:
    """What one compiled version makes of one test: its failures (none when it passes), the decision, and the
    fields that differ from what the test expects."""

    failures: tuple[str, ...]
    decision: Decision | None = None
    wrong: tuple[str, ...] = ()


def judge(compiled: CompiledRuleSet, info: RulesetInfo, test: TestCase, *, explain: bool = False,
          lang: str = "en") -> Verdict:
    """A test's case decided by one compiled version, against what the test expects.

    The test runner asks it of the rules as written (with an explanation, for coverage and for the why of a
    failure); mutation testing asks it of each mutant (without one, for speed): both judge alike."""
    version = info.version
    try:
        decision = evaluate_case(compiled, info, test.case, explain=explain, lang=lang)
    except CaseError as error:
        paths = tuple(format_json_path(p.path) for p in error.problems)
        if test.expect_error is not None:
            missing = [p for p in test.expect_error if p not in paths]
            if missing:
                return Verdict((f"expected input errors at {', '.join(missing)}; got: "
                                + "; ".join(str(p) for p in error.problems),))
            return Verdict(())
        return Verdict(("the case was refused as input: " + "; ".join(str(p) for p in error.problems),))
    except RulesError as error:
        return Verdict((str(error),))
    if test.expect_error is not None:
        return Verdict((f"expected input errors at {', '.join(test.expect_error)}, but a decision was made",),
                       decision)
    failures, wrong = _compare(test, decision.to_dict(), version)
    return Verdict(tuple(failures), decision, tuple(wrong))


def run_test(book: RuleBook, test: TestCase, *, lang: str = "en") -> TestResult:
    """One test case under the version in force on its date."""
    start = time.perf_counter()
    day = day_of(test, book.version_field)
    if day is None:
        return TestResult(test, False, (f"the case has no usable {book.version_field or 'date'} and the test no "
                                        "'on:'",))
    try:
        built = book.on(day)
    except KmoRulesError as error:
        return TestResult(test, False, (str(error),))
    version = built.info.version
    verdict = judge(built.compiled, built.info, test, explain=True, lang=lang)
    decision, failures = verdict.decision, verdict.failures
    if decision is None or test.expect_error is not None:
        return TestResult(test, not failures, failures, decision, version, seconds=time.perf_counter() - start)
    # the explanation lists, for each rule, what this case really depended on (the branches it took)
    depends = {f"{step.kind}:{step.name}": tuple(name for name, _ in step.uses) for step in decision.explanation.steps}
    values = {f"{step.kind}:{step.name}": step.value for step in decision.explanation.steps}
    return TestResult(test, not failures, failures, decision, version,
                      _exercised(built.compiled.checked, depends, values), depends, verdict.wrong,
                      time.perf_counter() - start)


def _exercised(checked: CheckedRuleSet, depends: dict, values: dict) -> frozenset:
    """The rules and parameters a decision depended on, its failed conditions and its applying notes."""
    out = set()
    todo = [f"{kind}:{name}" for kind, section in (("condition", checked.conditions), ("note", checked.notes),
                                                    ("output", checked.outputs)) for name in section]
    for key in todo:
        kind, _, name = key.partition(":")
        if kind in ("condition", "note") and values[key]:
            out.add(key)
        for used in depends.get(key, ()):
            if used in checked.rules and f"rule:{used}" not in out:
                out.add(f"rule:{used}")
                todo.append(f"rule:{used}")
            elif used in checked.parameters:
                out.add(f"parameter:{used}")
            elif used in checked.tables:
                out.add(f"table:{used}")  # for coverage by legal source
    return frozenset(out)


# -- coverage --------------------------------------------------------------------

def _items(source: RuleSource) -> dict[str, dict]:
    return {"condition": source.conditions, "note": source.notes, "rule": source.rules,
            "parameter": source.parameters}


def coverage(book: RuleBook, results: list[TestResult], *, per_version: bool = False) -> list[CoverageGroup]:
    """What no test exercises: a rule or parameter no decision depended on, a condition no test makes
    fail, a note no test makes apply; for each definition as written (a parameter set anew by a later
    version must be exercised again), or for each version."""
    by_version: dict[str, set] = {s.version: set() for s in book.sources}
    counts: dict[str, int] = {s.version: 0 for s in book.sources}
    for result in results:
        if result.version in by_version:
            by_version[result.version] |= result.exercised
            counts[result.version] += 1
    groups = []
    if per_version:
        for source in book.sources:
            missing = [Unexercised(kind, name, item.span, (source.version,))
                       for kind, section in _items(source).items() for name, item in section.items()
                       if f"{kind}:{name}" not in by_version[source.version]]
            totals = {kind: len(section) for kind, section in _items(source).items()}
            groups.append(CoverageGroup(source.version, counts[source.version], totals, tuple(missing)))
        return groups
    where: dict[tuple, tuple[Span, list[str]]] = {}  # each definition as written, and the versions it is in
    for source in book.sources:
        for kind, section in _items(source).items():
            for name, item in section.items():
                key = (kind, name, item.span.file, item.span.line, item.span.column)
                where.setdefault(key, (item.span, []))[1].append(source.version)
    missing = [Unexercised(kind, name, span, tuple(versions)) for (kind, name, *_), (span, versions) in where.items()
               if not any(f"{kind}:{name}" in by_version[v] for v in versions)]
    totals = {kind: sum(1 for key in where if key[0] == kind) for kind in COVERED_KINDS}
    order = {kind: i for i, kind in enumerate(COVERED_KINDS)}
    missing.sort(key=lambda u: (order[u.kind], u.span.file, u.span.line))
    untested = tuple(version for version, count in counts.items() if count == 0)
    return [CoverageGroup(None, len(results), totals, tuple(missing), untested)]


# -- coverage by legal source --------------------------------------------------------

@dataclass(frozen=True)
class Citation:
    """One legal source a definition cites: the act (`BVR 26 Feb 2016`) and, when it names one, the article
    (`art. 18`); None for a source cited as a whole (a web page, a contract)."""

    act: str
    article: str | None


@dataclass(frozen=True)
class SourceCoverage:
    """What the tests exercise of one article (or of an act cited as a whole): the definitions that cite it,
    those no test exercises, and how many tests exercise at least one of them."""

    citation: Citation
    definitions: int
    missing: tuple[Unexercised, ...]
    tests: int


_ARTICLE = re.compile(r"(?:,\s*|\s+)((?:annex,\s*)?art\.\s*.*|annex\b.*)$")
_ARTICLE_NUMBER = re.compile(r"\d+[a-z]*(?:\(\d+\))?")
_AMENDED = re.compile(r",?\s+as\s+(?:amended|replaced|inserted)\b.*$")


def _top_level(text: str, separator: str) -> list[str]:
    """`text` split at each separator outside parentheses and quotes (`(welke kosten; ...)` stays whole)."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth = max(0, depth - 1)
        elif char == separator and depth == 0 and not quoted:
            parts.append(text[start:i])
            start = i + 1
    return parts + [text[start:]]


def _unbracketed(text: str) -> str:
    """A citation without its remarks in brackets (`(original text)`, at the end or before a comma), keeping
    the brackets that are part of a name or a number (`Regulation (EU) 1407/2013`, `art. 3(2)`)."""
    text = " ".join(text.split())
    groups, depth, opened = [], 0, 0
    for i, char in enumerate(text):
        if char == "(":
            opened = i if depth == 0 else opened
            depth += 1
        elif char == ")" and depth:
            depth -= 1
            if depth == 0:
                groups.append((opened, i + 1))
    for begin, end in reversed(groups):
        after = text[end:].lstrip()
        if begin > 0 and text[begin - 1] == " " and (not after or after.startswith(",")):
            text = text[:begin].rstrip() + text[end:]
    return text.strip(" ,")


def citations(source: str) -> tuple[Citation, ...]:
    """A definition's `source:` -> the acts and articles it cites.

    `BVR 26 Feb 2016, art. 7 and 18, as amended in 2025; Decree 16 Mar 2012, art. 3` cites art. 7 and
    art. 18 of the BVR and art. 3 of the decree: amendments, remarks in brackets and the sub-divisions of
    an article (`1st para, 3°`) are left out, so that the definitions of one article come together."""
    if isinstance(source, dict):  # a source per language: the acts are the same in each
        source = source.get("en") or next(iter(source.values()), "")
    found: list[Citation] = []
    for part in _top_level(str(source or ""), ";"):
        text = _AMENDED.sub("", _unbracketed(part)).strip(" ,")
        if not text:
            continue
        match = _ARTICLE.search(text)
        if match is None:
            found.append(Citation(text, None))
            continue
        act, articles = text[:match.start()].strip(" ,"), match.group(1)
        prefix = "annex, " if articles.startswith("annex,") else ""
        numbers = []
        if "art." in articles:
            rest = articles[articles.index("art.") + 4:]
            for piece in re.split(r"\s+and\s+", rest):
                number = _ARTICLE_NUMBER.match(piece.strip())
                if number is None:
                    break
                numbers.append(f"{prefix}art. {number.group(0)}")
                if piece.strip() != number.group(0):
                    break  # `9, 1st para, 3°`: the article is 9
        if re.search(r"\bannex\b", articles) and not prefix:
            numbers.append("annex")
        found += [Citation(act or text, number) for number in numbers] or [Citation(text, None)]
    return tuple(dict.fromkeys(found))


def _natural(text: str | None) -> tuple:
    """`art. 3(2)` before `art. 18`: numbers compare as numbers."""
    return tuple((0, int(piece), "") if piece.isdigit() else (1, 0, piece)
                 for piece in re.split(r"(\d+)", text or "") if piece)


def _refused_by(checked: CheckedRuleSet, result: TestResult) -> frozenset:
    """The input checks a passing test of an input error makes refuse its case, and the tables they read."""
    if not result.passed or result.test.expect_error is None:
        return frozenset()
    out = set()
    for name, check in checked.input_checks.items():
        if check.path in result.test.expect_error:
            out.add(f"input_check:{name}")
            out.update(f"table:{used}" for used in check.uses if used in checked.tables)
    return frozenset(out)


def coverage_by_source(book: RuleBook, results: list[TestResult]) -> list[SourceCoverage]:
    """Which acts and articles the tests exercise: each definition as written (over every version that
    holds it) counts for every article its source cites, exercised as `coverage` says (a rule, parameter
    or table a decision depended on, a condition a test makes fail, a note a test makes apply, an input
    check a test makes refuse its case)."""
    by_version: dict[str, list[TestResult]] = {}
    for result in results:
        if result.version is not None:
            by_version.setdefault(result.version, []).append(result)
    written: dict[tuple, dict] = {}  # each definition as written -> its span, source, versions, tests
    for source in book.sources:
        try:
            checked = book.build(source).checked
        except KmoRulesError:  # a version that does not build has no tests to count
            continue
        sections = {"condition": checked.conditions, "note": checked.notes, "rule": checked.rules,
                    "parameter": checked.parameters, "table": checked.tables, "input_check": checked.input_checks}
        exercised = {id(r): r.exercised | _refused_by(checked, r) for r in by_version.get(source.version, ())}
        for kind, section in sections.items():
            for name, item in section.items():
                key = (kind, name, item.span.file, item.span.line, item.span.column)
                entry = written.setdefault(key, {"span": item.span, "source": item.source, "versions": [],
                                                 "tests": set()})
                entry["versions"].append(source.version)
                entry["tests"].update(r for r, names in exercised.items() if f"{kind}:{name}" in names)
    groups: dict[Citation, list] = {}
    for (kind, name, *_), entry in written.items():
        for citation in citations(entry["source"]) or (Citation("(no source given)", None),):
            groups.setdefault(citation, []).append((kind, name, entry))
    out = []
    for citation, entries in groups.items():
        missing = tuple(Unexercised(kind, name, entry["span"], tuple(entry["versions"]))
                        for kind, name, entry in entries if not entry["tests"])
        tests = len(set().union(*(entry["tests"] for _, _, entry in entries)))
        out.append(SourceCoverage(citation, len(entries), missing, tests))
    out.sort(key=lambda c: (_natural(c.citation.act), c.citation.article is not None, _natural(c.citation.article)))
    return out


def source_coverage_lines(groups: list[SourceCoverage]) -> list[str]:
    """The coverage by legal source as text: an act, then each of its articles with what the tests
    exercise of it, and under it each definition no test exercises."""
    lines: list[str] = []
    act = None
    width = max((len(g.citation.article or "(as a whole)") for g in groups), default=0)
    for group in groups:
        if group.citation.act != act:
            act = group.citation.act
            lines.append(act)
        article = group.citation.article or "(as a whole)"
        done = group.definitions - len(group.missing)
        tests = f"{group.tests} test{'s' if group.tests != 1 else ''}"
        what = f"{group.definitions} definition{'s' if group.definitions != 1 else ''}"
        state = f"all exercised, by {tests}" if not group.missing else f"{done} exercised, by {tests}"
        lines.append(f"  {article:<{width}}  {what}, {state}")
        for u in group.missing:
            lines.append(f"  {'':<{width}}    not exercised: {noun(u.kind)} {u.name}  {u.span.file}:{u.span.line}")
    return lines


# -- JUnit XML -------------------------------------------------------------------------

@dataclass(frozen=True)
class JUnitCase:
    """One entry of a JUnit report: a test, or anything else a CI system should show as passed or failed."""

    name: str
    classname: str
    file: str
    line: int
    seconds: float = 0.0
    failure: str | None = None  # the first line of what went wrong, None when it passed
    details: str = ""  # the whole of it
    skipped: str | None = None


@dataclass(frozen=True)
class JUnitSuite:
    name: str
    cases: tuple[JUnitCase, ...]


def test_suites(results: list[TestResult]) -> list[JUnitSuite]:
    """The results as JUnit suites: one per test file, one case per test."""
    files: dict[str, list[JUnitCase]] = {}
    for result in results:
        test = result.test
        failure = result.failures[0] if result.failures else None
        details = "\n".join(result.failures) + (f"\nunder version {result.version}" if result.version else "")
        files.setdefault(test.file, []).append(JUnitCase(test.name, test.file, test.file, test.span.line,
                                                         result.seconds, None if result.passed else failure or
                                                         "failed", details if not result.passed else ""))
    return [JUnitSuite(name, tuple(cases)) for name, cases in files.items()]


_XML_TEXT = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def junit_xml(suites: list[JUnitSuite], name: str = "kmo-rules test") -> str:
    """JUnit XML, the report format CI systems read: <testsuites> of <testsuite> of <testcase>, a failure
    as <failure message=...> with the details as its text. Characters XML cannot hold are dropped."""
    import xml.etree.ElementTree as ET

    def clean(text) -> str:
        return _XML_TEXT.sub("", str(text))

    def count(cases, what) -> str:
        return str(sum(1 for c in cases if getattr(c, what) is not None))

    every = [case for suite in suites for case in suite.cases]
    root = ET.Element("testsuites", name=clean(name), tests=str(len(every)), failures=count(every, "failure"),
                      errors="0", skipped=count(every, "skipped"), time=f"{sum(c.seconds for c in every):.3f}")
    for suite in suites:
        element = ET.SubElement(root, "testsuite", name=clean(suite.name), tests=str(len(suite.cases)),
                                failures=count(suite.cases, "failure"), errors="0",
                                skipped=count(suite.cases, "skipped"),
                                time=f"{sum(c.seconds for c in suite.cases):.3f}")
        for case in suite.cases:
            entry = ET.SubElement(element, "testcase", name=clean(case.name), classname=clean(case.classname),
                                  file=clean(case.file), line=str(case.line), time=f"{case.seconds:.3f}")
            if case.failure is not None:
                ET.SubElement(entry, "failure", message=clean(case.failure), type="failure").text = clean(case.details)
            elif case.skipped is not None:
                ET.SubElement(entry, "skipped", message=clean(case.skipped))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
