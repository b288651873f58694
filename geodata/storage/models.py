"""Ranking models: criterion weights learned from outcomes, their metrics, and the promoted one.

A model is saved once with its weights (criterion → weight), the size of what it was trained
on and its cross-validated metrics (JSON), and never edited afterwards, except to promote it.
At most one model is promoted: the live ranking uses its weights (the default weights when
none is), so only a promotion changes what companies see. Each promotion is audited
(entity ``"model"``) in its own transaction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.engine import Connection

from geodata.storage import _common as co
from geodata.storage._tables import ENTITY_MODEL, ranking_models
from geodata.storage.errors import NotFoundError

__all__ = [
    "RankingModel",
    "add_model",
    "get_model",
    "list_models",
    "model_not_found",
    "promote",
    "promoted_model",
    "promoted_weights",
]


class RankingModel(BaseModel):
    """A saved ranking model: its version (id), weights, training size, metrics and state."""

    id: int
    created_at: datetime
    created_by: str
    source: str
    training_size: int
    n_needs: int
    weights: dict[str, float]
    metrics: dict[str, Any]
    promoted: bool
    promoted_at: datetime | None = None
    promoted_by: str | None = None


def _from_row(row: Mapping[Any, Any]) -> RankingModel:
    return RankingModel.model_validate(
        {**row, "weights": json.loads(row["weights"]), "metrics": json.loads(row["metrics"])}
    )


def add_model(
    conn: Connection,
    *,
    weights: Mapping[str, float],
    metrics: Mapping[Any, Any],
    training_size: int,
    n_needs: int,
    source: str,
    actor: str,
    at: datetime | None = None,
) -> RankingModel:
    """Save a model, not promoted; its id is its version number.

    Parameters
    ----------
    conn : sqlalchemy.Connection
        A connection inside a write transaction.
    weights : mapping of str to float
        Criterion → weight (non-negative).
    metrics : mapping
        What its evaluation measured (JSON-ready).
    training_size : int
        How many outcomes it was trained on.
    n_needs : int
        How many needs those outcomes cover.
    source : str
        Where the outcomes came from ("outcomes", "demo simulation, seed 7" …).
    actor : str
        Who trained it.
    """
    bad = [k for k, v in weights.items() if not (float(v) >= 0)]
    if bad:
        msg = f"weights: {', '.join(bad)} must be non-negative numbers"
        raise ValueError(msg)
    row = {
        "created_at": at or co.now(),
        "created_by": actor,
        "source": source,
        "training_size": int(training_size),
        "n_needs": int(n_needs),
        "weights": json.dumps({k: float(v) for k, v in weights.items()}),
        "metrics": json.dumps(dict(metrics), default=float),
        "promoted": False,
    }
    [new_id] = co.hooks_of(conn).insert_many(conn, ranking_models, [row])
    return _from_row({**row, "id": new_id, "promoted_at": None, "promoted_by": None})


def get_model(conn: Connection, model_id: int) -> RankingModel:
    """One model.

    Raises
    ------
    NotFoundError
        When there is no model of that version.
    """
    return _from_row(co.fetch_row(conn, ranking_models, model_id, ENTITY_MODEL))


def list_models(conn: Connection) -> list[RankingModel]:
    """Every model, newest first."""
    stmt = sa.select(ranking_models).order_by(ranking_models.c.id.desc())
    return [_from_row(row) for row in conn.execute(stmt).mappings()]


#: The promoted model's version and weights: what every ranking reads, once per request.
_PROMOTED_WEIGHTS = (
    sa.select(ranking_models.c.id, ranking_models.c.weights)
    .where(ranking_models.c.promoted == sa.true())
    .order_by(ranking_models.c.id)
    .limit(1)
)


def promoted_weights(conn: Connection) -> tuple[int, dict[str, float]] | None:
    """The promoted model's version and weights, or None (the default weights rank).

    What a ranking needs of :func:`promoted_model`, read by one prepared statement without
    building the model's record.
    """
    row = conn.execute(_PROMOTED_WEIGHTS).first()
    if row is None:
        return None
    return int(row[0]), {str(k): float(v) for k, v in json.loads(row[1]).items()}


def promoted_model(conn: Connection) -> RankingModel | None:
    """The promoted model, or None (the default weights rank)."""
    stmt = sa.select(ranking_models).where(ranking_models.c.promoted == sa.true()).limit(1)
    row = conn.execute(stmt).mappings().first()
    return None if row is None else _from_row(row)


def promote(
    conn: Connection, model_id: int | None, *, actor: str, at: datetime | None = None
) -> RankingModel | None:
    """Make one model the live ranking (``None``: back to the default weights), audited.

    Raises
    ------
    NotFoundError
        When there is no model of that version; nothing changes.
    """
    at = at or co.now()
    before = promoted_model(conn)
    if model_id is not None:
        get_model(conn, model_id)
    conn.execute(
        sa.update(ranking_models)
        .where(ranking_models.c.promoted == sa.true())
        .values(promoted=False)
    )
    after = None
    if model_id is not None:
        conn.execute(
            sa.update(ranking_models)
            .where(ranking_models.c.id == model_id)
            .values(promoted=True, promoted_at=at, promoted_by=actor)
        )
        after = get_model(conn, model_id)
    co.write_audit(
        conn,
        [
            co.audit_row(
                ENTITY_MODEL,
                0 if model_id is None else model_id,
                "promote",
                1,
                actor,
                at,
                {"promoted": [None if before is None else before.id, model_id]},
                catalogue_version=co.read_catalogue_version(conn),
            )
        ],
    )
    return after


def model_not_found(model_id: int) -> NotFoundError:
    """The error of a missing model version (for callers that look one up by hand)."""
    return NotFoundError(ENTITY_MODEL, model_id)
