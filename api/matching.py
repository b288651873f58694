"""Glue between the catalogue and the matching engine: one match index per catalogue version."""

from __future__ import annotations

import threading

from geodata.storage import Repository
from geodata.territory import Territory
from matcher import MatchIndex

__all__ = ["IndexCache", "build_index"]


def build_index(repo: Repository, territory: Territory) -> MatchIndex:
    """Build the match index of the whole catalogue, with the territory's access points."""
    version = repo.catalogue_version()
    return MatchIndex.from_frame(
        repo.premises_frame(),
        stations=territory.stations,
        interchanges=territory.interchanges,
        version=version,
        commune_names=territory.communes["name"].to_dict(),
    )


class IndexCache:
    """Keep the match index of the current catalogue version; rebuild when it changes."""

    def __init__(self, repo: Repository, territory: Territory) -> None:
        self.repo = repo
        self.territory = territory
        self._index: MatchIndex | None = None
        self._version: int | None = None
        self._lock = threading.Lock()

    def get(self) -> MatchIndex:
        """The index for the catalogue as it is now."""
        version = self.repo.catalogue_version()
        with self._lock:
            if self._index is None or self._version != version:
                self._index = build_index(self.repo, self.territory)
                self._version = version
            return self._index
