"""A JSON response encoded by pydantic-core (Rust) rather than the standard library.

The read routes with large bodies (``GET /premises``, ``POST /match``) spend a tenth of
their time in :func:`json.dumps`; :func:`pydantic_core.to_json` writes the same bytes for
JSON values (compact separators, UTF-8 rather than ``\\u`` escapes) several times faster. A
non-finite float, which the standard encoder refuses with an error (a 500), is written as
``null``.

The encoding is compact and the same for a value wherever it sits, so a body can also be
assembled from values encoded once and kept (:func:`encode_with_list`,
:class:`EncodedJSONResponse`): the bytes are those :class:`FastJSONResponse` writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pydantic_core
from fastapi.responses import JSONResponse, Response

__all__ = ["EncodedJSONResponse", "FastJSONResponse", "encode_json", "encode_with_list"]


def encode_json(content: Any) -> bytes:
    """``content`` (JSON values) as compact UTF-8 JSON, non-finite floats as ``null``.

    Examples
    --------
    >>> encode_json({"title": "Entrepôt", "surface_m2": 1200.0, "rent": float("nan")})
    b'{"title":"Entrep\\xc3\\xb4t","surface_m2":1200.0,"rent":null}'
    """
    return pydantic_core.to_json(content, inf_nan_mode="null")


def encode_with_list(key: str, encoded: Iterable[bytes], rest: Mapping[str, Any]) -> bytes:
    """The object ``{key: [...], **rest}`` as :func:`encode_json` writes it, its list given as
    its values already encoded.

    Examples
    --------
    >>> encode_with_list("items", [b'{"id":1}', b'{"id":2}'], {"total": 2})
    b'{"items":[{"id":1},{"id":2}],"total":2}'
    >>> encode_with_list("items", [], {})
    b'{"items":[]}'
    """
    head = b"{" + encode_json(key) + b":[" + b",".join(encoded) + b"]"
    return head + (b"," + encode_json(rest)[1:] if rest else b"}")


class FastJSONResponse(JSONResponse):
    """:class:`JSONResponse` whose body is encoded by :func:`encode_json`."""

    def render(self, content: Any) -> bytes:
        """The body: ``content`` (JSON values) as compact UTF-8 JSON."""
        return encode_json(content)


class EncodedJSONResponse(Response):
    """A JSON response whose body is given already encoded (same headers as
    :class:`JSONResponse`)."""

    media_type = "application/json"
