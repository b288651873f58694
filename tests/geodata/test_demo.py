"""Tests of the seeded demo catalogue: plausible places, obvious fiction, same seed same data."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest

import shapely

from geodata import demo
from geodata.demo import (
    DEMO_SENTENCE,
    REFERENCE_DATE,
    demo_needs,
    demo_premises,
    demo_tables,
    load_demo,
)
from geodata.naf import NAF_DIVISION_USES, default_uses_for_naf
from geodata.schemas import NeedIn, PremisesCreate, PremisesKind
from geodata.territory import default_territory

# GOSB's demo tables (geodata/territories/gosb/demo.json).
LOGISTICS_COMMUNES = demo_tables(default_territory()).logistics_communes
URBAN_COMMUNES = demo_tables(default_territory()).urban_communes

GOSB_INSEE = {
    "94001", "94003", "91027", "94016", "94021", "94022", "94034", "94037", "94041", "91326",
    "94038", "94043", "91432", "94054", "91479", "94065", "91589", "94073", "94074", "94076",
    "94077", "94078", "91687", "94081",
}  # fmt: skip
VALENTON = "94074"


@pytest.fixture(scope="module")
def territory() -> Any:
    """The default territory (GOSB)."""
    return pytest.importorskip("geodata.territory").default_territory()


@pytest.fixture(scope="module")
def premises(territory: Any) -> list[PremisesCreate]:
    """The default demo listings."""
    return demo_premises(territory=territory)


@pytest.fixture(scope="module")
def needs(territory: Any) -> list[NeedIn]:
    """The default demo needs."""
    return demo_needs(territory=territory)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _of_kind(premises: list[PremisesCreate], kind: str) -> list[PremisesCreate]:
    return [p for p in premises if p.kind == kind]


# ------------------------------------------------------------------------------------------
# Volume, coverage, determinism
# ------------------------------------------------------------------------------------------


def test_volumes_and_types(premises: list[PremisesCreate], needs: list[NeedIn]) -> None:
    assert len(premises) == 360
    assert len(needs) == 180
    assert all(isinstance(p, PremisesCreate) for p in premises)
    assert all(isinstance(n, NeedIn) for n in needs)


def test_every_commune_has_listings(premises: list[PremisesCreate], territory: Any) -> None:
    assert set(territory.insee_codes) == GOSB_INSEE
    per_commune = Counter(p.commune_insee for p in premises)
    assert set(per_commune) == GOSB_INSEE
    assert min(per_commune.values()) >= 2


def test_every_kind_is_present(premises: list[PremisesCreate]) -> None:
    kinds = Counter(str(p.kind) for p in premises)
    assert set(kinds) == {k.value for k in PremisesKind}
    assert kinds["warehouse"] >= 80
    assert kinds["workshop"] >= 80


def test_same_seed_same_data(
    premises: list[PremisesCreate], needs: list[NeedIn], territory: Any
) -> None:
    again_p = demo_premises(2018, territory=territory)
    again_n = demo_needs(2018, territory=territory)
    assert [p.model_dump() for p in again_p] == [p.model_dump() for p in premises]
    assert [n.model_dump() for n in again_n] == [n.model_dump() for n in needs]


def test_other_seed_other_data(
    premises: list[PremisesCreate], needs: list[NeedIn], territory: Any
) -> None:
    other_p = demo_premises(7, territory=territory)
    other_n = demo_needs(7, territory=territory)
    assert len(other_p) == len(premises)
    assert [(p.lon, p.lat) for p in other_p] != [(p.lon, p.lat) for p in premises]
    assert [n.siren for n in other_n] != [n.siren for n in needs]


def test_smaller_catalogue(territory: Any) -> None:
    items = demo_premises(3, 48, territory=territory)
    assert len(items) == 48
    assert {p.commune_insee for p in items} == GOSB_INSEE
    assert demo_premises(3, 0, territory=territory) == []
    assert len(demo_needs(3, 12, territory=territory)) == 12
    with pytest.raises(ValueError, match="n:"):
        demo_premises(3, -1, territory=territory)


# ------------------------------------------------------------------------------------------
# Places
# ------------------------------------------------------------------------------------------


def test_points_lie_in_their_commune(premises: list[PremisesCreate], territory: Any) -> None:
    lon = np.array([p.lon for p in premises])
    lat = np.array([p.lat for p in premises])
    at = np.asarray(territory.commune_at(lon, lat), dtype=object)
    listed = np.array([p.commune_insee for p in premises], dtype=object)
    assert (at == listed).all()
    assert len({(p.lon, p.lat) for p in premises}) == len(premises)  # no stacked points


def test_warehouses_gather_on_the_logistics_belt(premises: list[PremisesCreate]) -> None:
    warehouses = _of_kind(premises, "warehouse")
    share = np.mean([p.commune_insee in LOGISTICS_COMMUNES for p in warehouses])
    assert share > 0.6
    assert Counter(p.commune_insee for p in warehouses).most_common(1)[0][0] == "94065"  # Rungis


def test_workshops_gather_next_to_paris(premises: list[PremisesCreate]) -> None:
    workshops = _of_kind(premises, "workshop")
    assert np.mean([p.commune_insee in URBAN_COMMUNES for p in workshops]) > 0.5
    urban = [p for p in premises if p.commune_insee in URBAN_COMMUNES]
    assert Counter(str(p.kind) for p in urban).most_common(1)[0][0] == "workshop"
    assert np.mean([p.kind == "warehouse" for p in urban]) < 0.1


def test_labs_land_and_industry_where_they_belong(premises: list[PremisesCreate]) -> None:
    labs = _of_kind(premises, "lab")
    assert np.mean([p.commune_insee in ("94076", "94081") for p in labs]) >= 0.6
    assert Counter(p.commune_insee for p in labs).most_common(1)[0][0] == "94076"  # Villejuif
    land = _of_kind(premises, "land")
    assert {p.commune_insee for p in land} <= {VALENTON, "94078", "94081"}
    industrial = _of_kind(premises, "industrial_building")
    core = ("94081", "94041", "94022", "94078")  # Vitry, Ivry, Choisy, Villeneuve-Saint-Georges
    assert np.mean([p.commune_insee in core for p in industrial]) > 0.6


def test_valenton_village(premises: list[PremisesCreate], territory: Any) -> None:
    lots = _of_kind(premises, "business_village_lot")
    assert 18 <= len(lots) <= 22
    assert {p.commune_insee for p in lots} == {VALENTON}
    zone_ids = {p.zone_id for p in lots}
    assert len(zone_ids) == 1
    zone_id = zone_ids.pop()
    zones = territory.zones
    zone = zones.loc[zones["site_id"].astype(str) == zone_id]
    assert len(zone) == 1
    assert VALENTON in str(zone["site_comm_insee"].iloc[0])
    polygon = zone.to_crs(4326).geometry.iloc[0]
    lon = np.array([p.lon for p in lots])
    lat = np.array([p.lat for p in lots])
    assert shapely.contains_xy(polygon, lon, lat).all()
    assert [p.lot_ref for p in lots] == [f"Lot {i:02d}" for i in range(1, len(lots) + 1)]
    assert all(150 <= p.surface_m2 <= 600 for p in lots)
    assert all(120 <= p.rent_eur_m2_year <= 150 for p in lots if p.rent_eur_m2_year)
    assert all({"craft", "production", "construction", "repair"} & set(p.uses) for p in lots)
    # No other listing is filed under the village.
    assert all(p.zone_id != zone_id for p in premises if p.kind != "business_village_lot")


# ------------------------------------------------------------------------------------------
# Sizes, prices, dates
# ------------------------------------------------------------------------------------------


def test_warehouses_are_high_and_docked(premises: list[PremisesCreate]) -> None:
    warehouses = _of_kind(premises, "warehouse")
    # Parcel-delivery cells to large platforms, with some mid-sized ones for SMEs.
    assert sum(600 <= p.surface_m2 < 1_500 for p in warehouses) >= 10
    assert sum(p.surface_m2 >= 5_000 for p in warehouses) >= 10
    for p in warehouses:
        assert 600 <= p.surface_m2 <= 20_000
        if p.divisible:
            assert p.min_lot_m2 is not None and 600 <= p.min_lot_m2 < p.surface_m2
        assert 8 <= p.ceiling_height_m <= 12
        assert p.loading_docks >= 2
        assert "logistics" in p.uses
        if p.rent_eur_m2_year is not None:  # small cells inside the A86 up to about 120
            assert 55 <= p.rent_eur_m2_year <= 130


def test_workshops_are_small_and_at_street_level(premises: list[PremisesCreate]) -> None:
    for p in _of_kind(premises, "workshop"):
        assert 100 <= p.surface_m2 <= 1_500
        assert p.ceiling_height_m <= 7
        assert p.ground_level_doors >= 1
        if p.rent_eur_m2_year is not None:  # outer communes from about 100, inner to 180
            assert 95 <= p.rent_eur_m2_year <= 185


def test_land_has_a_plot(premises: list[PremisesCreate]) -> None:
    for p in _of_kind(premises, "land"):
        assert p.plot_m2 == p.surface_m2 >= 5_000
        assert p.ceiling_height_m is None
        assert {"construction", "logistics", "production"} & set(p.uses)


def test_sale_prices_rents_and_lots(premises: list[PremisesCreate]) -> None:
    tenures = Counter(str(p.tenure) for p in premises)
    assert tenures["rent"] > tenures["both"] > 0
    assert tenures["sale"] > 0
    for p in premises:
        if p.tenure in ("sale", "both"):
            assert p.sale_price_eur is not None
            if p.kind != "land":
                assert 980 <= p.sale_price_eur / p.surface_m2 <= 2_550
        if p.tenure in ("rent", "both"):
            assert p.rent_eur_m2_year is not None
    divisible = [p for p in premises if p.divisible]
    assert len(divisible) >= 20
    assert all(p.min_lot_m2 is not None and p.min_lot_m2 < p.surface_m2 for p in divisible)


def test_statuses_and_dates(premises: list[PremisesCreate]) -> None:
    statuses = Counter(str(p.status) for p in premises)
    assert statuses["available"] / len(premises) > 0.6
    assert statuses["under_offer"] and statuses["let"] and statuses["sold"]
    assert all(p.available_from.year in (2026, 2027) for p in premises)
    ref = REFERENCE_DATE
    ages = [(ref - p.last_verified_at.date()).days for p in premises]
    assert min(ages) >= 0
    assert max(ages) <= 180
    # Most were confirmed within the 60 days before a reminder, some are flagged, and some
    # are past the 90 days after which they leave the public search.
    flagged = np.mean([a >= 60 for a in ages])
    hidden = np.mean([a > 90 for a in ages])
    assert 0.1 < flagged < 0.3
    assert 0.05 < hidden < flagged


def test_reference_date_moves_the_dates(territory: Any) -> None:
    later = REFERENCE_DATE + timedelta(days=100)
    a = demo_premises(5, 30, territory=territory)
    b = demo_premises(5, 30, territory=territory, reference_date=later)
    assert [p.last_verified_at + timedelta(days=100) for p in a] == [p.last_verified_at for p in b]


# ------------------------------------------------------------------------------------------
# Fiction made obvious
# ------------------------------------------------------------------------------------------


def test_listings_are_obviously_fictitious(premises: list[PremisesCreate]) -> None:
    assert [p.external_ref for p in premises] == [f"DEMO-{i:04d}" for i in range(1, 361)]
    assert all(p.contact_email.endswith("@exemple.invalid") for p in premises)
    assert all(DEMO_SENTENCE in p.description for p in premises)
    assert all(p.photos == [] for p in premises)
    owners = Counter(p.owner_account for p in premises)
    assert 3 <= len(owners) <= 8
    assert all("Démo" in p.contact_name for p in premises)


def test_titles_and_addresses_are_french(premises: list[PremisesCreate], territory: Any) -> None:
    names = territory.communes["name"]
    for p in premises:
        assert p.title.endswith(names[p.commune_insee])
        assert " m² – " in p.title
        assert re.match(r"^(\d+ |Village d'entreprises Démo, )", p.address)
        assert names[p.commune_insee] in p.address
    rungis = [p for p in premises if p.kind == "warehouse" and p.commune_insee == "94065"]
    assert re.fullmatch(r"Entrepôt logistique \d{1,2}( \d{3})? m² – Rungis", rungis[0].title)


def test_needs_are_obviously_fictitious(needs: list[NeedIn]) -> None:
    assert all("Démo" in n.company_name for n in needs)
    assert all(n.contact_email.endswith("@exemple.invalid") for n in needs)
    assert len({n.company_name for n in needs}) == len(needs)


# ------------------------------------------------------------------------------------------
# Needs
# ------------------------------------------------------------------------------------------


def test_naf_codes_are_real_shapes(needs: list[NeedIn]) -> None:
    codes = Counter(n.naf_code for n in needs)
    assert len(codes) >= 25
    for code in codes:
        assert re.fullmatch(r"\d{2}\.\d{2}[A-Z]", code)
        assert int(code[:2]) in NAF_DIVISION_USES


def test_sirens_pass_luhn(needs: list[NeedIn]) -> None:
    sirens = [n.siren for n in needs]
    assert all(re.fullmatch(r"[1-9]\d{8}", s) and _luhn_ok(s) for s in sirens)
    assert len(set(sirens)) == len(sirens)


def test_some_needs_rely_on_the_naf_default(
    needs: list[NeedIn], territory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, Any]] = []

    class _Spy:
        @staticmethod
        def model_validate(obj: dict[str, Any], **kwargs: Any) -> NeedIn:
            seen.append(dict(obj))
            return NeedIn.model_validate(obj, **kwargs)

    monkeypatch.setattr(demo, "NeedIn", _Spy)
    assert demo.demo_needs(territory=territory) == needs
    defaulted = [i for i, raw in enumerate(seen) if not raw.get("uses")]
    assert 0.15 < len(defaulted) / len(needs) < 0.5
    for i in defaulted:
        assert set(needs[i].uses) == set(default_uses_for_naf(needs[i].naf_code))
    assert all(n.uses for n in needs)


def test_needs_have_varied_wishes(needs: list[NeedIn]) -> None:
    assert all(0 < n.surface_min_m2 <= n.surface_max_m2 for n in needs)
    assert Counter(str(n.tenure) for n in needs).keys() == {"rent", "buy", "either"}
    assert sum(bool(n.communes) for n in needs) >= 50
    assert sum(n.radius_m is not None for n in needs) >= 30
    assert sum(bool(n.places) for n in needs) >= 80
    assert sum(n.min_ceiling_height_m is not None for n in needs) >= 10
    assert sum(n.min_loading_docks is not None for n in needs) >= 10
    assert sum(n.needs_icpe for n in needs) >= 10
    assert sum(n.max_rent_eur_m2_year is not None for n in needs) >= 100
    assert sum(n.max_sale_price_eur is not None for n in needs) >= 20
    assert len({tuple(map(str, n.required)) for n in needs}) >= 10
    assert all(n.wanted_by is None or n.wanted_by > REFERENCE_DATE for n in needs)
    assert sum(n.wanted_by is not None for n in needs) >= 140
    # A required location is never empty.
    for n in needs:
        if n.is_required("location"):
            assert n.communes or n.center_lon is not None or n.places


def test_need_places_are_in_the_territory(needs: list[NeedIn], territory: Any) -> None:
    pts = [(pl.lon, pl.lat) for n in needs for pl in n.places]
    pts += [(n.center_lon, n.center_lat) for n in needs if n.center_lon is not None]
    lon, lat = np.array(pts).T
    assert np.asarray(territory.contains(lon, lat), bool).all()
    communes = {c for n in needs for c in n.communes}
    assert communes <= GOSB_INSEE


def test_some_needs_fit_nothing(needs: list[NeedIn], premises: list[PremisesCreate]) -> None:
    """A few needs are too big for the communes they require: 'what to relax' has work."""
    biggest: dict[str, float] = {}
    for p in premises:
        biggest[p.commune_insee] = max(biggest.get(p.commune_insee, 0.0), p.surface_m2)
    hopeless = [
        n
        for n in needs
        if n.communes
        and n.is_required("location")
        and n.is_required("surface")
        and n.surface_min_m2 > max(biggest[c] for c in n.communes)
    ]
    assert 2 <= len(hopeless) <= 15


def test_needs_look_where_their_trade_is(needs: list[NeedIn]) -> None:
    haulers = [n for n in needs if n.naf_code in ("49.41A", "52.10A", "52.10B") and n.communes]
    belt = [c in LOGISTICS_COMMUNES for n in haulers for c in n.communes]
    assert np.mean(belt) > 0.6


# ------------------------------------------------------------------------------------------
# Loading
# ------------------------------------------------------------------------------------------


class _RecordingRepo:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int, str]] = []

    def add_many_premises(self, items: list[PremisesCreate], *, actor: str) -> list[int]:
        self.calls.append(("premises", len(items), actor))
        return list(range(len(items)))

    def add_many_needs(self, items: list[NeedIn], *, actor: str) -> int:
        self.calls.append(("needs", len(items), actor))
        return len(items)


def test_load_demo_calls_the_repository(territory: Any) -> None:
    repo = _RecordingRepo()
    counts = load_demo(
        repo, territory=territory, seed=1, n_premises=40, n_needs=10, actor="seed-script"
    )
    assert counts == (40, 10)
    assert repo.calls == [("premises", 40, "seed-script"), ("needs", 10, "seed-script")]


def test_load_demo_into_sqlite(tmp_path: Any, territory: Any) -> None:
    storage = pytest.importorskip("geodata.storage")
    if not hasattr(storage, "Repository"):
        pytest.skip("geodata.storage has no Repository yet")
    repo = storage.Repository("sqlite:///" + str(tmp_path / "x.db"))
    repo.migrate()
    assert load_demo(repo, territory=territory) == (360, 180)
    counts = repo.counts()
    assert counts["premises"] == 360
    assert counts["needs"] == 180


def test_reference_date_is_fixed() -> None:
    assert date(2026, 11, 1) == REFERENCE_DATE
