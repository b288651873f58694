"""The fast JSON response writes the JSON values the standard one writes (the same bytes,
but for the spelling of some exponents: ``1.5e-7`` rather than ``1.5e-07``)."""

from __future__ import annotations

import json
import math

from fastapi.responses import JSONResponse

from api.json_response import (
    EncodedJSONResponse,
    FastJSONResponse,
    encode_json,
    encode_with_list,
)


def test_the_same_bytes_as_the_standard_encoder() -> None:
    body = {
        "items": [
            {"id": 1, "title": "Entrepôt « Rungis » <b>&</b>", "surface_m2": 850.0, "x": None},
            {"id": 2, "score": 0.1 + 0.2, "big": 1e16, "ok": True, "u": [0.0, 1.0, 0.73]},
        ],
        "links": [{"rel": "self", "href": "/premises?limit=50&q=caf%C3%A9"}],
        "total": 2,
        "emoji": "🏭",
        "nested": {"a": [1, [2, [3]]], "t": (4, 5)},
    }
    assert FastJSONResponse(body).body == JSONResponse(body).body
    tiny = {"small": 1.5e-7, "neg": -2.5e-12}
    assert json.loads(FastJSONResponse(tiny).body) == json.loads(JSONResponse(tiny).body) == tiny


def test_a_non_finite_number_is_null_rather_than_an_error() -> None:
    response = FastJSONResponse({"score": math.nan, "u": [math.inf]})
    assert response.body == b'{"score":null,"u":[null]}'
    assert response.headers["content-type"] == "application/json"


def test_a_body_assembled_from_encoded_items_is_the_one_written_whole() -> None:
    items = [
        {"id": 1, "title": "Entrepôt « Rungis » <b>&</b>", "surface_m2": 850.0, "x": None},
        {"id": 2, "score": math.nan, "emoji": "🏭", "nested": {"a": [1, [2.5e-7]]}},
    ]
    rest = {"total": 2, "limit": 50, "offset": 0, "links": [{"rel": "self", "href": "/p?q=é"}]}
    whole = FastJSONResponse({"items": items, **rest})
    assembled = EncodedJSONResponse(
        encode_with_list("items", [encode_json(i) for i in items], rest),
        headers={"ETag": 'W/"1"'},
    )
    assert assembled.body == whole.body
    assert encode_with_list("items", [], {}) == FastJSONResponse({"items": []}).body
    assert encode_with_list("é", [b"1"], {"n": 2}) == FastJSONResponse({"é": [1], "n": 2}).body
    headers = dict(assembled.headers)
    assert headers.pop("etag") == 'W/"1"'
    assert headers == dict(whole.headers)
