"""Every route dependency that does no I/O is a coroutine function.

FastAPI runs a plain ``def`` dependency in the thread pool: one hand-off to a worker thread
and back per dependency and per request. For the lookups of ``app.state`` (settings,
repository, territory, clock), the parsing of query parameters and the role checks, that
hand-off cost more than the work itself (``POST /match`` went from 5.0 to 3.4 ms of server
CPU per request at 100,000 premises when its four dependencies became ``async``; see
``bench/RESULTS.md``). A dependency that reads the database keeps it off the event loop
(``run_in_threadpool``), as :func:`api.auth.get_optional_account` does for a key or a
session cookie.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from api.main import create_app
from tests.api.conftest import empty_settings


def _routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif (included := getattr(route, "original_router", None)) is not None:
            yield from _routes(included.routes)
        elif hasattr(route, "routes"):
            yield from _routes(route.routes)


def _sync_dependencies(dependant: Dependant) -> Iterator[str]:
    for sub in dependant.dependencies:
        yield from _sync_dependencies(sub)
        call = sub.call
        if call is None:
            continue
        if not (
            inspect.iscoroutinefunction(call)
            or inspect.iscoroutinefunction(getattr(call, "__call__", None))  # noqa: B004
        ):
            yield f"{call.__module__}.{call.__qualname__}"


def test_no_route_hands_a_dependency_to_the_thread_pool(tmp_path: Path) -> None:
    app = create_app(empty_settings(f"sqlite:///{tmp_path / 'deps.db'}"))
    with TestClient(app):
        routes = list(_routes(app.router.routes))
        assert len(routes) > 50, "every route is walked, those of included routers too"
        found = {
            f"{sorted(r.methods)[0]} {r.path}": sorted(set(_sync_dependencies(r.dependant)))
            for r in routes
        }
    assert {route: deps for route, deps in found.items() if deps} == {}


def test_an_anonymous_request_and_a_key_are_still_told_apart(tmp_path: Path) -> None:
    """The account dependency, now a coroutine, still refuses a bad key and serves anonymous
    readers without touching the database."""
    app = create_app(empty_settings(f"sqlite:///{tmp_path / 'deps.db'}"))
    with TestClient(app) as client:
        assert client.get("/premises").status_code == 200
        refused = client.get("/premises", headers={"Authorization": "Bearer imp_nope"})
        assert refused.status_code == 401
        assert "Authorization" in refused.json()["detail"]
        basic = client.get("/premises", headers={"Authorization": "Basic eDp5"})
        assert basic.status_code == 401
