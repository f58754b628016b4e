"""GET /openapi.json: an OpenAPI 3.1 document built from the JSON Schemas the contract already has.

OpenAPI 3.1 schemas are JSON Schema 2020-12, so each scheme's case and
decision schema goes in as it is, under `components/schemas`, its `$defs`
lifted beside it and its local `$ref`s pointed there; nothing is written
twice. Every route is listed for every scheme of the catalog by name
(`/v1/kmo-portefeuille/decisions`, ...), each with that scheme's own
schemas, so a generated client has a typed method per scheme.
"""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

PROBLEM = "application/problem+json"
NDJSON = "application/x-ndjson"
_NAME = re.compile(r"[^A-Za-z0-9._-]")


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _pointed(node, own: str, defs: str):
    """A schema with its local refs pointed into components: #/$defs/x -> defs.x, #/y -> own/y."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#"):
                pointer = value[1:]
                if pointer.startswith("/$defs/"):
                    name, _, rest = pointer[len("/$defs/"):].partition("/")
                    value = f"#/components/schemas/{defs}.{name}" + (f"/{rest}" if rest else "")
                else:
                    value = f"#/components/schemas/{own}{pointer}"
            out[key] = _pointed(value, own, defs)
        return out
    if isinstance(node, list):
        return [_pointed(item, own, defs) for item in node]
    return node


def _embedded(schema_path: Path, own: str, defs: str) -> dict:
    """A schema file -> {component name: schema}: itself without $schema/$id/$defs, and each of its $defs."""
    schema = json.loads(Path(schema_path).read_text(encoding="utf-8"))
    lifted = {f"{defs}.{name}": _pointed(copy.deepcopy(value), own, defs)
              for name, value in (schema.pop("$defs", None) or {}).items()}
    for key in ("$schema", "$id"):
        schema.pop(key, None)
    return {own: _pointed(schema, own, defs), **lifted}


def _problem(description: str) -> dict:
    return {"description": description, "content": {PROBLEM: {"schema": _ref("Problem")}}}


_ERRORS = {
    "400": "The body is not JSON, or a query parameter is wrong",
    "404": "No such scheme or version",
    "408": "The request body came too slowly",
    "413": "The body or the batch is larger than the limits",
    "415": "The body is of another media type",
    "422": "The input is not valid: every problem with its JSON path",
    "503": "The answer took longer than the time limit",
}


def _errors(*codes: str) -> dict:
    return {code: _problem(_ERRORS[code]) for code in codes}


def _query(name: str, schema: dict, description: str, required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


_DAY = {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
_VERSION_OR_DAY = {"type": "string", "description": "a version id or a date YYYY-MM-DD (the version in force then)"}


def _common_components() -> dict:
    item = {"type": "object", "required": ["path", "message"], "properties": {
        "path": {"type": "string",
                 "description": "a JSON path into the input (a.b[0].c) or the name of a query parameter"},
        "message": {"type": "string", "description": "what is wrong, as the command line says it"},
        "did_you_mean": {"type": "string", "description": "the closest accepted value, when there is one"}}}
    return {
        "Problem": {"type": "object", "description": "RFC 9457 problem details",
                    "required": ["type", "title", "status"],
                    "properties": {"type": {"type": "string", "format": "uri"}, "title": {"type": "string"},
                                   "status": {"type": "integer"}, "detail": {"type": "string"},
                                   "problems": {"type": "array", "items": _ref("ProblemItem")}}},
        "ProblemItem": item,
        "ErrorLine": {"type": "object", "description": "a batch line that is not a valid case, in its place",
                      "required": ["line", "problems"],
                      "properties": {"line": {"type": "integer", "minimum": 1},
                                     "problems": {"type": "array", "items": {
                                         "type": "object", "required": ["path", "message"],
                                         "properties": {"path": {"type": "string"}, "message": {"type": "string"}}}}}},
        "Version": {"type": "object", "required": ["version", "effective_from", "effective_until", "sha256"],
                    "properties": {"version": {"type": "string"}, "effective_from": _DAY,
                                   "effective_until": {"oneOf": [_DAY, {"type": "null"}]},
                                   "summary": {"type": "string"}, "source": {"type": "string"},
                                   "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}},
        "Versions": {"type": "object", "required": ["scheme", "versions"],
                     "properties": {"scheme": {"type": "string"},
                                    "versions": {"type": "array", "items": _ref("Version")}}},
        "Scheme": {"type": "object", "required": ["id", "title", "languages", "version_field", "versions"],
                   "properties": {"id": {"type": "string"},
                                  "title": {"type": "object", "additionalProperties": {"type": "string"}},
                                  "languages": {"type": "array", "items": {"type": "string"}},
                                  "version_field": {"type": "string"},
                                  "versions": {"type": "array", "items": _ref("Version")}}},
        "Schemes": {"type": "object", "required": ["schemes"],
                    "properties": {"schemes": {"type": "array", "items": _ref("Scheme")}}},
        "Rules": {"type": "object", "description": "the resolved rules of a version, as `kmo-rules show` prints "
                  "them: parameters, tables, rules, input checks, conditions, notes, outputs, each with its source"},
        "Diff": {"type": "object", "description": "what changes between two versions, as `kmo-rules diff --format "
                 "json` prints it", "required": ["ruleset", "from", "to", "changes"]},
        "Impact": {"type": "object", "description": "the diff, and under `impact` what it does to the cases sent, as "
                   "`kmo-rules diff --cases --format json` prints it", "required": ["impact"]},
        "Verified": {"type": "object", "required": ["identical", "version", "sha256", "differences"],
                     "properties": {"identical": {"type": "boolean"}, "version": {"type": "string"},
                                    "sha256": {"type": "string"}, "text": {"type": "string"},
                                    "differences": {"type": "array", "items": {
                                        "type": "object", "required": ["field", "stored", "now"],
                                        "properties": {"field": {"type": "string"}, "stored": {}, "now": {},
                                                       "note": {"type": "string"}}}}}},
        "Health": {"type": "object", "required": ["status", "schemes"],
                   "properties": {"status": {"const": "ok"}, "version": {"type": "string"},
                                  "schemes": {"type": "object", "additionalProperties": {
                                      "type": "object", "properties": {
                                          "versions": {"type": "array", "items": {"type": "string"}}}}}}},
    }


def _scheme_paths(scheme, languages: list[str]) -> dict:
    sid = scheme.id
    name = _NAME.sub("_", sid)
    op = name.replace("-", "_").replace(".", "_")
    case, decision = _ref(f"{name}.Case"), _ref(f"{name}.Decision")
    lang = _query("lang", {"enum": languages, "default": languages[0]}, "the language of messages and explanations")
    json_body = {"content": {"application/json": {"schema": case}}, "required": True}
    lines_body = {"required": True, "content": {NDJSON: {"schema": {
        "type": "string", "description": f"JSON Lines: one case per line, each as #/components/schemas/{name}.Case"}}}}
    on = _query("on", _DAY, f"decide under the rules in force on this date, not the one {scheme.version_field} picks")
    ends = [_query("from", _VERSION_OR_DAY, "the version compared from", True),
            _query("to", _VERSION_OR_DAY, "the version compared to", True)]
    fmt = _query("format", {"enum": ["json", "markdown"], "default": "json"}, "json for programs, markdown to read")
    base = f"/v1/{sid}"
    return {
        f"{base}/decisions": {"post": {
            "operationId": f"decide_{op}", "summary": f"Decide one {sid} case", "tags": [sid],
            "parameters": [on, _query("explain", {"type": "boolean", "default": False}, "add the trace"), lang],
            "requestBody": json_body,
            "responses": {"200": {"description": "the decision", "headers": {"Decision-Id": {
                "description": "the id of this decision in the decision log", "schema": {"type": "string"}}},
                "content": {"application/json": {"schema": decision}}},
                **_errors("400", "413", "415", "422", "503")}}},
        f"{base}/decisions:batch": {"post": {
            "operationId": f"decide_many_{op}", "summary": "Decide many cases: JSON Lines in, JSON Lines out, in order",
            "tags": [sid], "parameters": [on, _query("explain", {"type": "boolean", "default": False}, "add traces"),
                                          lang],
            "requestBody": lines_body,
            "responses": {"200": {"description": "one line per case, in order: its decision or an ErrorLine",
                                  "content": {NDJSON: {"schema": {"type": "string", "description": (
                                      f"JSON Lines: each line a #/components/schemas/{name}.Decision or a "
                                      "#/components/schemas/ErrorLine")}}}},
                          **_errors("400", "413", "415", "503")}}},
        f"{base}/versions": {"get": {
            "operationId": f"versions_{op}", "summary": "The versions, their periods and hashes", "tags": [sid],
            "responses": {"200": {"description": "every version", "content": {
                "application/json": {"schema": _ref("Versions")}}}}}},
        f"{base}/rules": {"get": {
            "operationId": f"rules_{op}", "summary": "The resolved rules in force on a date (default: today)",
            "tags": [sid], "parameters": [_query("on", _DAY, "the date"),
                                          _query("version", {"type": "string"}, "a version id instead of a date"),
                                          _query("format", {"enum": ["json", "yaml"], "default": "json"},
                                                 "json or yaml")],
            "responses": {"200": {"description": "the rules", "content": {
                "application/json": {"schema": _ref("Rules")}, "application/yaml": {"schema": {"type": "string"}}}},
                **_errors("400", "404")}}},
        f"{base}/diff": {"get": {
            "operationId": f"diff_{op}", "summary": "What changes between two versions", "tags": [sid],
            "parameters": ends + [fmt],
            "responses": {"200": {"description": "the semantic diff", "content": {
                "application/json": {"schema": _ref("Diff")}, "text/markdown": {"schema": {"type": "string"}}}},
                **_errors("400", "404")}}},
        f"{base}/impact": {"post": {
            "operationId": f"impact_{op}", "summary": "What a change of rules does to the cases sent", "tags": [sid],
            "parameters": ends + [fmt], "requestBody": lines_body,
            "responses": {"200": {"description": "the diff and the impact", "content": {
                "application/json": {"schema": _ref("Impact")}, "text/markdown": {"schema": {"type": "string"}}}},
                **_errors("400", "404", "413", "415", "503")}}},
        f"{base}/verify": {"post": {
            "operationId": f"verify_{op}", "summary": "Decide a stored case again under the version its decision "
            "names, and compare", "tags": [sid],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["case", "decision"], "additionalProperties": False,
                "properties": {"case": case, "decision": decision}}}}},
            "responses": {"200": {"description": "identical, or every field that differs", "content": {
                "application/json": {"schema": _ref("Verified")}}}, **_errors("400", "413", "415", "422", "503")}}},
        f"{base}/schemas/case.json": {"get": {
            "operationId": f"case_schema_{op}", "summary": "The case schema (JSON Schema 2020-12)", "tags": [sid],
            "responses": {"200": {"description": "the schema", "content": {"application/schema+json": {
                "schema": {"type": "object"}}}}}}},
        f"{base}/schemas/decision.json": {"get": {
            "operationId": f"decision_schema_{op}", "summary": "The decision schema (JSON Schema 2020-12)",
            "tags": [sid], "responses": {"200": {"description": "the schema", "content": {"application/schema+json": {
                "schema": {"type": "object"}}}}}}},
    }


def openapi_document(schemes, version: str) -> dict:
    """The OpenAPI 3.1 document of a service serving `schemes` (backend Schemes)."""
    components = _common_components()
    paths: dict = {
        "/v1/schemes": {"get": {"operationId": "schemes", "summary": "The schemes served, with their versions",
                                "responses": {"200": {"description": "the catalog", "content": {
                                    "application/json": {"schema": _ref("Schemes")}}}}}},
        "/healthz": {"get": {"operationId": "health", "summary": "Up, and which versions it serves",
                             "responses": {"200": {"description": "ok", "content": {
                                 "application/json": {"schema": _ref("Health")}}}}}},
        "/openapi.json": {"get": {"operationId": "openapi", "summary": "This document",
                                  "responses": {"200": {"description": "OpenAPI 3.1", "content": {
                                      "application/json": {"schema": {"type": "object"}}}}}}},
    }
    for scheme in schemes:
        name = _NAME.sub("_", scheme.id)
        components.update(_embedded(scheme.case_schema, f"{name}.Case", f"{name}.case"))
        components.update(_embedded(scheme.decision_schema, f"{name}.Decision", f"{name}.decision"))
        paths.update(_scheme_paths(scheme, list(scheme.languages)))
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {"title": "kmo-rules", "version": version,
                 "description": "Decisions on Flemish business subsidies, exact to the cent, explained with their "
                                "legal sources and versioned by date. Bad input is answered with "
                                "application/problem+json naming each problem by its JSON path."},
        "servers": [{"url": "/"}],
        "tags": [{"name": scheme.id, "description": scheme.title_in("en")} for scheme in schemes],
        "paths": paths,
        "components": {"schemas": components},
    }
