"""The staff dashboard's figures: supply and demand of the territory, from the match index.

:func:`compute` narrows the match index's columns and the active needs by the dashboard's
:class:`Filters` (numpy masks, no loop per listing) and runs :mod:`matcher.analytics` on
them: the balance per commune (building floor area and land kept apart, never added), the
available m² and median rent per commune and kind, the listings left unconfirmed, unmet
demand, the most wanted bands and the hot spots of demand. :func:`tables` turns them into
the page's tables; :class:`FigureCache` keeps them per catalogue version, needs table and day.

"Available" is a listing of status ``available``, whatever its freshness (as the staff's
``GET /premises?status=available`` lists it, so that the dashboard's downloads hold what its
figures count); the freshness table says how many of them are flagged or already hidden.
The best scores come from the batch engine, which leaves hidden listings out as matching does.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
from fastapi import Request

from geodata.schemas import Need, label
from geodata.territory import Territory, to_lambert93, to_wgs84
from matcher import analytics
from matcher._codes import KIND_CODE, KINDS, REMOVED, STATUS_CODE, USE_BIT, USES
from matcher.criteria.base import day_number
from matcher.index import MatchIndex
from matcher.needs import NeedTable

from .freshness import flag_before, hide_before
from .pages import Lang, fmt_number
from .settings import FreshnessSettings

__all__ = [
    "BANDS",
    "FigureCache",
    "Figures",
    "Filters",
    "Table",
    "band_text",
    "compute",
    "parse_filters",
    "tables",
    "tr",
]

#: Size bands of the filter: (value in the URL, lower bound, upper bound or None), the bands
#: of :data:`matcher.analytics.SIZE_BANDS`.
BANDS: list[tuple[str, float, float | None]] = [
    (str(analytics.band_label(i)), lo, hi)
    for i, (lo, hi) in enumerate(
        zip(
            [0.0, *analytics.SIZE_BANDS],
            [*analytics.SIZE_BANDS, None],
            strict=True,
        )
    )
]


#: Hot spots of demand: DBSCAN's radius (m) and the fewest needs a hot spot gathers.
HOTSPOT_EPS_M = 1_000.0
HOTSPOT_MIN_NEEDS = 4


def tr(lang: Lang, fr: str, en: str) -> str:
    """The French or the English text."""
    return fr if lang == "fr" else en


def band_text(value: str, lang: Lang) -> str:
    """A size band of :data:`BANDS` as words.

    Examples
    --------
    >>> band_text("200-400", "fr"), band_text("0-200", "en")
    ('200–400 m²', 'under 200 m²')
    >>> band_text("10000+", "fr")
    '10\u202f000 m² ou plus'
    """
    for v, lo, hi in BANDS:
        if v == value:
            if hi is None:
                return f"{fmt_number(lo, lang)} m² {tr(lang, 'ou plus', 'or more')}"
            if lo == 0:
                return f"{tr(lang, 'moins de', 'under')} {fmt_number(hi, lang)} m²"
            return f"{fmt_number(lo, lang)}–{fmt_number(hi, lang)} m²"
    return value


# --- filters --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What the dashboard is narrowed to (None: everything)."""

    kind: str | None = None
    use: str | None = None
    band: str | None = None
    threshold: float = 50.0

    @property
    def bounds(self) -> tuple[float | None, float | None]:
        """The surface bounds of the band (inclusive, as ``min_surface_m2``/``max_surface_m2``)."""
        for v, lo, hi in BANDS:
            if v == self.band:
                return (lo if lo > 0 else None), hi
        return None, None

    def premises_params(self) -> dict[str, Any]:
        """The ``GET /premises`` filters selecting the listings the figures count.

        Examples
        --------
        >>> Filters(use="craft", band="1000-2500").premises_params()
        {'status': 'available', 'use': 'craft', 'min_surface_m2': '1000', 'max_surface_m2': '2500'}
        """
        lo, hi = self.bounds
        params = {
            "status": "available",
            "kind": self.kind,
            "use": self.use,
            "min_surface_m2": None if lo is None else f"{lo:g}",
            "max_surface_m2": None if hi is None else f"{hi:g}",
        }
        return {k: v for k, v in params.items() if v is not None}


def parse_filters(request: Request, lang: Lang) -> tuple[Filters, list[str]]:
    """The filters of the query string, and a message naming each bad one (then ignored)."""
    q = request.query_params
    errors: list[str] = []

    def pick(name: str, allowed: Sequence[str], what_fr: str, what_en: str) -> str | None:
        value = (q.get(name) or "").strip()
        if not value:
            return None
        if value not in allowed:
            errors.append(
                tr(
                    lang,
                    f"{name} : « {value} » n'est pas {what_fr} connu ; choisissez dans la liste.",
                    f"{name}: '{value}' is not a known {what_en}; pick one from the list.",
                )
            )
            return None
        return value

    kind = pick("kind", KINDS, "un type de local", "kind of premises")
    use = pick("use", USES, "un usage", "use")
    band = pick("band", [b[0] for b in BANDS], "une tranche de surface", "size band")
    threshold = 50.0
    raw = (q.get("threshold") or "").strip().replace(",", ".")
    if raw:
        try:
            threshold = float(raw)
            if not 0 <= threshold <= 100:
                raise ValueError(raw)
        except ValueError:
            threshold = 50.0
            errors.append(
                tr(
                    lang,
                    f"threshold : « {raw} » doit être un nombre entre 0 et 100.",
                    f"threshold: '{raw}' must be a number from 0 to 100.",
                )
            )
    return Filters(kind=kind, use=use, band=band, threshold=threshold), errors


# --- figures --------------------------------------------------------------------------------


@dataclass
class Figures:
    """Everything the page shows, as frames (numbers, not text)."""

    supply: pd.DataFrame  # analytics.supply_frame of the filtered available listings
    rows: np.ndarray  # their rows in the index
    needs: pd.DataFrame  # analytics.need_frame of the filtered active needs
    places: pd.DataFrame  # analytics.need_places of those needs
    best: pd.Series  # best score of each of those needs
    balance: pd.DataFrame  # per commune, building and land apart
    by_kind: pd.DataFrame  # available m² per commune × kind
    rent: pd.DataFrame  # median rent per commune × kind
    stale: pd.DataFrame  # per commune: on the market, flagged, hidden
    unmet: pd.DataFrame  # unmet demand by commune, use and band
    unmet_by_commune: pd.DataFrame
    wanted: pd.DataFrame  # most wanted, least supplied bands
    hotspots: pd.DataFrame
    n_needs: int = 0
    n_good: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _listing_mask(index: MatchIndex, f: Filters) -> np.ndarray:
    """Rows of the index passing the kind, use (as stated) and size filters, any status."""
    c = index.cols
    mask = c["status"] != REMOVED
    if f.kind is not None:
        mask &= c["kind"] == KIND_CODE[f.kind]
    if f.use is not None:
        mask &= (c["uses"].astype(np.int64) & USE_BIT[f.use]) != 0
    lo, hi = f.bounds
    if lo is not None:
        mask &= c["surface_m2"] >= lo
    if hi is not None:
        mask &= c["surface_m2"] <= hi
    return mask


def _need_mask(needs: Sequence[Need], frame: pd.DataFrame, f: Filters) -> np.ndarray:
    """Needs asking for the use, in the size band (by the middle of their range), and
    accepting the kind (naming it, or no kind at all)."""
    mask = frame["active"].to_numpy(dtype=bool).copy()
    if f.use is not None:
        mask &= np.array([f.use in u for u in frame["uses"]], dtype=bool)
    if f.band is not None:
        band = [b[0] for b in BANDS].index(f.band)
        mask &= frame["band"].to_numpy() == band
    if f.kind is not None:
        mask &= np.array([not n.kinds or f.kind in n.kinds for n in needs], dtype=bool)
    return mask


def _territory_helpers(territory: Territory) -> dict[str, Any]:
    layer = territory.layer("communes")
    x, y = to_lambert93(
        np.asarray(layer.column("town_hall_lon"), dtype=np.float64),
        np.asarray(layer.column("town_hall_lat"), dtype=np.float64),
    )
    commune_xy = {
        str(c): (float(a), float(b)) for c, a, b in zip(layer.column("insee"), x, y, strict=True)
    }
    ymin, ymax = territory.boundary_l93.bounds[1], territory.boundary_l93.bounds[3]

    def commune_at(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        lon, lat = to_wgs84(xs, ys)
        return territory.commune_at(lon, lat)

    return {"commune_xy": commune_xy, "commune_at": commune_at, "bounds": (ymin, ymax)}


def compute(
    index: MatchIndex,
    needs: Sequence[Need],
    best_all: pd.Series,
    territory: Territory,
    now: datetime,
    freshness: FreshnessSettings,
    f: Filters,
) -> Figures:
    """The dashboard's figures for the filters (see the module's docstring)."""
    c = index.cols
    helpers = _territory_helpers(territory)
    base = _listing_mask(index, f)
    rows = np.flatnonzero(base & (c["status"] == STATUS_CODE["available"]))
    supply = analytics.supply_frame(index, mask=base & (c["status"] == STATUS_CODE["available"]))
    supply = supply.assign(kind_code=c["kind"][rows])

    all_frame = analytics.need_frame(needs, [n.id for n in needs], **helpers)
    keep = _need_mask(needs, all_frame, f)
    frame = all_frame[keep]
    kept = [n for n, k in zip(needs, keep, strict=True) if k]
    places = analytics.need_places(kept, [n.id for n in kept], commune_xy=helpers["commune_xy"])
    best = best_all.reindex(frame.index)

    bal = analytics.balance(supply, frame)
    by_kind = supply.pivot_table(
        index="commune", columns="kind", values="surface_m2", aggfunc="sum", fill_value=0.0
    )
    rent = supply.dropna(subset=["rent"]).pivot_table(
        index="commune", columns="kind", values="rent", aggfunc="median"
    )

    # Freshness of the listings on the market (available or under offer), same filters.
    market = base & (c["status"] <= STATUS_CODE["under_offer"])
    verified = c["verified_day"]
    flagged = market & (verified < day_number(flag_before(now, freshness)))
    hidden = market & (verified < day_number(hide_before(now, freshness)))
    communes = np.array([*index.communes, ""], dtype=object)
    code = c["commune"]
    stale = pd.DataFrame(
        {
            "commune": communes[np.where(code >= 0, code, len(communes) - 1)],
            "market": market,
            "flagged": flagged,
            "hidden": hidden,
        }
    )
    stale = stale[stale["market"]].groupby("commune")[["market", "flagged", "hidden"]].sum()

    unmet = analytics.unmet_demand(frame, best, threshold=f.threshold)
    # Unmet needs per commune: the distinct unmet needs of its groups (a need counts once).
    unmet_c = (
        unmet.explode("unmet_ids").dropna(subset=["unmet_ids"]).groupby("commune")["unmet_ids"]
        .nunique().rename("n_unmet").reset_index()
        if len(unmet) else pd.DataFrame({"commune": [], "n_unmet": []})
    )  # fmt: skip
    wanted = analytics.most_wanted(frame, supply)
    # Hot spots: places within 1 km, enough of them to stand out from the territory's
    # background (one need in 25, at least 4).
    min_needs = max(HOTSPOT_MIN_NEEDS, -(-len(frame) // 25))
    _, spots = (
        analytics.hotspots(places, eps_m=HOTSPOT_EPS_M, min_needs=min_needs)
        if len(places)
        else (None, pd.DataFrame())
    )
    n_good = int(np.count_nonzero(best.to_numpy(dtype=np.float64) >= f.threshold))
    return Figures(
        supply=supply,
        rows=rows,
        needs=frame,
        places=places,
        best=best,
        balance=bal,
        by_kind=by_kind,
        rent=rent,
        stale=stale,
        unmet=unmet,
        unmet_by_commune=unmet_c,
        wanted=wanted,
        hotspots=spots,
        n_needs=len(frame),
        n_good=n_good,
        extra={"needs_by_id": {n.id: n for n in kept}},
    )


class FigureCache:
    """The best score of every active need and the figures of the last filters viewed, for one
    catalogue version, needs table and day (then dropped): the batch engine over every need
    and the pandas aggregations are the page's costliest steps, and staff reload and switch
    language far more often than the catalogue changes."""

    def __init__(self, size: int = 8) -> None:
        self._lock = threading.Lock()
        self._key: tuple[int, int, date] | None = None
        self._table: NeedTable | None = None
        self._best: pd.Series | None = None
        self._figures: OrderedDict[Filters, Figures] = OrderedDict()
        self._size = size

    def figures(
        self,
        index: MatchIndex,
        needs: Sequence[Need],
        table: NeedTable | None,
        territory: Territory,
        now: datetime,
        freshness: FreshnessSettings,
        f: Filters,
    ) -> Figures:
        key = (index.version, id(table), now.astimezone(UTC).date())
        with self._lock:
            if key != self._key or self._table is not table:
                self._key, self._table, self._best = key, table, None
                self._figures.clear()
            if f in self._figures:
                self._figures.move_to_end(f)
                return self._figures[f]
            if self._best is None:
                since = hide_before(now, freshness)
                self._best = (
                    pd.Series([], dtype=np.float64, index=pd.Index([], name="need_id"))
                    if table is None
                    else analytics.best_scores(index, table, verified_since=since, now=now)
                )
            fig = compute(index, needs, self._best, territory, now, freshness, f)
            self._figures[f] = fig
            while len(self._figures) > self._size:
                self._figures.popitem(last=False)
            return fig


# --- tables ---------------------------------------------------------------------------------

Cell = tuple[str, float | None]


@dataclass
class Table:
    """A table of figures: ``columns[0]`` heads the rows; each cell is its text and its raw
    value (``data-value`` in the page, None for text)."""

    id: str
    caption: str
    columns: list[str]
    rows: list[tuple[str, str, list[Cell]]]  # (key, row header, cells)
    total: list[Cell] | None = None
    note: str = ""


def _n(value: float, lang: Lang, decimals: int = 0) -> Cell:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ("—", None)
    return (fmt_number(float(value), lang, decimals), float(value))


def _ordered(codes: Sequence[str], order: Sequence[str]) -> list[str]:
    rank = {c: i for i, c in enumerate(order)}
    return sorted(set(codes), key=lambda c: (rank.get(c, len(rank)), c))


def tables(
    fig: Figures, lang: Lang, name: Any, order: Sequence[str], freshness: FreshnessSettings
) -> dict[str, Table]:
    """The key figures as tables (the map is never the only way to read them)."""
    out: dict[str, Table] = {}
    t = functools.partial(tr, lang)
    bal = fig.balance
    unmet_c = (
        fig.unmet_by_commune.set_index("commune")["n_unmet"]
        if len(fig.unmet_by_commune)
        else pd.Series(dtype=np.int64)
    )
    codes = _ordered([*bal.index, *unmet_c.index], order)
    rows = []
    for code in codes:
        b = bal.loc[code] if code in bal.index else None

        def get(col: str, b: Any = b) -> float:
            return 0.0 if b is None else float(b[col])

        rows.append((code, name(code), [
            _n(get("listings_building"), lang), _n(get("building_m2"), lang),
            _n(get("listings_land"), lang), _n(get("land_m2"), lang),
            _n(get("needs_building") + get("needs_land"), lang),
            _n(float(unmet_c.get(code, 0)), lang),
            _n(get("wanted_building_m2"), lang), _n(get("wanted_land_m2"), lang),
        ]))  # fmt: skip
    s = fig.supply
    land = s["land"].to_numpy(dtype=bool)
    n_unmet = fig.n_needs - fig.n_good
    out["balance"] = Table(
        id="balance",
        caption=t("Offre disponible et demande par commune (bâti et terrain séparés)",
                  "Available supply and demand per commune (buildings and land apart)"),
        columns=[t("Commune", "Commune"), t("Locaux bâtis", "Buildings"),
                 t("Surface bâtie (m²)", "Floor area (m²)"), t("Terrains", "Plots"),
                 t("Surface de terrain (m²)", "Land (m²)"), t("Besoins actifs", "Active needs"),
                 t("dont non satisfaits", "of which unmet"),
                 t("Surface bâtie demandée (m²)", "Floor area wanted (m²)"),
                 t("Terrain demandé (m²)", "Land wanted (m²)")],
        rows=rows,
        total=[_n(float((~land).sum()), lang), _n(float(s["surface_m2"][~land].sum()), lang),
               _n(float(land.sum()), lang), _n(float(s["surface_m2"][land].sum()), lang),
               _n(float(fig.n_needs), lang), _n(float(n_unmet), lang),
               _n(float(bal["wanted_building_m2"].sum()) if len(bal) else 0.0, lang),
               _n(float(bal["wanted_land_m2"].sum()) if len(bal) else 0.0, lang)],
        note=t("Un besoin citant plusieurs communes compte dans chacune (le total compte chaque "
               "besoin une fois) ; sa surface demandée est partagée entre elles.",
               "A need naming several communes counts in each (the total counts each need "
               "once); its wanted surface is shared among them."),
    )  # fmt: skip

    kinds = [k for k in KINDS if k in set(s["kind"])]
    building_kinds = [k for k in kinds if k != "land"]
    pivot = fig.by_kind.reindex(columns=kinds, fill_value=0.0)
    rows = []
    for code in _ordered(list(pivot.index), order):
        r = pivot.loc[code]
        cells = [_n(float(r[k]), lang) for k in building_kinds]
        cells.append(_n(float(r[building_kinds].sum()) if building_kinds else 0.0, lang))
        if "land" in kinds:
            cells.append(_n(float(r["land"]), lang))
        rows.append((code, name(code), cells))
    total = [_n(float(pivot[k].sum()), lang) for k in building_kinds]
    total.append(_n(float(pivot[building_kinds].to_numpy().sum()), lang))
    if "land" in kinds:
        total.append(_n(float(pivot["land"].sum()), lang))
    out["kinds"] = Table(
        id="by-kind",
        caption=t("Surface disponible par commune et par type (m²)",
                  "Available surface per commune and kind (m²)"),
        columns=[t("Commune", "Commune"), *[label(k, lang) for k in building_kinds],
                 t("Total bâti", "All buildings"),
                 *([label("land", lang)] if "land" in kinds else [])],
        rows=rows,
        total=total,
        note=t("Le terrain n'est jamais ajouté à la surface bâtie.",
               "Land is never added to floor area."),
    )  # fmt: skip

    rent = fig.rent.reindex(columns=kinds)
    rows = [
        (code, name(code), [_n(float(rent.loc[code, k]), lang) for k in kinds])
        for code in _ordered(list(rent.index), order)
    ]
    med = s.dropna(subset=["rent"]).groupby("kind")["rent"].median()
    out["rent"] = Table(
        id="rent",
        caption=t("Loyer médian par commune et par type (€/m²/an, hors charges)",
                  "Median rent per commune and kind (€/m²/year, before charges)"),
        columns=[t("Commune", "Commune"), *[label(k, lang) for k in kinds]],
        rows=rows,
        total=[_n(float(med.get(k, np.nan)), lang) for k in kinds],
        note=t("Locaux disponibles à la location ; « — » : aucun loyer connu.",
               "Available listings for rent; '—': no rent known."),
    )  # fmt: skip

    st = fig.stale
    rows = [
        (code, name(code), [_n(float(st.loc[code, c]), lang)
                            for c in ("market", "flagged", "hidden")])
        for code in _ordered(list(st.index), order)
    ]  # fmt: skip
    out["stale"] = Table(
        id="stale",
        caption=t("Annonces à confirmer par commune", "Listings to confirm per commune"),
        columns=[t("Commune", "Commune"), t("Sur le marché", "On the market"),
                 t(f"Non confirmées depuis {freshness.flag_days} jours ou plus",
                   f"Unconfirmed for {freshness.flag_days} days or more"),
                 t(f"Non confirmées depuis plus de {freshness.hide_days} jours (masquées)",
                   f"Unconfirmed for more than {freshness.hide_days} days (hidden)")],
        rows=rows,
        total=[_n(float(st[c].sum()) if len(st) else 0.0, lang)
               for c in ("market", "flagged", "hidden")],
        note=t("Disponibles ou sous offre. Masquées : hors de la recherche publique et de "
               "l'appariement jusqu'à confirmation.",
               "Available or under offer. Hidden: out of the public search and matching "
               "until confirmed."),
    )  # fmt: skip

    u = fig.unmet[fig.unmet["n_unmet"] > 0].head(15)
    rows = []
    for i, r in enumerate(u.itertuples(index=False)):
        use = t("tout usage", "any use") if r.use == analytics.NO_USE else label(r.use, lang)
        rows.append((str(i), name(r.commune), [
            (use, None), (band_text(str(analytics.band_label(int(r.band))), lang), None),
            _n(float(r.n_needs), lang), _n(float(r.n_unmet), lang),
            (f"{fmt_number(100 * r.share_unmet, lang)} %", float(r.share_unmet)),
            _n(float(r.median_best), lang),
        ]))  # fmt: skip
    out["unmet"] = Table(
        id="unmet",
        caption=t("Demande non satisfaite : les groupes les plus touchés",
                  "Unmet demand: the groups most affected"),
        columns=[t("Commune", "Commune"), t("Usage", "Use"), t("Taille", "Size"),
                 t("Besoins actifs", "Active needs"), t("Non satisfaits", "Unmet"),
                 t("Part", "Share"), t("Meilleur score médian", "Median best score")],
        rows=rows,
        note=t("Un besoin est non satisfait quand son meilleur score reste sous le seuil.",
               "A need is unmet when its best score stays under the threshold."),
    )  # fmt: skip
    return out
