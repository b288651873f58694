"""Dependencies shared by the routes: settings, repository, territory, query parsing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Query, Request

from geodata.schemas import PremisesKind, Status, Use
from geodata.storage import Repository
from geodata.territory import CommuneNameError, Territory

from .settings import Settings

__all__ = [
    "PremisesFilters",
    "PremisesFiltersDep",
    "RepoDep",
    "SettingsDep",
    "TerritoryDep",
    "get_repo",
    "get_settings",
    "get_territory",
]


def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


def get_repo(request: Request) -> Repository:
    """The repository opened in the app's lifespan."""
    repo: Repository = request.app.state.repo
    return repo


def get_territory(request: Request) -> Territory:
    """The territory loaded in the app's lifespan."""
    territory: Territory = request.app.state.territory
    return territory


SettingsDep = Annotated[Settings, Depends(get_settings)]
RepoDep = Annotated[Repository, Depends(get_repo)]
TerritoryDep = Annotated[Territory, Depends(get_territory)]


def _parse_bbox(raw: str | None) -> tuple[float, float, float, float] | None:
    if raw is None or raw == "":
        return None
    parts = raw.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4:
        msg = f"bbox: '{raw}' is not four numbers minlon,minlat,maxlon,maxlat"
        raise HTTPException(status_code=400, detail=msg)
    minx, miny, maxx, maxy = values
    if minx > maxx or miny > maxy:
        msg = f"bbox: '{raw}' has its minimum above its maximum (minlon,minlat,maxlon,maxlat)"
        raise HTTPException(status_code=400, detail=msg)
    return minx, miny, maxx, maxy


@dataclass
class PremisesFilters:
    """Filters of the premises list, parsed and checked."""

    commune: str | None
    kind: PremisesKind | None
    use: Use | None
    min_surface_m2: float | None
    max_surface_m2: float | None
    status: Status | None
    bbox: tuple[float, float, float, float] | None
    limit: int
    offset: int

    def as_query(self) -> dict[str, Any]:
        """Filters as repository keyword arguments (without paging)."""
        return {
            "commune": self.commune,
            "kind": self.kind.value if self.kind else None,
            "use": self.use.value if self.use else None,
            "min_surface_m2": self.min_surface_m2,
            "max_surface_m2": self.max_surface_m2,
            "status": self.status.value if self.status else None,
            "bbox": self.bbox,
        }


def get_premises_filters(
    settings: SettingsDep,
    territory: TerritoryDep,
    commune: Annotated[
        str | None, Query(description="A commune: its INSEE code or its name, in any case")
    ] = None,
    kind: Annotated[PremisesKind | None, Query()] = None,
    use: Annotated[Use | None, Query()] = None,
    min_surface_m2: Annotated[float | None, Query(ge=0)] = None,
    max_surface_m2: Annotated[float | None, Query(ge=0)] = None,
    status: Annotated[Status | None, Query()] = None,
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat")] = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> PremisesFilters:
    """Parse the list filters, naming the field of any bad value."""
    if commune is not None:
        try:
            commune = territory.commune_code(commune)
        except CommuneNameError as exc:
            raise HTTPException(status_code=400, detail=f"commune: {exc}") from exc
    if (
        min_surface_m2 is not None
        and max_surface_m2 is not None
        and min_surface_m2 > max_surface_m2
    ):
        msg = "min_surface_m2: larger than max_surface_m2"
        raise HTTPException(status_code=400, detail=msg)
    page = settings.api.default_page_size if limit is None else limit
    if page > settings.api.max_page_size:
        msg = f"limit: at most {settings.api.max_page_size} items per page"
        raise HTTPException(status_code=400, detail=msg)
    return PremisesFilters(
        commune=commune,
        kind=kind,
        use=use,
        min_surface_m2=min_surface_m2,
        max_surface_m2=max_surface_m2,
        status=status,
        bbox=_parse_bbox(bbox),
        limit=page,
        offset=offset,
    )


PremisesFiltersDep = Annotated[PremisesFilters, Depends(get_premises_filters)]
