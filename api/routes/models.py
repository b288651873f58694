"""Ranking models for the staff: list the saved ones, promote one to rank live, or none.

Models are trained from outcomes by ``implanter model train`` (see :mod:`api.models_cli`).
Nothing changes the live ranking but a promotion: ``POST /staff/models/{n}/promote`` makes
model ``n`` the one every match is ranked with, ``DELETE /staff/models/promoted`` goes back
to the default weights. Both are audited; each match answer names its model (``model``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, Field

from geodata.storage import models as store
from geodata.storage.accounts import Account
from geodata.storage.models import RankingModel

from ..auth import CurrentAccount, require_role
from ..deps import MAX_INT32, RepoDep
from ..errors import Text

__all__ = ["ModelsPage", "router"]

router = APIRouter(tags=["models"])

ModelPath = Annotated[int, Path(ge=1, le=MAX_INT32, description="The model's version")]

_STAFF: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or bad API key (WWW-Authenticate: Bearer)"},
    403: {"description": "Only staff accounts manage ranking models"},
}


class ModelsPage(BaseModel):
    """The saved models, newest first, and the promoted one's version (null: defaults)."""

    promoted: int | None = Field(description="The version ranking live; null: default weights.")
    items: list[RankingModel]


def _staff_only(account: Account) -> None:
    require_role(
        account,
        ("staff",),
        Text(
            "models : seuls les comptes staff gèrent les modèles de classement.",
            "models: only staff accounts manage the ranking models",
        ),
    )


@router.get("/staff/models", response_model=ModelsPage, responses=_STAFF)
def list_models(repo: RepoDep, account: CurrentAccount) -> Any:
    """Every saved model, with its training size, metrics and date (staff)."""
    _staff_only(account)
    with repo.connect() as conn:
        items = store.list_models(conn)
    promoted = next((m.id for m in items if m.promoted), None)
    return jsonable_encoder(ModelsPage(promoted=promoted, items=items))


@router.post(
    "/staff/models/{model_id}/promote",
    response_model=RankingModel,
    responses={**_STAFF, 404: {"description": "No model of that version"}},
)
def promote_model(model_id: ModelPath, repo: RepoDep, account: CurrentAccount) -> Any:
    """Make a model the one the live ranking uses (staff); the previous one steps down."""
    _staff_only(account)
    with repo.begin() as conn:
        promoted = store.promote(conn, model_id, actor=account.name)
    return jsonable_encoder(promoted)


@router.delete("/staff/models/promoted", response_model=ModelsPage, responses=_STAFF)
def back_to_defaults(repo: RepoDep, account: CurrentAccount) -> Any:
    """Rank live with the default weights again (staff)."""
    _staff_only(account)
    with repo.begin() as conn:
        store.promote(conn, None, actor=account.name)
        items = store.list_models(conn)
    return jsonable_encoder(ModelsPage(promoted=None, items=items))
