"""The premises catalogue: list with filters and pagination, and one listing with its ETag.

Both are public: they return :class:`~geodata.schemas.PremisesPublic`, never the owner's
account nor a contact the owner did not publish.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel

from geodata.schemas import PremisesPublic

from ..deps import PremisesIdPath, PremisesQueryDep, RepoDep, SettingsDep

__all__ = ["PremisesPage", "router"]

router = APIRouter(prefix="/premises", tags=["premises"])


class PremisesPage(BaseModel):
    """One page of listings, with the total and the links to the neighbouring pages."""

    items: list[PremisesPublic]
    total: int
    limit: int
    offset: int
    links: list[dict[str, str]]


def _page_links(
    request: Request, base_url: str | None, total: int, limit: int, offset: int
) -> list[dict[str, str]]:
    """Links relative to the site, or absolute from the configured base URL: never the Host."""
    root = (base_url or "").rstrip("/")

    def href(url: Any) -> str:
        return f"{root}{url.path}" + (f"?{url.query}" if url.query else "")

    links = [{"rel": "self", "href": href(request.url)}]
    if offset + limit < total:
        nxt = request.url.include_query_params(offset=offset + limit, limit=limit)
        links.append({"rel": "next", "href": href(nxt)})
    if offset > 0:
        prev = request.url.include_query_params(offset=max(0, offset - limit), limit=limit)
        links.append({"rel": "prev", "href": href(prev)})
    return links


def _list_etag(catalogue_version: int, query: str) -> str:
    """A weak ETag of a page: the catalogue version, the day (freshness rules move with the
    date) and the query."""
    digest = hashlib.sha256(query.encode()).hexdigest()[:16]
    return f'W/"{catalogue_version}-{dt.date.today():%Y%m%d}-{digest}"'


@router.get("", response_model=PremisesPage)
def list_premises(
    request: Request,
    response: Response,
    repo: RepoDep,
    settings: SettingsDep,
    query: PremisesQueryDep,
) -> Any:
    """List listings filtered by commune, kind, use, surface range, status and bbox."""
    response.headers["ETag"] = _list_etag(repo.catalogue_version(), request.url.query)
    page = repo.list_premises(query)
    return PremisesPage(
        items=[PremisesPublic.model_validate(item) for item in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
        links=_page_links(request, settings.http.base_url, page.total, page.limit, page.offset),
    )


@router.get("/{premises_id}", response_model=PremisesPublic)
def get_premises(premises_id: PremisesIdPath, repo: RepoDep, response: Response) -> Any:
    """One listing; its ETag carries the version to send back in ``If-Match`` on update."""
    item = repo.get_premises(premises_id)
    response.headers["ETag"] = f'"{item.version}"'
    return jsonable_encoder(PremisesPublic.model_validate(item))
