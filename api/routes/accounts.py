"""The calling account: ``GET /me`` (who am I, with which keys)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from geodata.storage import accounts
from geodata.storage.accounts import Account, ApiKey

from ..auth import CurrentAccount
from ..deps import RepoDep

__all__ = ["Me", "router"]

router = APIRouter(tags=["accounts"])


class Me(BaseModel):
    """The calling account and its API keys (prefixes only, never the keys)."""

    account: Account
    keys: list[ApiKey]


@router.get("/me", response_model=Me, responses={401: {"description": "No or bad API key"}})
def me(account: CurrentAccount, repo: RepoDep) -> Any:
    """The account the API key belongs to, with its keys (prefix, last use, revocation)."""
    with repo.connect() as conn:
        keys = accounts.list_api_keys(conn, account.id)
    return Me(account=account, keys=keys)
