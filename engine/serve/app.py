"""`create_app(settings) -> Starlette`: the rules opened once, the API and the pages on one ASGI app.

    app = create_app(Settings(rules=None, log=Path("decisions.jsonl")))
    uvicorn.run(app)          # what `kmo-rules serve` does

Starlette, because the contract is already JSON Schema: a framework that
derives schemas from its own models would state the contract a second time.
Every answer that is not a success is `application/problem+json` on the API
and a page on the pages; an unexpected failure is a 500 that says it is a
bug and leaves a traceback on standard error, never the answer to bad input.
"""
from __future__ import annotations

import contextlib
import sys
import traceback
import uuid

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request

from . import problems as P
from .api import Api
from .backend import Backend, installed_version
from .decision_log import DecisionLog
from .http import Guard, problem_response
from .openapi import openapi_document
from .pages import Pages
from .settings import Settings

API_PREFIXES = ("/v1/", "/v1", "/openapi.json", "/healthz")


def _for_programs(request: Request) -> bool:
    path = request.url.path
    return path.startswith(API_PREFIXES) or "application/json" in request.headers.get("accept", "")


def create_app(settings: Settings | None = None, backend: Backend | None = None) -> Starlette:
    """The service: every scheme's versions built now (RulesError if the rules are invalid)."""
    settings = settings or Settings()
    backend = backend or Backend.open(settings.rules)
    version = installed_version()
    log = DecisionLog(settings.log, settings.log_inputs)
    api = Api(backend, settings, log, openapi_document(backend.schemes(), version))
    pages = Pages(backend, settings, log, version)

    async def http_error(request: Request, error: HTTPException):
        if error.status_code == 404:
            problem = P.not_found(request.url.path)
        elif error.status_code == 405:
            allowed = tuple(a.strip() for a in (error.headers or {}).get("Allow", "").split(",") if a.strip())
            problem = P.method_not_allowed(request.method, allowed or ("GET",))
        else:
            problem = P.Problem(error.status_code, "bad-request", "The request cannot be read", str(error.detail)[:500])
        if _for_programs(request):
            return problem_response(problem)
        return pages._problem_page(request, problem)

    async def bug(request: Request, error: Exception):
        reference = uuid.uuid4().hex[:12]
        sys.stderr.write(f"kmo-rules serve: internal error {reference} on {request.method} {request.url.path}\n"
                         + "".join(traceback.format_exception(error)))
        return problem_response(P.internal_error(reference))

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        log.close()

    app = Starlette(routes=api.routes() + pages.routes(), lifespan=lifespan,
                    middleware=[Middleware(Guard, limits=settings.limits)],
                    exception_handlers={HTTPException: http_error, Exception: bug})
    app.state.backend = backend
    app.state.log = log
    app.state.settings = settings
    return app
