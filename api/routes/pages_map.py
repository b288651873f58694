"""The catalogue map: every public listing as a marker, clustered, each linking to its page."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from matcher.index import MatchIndex

from .. import maps
from ..auth import OPTIONAL_AUTH, OptionalAccount
from ..deps import NowDep, SettingsDep
from ..freshness import hide_before
from ..pages import PAGE_RESPONSES, Lang, csp_nonce, render

__all__ = ["router"]

router = APIRouter(tags=["pages"])


@router.get(
    "/carte",
    response_class=HTMLResponse,
    openapi_extra=OPTIONAL_AUTH,
    responses=PAGE_RESPONSES,
)
@router.get("/map", response_class=HTMLResponse, include_in_schema=False)
def catalogue_map(
    request: Request,
    settings: SettingsDep,
    now: NowDep,
    account: OptionalAccount,
    lang: Annotated[Lang, Query()] = "fr",
    cluster: Annotated[bool, Query(description="Group nearby markers.")] = True,
) -> Any:
    """All public listings on a map (clustered), each popup linking to its detail page."""
    index = request.app.state.match_index.current()
    count, data = _catalogue_json(index, hide_before(now, settings.freshness), lang)
    m = maps.new_map(settings.maps)
    maps.communes_layer(request.app.state.territory).add_to(m)
    link = "Voir le local" if lang == "fr" else "See the premises"
    maps.PointsLayer(
        data, cluster=cluster, link_text=link, fit=count > 0, href=f"/locaux/{{id}}?lang={lang}"
    ).add_to(m)
    parts = maps.render_map(m, csp_nonce(request))
    return render(
        request, "carte.html", lang, account=account, map=parts, count=count, cluster=cluster
    )


_lock = threading.Lock()
_cache: dict[tuple[int, int, datetime, str], tuple[MatchIndex, int, str]] = {}


def _catalogue_json(index: MatchIndex, since: datetime, lang: Lang) -> tuple[int, str]:
    """The public listings' GeoJSON, serialised once per index snapshot, day and language:
    every anonymous reader of the map gets the same (a few MiB at 10,000 listings)."""
    key = (id(index), index.version, since, lang)
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] is index:
            return hit[1], hit[2]
    rows = maps.public_rows(index, since)
    text = maps.premises_features_json(index, rows, lang)
    with _lock:
        if len(_cache) >= 4:
            _cache.clear()
        _cache[key] = (index, len(rows), text)
    return len(rows), text
