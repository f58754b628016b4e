"""HTTP plumbing shared by the API and the pages: limits, bodies, query parameters, problem answers.

    Guard              ASGI middleware: sets each request's deadline; a body over the limit is 413, a body
                       that comes too slowly 408, whatever the route (the rest of the app just reads it)
    compute            runs engine work in a thread within the request's time, or answers 503
    query              the query parameters a route takes, parsed; an unknown one is a 400 with did-you-mean
    problem_response   a Problem -> application/problem+json
"""
from __future__ import annotations

import functools
import json
import math
import time
from datetime import date

import anyio
from starlette.requests import Request
from starlette.responses import Response

from ..core.suggest import did_you_mean
from . import problems as P
from .settings import Limits

PROBLEM = "application/problem+json"
JSON_TYPES = ("application/json",)
LINES_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines",
               "application/json-lines", "application/jsonlines")


class _TooLarge(Exception):
    pass


class _TooSlow(Exception):
    pass


def problem_response(problem: P.Problem) -> Response:
    return Response(json.dumps(problem.to_dict(), ensure_ascii=False), problem.status,
                    headers=dict(problem.headers), media_type=PROBLEM)


def json_response(data, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(data, ensure_ascii=False), status, headers=headers, media_type="application/json")


class Guard:
    """Holds every request to the limits: its deadline in `scope["state"]`, its body to `body_bytes`."""

    def __init__(self, app, limits: Limits):
        self.app = app
        self.limits = limits

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limits = self.limits
        deadline = time.monotonic() + limits.seconds
        scope.setdefault("state", {})["deadline"] = deadline
        declared = _content_length(scope)
        started = False

        async def guarded_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        if declared is not None and declared > limits.body_bytes:
            await _refuse(scope, receive, guarded_send, P.body_too_large(limits.body_bytes))
            return
        seen = 0
        complete = False  # once the whole body is in, receive() only waits for a disconnect: no limit then

        async def guarded_receive():
            nonlocal seen, complete
            if complete:
                return await receive()
            left = deadline - time.monotonic()
            if left <= 0:
                raise _TooSlow()
            try:
                with anyio.fail_after(left):
                    message = await receive()
            except TimeoutError:
                raise _TooSlow() from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limits.body_bytes:
                    raise _TooLarge()
                complete = not message.get("more_body", False)
            return message

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except (_TooLarge, _TooSlow) as error:
            if started:  # pragma: no cover - every route reads its whole body before it answers
                raise
            problem = P.body_too_large(limits.body_bytes) if isinstance(error, _TooLarge) else \
                P.too_slow_to_send(limits.seconds)
            await _refuse(scope, receive, guarded_send, problem)


def _content_length(scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(scope, receive, send, problem: P.Problem) -> None:
    headers = dict(problem.headers)
    headers["Connection"] = "close"  # the rest of the body is not read: the connection cannot be reused
    response = Response(json.dumps(problem.to_dict(), ensure_ascii=False), problem.status, headers=headers,
                        media_type=PROBLEM)
    await response(scope, receive, send)


def deadline_of(request: Request) -> float:
    return request.scope.get("state", {}).get("deadline", math.inf)


async def compute(request: Request, limits: Limits, function, *args, **options):
    """`function(*args, **options)` in a worker thread, within what is left of the request's time; a Problem
    (503) when that runs out. The thread cannot be stopped: it finishes on its own and its result is dropped."""
    left = deadline_of(request) - time.monotonic()
    if left <= 0:
        return P.too_slow_to_answer(limits.seconds)
    try:
        with anyio.fail_after(left):
            return await anyio.to_thread.run_sync(functools.partial(function, *args, **options),
                                                  abandon_on_cancel=True)
    except TimeoutError:
        return P.too_slow_to_answer(limits.seconds)


def media_type(request: Request, accepted: tuple[str, ...]) -> P.Problem | None:
    """None when the body's Content-Type is one of `accepted` (UTF-8 if a charset is named), else a 415."""
    given = request.headers.get("content-type", "")
    kind, _, params = given.partition(";")
    kind = kind.strip().lower()
    charset = ""
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    ok = kind in accepted or (kind.startswith("application/") and kind.endswith("+json") and JSON_TYPES[0] in accepted)
    if not ok or charset not in ("", "utf-8", "utf8"):
        return P.wrong_media_type(given, accepted)
    return None


async def body_text(request: Request) -> str | P.Problem:
    """The body as UTF-8 text (the limits are held by Guard while it is read)."""
    data = await request.body()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        return P.not_json(f"not UTF-8 text (byte {error.start + 1})")


# -- query parameters ------------------------------------------------------------------

def as_day(text: str) -> date:
    if len(text) != 10 or not text.isascii():
        raise ValueError(f"must be a date YYYY-MM-DD, got {text[:40]!r}")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"must be a date YYYY-MM-DD, got {text[:40]!r}") from None


def as_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "1", "yes", ""):
        return True
    if value in ("false", "0", "no"):
        return False
    raise ValueError(f"must be true or false, got {text[:40]!r}")


def one_of(*choices: str):
    def parse(text: str) -> str:
        if text in choices:
            return text
        hint = did_you_mean(text, choices, longest=64)
        raise ValueError(f"must be one of {', '.join(choices)}, got {text[:40]!r}" + (f" ({hint})" if hint else ""))
    return parse


def text_value(text: str) -> str:
    if len(text) > 200:
        raise ValueError("is longer than 200 characters")
    return text


def query(request: Request, parsers: dict) -> dict | P.Problem:
    """The query parameters named in `parsers` (name -> text -> value), parsed; anything else is a 400."""
    out = {}
    for name, value in request.query_params.multi_items():
        parse = parsers.get(name)
        if parse is None:
            hint = did_you_mean(name, list(parsers), longest=64)
            known = ", ".join(parsers) or "none"
            return P.bad_parameter(name[:80], f"unknown query parameter; this route takes {known}"
                                   + (f" ({hint})" if hint else ""))
        if name in out:
            return P.bad_parameter(name, "is given more than once")
        try:
            out[name] = parse(value)
        except ValueError as error:
            return P.bad_parameter(name, str(error))
    return out
