"""Glue between the catalogue and the matching engine: build the match index of a catalogue."""

from __future__ import annotations

from geodata.storage import Repository
from geodata.territory import Territory
from matcher import MatchIndex

__all__ = ["build_index"]


def build_index(repo: Repository, territory: Territory) -> MatchIndex:
    """Build the match index of the whole catalogue, with the territory's access points.

    Access is measured to open stations and to motorway exits (not to junctions between
    motorways, which give no access).
    """
    version = repo.catalogue_version()
    return MatchIndex.from_frame(
        repo.premises_frame(),
        stations=territory.stations,
        interchanges=territory.motorway_access,
        version=version,
        commune_names=territory.communes["name"].to_dict(),
    )
