"""Glue between the catalogue and the matching engine: build the match index of a catalogue."""

from __future__ import annotations

import numpy as np
from sqlalchemy.engine import Connection

import shapely

from geodata.storage import CatalogueChanges, Repository, catalogue
from geodata.territory import Layer, Territory
from matcher import MatchIndex, PointSet
from matcher.index import CATALOGUE_COLUMNS

__all__ = ["apply_changes", "build_index", "refresh_index"]


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
    stations = territory.layer("stations")
    interchanges = territory.layer("interchanges")
    return MatchIndex.from_columns(
        columns,
        stations=_points(stations, stations.column("status") == "open"),
        interchanges=_points(interchanges, interchanges.column("kind") == "exit"),
        version=version,
        commune_names=territory.commune_names,
    )


def _points(layer: Layer, keep: np.ndarray) -> PointSet:
    """The named points of a territory layer where ``keep`` is true."""
    geometry = layer.geometry[keep]
    names = layer.column("name")[keep].astype(str).astype(object)
    return PointSet(shapely.get_x(geometry), shapely.get_y(geometry), names)


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
