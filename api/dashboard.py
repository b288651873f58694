"""The staff dashboard's figures: supply and demand of the territory, from the match index.

:func:`compute` narrows the match index's columns and the active needs by the dashboard's
:class:`Filters` (numpy masks, no loop per listing) and runs :mod:`matcher.analytics` on
them: the balance per commune (building floor area and land kept apart, never added), the
available m² and median rent per commune and kind, the listings left unconfirmed, unmet
demand, the most wanted bands and the hot spots of demand. :func:`tables` turns them into
the page's tables; :class:`FigureCache` keeps each part of them for as long as what it
depends on holds, and :class:`BestScores` brings the needs' best scores up to date after a
write from what it changed.

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
from matcher.batch import batch_match
from matcher.criteria.base import day_number
from matcher.engine import matchable_mask
from matcher.index import MatchIndex
from matcher.needs import NeedTable
from matcher.reverse import evaluate_listing

from .freshness import flag_before, hide_before
from .pages import Lang, fmt_number
from .settings import FreshnessSettings

__all__ = [
    "BANDS",
    "BestScores",
    "FigureCache",
    "Figures",
    "Filters",
    "Table",
    "band_text",
    "changed_listings",
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


@dataclass(frozen=True)
class _NeedsPart:
    """What the figures take from the needs alone (kept until a need is written)."""

    frame: pd.DataFrame
    kept: list[Need]
    places: pd.DataFrame
    hotspots: pd.DataFrame


@dataclass(frozen=True)
class _SupplyPart:
    """What the figures take from the listings alone (kept per index snapshot and day)."""

    rows: np.ndarray
    supply: pd.DataFrame
    by_kind: pd.DataFrame
    rent: pd.DataFrame
    stale: pd.DataFrame


def _needs_part(needs: Sequence[Need], territory: Territory, f: Filters) -> _NeedsPart:
    helpers = _territory_helpers(territory)
    all_frame = analytics.need_frame(needs, [n.id for n in needs], **helpers)
    keep = _need_mask(needs, all_frame, f)
    frame = all_frame[keep]
    kept = [n for n, k in zip(needs, keep, strict=True) if k]
    places = analytics.need_places(kept, [n.id for n in kept], commune_xy=helpers["commune_xy"])
    # Hot spots: places within 1 km, enough of them to stand out from the territory's
    # background (one need in 25, at least 4).
    min_needs = max(HOTSPOT_MIN_NEEDS, -(-len(frame) // 25))
    _, spots = (
        analytics.hotspots(places, eps_m=HOTSPOT_EPS_M, min_needs=min_needs)
        if len(places)
        else (None, pd.DataFrame())
    )
    return _NeedsPart(frame=frame, kept=kept, places=places, hotspots=spots)


def _supply_part(
    index: MatchIndex, now: datetime, freshness: FreshnessSettings, f: Filters
) -> _SupplyPart:
    c = index.cols
    base = _listing_mask(index, f)
    available = base & (c["status"] == STATUS_CODE["available"])
    rows = np.flatnonzero(available)
    supply = analytics.supply_frame(index, mask=available)
    supply = supply.assign(kind_code=c["kind"][rows])
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
    return _SupplyPart(rows=rows, supply=supply, by_kind=by_kind, rent=rent, stale=stale)


def _combine(needs: _NeedsPart, supply: _SupplyPart, best_all: pd.Series, f: Filters) -> Figures:
    frame = needs.frame
    best = best_all.reindex(frame.index)
    unmet = analytics.unmet_demand(frame, best, threshold=f.threshold)
    # Unmet needs per commune: the distinct unmet needs of its groups (a need counts once).
    unmet_c = (
        unmet.explode("unmet_ids").dropna(subset=["unmet_ids"]).groupby("commune")["unmet_ids"]
        .nunique().rename("n_unmet").reset_index()
        if len(unmet) else pd.DataFrame({"commune": [], "n_unmet": []})
    )  # fmt: skip
    n_good = int(np.count_nonzero(best.to_numpy(dtype=np.float64) >= f.threshold))
    return Figures(
        supply=supply.supply,
        rows=supply.rows,
        needs=frame,
        places=needs.places,
        best=best,
        balance=analytics.balance(supply.supply, frame),
        by_kind=supply.by_kind,
        rent=supply.rent,
        stale=supply.stale,
        unmet=unmet,
        unmet_by_commune=unmet_c,
        wanted=analytics.most_wanted(frame, supply.supply),
        hotspots=needs.hotspots,
        n_needs=len(frame),
        n_good=n_good,
        extra={"needs_by_id": {n.id: n for n in needs.kept}},
    )


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
    return _combine(
        _needs_part(needs, territory, f), _supply_part(index, now, freshness, f), best_all, f
    )


# --- best scores, kept up to date -----------------------------------------------------------


def changed_listings(old: MatchIndex, new: MatchIndex) -> np.ndarray | None:
    """Ids of the listings whose columns differ between two snapshots of the index (added,
    changed or gone), compared column by column and aligned by id (a compaction reorders
    the rows); None when the two cannot be compared (their commune tables differ).
    """
    if list(new.communes[: len(old.communes)]) != list(old.communes):
        return None
    old_ids, new_ids = old.cols["id"], new.cols["id"]
    if len(old_ids) == len(new_ids) and np.array_equal(old_ids, new_ids):
        where = np.arange(len(new_ids))
    else:
        where = pd.Index(old_ids).get_indexer(new_ids)
    present = where >= 0
    at = where[present]
    differ = np.zeros(int(present.sum()), dtype=bool)
    for name, col in new.cols.items():
        a, b = col[present], old.cols[name][at]
        if a.dtype == object:
            differ |= (a != b) & ~(pd.isna(a) & pd.isna(b))
        elif a.dtype.kind == "f":
            differ |= ~((a == b) | (np.isnan(a) & np.isnan(b)))
        else:
            differ |= a != b
    gone = old_ids[~np.isin(old_ids, new_ids)]
    return np.concatenate([new_ids[~present], new_ids[present][differ], gone])


@dataclass(frozen=True)
class _Best:
    index: MatchIndex
    table: NeedTable
    since_day: float
    scores: np.ndarray  # per row of the table; NaN: no listing passes its required criteria
    listing: np.ndarray  # the listing reaching it (-1: none)


class BestScores:
    """The best score of every active need, brought up to date after a write instead of
    matched again from scratch.

    Matching every need (the batch engine, :func:`matcher.analytics.best_scores`) costs about
    half a millisecond per need at 10,000 listings. After a write, only what changed is
    matched: a need whose content and whose listings are unchanged keeps its score; each
    changed listing (:func:`changed_listings`) is scored against every need at once by
    reverse matching (:func:`matcher.reverse.evaluate_listing`, the forward engine's filters
    and scores); a need takes the better of its kept best and the changed listings' scores,
    and is matched again only when the listing that gave its best changed for the worse (or
    went). New or edited needs are matched in full. Above :attr:`max_changed` changed
    listings (an import), every need is matched again. The day moves the freshness cut-off,
    so a new day starts over.

    Attributes
    ----------
    full_runs, partial_runs : int
        How many times every need was matched, and how many times only what changed.
    """

    #: Changed listings above which every need is matched again (each changed listing costs
    #: about a fiftieth of the whole).
    max_changed = 32

    def __init__(self) -> None:
        self._last: _Best | None = None
        self.full_runs = 0
        self.partial_runs = 0

    def get(self, index: MatchIndex, table: NeedTable | None, since: datetime) -> pd.Series:
        """Every need's best score (NaN: none), indexed by need id, for the listings
        confirmed since ``since`` (as matching hides the others)."""
        if table is None:
            return pd.Series([], dtype=np.float64, index=pd.Index([], name="need_id"))
        since_day = day_number(since)
        prev = self._last
        if prev is None or prev.since_day != since_day:
            best = self._full(index, table, since, since_day)
        elif prev.index is index and prev.table is table:
            best = prev
        else:
            best = self._update(prev, index, table, since, since_day)
        self._last = best
        return pd.Series(best.scores, index=pd.Index(table.ids, name="need_id"), name="best_score")

    def _full(self, index: MatchIndex, table: NeedTable, since: datetime, day: float) -> _Best:
        self.full_runs += 1
        scores, listing = _match(index, table, np.arange(len(table)), since)
        return _Best(index, table, day, scores, listing)

    def _update(
        self, prev: _Best, index: MatchIndex, table: NeedTable, since: datetime, day: float
    ) -> _Best:
        m = len(table)
        old = pd.Index(prev.table.ids).get_indexer(table.ids)
        kept = old >= 0
        kept[kept] = [
            table.needs[i] == prev.table.needs[j]
            for i, j in zip(np.flatnonzero(kept), old[kept], strict=True)
        ]
        scores = np.full(m, np.nan)
        listing = np.full(m, -1, dtype=np.int64)
        scores[kept], listing[kept] = prev.scores[old[kept]], prev.listing[old[kept]]
        todo = ~kept
        changed = None if prev.index is index else changed_listings(prev.index, index)
        if prev.index is not index and (changed is None or len(changed) > self.max_changed):
            return self._full(index, table, since, day)
        if changed is not None and len(changed):
            cand, cand_id = _best_of(index, table, changed, since)
            lost = kept & np.isin(listing, changed)  # its best listing changed or went
            up = kept & ~lost & ((cand > scores) | (np.isnan(scores) & ~np.isnan(cand)))
            ok = lost & (cand >= scores)
            take = up | ok
            scores[take], listing[take] = cand[take], cand_id[take]
            todo |= lost & ~ok
        self.partial_runs += 1
        rows = np.flatnonzero(todo)
        if len(rows):
            scores[rows], listing[rows] = _match(index, table, rows, since)
        return _Best(index, table, day, scores, listing)


def _match(
    index: MatchIndex, table: NeedTable, rows: np.ndarray, since: datetime
) -> tuple[np.ndarray, np.ndarray]:
    """Best score and listing of some needs of the table (the batch engine, ``k=1``)."""
    scores = np.full(len(rows), np.nan)
    listing = np.full(len(rows), -1, dtype=np.int64)
    if not len(rows):
        return scores, listing
    sub = table if len(rows) == len(table) else table.take(rows)
    at = pd.Index(sub.ids)
    for chunk in batch_match(index, sub, k=1, verified_since=since):
        pos = at.get_indexer(chunk.summary["need_id"].to_numpy())
        scores[pos] = chunk.summary["best_score"].to_numpy(dtype=np.float64)
        res = chunk.results
        listing[at.get_indexer(res["need_id"].to_numpy())] = res["listing_id"].to_numpy()
    return scores, listing


def _best_of(
    index: MatchIndex, table: NeedTable, listing_ids: np.ndarray, since: datetime
) -> tuple[np.ndarray, np.ndarray]:
    """Per need, the best score among some listings (reverse matching, one listing against
    every need at once) and the listing giving it; NaN / -1 when none passes."""
    m = len(table)
    best = np.full(m, np.nan)
    best_id = np.full(m, -1, dtype=np.int64)
    base = matchable_mask(index, verified_since=since)
    for listing_id in np.sort(listing_ids):
        pos = index.position(int(listing_id))
        if pos is None or not base[pos]:
            continue
        passes, scores, _ = evaluate_listing(index, pos, table)
        scores = np.where(passes, scores, np.nan)
        better = scores > best
        better |= np.isnan(best) & ~np.isnan(scores)
        best[better], best_id[better] = scores[better], int(listing_id)
    return best, best_id


class FigureCache:
    """The dashboard's figures, each part kept for as long as what it depends on holds.

    - the best score of every active need (:class:`BestScores`: brought up to date from what
      a write changed, not matched again);
    - the needs' part (frame, places, hot spots) per filters, until a need is written;
    - the listings' part (supply, m² by kind, rents, freshness) per filters, for one index
      snapshot and day;
    - the figures of the last filters viewed, for one snapshot, needs table and day.

    Staff read the dashboard right after imports and edits; a write to a listing recomputes
    the listings' part and that listing's scores, never the needs' part.
    """

    def __init__(self, size: int = 8) -> None:
        self._lock = threading.Lock()
        self.best = BestScores()
        self._size = size
        self._needs: OrderedDict[Filters, _NeedsPart] = OrderedDict()
        self._supply: OrderedDict[Filters, _SupplyPart] = OrderedDict()
        self._figures: OrderedDict[Filters, Figures] = OrderedDict()
        self._index: MatchIndex | None = None
        self._table: NeedTable | None = None
        self._day: date | None = None

    def _kept(self, store: OrderedDict[Filters, Any], key: Filters, make: Any) -> Any:
        if key in store:
            store.move_to_end(key)
            return store[key]
        value = store[key] = make()
        while len(store) > self._size:
            store.popitem(last=False)
        return value

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
        day = now.astimezone(UTC).date()
        with self._lock:
            if index is not self._index or day != self._day:
                self._supply.clear()
                self._figures.clear()
                self._index, self._day = index, day
            if table is not self._table:
                self._needs.clear()
                self._figures.clear()
                self._table = table
            if f in self._figures:
                self._figures.move_to_end(f)
                return self._figures[f]
            scope = Filters(kind=f.kind, use=f.use, band=f.band)
            part_n = self._kept(self._needs, scope, lambda: _needs_part(needs, territory, f))
            part_s = self._kept(self._supply, scope, lambda: _supply_part(index, now, freshness, f))
            best = self.best.get(index, table, hide_before(now, freshness))
            return self._kept(self._figures, f, lambda: _combine(part_n, part_s, best, f))


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

    present = set(s["kind"].unique())
    kinds = [k for k in KINDS if k in present]
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
