"""Outcomes of a need's proposals: what the company did with each listing it was shown.

The need's owner company and the staff record and read them; anyone else is refused as on
the need itself (a developer 403, another company 404). An event moves the (need, listing)
pair along shown → opened → contacted → visited → rejected or signed; a rejection names a
reason from a short list. Each write is a compare-and-set on the pair's version (send
``expected_version``, 0 for a pair never recorded, to refuse a concurrent change; without
it the current version is used), audited in the same transaction. ``shown``, ``opened`` and
``contacted`` are also recorded by the app itself (see :mod:`api.outcomes`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Response
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field, model_validator

from geodata.storage import outcomes as store
from geodata.storage import premises as premises_store
from geodata.storage.errors import StaleVersionError
from geodata.storage.outcomes import Outcome, OutcomeChange

from ..auth import CurrentAccount
from ..deps import MAX_INT32, RepoDep
from ..errors import ProblemError, Text
from ..outcomes import EVENT_LABELS, REASON_LABELS
from .match import Lang, request_language
from .needs import LangQuery, NeedIdPath, readable_need

__all__ = ["OutcomeIn", "OutcomeView", "OutcomesPage", "router"]

router = APIRouter(tags=["outcomes"])

_READ: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or bad API key (WWW-Authenticate: Bearer)"},
    403: {"description": "Only company and staff accounts have needs"},
    404: {"description": "No such need among those the account may see, or no such listing"},
}
_WRITE: dict[int | str, dict[str, Any]] = {
    **_READ,
    412: {"description": "expected_version is stale: the outcome changed since it was read"},
}

Event = Literal["shown", "opened", "contacted", "visited", "rejected", "signed"]
Reason = Literal[
    "too_dear",
    "too_far",
    "too_small",
    "too_big",
    "wrong_use",
    "bad_access",
    "not_available_in_time",
    "other",
]


class OutcomeIn(BaseModel):
    """One event of a listing proposed for the need."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "premises_id": 12,
                    "event": "rejected",
                    "reason": "too_dear",
                    "note": "Loyer au-dessus de notre budget",
                }
            ]
        },
    )

    premises_id: int = Field(ge=1, le=MAX_INT32, description="The listing.")
    event: Event
    reason: Reason | None = Field(
        default=None, description="Why it was rejected (required with `rejected`, else none)."
    )
    note: str | None = Field(default=None, max_length=1000)
    expected_version: int | None = Field(
        default=None,
        ge=0,
        le=MAX_INT32,
        description="The outcome's version as read (0: never recorded); none: the current.",
    )

    @model_validator(mode="after")
    def _reason_with_rejection(self) -> OutcomeIn:
        if self.event == "rejected" and self.reason is None:
            msg = f"reason: a rejection needs a reason, one of {', '.join(REASON_LABELS)}"
            raise ValueError(msg)
        if self.event != "rejected" and self.reason is not None:
            msg = f"reason: only a rejection has a reason (event {self.event!r})"
            raise ValueError(msg)
        return self


class OutcomeView(Outcome):
    """An outcome with its stage and reason in the answer's language."""

    stage_label: str
    reason_label: str | None = None


class ReasonLabel(BaseModel):
    """A rejection reason and its label."""

    code: str
    label: str


class OutcomesPage(BaseModel):
    """The outcomes of one need, by listing, with the labels of the rejection reasons."""

    need_id: int
    lang: Lang
    items: list[OutcomeView]
    reasons: list[ReasonLabel]


def _view(item: Outcome, lang: Lang) -> OutcomeView:
    return OutcomeView(
        **item.model_dump(),
        stage_label=EVENT_LABELS[item.stage](lang),
        reason_label=None if item.reason is None else REASON_LABELS[item.reason](lang),
    )


def _stale(need_id: int, premises_id: int, exc: StaleVersionError) -> ProblemError:
    """412 naming the field: the pair's outcome changed since the client read it."""
    return ProblemError(
        412,
        Text(
            f"expected_version : le suivi de l'annonce {premises_id} pour ce besoin est à la "
            f"version {exc.current}, pas à la version {exc.expected} ; relisez-le "
            f"(GET /needs/{need_id}/outcomes) et renvoyez l'événement avec la bonne version.",
            f"expected_version: the outcome of listing {premises_id} for this need is at "
            f"version {exc.current}, not {exc.expected}; read it again "
            f"(GET /needs/{need_id}/outcomes) and send the event with that version",
        ),
    )


@router.post(
    "/needs/{need_id}/outcomes", response_model=OutcomeView, status_code=200, responses=_WRITE
)
def record_outcome(
    need_id: NeedIdPath,
    body: OutcomeIn,
    repo: RepoDep,
    account: CurrentAccount,
    response: Response,
    lang: LangQuery = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> Any:
    """Record what happened to a listing proposed for the need (its owner and the staff)."""
    language = request_language(lang, accept_language)
    with repo.begin() as conn:
        readable_need(conn, account, need_id)
        premises_store.get_premises(conn, body.premises_id)
        try:
            item = store.record_event(
                conn,
                need_id,
                body.premises_id,
                body.event,
                actor=account.name,
                reason=body.reason,
                note=body.note,
                expected_version=body.expected_version,
            )
        except StaleVersionError as exc:
            raise _stale(need_id, body.premises_id, exc) from exc
    assert item is not None
    response.headers["ETag"] = f'"{item.version}"'
    return jsonable_encoder(_view(item, language))


@router.get("/needs/{need_id}/outcomes", response_model=OutcomesPage, responses=_READ)
def need_outcomes(
    need_id: NeedIdPath,
    repo: RepoDep,
    account: CurrentAccount,
    lang: LangQuery = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> Any:
    """The outcomes of the need's proposals, by listing (its owner and the staff)."""
    language = request_language(lang, accept_language)
    with repo.connect() as conn:
        readable_need(conn, account, need_id)
        items = store.list_outcomes(conn, need_id)
    return jsonable_encoder(
        OutcomesPage(
            need_id=need_id,
            lang=language,
            items=[_view(i, language) for i in items],
            reasons=[ReasonLabel(code=c, label=t(language)) for c, t in REASON_LABELS.items()],
        )
    )


@router.get(
    "/needs/{need_id}/outcomes/history", response_model=list[OutcomeChange], responses=_READ
)
def need_outcomes_history(need_id: NeedIdPath, repo: RepoDep, account: CurrentAccount) -> Any:
    """Every audited change of the need's outcomes, oldest first (its owner and the staff)."""
    with repo.connect() as conn:
        readable_need(conn, account, need_id)
        return jsonable_encoder(store.outcome_history(conn, need_id))
