"""Budget: a compatible tenure, and a rent or sale price within the ceiling."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from matcher._codes import WANTED_BITS
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
from matcher.criteria.surface import surface_taken
from matcher.weights import BUDGET_TOLERANCE, DEFAULT_WEIGHTS, UNKNOWN_UTILITY

if TYPE_CHECKING:
    from geodata.schemas import NeedIn
    from matcher.index import MatchIndex

__all__ = [
    "Budget",
    "budget_ok",
    "budget_utility",
    "price_utility",
    "sale_total",
    "tenure_ok",
]


#: A ceiling is never raised by more than this share.
MAX_RAISE = 0.5


def tenure_ok(tenure_bits: ArrayLike, wanted_bits: ArrayLike) -> np.ndarray:
    """Whether the listing's tenure (1 rent, 2 sale, 3 both) offers what the need wants.

    Examples
    --------
    >>> tenure_ok([1, 2, 3], 1).tolist()
    [True, False, True]
    """
    return (np.asarray(tenure_bits, dtype=np.int64) & np.asarray(wanted_bits)) != 0


def sale_total(sale_price: ArrayLike, surface: ArrayLike, taken: ArrayLike) -> np.ndarray:
    """Sale price of the surface taken (pro rata for a lot of a divisible listing).

    Computed as ``price × taken / surface`` (multiply first), so that a whole price per m²
    gives the exact total rather than one a rounding above or below it.

    Examples
    --------
    >>> sale_total([1_000_000, 600_000], [1000, 3000], [1000, 1000]).tolist()
    [1000000.0, 200000.0]
    """
    return as_float(sale_price) * as_float(taken) / as_float(surface)


def price_utility(
    price: ArrayLike, ceiling: ArrayLike, tol: float = BUDGET_TOLERANCE
) -> np.ndarray:
    """1 at or under the ceiling, ``(1 − excess/tol)²`` above (0 at ``tol`` over).

    Unknown price: :data:`~matcher.weights.UNKNOWN_UTILITY`; no ceiling (NaN): 1.

    Examples
    --------
    >>> price_utility([80, 95, 100, np.nan], 90).round(4).tolist()
    [1.0, 0.1975, 0.0, 0.5]
    """
    price, ceiling = as_float(price), as_float(ceiling)
    excess = (price - ceiling) / (ceiling * tol)
    t = np.maximum(1.0 - np.maximum(excess, 0.0), 0.0)
    u = np.where(np.isnan(price), UNKNOWN_UTILITY, t * t)
    return np.where(np.isnan(ceiling), 1.0, u)


def budget_ok(
    tenure_bits: ArrayLike,
    rent: ArrayLike,
    sale: ArrayLike,
    wanted_bits: ArrayLike,
    max_rent: ArrayLike,
    max_sale: ArrayLike,
    tol: float = BUDGET_TOLERANCE,
) -> np.ndarray:
    """Compatible tenure with a rent (€/m²/year) or sale total (€) within the tolerance.

    Examples
    --------
    >>> budget_ok([1, 1, 2, 1], [85, 100, np.nan, np.nan], np.nan, 1, 90, np.nan).tolist()
    [True, False, False, True]
    """
    tenure = np.asarray(tenure_bits)
    wanted: int | np.ndarray
    if np.ndim(wanted_bits) == 0:  # one need: a Python int keeps the tenure's small dtype
        wanted = int(wanted_bits)
        if wanted == 0:
            return np.zeros(np.broadcast(tenure, rent, sale, max_rent, max_sale).shape, bool)
    else:
        wanted = np.asarray(wanted_bits, dtype=np.int64)
    bits = tenure if isinstance(wanted, int) else tenure & wanted  # bits 1, 2 tested below
    out: Any = False
    if not isinstance(wanted, int) or wanted & 1:  # can rent, and not over (a > b: a & ~b)
        out = np.greater((bits & 1) != 0, as_float(rent) > as_float(max_rent) * (1.0 + tol))
    if not isinstance(wanted, int) or wanted & 2:
        out = out | np.greater((bits & 2) != 0, as_float(sale) > as_float(max_sale) * (1.0 + tol))
    return np.asarray(out)


def budget_utility(
    tenure_bits: ArrayLike,
    rent: ArrayLike,
    sale: ArrayLike,
    wanted_bits: ArrayLike,
    max_rent: ArrayLike,
    max_sale: ArrayLike,
    tol: float = BUDGET_TOLERANCE,
) -> np.ndarray:
    """Best of the rent and sale utilities the tenure allows; 0 when incompatible.

    A way of occupying the premises for which the need gives no ceiling scores 1 when the
    need gives no ceiling at all, :data:`~matcher.weights.UNKNOWN_UTILITY` when it gives
    the other one.

    Examples
    --------
    >>> budget_utility([1, 2, 3], [85, np.nan, 95], [np.nan, 9e5, 9e5], 3, 90, np.nan).round(
    ...     4).tolist()
    [1.0, 0.5, 0.5]
    """
    bits = np.asarray(tenure_bits, dtype=np.int64) & np.asarray(wanted_bits, dtype=np.int64)
    max_rent, max_sale = as_float(max_rent), as_float(max_sale)
    free = np.where(np.isnan(max_rent) & np.isnan(max_sale), 1.0, UNKNOWN_UTILITY)
    u_rent = np.where(np.isnan(max_rent), free, price_utility(rent, max_rent, tol))
    u_sale = np.where(np.isnan(max_sale), free, price_utility(sale, max_sale, tol))
    return np.maximum(
        np.where((bits & 1) != 0, u_rent, 0.0), np.where((bits & 2) != 0, u_sale, 0.0)
    )


# --- messages ------------------------------------------------------------------------------


def _tenure_mismatch(lang: str) -> Any:
    def message(p: Mapping[str, Any], f: Formatter) -> str:
        if p["wanted"] == "rent":
            return (
                "proposé à la vente seulement, vous cherchez à louer"
                if lang == "fr"
                else "for sale only, you want to rent"
            )
        return (
            "proposé à la location seulement, vous cherchez à acheter"
            if lang == "fr"
            else "for rent only, you want to buy"
        )

    return message


def _tolerance_note(p: Mapping[str, Any], fr: bool) -> str:
    pct = f"{round(p['tolerance'] * 100)}"
    if fr:
        return f", admis dans la tolérance de {pct}\u00a0%"
    return f", accepted within the {pct}% tolerance"


def _rent(lang: str) -> Any:
    def message(p: Mapping[str, Any], f: Formatter) -> str:
        fr = lang == "fr"
        if p["rent"] is None:
            return "loyer non communiqué" if fr else "rent not stated"
        rent, ceiling = p["rent"], p["ceiling"]
        text = f"loyer {f.rate(rent, '/m²/an')}" if fr else f"rent {f.rate(rent, '/m²/year')}"
        if ceiling is not None:
            if rent <= ceiling:
                text += (
                    f", dans votre plafond de {f.rate(ceiling)}"
                    if fr
                    else f", within your ceiling of {f.rate(ceiling)}"
                )
            else:
                text += (
                    f", au-dessus de votre plafond de {f.rate(ceiling)}"
                    if fr
                    else f", above your ceiling of {f.rate(ceiling)}"
                )
                if p["within_tolerance"]:
                    text += _tolerance_note(p, fr)
        total, taken = rent * p["taken"], p["taken"]
        if fr:
            text += f" ({f.money(total, '/an')} pour {f.area(taken)})"
        else:
            text += f" ({f.money(total, '/year')} for {f.area(taken)})"
        return text

    return message


def _sale(lang: str) -> Any:
    def message(p: Mapping[str, Any], f: Formatter) -> str:
        fr = lang == "fr"
        if p["total"] is None:
            return "prix de vente non communiqué" if fr else "sale price not stated"
        total, budget = p["total"], p["budget"]
        text = f"prix de vente {f.money(total)}" if fr else f"sale price {f.money(total)}"
        if total != p["price"]:
            text += (
                f" pour {f.area(p['taken'])} (au prorata)"
                if fr
                else f" for {f.area(p['taken'])} (pro rata)"
            )
        if budget is not None:
            if total <= budget:
                text += (
                    f", dans votre budget de {f.money(budget)}"
                    if fr
                    else f", within your budget of {f.money(budget)}"
                )
            else:
                text += (
                    f", au-dessus de votre budget de {f.money(budget)}"
                    if fr
                    else f", above your budget of {f.money(budget)}"
                )
                if p["within_tolerance"]:
                    text += _tolerance_note(p, fr)
        return text

    return message


def _either(lang: str) -> Any:
    def message(p: Mapping[str, Any], f: Formatter) -> str:
        if lang == "fr":
            mode = "louer" if p["current"] == "rent" else "acheter"
            return f"Envisager d'acheter comme de louer (au lieu de seulement {mode})"
        mode = "renting" if p["current"] == "rent" else "buying"
        return f"Consider buying as well as renting (not only {mode})"

    return message


def _opt(v: float | None) -> float:
    return float("nan") if v is None else float(v)


def _none(v: Any) -> float | None:
    return None if v is None or np.isnan(v) else float(v)


class Budget(Criterion):
    """Budget: see :func:`budget_utility`; stated by a tenure other than "either" or a ceiling."""

    name = "budget"
    label = ("budget", "budget")
    default_weight = DEFAULT_WEIGHTS["budget"]
    labels: ClassVar[dict[str, tuple[str, str, str]]] = {
        "max_rent_eur_m2_year": ("plafond de loyer", "rent ceiling", "rate"),
        "max_sale_price_eur": ("budget d'achat", "purchase budget", "money"),
    }
    messages: ClassVar[Mapping[str, Mapping[str, Message]]] = {
        "tenure_mismatch": {lang: _tenure_mismatch(lang) for lang in ("fr", "en")},
        "rent": {lang: _rent(lang) for lang in ("fr", "en")},
        "sale": {lang: _sale(lang) for lang in ("fr", "en")},
        "either_tenure": {lang: _either(lang) for lang in ("fr", "en")},
        "change": change_messages(labels),
    }

    def compile(self, needs: Sequence[NeedIn]) -> dict[str, Any]:
        m = len(needs)
        return {
            "wanted_bits": np.array(
                [WANTED_BITS[str(n.tenure)] for n in needs], dtype=np.int64
            ).reshape(m),
            "max_rent": np.array([_opt(n.max_rent_eur_m2_year) for n in needs]).reshape(m),
            "max_sale": np.array([_opt(n.max_sale_price_eur) for n in needs]).reshape(m),
            # the surface a sale price is prorated to (see surface_taken)
            "taken_min": np.array([float(n.surface_min_m2) for n in needs]).reshape(m),
        }

    def stated(self, p: Params, m: int) -> np.ndarray:
        return (p["wanted_bits"] != 3) | ~np.isnan(p["max_rent"]) | ~np.isnan(p["max_sale"])

    def _sale(self, c: Mapping[str, np.ndarray], rows: Any, s_min: float) -> np.ndarray:
        surface = c["surface_m2"][rows]
        return sale_total(
            c["sale_price_eur"][rows], surface, surface_taken(c["lot_min"][rows], surface, s_min)
        )

    def filters(self, index: MatchIndex, p: Params, i: int) -> list[tuple[str, np.ndarray]]:
        c = index.cols
        bits, max_sale = int(p["wanted_bits"][i]), p["max_sale"][i]
        sale: Any = np.nan
        if bits & 2 and not np.isnan(max_sale):  # priced only where the listing is for sale
            for_sale = np.flatnonzero(c["tenure"] & 2)
            sale = np.full(len(c["tenure"]), np.nan)
            sale[for_sale] = self._sale(c, for_sale, p["taken_min"][i])
        ok = budget_ok(c["tenure"], c["rent_eur_m2_year"], sale, bits, p["max_rent"][i], max_sale)
        return [("budget", ok)]

    def utility(self, index: MatchIndex, p: Params, i: int, rows: np.ndarray) -> np.ndarray:
        c = index.cols
        bits, max_sale = int(p["wanted_bits"][i]), p["max_sale"][i]
        sale: Any = np.nan
        if bits & 2 and not np.isnan(max_sale):
            sale = self._sale(c, rows, p["taken_min"][i])
        return budget_utility(
            c["tenure"][rows], c["rent_eur_m2_year"][rows], sale, bits, p["max_rent"][i], max_sale
        )

    def completeness(
        self, index: MatchIndex, p: Params, i: int, rows: np.ndarray
    ) -> list[tuple[str, np.ndarray, np.ndarray]]:
        c = index.cols
        tenure = c["tenure"][rows] & int(p["wanted_bits"][i])
        return [
            ("rent_eur_m2_year", (tenure & 1) != 0, ~np.isnan(c["rent_eur_m2_year"][rows])),
            (
                "sale_price_eur",
                ((tenure & 2) != 0) & ~np.isnan(p["max_sale"][i]),
                ~np.isnan(c["sale_price_eur"][rows]),
            ),
        ]

    def reasons(self, record: Mapping[str, Any], p: Params, i: int, utility: float) -> list[Reason]:
        wanted = int(p["wanted_bits"][i])
        bits = int(record["tenure"]) & wanted
        if bits == 0:
            return [
                Reason(self.name, "tenure_mismatch", {"wanted": "rent" if wanted == 1 else "buy"})
            ]
        max_rent, max_sale = _none(p["max_rent"][i]), _none(p["max_sale"][i])
        taken = float(surface_taken(record["lot_min"], record["surface_m2"], p["taken_min"][i]))
        out = []
        tol = 1.0 + BUDGET_TOLERANCE
        if bits & 1:
            rent = _none(record["rent_eur_m2_year"])
            out.append(
                Reason(
                    self.name,
                    "rent",
                    {
                        "rent": rent,
                        "ceiling": max_rent,
                        "taken": taken,
                        "within_tolerance": rent is not None
                        and max_rent is not None
                        and max_rent < rent <= max_rent * tol,
                        "tolerance": BUDGET_TOLERANCE,
                    },
                )
            )
        if bits & 2:
            price = _none(record["sale_price_eur"])
            total = None if price is None else float(sale_total(price, record["surface_m2"], taken))
            out.append(
                Reason(
                    self.name,
                    "sale",
                    {
                        "price": price,
                        "total": total,
                        "taken": taken,
                        "budget": max_sale,
                        "within_tolerance": total is not None
                        and max_sale is not None
                        and max_sale < total <= max_sale * tol,
                        "tolerance": BUDGET_TOLERANCE,
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
        c = index.cols
        tenure = c["tenure"][rows]
        rent = c["rent_eur_m2_year"][rows]
        sale = self._sale(c, rows, p["taken_min"][i])
        bits = int(p["wanted_bits"][i])
        max_rent, max_sale = float(p["max_rent"][i]), float(p["max_sale"][i])
        out: list[Candidates] = []
        # in the user's terms: the ceiling that takes the listing at its real price
        if bits & 1 and not np.isnan(max_rent):
            needed = np.where((tenure & 1) != 0, rent, np.nan)
            out.append(
                Candidates(
                    self.name,
                    "max_rent_eur_m2_year",
                    severity((needed - max_rent) / max_rent, MAX_RAISE),
                    lambda sel: self._change(
                        "max_rent_eur_m2_year", max_rent, np.nanmax(needed[sel]), 1.0
                    ),
                )
            )
        if bits & 2 and not np.isnan(max_sale):
            needed_s = np.where((tenure & 2) != 0, sale, np.nan)
            out.append(
                Candidates(
                    self.name,
                    "max_sale_price_eur",
                    severity((needed_s - max_sale) / max_sale, MAX_RAISE),
                    lambda sel: self._change(
                        "max_sale_price_eur", max_sale, np.nanmax(needed_s[sel]), 10_000.0
                    ),
                )
            )
        if bits != 3:
            fits = budget_ok(tenure, rent, sale, 3, max_rent, max_sale)
            current = "rent" if bits == 1 else "buy"
            out.append(
                Candidates(
                    self.name,
                    "tenure",
                    np.where(fits, 0.5, np.nan),
                    lambda sel: Relaxation(
                        self.name,
                        "tenure",
                        current,
                        "either",
                        {"tenure": "either"},
                        0,
                        1.0,
                        {},
                        reason=Reason(self.name, "either_tenure", {"current": current}),
                    ),
                )
            )
        return out

    def _change(self, constraint: str, cur: float, needed: float, step: float) -> Relaxation | None:
        new = lax_round(float(needed), step, up=True)
        if new <= cur:
            return None
        return Relaxation(
            self.name,
            constraint,
            cur,
            new,
            {constraint: new},
            0,
            (new - cur) / cur,
            {},
            reason=Reason(
                self.name, "change", {"constraint": constraint, "current": cur, "suggested": new}
            ),
        )

    def _listing_args(self, index: MatchIndex, pos: int, p: Params) -> tuple[Any, ...]:
        """What the budget formulas take, for one listing against every need."""
        c = index.cols
        sale = self._sale(c, pos, p["taken_min"])
        return (
            c["tenure"][pos],
            c["rent_eur_m2_year"][pos],
            sale,
            p["wanted_bits"],
            p["max_rent"],
            p["max_sale"],
        )

    def listing(self, index: MatchIndex, pos: int, p: Params) -> tuple[np.ndarray, np.ndarray]:
        args = self._listing_args(index, pos, p)
        return budget_ok(*args), budget_utility(*args)

    def ok_listing(self, index: MatchIndex, pos: int, p: Params) -> np.ndarray:
        return budget_ok(*self._listing_args(index, pos, p))

    def utility_listing(self, index: MatchIndex, pos: int, p: Params) -> np.ndarray:
        return budget_utility(*self._listing_args(index, pos, p))
