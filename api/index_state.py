"""The match index of a process: one immutable snapshot per catalogue version, swapped whole.

The index is built once when the app starts (:func:`api.matching.build_index`) and kept on
``app.state``. A request asks :meth:`IndexHolder.current` for the snapshot to match
against: one small read of the catalogue version (a single row of ``catalogue_state``)
tells whether the catalogue moved (a write through this worker, another worker or an
import); if it did, the changes since the snapshot's version
(:func:`geodata.storage.catalogue.changes_since`) are applied to a *copy* of the snapshot,
which then replaces it in one assignment. A snapshot is never changed once published, so a
request keeps a consistent index for its whole duration, and no request sees a half-updated
one.
"""

from __future__ import annotations

import logging
import os
import threading

from sqlalchemy.engine import Connection

from geodata.storage import Repository, catalogue
from geodata.territory import Territory
from matcher import MatchIndex

from .matching import apply_changes, build_index

__all__ = ["ENGINE_LOCK", "IndexHolder"]

logger = logging.getLogger(__name__)

#: One ranking over the whole index at a time per process. The engine's numpy operations on
#: arrays of a large catalogue release the GIL and take it back dozens of times per match;
#: with several request threads matching at once, each of those hand-offs is contended, and
#: at 100,000 premises a match cost about 6.4 ms of CPU with 8 clients against 3.7 ms when
#: the matches take turns (``bench/RESULTS.md``, HTTP section). Waiting threads sleep on the
#: lock; the rest of a request (database reads, JSON) still runs alongside.
ENGINE_LOCK = threading.Lock()


class IndexHolder:
    """Hold the current match index of a catalogue and bring it up to date on demand.

    Parameters
    ----------
    repo
        The catalogue the index is built from.
    territory
        The territory whose stations and motorway exits measure access.
    index
        A first snapshot (default: built from the catalogue now).

    Attributes
    ----------
    refreshes, rebuilds : int
        How many times this process brought its index up to date from the changes, and
        rebuilt it whole (a restored database, or more changes than :attr:`max_changes`).
    pid : int
        The process the holder lives in (one index per worker).

    Notes
    -----
    Refreshes run one at a time under a lock. A reader whose snapshot is current never
    takes the lock; a reader that has seen a newer catalogue version waits for the refresh
    in progress (a copy of the arrays and the changed listings only), so that a write is
    matched by the very next request, whichever worker serves it.
    """

    #: Above ``max(max_changes, n // 10)`` changed listings (a large import), the index is
    #: rebuilt from the columns in one query rather than updated listing by listing.
    max_changes = 2000

    def __init__(
        self, repo: Repository, territory: Territory, index: MatchIndex | None = None
    ) -> None:
        self.repo = repo
        self.territory = territory
        self._lock = threading.Lock()
        self._snapshot = index if index is not None else build_index(repo, territory)
        self.refreshes = 0
        self.rebuilds = 0
        self.pid = os.getpid()

    @property
    def snapshot(self) -> MatchIndex:
        """The snapshot published last (not checked against the database)."""
        return self._snapshot

    def database_version(self, conn: Connection | None = None) -> int:
        """The catalogue version in the database: one read of one row.

        Parameters
        ----------
        conn
            A connection the caller holds (default: one taken from the pool for the read).
        """
        if conn is not None:
            return catalogue.catalogue_version(conn)
        with self.repo.connect() as own:
            return catalogue.catalogue_version(own)

    def current(self, conn: Connection | None = None) -> MatchIndex:
        """Return a snapshot at least as new as the catalogue version read now.

        Never mutate the returned index: copy it first (:meth:`MatchIndex.copy`).

        Parameters
        ----------
        conn
            A connection the caller holds, to read the version on (saves a pool checkout).
        """
        snapshot = self._snapshot
        seen = self.database_version(conn)
        if snapshot.version >= seen:
            return snapshot
        return self.refresh(seen, conn)

    def refresh(self, seen: int | None = None, conn: Connection | None = None) -> MatchIndex:
        """Bring the index up to date and publish the new snapshot; return it.

        Parameters
        ----------
        seen
            The catalogue version the caller read; when another thread already published a
            snapshot this new, it is returned as is.
        conn
            A connection the caller holds, to read the changes on. Requests waiting for the
            refresh each hold theirs, so taking another one from the pool could wait on
            them.
        """
        if conn is None:
            with self.repo.connect() as own:
                return self.refresh(seen, own)
        with self._lock:
            snapshot = self._snapshot
            if seen is not None and snapshot.version >= seen:
                return snapshot
            try:
                changes = catalogue.changes_since(conn, snapshot.version)
            except ValueError:
                # The database is behind the snapshot (restored, or replaced): start over.
                logger.warning("catalogue version went back; rebuilding the match index")
                return self._publish(self._build(conn), rebuilt=True)
            n_changed = len(changes.upserted) + len(changes.removed)
            if n_changed > max(self.max_changes, len(snapshot) // 10):
                return self._publish(self._build(conn), rebuilt=True)
            updated = snapshot.copy()
            apply_changes(updated, changes)
            return self._publish(updated, rebuilt=False)

    def _build(self, conn: Connection) -> MatchIndex:
        return build_index(self.repo, self.territory, conn)

    def _publish(self, index: MatchIndex, *, rebuilt: bool) -> MatchIndex:
        """Swap in a finished snapshot (one reference assignment: readers see old or new)."""
        self._snapshot = index
        if rebuilt:
            self.rebuilds += 1
        else:
            self.refreshes += 1
        return index
