"""The match index kept between runs of ``implanter match``: where, under which key, and the
quick way to find it without opening the database through SQLAlchemy.

A command that matches once and exits spends most of its time, on a large catalogue,
reading every listing and building the index. The index built by one run is kept in a file
(:mod:`matcher.index_file`) under a *key* naming everything it was built from:

- the database: for a SQLite file its real path, device and inode; else its URL (without
  password);
- its schema: the revision the database is at, and the names of the migrations shipped with
  this code (a new migration means a migration to run first);
- its catalogue: the version, the time of the last write and the number of listings, from
  the one row of ``catalogue_state`` that every write updates in its transaction (a file
  copied over the database, or restored from a backup, differs in the time of its last
  write even at the same version);
- the territory: its stations, motorway exits and commune names.

A file under any other key, of another format, truncated or corrupted, is never used: the
index is built anew and the file replaced, atomically.

This module imports neither SQLAlchemy nor the storage layer: on a SQLite catalogue,
:func:`quick_index` reads the key with the standard library's ``sqlite3`` and returns the
kept index, so a command that finds it skips those imports too. ``api.matching.cached_index``
is the full path (through the repository) that builds and keeps the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import shapely

from matcher import MatchIndex, PointSet

if TYPE_CHECKING:
    from geodata.territory import Layer, Territory

__all__ = [
    "REVISION_SQL",
    "STAMP_SQL",
    "access_points",
    "cache_key",
    "cache_path",
    "quick_index",
    "sqlite_file",
]

#: The catalogue's stamp and the schema revision, read as the driver returns them (the same
#: values through SQLAlchemy's connection and through ``sqlite3``).
STAMP_SQL = "SELECT version, updated_at, premises_count FROM catalogue_state WHERE id = 1"
REVISION_SQL = "SELECT version_num FROM alembic_version"
_MIGRATIONS = Path(__file__).resolve().parents[1] / "geodata" / "migrations" / "versions"
_OFF = ("off", "false", "0", "no", "")


def sqlite_file(url: str) -> str | None:
    """The file of a plain SQLite URL (``sqlite:///path``), or None for anything else.

    Examples
    --------
    >>> sqlite_file("sqlite:///var/implanter.db")
    'var/implanter.db'
    >>> sqlite_file("sqlite:////srv/data/cat.db")
    '/srv/data/cat.db'
    >>> sqlite_file("sqlite://") is None, sqlite_file("postgresql://h/db") is None
    (True, True)
    """
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(prefix):
            path = url[len(prefix) :]
            if path and path != ":memory:" and "?" not in path:
                return path
    return None


def cache_path(setting: str, url: str) -> Path | None:
    """The file a catalogue's index is kept in, or None when it is not kept.

    ``setting`` is ``IMPLANTER_DATABASE__INDEX_CACHE``: ``"off"``; ``"auto"`` (beside a
    SQLite file, ``<file>.match-index``; not kept for other databases); or a folder, where
    each database gets its own file (named by a hash of its URL).
    """
    choice = setting.strip()
    if choice.lower() in _OFF:
        return None
    if choice.lower() == "auto":
        path = sqlite_file(url)
        return None if path is None else Path(path + ".match-index")
    return Path(choice) / f"{hashlib.sha256(url.encode()).hexdigest()[:16]}.match-index"


def access_points(territory: Territory) -> tuple[PointSet, PointSet]:
    """The open stations and the motorway exits of a territory: what access is measured to."""
    stations = territory.layer("stations")
    interchanges = territory.layer("interchanges")
    return (
        _points(stations, stations.column("status") == "open"),
        _points(interchanges, interchanges.column("kind") == "exit"),
    )


def _points(layer: Layer, keep: np.ndarray) -> PointSet:
    """The named points of a territory layer where ``keep`` is true."""
    geometry = layer.geometry[keep]
    names = layer.column("name")[keep].astype(str).astype(object)
    return PointSet(shapely.get_x(geometry), shapely.get_y(geometry), names)


def _territory_fingerprint(
    stations: PointSet, interchanges: PointSet, commune_names: Mapping[str, str]
) -> str:
    digest = hashlib.sha256()
    for points in (stations, interchanges):
        digest.update(np.ascontiguousarray(points.lon, dtype=np.float64).tobytes())
        digest.update(np.ascontiguousarray(points.lat, dtype=np.float64).tobytes())
        digest.update(json.dumps([str(n) for n in points.names]).encode())
    digest.update(json.dumps(dict(commune_names), sort_keys=True).encode())
    return digest.hexdigest()


def _plain(value: Any) -> Any:
    return value if value is None or isinstance(value, int | float | str) else str(value)


def cache_key(
    url: str,
    revision: str | None,
    stamp: Sequence[Any] | None,
    territory: Territory,
) -> dict[str, Any]:
    """The key of an index built from this database, schema revision, catalogue stamp
    (the row of :data:`STAMP_SQL`) and territory."""
    path = sqlite_file(url)
    if path is not None:
        st = os.stat(path)
        database: dict[str, Any] = {"file": os.path.realpath(path), "dev": st.st_dev}
        database["inode"] = st.st_ino
    else:
        database = {"url": url.split("@")[-1]}  # never a password
    stations, interchanges = access_points(territory)
    migrations = sorted(p.name for p in _MIGRATIONS.glob("*.py"))
    return {
        "database": database,
        "schema": {"revision": revision, "migrations": migrations},
        "catalogue": None if stamp is None else [_plain(v) for v in stamp],
        "territory": _territory_fingerprint(stations, interchanges, territory.commune_names),
    }


def quick_index(url: str, setting: str, territory: Territory) -> MatchIndex | None:
    """The index kept for a SQLite catalogue, read with ``sqlite3`` only; None when there
    is none for the catalogue as it is now (then open the repository, which migrates the
    database if needed, and use ``api.matching.cached_index``)."""
    path = cache_path(setting, url)
    file = sqlite_file(url)
    if path is None or file is None or not path.exists() or not os.path.exists(file):
        return None
    try:
        with sqlite3.connect(f"file:{file}?mode=ro", uri=True) as conn:
            revisions = conn.execute(REVISION_SQL).fetchall()
            stamp = conn.execute(STAMP_SQL).fetchone()
        conn.close()
    except sqlite3.Error:
        return None
    if len(revisions) != 1 or stamp is None:
        return None
    from matcher.index_file import load_index

    return load_index(path, cache_key(url, revisions[0][0], stamp, territory))
