"""Use: the listing allows every wanted use and is of a wanted kind."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from matcher._codes import KINDS, USE_BIT, kind_mask, use_mask, uses_of_mask
from matcher.criteria.base import (
    ArrayLike,
    Candidates,
    Criterion,
    Formatter,
    Message,
    Params,
    Reason,
    Relaxation,
)
from matcher.weights import DEFAULT_WEIGHTS

if TYPE_CHECKING:
    from geodata.schemas import NeedIn
    from matcher.index import MatchIndex

__all__ = ["Use", "use_ok", "use_utility"]


def _kind_wanted(kind: ArrayLike, want_kinds: ArrayLike) -> np.ndarray:
    want_kinds = np.asarray(want_kinds, dtype=np.int64)
    bit = np.right_shift(want_kinds, np.asarray(kind, dtype=np.int64)) & 1
    return (want_kinds == 0) | (bit == 1)


def use_ok(
    uses: ArrayLike, kind: ArrayLike, want_uses: ArrayLike, want_kinds: ArrayLike = 0
) -> np.ndarray:
    """Every wanted use allowed (bitmasks) and the kind among the wanted ones (0 = any).

    Examples
    --------
    >>> use_ok([0b011, 0b001], [1, 1], 0b011).tolist()
    [True, False]
    """
    uses = np.asarray(uses, dtype=np.int64)
    want = np.asarray(want_uses, dtype=np.int64)
    return ((uses & want) == want) & _kind_wanted(kind, want_kinds)


def use_utility(
    uses: ArrayLike, kind: ArrayLike, want_uses: ArrayLike, want_kinds: ArrayLike = 0
) -> np.ndarray:
    """Fraction of the wanted uses allowed, halved when the kind is not a wanted one.

    Examples
    --------
    >>> use_utility([0b011, 0b001, 0b100], [1, 1, 1], 0b011).tolist()
    [1.0, 0.5, 0.0]
    """
    uses = np.asarray(uses, dtype=np.int64)
    want = np.asarray(want_uses, dtype=np.int64)
    n_want = np.bitwise_count(want).astype(np.float64)
    n_have = np.bitwise_count(uses & want).astype(np.float64)
    frac = np.where(n_want > 0, n_have / np.maximum(n_want, 1.0), 1.0)
    return frac * np.where(_kind_wanted(kind, want_kinds), 1.0, 0.5)


# --- messages ------------------------------------------------------------------------------


def _premises(lang: str) -> Any:
    def message(p: Mapping[str, Any], f: Formatter) -> str:
        fr = lang == "fr"
        parts = [f.kind(p["kind"])]
        if p["stated"] is False:
            usual = f.uses(p["usual"]) or ("aucun" if fr else "none")
            parts.append(
                f"usages non précisés (d'ordinaire\u00a0: {usual})"
                if fr
                else f"uses not stated (usually: {usual})"
            )
        elif p["stated"]:
            if p["allowed"]:
                allowed = f.uses(p["allowed"])
                parts.append(f"autorise\u00a0: {allowed}" if fr else f"allows {allowed}")
            if p["missing"]:
                missing = f.uses(p["missing"])
                parts.append(
                    f"n'autorise pas\u00a0: {missing}" if fr else f"does not allow {missing}"
                )
        if not p["kind_wanted"]:
            parts.append("type de local non recherché" if fr else "not a kind you asked for")
        sep = "\u00a0; " if fr else "; "
        return parts[0] + (" — " + sep.join(parts[1:]) if parts[1:] else "")

    return message


def _drop_uses(lang: str) -> Any:
    def message(p: Mapping[str, Any], f: Formatter) -> str:
        dropped = f.uses(p["dropped"])
        if lang == "fr":
            return f"Ne plus exiger l'usage {dropped}"
        return f"Stop requiring the use {dropped}"

    return message


def _drop_all(lang: str) -> Any:
    def message(p: Mapping[str, Any], f: Formatter) -> str:
        uses = f.uses(p["dropped"])
        if lang == "fr":
            return (
                f"Ne plus exiger que les locaux autorisent\u00a0: {uses} "
                "(à vérifier avec le propriétaire)"
            )
        return f"Stop requiring premises that allow {uses} (check with the owner)"

    return message


def _any_kind(lang: str) -> Any:
    def message(p: Mapping[str, Any], f: Formatter) -> str:
        return (
            "Accepter tous les types de locaux" if lang == "fr" else "Accept every kind of premises"
        )

    return message


class Use(Criterion):
    """Use: see :func:`use_utility`; a listing stating no use gets its kind's usual ones."""

    name = "use"
    label = ("usage", "use")
    default_weight = DEFAULT_WEIGHTS["use"]
    messages: ClassVar[Mapping[str, Mapping[str, Message]]] = {
        "premises": {lang: _premises(lang) for lang in ("fr", "en")},
        "drop_uses": {lang: _drop_uses(lang) for lang in ("fr", "en")},
        "drop_all_uses": {lang: _drop_all(lang) for lang in ("fr", "en")},
        "any_kind": {lang: _any_kind(lang) for lang in ("fr", "en")},
    }

    def compile(self, needs: Sequence[NeedIn]) -> dict[str, Any]:
        m = len(needs)
        return {
            "use_mask": np.array([use_mask(n.uses) for n in needs], dtype=np.int64).reshape(m),
            "kind_mask": np.array([kind_mask(n.kinds) for n in needs], dtype=np.int64).reshape(m),
        }

    def stated(self, p: Params, m: int) -> np.ndarray:
        return (p["use_mask"] != 0) | (p["kind_mask"] != 0)

    def filters(self, index: MatchIndex, p: Params, i: int) -> list[tuple[str, np.ndarray]]:
        c = index.cols
        out = []
        if p["use_mask"][i]:
            want = int(p["use_mask"][i])
            out.append(("uses", (c["uses_eff"] & want) == want))
        if p["kind_mask"][i]:
            kinds = int(p["kind_mask"][i])
            lut = np.array([(kinds >> k) & 1 for k in range(8)], dtype=bool)
            out.append(("kinds", lut[c["kind"]]))
        return out

    def utility(self, index: MatchIndex, p: Params, i: int, rows: np.ndarray) -> np.ndarray:
        c = index.cols
        want, kinds = int(p["use_mask"][i]), int(p["kind_mask"][i])
        if want:
            have = np.bitwise_count(c["uses_eff"][rows] & want).astype(np.float64)
            u = have / float(np.bitwise_count(want))
        else:
            u = np.ones(len(rows))
        if kinds:
            lut = np.array([1.0 if (kinds >> k) & 1 else 0.5 for k in range(8)])
            u = u * lut[c["kind"][rows]]
        return u

    def completeness(
        self, index: MatchIndex, p: Params, i: int, rows: np.ndarray
    ) -> list[tuple[str, np.ndarray, np.ndarray]]:
        if not p["use_mask"][i]:
            return []
        return [("uses", np.ones(len(rows), dtype=bool), index.cols["uses"][rows] != 0)]

    def reasons(self, record: Mapping[str, Any], p: Params, i: int, utility: float) -> list[Reason]:
        want = int(p["use_mask"][i])
        params: dict[str, Any] = {"kind": KINDS[record["kind"]], "stated": None}
        if want:
            stated = int(record["uses"])
            have = stated if stated else int(record["uses_eff"])
            params.update(
                stated=bool(stated),
                usual=uses_of_mask(have),
                allowed=uses_of_mask(want & have),
                missing=uses_of_mask(want & ~have),
            )
        kinds = int(p["kind_mask"][i])
        params["kind_wanted"] = not (kinds and not (kinds >> record["kind"]) & 1)
        return [Reason(self.name, "premises", params)]

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
        if constraint == "kinds":

            def any_kind(sel: np.ndarray) -> Relaxation:
                kinds = [str(getattr(k, "value", k)) for k in need.kinds]
                return Relaxation(
                    self.name,
                    "kinds",
                    kinds,
                    [],
                    {"kinds": []},
                    0,
                    1.0,
                    {},
                    reason=Reason(self.name, "any_kind", {"current": kinds}),
                )

            return [Candidates(self.name, "kinds", np.ones(len(rows)), any_kind)]
        want = int(p["use_mask"][i])
        have = c["uses_eff"][rows].astype(np.int64)
        lacking = want & ~have
        uses = uses_of_mask(want)
        out: list[Candidates] = []
        if len(uses) > 1:  # stop requiring one use: the listings lacking only that one
            for u in uses:
                bit = USE_BIT[u]
                rest = [x for x in uses if x != u]

                def drop_one(sel: np.ndarray, u: str = u, rest: list[str] = rest) -> Relaxation:
                    return Relaxation(
                        self.name,
                        "uses",
                        uses,
                        rest,
                        {"uses": rest},
                        0,
                        1.0 / len(uses),
                        {},
                        reason=Reason(self.name, "drop_uses", {"dropped": [u]}),
                    )

                sev = np.where(lacking == bit, 1.0 / len(uses), np.nan)
                out.append(Candidates(self.name, "uses", sev, drop_one))
        if need.naf_code is None:
            update: dict[str, Any] | None = {"uses": []}
        elif not p["kind_mask"][i]:
            update = {"required": [str(x) for x in need.required if str(x) != "use"]}
        else:
            update = None
        if update is not None:
            drop_all = Relaxation(
                self.name,
                "uses",
                uses,
                [],
                update,
                0,
                1.0,
                {},
                reason=Reason(self.name, "drop_all_uses", {"dropped": uses}),
            )
            sev_all = np.where(lacking != 0, 1.0, np.nan)
            out.append(Candidates(self.name, "uses", sev_all, lambda sel: drop_all))
        return out

    def ok_listing(self, index: MatchIndex, pos: int, p: Params) -> np.ndarray:
        c = index.cols
        return use_ok(c["uses_eff"][pos], c["kind"][pos], p["use_mask"], p["kind_mask"])

    def utility_listing(self, index: MatchIndex, pos: int, p: Params) -> np.ndarray:
        c = index.cols
        return use_utility(c["uses_eff"][pos], c["kind"][pos], p["use_mask"], p["kind_mask"])
