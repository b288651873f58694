"""Request, response and parameter examples of the OpenAPI document, from real exchanges.

``api/openapi_examples.json`` is written by ``scripts/record_openapi_examples.py``: each JSON
operation sent once to the demo app by the role that may make it, its body, its answer (lists
cut to two items) and its path and query values. :func:`document_examples` attaches them to
the document as it is built, beside the examples the models and ``Body(examples=…)`` already
give; ``tests/api/test_openapi_examples.py`` checks that every JSON operation has them and
that they validate against their schemas.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI

__all__ = ["document_examples"]

_FILE = Path(__file__).with_name("openapi_examples.json")
_JSON_TYPES = ("application/json", "application/geo+json", "application/schema+json")


def _attach(op: dict[str, Any], recorded: dict[str, Any]) -> None:
    status = str(recorded.get("status", 200))
    content = op.get("responses", {}).get(status, {}).get("content", {})
    for media, entry in content.items():
        if media in _JSON_TYPES:
            entry.setdefault("example", recorded["response"])
    if "request" in recorded:
        for media in op.get("requestBody", {}).get("content", {}).values():
            media.setdefault("example", recorded["request"])
    values = recorded.get("parameters", {})
    for param in op.get("parameters", []):
        if param.get("in") in ("path", "query") and param["name"] in values:
            param.setdefault("example", _typed(values[param["name"]], param.get("schema", {})))


def _typed(raw: str, schema: dict[str, Any]) -> Any:
    """A query or path value as the type its schema gives (``anyOf`` with null included)."""
    kinds = {schema.get("type")} | {s.get("type") for s in schema.get("anyOf", [])}
    try:
        if "integer" in kinds:
            return int(raw)
        if "number" in kinds:
            return float(raw)
    except ValueError:
        return raw
    if "boolean" in kinds and raw in ("true", "false"):
        return raw == "true"
    return raw


def document_examples(app: FastAPI) -> None:
    """Add the recorded examples to the app's OpenAPI document when it is first built."""
    recorded: dict[str, Any] = json.loads(_FILE.read_text(encoding="utf-8"))
    original: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original()
        for path, item in schema.get("paths", {}).items():
            for method, op in item.items():
                example = recorded.get(f"{method.upper()} {path}")
                if isinstance(op, dict) and example is not None:
                    _attach(op, example)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
