"""The JSON API: /v1/{scheme}/..., /v1/schemes, /openapi.json, /healthz.

Each handler checks, in this order, the scheme, the query parameters, the
media type and the body, and answers the first thing wrong as a Problem;
only then does the engine work, in a thread, within the request's time. A
decision is logged (when the service keeps a log) before it is answered.
"""
from __future__ import annotations

import json
from datetime import date

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from . import problems as P
from .backend import Backend, Decided, LineError
from .decision_log import DecisionLog, new_id
from .http import (JSON_TYPES, LINES_TYPES, as_bool, as_day, body_text, compute, deadline_of, json_response,
                   media_type, one_of, problem_response, query)
from .settings import Settings

NDJSON = "application/x-ndjson"
CHUNK = 64  # batch lines decided per trip to a worker thread


def _answer(found) -> Response | None:
    return problem_response(found) if isinstance(found, P.Problem) else None


def numbered_lines(text: str) -> list[tuple[int, str]]:
    """JSON Lines -> (line number, text) of each non-blank line, numbered as `kmo-rules evaluate` numbers them."""
    return [(number, line) for number, line in enumerate(text.split("\n"), start=1) if line.strip()]


class Api:
    """The API's handlers over one Backend, with the settings and the decision log of the service."""

    def __init__(self, backend: Backend, settings: Settings, log: DecisionLog, openapi: dict):
        self.backend = backend
        self.settings = settings
        self.limits = settings.limits
        self.log = log
        self.openapi = openapi

    def routes(self) -> list[Route]:
        return [
            Route("/openapi.json", self.openapi_json, methods=["GET"]),
            Route("/healthz", self.health, methods=["GET"]),
            Route("/v1/schemes", self.schemes, methods=["GET"]),
            Route("/v1/{scheme}/decisions", self.decide, methods=["POST"]),
            Route("/v1/{scheme}/decisions:batch", self.decide_many, methods=["POST"]),
            Route("/v1/{scheme}/versions", self.versions, methods=["GET"]),
            Route("/v1/{scheme}/rules", self.rules, methods=["GET"]),
            Route("/v1/{scheme}/diff", self.diff, methods=["GET"]),
            Route("/v1/{scheme}/impact", self.impact, methods=["POST"]),
            Route("/v1/{scheme}/verify", self.verify, methods=["POST"]),
            Route("/v1/{scheme}/schemas/{which}", self.schema, methods=["GET"]),
        ]

    # -- the catalog --------------------------------------------------------------------
    async def openapi_json(self, request: Request) -> Response:
        return json_response(self.openapi)

    async def health(self, request: Request) -> Response:
        return json_response({"status": "ok", "version": self.openapi["info"]["version"], "schemes": {
            s.id: {"versions": [v.version for v in self.backend.versions(s.id)]} for s in self.backend.schemes()}})

    def _scheme_data(self, scheme) -> dict:
        return {"id": scheme.id, "title": scheme.title, "languages": list(scheme.languages),
                "version_field": scheme.version_field,
                "versions": [v.to_dict() for v in self.backend.versions(scheme.id)],
                "links": {name: f"/v1/{scheme.id}/{name}" for name in
                          ("decisions", "decisions:batch", "versions", "rules", "diff", "impact", "verify",
                           "schemas/case.json", "schemas/decision.json")}}

    async def schemes(self, request: Request) -> Response:
        found = query(request, {})
        return _answer(found) or json_response({"schemes": [self._scheme_data(s) for s in self.backend.schemes()]})

    def _scheme(self, request: Request):
        return self.backend.scheme(request.path_params["scheme"])

    async def versions(self, request: Request) -> Response:
        scheme = self._scheme(request)
        found = scheme if isinstance(scheme, P.Problem) else query(request, {})
        return _answer(found) or json_response(
            {"scheme": scheme.id, "versions": [v.to_dict() for v in self.backend.versions(scheme.id)]})

    async def schema(self, request: Request) -> Response:
        scheme = self._scheme(request)
        if isinstance(scheme, P.Problem):
            return problem_response(scheme)
        which = request.path_params["which"]
        path = {"case.json": scheme.case_schema, "decision.json": scheme.decision_schema}.get(which)
        if path is None:
            return problem_response(P.not_found(request.url.path))
        return Response(path.read_bytes(), media_type="application/schema+json")

    # -- deciding -------------------------------------------------------------------------
    def _options(self, request: Request, scheme):
        return query(request, {"on": as_day, "explain": as_bool, "lang": one_of(*scheme.languages)})

    def _decide_and_log(self, scheme_id: str, text: str, options: dict, decision_id: str):
        found = self.backend.decide_text(scheme_id, text, **options)
        if isinstance(found, Decided):
            self.log.write(found, found.case, decision_id=decision_id, route="decisions", on=options.get("on"))
        return found

    async def decide(self, request: Request) -> Response:
        scheme = self._scheme(request)
        if isinstance(scheme, P.Problem):
            return problem_response(scheme)
        options = self._options(request, scheme)
        found = options if isinstance(options, P.Problem) else media_type(request, JSON_TYPES)
        if found is None:
            found = await body_text(request)
        if isinstance(found, P.Problem):
            return problem_response(found)
        decision_id = new_id()
        decided = await compute(request, self.limits, self._decide_and_log, scheme.id, found, options, decision_id)
        if isinstance(decided, P.Problem):
            return problem_response(decided)
        return Response(decided.text, 200, headers={"Decision-Id": decision_id}, media_type="application/json")

    def _decide_chunk(self, scheme_id: str, chunk, options: dict, batch_id: str) -> str:
        out = []
        for number, line in chunk:
            found = self.backend.decide_line(scheme_id, number, line.rstrip("\r"), **options)
            if isinstance(found, LineError):
                out.append(json.dumps(found.to_dict(), ensure_ascii=False))
                continue
            self.log.write(found, found.case, decision_id=new_id(), route="decisions:batch", on=options.get("on"),
                           number=number, request_id=batch_id)
            out.append(found.text)
        return "".join(line + "\n" for line in out)

    async def _lines(self, request: Request):
        """The body's JSON Lines, numbered, within the batch limit; or a Problem."""
        found = media_type(request, LINES_TYPES + JSON_TYPES)
        text = found if found is not None else await body_text(request)
        if isinstance(text, P.Problem):
            return text
        lines = numbered_lines(text)
        if len(lines) > self.limits.batch_cases:
            return P.batch_too_large(len(lines), self.limits.batch_cases)
        return lines

    async def decide_many(self, request: Request) -> Response:
        scheme = self._scheme(request)
        if isinstance(scheme, P.Problem):
            return problem_response(scheme)
        options = self._options(request, scheme)
        lines = options if isinstance(options, P.Problem) else await self._lines(request)
        if isinstance(lines, P.Problem):
            return problem_response(lines)
        batch_id = new_id()

        async def decisions():
            for start in range(0, len(lines), CHUNK):
                chunk = lines[start:start + CHUNK]
                found = await compute(request, self.limits, self._decide_chunk, scheme.id, chunk, options, batch_id)
                if isinstance(found, P.Problem):  # out of time: every case left gets its error line, in order
                    message = f"not decided: {found.detail}"
                    yield "".join(json.dumps(LineError(number, (P.Item("(the case)", message),)).to_dict(),
                                             ensure_ascii=False) + "\n" for number, _ in lines[start:])
                    return
                yield found
        return StreamingResponse(decisions(), media_type=NDJSON, headers={"Batch-Id": batch_id})

    # -- reading the rules and auditing --------------------------------------------------------
    async def rules(self, request: Request) -> Response:
        scheme = self._scheme(request)
        if isinstance(scheme, P.Problem):
            return problem_response(scheme)
        found = query(request, {"on": as_day, "version": lambda text: text[:80], "format": one_of("json", "yaml"),
                                "provenance": as_bool})
        if isinstance(found, P.Problem):
            return problem_response(found)
        if "on" in found and "version" in found:
            return problem_response(P.bad_parameter("version", "give either on or version, not both"))
        version = self.backend.resolve(scheme.id, found["version"]) if "version" in found else \
            self.backend.version_on(scheme.id, found.get("on") or date.today())
        if isinstance(version, P.Problem):
            return problem_response(version)
        provenance = found.get("provenance", True)
        if found.get("format") == "yaml":
            text = await compute(request, self.limits, self.backend.rules_yaml, scheme.id, version.version, provenance)
            return _answer(text) or Response(text, media_type="application/yaml")
        data = await compute(request, self.limits, self.backend.rules_on, scheme.id, version.version, provenance)
        return _answer(data) or json_response(data)

    def _ends(self, request: Request, scheme):
        found = query(request, {"from": lambda text: text[:80], "to": lambda text: text[:80],
                                "format": one_of("json", "markdown")})
        if isinstance(found, P.Problem):
            return found
        for name in ("from", "to"):
            if not found.get(name, "").strip():
                return P.bad_parameter(name, "is required: a version id or a date YYYY-MM-DD")
        return found

    @staticmethod
    def _report(report, fmt: str | None) -> Response:
        if isinstance(report, P.Problem):
            return problem_response(report)
        if fmt == "markdown":
            return Response(report.markdown, media_type="text/markdown; charset=utf-8")
        return json_response(report.data)

    async def diff(self, request: Request) -> Response:
        scheme = self._scheme(request)
        found = scheme if isinstance(scheme, P.Problem) else self._ends(request, scheme)
        if isinstance(found, P.Problem):
            return problem_response(found)
        report = await compute(request, self.limits, self.backend.diff, scheme.id, found["from"], found["to"])
        return self._report(report, found.get("format"))

    async def impact(self, request: Request) -> Response:
        scheme = self._scheme(request)
        found = scheme if isinstance(scheme, P.Problem) else self._ends(request, scheme)
        lines = found if isinstance(found, P.Problem) else await self._lines(request)
        if isinstance(lines, P.Problem):
            return problem_response(lines)
        texts = [""] * (lines[-1][0] if lines else 0)
        for number, line in lines:
            texts[number - 1] = line.rstrip("\r")
        report = await compute(request, self.limits, self.backend.impact, scheme.id, found["from"], found["to"],
                               texts)
        return self._report(report, found.get("format"))

    async def verify(self, request: Request) -> Response:
        scheme = self._scheme(request)
        if isinstance(scheme, P.Problem):
            return problem_response(scheme)
        found = query(request, {})
        found = found if isinstance(found, P.Problem) else media_type(request, JSON_TYPES)
        text = found if found is not None else await body_text(request)
        if isinstance(text, P.Problem):
            return problem_response(text)
        result = await compute(request, self.limits, self._verify, scheme.id, text)
        return _answer(result) or json_response(result)

    def _verify(self, scheme_id: str, text: str):
        body = self.backend.parse_case(text)  # the case with its numbers exact
        if isinstance(body, P.Problem):
            return body
        wrong = [P.Item(k[:80], "unknown field; send {\"case\": ..., \"decision\": ...}")
                 for k in (body if isinstance(body, dict) else {}) if k not in ("case", "decision")]
        missing = [P.Item(k, "is required") for k in ("case", "decision")
                   if not isinstance(body, dict) or k not in body]
        if wrong or missing:
            return P.Problem(422, "invalid-body", "The body is not {\"case\": ..., \"decision\": ...}",
                             "a stored case and the decision made on it", tuple(missing + wrong))
        try:  # the stored decision as plain JSON: its money is text, its numbers need not be exact
            stored = json.loads(text)["decision"]
        except (ValueError, RecursionError) as error:
            return P.not_json(f"the decision: {str(error)[:200]}", "a case and a decision")
        return self.backend.verify(scheme_id, body["case"], stored)


__all__ = ["Api", "numbered_lines", "deadline_of"]
