"""Freshness over HTTP: confirm a listing, the owner's reminders, the staff's backlog.

``POST /premises/{id}/confirm`` (its owner or the staff) records that a listing is still
true: its freshness date becomes now, a versioned and audited write. ``GET /me/reminders``
lists the caller's listings unconfirmed for ``freshness.flag_days`` or more, with the days
left before they leave the public search; ``GET /staff/stale`` the whole backlog.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel

from geodata.schemas import Premises
from geodata.storage import Repository, freshness
from geodata.storage import premises as store
from geodata.storage.accounts import Account

from ..alerts import ListingAlerts
from ..auth import CurrentAccount, require_role
from ..deps import MAX_INT32, ListingAlertsDep, NowDep, PremisesIdPath, RepoDep, SettingsDep
from ..freshness import Freshness, flag_before, freshness_of, hide_before
from .premises import _AUTH, _WRITE, IfMatch, _check_editor, _etag, _expected_version, _page_links

__all__ = ["StaleListing", "StalePage", "confirm_listing", "router"]

router = APIRouter()

_CONFIRM = {k: v for k, v in _WRITE.items() if k != 428}
_LIST = {**_AUTH, 403: {"description": "The account's role may not read this list"}}


class StaleListing(BaseModel):
    """A listing to confirm (full view) and where it stands."""

    premises: Premises
    freshness: Freshness


class StalePage(BaseModel):
    """One page of listings to confirm, oldest freshness date first.

    ``total`` counts the flagged listings (on the market, unconfirmed for ``flag_days`` or
    more); ``hidden`` how many of them are out of the public search already.
    """

    items: list[StaleListing]
    total: int
    hidden: int
    flag_days: int
    hide_days: int
    limit: int
    offset: int
    links: list[dict[str, str]]


Limit = Annotated[int | None, Query(ge=1, le=MAX_INT32)]
Offset = Annotated[int, Query(ge=0, le=MAX_INT32)]


@router.post(
    "/premises/{premises_id}/confirm",
    tags=["premises"],
    response_model=Premises,
    responses=_CONFIRM,
)
def confirm_premises(
    premises_id: PremisesIdPath,
    repo: RepoDep,
    account: CurrentAccount,
    response: Response,
    now: NowDep,
    alerts: ListingAlertsDep,
    if_match: IfMatch = None,
) -> Any:
    """Confirm that a listing is still true (its owner or the staff): its freshness date
    becomes now, so it stays in (or comes back to) the public search and matching.

    ``If-Match`` is optional: with it, the confirmation is a compare-and-set on that version
    (412 when stale); without it, the current version is confirmed (a confirmation changes
    no field, so it overwrites nothing). Answers the listing with its new ETag.
    """
    expected = None if if_match is None or not if_match.strip() else _expected_version(if_match)
    item = confirm_listing(repo, account, alerts, now, premises_id, expected)
    _etag(response, item)
    return jsonable_encoder(item)


def confirm_listing(
    repo: Repository,
    account: Account,
    alerts: ListingAlerts,
    now: datetime,
    premises_id: int,
    expected_version: int | None = None,
) -> Premises:
    """Confirm a listing as its owner or the staff (``POST /premises/{id}/confirm`` and the
    pages): its freshness date becomes ``now``, a compare-and-set when a version is given."""
    with repo.begin() as conn:
        current = store.get_premises(conn, premises_id)
        _check_editor(account, current)
        item = store.confirm_premises(
            conn, premises_id, at=now, actor=account.name, expected_version=expected_version
        )
        # A listing hidden for want of confirmation comes back: its saved searches hear of it.
        alerts.written(conn, current, item)
    return item


def _page(
    request: Request,
    settings: SettingsDep,
    repo: RepoDep,
    now: NowDep,
    owner: str | None,
    limit: int | None,
    offset: int,
) -> StalePage:
    size = settings.api.default_page_size if limit is None else limit
    if size > settings.api.max_page_size:
        msg = f"limit: at most {settings.api.max_page_size} items per page"
        raise HTTPException(status_code=400, detail=msg)
    rules = settings.freshness
    with repo.connect() as conn:
        page = freshness.stale_premises(
            conn, before=flag_before(now, rules), owner=owner, limit=size, offset=offset
        )
        hidden = freshness.stale_premises(
            conn, before=hide_before(now, rules), owner=owner, limit=0
        ).total
    return StalePage(
        items=[
            StaleListing(premises=item, freshness=freshness_of(item, now, rules))
            for item in page.items
        ],
        total=page.total,
        hidden=hidden,
        flag_days=rules.flag_days,
        hide_days=rules.hide_days,
        limit=size,
        offset=offset,
        links=_page_links(request, settings.http.base_url, page.total, size, offset),
    )


@router.get("/me/reminders", tags=["accounts"], response_model=StalePage, responses=_LIST)
def my_reminders(
    request: Request,
    repo: RepoDep,
    settings: SettingsDep,
    account: CurrentAccount,
    now: NowDep,
    limit: Limit = None,
    offset: Offset = 0,
) -> Any:
    """The caller's listings on the market (available, under offer) unconfirmed for
    ``flag_days`` or more, oldest first, each with the days left before it leaves the public
    search (developer and staff accounts: their own listings)."""
    require_role(
        account, ("developer", "staff"), "reminders: only developer and staff accounts own listings"
    )
    return _page(request, settings, repo, now, account.name, limit, offset)


@router.get("/staff/stale", tags=["staff"], response_model=StalePage, responses=_LIST)
def stale_backlog(
    request: Request,
    repo: RepoDep,
    settings: SettingsDep,
    account: CurrentAccount,
    now: NowDep,
    limit: Limit = None,
    offset: Offset = 0,
) -> Any:
    """Every listing on the market unconfirmed for ``flag_days`` or more, oldest first, those
    past ``hide_days`` (out of the public search) marked ``hidden`` (staff only)."""
    require_role(
        account, ("staff",), "staff/stale: only staff accounts read the backlog of stale listings"
    )
    return _page(request, settings, repo, now, None, limit, offset)
