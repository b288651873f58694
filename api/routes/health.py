"""Liveness and readiness: is the service up and its database reachable."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..deps import RepoDep, TerritoryDep

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/health")
def health(repo: RepoDep, territory: TerritoryDep) -> dict[str, Any]:
    """Report the service status, the database backend and the catalogue size."""
    counts = repo.counts()
    return {
        "status": "ok",
        "database": repo.engine.dialect.name,
        "territory": territory.name,
        "premises": counts["premises"],
        "needs": counts["needs"],
        "catalogue_version": repo.catalogue_version(),
    }
