"""Data of the matcher tests: a small synthetic catalogue, stations and needs, in code."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely

from geodata.schemas import NeedIn, PremisesKind
from matcher import PointSet

COMMUNES = ["94065", "94073", "94054", "94081", "94037", "94041", "94074", "91027"]
KINDS = [k.value for k in PremisesKind]
USE_SETS = [
    "logistics",
    "production,logistics",
    "production",
    "craft,repair",
    "",
    "food_processing,production",
    "lab_rd",
    "construction,logistics",
]
NOW = datetime(2026, 6, 1, tzinfo=UTC)

# Points near Rungis / Thiais / Orly / Vitry: (lon, lat, name)
STATIONS = PointSet(
    np.array([2.3497, 2.3730, 2.3862, 2.4030, 2.3600]),
    np.array([48.7470, 48.7640, 48.7290, 48.7900, 48.8150]),
    np.array(
        ["Rungis-La Fraternelle", "Thiais-Orly", "Aéroport d'Orly", "Vitry-sur-Seine", "Gentilly"],
        dtype=object,
    ),
)
INTERCHANGES = PointSet(
    np.array([2.3600, 2.3950, 2.3350]),
    np.array([48.7550, 48.7700, 48.7800]),
    np.array(["A86 sortie 21", "A86 sortie 23", "A6 sortie 6"], dtype=object),
)


def make_catalogue(n: int = 300, seed: int = 0) -> gpd.GeoDataFrame:
    """A random catalogue over the GOSB bounding box, with some missing values."""
    rng = np.random.default_rng(seed)
    lon = rng.uniform(2.33, 2.45, n)
    lat = rng.uniform(48.70, 48.82, n)
    surface = np.round(rng.lognormal(7.0, 0.9, n), -1) + 50
    divisible = rng.random(n) < 0.25
    min_lot = np.where(divisible & (rng.random(n) < 0.8), np.round(surface * 0.3, -1), np.nan)
    tenure = rng.choice(["rent", "sale", "both"], n, p=[0.7, 0.15, 0.15])
    rent = np.where(tenure != "sale", np.round(rng.uniform(50, 140, n)), np.nan)
    rent[rng.random(n) < 0.05] = np.nan
    sale = np.where(tenure != "rent", np.round(surface * rng.uniform(900, 2500, n), -3), np.nan)

    def maybe(values: np.ndarray, p: float) -> np.ndarray:
        out = values.astype(float)
        out[rng.random(n) < p] = np.nan
        return out

    avail = pd.to_datetime("2026-01-01") + pd.to_timedelta(rng.integers(0, 400, n), unit="D")
    avail = pd.Series(avail).where(rng.random(n) < 0.6)
    verified = pd.Series(
        pd.Timestamp("2026-05-01", tz="UTC") - pd.to_timedelta(rng.integers(0, 500, n), unit="D")
    ).where(rng.random(n) < 0.9)
    icpe = pd.Series(rng.choice([True, False], n), dtype=object)
    icpe[rng.random(n) < 0.3] = None
    frame = pd.DataFrame(
        {
            "kind": rng.choice(KINDS, n),
            "uses": rng.choice(USE_SETS, n),
            "surface_m2": surface,
            "divisible": divisible,
            "min_lot_m2": min_lot,
            "ceiling_height_m": maybe(np.round(rng.uniform(3, 14, n), 1), 0.2),
            "floor_load_t_m2": maybe(np.round(rng.uniform(0.5, 6, n), 1), 0.3),
            "loading_docks": maybe(rng.integers(0, 8, n), 0.2),
            "ground_level_doors": maybe(rng.integers(0, 5, n), 0.2),
            "power_kva": maybe(np.round(rng.uniform(30, 800, n), -1), 0.3),
            "icpe_allowed": icpe,
            "tenure": tenure,
            "rent_eur_m2_year": rent,
            "sale_price_eur": sale,
            "charges_eur_m2_year": maybe(np.round(rng.uniform(5, 30, n)), 0.4),
            "available_from": avail.to_numpy(),
            "status": rng.choice(
                ["available", "under_offer", "let", "sold", "withdrawn"],
                n,
                p=[0.8, 0.08, 0.05, 0.04, 0.03],
            ),
            "commune_insee": rng.choice(COMMUNES, n),
            "lon": lon,
            "lat": lat,
            "zone_id": None,
            "last_verified_at": verified.to_numpy(),
            "title": [f"Local {i}" for i in range(n)],
        },
        index=pd.Index(1000 + rng.permutation(n) * 3, name="id"),
    )
    return gpd.GeoDataFrame(frame, geometry=shapely.points(lon, lat), crs=4326)


def need(**kw: Any) -> NeedIn:
    """A need (territory checks off), defaults: 800–1 200 m² of storage, rent under 90 €."""
    data: dict[str, Any] = {
        "company_name": "Test SARL",
        "surface_min_m2": 800,
        "surface_max_m2": 1200,
        "uses": ["logistics"],
        "tenure": "rent",
        "max_rent_eur_m2_year": 90,
    }
    data.update(kw)
    return NeedIn.model_validate(data)
