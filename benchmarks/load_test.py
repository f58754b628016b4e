"""A bounded load test of `kmo-rules serve`, on this machine only.

    python benchmarks/load_test.py [--requests 10000] [--clients 20] [--invalid 0.2] [--seed 7] [--url URL]

Starts `kmo-rules serve` on a free port of 127.0.0.1 (or uses --url, which
must be a loopback address), then sends --requests POST /v1/kmo-portefeuille/
decisions from --clients threads at once, each on its own kept-alive
connection, drawn in turn from a set of distinct cases of every year
(benchmarks/corpus.py) of which a share (--invalid) is made wrong on purpose:
a value out of its list, a missing field, a number that is not one, text that
is not JSON, a case of no version.

Every answer is checked against the command line: a decision must equal what
`kmo-rules evaluate cases.jsonl --keep-going` writes for that line, and a
refusal must be a 4xx whose problems (path and message) are that line's.
Printed: the requests per status, the server's errors (5xx, and connections
that failed), the answers that differ from the command line, the median and
p99 latency, and the requests a second. Exit status 0 when there was no
server error and no difference, else 1. The run stops by itself: after the
requests, or after --max-seconds.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from corpus import corpus_lines, generate_cases, year_spec  # noqa: E402

SCHEME = "kmo-portefeuille"
PATH = f"/v1/{SCHEME}/decisions"


def _broken(case: dict, how: int) -> str:
    """A valid case made wrong in one of a few ways (as a JSON line)."""
    case = json.loads(json.dumps(case))
    if how == 0:
        case["enterprise"]["legal_form"] = "bvba"                 # not one of the list; did you mean 'bv'?
    elif how == 1:
        del case["project"]["start_date"]                         # required
    elif how == 2:
        case["project"]["costs"]["fee"] = "twee duizend"          # not a number
    elif how == 3:
        case["application_date"] = "2001-05-04"                   # before the first version
    elif how == 4:
        case["enterprise"]["employes"] = 3                        # an unknown field
    else:
        return '{"application_date": "2024-01-01", "enterprise": '  # not JSON
    return json.dumps(case)


def distinct_cases(count: int, invalid: float, seed: int) -> list[str]:
    """`count` JSON lines: generated cases of every year from 2016, a share of them broken."""
    per_year = max(1, count // 11)
    lines = []
    for year in range(2016, 2027):
        lines += list(corpus_lines(generate_cases(year_spec(per_year, seed + year, year))))
    draw = random.Random(seed)
    out = []
    for line in lines[:count]:
        out.append(_broken(json.loads(line), draw.randrange(6)) if draw.random() < invalid else line)
    return out


def cli_answers(lines: list[str], folder: Path) -> list[dict]:
    """What `kmo-rules evaluate --keep-going` writes for each line: a decision or an error line."""
    path = folder / "cases.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "engine", "evaluate", str(path), "--keep-going", "--jobs", "1"],
                          cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    if len(answers) != len(lines):
        raise SystemExit(f"the command line gave {len(answers)} answers for {len(lines)} cases: {done.stderr[-500:]}")
    return answers


class Server:
    def __init__(self, folder: Path):
        self.err = folder / "serve.err"
        self.handle = open(self.err, "w")
        self.process = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--host", "127.0.0.1", "--port", "0"],
                                        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=self.handle,
                                        env=dict(os.environ, PYTHONPATH=str(ROOT)))
        deadline = time.monotonic() + 60
        while True:
            found = re.search(r"listening on (http://127\.0\.0\.1:\d+)/", self.err.read_text())
            if found:
                self.url = found.group(1)
                return
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"kmo-rules serve did not start: {self.err.read_text()[-500:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.handle.close()


def _same(answer_status: int, body: bytes, expected: dict) -> bool:
    try:
        got = json.loads(body)
    except ValueError:
        return False
    if "problems" in expected and "line" in expected:  # the command line refused it
        if not 400 <= answer_status < 500:
            return False
        items = got.get("problems") or [{"path": "(the case)", "message": got.get("detail", "")}]
        return [(p["path"], p["message"]) for p in items] == [(p["path"], p["message"]) for p in expected["problems"]]
    return answer_status == 200 and got == expected


def load(url: str, lines: list[str], answers: list[dict], requests: int, clients: int, max_seconds: float) -> dict:
    target = urlparse(url)
    counter = iter(range(requests))
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    failures: list[str] = []
    differences: list[str] = []
    stop_at = time.monotonic() + max_seconds

    def client():
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        while time.monotonic() < stop_at:
            with lock:
                number = next(counter, None)
            if number is None:
                break
            index = number % len(lines)
            started = time.perf_counter()
            try:
                body = (lines[index] + "\n").encode("utf-8")  # the line as the command line's file has it
                connection.request("POST", PATH, body=body,
                                   headers={"Content-Type": "application/json"})
                answer = connection.getresponse()
                body = answer.read()
                status = answer.status
            except (OSError, http.client.HTTPException) as error:
                with lock:
                    failures.append(f"request {number}: {type(error).__name__}: {error}")
                connection.close()
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                continue
            elapsed = time.perf_counter() - started
            same = _same(status, body, answers[index])
            with lock:
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1
                if status >= 500:
                    failures.append(f"request {number}: {status} {body[:200]!r}")
                elif not same and len(differences) < 20:
                    differences.append(f"case {index + 1}: {status} {body[:300]!r}")
                elif not same:
                    differences.append("")
        connection.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    ordered = sorted(latencies)
    return {"requests": len(latencies), "seconds": seconds, "statuses": dict(sorted(statuses.items())),
            "server_errors": len(failures), "failures": failures[:10], "differences": len(differences),
            "shown_differences": [d for d in differences if d][:10],
            "median_ms": statistics.median(ordered) * 1000 if ordered else None,
            "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000 if ordered else None,
            "per_second": len(latencies) / seconds if seconds else None}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="A bounded local load test of kmo-rules serve.")
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--distinct", type=int, default=2_000, help="distinct cases the requests are drawn from")
    parser.add_argument("--invalid", type=float, default=0.2, help="the share of cases made wrong on purpose")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-seconds", type=float, default=600.0, help="stop sending after this long")
    parser.add_argument("--url", help="a server already running on this machine (http://127.0.0.1:PORT)")
    args = parser.parse_args(argv)
    if args.url and urlparse(args.url).hostname not in ("127.0.0.1", "localhost", "::1"):
        parser.error("--url must be a loopback address: this test sends load only to this machine")
    if not (1 <= args.clients <= 100 and 1 <= args.requests <= 1_000_000):
        parser.error("--clients 1..100 and --requests 1..1000000")
    with tempfile.TemporaryDirectory() as folder:
        lines = distinct_cases(args.distinct, args.invalid, args.seed)
        answers = cli_answers(lines, Path(folder))
        refused = sum(1 for a in answers if "problems" in a)
        print(f"{len(lines):,} distinct cases ({refused:,} refused by the command line), "
              f"{args.requests:,} requests from {args.clients} clients")
        server = None if args.url else Server(Path(folder))
        try:
            result = load(args.url or server.url, lines, answers, args.requests, args.clients, args.max_seconds)
        finally:
            if server is not None:
                server.stop()
                errors = server.err.read_text()
                if "internal error" in errors:
                    print(errors[-2000:])
    print(f"requests answered  {result['requests']:,} in {result['seconds']:.1f} s "
          f"({result['per_second']:,.0f} a second)")
    print("by status          " + ", ".join(f"{status}: {count:,}" for status, count in result["statuses"].items()))
    print(f"server errors      {result['server_errors']}")
    print(f"differences        {result['differences']} from the command line's answers")
    print(f"latency            median {result['median_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms")
    for line in result["failures"] + result["shown_differences"]:
        print("  " + line)
    return 0 if result["server_errors"] == 0 and result["differences"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
