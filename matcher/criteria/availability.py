"""Availability: the premises is available by the wanted date."""

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
    day_number,
    day_to_date,
    severity,
)
from matcher.weights import AVAILABILITY_TOLERANCE_DAYS, DEFAULT_WEIGHTS

if TYPE_CHECKING:
    from geodata.schemas import NeedIn
    from matcher.index import MatchIndex

__all__ = ["Availability", "availability_ok", "availability_utility"]


#: A wanted date is never pushed back by more than this many days.
MAX_DELAY_DAYS = 365.0


def availability_ok(available_day: ArrayLike, wanted_day: ArrayLike) -> np.ndarray:
    """Available by the wanted day (days since 1970-01-01; NaN = now / not asked).

    Examples
    --------
    >>> availability_ok([100.0, 200.0, np.nan], 150.0).tolist()
    [True, False, True]
    """
    return ~(as_float(available_day) > as_float(wanted_day))


def availability_utility(
    available_day: ArrayLike,
    wanted_day: ArrayLike,
    tol_days: float = AVAILABILITY_TOLERANCE_DAYS,
) -> np.ndarray:
    """1 when available by the wanted day, linear to 0 at ``tol_days`` late.

    Examples
    --------
    >>> availability_utility([100.0, 145.0, np.nan], 100.0).tolist()
    [1.0, 0.5, 1.0]
    """
    available_day, wanted_day = as_float(available_day), as_float(wanted_day)
    late = (available_day - wanted_day) / tol_days
    u = np.maximum(1.0 - np.maximum(late, 0.0), 0.0)
    u = np.where(np.isnan(available_day), 1.0, u)
    return np.where(np.isnan(wanted_day), np.nan, u)


def _when(lang: str) -> Any:
    def message(p: Mapping[str, Any], f: Formatter) -> str:
        fr = lang == "fr"
        if p["available"] is None:
            return "disponible immédiatement" if fr else "available now"
        when, wanted = f.date(p["available"]), f.date(p["wanted"])
        if p["in_time"]:
            if fr:
                return f"disponible le {when}, avant votre date du {wanted}"
            return f"available on {when}, before your date of {wanted}"
        if fr:
            return f"disponible le {when}, après votre date du {wanted}"
        return f"available on {when}, after your date of {wanted}"

    return message


class Availability(Criterion):
    """Availability: 1 by the wanted date, linear to 0 at the tolerance late."""

    name = "availability"
    label = ("disponibilité", "availability")
    default_weight = DEFAULT_WEIGHTS["availability"]
    labels: ClassVar[dict[str, tuple[str, str, str]]] = {
        "wanted_by": ("date souhaitée", "wanted date", "date")
    }
    messages: ClassVar[Mapping[str, Mapping[str, Message]]] = {
        "when": {lang: _when(lang) for lang in ("fr", "en")},
        "change": change_messages(labels),
    }

    def compile(self, needs: Sequence[NeedIn]) -> dict[str, Any]:
        return {
            "wanted_day": np.array([day_number(n.wanted_by) for n in needs]).reshape(len(needs))
        }

    def stated(self, p: Params, m: int) -> np.ndarray:
        return ~np.isnan(p["wanted_day"])

    def filters(self, index: MatchIndex, p: Params, i: int) -> list[tuple[str, np.ndarray]]:
        return [("wanted_by", availability_ok(index.cols["available_day"], p["wanted_day"][i]))]

    def utility(self, index: MatchIndex, p: Params, i: int, rows: np.ndarray) -> np.ndarray:
        return availability_utility(index.cols["available_day"][rows], p["wanted_day"][i])

    def reasons(self, record: Mapping[str, Any], p: Params, i: int, utility: float) -> list[Reason]:
        day, wanted = record["available_day"], float(p["wanted_day"][i])
        known = day is not None and not np.isnan(day)
        return [
            Reason(
                self.name,
                "when",
                {
                    "available": day_to_date(day).isoformat() if known else None,
                    "wanted": day_to_date(wanted).isoformat(),
                    "in_time": bool(known and day <= wanted),
                },
            )
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
        days = index.cols["available_day"][rows]
        cur = float(p["wanted_day"][i])

        def make(sel: np.ndarray) -> Relaxation:
            new = float(np.ceil(np.nanmax(days[sel]) - 1e-9))
            cur_s, new_s = day_to_date(cur).isoformat(), day_to_date(new).isoformat()
            return Relaxation(
                self.name,
                "wanted_by",
                cur_s,
                new_s,
                {"wanted_by": new_s},
                0,
                (new - cur) / 365.0,
                {},
                reason=Reason(
                    self.name,
                    "change",
                    {"constraint": "wanted_by", "current": cur_s, "suggested": new_s},
                ),
            )

        return [
            Candidates(self.name, "wanted_by", severity((days - cur) / MAX_DELAY_DAYS, 1.0), make)
        ]

    def ok_listing(self, index: MatchIndex, pos: int, p: Params) -> np.ndarray:
        return availability_ok(index.cols["available_day"][pos], p["wanted_day"])

    def utility_listing(self, index: MatchIndex, pos: int, p: Params) -> np.ndarray:
        return availability_utility(index.cols["available_day"][pos], p["wanted_day"])
