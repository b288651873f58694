"""The premises catalogue: read it (anyone), write it (its developers and the staff).

Readers get :class:`~geodata.schemas.PremisesPublic`, never the owner's account nor a contact
the owner did not publish; the listing's owner and the staff get the full
:class:`~geodata.schemas.Premises`. Writes need an API key: a developer creates listings it
owns and edits only those; staff edit any. Every edit is a compare-and-set on the version the
client read (``ETag`` → ``If-Match``) and is audited, and the saved searches the listing newly
fits are notified (:mod:`api.alerts`), all in one transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from geodata.schemas import Premises, PremisesCreate, PremisesPublic, PremisesUpdate, Status
from geodata.storage import PremisesQuery, Repository, audit, catalogue
from geodata.storage import premises as store
from geodata.storage._convert import premises_from_row
from geodata.storage._tables import ENTITY_PREMISES
from geodata.storage.accounts import Account
from geodata.storage.audit import AuditEntry
from geodata.territory import Territory

from ..alerts import ListingAlerts
from ..auth import OPTIONAL_AUTH, CurrentAccount, OptionalAccount, can_edit, forbid, require_role
from ..deps import (
    MAX_INT32,
    ListingAlertsDep,
    NowDep,
    PremisesIdPath,
    PremisesQueryDep,
    RepoDep,
    SettingsDep,
    TerritoryDep,
)
from ..errors import ProblemError, Text
from ..freshness import freshness_of, public_query
from ..json_response import EncodedJSONResponse, encode_json, encode_with_list
from ..listing_cache import public_json, public_json_cache, total_cache
from ..outcomes import record_opened
from ..settings import Settings

__all__ = [
    "PremisesPage",
    "StatusChange",
    "create_listing",
    "patch_listing",
    "router",
    "set_listing_status",
]

router = APIRouter(prefix="/premises", tags=["premises"])


_AUTH: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or bad API key (WWW-Authenticate: Bearer)"}
}
_WRITE: dict[int | str, dict[str, Any]] = {
    **_AUTH,
    403: {"description": "The account may not edit this listing"},
    404: {"description": "No such listing"},
    412: {"description": "Stale version: the listing changed since the ETag was read"},
    428: {"description": "If-Match missing: send the ETag read from GET /premises/{id}"},
}


class PremisesPage(BaseModel):
    """One page of listings, with the total and the links to the neighbouring pages.

    Each item is the public view, except for the caller's own listings (and every listing
    for the staff), which carry the owner's fields too (a full :class:`Premises`) and their
    ``freshness`` (:class:`api.freshness.Freshness`).
    """

    items: list[PremisesPublic]
    total: int
    limit: int
    offset: int
    links: list[dict[str, str]]


class StatusChange(BaseModel):
    """A new status for a listing."""

    model_config = {"json_schema_extra": {"examples": [{"status": "under_offer"}]}}

    status: Status = Field(description="available, under_offer, let, sold or withdrawn")


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


def _list_etag(
    catalogue_version: int, query: str, account: Account | None, now: dt.datetime
) -> str:
    """A weak ETag of a page: the catalogue version, the day (freshness rules move with the
    date, at 00:00 UTC), the query and the reader (owners and staff see more listings)."""
    reader = "" if account is None else f"{account.role}:{account.name}"
    digest = hashlib.sha256(f"{query}\n{reader}".encode()).hexdigest()[:16]
    return f'W/"{catalogue_version}-{now.astimezone(dt.UTC):%Y%m%d}-{digest}"'


def _total(request: Request, conn: Connection, version: int, query: PremisesQuery) -> int:
    """The number of listings matching ``query`` at ``version``, counted once per version."""
    cache = total_cache(request.app.state)
    total = cache.get(version, query)
    if total is None:
        total = store.count_premises(conn, query)
        # Kept only when no write committed around the count (PostgreSQL reads committed
        # data at each statement; a SQLite connection reads one snapshot).
        if catalogue.catalogue_version(conn) == version:
            cache.put(version, query, total)
    return total


def _view(
    item: Premises, account: Account | None, now: dt.datetime, settings: Settings
) -> dict[str, Any]:
    """The full listing for its owner and the staff (with its ``freshness``), the public view
    for everyone else, as JSON values."""
    if not can_edit(account, item.owner_account):
        return _json(PremisesPublic.model_validate(item))
    body = _json(item)
    body["freshness"] = jsonable_encoder(freshness_of(item, now, settings.freshness))
    return body


def _json(item: Premises | PremisesPublic) -> dict[str, Any]:
    """The JSON-ready dict of one listing, serialised once by pydantic."""
    return item.model_dump(mode="json", by_alias=True)


def _etag(response: Response, item: Premises) -> None:
    response.headers["ETag"] = f'"{item.version}"'


_LISTING = Text("l'annonce", "the listing")


def _expected_version(
    if_match: str | None,
    *,
    read: str = "GET /premises/{id}",
    what: Text = _LISTING,
) -> int:
    """The version named by ``If-Match``: 428 when missing, 400 when not an ETag we issued.

    ``read`` is the route that gives the ETag and ``what`` the record, named in the messages.
    """
    if if_match is None or not if_match.strip():
        raise ProblemError(
            428,
            Text(
                f"If-Match : en-tête obligatoire pour toute modification ; lisez {what.fr} "
                f"({read}) et renvoyez son ETag dans l'en-tête If-Match "
                '(par exemple If-Match: "3").',
                f"If-Match: required on every change; read {what.en} ({read}) "
                'and send its ETag back in the If-Match header (e.g. If-Match: "3")',
            ),
        )
    tag = if_match.strip().removeprefix("W/").strip('"')
    if not tag.isdigit() or len(tag) > 9:
        raise ProblemError(
            400,
            Text(
                f"If-Match : {if_match[:40]!r} n'est pas un ETag de {what.fr} ; renvoyez "
                "l'ETag tel que vous l'avez lu.",
                f"If-Match: {if_match[:40]!r} is not an ETag of {what.en}; send the ETag as read",
            ),
        )
    return int(tag)


def _check_editor(account: Account, item: Premises) -> None:
    if not can_edit(account, item.owner_account):
        raise forbid(
            Text(
                f"premises {item.id} : le compte {account.name!r} ({account.role}) ne peut pas "
                "modifier cette annonce ; seuls son propriétaire et l'équipe (staff) le peuvent.",
                f"premises {item.id}: the account {account.name!r} ({account.role}) may not "
                "change this listing; only its owner and the staff may",
            )
        )


def _check_owner_field(account: Account, owner: str | None) -> None:
    """A developer may give its listings only to itself; only staff choose any owner."""
    if account.role == "developer" and owner not in (None, account.name):
        raise forbid(
            Text(
                "owner_account : un compte développeur possède les annonces qu'il écrit ; "
                f"omettez ce champ ou mettez-y {account.name!r}.",
                "owner_account: a developer account owns the listings it writes; leave it out "
                f"or set it to {account.name!r}",
            )
        )


def create_listing(
    repo: Repository,
    territory: Territory,
    account: Account,
    alerts: ListingAlerts,
    now: dt.datetime,
    data: dict[str, Any],
) -> Premises:
    """Create a listing from its fields as ``PremisesCreate`` reads them (``POST /premises``
    and the listing form of the pages): developers own what they create, staff choose the
    owner; its freshness date is ``now``; the saved searches it fits are notified.

    Raises
    ------
    pydantic.ValidationError
        When a field is invalid or the point lies outside the territory.
    """
    require_role(
        account,
        ("developer", "staff"),
        Text(
            "premises : seuls les comptes développeur et staff publient des annonces.",
            "premises: only developer and staff accounts list premises",
        ),
    )
    _check_owner_field(account, data.get("owner_account"))
    data = {**data, "last_verified_at": now}
    if account.role == "developer":
        data["owner_account"] = account.name
    item = PremisesCreate.model_validate(data, context={"territory": territory})
    with repo.begin() as conn:
        created = store.add_many_premises(conn, [item], actor=account.name)[0]
        alerts.written(conn, None, created)
    return created


def patch_listing(
    repo: Repository,
    territory: Territory,
    account: Account,
    alerts: ListingAlerts,
    now: dt.datetime,
    premises_id: int,
    changes: dict[str, Any],
    expected_version: int,
) -> Premises:
    """Change some fields of a listing at ``expected_version`` (``PATCH /premises/{id}`` and
    the listing form of the pages); the edit confirms it (freshness date ``now``).

    Raises
    ------
    pydantic.ValidationError
        When the merged listing is invalid.
    StaleVersionError
        When the listing is no longer at ``expected_version``.
    """
    changes = {**changes, "last_verified_at": now}
    with repo.begin() as conn:
        current = store.get_premises(conn, premises_id)
        _check_editor(account, current)
        if "owner_account" in changes:
            _check_owner_field(account, changes["owner_account"])
        item = store.patch_premises(
            conn,
            premises_id,
            changes,
            expected_version=expected_version,
            actor=account.name,
            context={"territory": territory},
        )
        alerts.written(conn, current, item)
    return item


IfMatch = Annotated[
    str | None, Header(description="The ETag of the version the change is based on")
]


# The two views share most fields, so a response model that is their union would validate a
# public item as a full one (with ``owner_account: null``): the read routes serialise each
# item once, in its own view, and declare their models for the OpenAPI document only.
@router.get(
    "", response_model=None, responses={200: {"model": PremisesPage}}, openapi_extra=OPTIONAL_AUTH
)
def list_premises(
    request: Request,
    repo: RepoDep,
    settings: SettingsDep,
    query: PremisesQueryDep,
    account: OptionalAccount,
    now: NowDep,
) -> Response:
    """List listings filtered by commune, kind, use, surface, rent and price ranges, status,
    bbox and free text, sorted and paged.

    Anonymous and company readers get the public search: neither withdrawn listings nor
    those unconfirmed for more than the hide threshold. A developer also gets all of its own
    listings, and the staff every listing, in the full view with their ``freshness``.
    """
    readable = public_query(query, account, now, settings.freshness)
    public = public_json_cache(request.app.state)
    # One connection for the version, the total and the page; the version is read first, so
    # that the ETag never names newer data than sent.
    with repo.connect() as conn:
        version = catalogue.catalogue_version(conn)
        etag = _list_etag(version, request.url.query, account, now)
        total = _total(request, conn, version, readable)
        # The page's keys first: a listing whose public JSON is cached at its version is
        # not read again; only the others' full rows are.
        keys = store.page_keys(conn, readable)
        cached = public.peek_encoded(
            (pid, ver) for pid, ver, owner in keys if not can_edit(account, owner)
        )
        missing = [pid for pid, ver, _ in keys if (pid, ver) not in cached]
        rows = store.rows_by_ids(conn, missing) if missing else {}
    # Each item as its encoded JSON: the public ones as cached, the full views encoded here.
    items: list[bytes] = []
    for pid, ver, _ in keys:
        if (found := cached.get((pid, ver))) is not None:
            items.append(found)
        elif (row := rows.get(pid)) is not None:  # else deleted between the two reads
            items.append(
                encode_json(_view(premises_from_row(row), account, now, settings))
                if can_edit(account, row["owner_account"])
                else public.get_encoded(row["id"], row["version"], partial(public_json, row))
            )
    limit = total if readable.limit is None else readable.limit
    rest = {
        "total": total,
        "limit": limit,
        "offset": readable.offset,
        "links": _page_links(request, settings.http.base_url, total, limit, readable.offset),
    }
    return EncodedJSONResponse(encode_with_list("items", items, rest), headers={"ETag": etag})


@router.get(
    "/{premises_id}",
    response_model=None,
    responses={
        200: {
            "model": PremisesPublic,
            "description": "The public view; its owner and the staff get the full Premises.",
        }
    },
    openapi_extra=OPTIONAL_AUTH,
)
def get_premises(
    premises_id: PremisesIdPath,
    repo: RepoDep,
    settings: SettingsDep,
    account: OptionalAccount,
    now: NowDep,
    need_id: Annotated[
        int | None,
        Query(ge=1, le=MAX_INT32, description="The reader's need it was proposed for."),
    ] = None,
) -> JSONResponse:
    """One listing; its ETag carries the version to send back in ``If-Match`` on update.

    A company reading it for one of its needs (``need_id``) records it as opened.
    """
    item = repo.get_premises(premises_id)
    body = _view(item, account, now, settings)
    if need_id is not None and account is not None:
        record_opened(repo, account, premises_id, need_id)
    return JSONResponse(body, headers={"ETag": f'"{item.version}"'})


@router.post("", status_code=201, response_model=Premises, responses=_AUTH)
def create_premises(
    body: PremisesCreate,
    repo: RepoDep,
    territory: TerritoryDep,
    account: CurrentAccount,
    response: Response,
    alerts: ListingAlertsDep,
    now: NowDep,
) -> Any:
    """Create a listing (developers, owned by themselves; staff, owned by anyone).

    Its freshness date (``last_verified_at``) is now, whatever the body says.
    """
    created = create_listing(repo, territory, account, alerts, now, body.model_dump())
    _etag(response, created)
    response.headers["Location"] = f"/premises/{created.id}"
    return jsonable_encoder(created)


@router.patch("/{premises_id}", response_model=Premises, responses=_WRITE)
def patch_premises(
    premises_id: PremisesIdPath,
    body: PremisesUpdate,
    repo: RepoDep,
    territory: TerritoryDep,
    account: CurrentAccount,
    response: Response,
    alerts: ListingAlertsDep,
    now: NowDep,
    if_match: IfMatch = None,
) -> Any:
    """Change some fields of a listing, at the version of its ETag (412 when stale).

    An edit confirms the listing: its freshness date (``last_verified_at``) becomes now.
    """
    expected = _expected_version(if_match)
    item = patch_listing(
        repo, territory, account, alerts, now, premises_id, body.changes(), expected
    )
    _etag(response, item)
    return jsonable_encoder(item)


@router.post("/{premises_id}/status", response_model=Premises, responses=_WRITE)
def change_status(
    premises_id: PremisesIdPath,
    body: StatusChange,
    repo: RepoDep,
    account: CurrentAccount,
    response: Response,
    alerts: ListingAlertsDep,
    now: NowDep,
    if_match: IfMatch = None,
) -> Any:
    """Mark a listing available, under offer, let, sold or withdrawn (audited: who, when).

    It also confirms the listing (freshness date now).
    """
    expected = _expected_version(if_match)
    item = set_listing_status(repo, account, alerts, now, premises_id, body.status, expected)
    _etag(response, item)
    return jsonable_encoder(item)


@router.delete("/{premises_id}", response_model=Premises, responses=_WRITE)
def withdraw_premises(
    premises_id: PremisesIdPath,
    repo: RepoDep,
    account: CurrentAccount,
    response: Response,
    alerts: ListingAlertsDep,
    now: NowDep,
    if_match: IfMatch = None,
) -> Any:
    """Withdraw a listing: its status becomes ``withdrawn``; the listing and its history stay."""
    expected = _expected_version(if_match)
    item = set_listing_status(repo, account, alerts, now, premises_id, Status.withdrawn, expected)
    _etag(response, item)
    return jsonable_encoder(item)


def set_listing_status(
    repo: Repository,
    account: Account,
    alerts: ListingAlerts,
    now: dt.datetime,
    premises_id: int,
    status: Status,
    expected_version: int,
) -> Premises:
    """Check the editor and the version, set the status and audit it (and notify the saved
    searches the listing newly fits), in one transaction (the status routes and the pages).
    """
    with repo.begin() as conn:
        current = store.get_premises(conn, premises_id)
        _check_editor(account, current)
        item = store.set_status(
            conn,
            premises_id,
            status,
            expected_version=expected_version,
            actor=account.name,
            verified_at=now,
        )
        alerts.written(conn, current, item)
    return item


@router.get(
    "/{premises_id}/history",
    response_model=list[AuditEntry],
    responses={**_AUTH, 403: _WRITE[403], 404: _WRITE[404]},
)
def premises_history(premises_id: PremisesIdPath, repo: RepoDep, account: CurrentAccount) -> Any:
    """The audit trail of a listing, oldest first: who changed what, when (owner and staff)."""
    with repo.connect() as conn:
        item = store.get_premises(conn, premises_id)
        if not can_edit(account, item.owner_account):
            raise forbid(
                Text(
                    f"premises {premises_id} : seuls son propriétaire et l'équipe (staff) "
                    "lisent son historique.",
                    f"premises {premises_id}: only its owner and the staff read its history",
                )
            )
        return jsonable_encoder(audit.audit_trail(conn, ENTITY_PREMISES, premises_id))
