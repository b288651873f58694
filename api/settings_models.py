"""The sections of the service settings (:class:`api.settings.Settings`), as plain pydantic
models, and the few of them `implanter match` reads.

Kept apart from :mod:`api.settings` for start-up speed only: this module does not import
pydantic-settings (about 30 ms), so the command line reads what `match` needs without it
(:func:`match_settings`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator

__all__ = [
    "DEFAULT_DATABASE_URL",
    "DEFAULT_TERRITORY",
    "SETTINGS_FIELDS",
    "ApiSettings",
    "AuthSettings",
    "DatabaseSettings",
    "DeliverySettings",
    "FreshnessSettings",
    "HttpSettings",
    "MapSettings",
    "MatchSettings",
    "UploadSettings",
    "match_settings",
]

DEFAULT_DATABASE_URL = "sqlite:///var/implanter.db"
DEFAULT_TERRITORY = "gosb"


class DatabaseSettings(BaseModel):
    """Where the catalogue is stored: a SQLite file (default) or PostgreSQL with PostGIS."""

    url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL: sqlite:///path.db or postgresql+psycopg://user@host/db",
    )
    index_cache: str = Field(
        default="auto",
        description="Where `implanter match` keeps the built match index between runs: "
        "'auto' beside a SQLite file (<file>.match-index), 'off' nowhere, or a folder. "
        "The file is used only for the very catalogue, schema and territory it was built "
        "from, and rebuilt otherwise.",
    )


class ApiSettings(BaseModel):
    """HTTP behaviour."""

    environment: Literal["dev", "prod"] = "dev"
    demo_on_first_run: bool = Field(
        default=True, description="Load the demo catalogue when the database is empty."
    )
    demo_seed: int = 2018
    demo_photos: int = Field(
        default=0,
        ge=0,
        le=50,
        description="With the demo catalogue loaded on first run, give this many of its "
        "listings two drawn, obviously fictitious photos each (`make run` sets 6).",
    )
    default_page_size: int = Field(default=50, ge=1)
    max_page_size: int = Field(default=500, ge=1)

    @model_validator(mode="after")
    def _pages(self) -> ApiSettings:
        if self.default_page_size > self.max_page_size:
            msg = "default_page_size must not exceed max_page_size"
            raise ValueError(msg)
        return self


#: The Content-Security-Policy of every response: only the app's own scripts, styles, images
#: and connections (plus inline styles, used by the server-rendered pages), never framed.
DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


class HttpSettings(BaseModel):
    """Limits, hosts, CORS and security headers, applied to every route by one middleware."""

    base_url: str | None = Field(
        default=None,
        description="Public base URL (e.g. https://implanter.example.org) used to build "
        "absolute links; when unset, links are relative and the Host header is never used.",
    )
    trusted_hosts: list[str] = Field(
        default=["*"],
        description="Host names accepted in the Host header ('*.example.org' allowed); "
        "'*' accepts any. Other hosts get 400.",
    )
    cors_origins: list[str] = Field(
        default=[], description="Origins allowed to call the API from a browser; none by default."
    )
    max_body_bytes: int = Field(
        default=1_048_576, ge=0, description="Largest request body accepted (413 above)."
    )
    max_upload_bytes: int = Field(
        default=20 * 2**20,
        ge=0,
        le=100 * 2**20,
        description="Largest request body of a file upload (POST /imports, multipart), "
        "413 above; other requests keep max_body_bytes.",
    )
    max_url_length: int = Field(
        default=4096, ge=64, le=60_000, description="Longest path and query accepted (414 above)."
    )
    content_security_policy: str = DEFAULT_CSP
    docs_content_security_policy: str = Field(
        default=(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
            "object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
        ),
        description="The policy of the interactive documentation (/docs, /redoc): the app's "
        "own scripts only (no CDN), plus the inline styles and blob workers of ReDoc.",
    )
    referrer_policy: str = "strict-origin-when-cross-origin"
    public_cache_control: str = Field(
        default="public, no-cache",
        description="Cache-Control of successful anonymous GET responses (cacheable, "
        "revalidated with the ETag); responses to requests with credentials are no-store.",
    )
    hsts_max_age: int = Field(
        default=0, ge=0, description="Strict-Transport-Security max-age; 0 sends no header."
    )

    @model_validator(mode="after")
    def _check(self) -> HttpSettings:
        if self.base_url is not None and not re.fullmatch(
            r"https?://[^/?#\s]+(/[^?#\s]*)?", self.base_url
        ):
            msg = (
                f"base_url: {self.base_url!r} is not an http(s) URL without query or fragment; "
                "write it like https://implanter.example.org"
            )
            raise ValueError(msg)
        if not self.trusted_hosts:
            msg = "trusted_hosts: empty, so every request would be refused; use ['*'] to accept any"
            raise ValueError(msg)
        return self


class AuthSettings(BaseModel):
    """Web sign-in: the session cookie and how failed logins are slowed down."""

    session_secret: SecretStr | None = Field(
        default=None,
        description="Key that signs the session and CSRF cookies (at least 32 characters); "
        "when unset, one is generated once and kept in the database, shared by every worker.",
    )
    session_max_age_seconds: int = Field(
        default=8 * 3600, ge=60, description="How long a web session lasts after sign-in."
    )
    login_max_failures: int = Field(
        default=5, ge=1, description="Failed logins on one e-mail before sign-in is slowed."
    )
    login_max_failures_per_ip: int = Field(
        default=20, ge=1, description="Failed logins from one client address before slowing."
    )
    login_window_seconds: int = Field(
        default=900, ge=1, description="A failure count restarts after this long without one."
    )
    login_delay_seconds: int = Field(
        default=30,
        ge=1,
        description="Wait imposed at the threshold; it doubles with each further failure.",
    )
    login_max_delay_seconds: int = Field(
        default=3600, ge=1, description="The longest wait imposed between two attempts."
    )

    @model_validator(mode="after")
    def _check(self) -> AuthSettings:
        if self.session_secret is not None and len(self.session_secret.get_secret_value()) < 32:
            msg = (
                "session_secret: shorter than 32 characters; use a long random value "
                "(python -c 'import secrets; print(secrets.token_urlsafe(48))') or leave it "
                "unset to let the service generate one"
            )
            raise ValueError(msg)
        return self


class MapSettings(BaseModel):
    """Map tiles; the JavaScript and CSS are always served by the app itself."""

    tiles_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    tiles_attribution: str = "© OpenStreetMap contributors"


class DeliverySettings(BaseModel):
    """Webhook delivery of the alerts outbox (see :mod:`api.delivery`).

    A failed attempt is retried after ``backoff_base_seconds × 2^(attempt − 1)`` seconds (at
    most ``backoff_max_seconds``), until ``max_attempts`` attempts: with the defaults, retries
    come 30 s, 1, 2, 4, 8, 16 and 32 min after each failure, and the notification is given up
    (shown to the staff in ``GET /staff/deliveries``) about 64 minutes after its first attempt.
    """

    in_app: bool = Field(
        default=True,
        description="Deliver from a background thread of each app process; turn off when "
        "`implanter worker` runs apart.",
    )
    poll_seconds: float = Field(
        default=2.0, gt=0, le=3600, description="Pause between two looks at the outbox."
    )
    timeout_seconds: float = Field(
        default=10.0, gt=0, le=300, description="Time allowed to each webhook request."
    )
    max_attempts: int = Field(default=8, ge=1, le=100, description="Attempts before giving up.")
    backoff_base_seconds: float = Field(
        default=30.0, ge=0, le=86_400, description="Wait after the first failed attempt."
    )
    backoff_max_seconds: float = Field(
        default=3600.0, ge=0, le=7 * 86_400, description="Longest wait between two attempts."
    )
    batch_size: int = Field(
        default=50, ge=1, le=10_000, description="Most deliveries made in one look."
    )
    allow_private_networks: bool = Field(
        default=False,
        description="Allow webhooks on loopback, private or link-local addresses (an intranet "
        "receiver, a test). Off by default: a webhook URL must not make the server reach its "
        "own network; the address connected to is checked after name resolution.",
    )


class FreshnessSettings(BaseModel):
    """When an unconfirmed listing is flagged to its owner, and when it leaves the public view.

    A listing's freshness date is ``last_verified_at``: when its owner (or the staff) last
    created, edited, changed the status of or confirmed it (``POST /premises/{id}/confirm``).
    Ages count whole days in UTC: a listing confirmed on day D is flagged from day
    D + ``flag_days`` and hidden from the public search and from matching from day
    D + ``hide_days`` + 1 (00:00 UTC), until it is confirmed or edited again.
    """

    flag_days: int = Field(
        default=60,
        ge=1,
        le=3650,
        description="Days without confirmation after which a listing is flagged to its owner "
        "(GET /me/reminders) and to the staff (GET /staff/stale).",
    )
    hide_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="Days without confirmation after which a listing leaves the public search "
        "and matching (its owner and the staff still see it).",
    )
    remind_every_seconds: float = Field(
        default=3600.0,
        ge=1,
        le=7 * 86_400,
        description="How often the deliverers (the app's thread, `implanter worker`) look for "
        "listings newly flagged and write their owners' reminders (kind 'stale_listing') to "
        "the alerts outbox.",
    )

    @model_validator(mode="after")
    def _order(self) -> FreshnessSettings:
        if self.flag_days > self.hide_days:
            msg = (
                f"flag_days: {self.flag_days} is more than hide_days ({self.hide_days}); an "
                "owner must be flagged before the listing is hidden"
            )
            raise ValueError(msg)
        return self


class UploadSettings(BaseModel):
    """Listing files sent from the pages ("Mes annonces": import of a spreadsheet)."""

    max_bytes: int = Field(
        default=20 * 1_048_576,
        ge=1024,
        le=100 * 1_048_576,
        description="Largest listing file accepted from a page (bytes); the page says so "
        "above it. Its request may exceed http.max_body_bytes by this much.",
    )
    staging_dir: str | None = Field(
        default=None,
        description="Where a checked file waits for its owner's 'Importer' (default: a "
        "folder in the system's temporary directory); files are removed after an hour.",
    )
    photo_max_bytes: int = Field(
        default=8 * 2**20,
        ge=1024,
        le=50 * 2**20,
        description="Largest photo file accepted (bytes; 422 naming `file` above, 413 when "
        "the request itself is larger than this plus 64 KiB).",
    )
    photo_max_pixels: int = Field(
        default=40_000_000,
        ge=10_000,
        le=200_000_000,
        description="Largest photo accepted in pixels (width x height), read from the "
        "image's header before decoding it: refuses decompression bombs.",
    )
    photo_max_side: int = Field(
        default=1600,
        ge=100,
        le=8000,
        description="Longest side of a stored photo (pixels); larger photos are reduced.",
    )
    photos_per_listing: int = Field(
        default=20, ge=1, le=200, description="Most photos one listing may have."
    )


@dataclass(frozen=True)
class MatchSettings:
    """What `implanter match` reads of the settings: the same fields as in ``Settings``."""

    territory: str
    database: DatabaseSettings
    freshness: FreshnessSettings


#: The variables :func:`match_settings` reads itself, by section (pydantic-settings compares
#: names in lower case: ``IMPLANTER_DATABASE__URL`` or ``implanter_database__url``).
_MATCH_SECTIONS: dict[str, type[DatabaseSettings] | type[FreshnessSettings]] = {
    "database": DatabaseSettings,
    "freshness": FreshnessSettings,
}
_PREFIX = "implanter_"
#: The fields of ``Settings`` (a test checks it): a variable naming none of them is ignored
#: by ``Settings()`` (such as ``IMPLANTER_REQUIRE_POSTGIS`` of the tests), so here too.
SETTINGS_FIELDS = frozenset(
    {"territory", "database", "api", "http", "auth", "maps", "delivery", "freshness", "uploads"}
)


def match_settings(environ: Mapping[str, str]) -> MatchSettings | None:
    """The territory, database and freshness settings from ``IMPLANTER_*`` variables,
    exactly as ``Settings()`` reads them, or None when it cannot be sure to.

    None (then build ``Settings()``, which also reports any error) when a variable of
    another setting than ``IMPLANTER_TERRITORY`` and the fields of these two sections is set
    (say a section as JSON, or another section, which ``Settings()`` would check), when two
    variables differ only in case, or when a value is invalid. Variables that name no
    setting are ignored, as ``Settings()`` ignores them.
    """
    seen: set[str] = set()
    territory = DEFAULT_TERRITORY
    fields: dict[str, dict[str, str]] = {name: {} for name in _MATCH_SECTIONS}
    for key, value in environ.items():
        name = key.lower()
        if not name.startswith(_PREFIX):
            continue
        if name in seen:
            return None
        seen.add(name)
        name = name[len(_PREFIX) :]
        section, _, field = name.partition("__")
        if name == "territory":
            territory = value
        elif section in _MATCH_SECTIONS and field in _MATCH_SECTIONS[section].model_fields:
            fields[section][field] = value
        elif section in SETTINGS_FIELDS:
            return None
    try:
        database = DatabaseSettings.model_validate(fields["database"])
        freshness = FreshnessSettings.model_validate(fields["freshness"])
    except ValueError:  # pydantic's ValidationError: let Settings() report it
        return None
    return MatchSettings(territory=territory, database=database, freshness=freshness)
