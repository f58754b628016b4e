"""Errors of the service as values: each a `Problem` that becomes one `application/problem+json` answer.

A bad case carries the same problems the command line prints (a JSON path
and a message, the did-you-mean inside the message as there), so a portal
shows its user what `kmo-rules evaluate` would have said. RFC 9457 names
the members: `type`, `title`, `status`, `detail`; `problems` is ours.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

PROBLEM_TYPES = "https://kmo-rules.example/problems/"
_SUGGESTION = re.compile(r"did you mean '([^']*)'\?")


@dataclass(frozen=True)
class Item:
    """One thing wrong: where (a JSON path into the case, or the name of a query parameter) and what."""

    path: str
    message: str

    def to_dict(self) -> dict:
        out = {"path": self.path, "message": self.message}
        found = _SUGGESTION.search(self.message)
        if found:
            out["did_you_mean"] = found.group(1)
        return out

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class Problem:
    """A request the service cannot answer as asked: an HTTP status, a stable code and what to do about it."""

    status: int
    code: str          # the last part of `type`: invalid-case, unknown-scheme, body-too-large, ...
    title: str
    detail: str = ""
    items: tuple[Item, ...] = ()
    extra: tuple[tuple[str, object], ...] = ()  # more members: ("schemes", [...]), ...
    headers: tuple[tuple[str, str], ...] = ()   # Retry-After, Allow, ...

    def to_dict(self) -> dict:
        out = {"type": PROBLEM_TYPES + self.code, "title": self.title, "status": self.status}
        if self.detail:
            out["detail"] = self.detail
        if self.items:
            out["problems"] = [item.to_dict() for item in self.items]
        out.update(dict(self.extra))
        return out


def invalid_case(items, status: int = 422) -> Problem:
    items = tuple(items)
    count = len(items)
    return Problem(status, "invalid-case", "The case is not valid",
                   f"{count} problem{'s' if count != 1 else ''}; each names the field by its JSON path", items)


def not_json(message: str, what: str = "the case") -> Problem:
    return Problem(400, "not-json", f"The body is not {what} as JSON", message, (Item("(the case)", message),))


def bad_parameter(name: str, message: str) -> Problem:
    return Problem(400, "bad-parameter", "A query parameter is not valid", f"{name}: {message}", (Item(name, message),))


def unknown_scheme(asked: str, known: list[str], hint: str | None) -> Problem:
    detail = f"no scheme '{asked[:80]}'; the schemes are {', '.join(known)}" + (f" ({hint})" if hint else "")
    return Problem(404, "unknown-scheme", "No such scheme", detail, extra=(("schemes", known),))


def no_version(message: str, status: int = 404) -> Problem:
    return Problem(status, "no-version", "No version of the rules answers this", message)


def body_too_large(limit: int) -> Problem:
    return Problem(413, "body-too-large", "The request body is too large",
                   f"a request body may hold at most {limit:,} bytes (kmo-rules serve --max-body)",
                   extra=(("limit", limit),))


def batch_too_large(count: int, limit: int) -> Problem:
    return Problem(413, "batch-too-large", "The batch holds too many cases",
                   f"{count:,} cases or more; one request may hold at most {limit:,} (kmo-rules serve --max-batch): "
                   "send the rest in another request", extra=(("limit", limit),))


def wrong_media_type(given: str, accepted: tuple[str, ...]) -> Problem:
    shown = given[:80] or "none"
    return Problem(415, "unsupported-media-type", "The body is not of a type this route reads",
                   f"Content-Type {shown}; send one of {', '.join(accepted)}", extra=(("accepted", list(accepted)),))


def too_slow_to_send(seconds: float) -> Problem:
    return Problem(408, "request-timeout", "The request body came too slowly",
                   f"the whole request must arrive within {seconds:g} s (kmo-rules serve --timeout)")


def too_slow_to_answer(seconds: float) -> Problem:
    return Problem(503, "time-limit", "The answer took longer than the time limit",
                   f"a request is answered within {seconds:g} s (kmo-rules serve --timeout); try fewer cases "
                   "at once", headers=(("Retry-After", "1"),))


def not_found(path: str) -> Problem:
    return Problem(404, "not-found", "No such route", f"nothing at {path[:200]}; GET /openapi.json lists the routes")


def method_not_allowed(method: str, allowed: tuple[str, ...]) -> Problem:
    return Problem(405, "method-not-allowed", "This route does not take this method",
                   f"{method} is not allowed here; use {', '.join(allowed)}", headers=(("Allow", ", ".join(allowed)),))


def internal_error(reference: str) -> Problem:
    return Problem(500, "internal-error", "The service failed: a bug in kmo-rules, not in the request",
                   f"reference {reference} in the service's standard error")
