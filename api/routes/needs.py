"""Companies' needs (saved searches): write them, read them, match them; NAF suggestions.

A company account creates needs it owns and sees only those; the staff see and edit every
need and may give one to a company account. Developers and anonymous callers get nothing:
which company looks for what is personal. Another company asking for a need it does not own
is told it does not exist (404), so that ids reveal nothing. Every edit is a compare-and-set
on the version the client read (``ETag`` → ``If-Match``), audited in the same transaction;
``DELETE`` deactivates the need and keeps it and its history.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, HTTPException, Path, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection

from geodata.naf import NAF_DIVISION_LABELS, default_uses_for_naf, naf_label, normalise_naf
from geodata.schemas import Need, NeedIn, Use
from geodata.storage import accounts, audit
from geodata.storage import needs as store
from geodata.storage._tables import ENTITY_NEED
from geodata.storage.accounts import Account
from geodata.storage.audit import AuditEntry
from geodata.storage.errors import NotFoundError

from ..auth import CurrentAccount, forbid
from ..deps import MAX_INT32, NowDep, RepoDep, SettingsDep, TerritoryDep
from ..errors import Text
from ..freshness import hide_before
from ..json_response import EncodedJSONResponse
from ..outcomes import record_answer
from .match import MAX_RESULTS, MatchResponse, match_body, request_language
from .premises import _expected_version, _page_links

__all__ = ["NafInfo", "NeedView", "NeedsPage", "readable_need", "router", "suggested_uses", "view"]

router = APIRouter(tags=["needs"])

#: A need id in a path: a positive 32-bit integer (422 otherwise, naming the field).
NeedIdPath = Annotated[int, Path(ge=1, le=MAX_INT32, description="The need's id")]

IfMatch = Annotated[
    str | None, Header(description="The ETag of the version the change is based on")
]
LangQuery = Annotated[
    Literal["fr", "en"] | None, Query(description="Language of the text (else Accept-Language).")
]

_AUTH: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or bad API key (WWW-Authenticate: Bearer)"},
    403: {"description": "Only company and staff accounts have needs"},
}
_READ: dict[int | str, dict[str, Any]] = {
    **_AUTH,
    404: {"description": "No such need among those the account may see"},
}
_WRITE: dict[int | str, dict[str, Any]] = {
    **_READ,
    412: {"description": "Stale version: the need changed since the ETag was read"},
    428: {"description": "If-Match missing: send the ETag read from GET /needs/{id}"},
}

NEED_EXAMPLE = {
    "company_name": "Atelier Martin",
    "naf_code": "25.62B",
    "surface_min_m2": 300,
    "surface_max_m2": 800,
    "communes": ["Vitry-sur-Seine", "94041"],
    "max_rent_eur_m2_year": 130,
    "contact_email": "contact@atelier-martin.example",
}


class NeedView(Need):
    """A stored need, with what its NAF code suggests.

    ``uses`` are the uses stored: the NAF suggestion when the need was written without uses.
    """

    naf_label: str | None = Field(default=None, description="The NAF division's label.")
    suggested_uses: list[Use] = Field(
        default_factory=list, description="The uses the NAF code suggests."
    )


class NeedsPage(BaseModel):
    """One page of needs, with the total and the links to the neighbouring pages."""

    items: list[NeedView]
    total: int
    limit: int
    offset: int
    links: list[dict[str, str]]


class NafInfo(BaseModel):
    """A NAF/APE code, normalised, with its division's label and the uses it suggests."""

    code: str = Field(description="The code in its dotted form (25.62B).")
    division: str = Field(description="Its first two digits.")
    label: str | None = Field(description="The division's label, in the request's language.")
    suggested_uses: list[Use]


def suggested_uses(code: str) -> list[str]:
    """The uses a NAF code suggests, in the order of :class:`Use` (as a need stores them)."""
    suggested = set(default_uses_for_naf(code))
    return [use.value for use in Use if use.value in suggested]


def view(need: Need, lang: str = "fr") -> NeedView:
    """A need as its owner and the staff read it."""
    data = need.model_dump()
    if need.naf_code:
        data["naf_label"] = naf_label(need.naf_code, lang)
        data["suggested_uses"] = suggested_uses(need.naf_code)
    return NeedView.model_validate(data)


def _may_have_needs(account: Account) -> None:
    """Only companies and staff read or write needs (403 before any lookup: nothing leaks)."""
    if account.role not in ("company", "staff"):
        msg = (
            f"needs: the account {account.name!r} ({account.role}) has no needs; only company "
            "and staff accounts read and write them"
        )
        raise forbid(msg)


def readable_need(conn: Connection, account: Account, need_id: int) -> Need:
    """The need if the account may read it: its owner company or the staff; else 403/404.

    Another company is told that the need does not exist, exactly as for a missing id.
    """
    _may_have_needs(account)
    need = store.get_need(conn, need_id)
    if account.role == "company" and need.owner_account != account.name:
        raise NotFoundError(ENTITY_NEED, need_id)
    return need


def _check_owner(conn: Connection, account: Account, owner: Any) -> str | None:
    """The owner a write may set: a company owns what it writes; staff name a company."""
    if account.role == "company":
        if owner not in (None, account.name):
            msg = (
                f"owner_account: a company account owns the needs it writes; leave it out or "
                f"set it to {account.name!r}"
            )
            raise forbid(msg)
        return account.name
    if owner is None:
        return None
    if not isinstance(owner, str):
        msg = "owner_account: the handle of a company account (text), or null"
        raise HTTPException(status_code=422, detail=msg)
    try:
        found = accounts.find_account(conn, owner)
    except accounts.AccountError:
        found = None
    if found is None or found.role != "company" or found.name != owner:
        msg = f"owner_account: {owner!r} is not the name of a company account; check the name"
        raise HTTPException(status_code=422, detail=msg)
    return owner


def _etag(response: Response, need: Need) -> None:
    response.headers["ETag"] = f'"{need.version}"'


@router.post("/needs", status_code=201, response_model=NeedView, responses=_AUTH)
def create_need(
    repo: RepoDep,
    territory: TerritoryDep,
    account: CurrentAccount,
    response: Response,
    body: Annotated[
        dict[str, Any],
        Body(
            description=(
                "A need: the fields of NeedIn. Communes may be INSEE codes or names; without "
                "`uses`, the NAF code (`naf_code`) suggests them."
            ),
            examples=[NEED_EXAMPLE],
        ),
    ],
) -> Any:
    """Save a need (a company: owned by itself; staff: owned by a company account or nobody)."""
    _may_have_needs(account)
    with repo.begin() as conn:
        data = {**body, "owner_account": _check_owner(conn, account, body.get("owner_account"))}
        item = NeedIn.model_validate(data, context={"territory": territory})
        created = store.add_many_needs(conn, [item], actor=account.name)[0]
    _etag(response, created)
    response.headers["Location"] = f"/needs/{created.id}"
    return jsonable_encoder(view(created))


@router.get("/needs", response_model=NeedsPage, responses=_AUTH)
def list_needs(
    request: Request,
    repo: RepoDep,
    settings: SettingsDep,
    account: CurrentAccount,
    active: Annotated[bool | None, Query(description="Only active (or inactive) needs.")] = None,
    owner: Annotated[
        str | None, Query(max_length=120, description="Staff: only this company's needs.")
    ] = None,
    limit: Annotated[int | None, Query(ge=1, le=MAX_INT32)] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_INT32)] = 0,
) -> Any:
    """A company's own needs; every need for the staff (filters: ``active``, ``owner``)."""
    _may_have_needs(account)
    if account.role == "company":
        if owner not in (None, account.name):
            msg = f"owner: a company reads its own needs only; leave it out or use {account.name!r}"
            raise forbid(msg)
        owner = account.name
    page_size = settings.api.default_page_size if limit is None else limit
    if page_size > settings.api.max_page_size:
        msg = f"limit: at most {settings.api.max_page_size} items per page"
        raise HTTPException(status_code=400, detail=msg)
    with repo.connect() as conn:
        page = store.list_needs(
            conn, active=active, owner_account=owner, limit=page_size, offset=offset
        )
    return NeedsPage(
        items=[view(n) for n in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
        links=_page_links(request, settings.http.base_url, page.total, page.limit, page.offset),
    )


@router.get("/needs/{need_id}", response_model=NeedView, responses=_READ)
def get_need(
    need_id: NeedIdPath,
    repo: RepoDep,
    account: CurrentAccount,
    response: Response,
    lang: LangQuery = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> Any:
    """One need (its owner and the staff); its ETag is the version to send in ``If-Match``."""
    with repo.connect() as conn:
        need = readable_need(conn, account, need_id)
    _etag(response, need)
    return jsonable_encoder(view(need, request_language(lang, accept_language)))


def _write(
    repo: RepoDep,
    territory: TerritoryDep,
    account: Account,
    need_id: int,
    changes: dict[str, Any],
    if_match: str | None,
) -> Need:
    """Merge changes into a need at the version of ``If-Match``, checked whole, audited."""
    expected = _expected_version(
        if_match, read="GET /needs/{id}", what=Text("le besoin", "the need")
    )
    with repo.begin() as conn:
        current = readable_need(conn, account, need_id)
        if "owner_account" in changes:
            changes["owner_account"] = _check_owner(conn, account, changes["owner_account"])
        merged = {**current.model_dump(mode="json", include=set(NeedIn.model_fields)), **changes}
        item = NeedIn.model_validate(merged, context={"territory": territory})
        return store.update_need(conn, need_id, item, expected_version=expected, actor=account.name)


@router.patch("/needs/{need_id}", response_model=NeedView, responses=_WRITE)
def patch_need(
    need_id: NeedIdPath,
    repo: RepoDep,
    territory: TerritoryDep,
    account: CurrentAccount,
    response: Response,
    changes: Annotated[
        dict[str, Any],
        Body(
            description="Some fields of NeedIn to change; the merged need is checked whole.",
            examples=[{"surface_max_m2": 1000, "alert_threshold": 80}],
        ),
    ],
    if_match: IfMatch = None,
) -> Any:
    """Change some fields of a need, at the version of its ETag (412 when stale)."""
    need = _write(repo, territory, account, need_id, dict(changes), if_match)
    _etag(response, need)
    return jsonable_encoder(view(need))


@router.delete("/needs/{need_id}", response_model=NeedView, responses=_WRITE)
def deactivate_need(
    need_id: NeedIdPath,
    repo: RepoDep,
    territory: TerritoryDep,
    account: CurrentAccount,
    response: Response,
    if_match: IfMatch = None,
) -> Any:
    """Deactivate a need: it leaves matching and alerts; the need and its history stay."""
    need = _write(repo, territory, account, need_id, {"active": False}, if_match)
    _etag(response, need)
    return jsonable_encoder(view(need))


@router.get("/needs/{need_id}/history", response_model=list[AuditEntry], responses=_READ)
def need_history(need_id: NeedIdPath, repo: RepoDep, account: CurrentAccount) -> Any:
    """The audit trail of a need, oldest first: who changed what, when (owner and staff)."""
    with repo.connect() as conn:
        readable_need(conn, account, need_id)
        return jsonable_encoder(audit.audit_trail(conn, ENTITY_NEED, need_id))


@router.get(
    "/needs/{need_id}/matches",
    # Serialised once, as POST /match is (see match_body); the model documents the answer.
    response_model=None,
    responses={**_READ, 200: {"model": MatchResponse, "description": "Successful Response"}},
)
def need_matches(
    request: Request,
    need_id: NeedIdPath,
    repo: RepoDep,
    account: CurrentAccount,
    settings: SettingsDep,
    now: NowDep,
    k: Annotated[int, Query(ge=1, le=MAX_RESULTS, description="How many results.")] = 10,
    lang: LangQuery = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> EncodedJSONResponse:
    """The ranked listings for a saved need, as ``POST /match`` answers (owner and staff)."""
    with repo.connect() as conn:
        need = readable_need(conn, account, need_id)
    answer = match_body(
        request.app.state,
        repo,
        need,
        k=k,
        lang=request_language(lang, accept_language),
        verified_since=hide_before(now, settings.freshness),
        now=now,
    )
    record_answer(repo, account, need_id, answer.body)
    return EncodedJSONResponse(answer.encode())


@router.get(
    "/naf/{code}",
    response_model=NafInfo,
    tags=["needs"],
    responses={404: {"description": "Not a division of NAF rév. 2"}},
)
def naf_code(
    code: Annotated[str, Path(max_length=20, description="A NAF/APE code: 25.62B or 2562B")],
    lang: LangQuery = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> Any:
    """A NAF/APE code's normalised form, its division's label, and the uses it suggests."""
    try:
        normal = normalise_naf(code)
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=f"code: {exc}") from exc
    division = normal[:2]
    if int(division) not in NAF_DIVISION_LABELS:
        msg = (
            f"code: {division} is not a division of NAF rév. 2 (the first two digits of {normal}); "
            "check the code on the company's SIRENE notice"
        )
        raise HTTPException(status_code=404, detail=msg)
    return NafInfo(
        code=normal,
        division=division,
        label=naf_label(normal, request_language(lang, accept_language)),
        suggested_uses=suggested_uses(normal),
    )
