"""Surface: the listing (or a lot of a divisible one) fits the wanted range."""

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
    severity,
)
from matcher.weights import DEFAULT_WEIGHTS, SURFACE_TOLERANCE

if TYPE_CHECKING:
    from geodata.schemas import NeedIn
    from matcher.index import MatchIndex

__all__ = [
    "SPLIT_FIELDS",
    "Surface",
    "lot_minimum",
    "split_utility",
    "surface_ok",
    "surface_taken",
    "surface_utility",
]


#: A minimum surface is never cut by more than this share, nor a maximum raised by more.
MAX_CUT = 0.5
MAX_RAISE = 1.0


def lot_minimum(surface: ArrayLike, divisible: ArrayLike, min_lot: ArrayLike) -> np.ndarray:
    """Smallest lot a listing offers: its surface unless divisible, else its minimum lot.

    A divisible listing that states no minimum lot offers lots of any size (0).

    Examples
    --------
    >>> lot_minimum([3000, 3000, 500], [True, True, False], [800, np.nan, np.nan]).tolist()
    [800.0, 0.0, 500.0]
    """
    surface, min_lot = as_float(surface), as_float(min_lot)
    divisible = np.asarray(divisible, dtype=bool)
    return np.where(divisible, np.where(np.isnan(min_lot), 0.0, min_lot), surface)


def surface_ok(
    lot_min: ArrayLike,
    surface: ArrayLike,
    want_min: ArrayLike,
    want_max: ArrayLike,
    tol: float = SURFACE_TOLERANCE,
) -> np.ndarray:
    """Whether a listing offering lots in ``[lot_min, surface]`` meets the tolerance band.

    Examples
    --------
    >>> surface_ok([800, 3000, 500], [3000, 3000, 500], 900, 900).tolist()
    [True, False, False]
    """
    lo = as_float(want_min) * (1.0 - tol)
    hi = as_float(want_max) * (1.0 + tol)
    return (as_float(surface) >= lo) & (as_float(lot_min) <= hi)


def surface_utility(
    lot_min: ArrayLike,
    surface: ArrayLike,
    want_min: ArrayLike,
    want_max: ArrayLike,
    tol: float = SURFACE_TOLERANCE,
) -> np.ndarray:
    """Fit of the offered lots to the wanted range.

    1 when the lots ``[lot_min, surface]`` meet ``[want_min, want_max]``; linear down to 0.5
    at the edge of the tolerance band (``want_min × (1 − tol)``, ``want_max × (1 + tol)``);
    beyond it, 0.5 × the ratio of the surface offered to that edge (too small) or of that
    edge to the smallest lot offered (too large), so that a premises twice too large still
    beats one ten times too large.

    Examples
    --------
    >>> surface_utility([1000, 850, 1320, 2640, 405], [1000, 850, 1320, 2640, 405], 900, 1200
    ...                 ).round(3).tolist()
    [1.0, 0.722, 0.5, 0.25, 0.25]
    >>> surface_utility([800], [3000], 900, 900).tolist()
    [1.0]
    """
    want_min, want_max = as_float(want_min), as_float(want_max)
    surface, lot_min = as_float(surface), as_float(lot_min)
    short = (want_min - surface) / (want_min * tol)
    over = (lot_min - want_max) / (want_max * tol)
    gap = np.maximum(np.maximum(short, over), 0.0)
    u = np.asarray(1.0 - 0.5 * gap, dtype=np.float64)
    out = ~(gap <= 1.0)
    if gap.ndim == 0:
        if out:
            edge = want_min * (1.0 - tol) if short > over else want_max * (1.0 + tol)
            with np.errstate(divide="ignore"):
                u = np.asarray(0.5 * surface / edge if short > over else 0.5 * edge / lot_min)
        return u
    if out.any():  # beyond the band (computed only there; same value element by element)
        shape = out.shape
        lo_edge = np.broadcast_to(want_min * (1.0 - tol), shape)
        hi_edge = np.broadcast_to(want_max * (1.0 + tol), shape)
        s_b, l_b = np.broadcast_to(surface, shape), np.broadcast_to(lot_min, shape)
        sh, ov = np.broadcast_to(short, shape), np.broadcast_to(over, shape)
        u = np.array(np.broadcast_to(u, shape), dtype=np.float64)
        with np.errstate(divide="ignore"):
            u[out] = np.where(
                sh[out] > ov[out],
                0.5 * s_b[out] / lo_edge[out],
                0.5 * hi_edge[out] / l_b[out],
            )
    return u


def surface_taken(lot_min: ArrayLike, surface: ArrayLike, want_min: ArrayLike) -> np.ndarray:
    """Surface the company would take: the smallest acceptable lot the listing offers.

    Examples
    --------
    >>> surface_taken([800, 1000], [3000, 1000], 900).tolist()
    [900.0, 1000.0]
    """
    return np.maximum(as_float(lot_min), np.minimum(as_float(want_min), as_float(surface)))


#: Need field → listing column of the split of a surface, and its name in words.
SPLIT_FIELDS: tuple[tuple[str, str], ...] = (
    ("activity_min_m2", "activity_m2"),
    ("storage_min_m2", "storage_m2"),
    ("office_min_m2", "office_m2"),
)
_SPLIT_WORDS = {
    "activity_m2": ("activité", "activity"),
    "storage_m2": ("stockage", "storage"),
    "office_m2": ("bureaux", "offices"),
}


def split_utility(parts: Sequence[ArrayLike], wanted: Sequence[ArrayLike]) -> np.ndarray:
    """How well a listing's split (activity, storage, office m²) covers the wanted minimums.

    Each part stated on both sides scores like a too small surface (1 when covered, 0.5 at
    ``SURFACE_TOLERANCE`` short, then 0.5 × the share of the edge offered); the parts are
    averaged. 1 where no part is stated on both sides.

    Examples
    --------
    >>> split_utility([[0.0, 950.0, np.nan]], [900.0]).tolist()
    [0.0, 1.0, 1.0]
    """
    scored = []
    for part, want in zip(parts, wanted, strict=True):
        part, want = as_float(part), as_float(want)
        u = surface_utility(0.0, part, want, 1e300)  # no maximum: only a minimum
        scored.append(np.where(np.isnan(part) | np.isnan(want), np.nan, u))
    total: Any = 0.0
    count: Any = 0.0
    for u in scored:
        total = total + np.where(np.isnan(u), 0.0, u)
        count = count + ~np.isnan(u)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.asarray(count) > 0, np.asarray(total) / np.asarray(count), 1.0)


# --- messages ------------------------------------------------------------------------------

_SUFFIX = {
    "fits": ("", ""),
    "a_little_small": (" (un peu petit)", " (a little small)"),
    "far_too_small": (" (bien trop petit)", " (far too small)"),
    "a_little_large": (" (un peu grand)", " (a little large)"),
    "far_too_large": (" (bien trop grand)", " (far too large)"),
}


def _fit_message(code: str, lang: str) -> Any:
    def message(p: Mapping[str, Any], f: Formatter) -> str:
        lo, hi = p["want_min"], p["want_max"]
        fr = lang == "fr"
        if lo == hi:
            want = f.area(lo)
        else:
            want = f"{f.number(lo)} à {f.area(hi)}" if fr else f"{f.number(lo)}–{f.area(hi)}"
        offer = f.area(p["surface"])
        if p["divisible"]:
            if p["min_lot"] is not None:
                offer += (
                    f" divisible dès {f.area(p['min_lot'])}"
                    if fr
                    else f" divisible from {f.area(p['min_lot'])}"
                )
            else:
                offer += " divisible"
        sep = "votre besoin\u00a0: " if fr else "you need "
        return f"{offer} — {sep}{want}{_SUFFIX[code][0 if fr else 1]}"

    return message


class Surface(Criterion):
    """Surface: always stated (a need gives its range); see :func:`surface_utility`."""

    name = "surface"
    label = ("surface", "surface")
    default_weight = DEFAULT_WEIGHTS["surface"]
    labels: ClassVar[dict[str, tuple[str, str, str]]] = {
        "surface_min_m2": ("surface minimale", "minimum surface", "area"),
        "surface_max_m2": ("surface maximale", "maximum surface", "area"),
        "activity_min_m2": ("surface d'activité minimale", "minimum activity surface", "area"),
        "storage_min_m2": ("surface de stockage minimale", "minimum storage surface", "area"),
        "office_min_m2": ("surface de bureaux minimale", "minimum office surface", "area"),
    }
    messages: ClassVar[Mapping[str, Mapping[str, Message]]] = {
        **{code: {lang: _fit_message(code, lang) for lang in ("fr", "en")} for code in _SUFFIX},
        "split": {
            "fr": lambda p, f: (
                f"{_SPLIT_WORDS[p['part']][0]}\u00a0: {f.area(p['offered'])} "
                f"pour {f.area(p['wanted'])} demandés"
            ),
            "en": lambda p, f: (
                f"{_SPLIT_WORDS[p['part']][1]}: {f.area(p['offered'])} "
                f"for the {f.area(p['wanted'])} you need"
            ),
        },
        "change": change_messages(labels),
    }

    def compile(self, needs: Sequence[NeedIn]) -> dict[str, Any]:
        m = len(needs)

        def wanted(v: float | None) -> float:
            return float("nan") if v is None or v <= 0 else float(v)

        return {
            "s_min": np.array([float(n.surface_min_m2) for n in needs]).reshape(m),
            "s_max": np.array([float(n.surface_max_m2) for n in needs]).reshape(m),
            "split_min": np.array(
                [[wanted(getattr(n, f)) for f, _ in SPLIT_FIELDS] for n in needs]
            ).reshape(m, len(SPLIT_FIELDS)),
        }

    def stated(self, p: Params, m: int) -> np.ndarray:
        return np.ones(m, dtype=bool)

    def filters(self, index: MatchIndex, p: Params, i: int) -> list[tuple[str, np.ndarray]]:
        c = index.cols
        out = [("surface", surface_ok(c["lot_min"], c["surface_m2"], p["s_min"][i], p["s_max"][i]))]
        for j, (field, col) in enumerate(SPLIT_FIELDS):
            want = p["split_min"][i, j]
            if not np.isnan(want):  # a listing that does not state its split passes
                out.append((field, ~(c[col] < want * (1.0 - SURFACE_TOLERANCE))))
        return out

    def utility(self, index: MatchIndex, p: Params, i: int, rows: np.ndarray) -> np.ndarray:
        c = index.cols
        u = surface_utility(c["lot_min"][rows], c["surface_m2"][rows], p["s_min"][i], p["s_max"][i])
        wanted = p["split_min"][i]
        if np.isnan(wanted).all():
            return u
        return u * split_utility([c[col][rows] for _, col in SPLIT_FIELDS], wanted)

    def completeness(
        self, index: MatchIndex, p: Params, i: int, rows: np.ndarray
    ) -> list[tuple[str, np.ndarray, np.ndarray]]:
        c = index.cols
        yes = np.ones(len(rows), dtype=bool)
        out = [
            ("surface_m2", yes, yes),
            ("min_lot_m2", c["divisible"][rows], ~np.isnan(c["min_lot_m2"][rows])),
        ]
        for j, (_, col) in enumerate(SPLIT_FIELDS):
            if not np.isnan(p["split_min"][i, j]):
                out.append((col, yes, ~np.isnan(c[col][rows])))
        return out

    def reasons(self, record: Mapping[str, Any], p: Params, i: int, utility: float) -> list[Reason]:
        lo, hi = float(p["s_min"][i]), float(p["s_max"][i])
        code = "fits"
        if utility < 1:
            far = utility < 0.5
            if record["surface_m2"] < lo:
                code = "far_too_small" if far else "a_little_small"
            else:
                code = "far_too_large" if far else "a_little_large"
        min_lot = record["min_lot_m2"]
        split = []
        for j, (_, col) in enumerate(SPLIT_FIELDS):
            want, offered = p["split_min"][i, j], record.get(col)
            if not np.isnan(want) and offered is not None and not np.isnan(offered):
                split.append(
                    Reason(
                        self.name,
                        "split",
                        {"part": col, "offered": float(offered), "wanted": float(want)},
                    )
                )
        return [
            Reason(
                self.name,
                code,
                {
                    "surface": float(record["surface_m2"]),
                    "divisible": bool(record["divisible"]),
                    "min_lot": None if min_lot is None or np.isnan(min_lot) else float(min_lot),
                    "want_min": lo,
                    "want_max": hi,
                },
            ),
            *split,
        ]

    def candidates(
        self,
        index: MatchIndex,
        p: Params,
        i: int,
        need: NeedIn,
        constraint: str,
        rows: np.ndarray,
    ) -> list[Candidates]:
        c = index.cols
        split = dict(SPLIT_FIELDS)
        if constraint in split:
            offered = c[split[constraint]][rows]
            cur = float(getattr(need, constraint))
            return [
                Candidates(
                    self.name,
                    constraint,
                    severity((cur - offered) / cur, 1.0),
                    lambda sel: self._change(
                        constraint, cur, lax_round(float(np.min(offered[sel])), 10.0, up=False)
                    ),
                )
            ]
        lo, hi = float(p["s_min"][i]), float(p["s_max"][i])
        a, b = c["lot_min"][rows], c["surface_m2"][rows]
        t = SURFACE_TOLERANCE
        out: list[Candidates] = []
        # in the user's terms: the minimum that takes the listing at its real surface
        small = b < lo * (1.0 - t)
        if small.any():
            needed = np.where(small, b, np.nan)
            out.append(
                Candidates(
                    self.name,
                    "surface_min_m2",
                    severity((lo - needed) / lo, MAX_CUT),
                    lambda sel: self._change(
                        "surface_min_m2",
                        lo,
                        lax_round(float(np.nanmin(needed[sel])), 10.0, up=False),
                    ),
                )
            )
        big = a > hi * (1.0 + t)
        if big.any():
            needed_hi = np.where(big, a, np.nan)
            out.append(
                Candidates(
                    self.name,
                    "surface_max_m2",
                    severity((needed_hi - hi) / hi, MAX_RAISE),
                    lambda sel: self._change(
                        "surface_max_m2",
                        hi,
                        lax_round(float(np.nanmax(needed_hi[sel])), 10.0, up=True),
                    ),
                )
            )
        return out

    def _change(self, constraint: str, cur: float, new: float) -> Relaxation | None:
        if constraint == "surface_min_m2":
            new = max(new, 10.0)
        if new == cur:
            return None
        update: dict[str, Any] = {constraint: new}
        if constraint in dict(SPLIT_FIELDS) and new <= 0:
            update = {constraint: None}
        return Relaxation(
            criterion=self.name,
            constraint=constraint,
            current=cur,
            suggested=new,
            need_update=update,
            brings=0,
            relative_change=abs(new - cur) / abs(cur),
            text={},
            reason=Reason(
                self.name, "change", {"constraint": constraint, "current": cur, "suggested": new}
            ),
        )

    def ok_listing(self, index: MatchIndex, pos: int, p: Params) -> np.ndarray:
        c = index.cols
        ok = surface_ok(c["lot_min"][pos], c["surface_m2"][pos], p["s_min"], p["s_max"])
        for j, (_, col) in enumerate(SPLIT_FIELDS):
            wanted = p["split_min"][:, j]
            if not np.isnan(wanted).all():
                ok &= ~(c[col][pos] < wanted * (1.0 - SURFACE_TOLERANCE))
        return ok

    def utility_listing(self, index: MatchIndex, pos: int, p: Params) -> np.ndarray:
        c = index.cols
        u = surface_utility(c["lot_min"][pos], c["surface_m2"][pos], p["s_min"], p["s_max"])
        if np.isnan(p["split_min"]).all():
            return u
        parts = [c[col][pos] for _, col in SPLIT_FIELDS]
        return u * split_utility(parts, [p["split_min"][:, j] for j in range(len(SPLIT_FIELDS))])
