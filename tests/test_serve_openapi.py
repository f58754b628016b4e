"""GET /openapi.json: a valid OpenAPI 3.1 document, built from the contract's JSON Schemas, that says the truth.

Valid against the OpenAPI 3.1 meta-schema (the one openapi-spec-validator
ships, with jsonschema) and by openapi-spec-validator's own checks; without
that package, by a structural check of what a client generator relies on.
Then every route it lists answers, and what the service answers fits the
schemas it names.
"""
import json
import re
import warnings
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the serve extra is not installed: pip install '.[serve]'")
pytest.importorskip("httpx", reason="Starlette's test client needs httpx: pip install '.[test]'")

import jsonschema  # noqa: E402
from referencing import Registry, Resource  # noqa: E402

from engine.serve.app import create_app  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SCHEME = "kmo-portefeuille"


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def document(client):
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    return answer.json()


def _meta_schema() -> dict | None:
    try:
        import openapi_spec_validator
    except ImportError:
        return None
    path = Path(openapi_spec_validator.__file__).parent / "resources" / "schemas" / "v3.1" / "schema.json"
    return json.loads(path.read_text()) if path.is_file() else None


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"] == "3.1.0"
    meta = _meta_schema()
    if meta is not None:
        validator = jsonschema.validators.validator_for(meta)(meta)
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
        assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]
        from openapi_spec_validator import validate
        validate(document)  # references resolve, operation ids unique, path parameters declared, ...
    else:  # a careful structural check of what a client generator reads
        assert document["info"]["title"] and document["info"]["version"]
        ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
        assert len(ids) == len(set(ids))
        for item in document["paths"].values():
            for operation in item.values():
                assert operation["responses"] and all(re.fullmatch(r"[1-5]\d\d", c) for c in operation["responses"])


def _refs(node, found=None):
    found = set() if found is None else found
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                found.add(value)
            else:
                _refs(value, found)
    elif isinstance(node, list):
        for item in node:
            _refs(item, found)
    return found


def test_every_reference_points_at_a_component(document):
    components = document["components"]["schemas"]
    for ref in _refs(document):
        assert ref.startswith("#/components/schemas/"), ref
        name = ref.split("/")[3]
        assert name in components, ref
    assert not any(k in s for s in components.values() for k in ("$id", "$schema", "$defs"))


def test_the_schemas_are_the_contracts_own(document):
    components = document["components"]["schemas"]
    case = json.loads((ROOT / "schemas" / "case.schema.json").read_text())
    assert components[f"{SCHEME}.Case"]["properties"].keys() == case["properties"].keys()
    assert components[f"{SCHEME}.Case"]["required"] == case["required"]
    assert set(case["$defs"]) <= {name.split(".", 2)[2] for name in components if name.startswith(f"{SCHEME}.case.")}


def _validator(document, name: str):
    registry = Registry().with_resource("urn:openapi", Resource.from_contents(
        {"$schema": "https://json-schema.org/draft/2020-12/schema", **document}))
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              "$ref": f"urn:openapi#/components/schemas/{name}"}
    return jsonschema.Draft202012Validator(schema, registry=registry)


def test_what_the_service_answers_fits_the_schemas_it_names(client, document):
    for path in sorted((ROOT / "examples").glob("*.json")):
        case = json.loads(path.read_text())
        _validator(document, f"{SCHEME}.Case").validate(case)
        for query in ("", "?explain=true&lang=nl"):
            decision = client.post(f"/v1/{SCHEME}/decisions{query}", content=path.read_text(),
                                   headers={"content-type": "application/json"}).json()
            _validator(document, f"{SCHEME}.Decision").validate(decision)
    problem = client.post(f"/v1/{SCHEME}/decisions", content="{}", headers={"content-type": "application/json"})
    _validator(document, "Problem").validate(problem.json())
    _validator(document, "Schemes").validate(client.get("/v1/schemes").json())
    _validator(document, "Versions").validate(client.get(f"/v1/{SCHEME}/versions").json())
    _validator(document, "Health").validate(client.get("/healthz").json())


def test_every_route_it_lists_is_served(client, document):
    examples = {"from": "2023-01-01", "to": "2024-01-01", "on": "2024-06-10"}
    body = (ROOT / "examples" / "small-cybersecurity-training.json").read_text()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            required = [p["name"] for p in operation.get("parameters", []) if p.get("required")]
            query = "&".join(f"{name}={examples[name]}" for name in required)
            url = path + (f"?{query}" if query else "")
            if method == "get":
                answer = client.get(url)
            else:
                content = operation["requestBody"]["content"]
                kind = next(iter(content))
                text = json.dumps({"case": json.loads(body), "decision": {}}) if path.endswith("/verify") else \
                    json.dumps(json.loads(body)) if kind.endswith("ndjson") else body
                answer = client.request(method.upper(), url, content=text, headers={"content-type": kind})
            assert str(answer.status_code) in operation["responses"], (method, url, answer.status_code)
            assert answer.status_code < 500
