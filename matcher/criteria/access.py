"""Access: close to a transit station and to a motorway interchange."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from matcher.criteria.base import (
    Candidates,
    Criterion,
    Formatter,
    Message,
    Params,
    Reason,
    Relaxation,
    change_messages,
    distance_utility,
    lax_round,
    mean_of_present,
    severity,
)
from matcher.weights import DEFAULT_WEIGHTS

if TYPE_CHECKING:
    from geodata.schemas import NeedIn
    from matcher.index import MatchIndex

__all__ = ["Access"]

#: Need field, parameter and index column of each access point.
_POINTS = (
    ("max_station_distance_m", "station_max", "station"),
    ("max_interchange_distance_m", "interchange_max", "interchange"),
)
_NAMES = {
    "station": ("gare la plus proche", "nearest station"),
    "interchange": ("échangeur le plus proche", "nearest interchange"),
}
#: A maximum distance is never raised beyond this many times its value.
MAX_RAISE = 2.0


def _opt(v: float | None) -> float:
    return float("nan") if v is None else float(v)


def _nearest(lang: str) -> Any:
    def message(p: Mapping[str, Any], f: Formatter) -> str:
        fr = lang == "fr"
        label = _NAMES[p["point"]][0 if fr else 1]
        if p["distance"] is None:
            return f"{label}\u00a0: non connue" if fr else f"{label}: unknown"
        d = f.distance(p["distance"])
        text = f"{label}\u00a0: {p['name']}, à {d}" if fr else f"{label}: {p['name']}, {d} away"
        if p["beyond"]:
            limit = f.distance(p["limit"])
            text += f" (au-delà de {limit})" if fr else f" (beyond {limit})"
        return text

    return message


class Access(Criterion):
    """Access: ``max(0, 1 − d / (2R))`` to each asked access point, averaged."""

    name = "access"
    label = ("accès", "access")
    default_weight = DEFAULT_WEIGHTS["access"]
    labels: ClassVar[dict[str, tuple[str, str, str]]] = {
        "max_station_distance_m": (
            "distance maximale à une gare",
            "maximum distance to a station",
            "distance",
        ),
        "max_interchange_distance_m": (
            "distance maximale à un échangeur",
            "maximum distance to an interchange",
            "distance",
        ),
    }
    messages: ClassVar[Mapping[str, Mapping[str, Message]]] = {
        "nearest": {lang: _nearest(lang) for lang in ("fr", "en")},
        "change": change_messages(labels),
    }

    def compile(self, needs: Sequence[NeedIn]) -> dict[str, Any]:
        m = len(needs)
        return {
            param: np.array([_opt(getattr(n, field)) for n in needs]).reshape(m)
            for field, param, _ in _POINTS
        }

    def stated(self, p: Params, m: int) -> np.ndarray:
        return ~np.isnan(p["station_max"]) | ~np.isnan(p["interchange_max"])

    def filters(self, index: MatchIndex, p: Params, i: int) -> list[tuple[str, np.ndarray]]:
        out = []
        for field, param, point in _POINTS:
            if not np.isnan(p[param][i]):
                out.append((field, ~(index.cols[f"{point}_dist"] > p[param][i])))
        return out

    def utility(self, index: MatchIndex, p: Params, i: int, rows: np.ndarray) -> np.ndarray:
        return mean_of_present(
            [
                distance_utility(index.cols[f"{point}_dist"][rows], p[param][i])
                for _, param, point in _POINTS
            ]
        )

    def completeness(
        self, index: MatchIndex, p: Params, i: int, rows: np.ndarray
    ) -> list[tuple[str, np.ndarray, np.ndarray]]:
        yes = np.ones(len(rows), dtype=bool)
        return [
            (point, yes, ~np.isnan(index.cols[f"{point}_dist"][rows]))
            for _, param, point in _POINTS
            if not np.isnan(p[param][i])
        ]

    def reasons(self, record: Mapping[str, Any], p: Params, i: int, utility: float) -> list[Reason]:
        out = []
        for _, param, point in _POINTS:
            limit = p[param][i]
            if np.isnan(limit):
                continue
            d = record[f"{point}_dist"]
            known = d is not None and not np.isnan(d)
            out.append(
                Reason(
                    self.name,
                    "nearest",
                    {
                        "point": point,
                        "name": record[f"{point}_name"],
                        "distance": float(d) if known else None,
                        "limit": float(limit),
                        "beyond": bool(known and d > limit),
                    },
                )
            )
        return out

    def candidates(
        self,
        index: MatchIndex,
        p: Params,
        i: int,
        need: NeedIn,
        constraint: str,
        rows: np.ndarray,
    ) -> list[Candidates]:
        for field, param, point in _POINTS:
            if field != constraint:
                continue
            d = index.cols[f"{point}_dist"][rows]
            cur = float(p[param][i])

            def make(
                sel: np.ndarray, field: str = field, cur: float = cur, d: np.ndarray = d
            ) -> Relaxation:
                new = lax_round(float(np.nanmax(d[sel])), 100.0, up=True)
                return Relaxation(
                    self.name,
                    field,
                    cur,
                    new,
                    {field: new},
                    0,
                    (new - cur) / cur,
                    {},
                    reason=Reason(
                        self.name, "change", {"constraint": field, "current": cur, "suggested": new}
                    ),
                )

            return [Candidates(self.name, field, severity((d - cur) / cur, MAX_RAISE), make)]
        return []

    def ok_listing(self, index: MatchIndex, pos: int, p: Params) -> np.ndarray:
        c = index.cols
        return ~(c["station_dist"][pos] > p["station_max"]) & ~(
            c["interchange_dist"][pos] > p["interchange_max"]
        )

    def utility_listing(self, index: MatchIndex, pos: int, p: Params) -> np.ndarray:
        return mean_of_present(
            [
                distance_utility(index.cols[f"{point}_dist"][pos], p[param])
                for _, param, point in _POINTS
            ]
        )
