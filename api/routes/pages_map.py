"""The catalogue map: every public listing as a marker, clustered, each linking to its page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from .. import maps
from ..auth import OptionalAccount
from ..deps import NowDep, SettingsDep
from ..freshness import hide_before
from ..pages import Lang, csp_nonce, render

__all__ = ["router"]

router = APIRouter(tags=["pages"])


@router.get("/carte", response_class=HTMLResponse)
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
    rows = maps.public_rows(index, hide_before(now, settings.freshness))
    m = maps.new_map(settings.maps)
    maps.communes_layer(request.app.state.territory).add_to(m)
    data = maps.premises_features(index, rows, lang)
    link = "Voir le local" if lang == "fr" else "See the premises"
    maps.PointsLayer(
        data, cluster=cluster, link_text=link, fit=len(rows) > 0, href=f"/locaux/{{id}}?lang={lang}"
    ).add_to(m)
    parts = maps.render_map(m, csp_nonce(request))
    return render(
        request, "carte.html", lang, account=account, map=parts, count=len(rows), cluster=cluster
    )
