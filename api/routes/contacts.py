"""Contact requests: a company writes to a listing's owner; each side reads its own.

A company's contact details reach a developer only here, and only those the company puts in
the request, for that one listing: sending one is the company choosing to reveal them. The
request is recorded with who sent it, when, and to which owner, and never edited.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field, field_validator

from geodata.schemas import Status
from geodata.storage import contacts
from geodata.storage import needs as needs_store
from geodata.storage import premises as premises_store
from geodata.storage.contacts import ContactRequest
from geodata.storage.errors import NotFoundError

from ..auth import CurrentAccount, forbid
from ..deps import MAX_INT32, PremisesIdPath, RepoDep, SettingsDep
from ..outcomes import record_contacted
from .premises import _page_links

__all__ = ["ContactRequestIn", "ContactRequestsPage", "router"]

router = APIRouter(tags=["contacts"])

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class ContactRequestIn(BaseModel):
    """What a company sends to a listing's owner: a message and the contact it reveals.

    At least an e-mail or a phone number, so that the owner can answer.
    """

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "message": "Bonjour, ce local m’intéresse : une visite est-elle possible "
                    "en mars ?",
                    "contact_email": "contact@atelier-martin.example.org",
                }
            ]
        },
    )

    need_id: Annotated[int, Field(ge=1, le=MAX_INT32)] | None = Field(
        default=None, description="One of the company's needs the listing was found for."
    )
    message: str = Field(min_length=1, max_length=2000)
    contact_name: str | None = Field(default=None, max_length=120)
    contact_email: str | None = Field(default=None, max_length=200)
    contact_phone: str | None = Field(default=None, max_length=40)

    @field_validator("message", "contact_name", "contact_email", "contact_phone")
    @classmethod
    def _text(cls, v: str | None) -> str | None:
        if v is not None and _CONTROL_RE.search(v):
            msg = "contains a control character"
            raise ValueError(msg)
        return v or None

    @field_validator("contact_email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if v and not _EMAIL_RE.match(v):
            msg = f"'{v}' is not an e-mail address"
            raise ValueError(msg)
        return v


class ContactRequestsPage(BaseModel):
    """One page of contact requests, newest first."""

    items: list[ContactRequest]
    total: int
    limit: int
    offset: int
    links: list[dict[str, str]]


@router.post(
    "/premises/{premises_id}/contact-requests",
    status_code=201,
    response_model=ContactRequest,
    responses={
        401: {"description": "No or bad API key (WWW-Authenticate: Bearer)"},
        403: {"description": "Only company accounts send contact requests"},
        404: {"description": "No such listing"},
        409: {"description": "The listing is withdrawn"},
    },
)
def send_contact_request(
    premises_id: PremisesIdPath,
    body: ContactRequestIn,
    repo: RepoDep,
    account: CurrentAccount,
    response: Response,
) -> Any:
    """Write to a listing's owner, revealing to it the contact given here (companies)."""
    if account.role != "company":
        raise forbid("contact request: only company accounts write to listing owners")
    if not body.contact_email and not body.contact_phone:
        msg = (
            "contact_email: give an e-mail or a phone number (contact_phone), so that the "
            "owner can answer; they are shown to this listing's owner only"
        )
        raise HTTPException(status_code=422, detail=msg)
    with repo.begin() as conn:
        listing = premises_store.get_premises(conn, premises_id)
        if listing.status == Status.withdrawn:
            msg = (
                f"premises {premises_id}: this listing is withdrawn, its owner no longer "
                "takes requests for it; search the catalogue for another one"
            )
            raise HTTPException(status_code=409, detail=msg)
        if body.need_id is not None:
            try:
                need = needs_store.get_need(conn, body.need_id)
            except NotFoundError:
                need = None
            if need is None or need.owner_account != account.name:
                msg = (
                    f"need_id: {body.need_id} is not one of your needs; leave it out or use "
                    "an id from GET /needs"
                )
                raise HTTPException(status_code=422, detail=msg)
        sent = contacts.add_contact_request(
            conn,
            premises_id=premises_id,
            need_id=body.need_id,
            sender_account=account.name,
            recipient_account=listing.owner_account,
            message=body.message,
            contact_name=body.contact_name,
            contact_email=body.contact_email,
            contact_phone=body.contact_phone,
        )
        if body.need_id is not None:
            record_contacted(conn, account, premises_id, body.need_id)
    response.headers["Location"] = "/me/requests"
    return jsonable_encoder(sent)


@router.get(
    "/me/requests",
    response_model=ContactRequestsPage,
    responses={401: {"description": "No or bad API key (WWW-Authenticate: Bearer)"}},
)
def my_requests(
    request: Request,
    repo: RepoDep,
    settings: SettingsDep,
    account: CurrentAccount,
    limit: Annotated[int | None, Query(ge=1, le=MAX_INT32)] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_INT32)] = 0,
) -> Any:
    """Requests received for one's listings (developer), sent (company), or all (staff)."""
    page_size = settings.api.default_page_size if limit is None else limit
    if page_size > settings.api.max_page_size:
        msg = f"limit: at most {settings.api.max_page_size} items per page"
        raise HTTPException(status_code=400, detail=msg)
    with repo.connect() as conn:
        page = contacts.list_contact_requests(
            conn,
            sender_account=account.name if account.role == "company" else None,
            recipient_account=account.name if account.role == "developer" else None,
            limit=page_size,
            offset=offset,
        )
    items = page.items
    if account.role == "developer":
        # Which of the company's needs it was is the company's business, not the owner's.
        items = [item.model_copy(update={"need_id": None}) for item in items]
    return ContactRequestsPage(
        items=items,
        total=page.total,
        limit=page.limit,
        offset=page.offset,
        links=_page_links(request, settings.http.base_url, page.total, page.limit, page.offset),
    )
