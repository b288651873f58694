"""Liveness and readiness: is the service up and its database reachable."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from geodata.storage import catalogue

from ..deps import RepoDep, TerritoryDep
from ..index_state import IndexHolder

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/health")
def health(request: Request, repo: RepoDep, territory: TerritoryDep) -> dict[str, Any]:
    """Report the service status, the database backend and the catalogue size.

    The counts and the version come from the one row of the catalogue state (kept by every
    write), never from a scan of the tables. ``worker_pid`` and ``index_version`` tell which
    process answered and the catalogue version its match index was last brought to.
    """
    with repo.connect() as conn:
        state = catalogue.catalogue_state(conn)
    holder: IndexHolder = request.app.state.match_index
    return {
        "status": "ok",
        "database": repo.engine.dialect.name,
        "territory": territory.name,
        "premises": state.premises,
        "needs": state.needs,
        "catalogue_version": state.version,
        "worker_pid": holder.pid,
        "index_version": holder.snapshot.version,
    }
