"""Service settings, read from ``IMPLANTER_*`` environment variables.

The sections (one pydantic model each) are defined in :mod:`api.settings_models` and
imported here; :class:`Settings` gathers them.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .settings_models import (
    DEFAULT_TERRITORY,
    ApiSettings,
    AuthSettings,
    DatabaseSettings,
    DeliverySettings,
    FreshnessSettings,
    HttpSettings,
    MapSettings,
    UploadSettings,
)

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


class Settings(BaseSettings):
    """All settings, e.g. ``IMPLANTER_DATABASE__URL`` or ``IMPLANTER_API__DEMO_ON_FIRST_RUN``."""

    model_config = SettingsConfigDict(
        env_prefix="IMPLANTER_", env_nested_delimiter="__", extra="ignore"
    )

    territory: str = Field(
        default=DEFAULT_TERRITORY,
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
