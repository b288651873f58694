"""Saved-search alerts: the needs a listing newly fits, notified in the listing's transaction.

A need with an owner account is a saved search. When a listing is created, changed or
confirmed, :func:`notify_listing_write` scores the listing as it was and as it is against
every active owned need at once (:func:`matcher.reverse.evaluate_listing`, vectorised over
the needs) and writes one ``match`` notification per need the listing now fits at or above
the need's ``alert_threshold`` and did not fit before. It runs on the connection of the
listing write, so the notifications commit or roll back with the change: a crash after the
commit loses nothing (the outbox is delivered later by :mod:`api.delivery`), and a refused
write notifies no one.

Every listing write calls it, through :class:`ListingAlerts` (``ListingAlertsDep``):
``alerts.written(conn, before, after)``. A listing that was out of matching before the
write for want of confirmation (hidden after ``freshness.hide_days``) counts as not fitting
before it: the hook knows the request's clock and the freshness settings.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from typing import Annotated, Any

import numpy as np
from fastapi import Depends, Request
from sqlalchemy.engine import Connection

from geodata.schemas import Need, Premises, PremisesPublic
from geodata.storage import needs, outbox
from geodata.storage.outbox import NewNotification, Notification
from matcher import MatchIndex, NeedTable
from matcher.engine import matchable_mask
from matcher.index import CATALOGUE_COLUMNS
from matcher.reverse import evaluate_listing
from matcher.scoring import Ranker

from .deps import NowDep
from .freshness import freshness_of
from .outcomes import live_ranker
from .settings import FreshnessSettings

__all__ = [
    "KIND_MATCH",
    "ListingAlerts",
    "ListingAlertsDep",
    "fitting",
    "get_listing_alerts",
    "notify_listing_write",
    "saved_search_table",
    "saved_searches",
]

#: The kind of the notification of a listing that newly fits a saved need.
KIND_MATCH = "match"


def saved_searches(conn: Connection) -> list[Need]:
    """The active needs that have an owner account (those whose owner is alerted)."""
    return [n for n in needs.all_needs(conn, active=True) if n.owner_account]


@dataclass(frozen=True)
class _SavedTable:
    signature: tuple[Any, ...]
    needs: list[Need]
    table: NeedTable
    thresholds: np.ndarray


#: The compiled saved searches of each database this process writes to (by URL).
_tables: dict[str, _SavedTable] = {}
_tables_lock = threading.Lock()


def _signature(conn: Connection) -> tuple[Any, ...]:
    return needs.needs_signature(conn)


def saved_search_table(conn: Connection) -> tuple[list[Need], NeedTable, np.ndarray]:
    """The saved searches, compiled for matching, with their alert thresholds.

    Reading and compiling every need costs about a millisecond per need, so the compiled
    table is kept per database and compiled again only when the needs' signature
    (:func:`geodata.storage.needs.needs_signature`, one aggregate query read in the caller's
    transaction) has moved.
    """
    signature = _signature(conn)
    key = conn.engine.url.render_as_string(hide_password=False)
    cached = _tables.get(key)
    if cached is not None and cached.signature == signature:
        return cached.needs, cached.table, cached.thresholds
    searches = saved_searches(conn)
    table = NeedTable.from_needs(searches)
    thresholds = np.array([n.alert_threshold for n in searches], dtype=np.float64)
    with _tables_lock:
        _tables[key] = _SavedTable(signature, searches, table, thresholds)
    return searches, table, thresholds


def _cell(value: Any) -> Any:
    """One listing value in the type :func:`geodata.storage.catalogue.premises_columns`
    reads it: enumerations as text, uses comma-joined, dates and UTC times as datetime64."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return ",".join(str(getattr(v, "value", v)) for v in value)
    if isinstance(value, datetime):
        return np.datetime64(value.astimezone(UTC).replace(tzinfo=None), "us")
    if isinstance(value, date):
        return np.datetime64(value, "us")
    return value


def _listing_index(reference: MatchIndex, listings: list[Premises]) -> MatchIndex:
    """A small index of the given listings (rows 0, 1, …), measured with the access points
    and commune names of ``reference`` (the process's match index).

    Built from columns (no pandas): a few listings cost well under a millisecond.
    """
    columns: dict[str, np.ndarray] = {"id": np.arange(len(listings), dtype=np.int64)}
    for name in CATALOGUE_COLUMNS[1:]:
        columns[name] = np.array([_cell(getattr(item, name)) for item in listings])
    return MatchIndex.from_columns(
        columns,
        stations=reference.stations,
        interchanges=reference.interchanges,
        commune_names=reference.commune_names,
    )


def fitting(
    index: MatchIndex,
    pos: int,
    table: NeedTable,
    thresholds: np.ndarray,
    ranker: Ranker | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per need of ``table``: whether the listing at row ``pos`` fits it at or above its alert
    threshold, and its score (0-100) by ``ranker`` (the live one: the promoted model's weights,
    else the defaults). A listing whose status is not matched fits nothing."""
    passes, scores, _ = evaluate_listing(index, pos, table, ranker)
    if not bool(matchable_mask(index)[pos]):
        return np.zeros(len(table), dtype=bool), scores
    return passes & (scores >= thresholds), scores


def notify_listing_write(
    conn: Connection,
    before: Premises | None,
    after: Premises,
    *,
    reference: MatchIndex,
    before_matchable: bool = True,
) -> list[Notification]:
    """Notify the owners of the saved needs a listing newly fits, in the caller's transaction.

    Parameters
    ----------
    conn
        The connection of the listing write (inside its transaction).
    before
        The listing as it was (None for a new one).
    after
        The listing as written.
    reference
        An index carrying the territory's access points (the process's current snapshot).
    before_matchable
        False when the listing was out of matching before for a reason its fields do not
        carry (stale, now confirmed): then it counts as having fitted nothing.

    Returns
    -------
    list of Notification
        The notifications written, one per newly fitted need, best score first.
    """
    searches, table, thresholds = saved_search_table(conn)
    if not searches:
        return []
    rows = [after] if before is None else [after, before]
    index = _listing_index(reference, rows)
    # Scored as the needs' matches are: by the promoted model when there is one.
    ranker, _ = live_ranker(conn)
    fits_now, scores = fitting(index, 0, table, thresholds, ranker)
    if before is not None and before_matchable:
        fitted, _ = fitting(index, 1, table, thresholds, ranker)
        fits_now &= ~fitted
    hits = np.flatnonzero(fits_now)
    if not len(hits):
        return []
    hits = hits[np.lexsort((table.ids[hits], -scores[hits]))]
    public = PremisesPublic.model_validate(after).model_dump(mode="json")
    items = [_notification(searches[r], after, float(scores[r]), public) for r in hits.tolist()]
    return outbox.add_notifications(conn, items)


def _notification(
    need: Need, listing: Premises, score: float, public: dict[str, Any]
) -> NewNotification:
    score = round(score, 1)
    return NewNotification(
        recipient=str(need.owner_account),
        kind=KIND_MATCH,
        need_id=need.id,
        premises_id=listing.id,
        premises_version=listing.version,
        score=score,
        payload={
            "need_id": need.id,
            "score": score,
            "alert_threshold": need.alert_threshold,
            "premises": public,
            "text": {
                "fr": f"Le local « {listing.title} » correspond à votre recherche n° {need.id} "
                f"(score {score:.0f}/100).",
                "en": f"The premises “{listing.title}” fit your search no. {need.id} "
                f"(score {score:.0f}/100).",
            },
        },
    )


@dataclass(frozen=True)
class ListingAlerts:
    """The alerts hook of the listing writes of one request (see :func:`notify_listing_write`).

    A listing hidden before the write for want of confirmation (``freshness.hide_days``) was
    not matchable: a write that brings it back (an edit, a status change, a confirmation)
    notifies the saved searches it fits.
    """

    reference: MatchIndex
    now: datetime
    freshness: FreshnessSettings

    def written(
        self, conn: Connection, before: Premises | None, after: Premises
    ) -> list[Notification]:
        """Call in the transaction of every listing write, after the write."""
        hidden = before is not None and freshness_of(before, self.now, self.freshness).hidden
        return notify_listing_write(
            conn, before, after, reference=self.reference, before_matchable=not hidden
        )


async def get_listing_alerts(request: Request, now: NowDep) -> ListingAlerts:
    """The alerts hook, measuring access with the process's match index."""
    return ListingAlerts(
        request.app.state.match_index.snapshot, now, request.app.state.settings.freshness
    )


ListingAlertsDep = Annotated[ListingAlerts, Depends(get_listing_alerts)]
