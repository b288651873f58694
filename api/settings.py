"""Service settings, read from ``IMPLANTER_*`` environment variables."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "ApiSettings",
    "AuthSettings",
    "DatabaseSettings",
    "DeliverySettings",
    "FreshnessSettings",
    "HttpSettings",
    "MapSettings",
    "Settings",
    "UploadSettings",
]

DEFAULT_DATABASE_URL = "sqlite:///var/implanter.db"


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


class Settings(BaseSettings):
    """All settings, e.g. ``IMPLANTER_DATABASE__URL`` or ``IMPLANTER_API__DEMO_ON_FIRST_RUN``."""

    model_config = SettingsConfigDict(
        env_prefix="IMPLANTER_", env_nested_delimiter="__", extra="ignore"
    )

    territory: str = Field(
        default="gosb",
        description="The territory served: a folder name under geodata/territories/ or the "
        "path of a territory folder (IMPLANTER_TERRITORY).",
    )
    database: DatabaseSettings = DatabaseSettings()
    api: ApiSettings = ApiSettings()
    http: HttpSettings = HttpSettings()
    auth: AuthSettings = AuthSettings()
    maps: MapSettings = MapSettings()
    delivery: DeliverySettings = DeliverySettings()

    freshness: FreshnessSettings = FreshnessSettings()
    uploads: UploadSettings = UploadSettings()
