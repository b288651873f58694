"""Developments divided into lots, and the allocation of their lots (staff only).

A territory folder may ship developments (:mod:`geodata.developments`: a GeoJSON file of lot
outlines with a ``development`` member; the GOSB one is the FICTITIOUS Valenton village
d'entreprises). ``GET /staff/developments`` lists them; the allocation routes share out a
development's lots among applicant companies with :mod:`matcher.allocation`: the optimum
(greatest total fit, an integer programme) beside first-come-first-served on the same
applicants, every assignment, refusal and lot with its reason in the request's language.
Applicants are personal data (company names): staff only.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, Field, ValidationError

from geodata.developments import Development, development_applicants, load_development
from geodata.schemas import NeedIn, error_details
from geodata.storage.accounts import Account
from geodata.territory import Territory, TerritoryError

from ..auth import CurrentAccount, require_role
from ..deps import LangDep, TerritoryDep
from ..errors import Lang, ProblemError, Text
from ..index_cache import access_points

if TYPE_CHECKING:
    from matcher.allocation import Allocation

# matcher.allocation (and scipy) are imported on the first allocation, not when the app
# starts: serving the catalogue and matching need neither.

__all__ = [
    "AllocationBody",
    "AllocationResponse",
    "DevelopmentView",
    "allocate",
    "developments_of",
    "find_development",
    "router",
]

router = APIRouter(prefix="/staff/developments", tags=["staff"])

#: The most applicants one allocation takes (the solve grows with them).
MAX_APPLICANTS = 200

_AUTH: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or bad API key (WWW-Authenticate: Bearer)"},
    403: {"description": "Staff only: applicants are companies"},
}


async def get_staff(account: CurrentAccount) -> Account:
    """Staff only (403 otherwise; 401 without an account)."""
    return require_role(
        account,
        ("staff",),
        Text(
            "developments : seul le staff voit les opérations et répartit leurs lots ; "
            "les candidats sont des entreprises.",
            "developments: only staff see developments and allocate their lots; the "
            "applicants are companies",
        ),
    )


StaffDep = Annotated[Account, Depends(get_staff)]


# --- the developments of the territory -----------------------------------------------------


class _Developments:
    """The developments of the territory's folder, read once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, Development] | None = None

    def get(self, territory: Territory) -> dict[str, Development]:
        with self._lock:
            if self._items is None:
                self._items = _read(territory)
            return self._items


def _read(territory: Territory) -> dict[str, Development]:
    """Every GeoJSON file of the territory folder that describes a development, by code."""
    folder = Path(territory.path)
    if folder.is_file():
        folder = folder.parent
    out: dict[str, Development] = {}
    for path in sorted(folder.glob("*.geojson")):
        with path.open(encoding="utf-8") as fh:
            head = fh.read(4096)
        if '"development"' not in head:  # a reference layer
            continue
        try:
            dev = load_development(path, territory=territory)
        except TerritoryError:
            continue
        out[dev.code] = dev
    return out


def developments_of(request: Request, territory: Territory) -> dict[str, Development]:
    cache: _Developments | None = getattr(request.app.state, "developments", None)
    if cache is None:
        cache = request.app.state.developments = _Developments()
    return cache.get(territory)


def find_development(request: Request, territory: Territory, code: str) -> Development:
    items = developments_of(request, territory)
    if code not in items:
        known = ", ".join(items) or "—"
        raise ProblemError(
            404,
            Text(
                f"code : aucune opération « {code} » dans ce territoire (connues : {known}).",
                f"code: no development '{code}' in this territory (known: {known})",
            ),
        )
    return items[code]


class LotView(BaseModel):
    """One lot of a development."""

    lot_ref: str
    surface_m2: float
    status: str
    rent_eur_m2_year: float | None
    lon: float
    lat: float


class DevelopmentView(BaseModel):
    """A development and its lots."""

    code: str
    name: str
    commune_insee: str
    commune_name: str | None
    demo: bool = Field(description="True for fictitious data.")
    description: str
    n_lots: int
    surface_m2: float = Field(description="All lots together.")
    lots: list[LotView]


def _view(dev: Development, territory: Territory) -> DevelopmentView:
    return DevelopmentView(
        code=dev.code,
        name=dev.name,
        commune_insee=dev.commune_insee,
        commune_name=territory.commune_names.get(dev.commune_insee),
        demo=dev.demo,
        description=dev.description,
        n_lots=len(dev.lots),
        surface_m2=float(sum(lot.surface_m2 for lot in dev.lots)),
        lots=[
            LotView(
                lot_ref=str(lot.lot_ref),
                surface_m2=lot.surface_m2,
                status=str(getattr(lot.status, "value", lot.status)),
                rent_eur_m2_year=lot.rent_eur_m2_year,
                lon=lot.lon,
                lat=lot.lat,
            )
            for lot in dev.lots
        ],
    )


@router.get("", response_model=list[DevelopmentView], responses=_AUTH)
def list_developments(request: Request, territory: TerritoryDep, staff: StaffDep) -> Any:
    """The developments of the territory (the GOSB demo: the Valenton village d'entreprises)."""
    return [_view(dev, territory) for dev in developments_of(request, territory).values()]


@router.get("/{code}", response_model=DevelopmentView, responses={**_AUTH, 404: {}})
def get_development(request: Request, code: str, territory: TerritoryDep, staff: StaffDep) -> Any:
    """One development and its lots."""
    return _view(find_development(request, territory, code), territory)


# --- allocation ----------------------------------------------------------------------------


class AllocationBody(BaseModel):
    """Who applies, and how lots may be grouped."""

    model_config = {
        "json_schema_extra": {"examples": [{"demo_applicants": 12, "seed": 94074, "max_lots": 4}]}
    }

    applicants: list[dict[str, Any]] | None = Field(
        default=None,
        description="The applicants' needs in order of arrival (first-come-first-served "
        "order), each with the fields of NeedIn (communes by code or name). Omitted: the "
        "demo applicants (demo_applicants of them).",
        max_length=MAX_APPLICANTS,
    )
    demo_applicants: int = Field(default=40, ge=0, le=MAX_APPLICANTS)
    seed: int = Field(default=94074, ge=0, le=2**31 - 1, description="Seed of the demo draw.")
    max_lots: int = Field(
        default=4, ge=1, le=6, description="Adjacent lots one applicant may take."
    )


class AllocReason(BaseModel):
    """A decision's reason: a stable code, its values and its text."""

    code: str
    params: dict[str, Any]
    text: str


class AssignmentView(BaseModel):
    """Lots given to one applicant."""

    applicant: int = Field(description="Position of the applicant in the list (0 = first).")
    company: str
    lots: list[str]
    surface_m2: float
    fit: float = Field(description="The applicant's matching score for these lots, 0-100.")
    reason: AllocReason


class RefusalView(BaseModel):
    """An applicant who got no lot."""

    applicant: int
    company: str
    reason: AllocReason


class LotOutcomeView(BaseModel):
    """What became of one lot."""

    lot: str
    company: str | None
    reason: AllocReason


class AllocationView(BaseModel):
    """One method's allocation."""

    method: str
    total_fit: float
    n_served: int
    surface_let_m2: float
    assignments: list[AssignmentView]
    refusals: list[RefusalView]
    lots: list[LotOutcomeView]


class AllocationResponse(BaseModel):
    """The optimum and first-come-first-served on the same applicants, side by side."""

    development: str
    lang: Lang
    n_applicants: int
    n_lots: int
    max_lots: int
    demo_applicants: bool
    optimal: AllocationView
    first_come_first_served: AllocationView
    comparison: dict[str, Any]


def _reason(reason: Any, text: dict[str, str], lang: Lang) -> AllocReason:
    return AllocReason(code=reason.code, params=reason.params, text=text[lang])


def _allocation_view(alloc: Allocation, lang: Lang) -> AllocationView:
    return AllocationView(
        method=alloc.method,
        total_fit=round(alloc.total_fit, 2),
        n_served=alloc.n_served,
        surface_let_m2=alloc.surface_let_m2,
        assignments=[
            AssignmentView(
                applicant=a.need_id,
                company=a.company,
                lots=a.lots,
                surface_m2=a.surface_m2,
                fit=round(a.fit, 2),
                reason=_reason(a.reason, a.text, lang),
            )
            for a in alloc.assignments
        ],
        refusals=[
            RefusalView(
                applicant=r.need_id, company=r.company, reason=_reason(r.reason, r.text, lang)
            )
            for r in alloc.refusals
        ],
        lots=[
            LotOutcomeView(lot=x.lot, company=x.company, reason=_reason(x.reason, x.text, lang))
            for x in alloc.lots
        ],
    )


def _applicants(raw: list[dict[str, Any]], territory: Territory) -> list[NeedIn]:
    """Validate the applicants as saved needs are (communes by name, points in the
    territory); a bad one is a 422 naming ``applicants.<position>.<field>``."""
    out = []
    for k, item in enumerate(raw):
        try:
            out.append(NeedIn.model_validate(item, context={"territory": territory}))
        except ValidationError as exc:
            first = error_details(exc)[0]
            where = f"applicants.{k}.{first['field']}"
            raise ProblemError(
                422,
                Text(
                    f"{where} : {first['reason']}",
                    f"{where}: {first['reason']}",
                ),
            ) from exc
    return out


def allocate(
    dev: Development, body: AllocationBody, territory: Territory, lang: Lang
) -> AllocationResponse:
    from matcher.allocation import AllocationProblem, compare, first_come_first_served, optimal

    demo = body.applicants is None
    applicants = (
        development_applicants(dev, body.demo_applicants, seed=body.seed)
        if body.applicants is None
        else _applicants(body.applicants, territory)
    )
    stations, interchanges = access_points(territory)
    problem = AllocationProblem.build(
        dev.lots,
        applicants,
        max_lots=body.max_lots,
        ids=list(range(len(applicants))),
        stations=stations,
        interchanges=interchanges,
        commune_names=territory.commune_names,
    )
    best = optimal(problem, explain=False)
    fcfs = first_come_first_served(problem, explain=False)
    return AllocationResponse(
        development=dev.code,
        lang=lang,
        n_applicants=len(applicants),
        n_lots=len(dev.lots),
        max_lots=body.max_lots,
        demo_applicants=demo,
        optimal=_allocation_view(best, lang),
        first_come_first_served=_allocation_view(fcfs, lang),
        comparison=compare(best, fcfs),
    )


@router.post("/{code}/allocation", response_model=AllocationResponse, responses={**_AUTH, 404: {}})
def post_allocation(
    request: Request,
    code: str,
    territory: TerritoryDep,
    staff: StaffDep,
    lang: LangDep,
    body: Annotated[AllocationBody | None, Body()] = None,
) -> Any:
    """Allocate the development's lots among the applicants given (or the demo ones): the
    optimum and first-come-first-served, each assignment, refusal and lot explained."""
    dev = find_development(request, territory, code)
    return allocate(dev, body or AllocationBody(), territory, lang)


@router.get("/{code}/allocation", response_model=AllocationResponse, responses={**_AUTH, 404: {}})
def get_allocation(
    request: Request,
    code: str,
    territory: TerritoryDep,
    staff: StaffDep,
    lang: LangDep,
    n: Annotated[int, Query(ge=0, le=MAX_APPLICANTS, description="Demo applicants")] = 40,
    seed: Annotated[int, Query(ge=0, le=2**31 - 1)] = 94074,
    max_lots: Annotated[int, Query(ge=1, le=6)] = 4,
) -> Any:
    """The allocation of the development's lots among ``n`` FICTITIOUS demo applicants."""
    dev = find_development(request, territory, code)
    body = AllocationBody(demo_applicants=n, seed=seed, max_lots=max_lots)
    return allocate(dev, body, territory, lang)
