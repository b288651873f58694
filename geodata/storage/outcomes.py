"""Outcomes: what happened to each listing proposed for a need, versioned and audited.

One row per (need, listing). An event (:data:`EVENTS`) records when that step first happened
and moves the row's ``stage`` forward along the funnel shown → opened → contacted → visited
→ rejected or signed (:data:`STAGES`; an earlier step arriving late, such as a listing
shown again after a contact, keeps the stage where it is). A rejection carries one reason
of :data:`REJECTION_REASONS`. Every write is a compare-and-set on the row's version with its
audit row (entity ``"outcome"``) in the caller's transaction, as for listings and needs.

The automatic events (``shown`` by a match, ``opened`` by a listing read, ``contacted`` by a
contact request) write only what is new: a listing shown twice is recorded once.

A pair shown by a match keeps what the ranking saw: its rank, score, model and the engine's
per-criterion utilities of the listing *as it was shown* (``shown_utilities``). Calibration
learns from those (:func:`recorded_utilities`), not from the listing as it is today: a rent
raised or a surface corrected since must not be learnt as what the company turned down. The
utilities are recorded rather than rebuilt from the listing's audit trail because they also
depend on the need as it was, on the territory's layers (stations, exits) and on the
listing's freshness at that moment, which the audit trail of the listing alone does not give.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, field_validator
from sqlalchemy.engine import Connection

from geodata.storage import _common as co
from geodata.storage import _convert as cv
from geodata.storage._tables import ENTITY_OUTCOME, audit_log, outcomes
from geodata.storage.errors import NotFoundError, StaleVersionError

__all__ = [
    "EVENTS",
    "POSITIVE_STAGES",
    "REJECTION_REASONS",
    "STAGES",
    "Outcome",
    "OutcomeChange",
    "get_outcome",
    "list_outcomes",
    "not_yet_shown",
    "outcome_history",
    "record_batch",
    "record_event",
    "record_shown",
    "recorded_utilities",
    "training_outcomes",
    "utilities_json",
]

Event = Literal["shown", "opened", "contacted", "visited", "rejected", "signed"]

#: The events, in funnel order.
EVENTS: tuple[str, ...] = ("shown", "opened", "contacted", "visited", "rejected", "signed")
#: How far along the funnel each stage is: an event moves the stage only forward (or level).
STAGES: dict[str, int] = {
    "shown": 0,
    "opened": 1,
    "contacted": 2,
    "visited": 3,
    "rejected": 4,
    "signed": 4,
}
#: The stages that count as a positive outcome for learning: "contacted or better".
POSITIVE_STAGES: tuple[str, ...] = ("contacted", "visited", "signed")
#: Why a company turned a listing down.
REJECTION_REASONS: tuple[str, ...] = (
    "too_dear",
    "too_far",
    "too_small",
    "too_big",
    "wrong_use",
    "bad_access",
    "not_available_in_time",
    "other",
)


class Outcome(BaseModel):
    """What happened to one listing proposed for one need."""

    id: int
    need_id: int
    premises_id: int
    stage: Event
    reason: str | None = None
    note: str | None = None
    shown_at: datetime | None = None
    opened_at: datetime | None = None
    contacted_at: datetime | None = None
    visited_at: datetime | None = None
    rejected_at: datetime | None = None
    signed_at: datetime | None = None
    shown_rank: int | None = None
    shown_score: float | None = None
    shown_model: int | None = None
    shown_utilities: dict[str, float] | None = None
    created_at: datetime
    updated_at: datetime
    version: int

    @field_validator("shown_utilities", mode="before")
    @classmethod
    def _from_json(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value


def utilities_json(utilities: Mapping[str, float] | None) -> str | None:
    """The stored form of a listing's utilities as shown (JSON; NaN and None left out).

    Examples
    --------
    >>> utilities_json({"surface": 0.5, "use": float("nan"), "budget": 1})
    '{"surface": 0.5, "budget": 1.0}'
    >>> utilities_json(None) is None
    True
    """
    if utilities is None:
        return None
    kept = {}
    for name, value in utilities.items():
        if value is None or math.isnan(float(value)):
            continue
        if not 0.0 <= float(value) <= 1.0:
            msg = f"utilities: {name} = {value} is not between 0 and 1"
            raise ValueError(msg)
        kept[str(name)] = float(value)
    return json.dumps(kept)


class OutcomeChange(BaseModel):
    """One audited change of an outcome: the event, who, when, and the fields it changed."""

    outcome_id: int
    premises_id: int
    action: str
    version: int
    actor: str
    at: datetime
    changes: dict[str, Any]


#: The columns a ``shown`` event sets besides its instant.
_SHOWN_COLUMNS = frozenset({"shown_rank", "shown_score", "shown_model", "shown_utilities"})


def _check(event: str, reason: str | None) -> None:
    if event not in STAGES:
        msg = f"event: unknown value {event!r}; use one of {', '.join(EVENTS)}"
        raise ValueError(msg)
    if event == "rejected":
        if reason not in REJECTION_REASONS:
            msg = f"reason: {reason!r} is not a reason; use one of {', '.join(REJECTION_REASONS)}"
            raise ValueError(msg)
    elif reason is not None:
        msg = f"reason: only a rejection has a reason (event {event!r})"
        raise ValueError(msg)


def _fetch(conn: Connection, need_id: int, premises_id: int) -> Mapping[Any, Any] | None:
    stmt = sa.select(outcomes).where(
        outcomes.c.need_id == need_id, outcomes.c.premises_id == premises_id
    )
    return conn.execute(stmt).mappings().first()


def _audit(
    conn: Connection,
    outcome_id: int,
    action: str,
    version: int,
    actor: str,
    at: datetime,
    changes: Mapping[Any, Any],
) -> None:
    co.write_audit(
        conn,
        [
            co.audit_row(
                ENTITY_OUTCOME,
                outcome_id,
                action,
                version,
                actor,
                at,
                changes,
                catalogue_version=co.read_catalogue_version(conn),
            )
        ],
    )


def _event_values(
    old: Mapping[Any, Any] | None,
    event: str,
    reason: str | None,
    note: str | None,
    at: datetime,
) -> dict[str, Any]:
    """The columns an event sets on a row (``old``: the row before, None when new)."""
    values: dict[str, Any] = {}
    stage = None if old is None else old["stage"]
    if stage is None or STAGES[event] >= STAGES[stage]:
        values["stage"] = event
        values["reason"] = reason
    if old is None or old[f"{event}_at"] is None:
        values[f"{event}_at"] = at
    if note is not None:
        values["note"] = note
    return values


def record_event(
    conn: Connection,
    need_id: int,
    premises_id: int,
    event: str,
    *,
    actor: str,
    reason: str | None = None,
    note: str | None = None,
    expected_version: int | None = None,
    only_new: bool = False,
    at: datetime | None = None,
    shown_values: Mapping[str, Any] | None = None,
) -> Outcome | None:
    """Record an event of a (need, listing) pair: insert its row or compare-and-set it.

    Parameters
    ----------
    conn : sqlalchemy.Connection
        A connection inside a write transaction (the row and its audit row commit together).
    need_id, premises_id : int
        The pair. The caller has checked that both exist and who may write.
    event : str
        One of :data:`EVENTS`.
    actor : str
        Who records it.
    reason : str, optional
        For ``"rejected"`` only (then required): one of :data:`REJECTION_REASONS`.
    note : str, optional
        A free note kept on the row.
    expected_version : int, optional
        The version the caller read (None: the current one). A stale version writes nothing.
    only_new : bool
        Write only when this event never happened to the pair (the automatic events);
        returns None when there was nothing to write.
    at : datetime, optional
        When it happened (default: now).
    shown_values : mapping, optional
        With ``"shown"``: the ``shown_*`` columns (rank, score, model, utilities) written in
        the same version (:func:`record_shown` passes them).

    Raises
    ------
    ValueError
        An unknown event or reason, naming the field.
    StaleVersionError
        ``expected_version`` is not the row's version (``0`` expects no row yet).
    """
    _check(event, reason)
    shown_values = dict(shown_values or {})
    if shown_values and (event != "shown" or not set(shown_values) <= _SHOWN_COLUMNS):
        msg = f"shown_values: only shown_* columns, with the event 'shown' (got {event!r})"
        raise ValueError(msg)
    at = at or co.now()
    old = _fetch(conn, need_id, premises_id)
    if old is None:
        if expected_version not in (None, 0):
            raise StaleVersionError(ENTITY_OUTCOME, premises_id, int(expected_version or 0), 0)
        row = {
            "need_id": need_id,
            "premises_id": premises_id,
            **_event_values(None, event, reason, note, at),
            **shown_values,
            "version": 1,
            "created_at": at,
            "updated_at": at,
        }
        cv.check_storable(row)
        try:
            with conn.begin_nested():
                [new_id] = co.hooks_of(conn).insert_many(conn, outcomes, [row])
        except sa.exc.IntegrityError:
            # Written by a concurrent request since: record the event on that row instead.
            return record_event(
                conn,
                need_id,
                premises_id,
                event,
                actor=actor,
                reason=reason,
                note=note,
                only_new=only_new,
                at=at,
                shown_values=shown_values,
            )
        created = Outcome.model_validate({**row, "id": new_id})
        _audit(conn, new_id, "create", 1, actor, at, created.model_dump(mode="json"))
        return created
    if expected_version == 0:
        raise StaleVersionError(ENTITY_OUTCOME, int(old["id"]), 0, int(old["version"]))
    if only_new and old[f"{event}_at"] is not None:
        return None
    expected = int(old["version"]) if expected_version is None else expected_version
    values = {**_event_values(old, event, reason, note, at), **shown_values}
    version = expected + 1
    co.compare_and_set(
        conn,
        sa.update(outcomes).values(**values, version=version, updated_at=at),
        outcomes,
        int(old["id"]),
        ENTITY_OUTCOME,
        expected,
    )
    diff = {
        k: [cv.jsonable(old[k]) if old[k] is not None else None, cv.jsonable(v)]
        for k, v in values.items()
        if old[k] != v
    }
    _audit(conn, int(old["id"]), "update", version, actor, at, {"event": event, **diff})
    return Outcome.model_validate({**old, **values, "version": version, "updated_at": at})


def record_shown(
    conn: Connection,
    need_id: int,
    shown: Sequence[tuple[int, int, float]],
    *,
    actor: str,
    model: int | None = None,
    at: datetime | None = None,
    utilities: Mapping[int, Mapping[str, float]] | None = None,
) -> int:
    """Record that listings were shown for a need; only those never shown before are written.

    Parameters
    ----------
    conn : sqlalchemy.Connection
        A connection inside a write transaction.
    need_id : int
        The need.
    shown : sequence of (premises_id, rank, score)
        The listings of the answer, with their rank and score.
    actor : str
        Who was shown them.
    model : int, optional
        The ranking model that ranked them (None: the default weights).
    at : datetime, optional
        When (default: now).
    utilities : mapping of int to mapping of str to float, optional
        By listing id, the engine's utility of each criterion the need uses (0-1), as the
        match computed them: kept as what was shown (calibration learns from them).

    Returns
    -------
    int
        How many pairs were recorded as shown for the first time.
    """
    if not shown:
        return 0
    at = at or co.now()
    utilities = utilities or {}
    shown_json = {int(p): utilities_json(utilities.get(int(p))) for p, _, _ in shown}
    ids = [int(p) for p, _, _ in shown]
    stmt = sa.select(outcomes.c.premises_id, outcomes.c.shown_at).where(
        outcomes.c.need_id == need_id, outcomes.c.premises_id.in_(ids)
    )
    seen = {int(p): s for p, s in conn.execute(stmt)}
    new_rows = [
        {
            "need_id": need_id,
            "premises_id": int(p),
            "stage": "shown",
            "shown_at": at,
            "shown_rank": int(rank),
            "shown_score": float(score),
            "shown_model": model,
            "shown_utilities": shown_json[int(p)],
            "version": 1,
            "created_at": at,
            "updated_at": at,
        }
        for p, rank, score in shown
        if int(p) not in seen
    ]
    written = 0
    if new_rows:
        try:
            with conn.begin_nested():
                new_ids = co.hooks_of(conn).insert_many(conn, outcomes, new_rows)
        except sa.exc.IntegrityError:
            new_ids = []  # a concurrent request recorded them: nothing new here
        version = co.read_catalogue_version(conn)
        co.write_audit(
            conn,
            [
                co.audit_row(
                    ENTITY_OUTCOME,
                    i,
                    "create",
                    1,
                    actor,
                    at,
                    Outcome.model_validate({**r, "id": i}).model_dump(mode="json"),
                    catalogue_version=version,
                )
                for r, i in zip(new_rows, new_ids, strict=False)
            ],
        )
        written = len(new_ids)
    for p, rank, score in shown:
        if int(p) in seen and seen[int(p)] is None:  # recorded by a later step first
            done = record_event(
                conn,
                need_id,
                int(p),
                "shown",
                actor=actor,
                only_new=True,
                at=at,
                shown_values={
                    "shown_rank": int(rank),
                    "shown_score": float(score),
                    "shown_model": model,
                    "shown_utilities": shown_json[int(p)],
                },
            )
            written += done is not None
    return written


def not_yet_shown(conn: Connection, need_id: int, premises_ids: Sequence[int]) -> list[int]:
    """Those of ``premises_ids`` never recorded as shown for the need (one read, no lock).

    Lets a caller skip the write transaction of :func:`record_shown` when nothing is new.
    """
    if not premises_ids:
        return []
    stmt = sa.select(outcomes.c.premises_id).where(
        outcomes.c.need_id == need_id,
        outcomes.c.premises_id.in_([int(p) for p in premises_ids]),
        outcomes.c.shown_at.is_not(None),
    )
    seen = {int(p) for p in conn.execute(stmt).scalars()}
    return [int(p) for p in premises_ids if int(p) not in seen]


def get_outcome(conn: Connection, need_id: int, premises_id: int) -> Outcome:
    """The outcome of one pair.

    Raises
    ------
    NotFoundError
        When nothing was recorded for the pair.
    """
    row = _fetch(conn, need_id, premises_id)
    if row is None:
        raise NotFoundError(ENTITY_OUTCOME, premises_id)
    return Outcome.model_validate(row)


def list_outcomes(conn: Connection, need_id: int) -> list[Outcome]:
    """The outcomes of one need, by listing id."""
    stmt = sa.select(outcomes).where(outcomes.c.need_id == need_id).order_by(outcomes.c.premises_id)
    return [Outcome.model_validate(row) for row in conn.execute(stmt).mappings()]


def outcome_history(conn: Connection, need_id: int) -> list[OutcomeChange]:
    """Every audited change of the outcomes of one need, oldest first."""
    stmt = (
        sa.select(audit_log, outcomes.c.premises_id)
        .join(outcomes, outcomes.c.id == audit_log.c.entity_id)
        .where(audit_log.c.entity == ENTITY_OUTCOME, outcomes.c.need_id == need_id)
        .order_by(audit_log.c.id)
    )
    return [
        OutcomeChange(
            outcome_id=row["entity_id"],
            premises_id=row["premises_id"],
            action=row["action"],
            version=row["version"],
            actor=row["actor"],
            at=row["at"],
            changes=json.loads(row["changes"]),
        )
        for row in conn.execute(stmt).mappings()
    ]


def training_outcomes(conn: Connection) -> list[tuple[int, int, str]]:
    """Every recorded (need id, listing id, level), by need: what calibration learns from.

    The level is the furthest positive step ever reached (``"signed"``, ``"visited"``,
    ``"contacted"``), even when the listing was rejected afterwards; else the stage.
    """
    c = outcomes.c
    stmt = sa.select(
        c.need_id, c.premises_id, c.stage, c.contacted_at, c.visited_at, c.signed_at
    ).order_by(c.need_id, c.premises_id)
    out = []
    for need_id, premises_id, stage, contacted, visited, signed in conn.execute(stmt):
        level = (
            "signed" if signed else "visited" if visited else "contacted" if contacted else stage
        )
        out.append((int(need_id), int(premises_id), str(level)))
    return out


def recorded_utilities(conn: Connection) -> dict[tuple[int, int], dict[str, float]]:
    """By (need id, listing id), the utilities recorded when the listing was shown (pairs
    recorded without them, such as a manual outcome, are left out)."""
    c = outcomes.c
    stmt = (
        sa.select(c.need_id, c.premises_id, c.shown_utilities)
        .where(c.shown_utilities.is_not(None))
        .order_by(c.need_id, c.premises_id)
    )
    return {
        (int(n), int(p)): {str(k): float(v) for k, v in json.loads(u).items()}
        for n, p, u in conn.execute(stmt)
    }


#: The columns of an outcome row other than its id, and a row with none of them set.
_COLUMNS: tuple[str, ...] = tuple(c.name for c in outcomes.c if c.name != "id")
_EMPTY: dict[str, Any] = dict.fromkeys(_COLUMNS)


def record_batch(
    conn: Connection,
    shown: Sequence[tuple[int, int, int, float, Mapping[str, float] | None]],
    events: Sequence[tuple[int, int, str, str | None]],
    *,
    actor: str,
    model: int | None = None,
    at: datetime | None = None,
) -> int:
    """Record many listings shown and the events that followed them, in bulk.

    Writes what :func:`record_shown` (need by need, in the order of ``shown``) then
    :func:`record_event` (one call per event, in the order of ``events``) would: the same
    rows, versions and audit rows, but read in one query per 500 needs, computed in memory
    and written with one insert of the new rows, one of the audit rows, and one
    compare-and-set per row that existed before. For batch loads (``implanter model
    simulate``): a row written by another transaction meanwhile fails the whole batch
    (unique pair, or stale version) and nothing is written.

    Parameters
    ----------
    conn : sqlalchemy.Connection
        A connection inside a write transaction.
    shown : sequence of (need id, listing id, rank, score, utilities or None)
        The listings shown, grouped by need.
    events : sequence of (need id, listing id, event, reason)
        The events that followed, in the order they happened.
    actor : str
        Who records them.
    model : int, optional
        The ranking model that ranked the listings shown (None: the default weights).
    at : datetime, optional
        When (default: now), for every row.

    Returns
    -------
    int
        How many versions were written (rows created plus updates).

    Raises
    ------
    ValueError
        An unknown event or reason (nothing is written).
    """
    for _, _, event, reason in events:
        _check(event, reason)
    at = at or co.now()
    rows: dict[tuple[int, int], dict[str, Any]] = {}
    before: dict[tuple[int, int], int] = {}
    ids: dict[tuple[int, int], int] = {}
    need_ids = sorted({int(n) for n, *_ in shown} | {int(n) for n, *_ in events})
    for chunk in co.chunks(need_ids):
        stmt = sa.select(outcomes).where(outcomes.c.need_id.in_(chunk))
        for row in conn.execute(stmt).mappings():
            key = (int(row["need_id"]), int(row["premises_id"]))
            data = dict(row)
            ids[key] = int(data.pop("id"))
            before[key] = int(data["version"])
            rows[key] = data
    created: list[tuple[int, int]] = []
    # Each version written: (pair, action, version, the created row or the changes).
    written: list[tuple[tuple[int, int], str, int, dict[str, Any]]] = []

    def create(key: tuple[int, int], values: Mapping[str, Any]) -> None:
        row = {**_EMPTY, "need_id": key[0], "premises_id": key[1], **values}
        row.update(version=1, created_at=at, updated_at=at)
        rows[key] = row
        created.append(key)
        written.append((key, "create", 1, dict(row)))

    def update(
        key: tuple[int, int], event: str, reason: str | None, extra: Mapping[str, Any]
    ) -> None:
        old = rows[key]
        values = {**_event_values(old, event, reason, None, at), **extra}
        version = int(old["version"]) + 1
        diff = {
            k: [cv.jsonable(old[k]) if old[k] is not None else None, cv.jsonable(v)]
            for k, v in values.items()
            if old[k] != v
        }
        written.append((key, "update", version, {"event": event, **diff}))
        old.update(values, version=version, updated_at=at)

    for need_id, premises_id, rank, score, utilities in shown:
        key = (int(need_id), int(premises_id))
        values = {
            "shown_rank": int(rank),
            "shown_score": float(score),
            "shown_model": model,
            "shown_utilities": utilities_json(utilities),
        }
        if key not in rows:
            create(key, {"stage": "shown", "shown_at": at, **values})
        elif rows[key]["shown_at"] is None:  # recorded by a later step first
            update(key, "shown", None, values)
    for need_id, premises_id, event, reason in events:
        key = (int(need_id), int(premises_id))
        if key not in rows:
            create(key, _event_values(None, event, reason, None, at))
        else:
            update(key, event, reason, {})
    if created:
        new_rows = [{c: rows[k][c] for c in _COLUMNS} for k in created]
        cv.check_storable_many(new_rows)
        ids.update(
            zip(created, co.hooks_of(conn).insert_many(conn, outcomes, new_rows), strict=True)
        )
    for key, version in before.items():
        final = rows[key]
        if int(final["version"]) != version:
            co.compare_and_set(
                conn,
                sa.update(outcomes).values({c: final[c] for c in _COLUMNS}),
                outcomes,
                ids[key],
                ENTITY_OUTCOME,
                version,
            )
    catalogue_version = co.read_catalogue_version(conn)
    co.write_audit(
        conn,
        [
            co.audit_row(
                ENTITY_OUTCOME,
                ids[key],
                action,
                version,
                actor,
                at,
                (
                    Outcome.model_validate({**changes, "id": ids[key]}).model_dump(mode="json")
                    if action == "create"
                    else changes
                ),
                catalogue_version=catalogue_version,
            )
            for key, action, version, changes in written
        ],
    )
    return len(written)
