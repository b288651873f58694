"""Demand analytics: hot spots, unmet demand, supply/demand balance, most wanted bands, time to let.

Pure functions over needs (:class:`~geodata.schemas.NeedIn`), a :class:`~matcher.index.MatchIndex`
(the supply) and, for the time to let, a table of status changes. Nothing here reads a
database: the API and the notebooks pass what they read.

- :func:`need_frame` turns needs into one row each (wanted surface and its band, uses,
  communes, a representative place in Lambert-93 metres and the region of the territory);
  :func:`need_places` gives every place a need names, weighted so that a need counts once.
- :func:`hotspots` clusters those places with scikit-learn's DBSCAN (or HDBSCAN) in metres.
- :func:`best_scores` gives every need's best matching score with the batch engine
  (:func:`matcher.batch_match`, ``k=1``); :func:`unmet_demand` counts the needs whose best
  score stays under a threshold, by commune, use and size band.
- :func:`balance` sets available supply against demand per commune, building floor area and
  land kept apart (never added together).
- :func:`most_wanted` ranks size × use (× region) bands by active needs per listing offered,
  with a sentence in French and English (:func:`wanted_sentence`).
- :func:`time_to_let` measures, from a history of status changes, the days from "available"
  to "let" or "sold" by kind and size band.

A need asking for several uses (or naming several communes) counts once in each of them:
the counts by use or by commune may add up to more than the number of needs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

import shapely

from geodata.schemas import USE_LABELS, NeedIn
from matcher._codes import KINDS, STATUS_CODE, USE_BIT, USES
from matcher._geo import project_geometry, to_lambert93
from matcher.explain import fmt_number
from matcher.index import MatchIndex
from matcher.needs import NeedTable

__all__ = [
    "NO_USE",
    "REGIONS",
    "SIZE_BANDS",
    "balance",
    "band_label",
    "best_scores",
    "hotspots",
    "most_wanted",
    "need_frame",
    "need_places",
    "region_of",
    "size_band",
    "supply_frame",
    "time_to_let",
    "unmet_demand",
    "wanted_sentence",
]

#: Edges (m²) of the size bands: 0–200, 200–400, 400–1 000, 1 000–2 500, 2 500–5 000,
#: 5 000–10 000 and 10 000 and more. Small-business village units are 150–400 m².
SIZE_BANDS: tuple[float, ...] = (200.0, 400.0, 1_000.0, 2_500.0, 5_000.0, 10_000.0)

#: The label of a need that states no use.
NO_USE = "unspecified"

#: Regions of the territory (thirds of its north–south extent), with their French and English
#: phrases.
REGIONS: dict[str, tuple[str, str]] = {
    "north": ("dans le nord du territoire", "in the north of the territory"),
    "centre": ("dans le centre du territoire", "in the centre of the territory"),
    "south": ("dans le sud du territoire", "in the south of the territory"),
}

#: "of craft space" in both languages, for the sentences.
_USE_PHRASES: dict[str, tuple[str, str]] = {
    "production": ("de production", "of production space"),
    "logistics": ("de logistique", "of logistics space"),
    "craft": ("d'artisanat", "of craft space"),
    "lab_rd": ("de laboratoire / R&D", "of lab / R&D space"),
    "food_processing": ("d'agroalimentaire", "of food-processing space"),
    "construction": ("pour le BTP", "for construction trades"),
    "repair": ("de réparation / maintenance", "of repair space"),
    NO_USE: ("tous usages", "for any use"),
}

_LAND = KINDS.index("land")


# --- bands and regions ---------------------------------------------------------------------


def band_label(k: int | np.ndarray, edges: Sequence[float] = SIZE_BANDS) -> Any:
    """The label of size band ``k`` (``"200-400"``, the last one ``"10000+"``).

    Examples
    --------
    >>> band_label(1), band_label(6)
    ('200-400', '10000+')
    """
    names = np.array(
        [f"{lo:g}-{hi:g}" for lo, hi in pairwise([0.0, *edges])] + [f"{edges[-1]:g}+"],
        dtype=object,
    )
    out = names[np.asarray(k, dtype=np.int64)]
    return str(out) if np.ndim(out) == 0 else out


def size_band(surface_m2: Any, edges: Sequence[float] = SIZE_BANDS) -> np.ndarray:
    """Band positions of surfaces (a surface on an edge falls in the upper band).

    Examples
    --------
    >>> size_band([150, 200, 399, 12_000]).tolist()
    [0, 1, 1, 6]
    """
    return np.searchsorted(np.asarray(edges), np.asarray(surface_m2, dtype=np.float64), "right")


def region_of(y: Any, bounds: tuple[float, float]) -> np.ndarray:
    """``"north"``, ``"centre"`` or ``"south"``: the third of ``bounds`` (ymin, ymax) a
    Lambert-93 northing falls in (outside: the nearest third; NaN: ``""``; every place in
    the centre when the bounds are empty).

    Examples
    --------
    >>> region_of([0, 50, 99, np.nan], (0, 100)).tolist()
    ['south', 'centre', 'north', '']
    """
    y = np.asarray(y, dtype=np.float64)
    lo, hi = bounds
    if not hi > lo:  # one place, or none: no north or south to speak of
        return np.where(np.isnan(y), "", "centre").astype(object)
    third = np.clip(np.floor((y - lo) / max(hi - lo, 1e-9) * 3), 0, 2)
    names = np.array(["south", "centre", "north"], dtype=object)
    out = names[np.nan_to_num(third).astype(np.int64)]
    out[np.isnan(y)] = ""
    return out


# --- needs as rows -------------------------------------------------------------------------


def _v(value: Any) -> str:
    return str(getattr(value, "value", value))


def need_places(
    needs: Sequence[NeedIn],
    ids: Sequence[int] | None = None,
    *,
    commune_xy: Mapping[str, tuple[float, float]] | None = None,
) -> pd.DataFrame:
    """Every place a need names, in Lambert-93 metres, one row each.

    A need's places are its search centre and its places of interest; without them, the
    centroid of its search polygon; without one, the centres of the communes it names
    (``commune_xy``: INSEE code → Lambert-93 x, y). Each place weighs ``1 / n`` of its need's
    ``n`` places, so that a need counts once. Needs that name no place have no row.

    Returns
    -------
    pandas.DataFrame
        ``need_id``, ``x``, ``y``, ``weight``.

    Examples
    --------
    >>> a = NeedIn(company_name="A", surface_min_m2=100, surface_max_m2=200,
    ...            center_lon=2.39, center_lat=48.79, radius_m=2000)
    >>> b = NeedIn(company_name="B", surface_min_m2=100, surface_max_m2=200,
    ...            communes=["94041", "94081"])
    >>> p = need_places([a, b], [1, 2], commune_xy={"94041": (654000.0, 6857000.0)})
    >>> p["need_id"].tolist(), p["weight"].tolist()
    ([1, 2], [1.0, 1.0])
    """
    needs = list(needs)
    ids = [int(getattr(n, "id", i)) for i, n in enumerate(needs)] if ids is None else list(ids)
    commune_xy = commune_xy or {}
    need_col: list[int] = []
    lon: list[float] = []
    lat: list[float] = []
    x_known: list[tuple[int, float, float]] = []
    for need_id, need in zip(ids, needs, strict=True):
        pts = []
        if need.center_lon is not None and need.center_lat is not None:
            pts.append((need.center_lon, need.center_lat))
        pts.extend((p.lon, p.lat) for p in need.places)
        if pts:
            need_col.extend([need_id] * len(pts))
            lon.extend(p[0] for p in pts)
            lat.extend(p[1] for p in pts)
        elif need.polygon is not None:
            c = project_geometry(shapely.geometry.shape(need.polygon)).centroid
            x_known.append((need_id, c.x, c.y))
        else:
            x_known.extend((need_id, *commune_xy[c]) for c in need.communes if c in commune_xy)
    x, y = to_lambert93(lon, lat)
    frame = pd.DataFrame(
        {
            "need_id": np.array(need_col + [k[0] for k in x_known], dtype=np.int64),
            "x": np.concatenate([x, np.array([k[1] for k in x_known], dtype=np.float64)]),
            "y": np.concatenate([y, np.array([k[2] for k in x_known], dtype=np.float64)]),
        }
    )
    frame["weight"] = 1.0 / frame.groupby("need_id")["x"].transform("size")
    return frame


def need_frame(
    needs: Sequence[NeedIn],
    ids: Sequence[int] | None = None,
    *,
    commune_xy: Mapping[str, tuple[float, float]] | None = None,
    commune_at: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    bounds: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """One row per need: what it asks and where.

    Parameters
    ----------
    needs, ids
        The needs and their ids (default: their ``id`` attribute, else 0, 1, 2 …).
    commune_xy
        INSEE code → Lambert-93 centre, for needs that only name communes.
    commune_at
        A function of Lambert-93 ``(x, y)`` arrays to INSEE codes (None or ``""`` outside),
        for the commune of a need that names none but gives a place.
    bounds
        The territory's (ymin, ymax) in Lambert-93, for the regions (default: the needs').

    Returns
    -------
    pandas.DataFrame
        Indexed by ``need_id``: ``active``, ``s_min``, ``s_max``, ``s_mid`` (middle of the
        range), ``band`` (its position in :data:`SIZE_BANDS`), ``uses`` (tuple of names, or
        ``(NO_USE,)``), ``land`` (asks for land only), ``communes`` (tuple of codes, named
        or where its place lies), ``x``, ``y`` (weighted mean of its places, NaN when none)
        and ``region``.

    Examples
    --------
    >>> n = NeedIn(company_name="A", surface_min_m2=200, surface_max_m2=400, uses=["craft"],
    ...            communes=["94074"])
    >>> f = need_frame([n], [7], commune_xy={"94074": (660000.0, 6851000.0)})
    >>> float(f.loc[7, "s_mid"]), int(f.loc[7, "band"])
    (300.0, 1)
    >>> f.loc[7, ["uses", "communes", "region"]].tolist()
    [('craft',), ('94074',), 'centre']
    """
    needs = list(needs)
    ids = [int(getattr(n, "id", i)) for i, n in enumerate(needs)] if ids is None else list(ids)
    places = need_places(needs, ids, commune_xy=commune_xy)
    wx = (places["x"] * places["weight"]).groupby(places["need_id"]).sum()
    wy = (places["y"] * places["weight"]).groupby(places["need_id"]).sum()
    index = pd.Index(np.asarray(ids, dtype=np.int64), name="need_id")
    s_min = np.array([n.surface_min_m2 for n in needs], dtype=np.float64)
    s_max = np.array([n.surface_max_m2 for n in needs], dtype=np.float64)
    frame = pd.DataFrame(
        {
            "active": np.array([bool(n.active) for n in needs], dtype=bool),
            "s_min": s_min,
            "s_max": s_max,
            "s_mid": (s_min + s_max) / 2.0,
            "uses": pd.Series(
                [tuple(_v(u) for u in n.uses) or (NO_USE,) for n in needs], dtype=object
            ).to_numpy(),
            "land": np.array(
                [bool(n.kinds) and {_v(k) for k in n.kinds} == {"land"} for n in needs]
            ),
            "communes": pd.Series([tuple(n.communes) for n in needs], dtype=object).to_numpy(),
        },
        index=index,
    )
    frame["band"] = size_band(frame["s_mid"])
    frame["x"] = wx.reindex(index).to_numpy()
    frame["y"] = wy.reindex(index).to_numpy()
    if commune_at is not None:
        missing = (frame["communes"].map(len) == 0).to_numpy() & frame["x"].notna().to_numpy()
        if missing.any():
            codes = commune_at(frame["x"].to_numpy()[missing], frame["y"].to_numpy()[missing])
            found = pd.Series([(c,) if c else () for c in codes], dtype=object).to_numpy()
            col = frame["communes"].to_numpy().copy()
            col[missing] = found
            frame["communes"] = col
    if bounds is None:
        ys = frame["y"].dropna()
        bounds = (float(ys.min()), float(ys.max())) if len(ys) else (0.0, 1.0)
    frame["region"] = region_of(frame["y"], bounds)
    return frame


# --- hot spots -----------------------------------------------------------------------------


def hotspots(
    places: pd.DataFrame,
    *,
    method: str = "dbscan",
    eps_m: float = 800.0,
    min_needs: int = 5,
    min_strength: float = 0.1,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Clusters of demand: places of needs close together, in Lambert-93 metres.

    Parameters
    ----------
    places
        :func:`need_places` (``need_id``, ``x``, ``y``, ``weight``).
    method
        ``"dbscan"`` (a place is in a cluster when ``min_needs`` places, weighted, lie within
        ``eps_m``) or ``"hdbscan"`` (clusters of varying density, at least ``min_needs``).
    eps_m, min_needs
        DBSCAN's radius in metres and the weight a core place needs around it (a need with
        two places counts half at each); HDBSCAN's smallest cluster. Either way a cluster
        must gather ``min_needs`` distinct needs.
    min_strength
        HDBSCAN only: places whose membership strength (``probabilities_``) is under this
        are noise (HDBSCAN otherwise attaches far lone places to the nearest cluster).

    Returns
    -------
    labels : numpy.ndarray
        The cluster of each place (-1: noise), aligned with ``places``.
    clusters : pandas.DataFrame
        One row per cluster, most needs first: ``cluster``, ``n_needs`` (distinct needs),
        ``weight`` (needs counted once overall), ``x``, ``y`` (weighted centre), ``radius_m``
        (distance from the centre holding 90 % of its places) and ``need_ids``.

    Examples
    --------
    >>> p = pd.DataFrame({"need_id": range(7), "x": [0, 10, 20, 30, 40, 9000, 9010],
    ...                   "y": [0] * 7, "weight": [1.0] * 7})
    >>> labels, c = hotspots(p, eps_m=100, min_needs=3)
    >>> labels.tolist(), c["n_needs"].tolist()
    ([0, 0, 0, 0, 0, -1, -1], [5])
    """
    from sklearn.cluster import DBSCAN, HDBSCAN

    cols = ["cluster", "n_needs", "weight", "x", "y", "radius_m", "need_ids"]
    if len(places) == 0:
        return np.empty(0, dtype=np.int64), pd.DataFrame(columns=cols)
    xy = places[["x", "y"]].to_numpy(dtype=np.float64)
    w = places["weight"].to_numpy(dtype=np.float64)
    if method == "dbscan":
        labels = DBSCAN(eps=eps_m, min_samples=min_needs).fit(xy, sample_weight=w).labels_
    elif method == "hdbscan":
        if len(places) < 2:
            labels = np.full(len(places), -1)
        else:
            model = HDBSCAN(min_cluster_size=max(min_needs, 2), copy=True).fit(xy)
            # HDBSCAN hangs lone far places on the edge of a cluster with a membership
            # strength near 0: those are noise here.
            labels = np.where(model.probabilities_ >= min_strength, model.labels_, -1)
    else:
        msg = f"method: expected 'dbscan' or 'hdbscan', got {method!r}"
        raise ValueError(msg)
    labels = np.asarray(labels, dtype=np.int64)
    inside = places.assign(cluster=labels)[labels >= 0]
    if inside.empty:
        return labels, pd.DataFrame(columns=cols)
    g = inside.assign(wx=inside["x"] * inside["weight"], wy=inside["y"] * inside["weight"])
    agg = g.groupby("cluster").agg(
        weight=("weight", "sum"), wx=("wx", "sum"), wy=("wy", "sum"), n_needs=("need_id", "nunique")
    )
    agg["x"] = agg["wx"] / agg["weight"]
    agg["y"] = agg["wy"] / agg["weight"]
    centre_x = agg.loc[inside["cluster"], "x"].to_numpy()
    centre_y = agg.loc[inside["cluster"], "y"].to_numpy()
    dist = np.hypot(inside["x"].to_numpy() - centre_x, inside["y"].to_numpy() - centre_y)
    agg["radius_m"] = pd.Series(dist, index=inside.index).groupby(inside["cluster"]).quantile(0.9)
    agg["need_ids"] = inside.groupby("cluster")["need_id"].agg(lambda s: sorted(set(s.tolist())))
    # A cluster of places must gather ``min_needs`` distinct needs (a need with several
    # places could otherwise make one alone).
    agg = agg[agg["n_needs"] >= min_needs]
    labels = np.where(np.isin(labels, agg.index.to_numpy()), labels, -1)
    agg = agg.reset_index().sort_values(["n_needs", "cluster"], ascending=[False, True])
    # Renumber: cluster 0 is the largest.
    renum = dict(zip(agg["cluster"], range(len(agg)), strict=True))
    labels = np.where(labels >= 0, pd.Series(labels).map(renum).fillna(-1).to_numpy(), -1)
    agg["cluster"] = np.arange(len(agg))
    if agg.empty:
        return labels.astype(np.int64), pd.DataFrame(columns=cols)
    return labels.astype(np.int64), agg[cols].reset_index(drop=True)


# --- unmet demand --------------------------------------------------------------------------


def best_scores(
    index: MatchIndex,
    needs: Sequence[NeedIn] | NeedTable,
    ids: Sequence[int] | None = None,
    **kwargs: Any,
) -> pd.Series:
    """Every need's best matching score (0–100; NaN when no listing passes its required
    criteria, or for an inactive need), indexed by need id.

    The batch engine (:func:`matcher.batch_match` with ``k=1``): the same filters and scores
    as each need's own match. ``kwargs`` go to it (``verified_since``, ``include_under_offer``,
    ``chunk_size``, ``now``).
    """
    from matcher.batch import batch_match

    parts = [c.summary for c in batch_match(index, needs, k=1, ids=ids, **kwargs)]
    if not parts:
        return pd.Series(
            [], dtype=np.float64, name="best_score", index=pd.Index([], name="need_id")
        )
    summary = pd.concat(parts, ignore_index=True)
    return pd.Series(
        summary["best_score"].to_numpy(dtype=np.float64),
        index=pd.Index(summary["need_id"].to_numpy(dtype=np.int64), name="need_id"),
        name="best_score",
    )


def _explode(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    out = frame.reset_index()
    for c in columns:
        out = out.explode(c)
    return out


def unmet_demand(
    needs: pd.DataFrame,
    best: pd.Series,
    *,
    threshold: float = 50.0,
    by: Sequence[str] = ("commune", "use", "band"),
) -> pd.DataFrame:
    """Active needs whose best score stays under ``threshold``, counted by group.

    Parameters
    ----------
    needs
        :func:`need_frame`.
    best
        :func:`best_scores` (a need missing from it counts as unmet).
    threshold
        The score (0–100) a need's best listing must reach for the need to count as met.
    by
        Any of ``"commune"``, ``"use"``, ``"band"``, ``"region"``. A need counts in every
        commune and use it names (without a commune: ``""``).

    Returns
    -------
    pandas.DataFrame
        One row per group: the group columns, ``n_needs`` (active), ``n_unmet``,
        ``share_unmet``, ``median_best`` and ``unmet_ids``, most unmet first.

    Examples
    --------
    >>> f = need_frame([NeedIn(company_name="A", surface_min_m2=200, surface_max_m2=400,
    ...                        uses=["craft"], communes=["94074"]),
    ...                 NeedIn(company_name="B", surface_min_m2=250, surface_max_m2=300,
    ...                        uses=["craft"], communes=["94074"])], [1, 2])
    >>> u = unmet_demand(f, pd.Series({1: 80.0, 2: np.nan}))
    >>> u[["commune", "use", "band", "n_needs", "n_unmet"]].values.tolist()
    [['94074', 'craft', 1, 2, 1]]
    >>> u["unmet_ids"].tolist()
    [[2]]
    """
    keys = list(by)
    bad = set(keys) - {"commune", "use", "band", "region"}
    if bad:
        msg = f"by: unknown grouping {sorted(bad)}; use commune, use, band or region"
        raise ValueError(msg)
    cols = [*keys, "n_needs", "n_unmet", "share_unmet", "median_best", "unmet_ids"]
    act = needs[needs["active"]].copy()
    act["best"] = best.reindex(act.index).to_numpy(dtype=np.float64)
    act["unmet"] = ~(act["best"] >= threshold)
    act["commune"] = [c or ("",) for c in act["communes"]]
    act["use"] = act["uses"]
    if act.empty:
        return pd.DataFrame(columns=cols)
    rows = _explode(act, *[k for k in ("commune", "use") if k in keys])
    rows["unmet_id"] = rows["need_id"].where(rows["unmet"])
    g = rows.groupby(keys, sort=True)
    out = g.agg(
        n_needs=("need_id", "nunique"),
        n_unmet=("unmet", "sum"),
        median_best=("best", "median"),
    )
    out["unmet_ids"] = g["unmet_id"].agg(lambda s: sorted(int(v) for v in s.dropna()))
    out["n_unmet"] = out["n_unmet"].astype(np.int64)
    out["share_unmet"] = (out["n_unmet"] / out["n_needs"]).round(3)
    out = out.reset_index().sort_values(["n_unmet", "n_needs", *keys], ascending=False)
    return out[cols].reset_index(drop=True)


# --- supply ---------------------------------------------------------------------------------


def supply_frame(
    index: MatchIndex,
    *,
    mask: np.ndarray | None = None,
    bounds: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """The listings on offer as rows: ``listing_id``, ``kind``, ``land``, ``surface_m2``,
    ``band``, ``uses_mask`` (effective uses), ``commune``, ``rent``, ``x``, ``y``, ``region``.

    ``mask`` picks the rows (default: available listings; pass
    :func:`matcher.engine.matchable_mask` with ``verified_since`` to leave out those hidden
    for want of confirmation).
    """
    c = index.cols
    rows = np.flatnonzero(c["status"] == STATUS_CODE["available"] if mask is None else mask)
    communes = np.array([*index.communes, ""], dtype=object)
    code = c["commune"][rows]
    y = c["y"][rows]
    if bounds is None:
        bounds = (float(y.min()), float(y.max())) if len(y) else (0.0, 1.0)
    kind = c["kind"][rows].astype(np.int64)
    return pd.DataFrame(
        {
            "listing_id": c["id"][rows],
            "kind": np.array(KINDS, dtype=object)[kind],
            "land": kind == _LAND,
            "surface_m2": c["surface_m2"][rows],
            "band": size_band(c["surface_m2"][rows]),
            "uses_mask": c["uses_eff"][rows].astype(np.int64),
            "commune": communes[np.where(code >= 0, code, len(communes) - 1)],
            "rent": c["rent_eur_m2_year"][rows],
            "x": c["x"][rows],
            "y": y,
            "region": region_of(y, bounds),
        }
    )


def balance(supply: pd.DataFrame, needs: pd.DataFrame) -> pd.DataFrame:
    """Supply and demand per commune, building floor area and land kept apart.

    Supply: the listings of ``supply`` (:func:`supply_frame`), their surface counted as
    building floor area or, for plots of land, as land. Demand: the active needs naming the
    commune (or lying in it); a need's middle surface is shared equally among the communes it
    names, so that the m² wanted add up to the needs' total. A need for land only counts
    as land demand; every other as building demand. The two are never added.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``commune``: ``listings_building``, ``building_m2``, ``listings_land``,
        ``land_m2``, ``needs_building``, ``wanted_building_m2``, ``needs_land``,
        ``wanted_land_m2``, ``building_ratio`` and ``land_ratio`` (m² offered per m²
        wanted; NaN when nothing is wanted).

    Examples
    --------
    >>> s = pd.DataFrame({"commune": ["94074", "94074"], "land": [False, True],
    ...                   "surface_m2": [500.0, 8000.0]})
    >>> n = need_frame([NeedIn(company_name="A", surface_min_m2=200, surface_max_m2=400,
    ...                        communes=["94074", "94041"])], [1])
    >>> b = balance(s, n)
    >>> b.loc["94074", ["building_m2", "land_m2", "wanted_building_m2"]].tolist()
    [500.0, 8000.0, 150.0]
    """
    sup = supply.assign(
        building_m2=np.where(supply["land"], 0.0, supply["surface_m2"]),
        land_m2=np.where(supply["land"], supply["surface_m2"], 0.0),
        listings_building=~supply["land"].to_numpy(dtype=bool),
        listings_land=supply["land"].to_numpy(dtype=bool),
    )
    s = sup.groupby("commune")[
        ["listings_building", "building_m2", "listings_land", "land_m2"]
    ].sum()
    act = needs[needs["active"]].reset_index()
    act = act.assign(commune=[c or ("",) for c in act["communes"]])
    act["share"] = 1.0 / act["commune"].map(len)
    rows = act.explode("commune")
    land = rows["land"].to_numpy(dtype=bool)
    rows = rows.assign(
        needs_building=~land,
        needs_land=land,
        wanted_building_m2=np.where(land, 0.0, rows["s_mid"] * rows["share"]),
        wanted_land_m2=np.where(land, rows["s_mid"] * rows["share"], 0.0),
    )
    d = rows.groupby("commune")[
        ["needs_building", "wanted_building_m2", "needs_land", "wanted_land_m2"]
    ].sum()
    out = s.join(d, how="outer").fillna(0.0)
    for c in ("listings_building", "listings_land", "needs_building", "needs_land"):
        out[c] = out[c].astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["building_ratio"] = np.where(
            out["wanted_building_m2"] > 0, out["building_m2"] / out["wanted_building_m2"], np.nan
        )
        out["land_ratio"] = np.where(
            out["wanted_land_m2"] > 0, out["land_m2"] / out["wanted_land_m2"], np.nan
        )
    out.index.name = "commune"
    return out.round(3)


# --- most wanted, least supplied -----------------------------------------------------------


def wanted_sentence(
    n_needs: int, band: int, use: str, n_listings: int, region: str | None, lang: str = "fr"
) -> str:
    """ "40 besoins actifs pour 200–400 m² d'artisanat dans le nord du territoire, 3 offres".

    Examples
    --------
    >>> wanted_sentence(40, 1, "craft", 3, "north")
    "40 besoins actifs pour 200–400\\xa0m² d'artisanat dans le nord du territoire, 3 offres"
    >>> wanted_sentence(1, 6, "logistics", 0, None, "en")
    '1 active need for 10,000\\xa0m² or more of logistics space, no listing'
    """
    fr = lang == "fr"
    edges = [0.0, *SIZE_BANDS]
    if band >= len(SIZE_BANDS):
        lo = fmt_number(SIZE_BANDS[-1], lang)
        size = f"{lo}\u00a0m² {'ou plus' if fr else 'or more'}"
    else:
        lo, hi = fmt_number(edges[band], lang), fmt_number(edges[band + 1], lang)
        size = f"{lo}–{hi}\u00a0m²" if band else f"{'moins de' if fr else 'under'} {hi}\u00a0m²"
    what = _USE_PHRASES.get(use, (USE_LABELS.get(use, (use, use))[0].lower(), use))[0 if fr else 1]
    where = "" if not region else " " + REGIONS[region][0 if fr else 1]
    if fr:
        needs = f"{n_needs} besoin{'s' if n_needs > 1 else ''} actif{'s' if n_needs > 1 else ''}"
        offers = (
            "aucune offre"
            if n_listings == 0
            else f"{n_listings} offre{'s' if n_listings > 1 else ''}"
        )
        return f"{needs} pour {size} {what}{where}, {offers}"
    needs = f"{n_needs} active need{'s' if n_needs != 1 else ''}"
    offers = (
        "no listing" if n_listings == 0 else f"{n_listings} listing{'s' if n_listings != 1 else ''}"
    )
    return f"{needs} for {size} {what}{where}, {offers}"


def most_wanted(
    needs: pd.DataFrame,
    supply: pd.DataFrame,
    *,
    by_region: bool = True,
    min_needs: int = 1,
) -> pd.DataFrame:
    """Size × use (× region) bands, the most wanted and least supplied first.

    A band's demand is its active needs (by the middle of their surface range, every use
    they ask); its supply the listings of ``supply`` in the same size band (and region)
    whose effective uses include the use (any listing for needs without a use). Ranked by
    needs per listing offered (``pressure`` = needs / (listings + 1)), then by needs.

    Returns
    -------
    pandas.DataFrame
        ``band``, ``band_label``, ``use``, ``region`` (``""`` when not by region),
        ``n_needs``, ``n_listings``, ``pressure``, ``need_ids``, ``text_fr``, ``text_en``.

    Examples
    --------
    >>> n = need_frame([NeedIn(company_name=f"C{i}", surface_min_m2=200, surface_max_m2=400,
    ...                        uses=["craft"]) for i in range(3)], [1, 2, 3])
    >>> s = pd.DataFrame({"band": [1], "uses_mask": [4], "region": [""]})
    >>> w = most_wanted(n, s, by_region=False)
    >>> w.loc[0, "text_en"]
    '3 active needs for 200–400\\xa0m² of craft space, 1 listing'
    """
    cols = ["band", "band_label", "use", "region", "n_needs", "n_listings", "pressure",
            "need_ids", "text_fr", "text_en"]  # fmt: skip
    act = needs[needs["active"]].copy()
    if act.empty:
        return pd.DataFrame(columns=cols)
    if not by_region:
        act["region"] = ""
    rows = _explode(act.assign(use=act["uses"]), "use")
    g = rows.groupby(["band", "use", "region"])
    out = g.agg(n_needs=("need_id", "nunique"))
    out["need_ids"] = g["need_id"].agg(lambda s: sorted(int(v) for v in s))
    out = out.reset_index()
    out = out[out["n_needs"] >= min_needs].reset_index(drop=True)
    # Supply per (band, region) × use bit, counted once as a table.
    s_region = supply["region"].to_numpy() if by_region else np.full(len(supply), "")
    bits = np.array([USE_BIT[u] for u in USES], dtype=np.int64)
    has = (supply["uses_mask"].to_numpy(dtype=np.int64)[:, None] & bits[None, :]) != 0
    table = pd.DataFrame(has, columns=list(USES)).assign(**{NO_USE: True})
    table["band"] = supply["band"].to_numpy()
    table["region"] = s_region
    counts = table.groupby(["band", "region"]).sum()
    key = pd.MultiIndex.from_arrays([out["band"], out["region"]])
    stacked = counts.stack()
    stacked.index.names = ["band", "region", "use"]
    out["n_listings"] = (
        stacked.reindex(pd.MultiIndex.from_arrays([key.get_level_values(0),
                                                   key.get_level_values(1), out["use"]]))
        .fillna(0)
        .astype(np.int64)
        .to_numpy()
    )  # fmt: skip
    out["pressure"] = (out["n_needs"] / (out["n_listings"] + 1)).round(2)
    out["band_label"] = band_label(out["band"].to_numpy()) if len(out) else []
    out = out.sort_values(
        ["pressure", "n_needs", "band", "use", "region"],
        ascending=[False, False, True, True, True],
    ).reset_index(drop=True)
    for lang in ("fr", "en"):
        out[f"text_{lang}"] = [
            wanted_sentence(int(n), int(b), str(u), int(k), str(r) or None, lang)
            for n, b, u, k, r in zip(
                out["n_needs"], out["band"], out["use"], out["n_listings"], out["region"],
                strict=True,
            )
        ]  # fmt: skip
    return out[cols]


# --- time to let ---------------------------------------------------------------------------


def time_to_let(
    history: pd.DataFrame | None,
    listings: pd.DataFrame,
    *,
    min_cases: int = 1,
) -> pd.DataFrame:
    """Days from "available" to "let" or "sold", by kind and size band.

    Parameters
    ----------
    history
        Status changes: ``listing_id``, ``status`` (the new status), ``changed_at``
        (datetime). A listing's clock starts at its first change to ``available`` and stops
        at its first ``let`` or ``sold`` after it. None or empty: no outcome data, an empty
        frame.
    listings
        ``listing_id``, ``kind`` and ``surface_m2`` of the listings.
    min_cases
        Groups with fewer lets are left out (too few to say anything).

    Returns
    -------
    pandas.DataFrame
        ``kind``, ``band``, ``band_label``, ``n_let``, ``n_open`` (started and not let: still
        on the market, so the medians are optimistic when it is large), ``median_days``,
        ``q1_days``, ``q3_days``.

    Examples
    --------
    >>> h = pd.DataFrame({"listing_id": [1, 1, 2, 2, 3],
    ...                   "status": ["available", "let", "available", "sold", "available"],
    ...                   "changed_at": pd.to_datetime(["2025-01-01", "2025-03-02",
    ...                                                 "2025-01-01", "2025-01-31",
    ...                                                 "2025-02-01"])})
    >>> ls = pd.DataFrame({"listing_id": [1, 2, 3], "kind": ["workshop"] * 3,
    ...                    "surface_m2": [300.0, 350.0, 320.0]})
    >>> time_to_let(h, ls)[["kind", "band_label", "n_let", "n_open", "median_days"]].values.tolist()
    [['workshop', '200-400', 2, 1, 45.0]]
    """
    cols = ["kind", "band", "band_label", "n_let", "n_open", "median_days", "q1_days", "q3_days"]
    if history is None or history.empty:
        return pd.DataFrame(columns=cols)
    h = history[["listing_id", "status", "changed_at"]].copy()
    h["status"] = h["status"].map(_v)
    h["changed_at"] = pd.to_datetime(h["changed_at"], utc=True)
    start = h[h["status"] == "available"].groupby("listing_id")["changed_at"].min()
    ends = h[h["status"].isin(["let", "sold"])].join(start.rename("start"), on="listing_id")
    ends = ends[ends["changed_at"] >= ends["start"]]
    end = ends.groupby("listing_id")["changed_at"].min()
    frame = pd.DataFrame({"start": start}).join(end.rename("end"))
    frame["days"] = (frame["end"] - frame["start"]).dt.total_seconds() / 86_400.0
    meta = listings.set_index("listing_id")[["kind", "surface_m2"]]
    frame = frame.join(meta, how="inner")
    if frame.empty:
        return pd.DataFrame(columns=cols)
    frame["kind"] = frame["kind"].map(_v)
    frame["band"] = size_band(frame["surface_m2"])
    frame["let"] = frame["days"].notna()
    g = frame.groupby(["kind", "band"])
    out = g.agg(
        n_let=("let", "sum"),
        n_open=("let", lambda s: int((~s).sum())),
        median_days=("days", "median"),
        q1_days=("days", lambda s: s.quantile(0.25)),
        q3_days=("days", lambda s: s.quantile(0.75)),
    ).reset_index()
    out["n_let"] = out["n_let"].astype(np.int64)
    out = out[out["n_let"] >= max(min_cases, 1)].reset_index(drop=True)
    out["band_label"] = band_label(out["band"].to_numpy()) if len(out) else []
    return out[cols].round({"median_days": 1, "q1_days": 1, "q3_days": 1})
