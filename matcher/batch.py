"""Match every saved need against the catalogue in chunks, in bounded memory."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from geodata.schemas import NeedIn
from matcher.engine import completeness, matchable_mask, rank
from matcher.index import MatchIndex
from matcher.needs import NeedTable, day_number

__all__ = ["BatchChunk", "batch_match", "batch_match_frame"]


@dataclass(frozen=True)
class BatchChunk:
    """Results for one chunk of needs.

    ``results``: one row per (need, ranked listing) — ``need_id``, ``rank``, ``listing_id``,
    ``score``, ``completeness``, ``verified_age_days``. ``summary``: one row per need —
    ``need_id``, ``n_matching`` (listings passing its required criteria), ``best_score``.
    """

    results: pd.DataFrame
    summary: pd.DataFrame


def batch_match(
    index: MatchIndex,
    needs: Sequence[NeedIn] | NeedTable,
    *,
    k: int = 20,
    chunk_size: int = 500,
    ids: Sequence[int] | None = None,
    include_under_offer: bool = False,
    verified_since: datetime | None = None,
    now: datetime | None = None,
) -> Iterator[BatchChunk]:
    """Yield the top ``k`` of every need, ``chunk_size`` needs at a time.

    Memory stays bounded by one chunk: needs are compiled per chunk (when given as models)
    and each need's working arrays are released before the next. Rankings are those of
    :func:`matcher.match` (same filters, scores and tie-breaks; ``verified_since`` leaves out
    the listings last confirmed before it, as there).
    """
    if chunk_size < 1:
        msg = f"chunk_size must be at least 1, got {chunk_size}"
        raise ValueError(msg)
    base = matchable_mask(
        index, include_under_offer=include_under_offer, verified_since=verified_since
    )
    now_day = day_number(now if now is not None else datetime.now().astimezone())
    total = len(needs)
    for start in range(0, total, chunk_size):
        stop = min(total, start + chunk_size)
        if isinstance(needs, NeedTable):
            table = needs.take(np.arange(start, stop))
        else:
            chunk = list(needs[start:stop])
            if ids is None:  # as NeedTable.from_needs numbers the whole list, not the chunk
                chunk_ids = [int(getattr(n, "id", start + j)) for j, n in enumerate(chunk)]
            else:
                chunk_ids = list(ids)[start:stop]
            table = NeedTable.from_needs(chunk, chunk_ids)
        yield _chunk(index, table, k, base, now_day)


def _chunk(
    index: MatchIndex, table: NeedTable, k: int, base: np.ndarray, now_day: float
) -> BatchChunk:
    need_col: list[np.ndarray] = []
    rank_col: list[np.ndarray] = []
    row_col: list[np.ndarray] = []
    score_col: list[np.ndarray] = []
    comp_col: list[np.ndarray] = []
    n_matching = np.zeros(len(table), dtype=np.int64)
    best = np.full(len(table), np.nan)
    for i in range(len(table)):
        if not table.needs[i].active:
            continue
        ranked = rank(index, table, i, k=k, base=base)
        n_matching[i] = ranked.n_matching
        if len(ranked.rows) == 0:
            continue
        best[i] = ranked.scores[0]
        need_col.append(np.full(len(ranked.rows), table.ids[i]))
        rank_col.append(np.arange(1, len(ranked.rows) + 1))
        row_col.append(ranked.rows)
        score_col.append(ranked.scores)
        comp_col.append(completeness(index, table, i, ranked.rows)[0])
    rows = np.concatenate(row_col) if row_col else np.empty(0, dtype=np.int64)
    results = pd.DataFrame(
        {
            "need_id": np.concatenate(need_col) if need_col else np.empty(0, dtype=np.int64),
            "rank": np.concatenate(rank_col) if rank_col else np.empty(0, dtype=np.int64),
            "listing_id": index.cols["id"][rows],
            "score": np.concatenate(score_col) if score_col else np.empty(0),
            "completeness": np.concatenate(comp_col) if comp_col else np.empty(0),
            "verified_age_days": now_day - index.cols["verified_day"][rows],
        }
    )
    summary = pd.DataFrame({"need_id": table.ids, "n_matching": n_matching, "best_score": best})
    return BatchChunk(results, summary)


def batch_match_frame(
    index: MatchIndex, needs: Sequence[NeedIn] | NeedTable, **kwargs: object
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All chunks of :func:`batch_match` concatenated: ``(results, summary)``."""
    chunks = list(batch_match(index, needs, **kwargs))  # type: ignore[arg-type]
    if not chunks:
        return (
            pd.DataFrame(
                columns=[
                    "need_id",
                    "rank",
                    "listing_id",
                    "score",
                    "completeness",
                    "verified_age_days",
                ]
            ),
            pd.DataFrame(columns=["need_id", "n_matching", "best_score"]),
        )
    return (
        pd.concat([c.results for c in chunks], ignore_index=True),
        pd.concat([c.summary for c in chunks], ignore_index=True),
    )
