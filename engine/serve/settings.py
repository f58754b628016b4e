"""What a running service is told at start: where the rules are, where decisions are logged, its limits.

One frozen value travels from the command line to every part of the app, so
a test builds an app with the limits it wants and nothing reads the
environment behind its back.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MEGABYTE = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Bounds on one request; each one exceeded is answered with its own 4xx or 503, never a hang or a 500."""

    body_bytes: int = 10 * MEGABYTE    # a request body larger than this is refused with 413
    batch_cases: int = 10_000          # cases in one batch or impact request; more is 413
    seconds: float = 30.0              # time to read a request and answer it: 408 while reading, 503 after
    connections: int | None = None     # open connections at once; more are refused with 503 (uvicorn's check)


@dataclass(frozen=True)
class Settings:
    """Everything `create_app` needs: the rules folder (None: the bundled rules), the log and the limits."""

    rules: Path | None = None
    log: Path | None = None            # one JSON line per decision when given
    log_inputs: bool = False           # the case itself in each log line, not only its hash
    limits: Limits = Limits()
