"""The FastAPI application factory."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from geodata.storage import Repository
from geodata.territory import Territory, load_territory

from .auth import add_auth_handler
from .delivery import DeliveryThread
from .docs import add_offline_docs
from .errors import add_exception_handlers, document_problems
from .index_state import IndexHolder
from .middleware import HardeningMiddleware
from .openapi_examples import document_examples
from .reminders import ReminderSchedule
from .routes import (
    accounts,
    analytics,
    contacts,
    demand,
    developments,
    exports,
    freshness,
    health,
    home,
    imports,
    login,
    match,
    models,
    needs,
    notifications,
    ogc,
    outcomes,
    pages_dashboard,
    pages_listings,
    pages_lots,
    pages_map,
    pages_premises,
    pages_search,
    photos,
    premises,
    similar,
)
from .sessions import SessionKeys, resolve_secret
from .settings import Settings

__all__ = ["create_app"]

logger = logging.getLogger(__name__)


def open_catalogue(
    settings: Settings, territory: Territory, today: date | None = None
) -> Repository:
    """Open the database, bring its schema up to date and, if empty, load the demo catalogue.

    Parameters
    ----------
    settings
        Where the database is and whether to load the demo on first run.
    territory
        The territory the demo catalogue is placed in.
    today
        The day the demo listings' freshness dates count back from (default: today, UTC).
    """
    repo = Repository(settings.database.url)
    repo.migrate()
    if settings.api.demo_on_first_run and repo.counts()["premises"] == 0:
        from geodata.demo import load_demo

        n_premises, n_needs = load_demo(
            repo,
            territory=territory,
            seed=settings.api.demo_seed,
            reference_date=today or datetime.now(UTC).date(),
        )
        logger.info("first run: loaded %d demo premises and %d needs", n_premises, n_needs)
        if settings.api.demo_photos:
            from geodata.demo_photos import add_demo_photos

            add_demo_photos(repo, listings=settings.api.demo_photos)
    return repo


def utc_now() -> datetime:
    """The current time, aware, in UTC: the app's default clock."""
    return datetime.now(UTC)


def create_app(
    settings: Settings | None = None, *, clock: Callable[[], datetime] | None = None
) -> FastAPI:
    """Build the Implanter app.

    Parameters
    ----------
    settings
        The settings to use; read from ``IMPLANTER_*`` environment variables when omitted.
    clock
        What "now" is for the routes (freshness dates, ages, what is hidden), as
        ``app.state.clock``: a callable returning an aware datetime (default: the system
        clock, UTC). Tests replace it to move time.
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.territory = load_territory(settings.territory)
        app.state.repo = open_catalogue(settings, app.state.territory, app.state.clock().date())
        # Built once per process; each request matches against its current snapshot.
        app.state.match_index = IndexHolder(app.state.repo, app.state.territory)
        # The key of the session and CSRF cookies: the setting, else the database's (shared).
        secret = resolve_secret(settings.auth, app.state.repo, app.state.clock())
        app.state.session_keys = SessionKeys(secret)
        # Webhook deliveries of the alerts outbox, unless `implanter worker` does them.
        # It also writes the owners' reminders of listings left unconfirmed (the outbox).
        reminders = ReminderSchedule(app.state.repo, settings.freshness, app.state.clock)
        deliverer = DeliveryThread(app.state.repo, settings.delivery, before_pass=reminders)
        if settings.delivery.in_app:
            deliverer.start()
        # What start-up built (modules, territory layers, the first index: ~220,000 objects the
        # collector tracks) lives as long as the process: kept out of the collector's full
        # passes, which took ~100 ms each and landed in whichever request triggered them.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()  # an app stopped in a longer-lived process (tests) leaves nothing frozen
            deliverer.stop(timeout=settings.delivery.timeout_seconds + 1)
            app.state.repo.dispose()

    app = FastAPI(
        title="Implanter",
        summary="Business premises and companies: catalogue, matching and maps.",
        description="The catalogue of business premises of a territory, companies' needs "
        "and the matching between them. Messages and errors are in French unless the "
        "request asks for English (`Accept-Language: en` or `?lang=en`); every error is "
        "`application/problem+json` naming the field and the reason.",
        version="0.1.0",
        lifespan=lifespan,
        # Served by add_offline_docs from the app's own assets, not from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    # The time as sessions, freshness and the sign-in throttle see it (a test may move it).
    app.state.clock = clock or utc_now
    add_exception_handlers(app)
    add_auth_handler(app)
    document_problems(app)
    document_examples(app)
    if settings.http.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.http.cors_origins,
            allow_methods=["GET", "HEAD", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-Match", "If-None-Match"],
            expose_headers=["ETag", "Location", "X-Request-ID"],
        )
    # Added last, so outermost: it sees every response, CORS preflights and errors included.
    app.add_middleware(
        HardeningMiddleware,
        settings=settings.http,
        large_bodies={**pages_listings.large_bodies(settings), **photos.large_bodies(settings)},
    )
    app.include_router(home.router)
    app.include_router(health.router)
    app.include_router(premises.router)
    app.include_router(photos.router)
    app.include_router(freshness.router)
    app.include_router(accounts.router)
    app.include_router(login.router)
    app.include_router(match.router)
    app.include_router(needs.router)
    app.include_router(demand.router)
    app.include_router(analytics.router)
    app.include_router(similar.router)
    app.include_router(developments.router)
    app.include_router(contacts.router)
    app.include_router(outcomes.router)
    app.include_router(models.router)
    app.include_router(ogc.router)
    add_offline_docs(app)
    app.include_router(notifications.router)
    app.include_router(pages_map.router)
    app.include_router(exports.router)
    app.include_router(imports.router)
    app.include_router(pages_listings.router)
    app.include_router(pages_dashboard.router)
    app.include_router(pages_lots.router)
    app.include_router(pages_search.router)
    app.include_router(pages_premises.router)
    return app
