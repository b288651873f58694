"""Saved-search alerts: the needs listings newly fit, notified in the listings' transaction.

A need with an owner account is a saved search. When listings are written (one by the API,
or thousands by an import), :func:`newly_fitting` scores them as they were and as they are
against every active owned need, and one ``match`` notification is written per (need,
listing) that now fits at or above the need's ``alert_threshold`` and did not fit before. It
runs on the connection of the write, so the notifications commit or roll back with it: a
crash after the commit loses nothing (the outbox is delivered later by
:mod:`api.delivery`), and a refused write notifies no one.

One path serves every write: a single write (:func:`notify_listing_write`, through
:class:`ListingAlerts` ``alerts.written(conn, before, after)``) is an import of one listing
(:func:`notify_import`, ``alerts.imported``, and :class:`AlertingCatalogue` for
:func:`geodata.io.import_listings`). A listing fits when matching would propose it: its
status is matched (available) and it is not hidden for want of confirmation
(``freshness.hide_days``, on the write's clock), before as after the write.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from sqlalchemy.engine import Connection

from geodata.schemas import Need, Premises, PremisesCreate, PremisesPublic
from geodata.storage import UpsertResult, catalogue, needs, outbox
from geodata.storage import premises as store
from geodata.storage.outbox import NewNotification, Notification
from matcher import MatchIndex, NeedTable, PointSet
from matcher.engine import matchable_mask, sub_filters, utility_columns
from matcher.index import CATALOGUE_COLUMNS
from matcher.reverse import evaluate_listing, table_weights
from matcher.scoring import Ranker, score_columns

from .freshness import hide_before
from .index_cache import access_points
from .live_model import live_model
from .settings import FreshnessSettings

if TYPE_CHECKING:
    from geodata.storage import Repository
    from geodata.territory import Territory

__all__ = [
    "KIND_MATCH",
    "REVERSE_STATES",
    "STATE_COLUMNS",
    "WRITE_BATCH",
    "Access",
    "AlertingCatalogue",
    "ListingAlerts",
    "NewFits",
    "TerritoryAccess",
    "listing_columns",
    "newly_fitting",
    "notify_import",
    "notify_listing_write",
    "saved_search_table",
    "saved_searches",
]

#: The kind of the notification of a listing that newly fits a saved need.
KIND_MATCH = "match"

#: Up to this many listing states (a single write: the listing as it was and as it is), each
#: state is scored against all the saved needs at once (reverse matching, vectorised over the
#: needs: about 1 ms per state for 200 needs, 2 ms for 2,000); above it, each need is scored
#: against all the states at once (the engine's forward functions, vectorised over the
#: listings: about 0.2 ms per need, whatever the number of listings). Both give the same
#: fits and scores (the engine's listing-side functions are bit-identical to its forward ones).
REVERSE_STATES = 8

#: Notifications are built and written this many at a time (with the listings they carry),
#: so that an import fitting many needs holds one batch in memory, not all of them.
WRITE_BATCH = 2000

#: The columns of a listing's state that alerts read (those the match index reads).
STATE_COLUMNS: tuple[str, ...] = CATALOGUE_COLUMNS


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


class Access(Protocol):
    """What the scores of a listing's access and place are measured with: the territory's
    stations and motorway exits, and its commune names (a :class:`MatchIndex` has them)."""

    @property
    def stations(self) -> PointSet | None: ...

    @property
    def interchanges(self) -> PointSet | None: ...

    @property
    def commune_names(self) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class TerritoryAccess:
    """The access points and commune names of a territory, for a process without a match
    index (``implanter import``): those the app's index is built with."""

    stations: PointSet
    interchanges: PointSet
    commune_names: Mapping[str, str]

    @classmethod
    def of(cls, territory: Territory) -> TerritoryAccess:
        """The open stations, motorway exits and commune names of ``territory``."""
        stations, interchanges = access_points(territory)
        return cls(stations, interchanges, dict(territory.commune_names))


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


def listing_columns(listings: Sequence[Premises]) -> dict[str, np.ndarray]:
    """The :data:`STATE_COLUMNS` of a few listings given as models (a single write), in the
    types :func:`geodata.storage.catalogue.premises_columns` reads them from the database."""
    columns: dict[str, np.ndarray] = {"id": np.array([p.id for p in listings], dtype=np.int64)}
    for name in STATE_COLUMNS[1:]:
        columns[name] = np.array([_cell(getattr(item, name)) for item in listings])
    return columns


def _take(columns: Mapping[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    return {name: np.asarray(columns[name])[rows] for name in STATE_COLUMNS}


def _states_index(
    access: Access, after: Mapping[str, np.ndarray], before: Mapping[str, np.ndarray]
) -> MatchIndex:
    """One small index of the listings as written (ids ``0..n-1``, in the order of
    ``after``) and as they were (ids ``n..``, in the order of ``before``), measured with
    ``access``. Built from columns: no pandas, no model per listing."""
    n, k = len(after["id"]), len(before["id"])
    columns: dict[str, np.ndarray] = {"id": np.arange(n + k, dtype=np.int64)}
    for name in STATE_COLUMNS[1:]:
        a, b = np.asarray(after[name]), np.asarray(before[name])
        if a.dtype != b.dtype and k and n:
            a, b = a.astype(object), b.astype(object)
        columns[name] = np.concatenate([a, b]) if k else a
    return MatchIndex.from_columns(
        columns,
        stations=access.stations,
        interchanges=access.interchanges,
        commune_names=access.commune_names,
    )


def _fits(
    index: MatchIndex,
    base: np.ndarray,
    table: NeedTable,
    thresholds: np.ndarray,
    weights: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (need row, index row) where the row passes the need's required criteria, is in
    ``base`` and scores at or above the need's threshold, with that score.

    Loops over the shorter side (see :data:`REVERSE_STATES`); never over the listings of an
    import."""
    need_rows: list[np.ndarray] = []
    rows: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    if len(index) <= REVERSE_STATES:
        for pos in np.flatnonzero(base).tolist():
            passes, score, _ = evaluate_listing(index, pos, table, weights=weights)
            hit = np.flatnonzero(passes & (score >= thresholds))
            need_rows.append(hit)
            rows.append(np.full(len(hit), pos, dtype=np.int64))
            scores.append(score[hit])
    else:
        for i, need in enumerate(table.needs):
            if not need.active:
                continue
            ok = base.copy()
            for sub in sub_filters(index, table, i):
                ok &= sub.mask
            candidates = np.flatnonzero(ok)
            if not len(candidates):
                continue
            cols = utility_columns(index, table, i, candidates)
            score = score_columns(cols, weights[i], table.active[i], len(candidates))
            keep = score >= thresholds[i]
            need_rows.append(np.full(int(keep.sum()), i, dtype=np.int64))
            rows.append(candidates[keep])
            scores.append(score[keep])
    if not rows:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    return np.concatenate(need_rows), np.concatenate(rows), np.concatenate(scores)


@dataclass(frozen=True)
class NewFits:
    """The (need, listing) pairs a write made fit: ``need_rows`` index the saved-search
    table, ``listing_ids`` are the written listings', ``scores`` 0-100. One entry per pair,
    by listing (in the order written), then best score, then smaller need id."""

    need_rows: np.ndarray
    listing_ids: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.listing_ids)


def newly_fitting(
    access: Access,
    after: Mapping[str, np.ndarray],
    before: Mapping[str, np.ndarray] | None,
    table: NeedTable,
    thresholds: np.ndarray,
    *,
    ranker: Ranker | None = None,
    verified_since: datetime | None = None,
) -> NewFits:
    """The saved needs that written listings fit now at or above their alert threshold, and
    did not fit before the write.

    Parameters
    ----------
    access
        The territory's access points and commune names (a :class:`MatchIndex` will do).
    after
        The listings as written: :data:`STATE_COLUMNS` as
        :func:`geodata.storage.catalogue.premises_columns` reads them (or
        :func:`listing_columns`), one row per listing.
    before
        The same columns of the stored listings as they were before the write (any order;
        those not written and those created are ignored), or None.
    table, thresholds
        The saved searches and their alert thresholds (:func:`saved_search_table`).
    ranker
        The live ranking model (None: the default weights), as the needs' matches use.
    verified_since
        Listings confirmed before it are hidden from matching (``freshness.hide_days``):
        they fit nothing, before as after. A listing whose status is not matched (under
        offer, let, sold, withdrawn) fits nothing either.
    """
    ids = np.asarray(after["id"], dtype=np.int64)
    n = len(ids)
    if n == 0:
        return NewFits(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
    if before is None:
        before = _take(after, np.empty(0, dtype=np.int64))
    # The stored state of each written listing, and its position among the written ones.
    order = np.argsort(ids, kind="stable")
    was = np.asarray(before["id"], dtype=np.int64)
    at = np.minimum(np.searchsorted(ids, was, sorter=order), n - 1)
    known = ids[order[at]] == was
    before = _take(before, np.flatnonzero(known))
    # Index id (0..n-1 as written, n.. as they were) -> position among the written listings.
    position = np.concatenate([np.arange(n), order[at[known]]])
    index = _states_index(access, after, before)
    base = matchable_mask(index, verified_since=verified_since)
    weights = table_weights(table, ranker)
    need_rows, rows, scores = _fits(index, base, table, thresholds, weights)
    state = index.cols["id"][rows]
    listing = position[state]
    now = state < n
    key = need_rows * max(n, 1) + listing
    new = now & ~np.isin(key, key[~now])
    need_rows, listing, scores = need_rows[new], listing[new], scores[new]
    sort = np.lexsort((table.ids[need_rows], -scores, listing))
    return NewFits(need_rows[sort], ids[listing[sort]], scores[sort])


def _write(
    conn: Connection,
    searches: list[Need],
    fits: NewFits,
    listings: Mapping[int, Premises] | None = None,
) -> Iterator[list[Notification]]:
    """Write the notifications of ``fits``, :data:`WRITE_BATCH` at a time, each carrying its
    listing's public view (read with the batch, unless given in ``listings``)."""
    given = dict(listings or {})
    for start in range(0, len(fits), WRITE_BATCH):
        stop = start + WRITE_BATCH
        ids = fits.listing_ids[start:stop].tolist()
        wanted = sorted(set(ids) - given.keys())
        stored = catalogue.premises_by_ids(conn, wanted) if wanted else {}
        models = {**stored, **{i: given[i] for i in set(ids) & given.keys()}}
        public = {
            i: PremisesPublic.model_validate(p).model_dump(mode="json") for i, p in models.items()
        }
        rows = fits.need_rows[start:stop].tolist()
        scores = fits.scores[start:stop].tolist()
        items = [
            _notification(searches[r], models[i], s, public[i])
            for r, i, s in zip(rows, ids, scores, strict=True)
        ]
        yield outbox.add_notifications(conn, items)


def notify_listing_write(
    conn: Connection,
    before: Premises | None,
    after: Premises,
    *,
    reference: Access,
    before_matchable: bool = True,
    verified_since: datetime | None = None,
) -> list[Notification]:
    """Notify the owners of the saved needs a listing newly fits, in the caller's transaction.

    An import of one listing (:func:`newly_fitting`, then the same notifications).

    Parameters
    ----------
    conn
        The connection of the listing write (inside its transaction).
    before
        The listing as it was (None for a new one).
    after
        The listing as written.
    reference
        The territory's access points (the process's current match index will do).
    before_matchable
        False when the listing was out of matching before for a reason its fields do not
        carry: then it counts as having fitted nothing.
    verified_since
        Listings confirmed before it are hidden from matching (see :func:`newly_fitting`).

    Returns
    -------
    list of Notification
        The notifications written, one per newly fitted need, best score first.
    """
    searches, table, thresholds = saved_search_table(conn)
    if not searches:
        return []
    ranker = live_model(conn).ranker  # scored as the needs' matches are
    fits = newly_fitting(
        reference,
        listing_columns([after]),
        listing_columns([before]) if before is not None and before_matchable else None,
        table,
        thresholds,
        ranker=ranker,
        verified_since=verified_since,
    )
    return [note for batch in _write(conn, searches, fits, {after.id: after}) for note in batch]


def notify_import(
    conn: Connection,
    before: Mapping[str, np.ndarray] | None,
    written: Sequence[int],
    *,
    reference: Access,
    verified_since: datetime | None = None,
) -> int:
    """Notify the owners of the saved needs that the listings an import wrote newly fit, in
    the import's transaction; return how many notifications were written.

    Parameters
    ----------
    conn
        The connection of the import's write, after the write.
    before
        The :data:`STATE_COLUMNS` of the stored listings the import named, read in the same
        transaction before the write (see :meth:`AlertingCatalogue.upsert_premises_by_ref`).
    written
        The ids of the listings created or updated (not those left unchanged).
    reference, verified_since
        As for :func:`notify_listing_write`.
    """
    searches, table, thresholds = saved_search_table(conn)
    if not searches or not len(written):
        return 0
    after = catalogue.premises_columns(conn, STATE_COLUMNS, ids=written)
    ranker = live_model(conn).ranker
    fits = newly_fitting(
        reference, after, before, table, thresholds, ranker=ranker, verified_since=verified_since
    )
    return sum(len(batch) for batch in _write(conn, searches, fits))


def _notification(
    need: Need, listing: Premises, score: float, public: dict[str, Any]
) -> NewNotification:
    score = round(score, 1)
    # Built from a stored need and listing (validated already): an import may write hundreds
    # of thousands, so none is validated again.
    return NewNotification.model_construct(
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
    """The alerts hook of the listing writes of one request or command.

    A listing hidden before the write for want of confirmation (``freshness.hide_days``, on
    ``now``'s day) was not matchable: a write that brings it back (an edit, a status change, a
    confirmation) notifies the saved searches it fits.
    """

    reference: Access
    now: datetime
    freshness: FreshnessSettings

    @property
    def verified_since(self) -> datetime:
        """Listings confirmed before this instant are hidden from matching."""
        return hide_before(self.now, self.freshness)

    def active(self, conn: Connection) -> bool:
        """Whether any saved search would be notified (a cached check)."""
        return bool(saved_search_table(conn)[0])

    def written(
        self, conn: Connection, before: Premises | None, after: Premises
    ) -> list[Notification]:
        """Call in the transaction of every listing write, after the write."""
        return notify_listing_write(
            conn, before, after, reference=self.reference, verified_since=self.verified_since
        )

    def imported(
        self, conn: Connection, before: Mapping[str, np.ndarray] | None, written: Sequence[int]
    ) -> int:
        """Call in the transaction of an import, after its write (see :func:`notify_import`)."""
        return notify_import(
            conn, before, written, reference=self.reference, verified_since=self.verified_since
        )


class AlertingCatalogue:
    """The catalogue as :func:`geodata.io.import_listings` writes to it, alerting the saved
    searches the written listings newly fit in the import's transaction.

    Its upsert reads the listings the file names as they are (:data:`STATE_COLUMNS` with
    ``external_ref`` and ``owner_account``), lets :meth:`check` refuse the write, writes, and
    notifies (:meth:`ListingAlerts.imported`); :attr:`notified` is how many notifications
    were written. A refused or failed write notifies no one; a dry run never calls it.
    """

    def __init__(self, repo: Repository, alerts: ListingAlerts) -> None:
        self.repo = repo
        self.alerts = alerts
        #: Notifications written by the last upsert.
        self.notified = 0

    def connect(self) -> Any:
        return self.repo.connect()

    def premises_frame(self, *args: Any, **kwargs: Any) -> Any:
        return self.repo.premises_frame(*args, **kwargs)

    def premises_by_refs(self, refs: Iterable[str]) -> Mapping[str, Premises]:
        return self.repo.premises_by_refs(refs)

    def get_premises(self, premises_id: int) -> Premises:
        return self.repo.get_premises(premises_id)

    def check(self, stored: Mapping[str, np.ndarray]) -> None:
        """Refuse the write by raising (nothing is written); by default, accept it."""

    def checks(self) -> bool:
        """Whether :meth:`check` reads the stored listings (else they are read only when
        some saved search may be notified)."""
        return False

    def stored(self, conn: Connection, refs: Sequence[str]) -> dict[str, np.ndarray]:
        """The listings named by ``refs`` as they are stored now (in ``conn``'s transaction)."""
        names = (*STATE_COLUMNS, "external_ref", "owner_account")
        # Locked as read: a write to one of them committed meanwhile (PostgreSQL) is waited
        # for and read, so that what it notified is not notified again by the import.
        return catalogue.premises_columns(conn, names, refs=refs, for_update=True)

    def upsert_premises_by_ref(
        self,
        items: Sequence[PremisesCreate],
        *,
        actor: str,
        expected_versions: Mapping[str, int] | None = None,
        verified_at: datetime | None = None,
    ) -> UpsertResult:
        refs = [i.external_ref for i in items if i.external_ref]
        with self.repo.begin() as conn:
            before = None
            if refs and (self.checks() or self.alerts.active(conn)):
                before = self.stored(conn, refs)
                self.check(before)
            result = store.upsert_premises_by_ref(
                conn,
                items,
                actor=actor,
                expected_versions=expected_versions,
                verified_at=verified_at,
            )
            self.notified = self.alerts.imported(conn, before, [*result.created, *result.updated])
        return result
