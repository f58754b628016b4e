"""`kmo-rules serve`: the HTTP API and the pages on uvicorn (registered into the CLI).

    kmo-rules serve [--host H] [--port P] [--rules DIR] [--log FILE] [--log-inputs]
                    [--max-body SIZE] [--max-batch N] [--timeout SECONDS] [--max-connections N]

Starlette and uvicorn are imported only when the command runs, so the rest
of the command line works without the `serve` extra installed.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from .settings import MEGABYTE, Limits

_SIZE = re.compile(r"([0-9]{1,15})\s*([kmg]?)(i?b)?", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": MEGABYTE, "g": 1024 * MEGABYTE}


def _size(text: str) -> int:
    found = _SIZE.fullmatch(text.strip())
    if found is None or int(found.group(1)) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a size such as 10MB, 512KB or 1000000")
    return int(found.group(1)) * _UNITS[found.group(2).lower()]


def _count(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number of at least 1")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 86_400:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds above 0")
    return value


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"'{text}' is not a port from 0 to 65535")
    return int(text)


def add_commands(commands, handlers: dict) -> None:
    """Add `serve` to the CLI; its handler is f(args, stdin, stdout, stderr) -> int."""
    limits = Limits()
    serve = commands.add_parser(
        "serve", help="serve the rules over HTTP: the JSON API and pages to try cases and compare versions",
        description="Serve every scheme's decisions over HTTP (POST /v1/{scheme}/decisions, OpenAPI at "
                    "/openapi.json) and the pages for people at /. The rules are loaded once, at start.")
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8000, help="the port (default 8000; 0 picks a free one)")
    serve.add_argument("--rules", type=Path, metavar="DIR", help="another rules folder (default: the bundled rules)")
    serve.add_argument("--log", type=Path, metavar="FILE", help="append one JSON line per decision to FILE")
    serve.add_argument("--log-inputs", action="store_true", help="with --log: write each case too, not only its hash")
    serve.add_argument("--max-body", type=_size, default=limits.body_bytes, metavar="SIZE",
                       help=f"the largest request body (default {limits.body_bytes // MEGABYTE}MB); larger is 413")
    serve.add_argument("--max-batch", type=_count, default=limits.batch_cases, metavar="N",
                       help=f"the most cases in one batch or impact request (default {limits.batch_cases:,}); "
                            "more is 413")
    serve.add_argument("--timeout", type=_seconds, default=limits.seconds, metavar="SECONDS",
                       help=f"time to read a request and answer it (default {limits.seconds:g}); "
                            "408 while reading, 503 after")
    serve.add_argument("--max-connections", type=_count, metavar="N",
                       help="open connections at once (default: no limit); more are answered 503")
    handlers["serve"] = _serve


def _serve(args, stdin, stdout, stderr) -> int:
    try:
        import uvicorn  # noqa: F401
        import starlette  # noqa: F401
    except ImportError as error:
        stderr.write(f"kmo-rules serve: {error.name} is not installed; pip install 'kmo-rules[serve]'\n")
        return 2
    if args.log_inputs and args.log is None:
        stderr.write("kmo-rules serve: --log-inputs needs --log FILE\n")
        return 2
    from .app import create_app
    from .settings import Settings
    settings = Settings(args.rules, args.log, args.log_inputs,
                        Limits(args.max_body, args.max_batch, args.timeout, args.max_connections))
    try:
        app = create_app(settings)
    except OSError as error:
        stderr.write(f"kmo-rules serve: cannot open the log {args.log}: {(error.strerror or str(error)).lower()}\n")
        return 2
    return run_server(app, args.host, args.port, settings, stderr)


def run_server(app, host: str, port: int, settings, stderr) -> int:
    """Serve `app` until stopped; say first which versions of which schemes are served, and where."""
    import socket

    import uvicorn
    backend = app.state.backend
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # answers go out at once: a response's head and body are separate writes, and Nagle's algorithm would hold
    # the body back until the client acknowledges the head, which it delays (40 ms a request on Linux)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)  # connections wait from now on, while the server starts: the address above is true
    except OSError as error:
        stderr.write(f"kmo-rules serve: cannot listen on {host}:{port}: {(error.strerror or str(error)).lower()}\n")
        return 2
    bound = sock.getsockname()[1]
    for scheme in backend.schemes():
        versions = backend.versions(scheme.id)
        stderr.write(f"kmo-rules serve: {scheme.id}: {len(versions)} versions, "
                     f"{', '.join(v.version for v in versions)}\n")
    shown = f"[{host}]" if ":" in host else host
    stderr.write(f"kmo-rules serve: listening on http://{shown}:{bound}/ (API: /openapi.json)"
                 + (f", logging decisions to {settings.log}" if settings.log else "") + "\n")
    stderr.flush()
    config = uvicorn.Config(app, log_level="warning", limit_concurrency=settings.limits.connections,
                            timeout_keep_alive=5, access_log=False)
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    return 0
