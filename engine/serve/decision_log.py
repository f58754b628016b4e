"""The decision log: one JSON line per decision, enough to find it again and replay it.

    {"id": "...", "time": "2026-12-01T10:59:46.123456Z", "scheme": "...", "version": "2024-01-01",
     "sha256": "<the rules' content hash>", "scheme_version": "...", "modules": {...},
     "input_sha256": "<the case's hash>", "route": "decisions",
     "outcome": {"eligible": true, "reasons": [], "notes": ["..."], "outputs": {...}}}

`input_sha256` is the sha256 of the case written canonically (`canonical_json`:
keys sorted, no spaces, numbers exactly as sent), so a portal that keeps the
case can prove which input a line is about without the log holding it; the
case itself is written only with `--log-inputs`. Lines are appended and
flushed one by one from any thread.
"""
from __future__ import annotations

import hashlib
import json
import threading
import uuid
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path


def canonical_json(value) -> str:
    """A case as one canonical JSON text: sorted keys, no white space, numbers as written (never float)."""
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(str(k), ensure_ascii=False) + ":" + canonical_json(v)
                              for k, v in sorted(value.items(), key=lambda item: str(item[0]))) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(canonical_json(v) for v in value) + "]"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return json.dumps(value if isinstance(value, str) else str(value), ensure_ascii=False)


def input_hash(raw) -> str:
    return hashlib.sha256(canonical_json(raw).encode("utf-8")).hexdigest()


def new_id() -> str:
    return str(uuid.uuid4())


class DecisionLog:
    """Appends decision lines to a file; `None` as the path logs nothing (and costs nothing)."""

    def __init__(self, path: Path | None, with_inputs: bool = False):
        self.path = path
        self.with_inputs = with_inputs
        self._lock = threading.Lock()
        self._handle = open(path, "a", encoding="utf-8") if path is not None else None

    @property
    def enabled(self) -> bool:
        return self._handle is not None

    def line(self, decided, raw, *, decision_id: str, route: str, on=None, number: int | None = None,
             request_id: str | None = None) -> dict:
        """The log line of one decision (a backend `Decided`)."""
        out = {"id": decision_id, "time": datetime.now(timezone.utc).isoformat(timespec="microseconds")
               .replace("+00:00", "Z"), "scheme": decided.scheme, "version": decided.version,
               "sha256": decided.sha256, **decided.parts, "input_sha256": input_hash(raw), "route": route}
        if request_id is not None:
            out["request"] = request_id
        if number is not None:
            out["line"] = number
        if on is not None:
            out["on"] = on.isoformat()
        out["outcome"] = {"eligible": decided.eligible, "reasons": list(decided.reasons),
                          "notes": list(decided.notes), "outputs": decided.outputs}
        return out

    def text(self, decided, raw, **where) -> str:
        """The line as JSON text; with inputs, the case follows as its canonical JSON, numbers untouched."""
        text = json.dumps(self.line(decided, raw, **where), ensure_ascii=False, default=str)
        return text[:-1] + ',"input":' + canonical_json(raw) + "}" if self.with_inputs else text

    def write(self, decided, raw, **where) -> None:
        if self._handle is None:
            return
        text = self.text(decided, raw, **where)
        with self._lock:
            self._handle.write(text + "\n")
            self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            with self._lock:
                self._handle.close()
                self._handle = None
