"""Contact requests: a company writes to a listing's owner, revealing the contact it chooses.

A company's details are personal: a developer never sees them, except those a company copies
into a contact request for one listing. The request is recorded as sent (who, when, to whom,
with what contact) and never edited afterwards, so what a company revealed, and to whom, is
always known.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.engine import Connection

from geodata.storage import _common as co
from geodata.storage import _convert as cv
from geodata.storage._tables import contact_requests

__all__ = ["ContactRequest", "add_contact_request", "list_contact_requests"]


class ContactRequest(BaseModel):
    """A recorded contact request: who sent it to whom, when, about which listing and need."""

    id: int
    premises_id: int
    need_id: int | None
    sender_account: str
    recipient_account: str | None
    message: str
    contact_name: str | None
    contact_email: str | None
    contact_phone: str | None
    created_at: datetime


_COLUMNS = [contact_requests.c[name] for name in ContactRequest.model_fields]


def add_contact_request(
    conn: Connection,
    *,
    premises_id: int,
    sender_account: str,
    recipient_account: str | None,
    message: str,
    need_id: int | None = None,
    contact_name: str | None = None,
    contact_email: str | None = None,
    contact_phone: str | None = None,
    at: datetime | None = None,
) -> ContactRequest:
    """Record a contact request and return it.

    The caller has checked who may send it (a company, about a listing that is not
    withdrawn, with one of its own needs): this function stores what it is given.

    Parameters
    ----------
    conn : sqlalchemy.Connection
        A connection inside a write transaction.
    premises_id : int
        The listing written about.
    sender_account : str
        The company account sending it.
    recipient_account : str or None
        The listing's owner account when the request is sent (None: the staff handle it).
    message : str
        The company's message.
    need_id : int, optional
        The sender's need the listing was found for.
    contact_name, contact_email, contact_phone : str, optional
        The contact the company chooses to reveal to this listing's owner.
    at : datetime, optional
        When it is sent (default: now).
    """
    row = {
        "premises_id": premises_id,
        "need_id": need_id,
        "sender_account": sender_account,
        "recipient_account": recipient_account,
        "message": message,
        "contact_name": contact_name,
        "contact_email": contact_email,
        "contact_phone": contact_phone,
        "created_at": at or co.now(),
    }
    cv.check_storable(row)
    [new_id] = co.hooks_of(conn).insert_many(conn, contact_requests, [row])
    return ContactRequest.model_validate({**row, "id": new_id})


def list_contact_requests(
    conn: Connection,
    *,
    sender_account: str | None = None,
    recipient_account: str | None = None,
    premises_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> co.Page[ContactRequest]:
    """Return one page of contact requests, newest first, filtered by whichever is given.

    Parameters
    ----------
    conn : sqlalchemy.Connection
        An open connection.
    sender_account : str, optional
        Only the requests this company sent.
    recipient_account : str, optional
        Only the requests sent to this listing owner.
    premises_id : int, optional
        Only the requests about this listing.
    limit, offset : int
        The page.
    """
    co.check_page(limit, offset)
    where = []
    if sender_account is not None:
        where.append(contact_requests.c.sender_account == sender_account)
    if recipient_account is not None:
        where.append(contact_requests.c.recipient_account == recipient_account)
    if premises_id is not None:
        where.append(contact_requests.c.premises_id == premises_id)
    count = sa.select(sa.func.count()).select_from(contact_requests).where(*where)
    total = conn.execute(count).scalar_one()
    stmt = (
        sa.select(*_COLUMNS)
        .where(*where)
        .order_by(contact_requests.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    items = [ContactRequest.model_validate(row) for row in conn.execute(stmt).mappings()]
    return co.Page[ContactRequest].model_construct(
        items=items, total=total, limit=limit, offset=offset
    )
