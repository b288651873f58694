"""Allocation of a development's lots: optimum vs first-come-first-served, adjacency, reasons."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import shapely

from geodata.developments import development_applicants, load_development
from geodata.schemas import NeedIn, PremisesCreate
from geodata.territory import TerritoryError, load_territory, to_lambert93, to_wgs84
from matcher.allocation import (
    Allocation,
    AllocationProblem,
    compare,
    first_come_first_served,
    lot_adjacency,
    lot_groups,
    optimal,
    render,
)
from matcher.criteria.base import Reason

X0, Y0 = (float(v[0]) for v in to_lambert93([2.4512], [48.7608]))


def _outline(x: float, width: float, y: float = Y0, depth: float = 20.0) -> dict[str, Any]:
    ring = [(x, y), (x + width, y), (x + width, y + depth), (x, y + depth), (x, y)]
    lon, lat = to_wgs84([p[0] for p in ring], [p[1] for p in ring])
    return shapely.geometry.mapping(shapely.Polygon(np.column_stack([lon, lat])))


def make_lots(
    surfaces: list[float], *, outlines: bool = True, **extra: Any
) -> list[PremisesCreate]:
    """Lots in one terrace along a street, 20 m deep, each touching the next."""
    lots = []
    x = X0
    for k, s in enumerate(surfaces):
        fields: dict[str, Any] = {
            "title": f"Lot {k + 1}",
            "kind": "business_village_lot",
            "surface_m2": s,
            "tenure": "rent",
            "rent_eur_m2_year": 130.0,
            "uses": ["craft", "production"],
            "ceiling_height_m": 6.0,
            "lon": 2.4512,
            "lat": 48.7608,
            "lot_ref": f"L{k + 1}",
            "footprint": _outline(x, s / 20.0) if outlines else None,
        }
        fields.update({key: v[k] for key, v in extra.items()})
        lots.append(PremisesCreate.model_validate(fields))
        x += s / 20.0
    return lots


def make_need(name: str, lo: float, hi: float, **fields: Any) -> NeedIn:
    return NeedIn(company_name=name, surface_min_m2=lo, surface_max_m2=hi, uses=["craft"], **fields)


def brute_force(problem: AllocationProblem) -> float:
    """The best total fit by trying every assignment (tiny instances only)."""
    options = [
        [None, *np.flatnonzero(~np.isnan(problem.fit[i])).tolist()]
        for i in range(len(problem.needs))
    ]
    best = 0.0
    for combo in itertools.product(*options):
        used: set[int] = set()
        total = 0.0
        ok = True
        for i, g in enumerate(combo):
            if g is None:
                continue
            lots = set(problem.groups[g])
            if used & lots:
                ok = False
                break
            used |= lots
            total += problem.fit[i, g]
        if ok:
            best = max(best, total)
    return best


def check_invariants(problem: AllocationProblem, result: Allocation) -> None:
    """Each lot at most once, each applicant at most once, groups connected, all explained."""
    pairs = set(lot_adjacency(problem.lots))
    seen: set[str] = set()
    served = set()
    for a in result.assignments:
        assert not seen & set(a.lots), "a lot went to two applicants"
        seen |= set(a.lots)
        assert a.need_id not in served
        served.add(a.need_id)
        pos = sorted(problem.lot_refs.index(r) for r in a.lots)
        # connected: a path through adjacent pairs joins every lot of the group
        reached = {pos[0]}
        for _ in pos:
            reached |= {b for a_, b in pairs if a_ in reached and b in pos}
            reached |= {a_ for a_, b in pairs if b in reached and a_ in pos}
        assert reached == set(pos), f"non-adjacent group {a.lots}"
        assert len(a.lots) <= problem.max_lots
        assert a.fit == pytest.approx(
            problem.fit[problem.need_ids.tolist().index(a.need_id)][
                problem.labels.index(a.reason.params["label"])
            ]
        )
    assert len(result.assignments) + len(result.refusals) == len(problem.needs)
    assert {r.need_id for r in result.refusals}.isdisjoint(served)
    assert [lot.lot for lot in result.lots] == problem.lot_refs
    for item in [*result.assignments, *result.refusals, *result.lots]:
        assert item.text["fr"] and item.text["en"] and item.text["fr"] != item.text["en"]
    for lot in result.lots:
        assert (lot.company is not None) == (lot.lot in seen)
    assert result.total_fit == pytest.approx(sum(a.fit for a in result.assignments))


# --- groups and adjacency --------------------------------------------------------------------


def test_adjacency_from_outlines_and_street_order() -> None:
    lots = make_lots([150, 200, 300, 250])
    assert lot_adjacency(lots) == [(0, 1), (1, 2), (2, 3)]
    # a lot moved 5 m away no longer touches its neighbour
    moved = make_lots([150, 200])
    far = moved[1].model_copy(update={"footprint": _outline(X0 + 7.5 + 5.0, 10.0)})
    assert lot_adjacency([moved[0], far]) == []
    # without outlines: the order along the street
    assert lot_adjacency(make_lots([150, 200, 300], outlines=False)) == [(0, 1), (1, 2)]


def test_groups_are_connected_sets_up_to_the_limit() -> None:
    groups = lot_groups(5, [(0, 1), (1, 2), (3, 4)], 3)
    assert (0, 2) not in groups and (2, 3) not in groups
    assert (0, 1, 2) in groups and (3, 4) in groups
    assert max(len(g) for g in groups) == 3
    assert len(groups) == len(set(groups)) == 5 + 3 + 1
    with pytest.raises(ValueError, match="max_lots"):
        lot_groups(3, [], 0)


def test_valenton_terraces_do_not_join_across_the_street() -> None:
    dev = load_development()
    pairs = lot_adjacency(dev.lots)
    refs = dev.lot_refs
    assert len(pairs) == 18
    assert all(refs[a][0] == refs[b][0] for a, b in pairs)
    assert all(int(refs[b][1:]) == int(refs[a][1:]) + 1 for a, b in pairs)


def test_a_group_scores_as_one_premises_of_the_summed_surface() -> None:
    lots = make_lots([200, 220], ceiling_height_m=[6.0, 5.0], power_kva=[36.0, 60.0])
    problem = AllocationProblem.build(lots, [make_need("A", 400, 450)])
    g = problem.labels.index("L1–L2")
    rec = problem.index.record(g)
    assert rec["surface_m2"] == 420
    assert rec["ceiling_height_m"] == 5.0  # the group promises its lowest ceiling
    assert rec["power_kva"] == 96.0
    assert problem.fit[0, g] == pytest.approx(100.0)
    assert np.isnan(problem.fit[0, problem.labels.index("L1")])  # 200 m² is too small


# --- the optimum -----------------------------------------------------------------------------


def test_planted_assignment_beats_first_come_first_served() -> None:
    # L1, L2 (200 m², 5 m ceilings) and L3 (400 m², 7 m). The first applicant fits L3 or
    # L1+L2 equally and takes the single lot; the second requires 7 m and only L3 has it.
    lots = make_lots([200, 200, 400], ceiling_height_m=[5.0, 5.0, 7.0])
    needs = [
        make_need("Menuiserie Démo", 380, 420),
        make_need(
            "Métallerie Démo",
            380,
            420,
            min_ceiling_height_m=7.0,
            required=["surface", "use", "technical"],
        ),
    ]
    problem = AllocationProblem.build(lots, needs)
    best = optimal(problem)
    fcfs = first_come_first_served(problem)
    assert {a.company: a.lots for a in best.assignments} == {
        "Menuiserie Démo": ["L1", "L2"],
        "Métallerie Démo": ["L3"],
    }
    assert best.total_fit == pytest.approx(200.0)
    assert {a.company: a.lots for a in fcfs.assignments} == {"Menuiserie Démo": ["L3"]}
    (refused,) = fcfs.refusals
    assert refused.reason.code == "taken_earlier"
    assert refused.reason.params["taken_by"] == ["Menuiserie Démo"]
    assert compare(best, fcfs)["gain"] == pytest.approx(100.0)
    check_invariants(problem, best)
    check_invariants(problem, fcfs)


@pytest.mark.parametrize("seed", range(6))
def test_planted_partition_is_found(seed: int) -> None:
    """Lots cut into runs, one applicant per run asking exactly its surface: the optimum
    serves every applicant with a fit of 100, whatever the order of arrival."""
    rng = np.random.default_rng(seed)
    surfaces = rng.integers(15, 61, size=12).astype(float) * 10
    cuts = np.cumsum(rng.integers(1, 4, size=12))
    runs = np.split(np.arange(12), cuts[cuts < 12])
    lots = make_lots(list(surfaces))
    needs = [
        make_need(f"Démo {k}", float(surfaces[r].sum()), float(surfaces[r].sum()))
        for k, r in enumerate(runs)
    ]
    order = rng.permutation(len(needs))
    needs = [needs[k] for k in order]
    problem = AllocationProblem.build(lots, needs, max_lots=3)
    best = optimal(problem)
    assert best.n_served == len(needs)
    assert best.total_fit == pytest.approx(100.0 * len(needs), abs=1e-3)
    planted = {f"Démo {k}": [f"L{j + 1}" for j in r] for k, r in enumerate(runs)}
    got = {a.company: a.lots for a in best.assignments}
    unique = [
        name
        for name, lots_ in planted.items()
        if sum(1 for g in problem.groups if problem.surfaces[problem.groups.index(g)]
               == sum(surfaces[[int(x[1:]) - 1 for x in lots_]])) == 1
    ]  # fmt: skip
    for name in unique:
        assert got[name] == planted[name]
    assert best.total_fit >= first_come_first_served(problem).total_fit - 1e-3
    check_invariants(problem, best)


@st.composite
def instances(draw: Any) -> tuple[list[PremisesCreate], list[NeedIn], int]:
    n_lots = draw(st.integers(2, 6))
    surfaces = draw(st.lists(st.sampled_from([150, 200, 250, 300, 400, 600]), min_size=n_lots,
                             max_size=n_lots))  # fmt: skip
    rents = draw(st.lists(st.sampled_from([110.0, 130.0, 150.0]), min_size=n_lots,
                          max_size=n_lots))  # fmt: skip
    n_needs = draw(st.integers(1, 4))
    needs = []
    for k in range(n_needs):
        lo = draw(st.sampled_from([100, 150, 200, 300, 400, 500, 700, 900]))
        hi = lo * draw(st.sampled_from([1.0, 1.2, 1.5]))
        rent = draw(st.sampled_from([None, 120.0, 140.0, 160.0]))
        needs.append(make_need(f"Démo {k}", lo, hi, max_rent_eur_m2_year=rent, tenure="rent"))
    max_lots = draw(st.integers(1, 3))
    return make_lots(surfaces, rent_eur_m2_year=rents), needs, max_lots


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_optimum_is_exact_and_never_worse_than_first_come(
    instance: tuple[list[PremisesCreate], list[NeedIn], int],
) -> None:
    lots, needs, max_lots = instance
    problem = AllocationProblem.build(lots, needs, max_lots=max_lots)
    best = optimal(problem)
    fcfs = first_come_first_served(problem)
    reverse = first_come_first_served(problem, order=list(reversed(range(len(needs)))))
    assert best.total_fit >= fcfs.total_fit - 1e-3
    assert best.total_fit >= reverse.total_fit - 1e-3
    assert best.total_fit == pytest.approx(brute_force(problem), abs=1e-3)
    if max_lots == 1:
        hungarian = optimal(problem, method="assignment")
        assert hungarian.total_fit == pytest.approx(best.total_fit, abs=1e-3)
        check_invariants(problem, hungarian)
    for result in (best, fcfs, reverse):
        check_invariants(problem, result)
    for refusal in best.refusals:  # serving a refused applicant never raises the total
        if refusal.reason.code == "outranked":
            assert refusal.reason.params["loss"] >= 0


# --- refusals and lots -----------------------------------------------------------------------


def test_refusals_say_why() -> None:
    lots = make_lots([150, 200, 300], status=["available", "available", "under_offer"])
    needs = [
        make_need("Grand Démo", 5_000, 6_000),
        make_need("Petit Démo", 40, 80),
        make_need("Serré Démo", 150, 200, tenure="rent", max_rent_eur_m2_year=60.0),
        make_need("Premier Démo", 330, 350),
        make_need("Second Démo", 330, 350),
    ]
    problem = AllocationProblem.build(lots, needs, max_lots=2)
    best = optimal(problem)
    codes = {r.company: r.reason for r in best.refusals}
    assert codes["Grand Démo"].code == "too_large"
    assert codes["Grand Démo"].params["largest"] == 350  # L1+L2; L3 is under offer
    assert codes["Petit Démo"].code == "too_small"
    assert codes["Serré Démo"].code == "no_fit"
    assert codes["Serré Démo"].params["criteria"] == ["budget"]
    assert {a.company for a in best.assignments} == {"Premier Démo"}  # ties: earlier first
    assert codes["Second Démo"].code == "outranked"
    assert codes["Second Démo"].params["taken_by"] == ["Premier Démo"]
    assert codes["Second Démo"].params["loss"] == pytest.approx(0.0, abs=0.05)
    assert "inchangée" in render(codes["Second Démo"], "fr")
    lots_ = {lot.lot: lot.reason for lot in best.lots}
    assert lots_["L3"].code == "lot_unavailable"
    assert "sous offre" in render(lots_["L3"], "fr")
    assert lots_["L1"].code == lots_["L2"].code == "lot_assigned"
    assert lots_["L1"].params["with"] == ["L2"]


def test_a_lot_nobody_can_use_says_so() -> None:
    lots = make_lots([150, 600])
    problem = AllocationProblem.build(lots, [make_need("Démo", 140, 160)], max_lots=1)
    best = optimal(problem)
    reasons = {lot.lot: lot.reason.code for lot in best.lots}
    assert reasons == {"L1": "lot_assigned", "L2": "lot_no_applicant"}


def test_no_available_lot() -> None:
    lots = make_lots([150, 200], status=["let", "under_offer"])
    problem = AllocationProblem.build(lots, [make_need("Démo", 140, 160)])
    for result in (optimal(problem), first_come_first_served(problem)):
        assert result.n_served == 0
        assert [r.reason.code for r in result.refusals] == ["no_lots"]
        assert [lot.reason.code for lot in result.lots] == ["lot_unavailable"] * 2
        check_invariants(problem, result)


def test_render_the_brief_examples() -> None:
    r = Reason(
        "allocation",
        "assigned",
        {
            "company": "Menuiserie Démo",
            "lots": ["A4", "A5"],
            "label": "A4–A5",
            "surface": 420.0,
            "want_min": 400.0,
            "want_max": 400.0,
            "fit": 92.0,
        },
    )
    assert render(r, "fr") == (
        "Lots A4–A5 à Menuiserie Démo\u00a0: 420\u00a0m² pour un besoin de 400\u00a0m² "
        "(adéquation 92/100)"
    )
    refused = Reason(
        "allocation",
        "outranked",
        {"company": "Boulangerie Démo", "smallest": 150.0, "n_options": 3,
         "taken_by": ["A", "B", "C", "D"], "loss": 12.0},
    )  # fmt: skip
    fr = render(refused, "fr")
    assert fr.startswith("Boulangerie Démo refusée\u00a0: tous les lots de 150\u00a0m² ou plus")
    assert "A, B, C et 1 autre" in fr and "12 points" in fr
    with pytest.raises(KeyError, match="no en message"):
        render(Reason("allocation", "nonsense", {}), "en")


# --- the demo development --------------------------------------------------------------------


@pytest.fixture(scope="module")
def valenton() -> tuple[AllocationProblem, Allocation, Allocation]:
    territory = load_territory("gosb")
    dev = load_development(territory=territory)
    needs = development_applicants(dev, 40)
    problem = AllocationProblem.build(
        dev.lots, needs, stations=territory.stations, interchanges=territory.interchanges
    )
    return problem, optimal(problem), first_come_first_served(problem)


def test_valenton_demo_development() -> None:
    dev = load_development(territory=load_territory("gosb"))
    assert dev.demo and "FICTITIOUS" in dev.description
    assert len(dev.lots) == 20
    assert {lot.commune_insee for lot in dev.lots} == {"94074"}
    assert all(150 <= lot.surface_m2 <= 600 for lot in dev.lots)
    assert all(lot.zone_id == "94074_SITE-ECO_00001" for lot in dev.lots)
    needs = development_applicants(dev, 40)
    assert needs == development_applicants(dev, 40)  # deterministic
    assert len({n.company_name for n in needs}) == 40
    assert all("Démo" in n.company_name for n in needs)


def test_valenton_allocation_beats_first_come(
    valenton: tuple[AllocationProblem, Allocation, Allocation],
) -> None:
    problem, best, fcfs = valenton
    assert best.total_fit > fcfs.total_fit
    assert len(best.lots) == 20
    check_invariants(problem, best)
    check_invariants(problem, fcfs)
    assert any(len(a.lots) > 1 for a in best.assignments)  # some take adjacent lots
    assert all(a.details for a in best.assignments)  # the matching reasons of the group
    codes = {r.reason.code for r in best.refusals}
    assert "outranked" in codes and codes <= {"outranked", "no_fit", "too_large", "too_small"}
    assert json.dumps(best.to_dict(), ensure_ascii=False)


def test_bad_development_files_are_named(tmp_path: Path) -> None:
    src = json.loads(
        (Path(__file__).parents[2] / "geodata/territories/gosb/valenton_village.geojson").read_text(
            encoding="utf-8"
        )
    )
    src["features"][1]["properties"]["lot_ref"] = "A1"
    path = tmp_path / "twice.geojson"
    path.write_text(json.dumps(src), encoding="utf-8")
    with pytest.raises(TerritoryError, match="lot_ref 'A1' is used twice"):
        load_development(path)
    (tmp_path / "empty.geojson").write_text("{}", encoding="utf-8")
    with pytest.raises(TerritoryError, match="not a development file"):
        load_development(tmp_path / "empty.geojson")
