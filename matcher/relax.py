"""Relaxation: which single required constraint to loosen, by how much, for how many more.

For each required constraint, the listings that fail it *and only it* are the ones relaxing
it could bring. Each suggestion loosens the constraint just enough to bring the missing
results (``k`` minus the matches, or all it can), rounds the new value to a readable step in
the lax direction, and counts what the rounded value brings by re-running the filter — so the
count it states is the count the changed need would get.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import numpy as np

import shapely

from matcher import criteria as cr
from matcher._codes import USE_BIT, uses_of_mask
from matcher._geo import to_wgs84_geometry
from matcher.engine import SubFilter
from matcher.explain import (
    NBSP,
    _commune_label,
    _day_to_date,
    _use_labels,
    fmt_area,
    fmt_date,
    fmt_distance,
    fmt_money,
    fmt_number,
)
from matcher.index import MatchIndex
from matcher.needs import TECHNICAL_FIELDS, NeedTable
from matcher.weights import BUDGET_TOLERANCE, SURFACE_TOLERANCE

__all__ = ["Relaxation", "suggest_relaxations"]


@dataclass(frozen=True)
class Relaxation:
    """One way to loosen one constraint of a need.

    ``need_update`` holds the fields to change on the need (``need.model_copy(update=...)``
    then re-validate); ``brings`` is how many more premises the changed need matches.
    """

    criterion: str
    constraint: str
    current: Any
    suggested: Any
    need_update: dict[str, Any]
    brings: int
    relative_change: float
    text: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


_LABELS: dict[str, tuple[str, str]] = {
    "surface_min_m2": ("surface minimale", "minimum surface"),
    "surface_max_m2": ("surface maximale", "maximum surface"),
    "max_rent_eur_m2_year": ("plafond de loyer", "rent ceiling"),
    "max_sale_price_eur": ("budget d'achat", "purchase budget"),
    "radius_m": ("rayon de recherche", "search radius"),
    "max_station_distance_m": ("distance maximale à une gare", "maximum distance to a station"),
    "max_interchange_distance_m": (
        "distance maximale à un échangeur",
        "maximum distance to an interchange",
    ),
    "min_ceiling_height_m": ("hauteur sous plafond minimale", "minimum ceiling height"),
    "min_floor_load_t_m2": ("charge au sol minimale", "minimum floor load"),
    "min_loading_docks": ("quais de chargement minimum", "minimum loading docks"),
    "min_ground_level_doors": ("portes de plain-pied minimum", "minimum ground-level doors"),
    "min_power_kva": ("puissance minimale", "minimum power"),
    "wanted_by": ("date souhaitée", "wanted date"),
    "polygon": ("zone de recherche", "search area"),
}


def _more(n: int, lang: str) -> str:
    if lang == "fr":
        return f"{n} local de plus" if n == 1 else f"{n} locaux de plus"
    return f"{n} more premises"


def _fmt_value(constraint: str, v: Any, lang: str) -> str:
    if constraint.startswith("surface"):
        return fmt_area(v, lang)
    if constraint == "max_rent_eur_m2_year":
        return fmt_money(v, lang, "/m²/an" if lang == "fr" else "/m²/year")
    if constraint == "max_sale_price_eur":
        return fmt_money(v, lang)
    if constraint in (
        "radius_m",
        "max_station_distance_m",
        "max_interchange_distance_m",
        "polygon",
    ) or constraint.startswith("places."):
        return fmt_distance(v, lang)
    if constraint == "min_ceiling_height_m":
        return f"{fmt_number(v, lang, 1, trim=True)}{NBSP}m"
    if constraint == "min_floor_load_t_m2":
        return f"{fmt_number(v, lang, 1, trim=True)}{NBSP}t/m²"
    if constraint == "min_power_kva":
        return f"{fmt_number(v, lang)}{NBSP}kVA"
    if constraint == "wanted_by":
        day = date.fromisoformat(v) if isinstance(v, str) else _day_to_date(v)
        return fmt_date(day, lang)
    return fmt_number(v, lang)


def _numeric_text(
    label: tuple[str, str], constraint: str, cur: Any, new: Any, n: int
) -> dict[str, str]:
    return {
        "fr": f"{label[0].capitalize()}{NBSP}: {_fmt_value(constraint, new, 'fr')} au lieu de "
        f"{_fmt_value(constraint, cur, 'fr')} — {_more(n, 'fr')}",
        "en": f"{label[1].capitalize()}: {_fmt_value(constraint, new, 'en')} instead of "
        f"{_fmt_value(constraint, cur, 'en')} — {_more(n, 'en')}",
    }


def _pick(needed: np.ndarray, target: int, *, up: bool, step: float) -> float:
    """The loosest-needed value among the ``target`` easiest rows, rounded laxly."""
    vals = np.sort(needed[~np.isnan(needed)])
    if not up:
        vals = vals[::-1]
    v = float(vals[min(target, len(vals)) - 1])
    if up:
        return math.ceil(v / step - 1e-9) * step
    return math.floor(v / step + 1e-9) * step


def _rel(cur: float, new: float) -> float:
    return abs(new - cur) / abs(cur) if cur else 1.0


def suggest_relaxations(
    index: MatchIndex,
    table: NeedTable,
    i: int,
    base: np.ndarray,
    subs: list[SubFilter],
    *,
    n_matching: int,
    k: int,
) -> list[Relaxation]:
    """Single-constraint relaxations of need ``i``, best first.

    Best: brings at least the missing ``k − n_matching`` results, then the smallest relative
    change, then the most premises brought.
    """
    target = max(1, k - n_matching)
    prefix = [base]
    for s in subs:
        prefix.append(prefix[-1] & s.mask)
    suffix = [np.ones_like(base)]
    for s in reversed(subs):
        suffix.append(suffix[-1] & s.mask)
    suffix = suffix[::-1]
    out: list[Relaxation] = []
    for j, s in enumerate(subs):
        rows = np.flatnonzero(prefix[j] & suffix[j + 1] & ~s.mask)
        if len(rows) == 0:
            continue
        if s.name == "surface" and any(t.name == "budget" for t in subs):
            # a lower minimum surface lowers the pro-rata price of lots, so it can also
            # bring listings that fail the budget: count over every row, not ``rows`` only
            others = base.copy()
            for t in subs:
                if t.name not in ("surface", "budget"):
                    others &= t.mask
            out.extend(
                _relax_surface(index.cols, table, i, rows, target, widen=(others, prefix[-1]))
            )
            continue
        out.extend(_relax_one(index, table, i, s, rows, target))
    if not out and len(subs) > 1:
        out = _relax_pairs(index, table, i, base, subs, target, n_matching)
    out.sort(key=lambda r: (r.brings < target, r.relative_change, -r.brings, r.constraint))
    return out


def _what(text: str) -> str:
    """A relaxation's text without its trailing count."""
    return text.rsplit(" — ", 1)[0]


def _pair_text(x: Relaxation, y: Relaxation, brings: int) -> dict[str, str]:
    def lower_first(text: str) -> str:
        return text[:1].lower() + text[1:]

    fr_x, fr_y = _what(x.text["fr"]), lower_first(_what(y.text["fr"]))
    en_x, en_y = _what(x.text["en"]), lower_first(_what(y.text["en"]))
    return {
        "fr": f"Aucun changement seul ne suffit{NBSP}; ensemble{NBSP}: {fr_x} et {fr_y} — "
        f"{_more(brings, 'fr')}",
        "en": f"No single change is enough; together: {en_x} and {en_y} — {_more(brings, 'en')}",
    }


def _relax_pairs(
    index: MatchIndex,
    table: NeedTable,
    i: int,
    base: np.ndarray,
    subs: list[SubFilter],
    target: int,
    n_matching: int,
) -> list[Relaxation]:
    """When no single change brings anything: two constraints relaxed together.

    Each of the two is loosened for the listings that fail exactly those two; the count is
    that of the changed need, re-run through the filters.
    """
    from matcher.engine import sub_filters

    out: list[Relaxation] = []
    masks = [s.mask for s in subs]
    for a in range(len(subs)):
        for b in range(a + 1, len(subs)):
            others = base.copy()
            for j, m in enumerate(masks):
                if j not in (a, b):
                    others &= m
            rows = np.flatnonzero(others & ~masks[a] & ~masks[b])
            if len(rows) == 0:
                continue
            ra = _relax_one(index, table, i, subs[a], rows, target)
            rb = _relax_one(index, table, i, subs[b], rows, target)
            for x in ra[:1]:
                for y in rb[:1]:
                    if set(x.need_update) & set(y.need_update):
                        continue
                    update = {**x.need_update, **y.need_update}
                    data = table.needs[i].model_dump()
                    data.update(update)
                    changed = type(table.needs[i]).model_validate(
                        data, context={"skip_territory": True}
                    )
                    t2 = NeedTable.from_needs([changed])
                    ok = base.copy()
                    for s in sub_filters(index, t2, 0):
                        ok &= s.mask
                    brings = int(np.count_nonzero(ok)) - n_matching
                    if brings <= 0:
                        continue
                    out.append(
                        Relaxation(
                            criterion=f"{x.criterion}+{y.criterion}",
                            constraint=f"{x.constraint}+{y.constraint}",
                            current=[x.current, y.current],
                            suggested=[x.suggested, y.suggested],
                            need_update=update,
                            brings=brings,
                            relative_change=x.relative_change + y.relative_change,
                            text=_pair_text(x, y, brings),
                        )
                    )
    return out


def _numeric(
    criterion: str,
    constraint: str,
    cur: float,
    needed: np.ndarray,
    target: int,
    *,
    up: bool,
    step: float,
    check: Callable[[float], np.ndarray],
    update: Callable[[float], dict[str, Any]],
    label: tuple[str, str] | None = None,
    floor: float | None = None,
) -> list[Relaxation]:
    if not np.any(~np.isnan(needed)):
        return []
    new = round(_pick(needed, target, up=up, step=step), 6)
    if floor is not None and new < floor:
        new = floor
    brings = int(np.count_nonzero(check(new)))
    if brings == 0:
        return []
    return [
        Relaxation(
            criterion=criterion,
            constraint=constraint,
            current=cur,
            suggested=new,
            need_update=update(new),
            brings=brings,
            relative_change=_rel(cur, new),
            text=_numeric_text(label or _LABELS[constraint], constraint, cur, new, brings),
        )
    ]


def _relax_one(
    index: MatchIndex, table: NeedTable, i: int, s: SubFilter, rows: np.ndarray, target: int
) -> list[Relaxation]:
    c = index.cols
    need = table.needs[i]
    name = s.name
    if name == "surface":
        return _relax_surface(c, table, i, rows, target)
    if name == "uses":
        return _relax_uses(c, table, i, rows)
    if name == "kinds":
        return [
            Relaxation(
                "use",
                "kinds",
                list(need.kinds),
                [],
                {"kinds": []},
                len(rows),
                1.0,
                {
                    "fr": f"Accepter tous les types de locaux — {_more(len(rows), 'fr')}",
                    "en": f"Accept every kind of premises — {_more(len(rows), 'en')}",
                },
            )
        ]
    if name == "budget":
        return _relax_budget(c, table, i, rows, target)
    if name == "communes":
        return _relax_communes(index, table, i, rows, target)
    if name == "polygon":
        return _relax_polygon(c, table, i, rows, target)
    if name == "radius_m":
        d = cr.distance_m(c["x"][rows], c["y"][rows], table.cx[i], table.cy[i])
        return _numeric(
            "location",
            "radius_m",
            float(table.reach[i]),
            d,
            target,
            up=True,
            step=100.0,
            check=lambda v: d <= v,
            update=lambda v: {"radius_m": v},
        )
    if name.startswith("places."):
        j = int(name.split(".")[1])
        d = cr.distance_m(c["x"][rows], c["y"][rows], table.place_x[i][j], table.place_y[i][j])
        place = need.places[j]

        def upd(v: float, j: int = j) -> dict[str, Any]:
            places = [p.model_dump() for p in need.places]
            places[j]["max_distance_m"] = v
            return {"places": places}

        return _numeric(
            "location",
            name,
            float(table.place_reach[i][j]),
            d,
            target,
            up=True,
            step=100.0,
            check=lambda v: d <= v,
            update=upd,
            label=(
                f"distance maximale à «{NBSP}{place.label}{NBSP}»",
                f"maximum distance from “{place.label}”",
            ),
        )
    if name in ("max_station_distance_m", "max_interchange_distance_m"):
        col = "station_dist" if name.startswith("max_station") else "interchange_dist"
        d = c[col][rows]
        cur = float(getattr(need, name))
        return _numeric(
            "access",
            name,
            cur,
            d,
            target,
            up=True,
            step=100.0,
            check=lambda v: ~(d > v),
            update=lambda v: {name: v},
        )
    tech = dict(TECHNICAL_FIELDS)
    if name in tech:
        col = tech[name]
        vals = c[col][rows]
        cur = float(getattr(need, name))
        step = {"min_ceiling_height_m": 0.1, "min_floor_load_t_m2": 0.1, "min_power_kva": 10.0}.get(
            name, 1.0
        )

        def upd_min(v: float) -> dict[str, Any]:
            if v <= 0:
                return {name: None}
            return {
                name: int(v)
                if name in ("min_loading_docks", "min_ground_level_doors")
                else round(v, 1)
            }

        return _numeric(
            "technical",
            name,
            cur,
            vals,
            target,
            up=False,
            step=step,
            check=lambda v: ~(vals < v),
            update=upd_min,
            floor=0.0,
        )
    if name == "needs_icpe":
        return [
            Relaxation(
                "technical",
                "needs_icpe",
                True,
                False,
                {"needs_icpe": False},
                len(rows),
                1.0,
                {
                    "fr": "Envisager des locaux où l'ICPE n'est pas autorisée — "
                    f"{_more(len(rows), 'fr')}",
                    "en": f"Consider premises where ICPE is not allowed — {_more(len(rows), 'en')}",
                },
            )
        ]
    if name == "wanted_by":
        days = c["available_day"][rows]
        cur_day = float(table.wanted_day[i])

        def upd_day(v: float) -> dict[str, Any]:
            return {"wanted_by": _day_to_date(v).isoformat()}

        rel = _numeric(
            "availability",
            "wanted_by",
            cur_day,
            days,
            target,
            up=True,
            step=1.0,
            check=lambda v: ~(days > v),
            update=upd_day,
        )
        return [
            Relaxation(
                r.criterion,
                r.constraint,
                _day_to_date(cur_day).isoformat(),
                _day_to_date(r.suggested).isoformat(),
                r.need_update,
                r.brings,
                (r.suggested - cur_day) / 365.0,
                _numeric_text(
                    _LABELS["wanted_by"],
                    "wanted_by",
                    _day_to_date(cur_day).isoformat(),
                    _day_to_date(r.suggested).isoformat(),
                    r.brings,
                ),
            )
            for r in rel
        ]
    return []


def _relax_surface(
    c: dict[str, np.ndarray],
    table: NeedTable,
    i: int,
    rows: np.ndarray,
    target: int,
    widen: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[Relaxation]:
    """``widen``: (rows passing the required constraints but surface and budget, rows
    matching now), to count a lower minimum with the budget it also changes."""
    lo, hi = float(table.s_min[i]), float(table.s_max[i])
    a, b = c["lot_min"][rows], c["surface_m2"][rows]
    t = SURFACE_TOLERANCE
    small = b < lo * (1.0 - t)
    out = []

    def check_min(v: float) -> np.ndarray:
        if widen is None:
            return cr.surface_ok(a, b, v, hi)
        others, matching = widen
        lot_min, surface = c["lot_min"], c["surface_m2"]
        sale = cr.sale_total(c["sale_price_eur"], surface, cr.surface_taken(lot_min, surface, v))
        ok = cr.budget_ok(
            c["tenure"],
            c["rent_eur_m2_year"],
            sale,
            table.wanted_bits[i],
            table.max_rent[i],
            table.max_sale[i],
        )
        return others & ~matching & cr.surface_ok(lot_min, surface, v, hi) & ok

    if small.any():
        needed = np.where(small, b / (1.0 - t), np.nan)
        out += _numeric(
            "surface",
            "surface_min_m2",
            lo,
            needed,
            target,
            up=False,
            step=10.0,
            check=check_min,
            update=lambda v: {"surface_min_m2": v},
            floor=10.0,
        )
    big = a > hi * (1.0 + t)
    if big.any():
        needed = np.where(big, a / (1.0 + t), np.nan)
        out += _numeric(
            "surface",
            "surface_max_m2",
            hi,
            needed,
            target,
            up=True,
            step=10.0,
            check=lambda v: cr.surface_ok(a, b, lo, v),
            update=lambda v: {"surface_max_m2": v},
        )
    return out


def _relax_uses(
    c: dict[str, np.ndarray], table: NeedTable, i: int, rows: np.ndarray
) -> list[Relaxation]:
    want = int(table.use_mask[i])
    have = c["uses_eff"][rows].astype(np.int64)
    uses = uses_of_mask(want)
    best: tuple[int, str] | None = None
    if len(uses) > 1:
        for u in uses:
            rest = want & ~USE_BIT[u]
            count = int(np.count_nonzero((have & rest) == rest))
            if count and (best is None or count > best[0]):
                best = (count, u)
    if best is not None:
        count, u = best
        rest_uses = [x for x in uses if x != u]
        return [
            Relaxation(
                "use",
                "uses",
                uses,
                rest_uses,
                {"uses": rest_uses},
                count,
                1.0 / len(uses),
                {
                    "fr": f"Ne plus exiger l'usage {_use_labels(USE_BIT[u], 'fr')} — "
                    f"{_more(count, 'fr')}",
                    "en": f"Stop requiring the use {_use_labels(USE_BIT[u], 'en')} — "
                    f"{_more(count, 'en')}",
                },
            )
        ]
    need = table.needs[i]
    n = len(rows)
    if need.naf_code is None:
        update: dict[str, Any] = {"uses": []}
    elif not table.kind_mask[i]:
        update = {"required": [str(x) for x in need.required if str(x) != "use"]}
    else:
        return []
    return [
        Relaxation(
            "use",
            "uses",
            uses,
            [],
            update,
            n,
            1.0,
            {
                "fr": f"Ne plus exiger que les locaux autorisent{NBSP}: {_use_labels(want, 'fr')} "
                f"(à vérifier avec le propriétaire) — {_more(n, 'fr')}",
                "en": f"Stop requiring premises that allow {_use_labels(want, 'en')} "
                f"(check with the owner) — {_more(n, 'en')}",
            },
        )
    ]


def _relax_budget(
    c: dict[str, np.ndarray], table: NeedTable, i: int, rows: np.ndarray, target: int
) -> list[Relaxation]:
    tenure = c["tenure"][rows]
    rent = c["rent_eur_m2_year"][rows]
    surface = c["surface_m2"][rows]
    taken = cr.surface_taken(c["lot_min"][rows], surface, table.s_min[i])
    sale = cr.sale_total(c["sale_price_eur"][rows], surface, taken)
    bits = int(table.wanted_bits[i])
    max_rent, max_sale = float(table.max_rent[i]), float(table.max_sale[i])

    def ok(wanted: int, r: float, s: float) -> np.ndarray:
        return cr.budget_ok(tenure, rent, sale, wanted, r, s)

    tol = 1.0 + BUDGET_TOLERANCE
    out: list[Relaxation] = []
    if bits & 1 and not np.isnan(max_rent):
        needed = np.where((tenure & 1) != 0, rent / tol, np.nan)
        out += _numeric(
            "budget",
            "max_rent_eur_m2_year",
            max_rent,
            needed,
            target,
            up=True,
            step=1.0,
            check=lambda v: ok(bits, v, max_sale),
            update=lambda v: {"max_rent_eur_m2_year": v},
        )
    if bits & 2 and not np.isnan(max_sale):
        needed = np.where((tenure & 2) != 0, sale / tol, np.nan)
        out += _numeric(
            "budget",
            "max_sale_price_eur",
            max_sale,
            needed,
            target,
            up=True,
            step=10_000.0,
            check=lambda v: ok(bits, max_rent, v),
            update=lambda v: {"max_sale_price_eur": v},
        )
    if bits != 3:
        count = int(np.count_nonzero(ok(3, max_rent, max_sale)))
        if count:
            fr_mode = "louer" if bits == 1 else "acheter"
            en_mode = "renting" if bits == 1 else "buying"
            out.append(
                Relaxation(
                    "budget",
                    "tenure",
                    "rent" if bits == 1 else "buy",
                    "either",
                    {"tenure": "either"},
                    count,
                    1.0,
                    {
                        "fr": "Envisager d'acheter comme de louer "
                        f"(au lieu de seulement {fr_mode}) — {_more(count, 'fr')}",
                        "en": f"Consider buying as well as renting (not only {en_mode}) — "
                        f"{_more(count, 'en')}",
                    },
                )
            )
    return out


def _relax_communes(
    index: MatchIndex, table: NeedTable, i: int, rows: np.ndarray, target: int
) -> list[Relaxation]:
    codes = index.cols["commune"][rows]
    codes = codes[codes >= 0]
    if len(codes) == 0:
        return []
    values, counts = np.unique(codes, return_counts=True)
    order = np.lexsort((np.array([index.communes[v] for v in values]), -counts))
    added: list[str] = []
    total = 0
    for o in order:
        added.append(index.communes[values[o]])
        total += int(counts[o])
        if total >= target or len(added) >= 3:
            break
    cur = list(table.communes[i])
    names_fr = ", ".join(_commune_label(x, index.commune_names.get(x)) for x in added)
    return [
        Relaxation(
            "location",
            "communes",
            cur,
            cur + added,
            {"communes": cur + added},
            total,
            len(added) / max(1, len(cur)),
            {
                "fr": f"Ajouter {names_fr} à vos communes — {_more(total, 'fr')}",
                "en": f"Add {names_fr} to your communes — {_more(total, 'en')}",
            },
        )
    ]


def _relax_polygon(
    c: dict[str, np.ndarray], table: NeedTable, i: int, rows: np.ndarray, target: int
) -> list[Relaxation]:
    poly = table.polygon[i]
    pts = shapely.points(c["x"][rows], c["y"][rows])
    d = np.asarray(shapely.distance(poly, pts), dtype=np.float64)

    def check(v: float) -> np.ndarray:
        return np.asarray(shapely.covers(shapely.buffer(poly, v), pts), dtype=bool)

    def update(v: float) -> dict[str, Any]:
        grown = to_wgs84_geometry(shapely.buffer(poly, v))
        return {"polygon": json.loads(shapely.to_geojson(grown))}

    rel = _numeric(
        "location", "polygon", 0.0, d, target, up=True, step=100.0, check=check, update=update
    )
    return [
        Relaxation(
            r.criterion,
            r.constraint,
            None,
            r.suggested,
            r.need_update,
            r.brings,
            r.suggested / 1000.0,
            {
                "fr": f"Élargir votre zone de recherche de "
                f"{fmt_distance(r.suggested, 'fr')} — {_more(r.brings, 'fr')}",
                "en": f"Widen your search area by {fmt_distance(r.suggested, 'en')} — "
                f"{_more(r.brings, 'en')}",
            },
        )
        for r in rel
    ]
