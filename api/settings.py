"""Service settings, read from ``IMPLANTER_*`` environment variables."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ApiSettings", "DatabaseSettings", "MapSettings", "Settings"]

DEFAULT_DATABASE_URL = "sqlite:///var/implanter.db"


class DatabaseSettings(BaseModel):
    """Where the catalogue is stored: a SQLite file (default) or PostgreSQL with PostGIS."""

    url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="SQLAlchemy URL: sqlite:///path.db or postgresql+psycopg://user@host/db",
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


class MapSettings(BaseModel):
    """Map tiles; the JavaScript and CSS are always served by the app itself."""

    tiles_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    tiles_attribution: str = "© OpenStreetMap contributors"


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
    maps: MapSettings = MapSettings()
