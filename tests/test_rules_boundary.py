"""A rules folder is untrusted data: every attack on it is a diagnostic, quickly, and nothing else happens.

Analysts copy, mail and edit rules folders, so a folder may hold anything: a
YAML tag that would run a command, a case file or schema outside the folder,
a link to /dev/zero, a FIFO, a file of gigabytes, an expression nested a
thousand deep, a number of thousands of digits, a table of a million rows, a
poisoned cache entry. Each attack below is reported with its stable code at
file:line:column by `validate_rules` (and `open_rules` refuses the rules), in
bounded time; the file it aims at is never read (its secret never appears in
a message) and the file it tries to create never appears.

The attacks that are plain text live in tests/attacks/rules/ (see its
README); the others (links, FIFOs, devices, large files) are built here.
"""
from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
import time
from datetime import date
from pathlib import Path

import pytest
import yaml

from engine import RulesError
from engine.source.case import CaseTextError, parse_case_text
from engine.cli import run
from engine.source.load import MAX_DEFINITIONS, MAX_EXPRESSION_DEPTH, MAX_FILE_BYTES, MAX_TABLE_ROWS
from engine.pipeline import open_rules, validate_rules
from engine.present.testing import read_tests
from engine.source.versions import bundled_schemas_dir

from mini import CASE, one_rule, write_rules

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "rules" / "kmo-portefeuille"
ATTACKS = Path(__file__).resolve().parent / "attacks" / "rules"
KINDS = sorted(p.name for p in ATTACKS.iterdir() if (p / "attack.yaml").is_file())
SECRET = "TOPSECRET-31415926"
POSIX = pytest.mark.skipif(os.name != "posix", reason="links, FIFOs and devices as POSIX has them")


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """Each test with a cache folder of its own, so that no test sees what another remembered."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("KMO_RULES_NO_CACHE", raising=False)


@pytest.fixture
def place(tmp_path) -> dict:
    """A copy of the bundled rules, a secret file beside it (outside it) and where a marker would appear."""
    folder = tmp_path / "kmo-portefeuille"
    shutil.copytree(BUNDLED, folder)
    secret = tmp_path / "secret.txt"
    secret.write_text(f"ruleset: {SECRET}\n{SECRET}: the second line\n", encoding="utf-8")
    return {"folder": folder, "secret": secret, "marker": tmp_path / "MARKER", "tmp": tmp_path}


def every_problem(folder: Path) -> list:
    """What `kmo-rules validate` reports: the versions' problems and the test files' problems."""
    found = list(validate_rules(folder))
    for path in sorted((folder / "tests").glob("*.yaml")):
        found += read_tests(path, root=folder)[1]
    return found


def position(folder: Path, file: str, text: str) -> tuple[int, int]:
    """The line and column (from 1) where `text` first occurs in a file of the folder."""
    content = (folder / file).read_text(encoding="utf-8")
    offset = content.index(text)
    return content.count("\n", 0, offset) + 1, offset - (content.rfind("\n", 0, offset) + 1) + 1


def found_at(problems, code: str, file: str, line: int, column: int | None = None) -> bool:
    return any(p.code == code and p.span is not None and p.span.file.endswith(file) and p.span.line == line
               and (column is None or p.span.column == column) for p in problems)


def shown(problems) -> str:
    return "\n".join(str(p) for p in problems)


def cli_validate(folder: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = run(["validate", str(folder)], io.StringIO(), out, err)
    return status, out.getvalue(), err.getvalue()


def validate_in_child(folder: Path, tmp_path: Path, timeout: float = 60) -> list[dict]:
    """validate_rules in a process of its own, with a time and a memory limit: an attack that makes it
    hang or read without end fails the test instead of stopping the suite."""
    code = ("import json, sys; from engine.pipeline import validate_rules; "
            "print(json.dumps([dict(code=d.code, file=d.span.file if d.span else '', line=d.span.line if d.span "
            "else 0, column=d.span.column if d.span else 0, text=str(d)) for d in validate_rules(sys.argv[1])]))")

    def limits():  # pragma: no cover - runs in the child
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=timeout, preexec_fn=limits if os.name == "posix" else None)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
    return json.loads(done.stdout)


def replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"'{old}' must occur once in {path.name}"
    path.write_text(text.replace(old, new), encoding="utf-8")


BASE = "2016-04-01.yaml"
CASE_SCHEMA_LINE = "case_schema: ../../schemas/case.schema.json"


# -- a copied folder still works ------------------------------------------------------------------------------

def test_a_copied_rules_folder_uses_the_case_schema_that_ships_with_the_engine(place):
    """`case_schema: ../../schemas/case.schema.json` leaves a copied folder: the schema of that name that
    ships with the engine is used, as in a checkout."""
    assert [p for p in every_problem(place["folder"]) if p.severity == "error"] == []
    from engine import load_ruleset
    assert open_rules(place["folder"]).sources[0].case_schema == bundled_schemas_dir() / "case.schema.json"
    case = json.loads((BUNDLED / "tests" / "cases" / "small-training.json").read_text(encoding="utf-8"))
    assert load_ruleset(on=case["application_date"], rules=place["folder"]).evaluate(case).eligible


def test_a_case_schema_inside_the_folder_is_the_one_used(place):
    folder = place["folder"]
    shutil.copy(bundled_schemas_dir() / "case.schema.json", folder / "cases.schema.json")
    replace_once(folder / BASE, CASE_SCHEMA_LINE, "case_schema: cases.schema.json")
    assert [p for p in validate_rules(folder) if p.severity == "error"] == []
    assert open_rules(folder).sources[0].case_schema == (folder / "cases.schema.json").resolve()


# -- the attacks kept as data ---------------------------------------------------------------------------------

def apply_attack(kind: str, place: dict) -> dict:
    attack = yaml.safe_load((ATTACKS / kind / "attack.yaml").read_text(encoding="utf-8"))
    fill = {"{marker}": str(place["marker"]), "{secret}": str(place["secret"])}

    def filled(text: str) -> str:
        for key, value in fill.items():
            text = text.replace(key, value)
        return text

    for edit in attack["edits"]:
        path = place["folder"] / edit["file"]
        if "replace" in edit:
            replace_once(path, edit["replace"], filled(edit["by"]))
        else:
            path.write_text(filled(edit["by"]), encoding="utf-8")
    expect = dict(attack["expect"])
    expect["at"] = filled(expect["at"])
    return expect


@pytest.mark.parametrize("kind", KINDS)
def test_an_attack_kept_as_data_is_one_clean_diagnostic(kind, place):
    expect = apply_attack(kind, place)
    folder = place["folder"]
    start = time.perf_counter()
    problems = every_problem(folder)
    assert time.perf_counter() - start < 10
    line, column = position(folder, expect["file"], expect["at"])
    assert found_at(problems, expect["code"], expect["file"], line, column), shown(problems)
    if not expect["file"].startswith("tests/"):  # a wrong test file leaves the rules usable
        with pytest.raises(RulesError) as refused:
            book = open_rules(folder)
            for source in book.sources:
                book.build(source)
        assert any(d.code == expect["code"] for d in refused.value.diagnostics)
    status, out, err = cli_validate(folder)
    assert status == 2 and "Traceback" not in err and f": {expect['code']}: " in out
    assert SECRET not in shown(problems) + out + err
    assert not place["marker"].exists()


def test_every_attack_folder_says_what_it_is():
    for kind in KINDS:
        attack = yaml.safe_load((ATTACKS / kind / "attack.yaml").read_text(encoding="utf-8"))
        assert attack["about"] and attack["edits"] and {"code", "file", "at"} <= set(attack["expect"]), kind


# -- rule files that are not plain files of the folder ------------------------------------------------------

@POSIX
@pytest.mark.parametrize("kind, code", [("/dev/zero", "file-outside"), ("/dev/urandom", "file-outside"),
                                        ("fifo", "file-kind"), ("outside", "file-outside")])
def test_a_rule_file_that_is_a_link_fifo_or_device_is_refused_unread(kind, code, place):
    folder, path = place["folder"], place["folder"] / "2030-01-01.yaml"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        os.symlink(place["secret"] if kind == "outside" else kind, path)
    start = time.perf_counter()
    problems = validate_in_child(folder, place["tmp"])
    assert time.perf_counter() - start < 30
    assert any(p["code"] == code and p["file"].endswith("2030-01-01.yaml") and (p["line"], p["column"]) == (1, 1)
               for p in problems), problems
    assert SECRET not in json.dumps(problems)


@POSIX
def test_a_link_to_a_file_inside_the_folder_is_read(place):
    folder = place["folder"]
    (folder / BASE).rename(folder / "base.yml.txt")
    os.symlink(folder / "base.yml.txt", folder / BASE)
    assert [p for p in validate_rules(folder) if p.severity == "error"] == []


def test_a_rule_file_larger_than_the_limit_is_refused_without_reading_it(place):
    path = place["folder"] / "2030-01-01.yaml"
    path.write_text("ruleset: kmo-portefeuille\n" + "# padding\n" * (MAX_FILE_BYTES // 10 + 1), encoding="utf-8")
    start = time.perf_counter()
    problems = validate_rules(place["folder"])
    assert time.perf_counter() - start < 5
    assert found_at(problems, "file-size", "2030-01-01.yaml", 1, 1), shown(problems)
    assert "larger than 5 MB" in shown(problems)


def test_a_rule_file_that_is_not_utf8_is_reported_at_its_first_line(place):
    path = place["folder"] / BASE
    path.write_bytes(path.read_bytes().replace("Steunpercentage".encode(), "Steunpercentage \xe9".encode("latin-1")))
    problems = validate_rules(place["folder"])
    assert found_at(problems, "file-encoding", BASE, 1, 1) and "not UTF-8 text" in shown(problems)


# -- the case schema: inside the folder, or shipped with the engine -------------------------------------------

@POSIX
@pytest.mark.parametrize("kind", ["link-outside", "fifo", "device", "folder", "absolute", "up-and-out"])
def test_a_case_schema_outside_the_folder_or_not_a_file_is_refused_where_it_is_named(kind, place):
    folder = place["folder"]
    written = {"absolute": str(place["secret"]), "up-and-out": "../../../../secret.txt", "folder": "cases"}.get(
        kind, "case.json")
    if kind == "link-outside":
        os.symlink(place["secret"], folder / "case.json")
    elif kind == "fifo":
        os.mkfifo(folder / "case.json")
    elif kind == "device":
        os.symlink("/dev/zero", folder / "case.json")
    elif kind == "folder":
        (folder / "cases").mkdir()
    replace_once(folder / BASE, CASE_SCHEMA_LINE, f"case_schema: {written}")
    problems = validate_in_child(folder, place["tmp"])
    line, column = position(folder, BASE, written)
    assert [(p["code"], p["line"], p["column"]) for p in problems if p["code"] == "case-schema"] == \
           [("case-schema", line, column)], problems
    assert SECRET not in json.dumps(problems)


# -- test files and their case files --------------------------------------------------------------------------

@POSIX
def test_a_case_file_that_links_out_of_the_folder_is_refused(place):
    folder = place["folder"]
    os.symlink(place["secret"], folder / "tests" / "cases" / "linked.json")
    (folder / "tests" / "evil.yaml").write_text(textwrap.dedent("""\
        tests:
          - name: a case file that is a link out of the folder
            case: cases/linked.json
            expect: {eligible: true}
        """), encoding="utf-8")
    tests, problems = read_tests(folder / "tests" / "evil.yaml", root=folder)
    assert tests == [] and found_at(problems, "test-case", "tests/evil.yaml", 3, 11), shown(problems)
    status, out, err = cli_validate(folder)
    assert status == 2 and SECRET not in out + err and "Traceback" not in err


@POSIX
def test_a_test_file_that_is_a_device_is_refused(place):
    os.symlink("/dev/zero", place["folder"] / "tests" / "zero.yaml")
    tests, problems = read_tests(place["folder"] / "tests" / "zero.yaml", root=place["folder"])
    assert tests == [] and [p.code for p in problems] == ["test-file"]


def test_a_case_file_with_a_number_of_thousands_of_digits_is_reported_not_raised(place):
    folder = place["folder"]
    (folder / "tests" / "cases" / "huge.json").write_text('{"application_date": "2024-06-10", "x": ' + "7" * 5000
                                                          + "}", encoding="utf-8")
    (folder / "tests" / "huge.yaml").write_text(textwrap.dedent("""\
        tests:
          - name: a case with a number of five thousand digits
            case: cases/huge.json
            expect: {eligible: true}
        """), encoding="utf-8")
    status, out, err = cli_validate(folder)
    assert status == 2 and "Traceback" not in err and ": test-case: " in out


def test_a_with_path_of_very_many_parts_is_a_diagnostic(place):
    folder = place["folder"]
    deep = ".".join(["project"] + ["x"] * 60)
    (folder / "tests" / "deep.yaml").write_text(textwrap.dedent(f"""\
        tests:
          - name: a with path sixty parts long
            case: cases/small-training.json
            with: {{{deep}: 1}}
            expect: {{eligible: true}}
        """), encoding="utf-8")
    _, problems = read_tests(folder / "tests" / "deep.yaml", root=folder)
    assert [p.code for p in problems] == ["test-with"] and problems[0].span.line == 4


# -- YAML -----------------------------------------------------------------------------------------------------

def test_yaml_nested_a_hundred_thousand_deep_is_refused_without_a_crash(place):
    """libyaml's composer recursed once per level and crashed the process; the events are read in a loop."""
    (place["folder"] / "2030-01-01.yaml").write_text("ruleset: kmo-portefeuille\nx: " + "[" * 100_000 + "]" * 100_000,
                                                     encoding="utf-8")
    problems = validate_in_child(place["folder"], place["tmp"])
    assert any(p["code"] == "yaml-depth" and p["file"].endswith("2030-01-01.yaml") and p["line"] == 2
               for p in problems), problems


def test_a_number_of_five_thousand_digits_in_a_rule_file_is_a_diagnostic(place):
    replace_once(place["folder"] / BASE, "      value: 40 %\n", "      value: " + "9" * 5000 + "\n")
    problems = validate_rules(place["folder"])
    line, column = position(place["folder"], BASE, "9" * 5000)
    assert found_at(problems, "number-too-long", BASE, line, column), shown(problems)


@pytest.mark.parametrize("text, what", [
    ("application_date: !!python/object/apply:os.system ['touch {marker}']\n", "tag"),
    ("application_date: 2024-06-10\nx: !!python/object/new:os.system {args: ['touch {marker}']}\n", "tag"),
    ("application_date: 2024-06-10\nx: " + "1" * 5000 + "\n", "significant digits"),
    ("application_date: 2024-06-10\nx: " + "[" * 10_000 + "]" * 10_000 + "\n", "nested"),
])
def test_a_yaml_case_with_a_tag_or_a_huge_number_is_refused(text, what, place):
    """read_yaml reads YAML cases too: the same refusals hold there."""
    with pytest.raises(CaseTextError) as refused:
        parse_case_text(text.replace("{marker}", str(place["marker"])))
    assert what in str(refused.value)
    assert not place["marker"].exists()


def test_a_standard_tag_that_yaml_would_give_anyway_is_accepted(tmp_path):
    folder = one_rule(tmp_path, "count + 1")
    replace_once(folder / "2024-01-01.yaml", "parameters: {}", "parameters: !!map {}")
    assert [p for p in validate_rules(folder) if p.severity == "error"] == []


# -- expressions ----------------------------------------------------------------------------------------------

NESTED = {
    "an or of 101 operands": " or ".join(["count > 1"] * 101),
    "a sum of 202 terms": " + ".join(["count"] * 202),
    "200 nested ifs": "if count > 1 then " * 200 + "1" + " else 2" * 200,
    "200 nested mins": "min(" * 200 + "count" + ", 1)" * 200,
    "200 nested nots": "not " * 200 + "(count > 1)",
    "200 minus signs": "-" * 200 + "count",
}


@pytest.mark.parametrize("name", NESTED)
def test_an_expression_nested_too_deep_is_a_diagnostic_at_the_expression(name, tmp_path):
    folder = one_rule(tmp_path, NESTED[name])
    start = time.perf_counter()
    problems = validate_rules(folder)
    assert time.perf_counter() - start < 5
    errors = [p for p in problems if p.severity == "error"]
    assert [p.code for p in errors] == ["expression-too-deep"], shown(problems)
    assert errors[0].span.line == position(folder, "2024-01-01.yaml", "value: ")[0]
    assert "split it into named rules" in errors[0].hint


def test_an_expression_at_the_depth_limit_is_decided(tmp_path):
    """The generated Python nests a parenthesis per operation: at the limit it still compiles and runs."""
    from engine import load_ruleset
    one_rule(tmp_path, " + ".join(["count"] * MAX_EXPRESSION_DEPTH))
    ruleset = load_ruleset(on="2024-06-01", rules=tmp_path)
    assert ruleset.evaluate(CASE).outputs["x"] == CASE["count"] * MAX_EXPRESSION_DEPTH


def test_a_thousand_nested_parentheses_are_only_grouping(tmp_path):
    from engine import load_ruleset
    one_rule(tmp_path, "(" * 1000 + "count + 1" + ")" * 1000)
    assert load_ruleset(on="2024-06-01", rules=tmp_path).evaluate(CASE).outputs["x"] == CASE["count"] + 1


def test_an_expression_longer_than_the_limit_is_a_diagnostic(tmp_path):
    folder = one_rule(tmp_path, "count" + " + 1" * 2500)
    errors = [p for p in validate_rules(folder) if p.severity == "error"]
    assert [p.code for p in errors] == ["expression-too-long"]


def test_a_constant_is_read_as_the_grammar_would_read_it():
    """Table cells and parameters are read without the grammar when they are one literal: the same
    nodes, values, texts and places, and the same problems, as the grammar gives."""
    import dataclasses
    import random
    from engine.lang.parse import parse_constant, parse_expression
    from engine.core.span import Span

    def plain(value):
        if dataclasses.is_dataclass(value):
            return (type(value).__name__,) + tuple(plain(getattr(value, f.name)) for f in dataclasses.fields(value))
        if isinstance(value, (list, tuple)):
            return tuple(plain(v) for v in value)
        return repr(value)

    pieces = ["EUR", " ", "\t", "1", "0", "9", "_", ".", "%", "-", "days", "day", "months", "year", "x", '"', "'",
              "2024", "-01", "-31", "\n", "true", "null", "#", "+", "(", ")", ","]
    chance = random.Random(7)
    texts = ["EUR 100.50", "EUR1_000", " 30 %", "1.5%", "10 days", "1 year", "2024-02-30", "1.50", "007", '"a b"',
             "'x'", "true", "null", "-5", "1 + 1", "30 % # note", "2024-01-01 + 1 days", "10 daysx", "9" * 31]
    texts += ["".join(chance.choice(pieces) for _ in range(chance.randint(1, 6))) for _ in range(3000)]
    place = lambda offset: Span("f.yaml", 1, offset + 1)  # noqa: E731
    for text in texts:
        assert plain(parse_constant(text, place)) == plain(parse_expression(text, place)), text


@pytest.mark.parametrize("value, code", [("1000000000 days", "duration-too-long"), ("12001 months", "duration-too-long"),
                                         ("1001 years", "duration-too-long"),
                                         ("EUR 1234567890123456789012345678901", "number-too-long"),
                                         ("12345678901234567890123456789.12 %", "number-too-long")])
def test_a_constant_out_of_bounds_is_a_diagnostic_at_the_constant(value, code, tmp_path):
    folder = one_rule(tmp_path, "p", parameters="{p: {value: '" + value + "', source: test}}")
    errors = [p for p in validate_rules(folder) if p.severity == "error"]
    assert [(p.code, p.span.line) for p in errors] == [(code, position(folder, "2024-01-01.yaml", value)[0])]


@pytest.mark.parametrize("value, expected", [("1000 years", "1000 years"), ("366000 days", "366000 days")])
def test_a_constant_at_the_bound_is_accepted(value, expected, tmp_path):
    from engine import load_ruleset
    one_rule(tmp_path, "p", parameters="{p: {value: '" + value + "', source: test}}")
    assert str(load_ruleset(on="2024-06-01", rules=tmp_path).evaluate(CASE).outputs["x"]) == expected


# -- sizes ----------------------------------------------------------------------------------------------------

def test_a_version_with_too_many_definitions_is_refused(tmp_path):
    rules = "".join(f"  r{i}: {{value: 1, source: test}}\n" for i in range(MAX_DEFINITIONS + 1))
    folder = write_rules(tmp_path, "parameters: {}\nrules:\n" + rules + "conditions: {}\noutputs: {x: r0}\n")
    start = time.perf_counter()
    problems = validate_rules(folder)
    assert time.perf_counter() - start < 10
    assert [p.code for p in problems] == ["too-many-definitions"] and problems[0].span.line == 2


def test_a_table_with_too_many_rows_is_refused(tmp_path):
    keys = ", ".join(f"k{i}" for i in range(MAX_TABLE_ROWS + 1))
    folder = write_rules(tmp_path, "parameters: {}\ntables:\n  t:\n    source: test\n    rows: [" + keys + "]\n"
                                   "rules: {x: {value: 1, source: test}}\nconditions: {}\noutputs: {x: x}\n")
    start = time.perf_counter()
    problems = validate_rules(folder)
    assert time.perf_counter() - start < 15
    assert [(p.code, p.span.line) for p in problems] == [("too-many-rows", 9)]


def test_many_conditions_each_added_after_another_are_placed_quickly(place):
    """Each `after:` used to rebuild the whole section: quadratic in the number of conditions added."""
    folder = place["folder"]
    count = 8000
    added = "".join(f"    c{i}: {{fails_when: 'false', message: {{en: m, nl: m}}, source: test, "
                    f"after: {'legal_form_excluded' if i == 0 else f'c{i - 1}'}}}\n" for i in range(count))
    replace_once(folder / "2026-02-01.yaml", "\n  add_conditions:\n", "\n  add_conditions:\n" + added)
    start = time.perf_counter()
    book = open_rules(folder)
    assert time.perf_counter() - start < 5
    names = list(book.sources[-1].conditions)
    at = names.index("legal_form_excluded")
    assert names[at + 1:at + 4] == ["c0", "c1", "c2"] and names[at + count] == f"c{count - 1}"


@pytest.mark.slow
def test_a_table_of_100000_rows_is_read_as_data(place):
    """Cells are read as values of their column's type, each row once for every version that keeps it."""
    folder = place["folder"]
    rows = "".join(f"      r{i}: {{rate: {i % 100} %, name: row {i}}}\n" for i in range(100_000))
    replace_once(folder / BASE, "\ntables:\n", "\ntables:\n  big:\n    source: a generated table\n"
                                               "    columns: {rate: percent, name: string}\n    rows:\n" + rows)
    start = time.perf_counter()
    built = open_rules(folder).on(date(2024, 6, 1))
    assert time.perf_counter() - start < 20  # 80 s and more when every cell went through the grammar
    assert built.checked.tables["big"].rows["r45"] == {"rate": __import__("decimal").Decimal("0.45"), "name": "row 45"}


# -- the caches -----------------------------------------------------------------------------------------------

def misspelt(place) -> Path:
    """A rule file of a wrong shape (an unknown field), whose verdict an attacker would like to plant."""
    replace_once(place["folder"] / BASE, "      value: 40 %\n", "      valeu: 40 %\n")
    return place["folder"] / BASE


@POSIX
@pytest.mark.parametrize("poison", ["empty", "wrong digest", "folder", "link to the right digest"])
def test_a_poisoned_shape_entry_does_not_skip_the_check(poison, place):
    from engine.source.load import _shape_digests
    path = misspelt(place)
    shapes = place["tmp"] / "cache" / "kmo-rules" / "shapes"
    shapes.mkdir(parents=True, mode=0o700)
    name, content = _shape_digests(path.read_text(encoding="utf-8"), bundled_schemas_dir() / "ruleset.schema.json")
    entry = shapes / name
    if poison == "empty":
        entry.write_bytes(b"")
    elif poison == "wrong digest":
        entry.write_bytes(b"0" * 64)
    elif poison == "folder":
        entry.mkdir()
    else:
        (place["tmp"] / "planted").write_bytes(content)
        os.symlink(place["tmp"] / "planted", entry)
    problems = validate_rules(place["folder"])
    assert any(p.code == "schema" and "valeu" in p.message for p in problems), shown(problems)


def test_the_cache_folders_are_private_and_entries_hold_their_digest(place):
    assert [p for p in validate_rules(place["folder"]) if p.severity == "error"] == []
    home = place["tmp"] / "cache" / "kmo-rules"
    for folder in (home, home / "shapes"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    entries = list((home / "shapes").iterdir())
    assert entries and all(len(e.read_bytes()) == 64 for e in entries)


@POSIX
def test_a_cache_folder_that_is_a_link_is_not_used(place):
    elsewhere = place["tmp"] / "elsewhere"
    elsewhere.mkdir()
    (place["tmp"] / "cache").mkdir()
    os.symlink(elsewhere, place["tmp"] / "cache" / "kmo-rules")
    assert [p for p in validate_rules(place["folder"]) if p.severity == "error"] == []
    assert list(elsewhere.iterdir()) == []


def test_a_relative_xdg_cache_home_is_ignored(place):
    home = place["tmp"] / "home"
    home.mkdir()
    env = dict(os.environ, XDG_CACHE_HOME="relative-cache", HOME=str(home), PYTHONPATH=str(ROOT))
    code = "import sys; from engine.pipeline import validate_rules; validate_rules(sys.argv[1])"
    subprocess.run([sys.executable, "-c", code, str(place["folder"])], cwd=place["tmp"], env=env, check=True,
                   timeout=120)
    assert not (place["tmp"] / "relative-cache").exists()
    assert stat.S_IMODE((home / ".cache" / "kmo-rules").stat().st_mode) == 0o700


def test_no_cache_when_asked(place, monkeypatch):
    monkeypatch.setenv("KMO_RULES_NO_CACHE", "1")
    assert [p for p in validate_rules(place["folder"]) if p.severity == "error"] == []
    assert not (place["tmp"] / "cache").exists()


def test_the_parser_is_never_read_from_the_shared_temporary_folder(place):
    """lark's own cache is a pickle at a predictable path of the shared temporary folder: not used."""
    shared = place["tmp"] / "shared-tmp"
    shared.mkdir()
    env = dict(os.environ, TMPDIR=str(shared), XDG_CACHE_HOME=str(place["tmp"] / "cache"), PYTHONPATH=str(ROOT))
    code = "from engine.lang.parse import parse_expression; print(parse_expression('a + 1', lambda o: None)[1])"
    for _ in range(2):  # the first run builds the parser and keeps it, the second reads it back
        done = subprocess.run([sys.executable, "-c", code], cwd=place["tmp"], env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr
    assert list(shared.iterdir()) == []
    kept = list((place["tmp"] / "cache" / "kmo-rules" / "grammar").iterdir())
    assert len(kept) == 1 and kept[0].suffix == ".json" and stat.S_IMODE(kept[0].stat().st_mode) == 0o600


@pytest.mark.parametrize("poison", [b"", b"0" * 64 + b"\n{}", "right digest, wrong tables"])
def test_a_poisoned_parser_entry_is_ignored(poison, place, monkeypatch):
    import hashlib
    from engine.lang import grammar as parse
    grammar = parse._grammar()
    kept = place["tmp"] / "cache" / "kmo-rules" / "grammar"
    kept.mkdir(parents=True, mode=0o700)
    (kept.parent).chmod(0o700)
    if isinstance(poison, str):
        payload = json.dumps({"d": [["data", {"d": []}], ["memo", {"d": []}]]}).encode()
        poison = hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload
    (kept / parse._cache_name(grammar)).write_bytes(poison)
    parse._parser.cache_clear()
    try:
        expr, problems = parse.parse_tree("min(a, 2) + 1", lambda o: None)
        assert problems == [] and type(expr).__name__ == "Binary"
    finally:
        parse._parser.cache_clear()


# -- parsed expressions kept between runs ---------------------------------------------------------------------

_PARSED_NODES = (
    "import json, sys; from engine.pipeline import open_rules; from engine.lang.parsed import parse_ruleset; "
    "book = open_rules(sys.argv[1]); out = []\n"
    "for source in book.sources:\n"
    "    parsed, problems = parse_ruleset(source)\n"
    "    for section in ('rules', 'conditions', 'notes', 'outputs'):\n"
    "        out += [(name, repr(d.expr), str(d.expr.span)) for name, d in getattr(parsed, section).items()]\n"
    "print(json.dumps({'lark': 'lark' in sys.modules, 'nodes': out}))")


def _parsed_in_a_process(folder: Path, cache: Path, **env) -> dict:
    done = subprocess.run([sys.executable, "-c", _PARSED_NODES, str(folder)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, env=dict(os.environ, XDG_CACHE_HOME=str(cache), PYTHONPATH=str(ROOT),
                                                          **env))
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_a_second_run_reads_every_expression_back_and_gets_the_same_nodes_at_the_same_places(place):
    cache = place["tmp"] / "cache"
    first = _parsed_in_a_process(place["folder"], cache)
    again = _parsed_in_a_process(place["folder"], cache)
    assert first["lark"] and not again["lark"]  # the second run never needed the grammar
    assert again["nodes"] == first["nodes"] and len(first["nodes"]) > 50
    kept = list((cache / "kmo-rules" / "parsed").iterdir())
    assert len(kept) == 1 and stat.S_IMODE(kept[0].stat().st_mode) == 0o600


def test_an_expression_moved_in_its_file_is_placed_where_it_now_stands(place):
    cache = place["tmp"] / "cache"
    before = {name: where for name, _, where in _parsed_in_a_process(place["folder"], cache)["nodes"]}
    path = place["folder"] / BASE
    path.write_text("# two lines\n# on top\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    after = _parsed_in_a_process(place["folder"], cache)
    assert not after["lark"]
    moved = {name: where for name, _, where in after["nodes"] if BASE in where}
    assert moved and all(int(where.split(":")[1]) == int(before[name].split(":")[1]) + 2
                         for name, where in moved.items() if BASE in before.get(name, ""))


@pytest.mark.parametrize("poison", ["wrong digest", "not a form", "a node of no kind", "too deep"])
def test_a_poisoned_entry_of_parsed_expressions_is_ignored(poison, place):
    import hashlib
    cache = place["tmp"] / "cache"
    honest = _parsed_in_a_process(place["folder"], cache)
    entry, = (cache / "kmo-rules" / "parsed").iterdir()
    forms = json.loads(entry.read_bytes().partition(b"\n")[2])
    deep: object = {"N": ["Name", "x", {"@": 0}]}
    for _ in range(400):
        deep = {"N": ["Not", deep, {"@": 0}]}
    bad = {"not a form": [1, 2], "a node of no kind": {"N": ["Evil", {"@": 0}]}, "too deep": deep}
    forms = {text: bad.get(poison, form) for text, form in forms.items()}
    payload = json.dumps(forms).encode()
    digest = b"0" * 64 if poison == "wrong digest" else hashlib.sha256(payload).hexdigest().encode()
    entry.write_bytes(digest + b"\n" + payload)
    assert _parsed_in_a_process(place["folder"], cache)["nodes"] == honest["nodes"]


def test_no_parsed_expressions_are_kept_when_asked(place):
    cache = place["tmp"] / "cache"
    assert _parsed_in_a_process(place["folder"], cache, KMO_RULES_NO_CACHE="1")["lark"]
    assert not (cache / "kmo-rules" / "parsed").exists()
