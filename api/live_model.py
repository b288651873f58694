"""The ranking model the live ranking uses, and how to name it, without the web or the ORM.

Every ranking a user sees (``POST /match``, a need's matches, alerts, the demand for a
listing, ``implanter match``) scores with the promoted model's weights, the default ones
when none is promoted, and says which ranked it. :class:`LiveModel` is that choice;
:func:`api.outcomes.live_ranker` reads it through the storage layer, and
:func:`quick_live_model` reads it from a SQLite file with the standard library's ``sqlite3``
alone, for the command line's quick path (:mod:`api.index_cache`), which must not import
SQLAlchemy.

This module imports only numpy and the standard library.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

__all__ = ["PROMOTED_SQL", "LiveModel", "StoredWeights", "live_model", "quick_live_model"]

#: The promoted model's version and weights (JSON), as stored by ``geodata.storage.models``.
PROMOTED_SQL = "SELECT id, weights FROM ranking_models WHERE promoted = 1 ORDER BY id LIMIT 1"


@dataclass(frozen=True)
class StoredWeights:
    """A saved model's weights as the engine's ranker (:class:`matcher.scoring.Ranker`)."""

    weights: Mapping[str, float]

    def weights_for(
        self, names: Sequence[str], fallback: Mapping[str, float] | None = None
    ) -> np.ndarray:
        """The model's weight of each criterion; ``fallback`` for one it does not know."""
        fallback = fallback or {}
        return np.array(
            [float(self.weights.get(n, fallback.get(n, 0.0))) for n in names], dtype=np.float64
        )


@dataclass(frozen=True)
class LiveModel:
    """The model of the live ranking: a saved model's version and weights, or the defaults.

    Examples
    --------
    >>> LiveModel(None, None).to_dict("en")
    {'version': None, 'text': 'default weights'}
    >>> LiveModel(3, {"surface": 1.0}).to_dict("fr")
    {'version': 3, 'text': 'modèle appris n° 3'}
    """

    version: int | None
    weights: Mapping[str, float] | None

    @property
    def ranker(self) -> StoredWeights | None:
        """The engine's ranker (None: the default weights)."""
        return None if self.weights is None else StoredWeights(self.weights)

    def text(self, lang: str = "fr") -> str:
        """Which model ranked, in French (default) or English."""
        if self.version is None:
            return "default weights" if lang == "en" else "pondération par défaut"
        n = self.version
        return f"learned model {n}" if lang == "en" else f"modèle appris n° {n}"

    def to_dict(self, lang: str = "fr") -> dict[str, Any]:
        """``{"version", "text"}``: the ``model`` of the match answers."""
        return {"version": self.version, "text": self.text(lang)}


def quick_live_model(path: str) -> LiveModel | None:
    """The live model of a SQLite catalogue file, read with ``sqlite3`` only; None when it
    cannot be read so (then ask the repository)."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            row = conn.execute(PROMOTED_SQL).fetchone()
        conn.close()
        if row is None:
            return LiveModel(None, None)
        weights = json.loads(row[1])
    except (sqlite3.Error, ValueError):
        return None
    return LiveModel(int(row[0]), {str(k): float(v) for k, v in weights.items()})


def live_model(conn: Connection) -> LiveModel:
    """The promoted model (version and weights) read through the storage layer, or the
    default weights."""
    from geodata.storage import models as model_store

    found = model_store.promoted_weights(conn)
    return LiveModel(None, None) if found is None else LiveModel(*found)
