"""Glue between the catalogue and the matching engine: build the match index of a catalogue."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from geodata.storage import CatalogueChanges, Repository, catalogue
from geodata.territory import Territory
from matcher import MatchIndex
from matcher.index import CATALOGUE_COLUMNS

from .index_cache import REVISION_SQL, STAMP_SQL, access_points, cache_key, cache_path

__all__ = [
    "apply_changes",
    "build_index",
    "cached_index",
    "index_cache_key",
    "index_cache_path",
    "refresh_index",
]

logger = logging.getLogger(__name__)


def build_index(
    repo: Repository, territory: Territory, conn: Connection | None = None
) -> MatchIndex:
    """Build the match index of the whole catalogue, with the territory's access points.

    The listings are read as columns (:func:`geodata.storage.catalogue.premises_columns`:
    one query, no GeoDataFrame, no model per row), only those the index reads
    (:data:`matcher.index.CATALOGUE_COLUMNS`), and the index is built from them and from the
    territory's layers as arrays: neither pandas nor geopandas is imported. Access is
    measured to open stations and to motorway exits (not to junctions between motorways,
    which give no access). The index's ``version`` is the catalogue version its listings are
    at (:func:`geodata.storage.catalogue.at_one_version`: never older than the data), so
    :func:`refresh_index` misses no change.
    Pass ``conn`` to read on a connection the caller holds.
    """
    if conn is None:
        with repo.connect() as own:
            return build_index(repo, territory, own)
    version, columns = catalogue.at_one_version(
        conn, lambda: catalogue.premises_columns(conn, CATALOGUE_COLUMNS)
    )
    stations, interchanges = access_points(territory)
    return MatchIndex.from_columns(
        columns,
        stations=stations,
        interchanges=interchanges,
        version=version,
        commune_names=territory.commune_names,
    )


def apply_changes(index: MatchIndex, changes: CatalogueChanges) -> None:
    """Bring an index built at ``changes.since`` to ``changes.version``, in place.

    Each changed listing is inserted or replaced, each deleted one dropped; the index's
    ``version`` becomes the catalogue version of the changes.
    """
    for item in changes.upserted:
        index.update(item.id, item.model_dump())
    for listing_id in changes.removed:
        index.remove(listing_id)
    index.version = changes.version


def refresh_index(index: MatchIndex, repo: Repository) -> MatchIndex:
    """Apply to ``index`` the catalogue changes made since its version; return it."""
    apply_changes(index, repo.changes_since(index.version))
    return index


# --- the index kept between runs of a command ----------------------------------------------


def index_cache_path(setting: str, repo: Repository) -> Path | None:
    """The file the repository's index is kept in (see :func:`api.index_cache.cache_path`)."""
    return cache_path(setting, repo.engine.url.render_as_string(hide_password=False))


def index_cache_key(conn: Connection, repo: Repository, territory: Territory) -> dict[str, Any]:
    """The key of the index of this catalogue as it is now (see :mod:`api.index_cache`)."""
    revisions = conn.exec_driver_sql(REVISION_SQL).fetchall()
    stamp = conn.exec_driver_sql(STAMP_SQL).first()
    url = repo.engine.url.render_as_string(hide_password=True)
    revision = revisions[0][0] if len(revisions) == 1 else None
    return cache_key(url, revision, None if stamp is None else tuple(stamp), territory)


def cached_index(repo: Repository, territory: Territory, path: Path | None) -> MatchIndex:
    """The catalogue's match index: read from ``path`` when kept there for this very
    catalogue, schema and territory; else built (:func:`build_index`) and kept there.

    A file under another key (a write since, another territory, a replaced database, a
    migration), of another format, truncated or corrupted is never used: the index is
    built again and the file replaced, atomically. Failing to write it only logs.
    """
    if path is None:
        return build_index(repo, territory)
    from matcher.index_file import load_index, save_index

    with repo.connect() as conn:
        key = index_cache_key(conn, repo, territory)
        index = load_index(path, key)
        if index is not None:
            return index
        index = build_index(repo, territory, conn)
        after = index_cache_key(conn, repo, territory)
    # Kept only when nothing was written during the build (the key names the data read).
    if after == key and key["catalogue"] is not None and index.version == key["catalogue"][0]:
        try:
            save_index(index, path, key)
        except OSError as exc:
            logger.warning("could not keep the match index in %s: %s", path, exc)
    return index
