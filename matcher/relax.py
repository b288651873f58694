"""Relaxation: which required constraints to loosen, by how much, for how many more.

For each required constraint, the listings that fail it *and only it* are the ones relaxing
it could bring. Each criterion says, per such listing, the smallest change of the constraint
that admits it and how severe that change is (0–1; a change that would gut the need — a
minimum surface cut by more than half, a rent ceiling raised by more than half … — is never
proposed). The loop here turns severities into a cost comparable across criteria (the share
of the need's weights the criterion carries × the severity), takes the cheapest listings up
to the missing count, asks the criterion for the change that admits them (rounded to a
readable step, in the user's terms: the ceiling at the listing's real rent, not at the
rent minus the tolerance), and counts what the changed need gets by running it through the
filters again — so the count a suggestion states is the count the changed need would get.

When no single change brings anything, pairs of constraints are searched jointly: over the
listings that fail exactly those two, by the sum of the two costs, with both changes made
for the same listings (and, if those bring nothing together, for the single cheapest one).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from pydantic import ValidationError

from matcher.criteria.registry import Candidates, Reason, Relaxation, SubFilter, pick_rows
from matcher.explain import render_relaxation
from matcher.index import MatchIndex
from matcher.needs import NeedTable

__all__ = ["Relaxation", "suggest_relaxations"]


def _shares(table: NeedTable, i: int) -> dict[str, float]:
    """Each criterion's share of the need's weights (a weight of 0 counts as 1)."""
    names = table.registry.names
    w = np.maximum(np.where(table.active[i], table.weights[i], 0.0), 0.0)
    w = np.where(table.active[i], np.maximum(w, 1.0), 0.0)
    total = float(w.sum()) or 1.0
    return {n: float(w[j]) / total for j, n in enumerate(names)}


def _same(a: Any, b: Any) -> bool:
    """Whether two compiled parameters are equal (arrays with NaN, lists, geometries)."""
    if isinstance(a, np.ndarray) and a.dtype != object and isinstance(b, np.ndarray):
        return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    if isinstance(a, list | tuple | np.ndarray) and isinstance(b, list | tuple | np.ndarray):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _count(
    index: MatchIndex,
    table: NeedTable,
    i: int,
    base: np.ndarray,
    subs: list[SubFilter],
    update: dict[str, Any],
) -> int:
    """How many listings the need changed by ``update`` matches (-1 if it is not valid).

    Only the criteria whose parameters or required flag the change touches are filtered
    again; the others keep their masks from ``subs``.
    """
    need = table.needs[i]
    data = need.model_dump()
    data.update(update)
    try:
        changed = type(need).model_validate(data)
    except ValidationError:
        return -1
    reg = table.registry
    t2 = NeedTable.from_needs([changed], registry=reg)
    was = table.required[i] & table.active[i]
    now = t2.required[0] & t2.active[0]
    touched = set()
    for j, c in enumerate(reg):
        old = c.compile([need])
        if was[j] != now[j] or not all(_same(v, t2.params[n]) for n, v in old.items()):
            touched.add(c.name)
    ok = base.copy()
    for s in subs:
        if s.criterion not in touched:
            ok &= s.mask
    flags = np.array([c.name in touched for c in reg]) & now
    for s in reg.sub_filters(index, t2.params, flags, 0):
        ok &= s.mask
    return int(np.count_nonzero(ok))


def _finish(
    r: Relaxation, brings: int, cost: float, reasons: list[Reason], table: NeedTable
) -> Relaxation:
    text = {lang: render_relaxation(reasons, brings, lang, table.registry) for lang in ("fr", "en")}
    return replace(r, brings=brings, cost=round(cost, 6), text=text)


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
    """Relaxations of need ``i``, best first.

    Best: brings at least the missing ``k − n_matching`` results, then the lowest cost,
    then the most premises brought.
    """
    target = max(1, k - n_matching)
    prefix = [base]
    for s in subs:
        prefix.append(prefix[-1] & s.mask)
    suffix = [np.ones_like(base)]
    for s in reversed(subs):
        suffix.append(suffix[-1] & s.mask)
    suffix = suffix[::-1]
    shares = _shares(table, i)
    out: list[Relaxation] = []
    for j, s in enumerate(subs):
        rows = np.flatnonzero(prefix[j] & suffix[j + 1] & ~s.mask)
        if len(rows) == 0:
            continue
        for cand in _candidates(index, table, i, s, rows):
            cost = shares[s.criterion] * cand.severity
            sel = pick_rows(cost, target)
            if not sel.any():
                continue
            r = cand.make(sel)
            if r is None or r.reason is None:
                continue
            brings = _count(index, table, i, base, subs, r.need_update) - n_matching
            if brings > 0:
                out.append(_finish(r, brings, float(np.max(cost[sel])), [r.reason], table))
    if not out and len(subs) > 1:
        out = _pairs(index, table, i, base, subs, target, n_matching, shares)
    out.sort(key=lambda r: (r.brings < target, r.cost, -r.brings, r.constraint))
    return out


def _candidates(
    index: MatchIndex, table: NeedTable, i: int, s: SubFilter, rows: np.ndarray
) -> list[Candidates]:
    crit = table.registry.get(s.criterion)
    return crit.candidates(index, table.params, i, table.needs[i], s.name, rows)


def _pairs(
    index: MatchIndex,
    table: NeedTable,
    i: int,
    base: np.ndarray,
    subs: list[SubFilter],
    target: int,
    n_matching: int,
    shares: dict[str, float],
) -> list[Relaxation]:
    """Two constraints loosened together, for the same listings (those failing exactly
    both), cheapest first; if that brings nothing, for the cheapest listing alone."""
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
            for ca in _candidates(index, table, i, subs[a], rows):
                for cb in _candidates(index, table, i, subs[b], rows):
                    cost = shares[subs[a].criterion] * ca.severity
                    cost = cost + shares[subs[b].criterion] * cb.severity
                    found = _joint(index, table, i, base, subs, ca, cb, cost, target, n_matching)
                    if found is not None:
                        out.append(found)
    return out


def _joint(
    index: MatchIndex,
    table: NeedTable,
    i: int,
    base: np.ndarray,
    subs: list[SubFilter],
    ca: Candidates,
    cb: Candidates,
    cost: np.ndarray,
    target: int,
    n_matching: int,
) -> Relaxation | None:
    for wanted in dict.fromkeys((target, 1)):
        sel = pick_rows(cost, wanted)
        if not sel.any():
            return None
        x, y = ca.make(sel), cb.make(sel)
        if x is None or y is None or x.reason is None or y.reason is None:
            continue
        if set(x.need_update) & set(y.need_update):
            return None
        update = {**x.need_update, **y.need_update}
        brings = _count(index, table, i, base, subs, update) - n_matching
        if brings <= 0:
            continue
        pair = Relaxation(
            criterion=f"{x.criterion}+{y.criterion}",
            constraint=f"{x.constraint}+{y.constraint}",
            current=[x.current, y.current],
            suggested=[x.suggested, y.suggested],
            need_update=update,
            brings=0,
            relative_change=x.relative_change + y.relative_change,
            text={},
            reason=Reason(
                f"{x.criterion}+{y.criterion}",
                "together",
                {"changes": [x.reason.to_dict(), y.reason.to_dict()]},
            ),
        )
        return _finish(pair, brings, float(np.max(cost[sel])), [x.reason, y.reason], table)
    return None
