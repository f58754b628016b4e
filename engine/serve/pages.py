"""Pages for people: "Try a case" (at /), "Compare versions" and "Rules", in English and Dutch.

Plain HTML forms that work without a script: the case form is sent with
GET, so its address is a permalink that keeps every input; rows are added
and removed by buttons the server answers; the explanation folds with
<details>. A small script (static/app.js) only makes that quicker: rows
added in place, the version in force shown as the date changes. Nothing is
loaded from elsewhere.
"""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from . import problems as P
from .backend import Backend, Decided
from .decision_log import DecisionLog, new_id
from .form import case_of, form_model, values_of, with_row_added, with_row_removed
from .http import compute
from .settings import Settings
from .testcase import default_name, expectable, tests_yaml
from .views import Labels, compared, decision_view, widgets

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
# Query parameters of the case page that are not fields of the case.
CONTROLS = ("lang", "scheme", "compare", "add", "remove", "example", "test_name")


def _json_file(name: str) -> dict:
    return json.loads((TEMPLATES / name).read_text(encoding="utf-8"))


def _as_text(value) -> str:
    """A value of a report as JSON writes it (true, null, a list), a text as it is."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ", ".join(value) or "[]"
    return json.dumps(value, ensure_ascii=False)


class Pages:
    """The pages' handlers over one Backend; templates and vocabularies read once."""

    def __init__(self, backend: Backend, settings: Settings, log: DecisionLog, version: str):
        self.backend = backend
        self.limits = settings.limits
        self.log = log
        self.version = version
        self.words = _json_file("words.json")
        self.models = {s.id: form_model(s.case_schema) for s in backend.schemes()}
        self.expect = {s.id: expectable(s.tests_schema) for s in backend.schemes()}
        self._presentations: dict = {}
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                                      undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        self.env.filters["data"] = _as_text

    def routes(self) -> list:
        return [
            Route("/", self.try_page, methods=["GET"]),
            Route("/try", self.try_page, methods=["GET"]),
            Route("/try/test-case.yaml", self.test_case, methods=["GET"]),
            Route("/compare", self.compare, methods=["GET", "POST"]),
            Route("/rules", self.rules, methods=["GET"]),
            Mount("/static", StaticFiles(directory=str(STATIC)), name="static"),
        ]

    # -- shared ------------------------------------------------------------------------
    def _lang(self, request: Request, languages: tuple[str, ...], given: str | None = None) -> str:
        asked = given if given is not None else request.query_params.get("lang")
        if asked in languages and asked in self.words:
            return asked
        for part in request.headers.get("accept-language", "").split(","):
            code = part.split(";")[0].strip().lower()[:2]
            if code in languages and code in self.words:
                return code
        return next((code for code in languages if code in self.words), "en")

    def _scheme(self, request: Request, given: str | None = None):
        asked = given if given is not None else request.query_params.get("scheme")
        return self.backend.default_scheme() if not asked else self.backend.scheme(asked)

    def _presentation(self, scheme_id: str, version: str):
        key = (scheme_id, version)
        if key not in self._presentations:
            self._presentations[key] = self.backend.presentation(scheme_id, version)
        return self._presentations[key]

    def _page(self, template: str, request: Request, scheme, lang: str, status: int = 200, **context) -> Response:
        params = list(request.query_params.multi_items())
        lang_links = {code: "?" + urlencode([(k, v) for k, v in params if k not in ("lang", "add", "remove")]
                                            + [("lang", code)]) for code in scheme.languages if code in self.words}
        body = self.env.get_template(template).render(
            w=self.words[lang], lang=lang, scheme=scheme, schemes=self.backend.schemes(), lang_links=lang_links,
            language_names={code: self.words[code]["language_name"] for code in lang_links},
            service_version=self.version, path=request.url.path, **context)
        return HTMLResponse(body, status)

    def _problem_page(self, request: Request, problem: P.Problem, lang: str = "en") -> Response:
        scheme = self.backend.default_scheme()
        return self._page("problem.html", request, scheme, self._lang(request, scheme.languages), problem.status,
                          problem=problem)

    def _versions_json(self, scheme_id: str) -> str:
        text = json.dumps([v.to_dict() for v in self.backend.versions(scheme_id)], ensure_ascii=False)
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")  # safe in <script>

    @staticmethod
    def _day(text) -> date | None:
        try:
            return date.fromisoformat(text) if isinstance(text, str) and len(text) == 10 else None
        except ValueError:
            return None

    # -- Try a case ----------------------------------------------------------------------
    def _decide(self, scheme_id: str, case: dict, on, lang: str):
        decided = self.backend.decide(scheme_id, case, on=on, explain=True, lang=lang)
        if isinstance(decided, Decided):
            self.log.write(decided, case, decision_id=new_id(), route="page", on=on)
            return decided, self.backend.explanation_text(decided, lang)
        return decided, ""

    def _view(self, scheme_id: str, decided: Decided, explanation: str, lang: str, on=None):
        return decision_view(decided, self._presentation(scheme_id, decided.version), lang,
                             self.backend.people_value, explanation, on,
                             self.backend.scheme(scheme_id).values.get(lang))

    async def try_page(self, request: Request) -> Response:
        params = dict(request.query_params)
        scheme = self._scheme(request)
        if isinstance(scheme, P.Problem):
            return self._problem_page(request, scheme)
        lang = self._lang(request, scheme.languages)
        if params.get("example"):
            raw = self.backend.example(scheme.id, params["example"])
            if raw is None:
                return self._problem_page(request, P.Problem(404, "no-example", "No such example",
                                                             f"no example '{params['example'][:80]}'"))
            query = [(k, v) for k, v in values_of(raw).items()] + [("scheme", scheme.id), ("lang", lang)]
            return RedirectResponse("/try?" + urlencode(query), 303)
        model = self.models[scheme.id]
        values = {k: v for k, v in params.items() if k not in CONTROLS}
        if params.get("add"):
            values = with_row_added(values, params["add"])
        elif params.get("remove"):
            values = with_row_removed(values, params["remove"])
        problems, loose, first, second = [], [], None, None
        compare_text = params.get("compare", "").strip()
        deciding = bool(values) and not params.get("add") and not params.get("remove")
        if deciding:
            case = case_of(model, values)
            values = values_of(case)
            found = await compute(request, self.limits, self._decide, scheme.id, case, None, lang)
            decided, explanation = found if not isinstance(found, P.Problem) else (found, "")
            if isinstance(decided, P.Problem):
                problems = list(decided.items) if decided.code == "invalid-case" else []
                loose = [] if problems else [decided.detail]
            else:
                first = self._view(scheme.id, decided, explanation, lang)
                if compare_text:
                    first, second, problem = await self._compared(request, scheme, case, first, compare_text, lang)
                    loose += [problem] if problem else []
        day = self._day(values.get(scheme.version_field))
        in_force = self.backend.version_on(scheme.id, day) if day else None
        shown = in_force if in_force is not None and not isinstance(in_force, P.Problem) else \
            self.backend.versions(scheme.id)[-1]
        labels = Labels(lang, scheme.fields, scheme.values,
                        self._presentation(scheme.id, shown.version).choices, self.words[lang])
        form, loose_problems = widgets(model, values, problems, labels)
        query = [(k, v) for k, v in values.items()] + [("scheme", scheme.id), ("lang", lang)]
        if compare_text:
            query.append(("compare", compare_text))
        return self._page(
            "try.html", request, scheme, lang, 200 if not problems else 422, form=form,
            loose=tuple(loose_problems) + tuple(loose), first=first, second=second, compare=compare_text,
            in_force=in_force, versions_json=self._versions_json(scheme.id), values=values,
            permalink="/try?" + urlencode(query), examples=self.backend.examples(scheme.id),
            default_test_name=default_name(values.get(scheme.version_field, ""), first.eligible,
                                           [r.code for r in first.reasons]) if first else "")

    async def _compared(self, request: Request, scheme, case: dict, first, compare_text: str, lang: str):
        on = self._day(compare_text)
        if on is None:
            return first, None, f"compare: must be a date YYYY-MM-DD, got {compare_text[:40]!r}"
        found = await compute(request, self.limits, self._decide, scheme.id, case, on, lang)
        decided, explanation = found if not isinstance(found, P.Problem) else (found, "")
        if isinstance(decided, P.Problem):
            items = "; ".join(str(i) for i in decided.items) or decided.detail
            return first, None, f"{self.words[lang]['under_rules_of'].format(day=compare_text)}: {items}"
        second = self._view(scheme.id, decided, explanation, lang, on)
        first, second = compared(first, second)
        return first, second, None

    async def test_case(self, request: Request) -> Response:
        params = dict(request.query_params)
        scheme = self._scheme(request)
        if isinstance(scheme, P.Problem):
            return self._problem_page(request, scheme)
        lang = self._lang(request, scheme.languages)
        case = case_of(self.models[scheme.id], {k: v for k, v in params.items() if k not in CONTROLS})
        found = await compute(request, self.limits, self._decide, scheme.id, case, None, lang)
        decided = found[0] if not isinstance(found, P.Problem) else found
        if isinstance(decided, P.Problem):
            return self._problem_page(request, decided, lang)
        day = case.get(scheme.version_field, "")
        name = " ".join((params.get("test_name") or "").split())[:200] or default_name(
            day, decided.eligible, decided.reasons)
        if len(name) < 3:
            name = default_name(day, decided.eligible, decided.reasons)
        text = tests_yaml(name, case, decided, self.expect[scheme.id])
        filename = f"{scheme.id}-{day or 'case'}-test.yaml".replace("/", "-")
        return Response(text, media_type="application/yaml",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    # -- Compare versions ----------------------------------------------------------------
    async def compare(self, request: Request) -> Response:
        form = await request.form(max_files=1, max_fields=50) if request.method == "POST" else None
        given = form if form is not None else request.query_params
        scheme = self._scheme(request, given.get("scheme") if form is not None else None)
        if isinstance(scheme, P.Problem):
            return self._problem_page(request, scheme)
        lang = self._lang(request, scheme.languages, given.get("lang") if form is not None else None)
        versions = self.backend.versions(scheme.id)
        default_from = versions[-2] if len(versions) > 1 else versions[-1]
        start = str(given.get("from") or default_from.effective_from.isoformat())[:80]
        end = str(given.get("to") or versions[-1].effective_from.isoformat())[:80]
        report, impact, message = None, None, None
        found = await compute(request, self.limits, self.backend.diff, scheme.id, start, end)
        if isinstance(found, P.Problem):
            message = found.detail
        else:
            report = found.data
        if form is not None and report is not None:
            impact, message = await self._impact(request, scheme, start, end, form.get("corpus"), lang)
        return self._page("compare.html", request, scheme, lang, 200 if message is None else 400, start=start,
                          end=end, report=report, impact=impact, message=message, versions=versions,
                          section_title=lambda section: self.backend.section_title(section, lang),
                          sections=self.backend.shown_sections())

    async def _impact(self, request: Request, scheme, start: str, end: str, upload, lang: str):
        words = self.words[lang]
        if upload is None or not hasattr(upload, "read"):
            return None, words["corpus_missing"]
        data = await upload.read()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            return None, f"{upload.filename}: not UTF-8 text (byte {error.start + 1})"
        lines = text.split("\n")
        count = sum(1 for line in lines if line.strip())
        if count > self.limits.batch_cases:
            return None, P.batch_too_large(count, self.limits.batch_cases).detail
        found = await compute(request, self.limits, self.backend.impact, scheme.id, start, end,
                              [line.rstrip("\r") for line in lines], (upload.filename or "corpus")[:80])
        if isinstance(found, P.Problem):
            return None, found.detail
        return found.data["impact"], None

    # -- Rules ----------------------------------------------------------------------------------
    async def rules(self, request: Request) -> Response:
        scheme = self._scheme(request)
        if isinstance(scheme, P.Problem):
            return self._problem_page(request, scheme)
        lang = self._lang(request, scheme.languages)
        asked = request.query_params.get("on", "").strip() or date.today().isoformat()
        version = self.backend.resolve(scheme.id, asked[:80])
        if isinstance(version, P.Problem):
            return self._page("rules.html", request, scheme, lang, 404, on=asked, rules=None, version=None,
                              message=version.detail, sections=(), section_title=str,
                              versions=self.backend.versions(scheme.id))
        data = await compute(request, self.limits, self.backend.rules_on, scheme.id, version.version, True)
        if isinstance(data, P.Problem):
            return self._problem_page(request, data, lang)
        return self._page("rules.html", request, scheme, lang, on=asked, rules=data, version=version, message=None,
                          sections=self.backend.shown_sections(), versions=self.backend.versions(scheme.id),
                          section_title=lambda section: self.backend.section_title(section, lang))
