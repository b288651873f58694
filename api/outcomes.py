"""Outcomes where the app sees them, the labels of outcomes, and the model the ranking uses.

The routes call these small hooks after doing their own work:

- :func:`record_answer` (or :func:`record_shown`): ``GET /needs/{id}/matches`` showed
  listings to the need's owner or the staff (each pair recorded once, with its rank, score,
  the model that ranked it and the utilities of each criterion: what calibration learns
  from, whatever the listing becomes afterwards);
- :func:`record_opened`: the owner company read a listing's detail for one of its needs
  (``GET /premises/{id}?need_id=N``);
- :func:`record_contacted`: a company sent a contact request about a listing for one of its
  needs (in the request's own transaction).

The match hooks never fail the request they follow: a failed write is logged and the answer
goes out (an outcome missed is better than a match refused).

:func:`live_ranker` reads the promoted model (:mod:`geodata.storage.models`): the live
ranking uses its weights, the default ones when none is promoted (:mod:`api.live_model`,
which the command line reads without this module). It imports no
scikit-learn: a stored model is a table of weights.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection

from geodata.storage import Repository
from geodata.storage import needs as needs_store
from geodata.storage import outcomes as store
from geodata.storage.accounts import Account
from geodata.storage.errors import NotFoundError

from .errors import Text
from .live_model import StoredWeights, live_model

__all__ = [
    "EVENT_LABELS",
    "REASON_LABELS",
    "ModelRef",
    "StoredWeights",
    "live_model",
    "live_ranker",
    "record_answer",
    "record_contacted",
    "record_opened",
    "record_shown",
]

logger = logging.getLogger(__name__)

#: What happened, in French and English.
EVENT_LABELS: dict[str, Text] = {
    "shown": Text("proposée", "shown"),
    "opened": Text("consultée", "opened"),
    "contacted": Text("contact pris", "contacted"),
    "visited": Text("visitée", "visited"),
    "rejected": Text("écartée", "rejected"),
    "signed": Text("signée", "signed"),
}
#: Why a company turned a listing down, in French and English.
REASON_LABELS: dict[str, Text] = {
    "too_dear": Text("trop cher", "too expensive"),
    "too_far": Text("trop loin", "too far"),
    "too_small": Text("trop petit", "too small"),
    "too_big": Text("trop grand", "too big"),
    "wrong_use": Text("usage inadapté", "wrong use"),
    "bad_access": Text("accès insuffisant", "poor access"),
    "not_available_in_time": Text("pas disponible à temps", "not available in time"),
    "other": Text("autre raison", "other reason"),
}
assert set(EVENT_LABELS) == set(store.EVENTS)
assert set(REASON_LABELS) == set(store.REJECTION_REASONS)


class ModelRef(BaseModel):
    """Which model ranked a match: a saved model's version, or the default weights (null)."""

    version: int | None = Field(description="The promoted model's version; null: defaults.")
    text: str = Field(description="The same, in the answer's language.")


def live_ranker(conn: Connection, lang: str = "fr") -> tuple[StoredWeights | None, ModelRef]:
    """The ranker of the live ranking (None: the default weights) and how to name it."""
    live = live_model(conn)
    return live.ranker, ModelRef.model_validate(live.to_dict(lang))


def record_shown(
    repo: Repository,
    account: Account,
    need_id: int,
    shown: Sequence[tuple[int, int, float]],
    model: int | None,
    utilities: Mapping[int, Mapping[str, float]] | None = None,
) -> None:
    """Record the listings a match showed for a saved need (``(id, rank, score)``), with
    the utilities of each (by listing id) when given."""
    try:
        with repo.connect() as conn:  # a read first: a match shown again takes no write lock
            if not store.not_yet_shown(conn, need_id, [p for p, _, _ in shown]):
                return
        with repo.begin() as conn:
            store.record_shown(
                conn, need_id, shown, actor=account.name, model=model, utilities=utilities
            )
    except Exception:  # an outcome missed must not refuse the match
        logger.exception("could not record the listings shown for need %s", need_id)


def record_answer(
    repo: Repository, account: Account, need_id: int, answer: Mapping[str, Any]
) -> None:
    """Record what a need's match answer showed: each listing's rank, score, utilities and
    the model that ranked them (:func:`record_shown`).

    ``answer`` is the body of the match routes (:func:`api.routes.match.match_body`): the
    fields of ``MatchResponse`` as JSON values, its ``model`` a :class:`ModelRef`.
    """
    shown, utilities = [], {}
    for item in answer["results"]:
        pid = int(item["premises"]["id"])
        shown.append((pid, int(item["rank"]), float(item["score"])))
        utilities[pid] = item["utilities"]
    record_shown(repo, account, need_id, shown, answer["model"].version, utilities)


def record_opened(repo: Repository, account: Account, premises_id: int, need_id: int) -> None:
    """Record that a company opened a listing for one of its needs (others are ignored)."""
    if account.role != "company":
        return
    try:
        with repo.begin() as conn:
            need = _own_need(conn, account, need_id)
            if need:
                store.record_event(
                    conn, need_id, premises_id, "opened", actor=account.name, only_new=True
                )
    except Exception:  # an outcome missed must not refuse the read
        logger.exception("could not record listing %s opened for need %s", premises_id, need_id)


def record_contacted(conn: Connection, account: Account, premises_id: int, need_id: int) -> None:
    """Record a contact request about a listing for a need, in the request's transaction."""
    store.record_event(conn, need_id, premises_id, "contacted", actor=account.name, only_new=True)


def _own_need(conn: Connection, account: Account, need_id: int) -> bool:
    try:
        need = needs_store.get_need(conn, need_id)
    except NotFoundError:
        return False
    return need.owner_account == account.name
