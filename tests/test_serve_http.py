"""A real `kmo-rules serve` process on a free local port, and hostile clients against it.

Huge bodies, deep JSON, wrong content types, bodies that never finish,
headers that trickle in: each gets a clean 4xx (or nothing, for a client
that never finishes its headers), and the server goes on answering everyone
else. Nothing here leaves 127.0.0.1.
"""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the serve extra is not installed: pip install '.[serve]'")
pytest.importorskip("uvicorn", reason="the serve extra is not installed: pip install '.[serve]'")

ROOT = Path(__file__).resolve().parent.parent
SCHEME = "kmo-portefeuille"
EXAMPLE = ROOT / "examples" / "small-cybersecurity-training.json"
TIMEOUT = 2.0        # the server's time per request
MAX_BODY = 200_000   # the server's largest body


class Server:
    """`python -m engine serve --port 0 ...` until stopped; the port it says it listens on."""

    def __init__(self, tmp: Path, *options: str):
        self.log = tmp / "decisions.jsonl"
        self.stderr_path = tmp / "serve.err"
        self.stderr = open(self.stderr_path, "w+")
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "engine", "serve", "--port", "0", "--log", str(self.log), *options],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=self.stderr, env=env)
        self.port = self._port()

    def _port(self) -> int:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = self.stderr_path.read_text()
            found = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", text)
            if found:
                return int(found.group(1))
            if self.process.poll() is not None:
                raise AssertionError(f"kmo-rules serve stopped: {text}")
            time.sleep(0.05)
        raise AssertionError("kmo-rules serve did not start within 60 s")

    def request(self, method: str, path: str, body: bytes | str | None = None, headers: dict | None = None,
                timeout: float = 30):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            answer = connection.getresponse()
            return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
        finally:
            connection.close()

    def alive(self) -> bool:
        status, _, body = self.request("GET", "/healthz", timeout=10)
        return self.process.poll() is None and status == 200 and json.loads(body)["status"] == "ok"

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:  # pragma: no cover
            self.process.kill()
            return self.process.wait()
        finally:
            self.stderr.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = Server(tmp_path_factory.mktemp("serve"), "--timeout", str(TIMEOUT), "--max-body", str(MAX_BODY),
                     "--max-batch", "1000")
    yield running
    status = running.stop()
    errors = running.stderr_path.read_text()
    assert "internal error" not in errors, errors
    assert status in (0, -signal.SIGINT, 130)


JSON = {"Content-Type": "application/json"}


def read_answer(sock) -> str:
    """What the server sends back on a raw connection, until it closes it (it says Connection: close)."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data.decode("utf-8", "replace")


def test_a_real_process_says_what_it_serves_and_decides(server):
    text = server.stderr_path.read_text()
    assert f"{SCHEME}: 10 versions" in text or re.search(rf"{SCHEME}: \d+ versions", text)
    status, headers, body = server.request("POST", f"/v1/{SCHEME}/decisions", EXAMPLE.read_bytes(), JSON)
    assert status == 200 and headers["content-type"] == "application/json"
    out = subprocess.run([sys.executable, "-m", "engine", "evaluate", str(EXAMPLE)], cwd=ROOT, capture_output=True,
                         text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert json.loads(body) == json.loads(out.stdout)
    logged = [json.loads(line) for line in server.log.read_text().splitlines()]
    assert any(line["id"] == headers["decision-id"] for line in logged)


def test_a_batch_streams_back_one_line_per_case(server):
    one = json.dumps(json.loads(EXAMPLE.read_text()))
    body = "\n".join([one, "{}", one] * 100)
    status, headers, answer = server.request("POST", f"/v1/{SCHEME}/decisions:batch", body,
                                             {"Content-Type": "application/x-ndjson"})
    lines = answer.decode().splitlines()
    assert status == 200 and headers.get("transfer-encoding") == "chunked" and len(lines) == 300
    assert json.loads(lines[1])["line"] == 2 and json.loads(lines[2])["subsidy"] == "1057.50"


def test_a_body_declared_too_large_is_refused_before_it_is_read(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(f"POST /v1/{SCHEME}/decisions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {10 ** 12}\r\n\r\n{{".encode())
        answer = read_answer(sock)
    assert answer.startswith("HTTP/1.1 413") and "body-too-large" in answer
    assert server.alive()


def test_a_chunked_body_that_grows_too_large_is_413(server):
    def chunks():
        for _ in range(100):
            yield b"[" * 10_000
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("POST", f"/v1/{SCHEME}/decisions", body=chunks(), headers=JSON, encode_chunked=True)
        answer = connection.getresponse()
        assert answer.status == 413 and json.loads(answer.read())["limit"] == MAX_BODY
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may close the connection before the client has sent it all: refused all the same
    finally:
        connection.close()
    assert server.alive()


@pytest.mark.parametrize("body, status", [
    ("[" * 50_000 + "]" * 50_000, 400),                  # deeper than any parser goes
    ('{"a":' * 20_000 + "1" + "}" * 20_000, 400),
    ('{"application_date": ' + "9" * 5000 + "}", 422),  # a number of 5,000 digits
    ('{"application_date": NaN}', 422),
    ('{"a": 1, "a": 2}', 400),                           # a key twice
    ("", 400),
    ("\xff\xfe", 400),
])
def test_hostile_json_is_a_clean_4xx(server, body, status):
    raw = body.encode("latin-1") if body.startswith("\xff") else body.encode()
    got, headers, answer = server.request("POST", f"/v1/{SCHEME}/decisions", raw, JSON)
    assert got == status and headers["content-type"] == "application/problem+json"
    assert json.loads(answer)["status"] == status


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          "application/json; charset=latin-1", "application/xml", None])
def test_a_wrong_content_type_is_415(server, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    status, _, answer = server.request("POST", f"/v1/{SCHEME}/decisions", EXAMPLE.read_bytes(), headers)
    assert status == 415 and "application/json" in json.loads(answer)["detail"]


def test_a_body_that_never_finishes_is_408_and_others_are_served_meanwhile(server):
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT + 10) as sock:
        sock.sendall(f"POST /v1/{SCHEME}/decisions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: 1000\r\n\r\n{".encode())
        served = []

        def others():
            while time.monotonic() - started < TIMEOUT:
                served.append(server.request("GET", "/healthz", timeout=5)[0])
                time.sleep(0.1)
        thread = threading.Thread(target=others)
        thread.start()
        for _ in range(int(TIMEOUT * 4)):  # a byte now and then, never the whole body
            try:
                sock.sendall(b" ")
            except OSError:
                break
            time.sleep(0.25)
        answer = read_answer(sock)
        thread.join()
    assert answer.startswith("HTTP/1.1 408") and "request-timeout" in answer
    assert time.monotonic() - started < TIMEOUT + 5
    assert served and set(served) == {200}


def test_clients_that_trickle_their_headers_do_not_stop_the_server(server):
    socks = []
    try:
        for _ in range(40):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            sock.sendall(b"POST /v1/kmo-portefeuille/decisions HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            socks.append(sock)
        for _ in range(5):
            status, _, _ = server.request("POST", f"/v1/{SCHEME}/decisions", EXAMPLE.read_bytes(), JSON, timeout=10)
            assert status == 200
    finally:
        for sock in socks:
            sock.close()
    assert server.alive()


def test_garbage_instead_of_http_is_refused_and_the_server_stays_up(server):
    for garbage in (b"\x00\x01\x02\r\n\r\n", b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                    b"A" * 70_000 + b"\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            try:
                sock.sendall(garbage)
                answer = sock.recv(1024)
            except OSError:
                answer = b""
        assert answer == b"" or answer.startswith(b"HTTP/1.1 4")
    assert server.alive()


def test_many_clients_at_once_get_their_own_decisions(server):
    cases = sorted((ROOT / "examples").glob("*.json"))
    results = {}

    def one(path):
        results[path.stem] = server.request("POST", f"/v1/{SCHEME}/decisions", path.read_bytes(), JSON)
    threads = [threading.Thread(target=one, args=(path,)) for path in cases * 1]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for path in cases:
        status, _, body = results[path.stem]
        assert status == 200 and json.loads(body)["ruleset"]["id"] == SCHEME
    assert server.alive()


def test_a_port_in_use_is_a_clear_error(server):
    out = subprocess.run([sys.executable, "-m", "engine", "serve", "--port", str(server.port)], cwd=ROOT,
                         capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=60)
    assert out.returncode == 2 and f"cannot listen on 127.0.0.1:{server.port}" in out.stderr
