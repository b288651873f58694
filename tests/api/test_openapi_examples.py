"""The OpenAPI document describes every JSON operation with examples that are true.

Walks the app's own document: every operation answering JSON has a summary or description,
an example of its request body when it takes one, and an example of its 2xx JSON response
(on the media type or on the schema it refers to), save the exceptions listed with their
reason. Every example must validate against its schema, and the request examples of
``POST /match``, ``POST /needs`` and ``POST /premises`` must be accepted by the app.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from api.auth import issue_key
from api.main import create_app
from api.settings import Settings
from geodata.storage import accounts

METHODS = ("get", "post", "put", "patch", "delete")
JSON_TYPES = ("application/json", "application/geo+json", "application/schema+json")

#: Operations without a recorded example, and why.
NO_RESPONSE_EXAMPLE = {
    "GET /exports/premises": "a file download (CSV, XLSX, GeoJSON, GeoPackage or CNIG zip)",
    "GET /collections/{collection_id}/queryables": "its answer is a JSON Schema whose "
    "geometry is a $ref to geojson.org, which ReDoc would follow off the app",
}
NO_REQUEST_EXAMPLE = {
    "POST /imports": "a multipart file upload (the file is binary; its fields are described)",
    "POST /premises/{premises_id}/photos": "a multipart photo upload (the image is binary; "
    "its fields are described)",
}

DOC = create_app(Settings()).openapi()


def _operations() -> list[tuple[str, dict[str, Any]]]:
    ops = []
    for path, item in DOC["paths"].items():
        for method in METHODS:
            if method in item:
                ops.append((f"{method.upper()} {path}", item[method]))
    return ops


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = DOC["components"]["schemas"][name]
    return schema


def _example(media: dict[str, Any]) -> Any:
    """The media type's example, else the first example of the schema it refers to."""
    if "example" in media:
        return media["example"]
    if media.get("examples"):
        return next(iter(media["examples"].values()))["value"]
    schema = _resolve(media.get("schema") or {})
    if schema.get("examples"):
        return schema["examples"][0]
    return None


def _json_2xx(op: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The JSON media types of the operation's 2xx responses."""
    out = {}
    for code, response in op["responses"].items():
        if code.startswith("2"):
            for media_type, media in response.get("content", {}).items():
                if media_type in JSON_TYPES:
                    out[f"{code} {media_type}"] = media
    return out


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    """A validator for a schema of the document, its ``#/components/...`` references resolved."""
    return Draft202012Validator({"allOf": [schema], "components": DOC["components"]})


JSON_OPERATIONS = [(name, op) for name, op in _operations() if _json_2xx(op)]


def test_the_walk_sees_the_json_operations_and_skips_html_only_ones() -> None:
    names = {name for name, _ in JSON_OPERATIONS}
    assert {"POST /match", "POST /needs", "POST /premises", "GET /collections"} <= names
    assert "GET /carte" not in names  # an HTML page only
    assert len(names) > 40


@pytest.mark.parametrize(("name", "op"), JSON_OPERATIONS, ids=[n for n, _ in JSON_OPERATIONS])
def test_every_json_operation_is_described_with_examples(name: str, op: dict[str, Any]) -> None:
    assert op.get("summary") or op.get("description"), f"{name}: no summary nor description"
    body = op.get("requestBody", {}).get("content", {})
    if body and name not in NO_REQUEST_EXAMPLE:
        for media_type, media in body.items():
            assert _example(media) is not None, f"{name}: no {media_type} request example"
    if name not in NO_RESPONSE_EXAMPLE:
        examples = {k: _example(m) for k, m in _json_2xx(op).items()}
        assert any(v is not None for v in examples.values()), f"{name}: no 2xx JSON example"


def test_the_exceptions_are_still_needed() -> None:
    ops = dict(_operations())
    for name in NO_RESPONSE_EXAMPLE:
        assert name in ops, f"{name} is no longer an operation: drop its exception"
        examples = [_example(m) for m in _json_2xx(ops[name]).values()]
        assert all(e is None for e in examples), f"{name} has an example now: drop it"


@pytest.mark.parametrize(("name", "op"), JSON_OPERATIONS, ids=[n for n, _ in JSON_OPERATIONS])
def test_every_example_validates_against_its_schema(name: str, op: dict[str, Any]) -> None:
    for media in op.get("requestBody", {}).get("content", {}).values():
        if _example(media) is not None:
            errors = list(_validator(media["schema"]).iter_errors(_example(media)))
            assert not errors, f"{name} request example: {errors[0].message}"
    for key, media in _json_2xx(op).items():
        example = _example(media)
        if example is not None and media.get("schema"):
            errors = list(_validator(media["schema"]).iter_errors(example))
            assert not errors, f"{name} {key} example: {errors[0].message} at {errors[0].path}"
    for param in op.get("parameters", []):
        if "example" in param and "schema" in param:
            errors = list(_validator(param["schema"]).iter_errors(param["example"]))
            assert not errors, f"{name} parameter {param['name']}: {errors[0].message}"


def _refs(value: Any) -> list[str]:
    """The ``$ref`` values inside an example (ReDoc follows them, even to another host)."""
    if isinstance(value, dict):
        own = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        return own + [r for v in value.values() for r in _refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    return []


def test_no_example_holds_a_ref_that_redoc_would_fetch() -> None:
    assert _refs({"a": [{"$ref": "https://geojson.org/schema/Geometry.json"}]})
    for name, op in _operations():
        media = [*op.get("requestBody", {}).get("content", {}).values()]
        media += [m for r in op["responses"].values() for m in r.get("content", {}).values()]
        for m in media:
            assert not _refs(m.get("example")), f"{name}: a $ref in an example"


def _request_example(name: str) -> Any:
    method, path = name.split(" ", 1)
    return _example(
        DOC["paths"][path][method.lower()]["requestBody"]["content"]["application/json"]
    )


@pytest.mark.parametrize(
    ("name", "role", "status"),
    [("POST /match", None, 200), ("POST /needs", "company", 201), ("POST /premises", "staff", 201)],
)
def test_the_request_examples_are_accepted_by_the_app(
    client: TestClient, name: str, role: str | None, status: int
) -> None:
    headers = {}
    if role is not None:
        with client.app.state.repo.begin() as conn:  # type: ignore[attr-defined]
            account = accounts.create_account(
                conn, name=f"examples-{role}", email=f"{role}@examples.invalid", role=role
            )
            headers["Authorization"] = f"Bearer {issue_key(conn, account.id).key}"
    body = _request_example(name)
    response = client.post(name.split(" ", 1)[1], json=body, headers=headers)
    assert response.status_code == status, response.text
    if name == "POST /premises":
        assert response.json()["title"] == body["title"]


SCHEMAS_WITH_EXAMPLES = [
    name for name, schema in DOC["components"]["schemas"].items() if schema.get("examples")
]


def test_the_request_models_carry_their_examples() -> None:
    assert {"PremisesCreate", "PremisesUpdate", "StatusChange", "ContactRequestIn"} <= set(
        SCHEMAS_WITH_EXAMPLES
    )


@pytest.mark.parametrize("name", SCHEMAS_WITH_EXAMPLES)
def test_every_model_example_validates_against_its_model(name: str) -> None:
    schema = DOC["components"]["schemas"][name]
    for example in schema["examples"]:
        errors = list(_validator(schema).iter_errors(example))
        assert not errors, f"{name} example: {errors[0].message} at {errors[0].path}"
