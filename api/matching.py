"""Glue between the catalogue and the matching engine: build the match index of a catalogue."""

from __future__ import annotations

import pandas as pd
from sqlalchemy.engine import Connection

from geodata.storage import CatalogueChanges, Repository, catalogue
from geodata.territory import Territory
from matcher import MatchIndex

__all__ = ["apply_changes", "build_index", "refresh_index"]


def build_index(
    repo: Repository, territory: Territory, conn: Connection | None = None
) -> MatchIndex:
    """Build the match index of the whole catalogue, with the territory's access points.

    The listings are read as columns (:func:`geodata.storage.catalogue.premises_columns`:
    one query, no GeoDataFrame, no model per row), leaving out the texts and contacts no
    criterion reads. Access is measured to open stations and to motorway exits (not to
    junctions between motorways, which give no access). The index's ``version`` is the
    catalogue version read before the listings, so :func:`refresh_index` misses no change.
    Pass ``conn`` to read on a connection the caller holds.
    """
    if conn is None:
        with repo.connect() as own:
            return build_index(repo, territory, own)
    version = catalogue.catalogue_version(conn)
    columns = catalogue.premises_columns(conn)
    ids = pd.Index(columns.pop("id"), name="id")
    return MatchIndex.from_frame(
        pd.DataFrame(columns, index=ids, copy=False),
        stations=territory.stations,
        interchanges=territory.motorway_access,
        version=version,
        commune_names=territory.communes["name"].to_dict(),
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
