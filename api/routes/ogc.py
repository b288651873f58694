"""OGC API – Features (Part 1 Core, GeoJSON, HTML, OpenAPI 3.0; Part 2 CRS; Part 3 queryables).

QGIS, GDAL's OAPIF driver and owslib read the catalogue and the territory's reference layers
here. Collections: ``premises`` (the public view; available listings only, unless staff),
``communes``, ``stations``, ``interchanges``, ``zones`` and ``landmarks``.

The premises collection takes its filters from the same :class:`PremisesQuery` dependency as
``GET /premises`` (no second implementation); the reference layers are filtered in memory
with shapely's array functions. Geometries are served in WGS84 (CRS84, the default) or in
Lambert-93 (``crs=http://www.opengis.net/def/crs/EPSG/0/2154``), with ``Content-Crs``.
The landing page is ``/`` itself, as JSON when the client asks for it (``f=json`` or an
``Accept`` preferring JSON) — ``ogr2ogr -f GPKG out.gpkg OAPIF:http://host:8000 premises``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from functools import cache
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response

import pyproj
import shapely

from geodata.schemas import Premises, PremisesPublic
from geodata.storage import NotFoundError, PremisesQuery
from geodata.territory import LAYERS, Layer, Territory

from ..auth import OPTIONAL_AUTH, OptionalAccount, can_edit
from ..deps import MAX_INT32, NowDep, PremisesFiltersDep, RepoDep, SettingsDep, TerritoryDep
from ..freshness import hide_before
from ..pages import Lang, render

__all__ = ["CRS84", "EPSG2154", "landing_page", "router", "wants_json"]

router = APIRouter(tags=["OGC API – Features"])

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG2154 = "http://www.opengis.net/def/crs/EPSG/0/2154"
CRS_LIST = [CRS84, EPSG2154]
GEOJSON = "application/geo+json"

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
]

#: The reference layers served, with their titles and the property that identifies a feature.
LAYER_COLLECTIONS: dict[str, tuple[str, str, str]] = {
    "communes": ("Communes", "Communes of the territory (INSEE code, name, department).", "insee"),
    "stations": ("Gares et stations", "Public-transport stations (lines, modes, status).", "id"),
    "interchanges": ("Échangeurs", "Motorway exits and junctions.", "id"),
    "zones": ("Zones d'activité", "Business parks (CNIG site-eco identifiers).", "site_id"),
    "landmarks": ("Repères", "Landmarks (airport, market, ports).", "id"),
}
PREMISES_TITLE = ("Locaux d'activité", "Available premises (public view); staff see every status.")
#: Query parameters every items request may carry besides a collection's queryables.
_COMMON = frozenset({"f", "lang", "crs", "bbox", "bbox-crs", "limit", "offset", "datetime"})
_DEFAULT_LIMIT = 10
_MAX_LIMIT = 10_000

_JSON_OR_HTML: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {}, "text/html": {}}}
}
Format = Literal["json", "html"]
FormatQuery = Annotated[Format | None, Query(description="json (default for clients) or html")]
LangQuery = Annotated[Lang, Query(description="Language of the HTML view")]
CrsQuery = Annotated[str | None, Query(description=f"Output CRS: {CRS84} (default) or {EPSG2154}")]
BBoxCrsQuery = Annotated[
    str | None, Query(alias="bbox-crs", description="CRS of bbox: CRS84 (default) or 2154")
]
DatetimeQuery = Annotated[
    str | None,
    Query(
        description="Premises available at an instant (2027-01-01) or during an interval "
        "(2027-01-01/2027-06-30, open ends as '..'): available_from on or before its end"
    ),
]


def wants_json(request: Request, f: str | None) -> bool:
    """Whether to answer JSON: ``f=json``, or unless the ``Accept`` header asks for HTML.

    Browsers name ``text/html``; OGC clients (owslib, curl) send ``*/*`` or JSON types and
    get JSON, as OGC API – Features expects.

    Examples
    --------
    >>> from starlette.requests import Request as R
    >>> def req(accept):
    ...     return R({"type": "http", "headers": [(b"accept", accept.encode())]})
    >>> wants_json(req("application/json"), None), wants_json(req("text/html,*/*"), None)
    (True, False)
    >>> wants_json(req("*/*"), None), wants_json(req("text/html"), "json")
    (True, True)
    """
    if f is not None:
        return f == "json"
    html, json_ = -1.0, 0.0
    for part in request.headers.get("accept", "*/*").split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        if media == "text/html":
            html = max(html, q)
        elif media in ("application/json", "application/geo+json"):
            json_ = max(json_, q)
    return html < json_ or html <= 0


def _base(request: Request) -> str:
    """The app's base URL for absolute links (the configured one, else the request's)."""
    configured = request.app.state.settings.http.base_url
    return (configured or str(request.base_url)).rstrip("/")


def _link(href: str, rel: str, type_: str, title: str | None = None) -> dict[str, str]:
    out = {"href": href, "rel": rel, "type": type_}
    if title:
        out["title"] = title
    return out


def landing_page(request: Request, territory: Territory) -> dict[str, Any]:
    """The OGC API landing page of the app (served at ``/`` to JSON clients)."""
    base = _base(request)
    return {
        "title": f"Implanter — {territory.name}",
        "description": "Locaux d'activité et couches de référence du territoire "
        "(OGC API – Features).",
        "links": [
            _link(f"{base}/?f=json", "self", "application/json", "This document"),
            _link(f"{base}/", "alternate", "text/html", "HTML"),
            _link(
                f"{base}/openapi.json",
                "service-desc",
                "application/vnd.oai.openapi+json;version=3.0",
            ),
            _link(f"{base}/docs", "service-doc", "text/html", "API documentation"),
            _link(f"{base}/conformance", "conformance", "application/json", "Conformance"),
            _link(f"{base}/collections", "data", "application/json", "Collections"),
        ],
    }


@router.get("/conformance", responses=_JSON_OR_HTML)
def conformance(request: Request, f: FormatQuery = None, lang: LangQuery = "fr") -> Any:
    """The conformance classes this API implements."""
    body = {"conformsTo": CONFORMANCE}
    if not wants_json(request, f):
        return render(request, "ogc.html", lang, heading="Conformance", body=body, items=None)
    return body


def _collection(request: Request, territory: Territory, cid: str) -> dict[str, Any]:
    base = _base(request)
    if cid == "premises":
        title, description = PREMISES_TITLE
    else:
        title, description, _ = LAYER_COLLECTIONS[cid]
    lon0, lat0, lon1, lat1 = (float(v) for v in shapely.bounds(territory.boundary))
    return {
        "id": cid,
        "title": title,
        "description": description,
        "itemType": "feature",
        "crs": CRS_LIST,
        "storageCrs": CRS84,
        "extent": {"spatial": {"bbox": [[lon0, lat0, lon1, lat1]], "crs": CRS84}},
        "links": [
            _link(f"{base}/collections/{cid}", "self", "application/json"),
            _link(f"{base}/collections/{cid}?f=html", "alternate", "text/html"),
            _link(f"{base}/collections/{cid}/items", "items", GEOJSON, title),
            _link(f"{base}/collections/{cid}/items?f=html", "items", "text/html", title),
            _link(
                f"{base}/collections/{cid}/queryables",
                "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                "application/schema+json",
            ),
        ],
    }


COLLECTION_IDS = ("premises", *LAYER_COLLECTIONS)


@router.get("/collections", responses=_JSON_OR_HTML)
def collections(
    request: Request, territory: TerritoryDep, f: FormatQuery = None, lang: LangQuery = "fr"
) -> Any:
    """The collections: the premises and the territory's reference layers."""
    base = _base(request)
    body = {
        "links": [
            _link(f"{base}/collections", "self", "application/json"),
            _link(f"{base}/collections?f=html", "alternate", "text/html"),
        ],
        "collections": [_collection(request, territory, cid) for cid in COLLECTION_IDS],
    }
    if not wants_json(request, f):
        return render(request, "ogc.html", lang, heading="Collections", body=body, items=None)
    return body


def _check_collection(cid: str) -> None:
    if cid not in COLLECTION_IDS:
        msg = f"collection: no collection {cid!r}; use one of {', '.join(COLLECTION_IDS)}"
        raise HTTPException(status_code=404, detail=msg)


@router.get("/collections/{collection_id}", responses=_JSON_OR_HTML)
def collection(
    request: Request,
    collection_id: str,
    territory: TerritoryDep,
    f: FormatQuery = None,
    lang: LangQuery = "fr",
) -> Any:
    """One collection's description."""
    _check_collection(collection_id)
    body = _collection(request, territory, collection_id)
    if not wants_json(request, f):
        return render(request, "ogc.html", lang, heading=body["title"], body=body, items=None)
    return body


# -- queryables ------------------------------------------------------------------------------

#: The premises' queryables: the filters of PremisesQuery, as JSON Schema properties.
_PREMISES_QUERYABLES: dict[str, dict[str, Any]] = {
    "commune": {"type": "string", "description": "INSEE code or name of the commune"},
    "kind": {"type": "string", "description": "Kind of premises (workshop, warehouse, …)"},
    "use": {"type": "string", "description": "An allowed use (production, logistics, …)"},
    "min_surface_m2": {"type": "number", "description": "Smallest total surface (m²)"},
    "max_surface_m2": {"type": "number", "description": "Largest total surface (m²)"},
    "status": {"type": "string", "description": "Status (staff only beyond 'available')"},
    "min_rent_eur_m2_year": {"type": "number", "description": "Rent at least (€/m²/year)"},
    "max_rent_eur_m2_year": {"type": "number", "description": "Rent at most (€/m²/year)"},
    "min_sale_price_eur": {"type": "number", "description": "Sale price at least (€)"},
    "max_sale_price_eur": {"type": "number", "description": "Sale price at most (€)"},
    "q": {"type": "string", "description": "Words in the title, description or address"},
}


def _layer_queryables(territory: Territory, cid: str) -> dict[str, dict[str, Any]]:
    layer = territory.layer(cid)
    return {name: {"type": "string"} for name in layer.columns if name in LAYERS[cid][0]}


@router.get(
    "/collections/{collection_id}/queryables",
    responses={200: {"content": {"application/schema+json": {}}}},
)
def queryables(request: Request, collection_id: str, territory: TerritoryDep) -> JSONResponse:
    """The properties an items request may filter on (``?name=value``), as a JSON Schema."""
    _check_collection(collection_id)
    props = (
        _PREMISES_QUERYABLES
        if collection_id == "premises"
        else _layer_queryables(territory, collection_id)
    )
    body = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{_base(request)}/collections/{collection_id}/queryables",
        "type": "object",
        "title": collection_id,
        "properties": {"geometry": {"$ref": "https://geojson.org/schema/Geometry.json"}, **props},
    }
    return JSONResponse(body, media_type="application/schema+json")


# -- items -----------------------------------------------------------------------------------


@cache
def _to_l93() -> Callable[[np.ndarray], np.ndarray]:
    transformer = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)

    def apply(xy: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return apply


def _output_crs(crs: str | None) -> str:
    if crs is None or crs == CRS84:
        return CRS84
    if crs in (EPSG2154, "EPSG:2154"):
        return EPSG2154
    msg = f"crs: {crs!r} is not offered; use {CRS84} or {EPSG2154}"
    raise HTTPException(status_code=400, detail=msg)


def _bbox_wgs84(bbox: str | None, bbox_crs: str | None) -> str | None:
    """The bbox in WGS84 text; a Lambert-93 bbox becomes the WGS84 box that covers it."""
    if bbox is None or bbox_crs is None or _output_crs(bbox_crs) == CRS84:
        return bbox
    try:
        x0, y0, x1, y1 = (float(v) for v in bbox.split(","))
    except ValueError:
        msg = f"bbox: expected four numbers minx,miny,maxx,maxy, got {bbox!r}"
        raise HTTPException(status_code=400, detail=msg) from None
    transformer = pyproj.Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True)
    lon0, lat0, lon1, lat1 = transformer.transform_bounds(x0, y0, x1, y1, densify_pts=21)
    return f"{lon0},{lat0},{lon1},{lat1}"


def _parse_datetime(value: str | None) -> date | None:
    """The last day a listing may become available to match ``datetime`` (None: any)."""
    if value is None:
        return None
    end = value.split("/")[-1].strip()
    if end in ("", ".."):
        return None
    try:
        return datetime.fromisoformat(end.replace("Z", "+00:00")).date()
    except ValueError:
        pass
    try:
        return date.fromisoformat(end)
    except ValueError:
        msg = f"datetime: {value!r} is not an RFC 3339 instant or interval (e.g. 2027-01-01/..)"
        raise HTTPException(status_code=400, detail=msg) from None


def _geometries(geoms: np.ndarray, crs: str) -> list[Any]:
    if crs == EPSG2154:
        geoms = shapely.transform(geoms, _to_l93())
    return [json.loads(text) for text in shapely.to_geojson(geoms)]


def _page_links(
    request: Request, cid: str, matched: int, limit: int, offset: int
) -> list[dict[str, str]]:
    base = f"{_base(request)}/collections/{cid}/items"
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("offset", "f")]

    def url(new_offset: int, fmt: str | None = None) -> str:
        query = [*params, ("offset", str(new_offset))]
        if fmt:
            query.append(("f", fmt))
        return base + "?" + "&".join(f"{k}={_quote(v)}" for k, v in query)

    links = [
        _link(url(offset), "self", GEOJSON),
        _link(url(offset, "html"), "alternate", "text/html"),
        _link(f"{_base(request)}/collections/{cid}", "collection", "application/json"),
    ]
    if offset + limit < matched:
        links.append(_link(url(offset + limit), "next", GEOJSON))
    if offset > 0:
        links.append(_link(url(max(0, offset - limit)), "prev", GEOJSON))
    return links


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe=",:/.")


def _feature_collection(
    request: Request,
    cid: str,
    features: list[dict[str, Any]],
    matched: int,
    limit: int,
    offset: int,
    crs: str,
    f: str | None,
    lang: Lang,
) -> Any:
    body = {
        "type": "FeatureCollection",
        "features": features,
        "numberMatched": matched,
        "numberReturned": len(features),
        "timeStamp": datetime.now().astimezone().isoformat(timespec="seconds"),
        "links": _page_links(request, cid, matched, limit, offset),
    }
    headers = {"Content-Crs": f"<{crs}>"}
    if not wants_json(request, f):
        page = render(request, "ogc.html", lang, heading=cid, body=None, items=body)
        page.headers.update(headers)
        return page
    return JSONResponse(body, media_type=GEOJSON, headers=headers)


def _unknown_params(request: Request, allowed: frozenset[str]) -> None:
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        msg = f"{unknown[0]}: unknown parameter; use one of {', '.join(sorted(allowed))}"
        raise HTTPException(status_code=400, detail=msg)


def _premises_view(item: Premises, account: Any) -> dict[str, Any]:
    if can_edit(account, item.owner_account):
        data = jsonable_encoder(item)
    else:
        data = jsonable_encoder(PremisesPublic.model_validate(item))
    for name in ("lon", "lat", "footprint"):
        data.pop(name, None)
    return data


def _premises_features(items: list[Premises], account: Any, crs: str) -> list[dict[str, Any]]:
    """The listings as GeoJSON features, each in the reader's view, geometries in ``crs``."""
    points = shapely.points([p.lon for p in items], [p.lat for p in items])
    geometries = _geometries(np.asarray(points), crs) if items else []
    return [
        {
            "type": "Feature",
            "id": item.id,
            "geometry": geometry,
            "properties": _premises_view(item, account),
        }
        for item, geometry in zip(items, geometries, strict=True)
    ]


def _layer_features(
    layer: Layer, rows: np.ndarray, id_field: str, crs: str
) -> list[dict[str, Any]]:
    """Rows of a reference layer as GeoJSON features, geometries in ``crs``."""
    geometries = _geometries(layer.geometry[rows], crs) if len(rows) else []
    return [
        {
            "type": "Feature",
            "id": layer.properties[i].get(id_field),
            "geometry": geometry,
            "properties": layer.properties[i],
        }
        for i, geometry in zip(rows.tolist(), geometries, strict=True)
    ]


@router.get(
    "/collections/premises/items",
    responses={200: {"content": {GEOJSON: {}, "text/html": {}}}},
    openapi_extra=OPTIONAL_AUTH,
)
def premises_items(
    request: Request,
    repo: RepoDep,
    filters: PremisesFiltersDep,
    account: OptionalAccount,
    settings: SettingsDep,
    now: NowDep,
    f: FormatQuery = None,
    lang: LangQuery = "fr",
    crs: CrsQuery = None,
    bbox_crs: BBoxCrsQuery = None,
    datetime_: Annotated[DatetimeQuery, Query(alias="datetime")] = None,
    limit: Annotated[int, Query(ge=1, le=_MAX_LIMIT)] = _DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_INT32)] = 0,
) -> Any:
    """The listings as GeoJSON features, filtered like ``GET /premises`` (its queryables).

    Anonymous readers, companies and developers see the available listings (and a
    developer its own in full); staff see every status and may filter on it.
    """
    _unknown_params(request, _COMMON | frozenset(_PREMISES_QUERYABLES))
    out_crs = _output_crs(crs)
    update: dict[str, Any] = {"limit": limit, "offset": offset}
    bbox = _bbox_wgs84(request.query_params.get("bbox"), bbox_crs)
    if bbox != request.query_params.get("bbox") and bbox is not None:
        update["bbox"] = tuple(float(v) for v in bbox.split(","))
    available_by = _parse_datetime(datetime_)
    if available_by is not None:
        update["available_by"] = available_by
    if account is None or account.role != "staff":
        if filters.status is not None and str(filters.status) != "available":
            raise HTTPException(
                status_code=403, detail="status: only staff may read listings not available"
            )
        update["status"] = "available"
        # As the public search: listings unconfirmed for too long are left out.
        update["visible_since"] = hide_before(now, settings.freshness)
    query = PremisesQuery.model_validate({**filters.model_dump(), **update})
    page = repo.list_premises(query)
    items = page.items
    features = _premises_features(items, account, out_crs)
    return _feature_collection(
        request, "premises", features, page.total, limit, query.offset, out_crs, f, lang
    )


@router.get(
    "/collections/{collection_id}/items",
    responses={200: {"content": {GEOJSON: {}, "text/html": {}}}},
)
def layer_items(
    request: Request,
    collection_id: str,
    territory: TerritoryDep,
    f: FormatQuery = None,
    lang: LangQuery = "fr",
    crs: CrsQuery = None,
    bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy")] = None,
    bbox_crs: BBoxCrsQuery = None,
    limit: Annotated[int, Query(ge=1, le=_MAX_LIMIT)] = _DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=MAX_INT32)] = 0,
) -> Any:
    """A reference layer's features, filtered by bbox and by its properties (``?name=``)."""
    _check_collection(collection_id)
    if collection_id == "premises":  # pragma: no cover - the route above answers first
        raise HTTPException(status_code=404, detail="collection: use /collections/premises/items")
    fields = _layer_queryables(territory, collection_id)
    _unknown_params(request, _COMMON | frozenset(fields))
    out_crs = _output_crs(crs)
    layer = territory.layer(collection_id)
    keep = np.ones(len(layer), dtype=bool)
    box_text = _bbox_wgs84(bbox, bbox_crs)
    if box_text is not None:
        try:
            x0, y0, x1, y1 = (float(v) for v in box_text.split(","))
        except ValueError:
            msg = f"bbox: expected four numbers minx,miny,maxx,maxy, got {bbox!r}"
            raise HTTPException(status_code=400, detail=msg) from None
        if not all(np.isfinite([x0, y0, x1, y1])) or x0 > x1 or y0 > y1:
            msg = f"bbox: {bbox!r} must be four finite numbers, minimum before maximum"
            raise HTTPException(status_code=400, detail=msg)
        keep &= shapely.intersects(layer.geometry, shapely.box(x0, y0, x1, y1))
    for name in fields:
        wanted = request.query_params.get(name)
        if wanted is not None:
            keep &= np.array([str(v) == wanted for v in layer.column(name)], dtype=bool)
    rows = np.flatnonzero(keep)
    page = rows[offset : offset + limit]
    _, _, id_field = LAYER_COLLECTIONS[collection_id]
    features = _layer_features(layer, page, id_field, out_crs)
    return _feature_collection(
        request, collection_id, features, len(rows), limit, offset, out_crs, f, lang
    )


def _find(features: list[dict[str, Any]], feature_id: str) -> dict[str, Any] | None:
    return next((feat for feat in features if str(feat["id"]) == feature_id), None)


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    responses={200: {"content": {GEOJSON: {}, "text/html": {}}}},
    openapi_extra=OPTIONAL_AUTH,
)
def feature(
    request: Request,
    collection_id: str,
    feature_id: str,
    repo: RepoDep,
    territory: TerritoryDep,
    account: OptionalAccount,
    f: FormatQuery = None,
    lang: LangQuery = "fr",
    crs: CrsQuery = None,
) -> Any:
    """One feature of a collection."""
    _check_collection(collection_id)
    out_crs = _output_crs(crs)
    base = f"{_base(request)}/collections/{collection_id}"
    found: dict[str, Any] | None = None
    if collection_id == "premises":
        if feature_id.isdigit() and int(feature_id) <= MAX_INT32:
            try:
                item: Premises | None = repo.get_premises(int(feature_id))
            except NotFoundError:
                item = None
            visible = item is not None and (
                str(item.status) == "available"
                or (
                    account is not None
                    and (account.role == "staff" or account.name == item.owner_account)
                )
            )
            if item is not None and visible:
                [found] = _premises_features([item], account, out_crs)
    else:
        layer = territory.layer(collection_id)
        _, _, id_field = LAYER_COLLECTIONS[collection_id]
        ids = [str(p.get(id_field)) for p in layer.properties]
        if feature_id in ids:
            i = ids.index(feature_id)
            [found] = _layer_features(layer, np.array([i]), id_field, out_crs)
    if found is None:
        msg = f"featureId: no feature {feature_id!r} in the collection {collection_id}"
        raise HTTPException(status_code=404, detail=msg)
    found["links"] = [
        _link(f"{base}/items/{feature_id}", "self", GEOJSON),
        _link(f"{base}/items/{feature_id}?f=html", "alternate", "text/html"),
        _link(base, "collection", "application/json"),
    ]
    headers = {"Content-Crs": f"<{out_crs}>"}
    if not wants_json(request, f):
        body = {
            "type": "FeatureCollection",
            "features": [found],
            "numberMatched": 1,
            "numberReturned": 1,
            "links": found["links"],
        }
        page = render(
            request,
            "ogc.html",
            lang,
            heading=f"{collection_id} {feature_id}",
            body=None,
            items=body,
        )
        page.headers.update(headers)
        return page
    return Response(json.dumps(found), media_type=GEOJSON, headers=headers)
