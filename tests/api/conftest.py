"""An app on a real SQLite file, its lifespan entered, with the demo catalogue."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from tests.api.live_uvicorn import serving
from tests.conftest import scratch_database


def make_settings(db_path: Path, *, demo: bool = True) -> Settings:
    settings = Settings()
    settings.database.url = f"sqlite:///{db_path}"
    settings.api.demo_on_first_run = demo
    return settings


@pytest.fixture(scope="session")
def settings_for() -> Callable[..., Settings]:
    """Build settings for a SQLite file: ``settings_for(path, demo=False)``."""
    return make_settings


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file holding the demo catalogue, built once per module."""
    return tmp_path_factory.mktemp("api") / "implanter.db"


@pytest.fixture(scope="module")
def client(demo_db: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(demo_db))) as c:
        yield c


def _require(what: str, reason: str) -> None:
    """Skip a test that needs a missing component, or fail when CI requires it."""
    if os.environ.get(f"IMPLANTER_REQUIRE_{what}") == "1":
        pytest.fail(f"{reason} (IMPLANTER_REQUIRE_{what}=1)")
    pytest.skip(reason)


def serious_violations(page: Any) -> list[str]:
    """The axe-core violations of impact serious or critical on a page open in Chromium."""
    try:
        from axe_playwright_python.sync_playwright import Axe
    except ImportError:
        _require("BROWSER", "axe-playwright-python (axe-core) is not installed")
    results = Axe().run(page)
    violations = results.response["violations"]
    assert isinstance(violations, list)
    return [
        f"{v['id']} ({v['impact']}): {v['help']}"
        for v in violations
        if v.get("impact") in ("serious", "critical")
    ]


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real headless Debian Chromium driven by Playwright."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _require("BROWSER", "playwright is not installed")
    if not Path(CHROMIUM).exists():
        _require("BROWSER", f"{CHROMIUM} not found (apt-get install chromium)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
            # Keep Chromium's config and cache out of the home directory.
            env={**os.environ, "XDG_CONFIG_HOME": str(profile), "XDG_CACHE_HOME": str(profile)},
        )
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def live_server(demo_db: Path) -> Iterator[str]:
    """The app served by a real uvicorn on a free local port; yields its base URL."""
    with serving(create_app(make_settings(demo_db))) as url:
        yield url


@contextmanager
def backend_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, label: str
) -> Iterator[str]:
    """The database of a fixture parametrised over ``BACKENDS``: a new SQLite file, or a
    scratch PostGIS database dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp(label) / 'implanter.db'}"
    else:
        with scratch_database(request.getfixturevalue("pg_admin_url")) as url:
            yield url


def empty_settings(url: str) -> Settings:
    """Settings on ``url`` without the demo catalogue (the test writes what it needs)."""
    settings = Settings()
    settings.database.url = url
    settings.api.demo_on_first_run = False
    return settings
