"""Storage behaves the same on SQLite and PostGIS: round trips, filters, versions, audit."""

from __future__ import annotations

import itertools
import secrets
import threading
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import geopandas as gpd
import shapely

from geodata.schemas import Need, NeedIn, Premises, PremisesCreate, PremisesKind, Status, Use
from geodata.storage import (
    MIGRATIONS_DIR,
    DuplicateRefError,
    NotFoundError,
    Page,
    PremisesQuery,
    Repository,
    StaleVersionError,
    StorageError,
    UpsertResult,
    open_repository,
)
from geodata.storage import premises as premises_store
from geodata.storage._tables import metadata, premises

HEAD = "0014"  # the latest migration
FIELDS = set(PremisesCreate.model_fields)

# Points inside the territory, with the commune each lies in.
RUNGIS = (2.36, 48.76, "94065")
VITRY = (2.40, 48.79, "94081")
VALENTON = (2.46, 48.75, "94074")
ORLY = (2.39, 48.745, "94054")
THIAIS = (2.38, 48.765, "94073")
IVRY = (2.385, 48.815, "94041")
PLACES = [RUNGIS, VITRY, VALENTON, ORLY, THIAIS, IVRY]

SQUARE: dict[str, Any] = {
    "type": "Polygon",
    "coordinates": [
        [[2.36, 48.76], [2.3605, 48.76], [2.3605, 48.7603], [2.36, 48.7603], [2.36, 48.76]]
    ],
}


def make_premises(place: tuple[float, float, str] = RUNGIS, **overrides: Any) -> PremisesCreate:
    """A valid listing at ``place`` (lon, lat, INSEE code), with ``overrides`` applied."""
    lon, lat, insee = place
    data: dict[str, Any] = {
        "title": "Local d'activité",
        "kind": "workshop",
        "uses": ["production"],
        "surface_m2": 400.0,
        "tenure": "rent",
        "rent_eur_m2_year": 110.0,
        "lon": lon,
        "lat": lat,
        "commune_insee": insee,
    }
    data.update(overrides)
    return PremisesCreate.model_validate(data)


def full_premises() -> PremisesCreate:
    """A listing with every field set."""
    return make_premises(
        external_ref="SOG-12",
        title="Entrepôt Sogaris, cellule 4",
        kind="warehouse",
        uses=["production", "logistics"],
        surface_m2=2500.5,
        activity_m2=300.25,
        storage_m2=2000.0,
        office_m2=150.0,
        mezzanine_m2=80.0,
        divisible=True,
        min_lot_m2=600.0,
        plot_m2=5000.0,
        ceiling_height_m=10.5,
        floor_load_t_m2=5.0,
        loading_docks=4,
        ground_level_doors=2,
        power_kva=250.0,
        icpe_allowed=False,
        parking_spaces=12,
        tenure="both",
        rent_eur_m2_year=95.5,
        sale_price_eur=3_500_000.0,
        charges_eur_m2_year=12.0,
        available_from=date(2026, 9, 1),
        status="under_offer",
        address="1 rue de la Tour, 94150 Rungis",
        footprint=SQUARE,
        zone_id="94065-SOGARIS",
        lot_ref="C4",
        owner_account="sogaris",
        contact_name="Élise Martin",
        contact_email="elise.martin@example.org",
        contact_phone="+33 1 02 03 04 05",
        photos=["https://example.org/p/1.jpg", "https://example.org/p/2.jpg"],
        description="Cellule logistique « quai + plain-pied », accès A86/A106.\nLigne 2.",
        last_verified_at=datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC),
    )


def make_need(**overrides: Any) -> NeedIn:
    """A valid need, with ``overrides`` applied."""
    data: dict[str, Any] = {
        "company_name": "Boulangerie Dupont",
        "siren": "732829320",
        "naf_code": "10.71C",
        "surface_min_m2": 200.0,
        "surface_max_m2": 500.0,
        "communes": ["94065", "94073"],
        "max_rent_eur_m2_year": 140.0,
        "wanted_by": date(2026, 12, 1),
        "weights": {"surface": 2.0, "location": 1.0},
    }
    data.update(overrides)
    return NeedIn.model_validate(data)


def described(item: Premises) -> dict[str, Any]:
    """The owner-described fields of a stored listing."""
    return item.model_dump(include=FIELDS)


# -- schema ---------------------------------------------------------------------------------


def test_table_columns_are_the_model_fields() -> None:
    assert {c.name for c in premises.c} == set(Premises.model_fields)


def test_migrations_are_shipped_with_the_package() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0001_initial.py").is_file()


@pytest.mark.filterwarnings("ignore:Did not recognize type 'geometry'")
def test_migration_matches_the_tables(repo: Repository) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        postgis = {"geom", "footprint_geom", "ix_premises_geom", "ix_premises_footprint_geom"}
        return name not in postgis and name not in {"spatial_ref_sys", "alembic_version"}

    with repo.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": include, "compare_type": False}
        )
        assert compare_metadata(context, metadata) == []


def test_migrate_is_idempotent(repo: Repository) -> None:
    repo.add_premises(make_premises(), actor="test")
    repo.migrate()
    repo.migrate()
    assert repo.counts() == {"premises": 1, "needs": 0}
    with repo.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == HEAD


def test_concurrent_first_migrations_all_succeed(tmp_path: Any) -> None:
    _migrate_concurrently(f"sqlite:///{tmp_path / 'new.db'}")


@pytest.mark.postgis
def test_concurrent_first_postgis_migrations_all_succeed(pg_scratch: Any) -> None:
    with pg_scratch() as url:
        _migrate_concurrently(url)


def _migrate_concurrently(url: str, workers: int = 3) -> None:
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            Repository(url).migrate()
        except BaseException as exc:  # collected and re-raised by the test
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    repo = Repository(url)
    assert repo.counts() == {"premises": 0, "needs": 0}
    assert repo.catalogue_version() == 0
    repo.dispose()


@pytest.mark.postgis
def test_migrate_says_who_must_enable_postgis(pg_admin_url: str, pg_scratch: Any) -> None:
    """A role that owns its database but is no superuser is told to ask for the extension."""
    role = f"implanter_test_role_{secrets.token_hex(3)}"
    admin = sa.create_engine(pg_admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    quoted = admin.dialect.identifier_preparer.quote(role)
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE ROLE {quoted} LOGIN NOSUPERUSER"))
    except sa.exc.DBAPIError as exc:
        admin.dispose()
        pytest.skip(f"the admin role may not create roles ({exc.orig})")
    try:
        with pg_scratch(owner=role) as url:
            repo = Repository(url)
            try:
                repo.engine.connect().close()
            except sa.exc.OperationalError as exc:
                pytest.skip(f"a role without password cannot log in here ({exc.orig})")
            with pytest.raises(StorageError, match="ask a superuser to run 'CREATE EXTENSION"):
                repo.migrate()
            with repo.engine.connect() as conn:  # nothing was left half-made
                assert not sa.inspect(conn).get_table_names()
            repo.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP ROLE IF EXISTS {quoted}"))
        admin.dispose()


# -- round trips ----------------------------------------------------------------------------


def test_full_round_trip_equals_input(repo: Repository) -> None:
    item = full_premises()
    stored = repo.add_premises(item, actor="alice")
    fetched = repo.get_premises(stored.id)
    assert fetched == stored
    assert described(fetched) == item.model_dump()
    assert fetched.version == 1
    assert fetched.created_at == fetched.updated_at
    assert fetched.created_at.tzinfo is not None
    assert fetched.created_at.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - fetched.created_at) < timedelta(minutes=1)


def test_minimal_round_trip_keeps_nulls_and_defaults(repo: Repository) -> None:
    item = make_premises(
        tenure="sale", rent_eur_m2_year=None, sale_price_eur=900_000.0, uses=[], icpe_allowed=True
    )
    fetched = repo.get_premises(repo.add_premises(item, actor="bob").id)
    assert described(fetched) == item.model_dump()
    assert fetched.icpe_allowed is True
    assert fetched.divisible is False
    assert fetched.uses == []
    assert fetched.footprint is None
    assert fetched.photos == []


def test_uses_are_stored_in_enum_order(repo: Repository) -> None:
    stored = repo.add_premises(make_premises(uses=["repair", "logistics", "production"]), actor="t")
    assert repo.get_premises(stored.id).uses == ["production", "logistics", "repair"]
    with repo.engine.connect() as conn:
        raw = conn.execute(sa.select(premises.c.uses)).scalar()
    assert raw == 1 | 2 | 64  # a bitmask: production, logistics, repair


def test_last_verified_at_is_stored_in_utc(repo: Repository) -> None:
    paris = timezone(timedelta(hours=2))
    item = make_premises(last_verified_at=datetime(2026, 6, 1, 12, 0, tzinfo=paris))
    fetched = repo.get_premises(repo.add_premises(item, actor="t").id)
    assert fetched.last_verified_at == datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    assert fetched.last_verified_at is not None
    assert fetched.last_verified_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"loading_docks": 2**31}, "loading_docks: 2147483648 is too large to store"),
        ({"title": "Atelier\x00B"}, "title: contains a NUL character"),
    ],
)
def test_values_one_backend_cannot_store_are_refused_by_both(
    repo: Repository, overrides: dict[str, Any], message: str
) -> None:
    # The schemas refuse these values; the store checks again for models built without
    # validation (model_construct), so that both backends behave alike.
    with pytest.raises(ValidationError):
        make_premises(**overrides)
    unchecked = PremisesCreate.model_construct(**{**make_premises().model_dump(), **overrides})
    with pytest.raises(StorageError, match=message):
        repo.add_many_premises([make_premises(), unchecked], actor="t")
    assert repo.counts()["premises"] == 0
    need = NeedIn.model_construct(**{**make_need().model_dump(), "company_name": "A\x00B"})
    with pytest.raises(StorageError, match="company_name: contains a NUL"):
        repo.add_need(need, actor="t")


def test_get_missing_raises_not_found(repo: Repository) -> None:
    with pytest.raises(NotFoundError, match="premises 42 does not exist") as info:
        repo.get_premises(42)
    assert isinstance(info.value, LookupError)


# -- listing and filters --------------------------------------------------------------------


@pytest.fixture
def catalogue(repo: Repository) -> list[Premises]:
    """Six listings spread over communes, kinds, uses, surfaces and statuses."""
    items = [
        make_premises(RUNGIS, kind="warehouse", uses=["logistics"], surface_m2=3000.0),
        make_premises(VITRY, kind="workshop", uses=["production", "craft"], surface_m2=250.0),
        make_premises(VALENTON, kind="business_village_lot", uses=["craft"], surface_m2=150.0),
        make_premises(
            ORLY,
            kind="warehouse",
            uses=["logistics", "food_processing"],
            surface_m2=1200.0,
            status="let",
        ),
        make_premises(THIAIS, kind="lab", uses=["lab_rd"], surface_m2=500.0),
        make_premises(IVRY, kind="workshop", uses=["production", "repair"], surface_m2=800.0),
    ]
    return repo.add_many_premises(items, actor="loader")


def ids(page: Page[Premises]) -> list[int]:
    return [p.id for p in page.items]


def test_list_without_filters_pages_through_everything(
    repo: Repository, catalogue: list[Premises]
) -> None:
    first = repo.list_premises(limit=4)
    second = repo.list_premises(limit=4, offset=4)
    assert (first.total, second.total) == (6, 6)
    assert ids(first) + ids(second) == [p.id for p in catalogue]
    assert (second.limit, second.offset) == (4, 4)
    assert first.items == catalogue[:4]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"commune": "94081"}, [1]),
        ({"kind": "warehouse"}, [0, 3]),
        ({"use": "production"}, [1, 5]),
        ({"use": "craft"}, [1, 2]),
        ({"use": "food_processing"}, [3]),
        ({"min_surface_m2": 500}, [0, 3, 4, 5]),
        ({"max_surface_m2": 250}, [1, 2]),
        ({"min_surface_m2": 200, "max_surface_m2": 900}, [1, 4, 5]),
        ({"status": "let"}, [3]),
        ({"status": "available", "kind": "warehouse"}, [0]),
        ({"bbox": (2.37, 48.74, 2.41, 48.80)}, [1, 3, 4]),
        ({"bbox": (2.36, 48.76, 2.36, 48.76)}, [0]),
        ({"bbox": (2.37, 48.74, 2.41, 48.80), "use": "logistics"}, [3]),
        ({"commune": "94001"}, []),
    ],
)
def test_list_filters(
    repo: Repository,
    catalogue: list[Premises],
    filters: dict[str, Any],
    expected: list[int],
) -> None:
    page = repo.list_premises(**filters, limit=2)
    assert page.total == len(expected)
    assert repo.count_premises(**filters) == len(expected)
    assert ids(page) == [catalogue[i].id for i in expected][:2]
    everything = repo.list_premises(**filters, limit=100)
    assert ids(everything) == [catalogue[i].id for i in expected]


def test_list_order_by(repo: Repository, catalogue: list[Premises]) -> None:
    page = repo.list_premises(order_by="-surface_m2", limit=3)
    assert [p.surface_m2 for p in page.items] == [3000.0, 1200.0, 800.0]
    page = repo.list_premises(order_by="surface_m2", limit=2)
    assert [p.surface_m2 for p in page.items] == [150.0, 250.0]


#: Queries in an order where each shape (the same filters, order and page) comes back with
#: other values, and the listings (indices into ``catalogue``) each must read.
SHAPES: list[tuple[dict[str, Any], list[int]]] = [
    ({"kind": "warehouse"}, [0, 3]),
    ({"kind": "workshop"}, [1, 5]),
    ({"min_surface_m2": 800}, [0, 3, 5]),
    ({"max_surface_m2": 800}, [1, 2, 4, 5]),
    ({"q": "quai"}, [0, 3, 5]),
    ({"q": "QUAI entrepot"}, [0, 3]),
    ({"q": "50%"}, [0]),  # % and _ match only themselves
    ({"q": "quai_"}, [3]),
    ({"q": "quai sud"}, [3]),
    ({"bbox": (2.37, 48.74, 2.41, 48.80)}, [1, 3, 4]),
    ({"bbox": (2.36, 48.76, 2.36, 48.76)}, [0]),
    ({"order_by": "distance", "near": (2.39, 48.745), "limit": 1}, [3]),
    ({"order_by": "distance", "near": (2.385, 48.815), "limit": 1}, [5]),
    ({"order_by": "-surface_m2", "limit": 2}, [0, 3]),
    ({"order_by": "-surface_m2", "limit": 2, "offset": 2}, [5, 4]),
    ({"limit": 2, "offset": 4}, [4, 5]),
    ({"use": "craft", "status": "available"}, [1, 2]),
    ({"use": "logistics", "status": "let"}, [3]),
]


def test_page_keys_bind_each_querys_values_into_the_statement_of_its_shape(
    repo: Repository, catalogue: list[Premises]
) -> None:
    for i, title in ((0, "Entrepôt 50% quai"), (3, "Entrepot 500 quai_sud"), (5, "Quai nord")):
        repo.patch_premises(catalogue[i].id, {"title": title}, expected_version=1, actor="t")
    versions = {p.id: p.version for p in repo.list_premises(limit=None).items}
    with repo.connect() as conn:
        for _ in range(2):  # each statement built, then reused
            for filters, expected in SHAPES:
                query = PremisesQuery(**{"limit": None, **filters})
                wanted = [catalogue[i].id for i in expected]
                keys = premises_store.page_keys(conn, query)
                assert keys == [(pid, versions[pid], None) for pid in wanted], filters
                if "limit" not in filters:
                    assert premises_store.count_premises(conn, query) == len(expected), filters


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"use": "dancing"}, "use: unknown value 'dancing'"),
        ({"kind": "castle"}, "kind: unknown value 'castle'"),
        ({"status": "gone"}, "status: unknown value 'gone'"),
        ({"bbox": (2.5, 48.7, 2.3, 48.8)}, "bbox: .* minimum above its maximum"),
        ({"order_by": "id; DROP TABLE premises"}, "order_by: unknown column"),
        ({"limit": -1}, "limit, offset"),
    ],
)
def test_list_rejects_bad_arguments(
    repo: Repository, filters: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        repo.list_premises(**filters)


def test_premises_by_refs(repo: Repository) -> None:
    a = repo.add_premises(make_premises(external_ref="A-1"), actor="t")
    b = repo.add_premises(make_premises(VITRY, external_ref="B-2"), actor="t")
    repo.add_premises(make_premises(ORLY), actor="t")
    found = repo.premises_by_refs(["A-1", "B-2", "missing", "A-1"])
    assert found == {"A-1": a, "B-2": b}
    assert repo.premises_by_refs([]) == {}


# -- versions and concurrency ---------------------------------------------------------------


def test_two_updates_of_the_same_version_second_is_stale(repo: Repository) -> None:
    stored = repo.add_premises(make_premises(), actor="owner")
    first = repo.update_premises(
        stored.id, make_premises(title="First edit"), expected_version=1, actor="alice"
    )
    assert first.version == 2
    with pytest.raises(StaleVersionError, match="at version 2, not version 1") as info:
        repo.update_premises(
            stored.id, make_premises(title="Second edit"), expected_version=1, actor="bob"
        )
    assert (info.value.expected, info.value.current) == (1, 2)
    fetched = repo.get_premises(stored.id)
    assert fetched == first
    assert fetched.title == "First edit"
    assert [e.actor for e in repo.audit_trail("premises", stored.id)] == ["owner", "alice"]


def test_concurrent_updates_exactly_one_wins(repo: Repository) -> None:
    stored = repo.add_premises(make_premises(), actor="owner")
    barrier = threading.Barrier(4)
    outcomes: list[str] = []
    lock = threading.Lock()

    def edit(n: int) -> None:
        barrier.wait()
        try:
            repo.update_premises(
                stored.id, make_premises(title=f"Edit {n}"), expected_version=1, actor=f"u{n}"
            )
            result = f"won {n}"
        except StaleVersionError:
            result = "stale"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=edit, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [o for o in outcomes if o.startswith("won")]
    assert len(winners) == 1
    assert outcomes.count("stale") == 3
    fetched = repo.get_premises(stored.id)
    assert fetched.version == 2
    assert fetched.title == f"Edit {winners[0].split()[1]}"


def test_update_missing_raises_not_found(repo: Repository) -> None:
    with pytest.raises(NotFoundError):
        repo.update_premises(7, make_premises(), expected_version=1, actor="t")


def test_patch_merges_revalidates_and_bumps_version(repo: Repository) -> None:
    stored = repo.add_premises(full_premises(), actor="owner")
    patched = repo.patch_premises(
        stored.id,
        {"rent_eur_m2_year": 99.0, "title": "  Cellule 4  "},
        expected_version=1,
        actor="agent",
    )
    assert patched.version == 2
    assert patched.title == "Cellule 4"
    assert patched.rent_eur_m2_year == 99.0
    assert described(patched) | {"rent_eur_m2_year": 95.5, "title": stored.title} == described(
        stored
    )
    assert repo.get_premises(stored.id) == patched

    with pytest.raises(ValidationError, match="min_lot_m2"):
        repo.patch_premises(stored.id, {"divisible": False}, expected_version=2, actor="agent")
    with pytest.raises(ValidationError, match="id"):
        repo.patch_premises(stored.id, {"id": 99}, expected_version=2, actor="x")
    with pytest.raises(StaleVersionError):
        repo.patch_premises(stored.id, {"title": "x"}, expected_version=1, actor="x")
    assert repo.get_premises(stored.id) == patched


def test_patch_moving_the_point_drops_the_derived_commune(repo: Repository) -> None:
    stored = repo.add_premises(make_premises(RUNGIS), actor="t")
    moved = repo.patch_premises(
        stored.id, {"lon": VITRY[0], "lat": VITRY[1]}, expected_version=1, actor="t"
    )
    assert moved.commune_insee is None  # re-derived from the point when a territory is used
    kept = repo.patch_premises(
        stored.id,
        {"lon": ORLY[0], "lat": ORLY[1], "commune_insee": ORLY[2]},
        expected_version=2,
        actor="t",
    )
    assert kept.commune_insee == "94054"


def test_patch_with_a_territory_rederives_the_commune(repo: Repository) -> None:
    from geodata.territory import default_territory

    gosb = {"territory": default_territory()}
    stored = repo.add_premises(make_premises(RUNGIS), actor="t")
    moved = repo.patch_premises(
        stored.id, {"lon": VITRY[0], "lat": VITRY[1]}, expected_version=1, actor="t", context=gosb
    )
    assert moved.commune_insee == VITRY[2]
    with pytest.raises(ValidationError, match="outside the territory"):
        repo.patch_premises(
            stored.id, {"lon": 2.0, "lat": 48.2}, expected_version=2, actor="t", context=gosb
        )


def test_set_status(repo: Repository) -> None:
    stored = repo.add_premises(make_premises(), actor="owner")
    let = repo.set_status(stored.id, Status.let, expected_version=1, actor="agent")
    assert (let.status, let.version) == ("let", 2)
    assert described(let) | {"status": "available"} == described(stored)
    assert repo.get_premises(stored.id) == let
    with pytest.raises(StaleVersionError):
        repo.set_status(stored.id, "sold", expected_version=1, actor="agent")
    with pytest.raises(ValueError, match="status: unknown value 'rented'"):
        repo.set_status(stored.id, "rented", expected_version=2, actor="agent")
    last = repo.audit_trail("premises", stored.id)[-1]
    assert (last.action, last.version, last.changes) == (
        "status",
        2,
        {"status": ["available", "let"]},
    )


def test_delete(repo: Repository) -> None:
    stored = repo.add_premises(full_premises(), actor="owner")
    with pytest.raises(StaleVersionError):
        repo.delete_premises(stored.id, expected_version=3, actor="x")
    assert repo.get_premises(stored.id) == stored
    repo.delete_premises(stored.id, expected_version=1, actor="admin")
    with pytest.raises(NotFoundError):
        repo.get_premises(stored.id)
    with pytest.raises(NotFoundError):
        repo.delete_premises(stored.id, expected_version=1, actor="admin")
    last = repo.audit_trail("premises", stored.id)[-1]
    assert (last.action, last.actor, last.version) == ("delete", "admin", 2)
    assert last.changes["external_ref"] == "SOG-12"
    assert Premises.model_validate(last.changes) == stored
    # the id is not reused
    assert repo.add_premises(make_premises(), actor="t").id == stored.id + 1


# -- audit ------------------------------------------------------------------------------------


def test_audit_trail_records_who_what_when(repo: Repository) -> None:
    before = datetime.now(UTC)
    stored = repo.add_premises(make_premises(external_ref="R1"), actor="alice@owner")
    repo.update_premises(
        stored.id,
        make_premises(external_ref="R1", surface_m2=450.0, available_from=date(2027, 1, 1)),
        expected_version=1,
        actor="bob@agency",
    )
    trail = repo.audit_trail("premises", stored.id)
    assert [(e.action, e.version, e.actor) for e in trail] == [
        ("create", 1, "alice@owner"),
        ("update", 2, "bob@agency"),
    ]
    create, update = trail
    assert Premises.model_validate(create.changes) == stored
    assert update.changes == {
        "surface_m2": [400.0, 450.0],
        "available_from": [None, "2027-01-01"],
    }
    for entry in trail:
        assert entry.entity == "premises"
        assert entry.entity_id == stored.id
        assert entry.at.utcoffset() == timedelta(0)
        assert before <= entry.at <= datetime.now(UTC)
    assert repo.audit_trail("premises", 999) == []
    with pytest.raises(ValueError, match="entity"):
        repo.audit_trail("company", 1)


# -- batches ----------------------------------------------------------------------------------


def test_add_many_is_all_or_nothing(repo: Repository) -> None:
    repo.add_premises(make_premises(external_ref="TAKEN"), actor="t")
    version = repo.catalogue_version()
    batch = [make_premises(PLACES[i % 6], external_ref=f"NEW-{i}") for i in range(50)]
    batch.append(make_premises(external_ref="TAKEN"))
    with pytest.raises(DuplicateRefError, match=r"'TAKEN'.*already used") as info:
        repo.add_many_premises(batch, actor="importer")
    assert info.value.refs == ["TAKEN"]
    assert repo.counts()["premises"] == 1
    assert repo.catalogue_version() == version
    assert repo.premises_by_refs(["NEW-0", "NEW-49"]) == {}

    twice = [
        make_premises(external_ref="X"),
        make_premises(external_ref="Y"),
        make_premises(external_ref="X"),
    ]
    with pytest.raises(DuplicateRefError, match=r"'X'.*more than once"):
        repo.add_many_premises(twice, actor="importer")
    assert repo.counts()["premises"] == 1


def test_add_many_returns_listings_in_order(repo: Repository) -> None:
    batch = [make_premises(PLACES[i % 6], surface_m2=100.0 + i) for i in range(120)]
    stored = repo.add_many_premises(batch, actor="importer")
    assert [s.surface_m2 for s in stored] == [b.surface_m2 for b in batch]
    assert [s.id for s in stored] == list(range(stored[0].id, stored[0].id + 120))
    assert repo.get_premises(stored[77].id) == stored[77]
    assert repo.add_many_premises([], actor="importer") == []


def test_duplicate_ref_on_add_and_update(repo: Repository) -> None:
    repo.add_premises(make_premises(external_ref="A"), actor="t")
    other = repo.add_premises(make_premises(external_ref="B"), actor="t")
    with pytest.raises(DuplicateRefError, match="'A'"):
        repo.add_premises(make_premises(external_ref="A"), actor="t")
    with pytest.raises(DuplicateRefError, match="'A'"):
        repo.update_premises(
            other.id, make_premises(external_ref="A"), expected_version=1, actor="t"
        )
    assert repo.get_premises(other.id) == other
    # keeping one's own reference is no clash
    same = repo.update_premises(
        other.id, make_premises(external_ref="B", title="Renamed"), expected_version=1, actor="t"
    )
    assert same.external_ref == "B"


def test_upsert_by_ref_creates_then_updates(repo: Repository) -> None:
    first = repo.upsert_premises_by_ref(
        [
            make_premises(RUNGIS, external_ref="R-1"),
            make_premises(VITRY, external_ref="R-2"),
            make_premises(ORLY),  # no reference: always created
        ],
        actor="import-1",
    )
    assert isinstance(first, UpsertResult)
    assert (len(first.created), first.updated, first.unchanged) == (3, [], [])
    r1, r2, _ = first.created
    version = repo.catalogue_version()

    second = repo.upsert_premises_by_ref(
        [
            make_premises(RUNGIS, external_ref="R-1", surface_m2=999.0),
            make_premises(VITRY, external_ref="R-2"),
            make_premises(VALENTON, external_ref="R-3"),
        ],
        actor="import-2",
    )
    assert second.updated == [r1]
    assert second.unchanged == [r2]
    assert len(second.created) == 1
    assert repo.counts()["premises"] == 4
    assert repo.get_premises(r1).surface_m2 == 999.0
    assert repo.get_premises(r1).version == 2
    assert repo.get_premises(r2).version == 1
    assert repo.catalogue_version() > version
    assert [e.action for e in repo.audit_trail("premises", r1)] == ["create", "update"]
    assert repo.audit_trail("premises", r1)[-1].changes == {"surface_m2": [400.0, 999.0]}
    assert [e.action for e in repo.audit_trail("premises", r2)] == ["create"]

    version = repo.catalogue_version()
    third = repo.upsert_premises_by_ref([make_premises(VITRY, external_ref="R-2")], actor="i3")
    assert third == UpsertResult(unchanged=[r2])
    assert repo.catalogue_version() == version


def test_upsert_rejects_a_reference_twice_in_the_batch(repo: Repository) -> None:
    batch = [make_premises(external_ref="D"), make_premises(VITRY, external_ref="D")]
    with pytest.raises(DuplicateRefError, match=r"'D'.*more than once"):
        repo.upsert_premises_by_ref(batch, actor="t")
    assert repo.counts()["premises"] == 0
    assert repo.upsert_premises_by_ref([], actor="t") == UpsertResult()


# -- frame, catalogue version, counts ---------------------------------------------------------


def test_premises_frame(repo: Repository, catalogue: list[Premises]) -> None:
    full = repo.add_premises(full_premises(), actor="t")
    frame = repo.premises_frame()
    assert isinstance(frame, gpd.GeoDataFrame)
    assert frame.crs is not None
    assert frame.crs.to_epsg() == 4326
    assert frame.index.name == "id"
    assert list(frame.index) == [p.id for p in catalogue] + [full.id]
    expected_columns = [c.name for c in premises.c if c.name != "id"] + ["geometry"]
    assert list(frame.columns) == expected_columns
    dtypes = frame.dtypes
    assert dtypes["surface_m2"] == "float64"
    assert dtypes["rent_eur_m2_year"] == "float64"
    assert dtypes["loading_docks"] == "Int64"
    assert dtypes["version"] == "int64"
    assert dtypes["divisible"] == "bool"
    assert dtypes["icpe_allowed"] == "boolean"
    assert pd.api.types.is_datetime64_any_dtype(dtypes["available_from"])
    assert str(dtypes["created_at"]) == "datetime64[us, UTC]"
    assert pd.api.types.is_string_dtype(dtypes["uses"])

    listed = {p.id: p for p in repo.list_premises(limit=100).items}
    for pid, row in frame.iterrows():
        item = listed[int(pid)]
        assert row["title"] == item.title
        assert row["uses"] == ",".join(item.uses)
        assert row["surface_m2"] == item.surface_m2
        assert row["status"] == item.status
        assert row["created_at"] == pd.Timestamp(item.created_at)
        assert row.geometry.equals(shapely.Point(item.lon, item.lat))
    row = frame.loc[full.id]
    assert row["available_from"] == pd.Timestamp("2026-09-01")
    assert row["last_verified_at"] == pd.Timestamp(full.last_verified_at)
    assert row["loading_docks"] == 4
    assert not row["icpe_allowed"]
    assert row["photos"].startswith('["https://example.org/p/1.jpg"')
    assert pd.isna(frame.loc[catalogue[0].id, "available_from"])
    assert pd.isna(frame.loc[catalogue[0].id, "loading_docks"])

    let = repo.premises_frame(status="let")
    assert list(let.index) == [catalogue[3].id]


def test_premises_frame_dtypes_do_not_depend_on_the_content(db_url: str) -> None:
    repo = open_repository(db_url, migrate=True)
    empty = repo.premises_frame()
    repo.add_premises(full_premises(), actor="t")
    full = repo.premises_frame()
    assert len(empty) == 0
    assert list(empty.columns) == list(full.columns)
    same = [
        "surface_m2",
        "loading_docks",
        "divisible",
        "icpe_allowed",
        "version",
        "available_from",
        "created_at",
        "last_verified_at",
    ]
    assert list(empty.dtypes[same]) == list(full.dtypes[same])
    repo.dispose()


def test_catalogue_version_grows_on_every_premises_change(repo: Repository) -> None:
    seen = [repo.catalogue_version()]

    def grew() -> bool:
        seen.append(repo.catalogue_version())
        return seen[-1] > seen[-2]

    stored = repo.add_premises(make_premises(external_ref="C"), actor="t")
    assert grew()
    repo.add_many_premises([make_premises(VITRY), make_premises(ORLY)], actor="t")
    assert grew()
    repo.update_premises(
        stored.id, make_premises(external_ref="C", title="T"), expected_version=1, actor="t"
    )
    assert grew()
    repo.patch_premises(stored.id, {"surface_m2": 410.0}, expected_version=2, actor="t")
    assert grew()
    repo.set_status(stored.id, "let", expected_version=3, actor="t")
    assert grew()
    repo.upsert_premises_by_ref(
        [make_premises(external_ref="C", title="U", status="let", surface_m2=410.0)], actor="t"
    )
    assert grew()
    repo.delete_premises(stored.id, expected_version=5, actor="t")
    assert grew()
    repo.add_need(make_need(), actor="t")
    with pytest.raises(StaleVersionError):
        repo.set_status(stored.id + 1, "let", expected_version=9, actor="t")
    assert not grew()


def test_counts(repo: Repository) -> None:
    assert repo.counts() == {"premises": 0, "needs": 0}
    repo.add_many_premises([make_premises(), make_premises(VITRY)], actor="t")
    repo.add_need(make_need(), actor="t")
    assert repo.counts() == {"premises": 2, "needs": 1}


# -- needs ------------------------------------------------------------------------------------


def test_need_round_trip(repo: Repository) -> None:
    item = make_need(
        places=[{"label": "Site actuel", "lon": 2.37, "lat": 48.77, "max_distance_m": 5000}],
        required=["surface", "location"],
        polygon=SQUARE,
        needs_icpe=True,
    )
    stored = repo.add_need(item, actor="staff")
    assert isinstance(stored, Need)
    fetched = repo.get_need(stored.id)
    assert fetched == stored
    assert fetched.model_dump(include=set(NeedIn.model_fields)) == item.model_dump()
    assert fetched.uses == ["production", "food_processing"]  # suggested by the NAF code
    assert fetched.created_at.utcoffset() == timedelta(0)
    with pytest.raises(NotFoundError, match="need 99"):
        repo.get_need(99)


def test_need_update_and_stale_version(repo: Repository) -> None:
    stored = repo.add_need(make_need(), actor="staff")
    updated = repo.update_need(
        stored.id, make_need(surface_max_m2=800.0), expected_version=1, actor="company"
    )
    assert (updated.version, updated.surface_max_m2) == (2, 800.0)
    assert repo.get_need(stored.id) == updated
    with pytest.raises(StaleVersionError, match=r"need .* at version 2, not version 1"):
        repo.update_need(stored.id, make_need(active=False), expected_version=1, actor="x")
    assert repo.get_need(stored.id).active is True
    with pytest.raises(NotFoundError):
        repo.update_need(404, make_need(), expected_version=1, actor="x")
    trail = repo.audit_trail("need", stored.id)
    assert [(e.action, e.actor) for e in trail] == [("create", "staff"), ("update", "company")]
    assert trail[-1].changes == {"surface_max_m2": [500.0, 800.0]}


def test_list_and_all_needs(repo: Repository) -> None:
    created = repo.add_many_needs(
        [make_need(company_name=f"Company {i}", active=i % 3 != 0) for i in range(7)],
        actor="loader",
    )
    active = [n.id for n in created if n.active]
    page = repo.list_needs(limit=2, offset=1)
    assert page.total == len(active)
    assert [n.id for n in page.items] == active[1:3]
    assert [n.id for n in repo.all_needs()] == active
    assert [n.id for n in repo.all_needs(active=False)] == [n.id for n in created if not n.active]
    assert len(repo.all_needs(active=None)) == 7
    assert repo.list_needs(active=None, limit=100).total == 7
    assert repo.add_many_needs([], actor="x") == []


# -- backend specifics ------------------------------------------------------------------------


@pytest.mark.parametrize("repo", ["postgis"], indirect=True)
def test_postgis_geometry_columns(repo: Repository) -> None:
    near = repo.add_premises(full_premises(), actor="t")
    far = repo.add_premises(make_premises(IVRY), actor="t")
    with repo.engine.connect() as conn:
        indexes: dict[str, str] = dict(
            conn.execute(
                sa.text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'premises'")
            ).all()
        )
        assert "USING gist (geom)" in indexes["ix_premises_geom"]
        assert "USING gist (footprint_geom)" in indexes["ix_premises_footprint_geom"]
        columns: dict[str, str] = dict(
            conn.execute(
                sa.text(
                    "SELECT f_geometry_column, type FROM geometry_columns "
                    "WHERE f_table_name = 'premises'"
                )
            ).all()
        )
        assert columns == {"geom": "POINT", "footprint_geom": "MULTIPOLYGON"}
        within = (
            conn.execute(
                sa.text(
                    "SELECT id FROM premises WHERE ST_DWithin(geom::geography, "
                    "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, :metres) ORDER BY id"
                ),
                {"lon": 2.361, "lat": 48.761, "metres": 1000},
            )
            .scalars()
            .all()
        )
        assert within == [near.id]
        area = conn.execute(
            sa.text("SELECT ST_Area(footprint_geom::geography) FROM premises WHERE id = :id"),
            {"id": near.id},
        ).scalar_one()
        assert 1000 < area < 1500  # about 37 m x 33 m
        # generated columns follow the point on update
        repo.update_premises(far.id, make_premises(RUNGIS), expected_version=1, actor="t")
        moved = conn.execute(
            sa.text("SELECT ST_X(geom), ST_Y(geom) FROM premises WHERE id = :id"), {"id": far.id}
        ).one()
        assert tuple(moved) == (RUNGIS[0], RUNGIS[1])


@pytest.mark.parametrize("repo", ["sqlite"], indirect=True)
def test_sqlite_file_is_wal_with_foreign_keys(repo: Repository) -> None:
    with repo.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_sqlite_creates_folder_and_file(tmp_path: Any) -> None:
    path = tmp_path / "deep" / "er" / "catalogue.db"
    repo = Repository(f"sqlite:///{path}")
    repo.migrate()
    assert path.is_file()
    assert repo.counts() == {"premises": 0, "needs": 0}
    assert "catalogue.db" in repr(repo)
    repo.dispose()


def test_repository_reports_unreadable_url() -> None:
    with pytest.raises(sa.exc.ArgumentError):
        Repository("not a url").counts()


def test_storage_errors_share_a_base() -> None:
    for error in (NotFoundError, StaleVersionError, DuplicateRefError):
        assert issubclass(error, StorageError)


# -- property: any valid listing round-trips --------------------------------------------------

_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
    min_size=1,
    max_size=60,
).filter(lambda s: s.strip() != "")
_opt_area = st.none() | st.floats(min_value=0, max_value=50.0)


_EXAMPLE = itertools.count()


@st.composite
def premises_in(draw: st.DrawFn) -> PremisesCreate:
    """Random valid listings (splits stay within the surface, prices match the tenure)."""
    lon, lat, insee = draw(st.sampled_from(PLACES))
    surface = draw(st.floats(min_value=1.0, max_value=1e6, allow_nan=False))
    divisible = draw(st.booleans())
    tenure = draw(st.sampled_from(["rent", "sale", "both"]))
    data: dict[str, Any] = {
        "external_ref": draw(st.none() | st.just("REF")),  # made unique by the test
        "title": draw(_text),
        "kind": draw(st.sampled_from(list(PremisesKind))),
        "uses": sorted(draw(st.sets(st.sampled_from(list(Use)))), key=list(Use).index),
        "surface_m2": surface,
        "activity_m2": draw(_opt_area.map(lambda f: None if f is None else surface * f / 200)),
        "office_m2": draw(_opt_area.map(lambda f: None if f is None else surface * f / 200)),
        "mezzanine_m2": draw(st.none() | st.floats(min_value=0, max_value=1e5)),
        "divisible": divisible,
        "min_lot_m2": draw(st.none() | st.just(surface / 2)) if divisible else None,
        "ceiling_height_m": draw(st.none() | st.floats(min_value=0.5, max_value=60)),
        "loading_docks": draw(st.none() | st.integers(0, 200)),
        "power_kva": draw(st.none() | st.floats(min_value=0, max_value=1e5)),
        "icpe_allowed": draw(st.none() | st.booleans()),
        "tenure": tenure,
        "rent_eur_m2_year": (
            draw(st.none() | st.floats(min_value=1, max_value=2000)) if tenure != "sale" else None
        ),
        "sale_price_eur": (
            draw(st.none() | st.floats(min_value=1, max_value=1e9)) if tenure != "rent" else None
        ),
        "available_from": draw(st.none() | st.dates(date(1950, 1, 1), date(2100, 12, 31))),
        "status": draw(st.sampled_from(list(Status))),
        "address": draw(st.none() | _text),
        "commune_insee": insee,
        "lon": lon + draw(st.floats(min_value=-1e-3, max_value=1e-3)),
        "lat": lat + draw(st.floats(min_value=-1e-3, max_value=1e-3)),
        "photos": draw(
            st.lists(st.integers(0, 999).map("https://img.example/{}.jpg".format), max_size=3)
        ),
        "description": draw(st.none() | _text),
        "last_verified_at": draw(
            st.none()
            | st.datetimes(
                datetime(1990, 1, 1),
                datetime(2090, 1, 1),
                timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5, minutes=-30))]),
            )
        ),
    }
    return PremisesCreate.model_validate(data)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(item=premises_in())
def test_any_valid_listing_round_trips(repo: Repository, item: PremisesCreate) -> None:
    if item.external_ref is not None:
        item = item.model_copy(update={"external_ref": f"REF-{next(_EXAMPLE)}"})
    stored = repo.add_premises(item, actor="hypothesis")
    fetched = repo.get_premises(stored.id)
    assert fetched == stored
    assert described(fetched) == item.model_dump()
    frame = repo.premises_frame()
    assert frame.loc[stored.id, "surface_m2"] == item.surface_m2
