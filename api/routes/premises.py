"""The premises catalogue: list with filters and pagination, and one listing with its ETag.

Both are public: they return :class:`~geodata.schemas.PremisesPublic`, never the owner's
account nor a contact the owner did not publish.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel

from geodata.schemas import PremisesPublic

from ..deps import PremisesQueryDep, RepoDep

__all__ = ["PremisesPage", "router"]

router = APIRouter(prefix="/premises", tags=["premises"])


class PremisesPage(BaseModel):
    """One page of listings, with the total and the links to the neighbouring pages."""

    items: list[PremisesPublic]
    total: int
    limit: int
    offset: int
    links: list[dict[str, str]]


def _page_links(request: Request, total: int, limit: int, offset: int) -> list[dict[str, str]]:
    links = [{"rel": "self", "href": str(request.url)}]
    if offset + limit < total:
        nxt = request.url.include_query_params(offset=offset + limit, limit=limit)
        links.append({"rel": "next", "href": str(nxt)})
    if offset > 0:
        prev = request.url.include_query_params(offset=max(0, offset - limit), limit=limit)
        links.append({"rel": "prev", "href": str(prev)})
    return links


@router.get("", response_model=PremisesPage)
def list_premises(request: Request, repo: RepoDep, query: PremisesQueryDep) -> Any:
    """List listings filtered by commune, kind, use, surface range, status and bbox."""
    page = repo.list_premises(query)
    return PremisesPage(
        items=[PremisesPublic.model_validate(item) for item in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
        links=_page_links(request, page.total, page.limit, page.offset),
    )


@router.get("/{premises_id}", response_model=PremisesPublic)
def get_premises(premises_id: int, repo: RepoDep, response: Response) -> Any:
    """One listing; its ETag carries the version to send back in ``If-Match`` on update."""
    item = repo.get_premises(premises_id)
    response.headers["ETag"] = f'"{item.version}"'
    return jsonable_encoder(PremisesPublic.model_validate(item))
