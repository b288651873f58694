"""Premises like this one: nearest neighbours over the match index's columns, explained.

Each listing becomes a vector of standardised attributes: its kind (one-hot), the log of its
surface, its rent, its technical values (ceiling height, floor load, log of the power,
loading docks, ground-level doors; a missing value takes the catalogue's median and counts
as neither close nor far), and its place in Lambert-93 metres (``location_scale_m`` metres
count as one standard deviation). :class:`SimilarIndex` fits scikit-learn's
``NearestNeighbors`` on the available listings of a :class:`~matcher.index.MatchIndex` (no
database needed) and answers :meth:`SimilarIndex.similar`: the closest available listings,
each with a similarity in [0, 1] and the attributes that are close, as :class:`Reason` data
rendered in French and English.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from matcher._codes import KINDS, STATUS_CODE
from matcher.criteria.base import Reason
from matcher.explain import LanguageFormatter
from matcher.index import MatchIndex

__all__ = ["SimilarIndex", "SimilarItem", "render"]

#: Attribute → (index column, transform); technical ones may be missing.
_NUMERIC: dict[str, tuple[str, str]] = {
    "surface": ("surface_m2", "log"),
    "rent": ("rent_eur_m2_year", "plain"),
    "ceiling": ("ceiling_height_m", "plain"),
    "floor_load": ("floor_load_t_m2", "plain"),
    "power": ("power_kva", "log1p"),
    "docks": ("loading_docks", "plain"),
    "doors": ("ground_level_doors", "plain"),
}

#: Relative weight of each group of attributes in the distance.
DEFAULT_WEIGHTS: dict[str, float] = {
    "kind": 1.0,
    "surface": 1.5,
    "rent": 1.0,
    "technical": 0.5,
    "location": 1.5,
}

#: When two values count as close, for the reasons: relative gap (surface, rent, power) or
#: absolute gap (ceiling m, floor load t/m², docks, doors).
_CLOSE = {
    "surface": 0.2,
    "rent": 0.1,
    "ceiling": 1.0,
    "floor_load": 0.5,
    "power": 0.25,
    "docks": 1.0,
    "doors": 1.0,
}


@dataclass(frozen=True)
class SimilarItem:
    """One similar listing: its id, similarity (1 = same attributes, same place), distance
    on the site in metres, and the close attributes as reasons (with their text)."""

    listing_id: int
    similarity: float
    distance_m: float
    reasons: list[Reason]
    text: dict[str, list[str]] = field(default_factory=dict)


class SimilarIndex:
    """Nearest neighbours over a match index's available listings.

    Parameters
    ----------
    index
        The catalogue, as matched.
    include_under_offer
        Also propose listings under offer (by default available ones only).
    location_scale_m
        Metres counted as one standard deviation of the other attributes.
    weights
        Group weights (kind, surface, rent, technical, location); see
        :data:`DEFAULT_WEIGHTS`.
    """

    def __init__(
        self,
        index: MatchIndex,
        *,
        include_under_offer: bool = False,
        location_scale_m: float = 3_000.0,
        weights: Mapping[str, float] | None = None,
    ) -> None:
        from sklearn.neighbors import NearestNeighbors
        from sklearn.preprocessing import StandardScaler

        self.index = index
        self.version = index.version
        self.weights = {**DEFAULT_WEIGHTS, **(weights or {})}
        self.location_scale_m = float(location_scale_m)
        c = index.cols
        status = c["status"]
        ok = status == STATUS_CODE["available"]
        if include_under_offer:
            ok |= status == STATUS_CODE["under_offer"]
        self.rows = np.flatnonzero(ok)
        raw = self._raw(np.arange(index.n_rows))
        pool = raw[self.rows] if len(self.rows) else raw
        medians = np.zeros(raw.shape[1])
        for j in range(raw.shape[1]):
            known = pool[:, j][~np.isnan(pool[:, j])]
            medians[j] = float(np.median(known)) if len(known) else 0.0
        self.medians = medians
        self.scaler = StandardScaler().fit(
            self._impute(pool) if len(pool) else np.zeros((1, raw.shape[1]))
        )
        self.features = self._features(np.arange(index.n_rows))
        self.nn = NearestNeighbors()
        if len(self.rows):
            self.nn.fit(self.features[self.rows])

    # --- features --------------------------------------------------------------------------

    def _raw(self, rows: np.ndarray) -> np.ndarray:
        c = self.index.cols
        out = np.empty((len(rows), len(_NUMERIC)))
        for j, (col, how) in enumerate(_NUMERIC.values()):
            v = c[col][rows].astype(np.float64)
            if how == "log":
                v = np.log(np.where(v > 0, v, np.nan))
            elif how == "log1p":
                v = np.log1p(np.where(v >= 0, v, np.nan))
            out[:, j] = v
        return out

    def _impute(self, raw: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(raw), self.medians, raw)

    def _features(self, rows: np.ndarray) -> np.ndarray:
        c = self.index.cols
        w = self.weights
        num = self.scaler.transform(self._impute(self._raw(rows)))
        names = list(_NUMERIC)
        scale = np.array(
            [
                w["surface"] if n == "surface" else w["rent"] if n == "rent" else w["technical"]
                for n in names
            ]
        )
        kind = np.zeros((len(rows), len(KINDS)))
        kind[np.arange(len(rows)), c["kind"][rows].astype(np.int64)] = w["kind"] / np.sqrt(2.0)
        loc = np.column_stack([c["x"][rows], c["y"][rows]]) / self.location_scale_m * w["location"]
        return np.hstack([num * scale, kind, loc])

    # --- queries ---------------------------------------------------------------------------

    def similar(self, listing_id: int, *, k: int = 10) -> list[SimilarItem]:
        """The ``k`` listings most like ``listing_id`` (itself excluded), closest first.

        Raises
        ------
        KeyError
            When the listing is not in the index.
        """
        pos = self.index.position(int(listing_id))
        if pos is None:
            msg = f"listing_id: no listing {listing_id} in the catalogue"
            raise KeyError(msg)
        if k < 1 or not len(self.rows):
            return []
        n = min(k + 1, len(self.rows))
        dist, idx = self.nn.kneighbors(self.features[[pos]], n_neighbors=n)
        rows = self.rows[idx[0]]
        keep = rows != pos
        rows, dist = rows[keep][:k], dist[0][keep][:k]
        c = self.index.cols
        metres = np.hypot(c["x"][rows] - c["x"][pos], c["y"][rows] - c["y"][pos])
        out = []
        for r, d, m in zip(rows, dist, metres, strict=True):
            reasons = self._reasons(pos, int(r), float(m))
            out.append(
                SimilarItem(
                    listing_id=int(c["id"][r]),
                    similarity=round(float(1.0 / (1.0 + d)), 4),
                    distance_m=round(float(m), 1),
                    reasons=reasons,
                    text={lang: [render(x, lang) for x in reasons] for lang in ("fr", "en")},
                )
            )
        return out

    def _reasons(self, a: int, b: int, metres: float) -> list[Reason]:
        c = self.index.cols
        out = []
        if c["kind"][a] == c["kind"][b]:
            out.append(Reason("similar", "same_kind", {"kind": KINDS[int(c["kind"][a])]}))
        for name, (col, _) in _NUMERIC.items():
            va, vb = float(c[col][a]), float(c[col][b])
            if np.isnan(va) or np.isnan(vb):
                continue
            gap = abs(va - vb)
            rel = name in ("surface", "rent", "power")
            close = gap <= _CLOSE[name] * max(abs(va), 1e-9) if rel else gap <= _CLOSE[name]
            if close:
                out.append(Reason("similar", f"close_{name}", {"this": va, "that": vb}))
        out.append(Reason("similar", "distance", {"metres": metres}))
        return out


def render(reason: Reason, lang: str) -> str:
    """The text of a similarity reason in French or English.

    Examples
    --------
    >>> render(Reason("similar", "close_surface", {"this": 800.0, "that": 900.0}), "en")
    'Surface 900\\xa0m² (this one: 800\\xa0m²)'
    """
    f = LanguageFormatter(lang)
    fr = lang == "fr"
    p = reason.params
    code = reason.code
    if code == "same_kind":
        return f"Même type\u00a0: {f.kind(p['kind'])}" if fr else f"Same kind: {f.kind(p['kind'])}"
    if code == "distance":
        return f"À {f.distance(p['metres'])}" if fr else f"{f.distance(p['metres'])} away"
    units: dict[str, tuple[str, str, Any]] = {
        "close_surface": ("Surface", "Surface", f.area),
        "close_rent": ("Loyer", "Rent", lambda v: f.rate(v, "/m²/an" if fr else "/m²/year")),
        "close_ceiling": (
            "Hauteur sous plafond",
            "Ceiling height",
            lambda v: f"{f.number(v, 1)}\u00a0m",
        ),
        "close_floor_load": (
            "Charge au sol",
            "Floor load",
            lambda v: f"{f.number(v, 1)}\u00a0t/m²",
        ),
        "close_power": ("Puissance", "Power", lambda v: f"{f.number(v)}\u00a0kVA"),
        "close_docks": ("Quais", "Loading docks", lambda v: f.number(v)),
        "close_doors": ("Portes de plain-pied", "Ground-level doors", lambda v: f.number(v)),
    }
    if code not in units:
        msg = f"reason: no {lang} message for similarity code '{code}'"
        raise KeyError(msg)
    fr_label, en_label, fmt = units[code]
    if fr:
        return f"{fr_label} {fmt(p['that'])} (celui-ci\u00a0: {fmt(p['this'])})"
    return f"{en_label} {fmt(p['that'])} (this one: {fmt(p['this'])})"
