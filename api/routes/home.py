"""The home page: the catalogue at a glance, in HTML."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

from geodata.schemas import PremisesPublic

from ..deps import MAX_INT32, NowDep, RepoDep, SettingsDep, TerritoryDep
from ..freshness import hide_before
from ..pages import Lang, render
from .ogc import FormatQuery, landing_page, wants_json

__all__ = ["router"]

router = APIRouter(tags=["pages"])

PAGE = 50


@router.get(
    "/",
    response_class=HTMLResponse,
    responses={200: {"content": {"application/json": {}}}},
)
def home(
    request: Request,
    repo: RepoDep,
    territory: TerritoryDep,
    settings: SettingsDep,
    now: NowDep,
    lang: Annotated[Lang, Query()] = "fr",
    offset: Annotated[int, Query(ge=0, le=MAX_INT32)] = 0,
    f: FormatQuery = None,
) -> Any:
    """List the public catalogue (as anonymous ``GET /premises``), 50 listings a page; to a
    JSON client (``f=json`` or an ``Accept`` without HTML), the OGC API landing page."""
    if wants_json(request, f):
        return JSONResponse(landing_page(request, territory))
    since = hide_before(now, settings.freshness)
    page = repo.list_premises(limit=PAGE, offset=offset, visible_since=since)
    return render(
        request,
        "home.html",
        lang,
        items=[PremisesPublic.model_validate(item) for item in page.items],
        total=page.total,
        needs=repo.counts()["needs"],
        prev_offset=max(0, offset - PAGE) if offset > 0 else None,
        next_offset=offset + PAGE if offset + PAGE < page.total else None,
    )
