"""The audit trail: who changed which listing or need, when, from what to what."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.engine import Connection

from geodata.storage._tables import ENTITY_NEED, ENTITY_PREMISES, audit_log

__all__ = ["AuditEntry", "audit_trail", "status_changes"]


class AuditEntry(BaseModel):
    """One change to a listing or need: who, what, when, and the values before and after.

    ``changes`` is ``{field: [old, new]}`` for an update, a status change or a confirmation
    (``last_verified_at``), and the full record for a create (as created) or a delete (as it
    was). ``catalogue_version`` is the catalogue version the change produced (listings) or was
    made at (needs).
    """

    id: int
    entity: Literal["premises", "need"]
    entity_id: int
    action: Literal["create", "update", "status", "confirm", "delete"]
    version: int
    actor: str
    at: datetime
    changes: dict[str, Any]
    catalogue_version: int


def audit_trail(conn: Connection, entity: str, entity_id: int) -> list[AuditEntry]:
    """Return the changes of one listing or need, oldest first.

    Parameters
    ----------
    conn : sqlalchemy.Connection
        An open connection.
    entity : {"premises", "need"}
        The kind of record.
    entity_id : int
        Its id (the trail survives its deletion).
    """
    if entity not in (ENTITY_PREMISES, ENTITY_NEED):
        msg = f"entity: unknown value {entity!r}; use 'premises' or 'need'"
        raise ValueError(msg)
    stmt = (
        sa.select(audit_log)
        .where(audit_log.c.entity == entity, audit_log.c.entity_id == entity_id)
        .order_by(audit_log.c.id)
    )
    return [
        AuditEntry.model_validate({**row, "changes": json.loads(row["changes"])})
        for row in conn.execute(stmt).mappings()
    ]


def status_changes(conn: Connection) -> list[tuple[int, str, datetime]]:
    """Every status a listing took, from the audit trail: ``(listing_id, status, at)``,
    oldest first.

    A creation gives the listing's first status; a status change (or an update that changed
    the status) the new one. The outcome data of the time to let
    (:func:`matcher.analytics.time_to_let`).
    """
    stmt = (
        sa.select(audit_log.c.entity_id, audit_log.c.action, audit_log.c.at, audit_log.c.changes)
        .where(
            audit_log.c.entity == ENTITY_PREMISES,
            audit_log.c.action.in_(("create", "status", "update")),
            audit_log.c.changes.like('%"status"%'),
        )
        .order_by(audit_log.c.id)
    )
    out: list[tuple[int, str, datetime]] = []
    for entity_id, action, at, raw in conn.execute(stmt):
        value = json.loads(raw).get("status")
        if action != "create":
            value = value[1] if isinstance(value, list) and len(value) == 2 else None
        if isinstance(value, str):
            out.append((int(entity_id), value, at))
    return out
