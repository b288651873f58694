"""Technical: ceiling height, floor load, docks, doors, power and ICPE."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from matcher.criteria.base import (
    ArrayLike,
    Candidates,
    Criterion,
    Formatter,
    Message,
    Params,
    Reason,
    Relaxation,
    as_float,
    change_messages,
    lax_round,
    mean_of_present,
    severity,
)
from matcher.weights import DEFAULT_WEIGHTS, TECHNICAL_TOLERANCE, UNKNOWN_UTILITY

if TYPE_CHECKING:
    from geodata.schemas import NeedIn
    from matcher.index import MatchIndex

__all__ = [
    "TECHNICAL_FIELDS",
    "Technical",
    "icpe_ok",
    "icpe_utility",
    "minimum_ok",
    "minimum_utility",
]


#: Need field → index column of the technical minimums, in scoring order.
TECHNICAL_FIELDS: tuple[tuple[str, str], ...] = (
    ("min_ceiling_height_m", "ceiling_height_m"),
    ("min_floor_load_t_m2", "floor_load_t_m2"),
    ("min_loading_docks", "loading_docks"),
    ("min_ground_level_doors", "ground_level_doors"),
    ("min_power_kva", "power_kva"),
)

#: Listing column → French name, English name, unit, decimals.
_TEXT = {
    "ceiling_height_m": ("hauteur sous plafond", "ceiling height", "m", 1),
    "floor_load_t_m2": ("charge au sol", "floor load", "t/m²", 1),
    "loading_docks": ("quais de chargement", "loading docks", "", 0),
    "ground_level_doors": ("portes de plain-pied", "ground-level doors", "", 0),
    "power_kva": ("puissance", "power", "kVA", 0),
}
_STEP = {"min_ceiling_height_m": 0.1, "min_floor_load_t_m2": 0.1, "min_power_kva": 10.0}
_INTEGER = ("min_loading_docks", "min_ground_level_doors")


def minimum_ok(value: ArrayLike, minimum: ArrayLike) -> np.ndarray:
    """A stated value meets the minimum; unknown values and absent minimums pass.

    Examples
    --------
    >>> minimum_ok([6.0, 8.0, np.nan], 7.0).tolist()
    [False, True, True]
    """
    return ~(as_float(value) < as_float(minimum))


def minimum_utility(
    value: ArrayLike, minimum: ArrayLike, tol: float = TECHNICAL_TOLERANCE
) -> np.ndarray:
    """1 when the minimum is met, linear to 0 at ``minimum × (1 − tol)``.

    Examples
    --------
    >>> minimum_utility([8.0, 6.3, np.nan], 7.0).round(3).tolist()
    [1.0, 0.6, 0.5]
    """
    value, minimum = as_float(value), as_float(minimum)
    short = (minimum - value) / (minimum * tol)
    u = np.maximum(1.0 - np.maximum(short, 0.0), 0.0)
    u = np.where(np.isnan(value), UNKNOWN_UTILITY, u)
    return np.where(np.isnan(minimum), np.nan, u)


def icpe_ok(icpe: ArrayLike, needed: ArrayLike) -> np.ndarray:
    """ICPE allowed (code 1), unknown (-1) or not needed; refused (0) fails when needed.

    Examples
    --------
    >>> icpe_ok([1, 0, -1], True).tolist()
    [True, False, True]
    """
    return ~np.asarray(needed, dtype=bool) | (np.asarray(icpe) != 0)


def icpe_utility(icpe: ArrayLike, needed: ArrayLike) -> np.ndarray:
    """1 when allowed, 0 when refused, UNKNOWN_UTILITY when unknown; NaN if not needed.

    Examples
    --------
    >>> icpe_utility([1, 0, -1], True).tolist()
    [1.0, 0.0, 0.5]
    """
    icpe = np.asarray(icpe)
    u = np.where(icpe == 1, 1.0, np.where(icpe == 0, 0.0, UNKNOWN_UTILITY))
    return np.where(np.asarray(needed, dtype=bool), u, np.nan)


def _opt_min(v: float | None) -> float:
    """A minimum of 0 asks nothing."""
    return float("nan") if v is None or float(v) <= 0 else float(v)


# --- messages ------------------------------------------------------------------------------


def _checks(lang: str) -> Any:
    def message(p: Mapping[str, Any], f: Formatter) -> str:
        fr = lang == "fr"
        parts = []
        for item in p["items"]:
            f_name, e_name, unit, dec = _TEXT[item["field"]]
            name = f_name if fr else e_name

            def q(v: float, unit: str = unit, dec: int = dec) -> str:
                num = f.number(v, dec)
                return f"{num}\u00a0{unit}" if unit else num

            if item["value"] is None:
                parts.append(f"{name}\u00a0: non renseigné" if fr else f"{name}: not stated")
            else:
                parts.append(f"{name} {q(item['value'])} (min. {q(item['minimum'])})")
        if "icpe" in p:
            icpe = p["icpe"]
            if fr:
                parts.append(
                    {True: "ICPE autorisée", False: "ICPE non autorisée"}.get(
                        icpe, "ICPE\u00a0: non précisé"
                    )
                )
            else:
                parts.append(
                    {True: "ICPE allowed", False: "ICPE not allowed"}.get(icpe, "ICPE: not stated")
                )
        return ("\u00a0; " if fr else "; ").join(parts)

    return message


def _no_icpe(lang: str) -> Any:
    def message(p: Mapping[str, Any], f: Formatter) -> str:
        if lang == "fr":
            return "Envisager des locaux où l'ICPE n'est pas autorisée"
        return "Consider premises where ICPE is not allowed"

    return message


class Technical(Criterion):
    """Technical: each minimum scores 1 when met, linear to 0 at ``minimum × (1 − tol)``."""

    name = "technical"
    label = ("technique", "technical")
    default_weight = DEFAULT_WEIGHTS["technical"]
    labels: ClassVar[dict[str, tuple[str, str, str]]] = {
        "min_ceiling_height_m": (
            "hauteur sous plafond minimale",
            "minimum ceiling height",
            "metres",
        ),
        "min_floor_load_t_m2": ("charge au sol minimale", "minimum floor load", "t_m2"),
        "min_loading_docks": ("quais de chargement minimum", "minimum loading docks", "count"),
        "min_ground_level_doors": (
            "portes de plain-pied minimum",
            "minimum ground-level doors",
            "count",
        ),
        "min_power_kva": ("puissance minimale", "minimum power", "kva"),
    }
    messages: ClassVar[Mapping[str, Mapping[str, Message]]] = {
        "checks": {lang: _checks(lang) for lang in ("fr", "en")},
        "no_icpe": {lang: _no_icpe(lang) for lang in ("fr", "en")},
        "change": change_messages(labels),
    }

    def compile(self, needs: Sequence[NeedIn]) -> dict[str, Any]:
        m = len(needs)
        tech_min = np.array(
            [[_opt_min(getattr(n, f)) for f, _ in TECHNICAL_FIELDS] for n in needs],
            dtype=np.float64,
        ).reshape(m, len(TECHNICAL_FIELDS))
        return {
            "tech_min": tech_min,
            "needs_icpe": np.array([bool(n.needs_icpe) for n in needs], dtype=bool).reshape(m),
        }

    def stated(self, p: Params, m: int) -> np.ndarray:
        return (~np.isnan(p["tech_min"])).any(axis=1) | p["needs_icpe"]

    def filters(self, index: MatchIndex, p: Params, i: int) -> list[tuple[str, np.ndarray]]:
        c = index.cols
        out = []
        for j, (field, col) in enumerate(TECHNICAL_FIELDS):
            if not np.isnan(p["tech_min"][i, j]):
                out.append((field, minimum_ok(c[col], p["tech_min"][i, j])))
        if p["needs_icpe"][i]:
            out.append(("needs_icpe", c["icpe"] != 0))
        return out

    def utility(self, index: MatchIndex, p: Params, i: int, rows: np.ndarray) -> np.ndarray:
        c = index.cols
        parts = [
            minimum_utility(c[col][rows], p["tech_min"][i, j])
            for j, (_, col) in enumerate(TECHNICAL_FIELDS)
            if not np.isnan(p["tech_min"][i, j])
        ]
        if p["needs_icpe"][i]:
            parts.append(icpe_utility(c["icpe"][rows], True))
        return mean_of_present(parts)

    def completeness(
        self, index: MatchIndex, p: Params, i: int, rows: np.ndarray
    ) -> list[tuple[str, np.ndarray, np.ndarray]]:
        c = index.cols
        yes = np.ones(len(rows), dtype=bool)
        out = [
            (col, yes, ~np.isnan(c[col][rows]))
            for j, (_, col) in enumerate(TECHNICAL_FIELDS)
            if not np.isnan(p["tech_min"][i, j])
        ]
        if p["needs_icpe"][i]:
            out.append(("icpe_allowed", yes, c["icpe"][rows] >= 0))
        return out

    def reasons(self, record: Mapping[str, Any], p: Params, i: int, utility: float) -> list[Reason]:
        items = []
        for j, (_, col) in enumerate(TECHNICAL_FIELDS):
            minimum = p["tech_min"][i, j]
            if np.isnan(minimum):
                continue
            value = record[col]
            known = value is not None and not np.isnan(value)
            items.append(
                {"field": col, "value": float(value) if known else None, "minimum": float(minimum)}
            )
        params: dict[str, Any] = {"items": items}
        if p["needs_icpe"][i]:
            params["icpe"] = {1: True, 0: False}.get(int(record["icpe"]))
        if not items and "icpe" not in params:
            return []
        return [Reason(self.name, "checks", params)]

    def candidates(
        self,
        index: MatchIndex,
        p: Params,
        i: int,
        need: NeedIn,
        constraint: str,
        rows: np.ndarray,
    ) -> list[Candidates]:
        if constraint == "needs_icpe":

            def no_icpe(sel: np.ndarray) -> Relaxation:
                return Relaxation(
                    self.name,
                    "needs_icpe",
                    True,
                    False,
                    {"needs_icpe": False},
                    0,
                    1.0,
                    {},
                    reason=Reason(self.name, "no_icpe", {}),
                )

            return [Candidates(self.name, "needs_icpe", np.ones(len(rows)), no_icpe)]
        cols = dict(TECHNICAL_FIELDS)
        if constraint not in cols:
            return []
        values = index.cols[cols[constraint]][rows]
        cur = float(getattr(need, constraint))

        def make(sel: np.ndarray) -> Relaxation | None:
            new = max(
                lax_round(float(np.nanmin(values[sel])), _STEP.get(constraint, 1.0), up=False), 0.0
            )
            if new >= cur:
                return None
            if new <= 0:
                update: dict[str, Any] = {constraint: None}
            elif constraint in _INTEGER:
                update = {constraint: int(new)}
            else:
                update = {constraint: round(new, 1)}
            return Relaxation(
                self.name,
                constraint,
                cur,
                new,
                update,
                0,
                (cur - new) / cur,
                {},
                reason=Reason(
                    self.name,
                    "change",
                    {"constraint": constraint, "current": cur, "suggested": new},
                ),
            )

        return [Candidates(self.name, constraint, severity((cur - values) / cur, 1.0), make)]

    def ok_listing(self, index: MatchIndex, pos: int, p: Params) -> np.ndarray:
        c = index.cols
        ok = np.ones(len(p["needs_icpe"]), dtype=bool)
        for j, (_, col) in enumerate(TECHNICAL_FIELDS):
            ok &= minimum_ok(c[col][pos], p["tech_min"][:, j])
        return ok & icpe_ok(c["icpe"][pos], p["needs_icpe"])

    def utility_listing(self, index: MatchIndex, pos: int, p: Params) -> np.ndarray:
        c = index.cols
        parts = [
            minimum_utility(c[col][pos], p["tech_min"][:, j])
            for j, (_, col) in enumerate(TECHNICAL_FIELDS)
        ]
        parts.append(icpe_utility(c["icpe"][pos], p["needs_icpe"]))
        return mean_of_present(parts)
