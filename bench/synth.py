"""Synthetic catalogues and needs over the territory, for benchmarks (seeded, vectorised)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely

from geodata.schemas import NeedIn, PremisesKind

__all__ = ["GOSB_BBOX", "load_territory_or_none", "synthetic_catalogue", "synthetic_needs"]

#: Approximate bounding box of Grand-Orly Seine Bièvre (lon_min, lat_min, lon_max, lat_max).
GOSB_BBOX = (2.33, 48.68, 2.50, 48.83)

_KINDS = np.array([k.value for k in PremisesKind])  # enum order, as _KIND_P
_KIND_P = np.array([0.30, 0.30, 0.15, 0.07, 0.08, 0.05, 0.05])
_USE_SETS = np.array(
    [
        "logistics",
        "production,logistics",
        "production",
        "craft,repair",
        "",
        "food_processing,production",
        "lab_rd",
        "construction,logistics",
        "production,craft",
        "logistics,repair",
    ]
)
_USE_P = np.array([0.22, 0.14, 0.14, 0.08, 0.10, 0.05, 0.05, 0.07, 0.08, 0.07])
_FALLBACK_COMMUNES = np.array(
    [
        "94001",
        "94003",
        "91027",
        "94016",
        "94021",
        "94022",
        "94034",
        "94037",
        "94041",
        "91326",
        "94038",
        "94043",
        "91432",
        "94054",
        "91479",
        "94065",
        "91589",
        "94073",
        "94074",
        "94076",
        "94077",
        "94078",
        "91687",
        "94081",
    ]
)


def load_territory_or_none() -> Any:
    """The default territory, or None when its module or data are missing."""
    try:
        from geodata.territory import default_territory

        return default_territory()
    except Exception:
        return None


def _points(n: int, rng: np.random.Generator, territory: Any) -> tuple[np.ndarray, np.ndarray]:
    if territory is None:
        lon0, lat0, lon1, lat1 = GOSB_BBOX
        return rng.uniform(lon0, lon1, n), rng.uniform(lat0, lat1, n)
    boundary = territory.boundary
    shapely.prepare(boundary)
    lon0, lat0, lon1, lat1 = boundary.bounds
    lons: list[np.ndarray] = []
    lats: list[np.ndarray] = []
    got = 0
    while got < n:
        m = int((n - got) * 1.8) + 64
        lon = rng.uniform(lon0, lon1, m)
        lat = rng.uniform(lat0, lat1, m)
        inside = shapely.contains_xy(boundary, lon, lat)
        lons.append(lon[inside])
        lats.append(lat[inside])
        got += int(inside.sum())
    return np.concatenate(lons)[:n], np.concatenate(lats)[:n]


def synthetic_catalogue(n: int, seed: int = 0, territory: Any = None) -> gpd.GeoDataFrame:
    """``n`` random listings inside the territory (or its bounding box), index = 1…n.

    Columns follow ``PremisesCreate``; about 10 % of optional values are missing, 85 % of the
    listings are available.
    """
    rng = np.random.default_rng(seed)
    lon, lat = _points(n, rng, territory)
    if territory is not None:
        communes = np.asarray(territory.commune_at(lon, lat), dtype=object)
    else:
        communes = rng.choice(_FALLBACK_COMMUNES, n).astype(object)
    surface = np.round(rng.lognormal(6.9, 1.0, n), -1) + 40.0
    divisible = rng.random(n) < 0.2
    min_lot = np.where(
        divisible & (rng.random(n) < 0.85),
        np.maximum(np.round(surface * rng.uniform(0.1, 0.6, n), -1), 20.0),
        np.nan,
    )
    tenure = rng.choice(np.array(["rent", "sale", "both"]), n, p=[0.72, 0.14, 0.14])
    rent = np.where(tenure != "sale", np.round(rng.uniform(45.0, 160.0, n)), np.nan)
    rent[rng.random(n) < 0.05] = np.nan
    sale = np.where(tenure != "rent", np.round(surface * rng.uniform(900.0, 2800.0, n), -3), np.nan)

    def maybe(values: np.ndarray, p: float = 0.1) -> np.ndarray:
        out = values.astype(np.float64)
        out[rng.random(n) < p] = np.nan
        return out

    base = np.datetime64("2026-01-01", "D")
    avail = (base + rng.integers(0, 500, n).astype("timedelta64[D]")).astype("datetime64[ns]")
    avail[rng.random(n) < 0.4] = np.datetime64("NaT")
    verified = pd.Series(
        pd.Timestamp("2026-05-01", tz="UTC") - pd.to_timedelta(rng.integers(0, 700, n), unit="D")
    )
    verified[rng.random(n) < 0.1] = pd.NaT
    icpe = pd.Series(rng.random(n) < 0.6, dtype=object)
    icpe[rng.random(n) < 0.25] = None
    ids = np.arange(1, n + 1, dtype=np.int64)
    frame = pd.DataFrame(
        {
            "kind": rng.choice(_KINDS, n, p=_KIND_P),
            "uses": rng.choice(_USE_SETS, n, p=_USE_P),
            "surface_m2": surface,
            "divisible": divisible,
            "min_lot_m2": min_lot,
            "ceiling_height_m": maybe(np.round(rng.uniform(2.8, 14.0, n), 1)),
            "floor_load_t_m2": maybe(np.round(rng.uniform(0.5, 6.0, n), 1)),
            "loading_docks": maybe(rng.integers(0, 10, n)),
            "ground_level_doors": maybe(rng.integers(0, 6, n)),
            "power_kva": maybe(np.round(rng.uniform(30.0, 1000.0, n), -1)),
            "icpe_allowed": icpe,
            "tenure": tenure,
            "rent_eur_m2_year": rent,
            "sale_price_eur": sale,
            "charges_eur_m2_year": maybe(np.round(rng.uniform(5.0, 35.0, n)), 0.3),
            "available_from": avail,
            "status": rng.choice(
                np.array(["available", "under_offer", "let", "sold", "withdrawn"]),
                n,
                p=[0.85, 0.05, 0.04, 0.03, 0.03],
            ),
            "commune_insee": communes,
            "lon": lon,
            "lat": lat,
            "zone_id": None,
            "last_verified_at": verified.to_numpy(),
            "title": pd.Series(ids).map("Local synthétique {}".format).to_numpy(dtype=object),
        },
        index=pd.Index(ids, name="id"),
    )
    return gpd.GeoDataFrame(frame, geometry=shapely.points(lon, lat), crs=4326)


def synthetic_needs(m: int, seed: int = 0, territory: Any = None) -> list[NeedIn]:
    """``m`` random but plausible needs: surfaces, uses, rent or purchase ceilings, a current
    site, sometimes communes, a station or interchange maximum and technical minimums."""
    rng = np.random.default_rng(seed)
    lon, lat = _points(m, rng, territory)
    codes = (
        np.asarray(territory.commune_at(lon, lat), dtype=object)
        if territory is not None
        else rng.choice(_FALLBACK_COMMUNES, m).astype(object)
    )
    uses = [
        "production",
        "logistics",
        "craft",
        "lab_rd",
        "food_processing",
        "construction",
        "repair",
    ]
    needs = []
    for i in range(m):
        lo = float(np.round(rng.lognormal(6.7, 0.9), -1) + 50)
        hi = float(np.round(lo * rng.uniform(1.1, 2.0), -1))
        tenure = str(rng.choice(["rent", "buy", "either"], p=[0.75, 0.1, 0.15]))
        data: dict[str, Any] = {
            "company_name": f"Entreprise {i}",
            "surface_min_m2": lo,
            "surface_max_m2": hi,
            "uses": list(rng.choice(uses, size=int(rng.integers(1, 3)), replace=False)),
            "tenure": tenure,
            "places": [{"label": "Site actuel", "lon": float(lon[i]), "lat": float(lat[i])}],
        }
        if tenure != "buy":
            data["max_rent_eur_m2_year"] = float(np.round(rng.uniform(60, 150)))
        if tenure != "rent" and rng.random() < 0.7:
            data["max_sale_price_eur"] = float(np.round(hi * rng.uniform(1000, 2500), -4))
        if rng.random() < 0.3:
            data["communes"] = [str(codes[i])]
        if rng.random() < 0.3:
            data["max_station_distance_m"] = float(rng.choice([800, 1500, 3000]))
        if rng.random() < 0.2:
            data["max_interchange_distance_m"] = float(rng.choice([2000, 5000]))
        if rng.random() < 0.3:
            data["min_ceiling_height_m"] = float(rng.choice([4, 6, 8]))
        if rng.random() < 0.2:
            data["min_loading_docks"] = int(rng.integers(1, 4))
        required = ["surface", "use", "budget"]
        if rng.random() < 0.3:
            required.append("location")
        data["required"] = required
        needs.append(NeedIn.model_validate(data))
    return needs
