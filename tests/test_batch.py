"""Batch jobs and portals: open the rules once, decide many cases in order, keep the bad ones as errors."""
import io
import json
import pickle
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from corpus import case_json, generate_cases, year_spec
from engine import CaseError, load_ruleset, open_rules
from engine.run.batch import CHUNK, IN_FLIGHT_PER_JOB
from engine.cli import run
from helpers import cli

ROOT = Path(__file__).resolve().parent.parent
CASES = generate_cases(year_spec(300, 5, 2024)) + generate_cases(year_spec(200, 6, 2019))
LINES = [case_json(c) for c in CASES]
BAD = json.dumps({"application_date": "2024-06-10", "enterprise": {}, "project": {}})


@pytest.fixture(scope="module")
def singly():
    """Each case decided on its own through the API: what every batch path must reproduce."""
    book = open_rules()
    out = []
    for case in CASES:
        try:
            out.append(book.evaluate(case).to_dict())
        except CaseError as error:
            out.append(error)
    return out


def _decisions(out: str) -> list:
    return [json.loads(line) for line in out.splitlines()]


def test_a_jsonl_file_gives_one_decision_per_line_in_input_order(tmp_path, singly):
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(LINES) + "\n")
    status, out, err = cli("evaluate", path, "--jobs", "1")
    assert status == 0
    assert _decisions(out) == json.loads(json.dumps([d for d in singly if not isinstance(d, CaseError)]))
    assert err.strip() == f"{len(LINES)} cases: {len(LINES)} decided, 0 invalid, " + err.split("invalid, ")[1].strip()


def test_json_lines_on_standard_input_and_two_jobs_give_the_same_lines(tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(LINES) + "\n")
    _, one, _ = cli("evaluate", path, "--jobs", "1")
    status, two, _ = cli("evaluate", "-", "--jobs", "2", stdin="\n".join(LINES) + "\n")
    assert status == 0 and two == one


def test_keep_going_writes_an_error_line_in_place_and_exits_1():
    lines = LINES[:3] + [BAD] + LINES[3:6]
    status, out, err = cli("evaluate", "-", "--keep-going", "--jobs", "1", stdin="\n".join(lines))
    assert status == 1
    rows = _decisions(out)
    assert len(rows) == 7 and "ruleset" in rows[2] and "ruleset" in rows[4]
    assert rows[3]["line"] == 4
    paths = {p["path"] for p in rows[3]["problems"]}
    assert {"enterprise.legal_form", "project.kind"} <= paths
    assert "7 cases: 6 decided, 1 invalid" in err


def test_without_keep_going_the_first_bad_case_stops_the_run_with_exit_2():
    lines = LINES[:3] + [BAD] + LINES[3:6]
    status, out, err = cli("evaluate", "-", "--jobs", "1", stdin="\n".join(lines))
    assert status == 2
    assert len(out.splitlines()) == 3  # what was decided before it, nothing after
    assert "line 4: enterprise.legal_form: is required" in err


def test_a_bad_case_early_in_a_long_batch_on_two_jobs_stops_the_run_cleanly():
    lines = [BAD] + LINES * 20
    status, out, err = cli("evaluate", "-", "--jobs", "2", stdin="\n".join(lines))
    assert status == 2 and out == "" and "line 1: enterprise.legal_form: is required" in err


def test_a_line_that_is_not_json_is_an_error_line():
    status, out, _ = cli("evaluate", "-", "--keep-going", "--jobs", "1", stdin=LINES[0] + "\n{oops\n" + LINES[1])
    assert status == 1
    assert _decisions(out)[1]["line"] == 2 and "not valid JSON" in _decisions(out)[1]["problems"][0]["message"]


def test_one_case_on_one_line_is_still_one_case():
    status, out, _ = cli("evaluate", "-", stdin=LINES[0] + "\n")
    assert status == 0 and out.startswith("{\n")  # printed as a single decision


def test_evaluate_many_yields_decisions_in_input_order_on_two_processes(singly):
    book = open_rules()
    good = [c for c, d in zip(CASES, singly) if not isinstance(d, CaseError)]
    one = [d.to_dict() for d in book.evaluate_many(good, jobs=1)]
    two = [d.to_dict() for d in book.evaluate_many(good, jobs=2)]
    assert one == two == [d for d in singly if not isinstance(d, CaseError)]


def test_evaluate_many_raises_at_a_bad_case_or_yields_its_error_with_keep_going():
    book = open_rules()
    cases = CASES[:2] + [json.loads(BAD)] + CASES[2:4]
    got = []
    with pytest.raises(CaseError):
        for decision in book.evaluate_many(cases, jobs=1):
            got.append(decision)
    assert len(got) == 2
    kept = list(book.evaluate_many(cases, jobs=2, keep_going=True))
    assert len(kept) == 5 and isinstance(kept[2], CaseError)
    assert any(p.path == ("enterprise", "legal_form") for p in kept[2].problems)


def test_evaluate_many_reads_its_input_as_it_goes():
    pulled = 0

    def endless():
        nonlocal pulled
        while True:
            for case in CASES:
                pulled += 1
                yield case
    results = open_rules().evaluate_many(endless(), jobs=2)
    next(results)
    assert pulled <= CHUNK * (2 * IN_FLIGHT_PER_JOB + 1)
    results.close()


def test_a_book_and_a_ruleset_pickle_for_any_executor():
    ruleset = load_ruleset(on="2024-06-10")
    again = pickle.loads(pickle.dumps(ruleset))
    assert again.info == ruleset.info
    assert again.evaluate(CASES[0]).to_dict() == ruleset.evaluate(CASES[0]).to_dict()
    book = pickle.loads(pickle.dumps(open_rules()))
    assert book.evaluate(CASES[0]).to_dict() == ruleset.evaluate(CASES[0]).to_dict()
    error = pickle.loads(pickle.dumps(CaseError([], "x")))
    assert isinstance(error, CaseError) and error.source == "x"


def test_load_ruleset_per_case_reuses_the_rules_until_a_file_changes(tmp_path):
    folder = tmp_path / "rules"
    shutil.copytree(ROOT / "rules" / "kmo-portefeuille", folder / "kmo-portefeuille")
    first = load_ruleset(on="2024-06-10", rules=folder)
    assert load_ruleset(on="2024-06-10", rules=folder)._built is first._built  # not loaded again
    changed = folder / "kmo-portefeuille" / "2023-01-01.yaml"
    changed.write_text(changed.read_text() + "\n# an analyst's comment\n")
    assert load_ruleset(on="2024-06-10", rules=folder)._built is not first._built


def test_the_version_is_picked_by_each_cases_own_date():
    book = open_rules()
    decisions = {c["application_date"][:4]: book.evaluate(c).ruleset.version for c in CASES[::50]}
    assert decisions["2019"] == "2016-04-01" and decisions["2024"] == "2024-01-01"


def test_money_as_decimal_strings_in_json_lines(singly):
    first = dict(CASES[0])
    text = json.dumps(first, default=lambda v: format(v, "f") if isinstance(v, Decimal) else str(v))
    status, out, _ = cli("evaluate", "-", "--jobs", "1", stdin=text + "\n" + text + "\n")
    assert status == 0 and _decisions(out)[0] == json.loads(json.dumps(singly[0]))


# -- a file on several cores: the workers read their blocks where they lie and write the output themselves --

def _command(*argv, stdin=None, cwd=ROOT):
    """The command line in a process of its own, its standard output a real file (as a batch job's is)."""
    import subprocess
    import sys
    import tempfile
    with tempfile.TemporaryFile() as out:
        done = subprocess.run([sys.executable, "-m", "engine", *map(str, argv)], stdout=out, stderr=subprocess.PIPE,
                              input=stdin.encode() if stdin is not None else None, cwd=cwd, timeout=300)
        out.seek(0)
        return done.returncode, out.read().decode("utf-8"), done.stderr.decode("utf-8")


@pytest.fixture(scope="module")
def long_file(tmp_path_factory):
    """Several blocks of input (a block is some 256 KB), a bad case in the third, a blank line in the first."""
    from engine.run.batch import BLOCK_BYTES
    lines = list(LINES)
    while sum(len(line) + 1 for line in lines) < 3 * BLOCK_BYTES:
        lines += LINES
    lines.insert(len(lines) * 5 // 6, BAD)
    lines.insert(10, "")
    path = tmp_path_factory.mktemp("batch") / "cases.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path, lines


def test_a_long_file_on_two_jobs_gives_the_lines_of_one_job_byte_for_byte(long_file):
    path, lines = long_file
    one = _command("evaluate", path, "--jobs", "1", "--keep-going")
    two = _command("evaluate", path, "--jobs", "2", "--keep-going")
    assert one[0] == two[0] == 1
    assert one[1] == two[1]
    rows = _decisions(two[1])
    bad = lines.index(BAD) + 1
    assert len(rows) == len(lines) - 1  # the blank line is skipped, every other has its line
    assert [row.get("line") for row in rows if "line" in row] == [bad]
    assert f"{len(lines) - 1:,} cases: {len(lines) - 2:,} decided, 1 invalid" in two[2]


def test_a_long_file_on_two_jobs_stops_at_its_first_bad_case_with_what_came_before(long_file):
    path, lines = long_file
    status, out, err = _command("evaluate", path, "--jobs", "2")
    bad = lines.index(BAD) + 1
    assert status == 2
    assert len(out.splitlines()) == bad - 2  # every case before it (less the blank line), none after
    assert out == _command("evaluate", path, "--jobs", "1", "--keep-going")[1][:len(out)]
    assert f"line {bad}: enterprise.legal_form: is required" in err and "Traceback" not in err


def test_two_jobs_into_a_stream_in_memory_give_the_same_lines(long_file):
    path, _ = long_file
    assert cli("evaluate", path, "--jobs", "2", "--keep-going")[1] == cli("evaluate", path, "--jobs", "1",
                                                                         "--keep-going")[1]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_line_that_is_not_utf8_is_named_with_exit_2(tmp_path, jobs):
    path = tmp_path / "cases.jsonl"
    path.write_bytes(("\n".join(LINES[:5]) + "\n").encode() + b'{"a": "\xe9"}\n' + (LINES[5] + "\n").encode())
    status, out, err = cli("evaluate", path, "--jobs", jobs)
    assert status == 2 and out == ""
    assert err.strip() == f"kmo-rules: {path}: line 6: not UTF-8 text"


def test_a_line_longer_than_a_case_may_be_is_named_with_exit_2(tmp_path):
    from engine.cli.main import MAX_CASE_BYTES
    path = tmp_path / "cases.jsonl"
    path.write_text(LINES[0] + "\n" + '{"a": "' + "x" * (2 * MAX_CASE_BYTES) + '"}\n')
    status, out, err = cli("evaluate", path, "--jobs", "2")
    assert status == 2 and out == ""  # never read whole: the line is refused where it stands
    assert err.strip() == f"kmo-rules: {path}: line 2: longer than {MAX_CASE_BYTES:,} bytes"


def test_a_reader_that_stops_early_ends_the_run_quietly(long_file):
    import subprocess
    import sys
    path, _ = long_file
    done = subprocess.run(f"'{sys.executable}' -m engine evaluate '{path}' --jobs 2 | head -n 3", shell=True,
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert len(done.stdout.splitlines()) == 3 and "Traceback" not in done.stderr


def test_json_lines_on_standard_input_on_two_jobs_give_the_lines_of_a_file(long_file):
    path, _ = long_file
    from_file = _command("evaluate", path, "--jobs", "2", "--keep-going")
    from_stdin = _command("evaluate", "-", "--jobs", "2", "--keep-going", stdin=path.read_text())
    assert from_stdin[0] == from_file[0] == 1 and from_stdin[1] == from_file[1]


def test_a_file_cut_short_while_a_batch_reads_it_is_an_error_not_a_traceback(long_file, tmp_path):
    from engine.run.batch import Block, InputChanged
    path = tmp_path / "shrinking.jsonl"
    path.write_text("\n".join(LINES[:10]) + "\n")
    block = Block(0, 1, None, str(path), 0, path.stat().st_size + 100)  # as if the file had been longer
    with pytest.raises(InputChanged, match="changed while it was read"):
        block.lines()


def test_a_terminal_sees_the_count_grow_then_the_summary(long_file, monkeypatch):
    import itertools
    import time
    path, lines = long_file
    seconds = itertools.count()
    monkeypatch.setattr(time, "monotonic", lambda: float(next(seconds)))  # a second passes at every look

    class Terminal(io.StringIO):
        def isatty(self):
            return True
    out, err = io.StringIO(), Terminal()
    assert run(["evaluate", str(path), "--jobs", "1", "--keep-going"], io.StringIO(), out, err) == 1
    shown = err.getvalue()
    counts = [int(part.split(" cases")[0].replace(",", "")) for part in shown.split("\r")[1:-1]]
    assert len(counts) >= 2 and counts == sorted(counts) and counts[-1] < len(lines)
    assert shown.endswith(f"\r\x1b[K{len(lines) - 1:,} cases: {len(lines) - 2:,} decided, 1 invalid, "
                          + shown.rsplit("invalid, ", 1)[1])


def test_the_fields_no_output_may_take_are_the_ones_a_decision_writes_itself():
    from engine.core.kinds import DECISION_FIELDS
    decision = open_rules().evaluate(CASES[0])
    written = decision.to_dict()
    assert tuple(key for key in written if key not in decision.outputs) == DECISION_FIELDS


def test_explanations_in_json_lines_are_the_apis_on_two_jobs(tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(LINES[:20]) + "\n")
    book = open_rules()
    expected = [json.loads(json.dumps(book.evaluate(json.loads(line), explain=True, lang="nl").to_dict()))
                for line in LINES[:20]]
    status, out, _ = _command("evaluate", path, "--explain", "--lang", "nl", "--jobs", "2")
    assert status == 0 and _decisions(out) == expected and expected[0]["explanation"]["lang"] == "nl"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_full_disk_is_said_with_exit_2_not_a_traceback(long_file, jobs):
    import subprocess
    import sys
    path, _ = long_file
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "engine", "evaluate", str(path), "--jobs", jobs, "--keep-going"],
                              stdout=full, stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 2 and "no space left on device" in done.stderr and "Traceback" not in done.stderr


# -- the workers: an interrupt, a worker that dies -----------------------------------------------------------

def _session_alive(session: int) -> list[int]:
    """The processes still running in a session (the command line and every worker it started)."""
    import os
    alive = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    fields = stat.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == session and fields[0] != b"Z":
                alive.append(int(entry))
    return alive


@pytest.mark.skipif(not Path("/proc").exists(), reason="needs /proc")
def test_ctrl_c_on_two_jobs_ends_after_a_whole_line_with_no_worker_left(long_file):
    import os
    import signal
    import subprocess
    import sys
    import time
    path, _ = long_file
    first_blocks = path.read_bytes()[:700_000]
    first_blocks = first_blocks[:first_blocks.rindex(b"\n") + 1]
    command = subprocess.Popen([sys.executable, "-m", "engine", "evaluate", "-", "--jobs", "2", "--keep-going"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
                               start_new_session=True, bufsize=0)  # unbuffered: the first line read, no more
    try:
        command.stdin.write(first_blocks)  # the input stays open: the batch waits for more, deciding what came
        command.stdin.flush()
        first = command.stdout.readline()  # its workers are writing decisions
        assert first.startswith(b'{"ruleset": '), command.stderr.read1().decode()
        os.killpg(command.pid, signal.SIGINT)  # Ctrl-C at a terminal reaches every process of the group
        out, err = command.communicate(timeout=60)
    finally:
        if command.poll() is None:
            os.killpg(command.pid, signal.SIGKILL)
    assert command.returncode == 130
    assert err.decode().endswith("kmo-rules: interrupted\n") and "Traceback" not in err.decode()
    assert (first + out).endswith(b"\n") and all(json.loads(line)["ruleset"] for line in (first + out).splitlines())
    for _ in range(50):  # the workers are gone with it
        if not _session_alive(command.pid):
            break
        time.sleep(0.1)
    assert _session_alive(command.pid) == []


def _dies_on_seven(item: int) -> int:
    import os
    if item == 7:
        os._exit(3)
    return item * item


def test_a_worker_that_dies_ends_the_batch_with_a_message_after_every_answer_before_it():
    import multiprocessing
    from engine.run.workers import WorkerLost, Workers
    got = []
    with pytest.raises(WorkerLost, match=r"a worker process ended before its work was done \(exit status 3\)"):
        with Workers(multiprocessing.get_context("fork"), 2, int, (), _dies_on_seven) as workers:
            for answer in workers.in_order(range(20), 2):
                got.append(answer)
    assert got == [n * n for n in range(7)]


def _fails_on_five(item: int) -> int:
    if item == 5:
        raise ValueError("five is refused")
    return item


def test_an_error_in_a_worker_is_raised_at_its_place_and_so_is_one_of_the_input():
    import multiprocessing
    from engine.run.workers import Workers

    def items():
        yield from range(8)
        raise OSError("the input ended badly")

    context = multiprocessing.get_context("fork")
    got = []
    with pytest.raises(ValueError, match="five is refused"):
        with Workers(context, 2, int, (), _fails_on_five) as workers:
            got.extend(workers.in_order(range(50), 3))
    assert got == [0, 1, 2, 3, 4]
    got = []
    with pytest.raises(OSError, match="ended badly"):
        with Workers(context, 2, int, (), abs) as workers:
            got.extend(workers.in_order(items(), 2))
    assert got == list(range(8))


@pytest.fixture
def started(monkeypatch):
    """The number of workers of each batch that starts them, in order."""
    import engine.run.workers as workers
    jobs_started = []
    real = workers.Workers.__init__

    def counting(self, context, jobs, *rest, **named):
        jobs_started.append(jobs)
        real(self, context, jobs, *rest, **named)
    monkeypatch.setattr(workers.Workers, "__init__", counting)
    return jobs_started


def _as_data(results) -> list:
    """Decisions as the contract's dicts and refused cases as their problems, to compare batch paths."""
    return [r.problems if isinstance(r, CaseError) else r if isinstance(r, dict) else r.to_dict() for r in results]


def test_without_jobs_a_file_of_one_block_starts_no_process_and_a_longer_one_every_core(long_file, tmp_path,
                                                                                         monkeypatch, started):
    import engine.run.batch as batch
    monkeypatch.setattr(batch, "default_jobs", lambda: 2)
    small = tmp_path / "small.jsonl"
    small.write_text("\n".join(LINES[:50]) + "\n")
    status, out, _ = cli("evaluate", small)
    assert status == 0 and len(out.splitlines()) == 50 and started == []
    path, lines = long_file
    status, out, _ = cli("evaluate", path, "--keep-going")
    assert status == 1 and len(out.splitlines()) == len(lines) - 1 and started == [2]


@pytest.mark.parametrize("method", ["forkserver", "spawn"])
def test_workers_started_afresh_as_in_a_process_with_threads_give_the_same_decisions(method, monkeypatch, long_file,
                                                                                     singly):
    """A process with threads (a service, an application) cannot fork safely: its workers start afresh, the
    rules and locks reaching them by pickle."""
    import multiprocessing
    import engine.run.workers as workers
    monkeypatch.setattr(workers, "start_context", lambda: multiprocessing.get_context(method))
    decided = list(open_rules().evaluate_many(CASES, jobs=2, keep_going=True))
    assert _as_data(decided) == _as_data(singly)
    path, _ = long_file
    assert cli("evaluate", path, "--jobs", "2", "--keep-going")[:2] == cli("evaluate", path, "--jobs", "1",
                                                                           "--keep-going")[:2]


def test_processes_pay_only_when_deciding_a_case_costs_more_than_moving_it():
    from engine.run.batch import processes_pay
    # a plain decision here: 14 us to decide, 9 us to move in this process and 6 in a worker
    assert not processes_pay(2, 14.0, 9.0, 6.0)
    assert processes_pay(16, 14.0, 9.0, 6.0)  # on many cores, this process keeps up: 9 us a case
    assert not processes_pay(64, 14.0, 13.0, 6.0)  # this process alone moves every case: no core count helps
    assert processes_pay(2, 100.0, 9.0, 6.0)  # a costly decision on two cores
    assert not processes_pay(1, 100.0, 9.0, 6.0) and not processes_pay(2, 0.0, 0.0, 0.0)
    assert not processes_pay(8, 100.0, float("inf"), float("inf"))  # cases that cannot be pickled stay here


@pytest.mark.parametrize("pays", [False, True])
def test_evaluate_many_without_jobs_decides_here_unless_processes_pay(monkeypatch, singly, pays, started):
    import engine.run.batch as batch
    monkeypatch.setattr(batch, "default_jobs", lambda: 2)
    monkeypatch.setattr(batch, "processes_pay", lambda *measured: pays)
    monkeypatch.setattr(batch, "CHUNK", 64)  # the first chunk is decided here, measured, the rest where it pays
    decided = list(open_rules().evaluate_many(CASES, keep_going=True))
    assert _as_data(decided) == _as_data(singly)
    assert started == ([2] if pays else [])


def test_a_decision_pickles_to_an_equal_decision():
    decision = open_rules().evaluate(CASES[0])
    again = pickle.loads(pickle.dumps(decision))
    assert again == decision and again.to_dict() == decision.to_dict() and again.subsidy == decision.subsidy


def test_a_batch_of_one_case_compiles_no_fast_path_and_a_longer_one_decides_by_it(singly):
    """Deciding one case costs no compiling of the fast path (a portal calling the command per case); from a
    version's third case on, the batch decides by it, line for line as the full way."""
    from engine.run.batch import LineDecider, decide_block, text_blocks
    book = open_rules()
    one = decide_block(LineDecider(book), next(text_blocks(LINES[:1])), True)
    fast = book.for_case(CASES[0]).compiled.fast
    assert one.cases == 1 and not fast.built
    decider = LineDecider(book)
    assert decider.text(LINES[0]) is None and decider.text(LINES[0]) is None  # the full way's, until built
    many = decide_block(decider, next(text_blocks(LINES[:40])), True)
    assert fast.built and decider.text(LINES[0]) is not None
    expected = [d for d in singly[:40] if not isinstance(d, CaseError)]
    assert [json.loads(line) for line in many.text.splitlines()] == json.loads(json.dumps(expected))
