"""The listing filters of the one query (rent, price, free text, sort, visibility) and the
freshness writes and reads (confirm, the stale backlog), on SQLite and PostGIS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from geodata.storage import NotFoundError, PremisesQuery, Repository, StaleVersionError, freshness
from geodata.storage import premises as store
from tests.geodata.test_storage import IVRY, ORLY, RUNGIS, VALENTON, VITRY, make_premises

T0 = datetime(2026, 9, 1, 10, 0, tzinfo=UTC)


def _ids(repo: Repository, **values: object) -> list[int]:
    query = PremisesQuery.parse(limit=None, **values)
    return [p.id for p in repo.list_premises(query).items]


@pytest.fixture
def five(repo: Repository) -> tuple[Repository, list[int]]:
    """Five listings with different rents, prices, texts, places and freshness dates."""
    items = [
        make_premises(
            RUNGIS,
            title="Entrepôt frigorifique du MIN",
            rent_eur_m2_year=85.0,
            surface_m2=1200.0,
            last_verified_at=T0 - timedelta(days=10),
        ),
        make_premises(
            VITRY,
            title="Atelier des Ardoines",
            description="Hauteur 6 m ; ÉLECTRICITÉ 250 kVA ; 100% rénové",
            rent_eur_m2_year=140.0,
            surface_m2=300.0,
            last_verified_at=T0 - timedelta(days=100),
            owner_account="sci-orly",
        ),
        make_premises(
            VALENTON,
            title="Lot du village d'entreprises",
            address="12 rue de l'Écluse, Valenton",
            tenure="both",
            rent_eur_m2_year=120.0,
            sale_price_eur=450_000.0,
            surface_m2=250.0,
            last_verified_at=T0 - timedelta(days=50),
        ),
        make_premises(
            ORLY,
            title="Bâtiment à vendre",
            tenure="sale",
            rent_eur_m2_year=None,
            sale_price_eur=1_900_000.0,
            surface_m2=2000.0,
            last_verified_at=T0 - timedelta(days=70),
        ),
        make_premises(
            IVRY,
            title="Atelier retiré",
            rent_eur_m2_year=150.0,
            status="withdrawn",
            surface_m2=500.0,
            last_verified_at=T0,
            owner_account="sci-orly",
        ),
    ]
    stored = repo.add_many_premises(items, actor="t")
    return repo, [p.id for p in stored]


def test_rent_and_price_ranges(five: tuple[Repository, list[int]]) -> None:
    repo, (rungis, vitry, valenton, orly, ivry) = five
    assert _ids(repo, min_rent_eur_m2_year=120) == [vitry, valenton, ivry]
    assert _ids(repo, min_rent_eur_m2_year=100, max_rent_eur_m2_year=140) == [vitry, valenton]
    # A listing without a rent (for sale only) is out as soon as a rent bound is given.
    assert orly not in _ids(repo, max_rent_eur_m2_year=1000)
    assert _ids(repo, max_sale_price_eur=500_000) == [valenton]
    assert _ids(repo, min_sale_price_eur=500_000) == [orly]
    assert rungis not in _ids(repo, min_sale_price_eur=0)


def test_free_text_ignores_case_and_accents(five: tuple[Repository, list[int]]) -> None:
    repo, (rungis, vitry, valenton, orly, ivry) = five
    assert _ids(repo, q="entrepot") == [rungis]
    assert _ids(repo, q="ENTREPÔT") == [rungis]
    assert _ids(repo, q="electricite") == [vitry]  # in the description, written in capitals
    assert _ids(repo, q="ecluse") == [valenton]  # in the address
    assert _ids(repo, q="batiment") == [orly]
    # Every word must appear (in any of the three texts); LIKE's wildcards are plain text.
    assert _ids(repo, q="atelier ardoines") == [vitry]
    assert _ids(repo, q="atelier") == [vitry, ivry]
    assert _ids(repo, q="100%") == [vitry]
    assert _ids(repo, q="_") == []
    assert _ids(repo, q="   ") == [rungis, vitry, valenton, orly, ivry]
    # Control characters (NUL, refused by PostgreSQL in a text) separate words.
    assert _ids(repo, q="atelier\x00ardoines\t") == [vitry]


def test_sorts(five: tuple[Repository, list[int]]) -> None:
    repo, (rungis, vitry, valenton, orly, ivry) = five
    assert _ids(repo, order_by="surface") == [valenton, vitry, ivry, rungis, orly]
    assert _ids(repo, order_by="-surface") == [orly, rungis, ivry, vitry, valenton]
    # Listings without a rent come last in both directions, on both backends.
    assert _ids(repo, order_by="rent") == [rungis, valenton, vitry, ivry, orly]
    assert _ids(repo, order_by="-rent") == [ivry, vitry, valenton, rungis, orly]
    assert _ids(repo, order_by="freshness") == [ivry, rungis, valenton, orly, vitry]
    assert _ids(repo, order_by="-freshness") == [vitry, orly, valenton, rungis, ivry]
    # Nearest to a point in Vitry first, then Ivry (3 km north), Rungis/Orly/Valenton.
    near = _ids(repo, order_by="distance", near="2.40,48.79")
    assert near[:2] == [vitry, ivry]
    assert near[-1] == valenton or near[-1] == orly
    assert _ids(repo, order_by="distance", near="2.46,48.75")[0] == valenton


def test_visibility_hides_withdrawn_and_stale_but_not_from_the_owner(
    five: tuple[Repository, list[int]],
) -> None:
    repo, (rungis, vitry, valenton, orly, ivry) = five
    cutoff = T0 - timedelta(days=90)
    assert _ids(repo, visible_since=cutoff) == [rungis, valenton, orly]
    # Its owner reads its stale and its withdrawn listing too; nobody else's.
    mine = _ids(repo, visible_since=cutoff, visible_owner="sci-orly")
    assert mine == [rungis, vitry, valenton, orly, ivry]
    assert _ids(repo, visible_since=cutoff, status="withdrawn") == []
    assert _ids(repo, visible_since=cutoff, visible_owner="sci-orly", status="withdrawn") == [ivry]
    assert repo.count_premises(PremisesQuery(visible_since=cutoff)) == 3


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"min_rent_eur_m2_year": 150, "max_rent_eur_m2_year": 90}, r"min_rent_eur_m2_year: 150"),
        ({"min_sale_price_eur": -1}, r"min_sale_price_eur: .*greater than or equal to 0"),
        ({"order_by": "distance"}, r"order_by: sorting by distance needs a point; give near"),
        ({"order_by": "-distance"}, r"order_by: unknown column 'distance'"),
        ({"order_by": "colour"}, r"order_by: unknown column 'colour'; use one of .*freshness"),
        ({"near": "2.4"}, r"near: expected two finite numbers lon,lat"),
        ({"near": "48.79,200"}, r"near: \(48.79, 200.0\) is not a WGS84 point"),
        ({"near": "inf,48"}, r"near: expected two finite numbers"),
        ({"q": "x" * 201}, r"q: String should have at most 200 characters"),
    ],
)
def test_new_query_errors_name_the_field(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PremisesQuery.parse(**values)


def test_the_storage_keeps_the_freshness_date_it_is_given(repo: Repository) -> None:
    # The API dates what it writes; an import keeps its own column, or none.
    dated = repo.add_premises(make_premises(last_verified_at=T0), actor="t")
    undated = repo.add_premises(make_premises(VITRY), actor="t")
    assert repo.get_premises(dated.id).last_verified_at == T0
    assert repo.get_premises(undated.id).last_verified_at is None
    # A listing without a date is kept by the public view (it counts as fresh).
    assert undated.id in _ids(repo, visible_since=T0 + timedelta(days=1))
    assert dated.id not in _ids(repo, visible_since=T0 + timedelta(days=1))


def test_confirm_is_a_versioned_audited_write(repo: Repository) -> None:
    listing = repo.add_premises(make_premises(last_verified_at=T0), actor="t")
    version = repo.catalogue_version()
    later = T0 + timedelta(days=91)
    with repo.begin() as conn:
        confirmed = store.confirm_premises(conn, listing.id, at=later, actor="sci-orly")
    assert (confirmed.version, confirmed.last_verified_at) == (2, later)
    assert confirmed.model_dump(exclude={"version", "updated_at", "last_verified_at"}) == (
        listing.model_dump(exclude={"version", "updated_at", "last_verified_at"})
    )
    assert repo.get_premises(listing.id) == confirmed
    assert repo.catalogue_version() == version + 1
    entry = repo.audit_trail("premises", listing.id)[-1]
    assert (entry.action, entry.actor, entry.version) == ("confirm", "sci-orly", 2)
    assert entry.changes["last_verified_at"][1].startswith("2026-12-01")
    # With an expected version it is a compare-and-set.
    with pytest.raises(StaleVersionError), repo.begin() as conn:
        store.confirm_premises(conn, listing.id, at=later, actor="x", expected_version=1)
    with repo.begin() as conn:
        again = store.confirm_premises(conn, listing.id, at=later, actor="x", expected_version=2)
    assert again.version == 3
    with pytest.raises(NotFoundError), repo.begin() as conn:
        store.confirm_premises(conn, listing.id + 99, at=later, actor="x")


def test_the_stale_backlog_is_on_market_listings_oldest_first(
    five: tuple[Repository, list[int]],
) -> None:
    repo, (_, vitry, _, orly, _) = five
    flag = freshness.older_than(T0, 60)
    with repo.connect() as conn:
        page = freshness.stale_premises(conn, before=flag)
        assert [p.id for p in page.items] == [vitry, orly]
        assert page.total == 2
        assert freshness.stale_premises(conn, before=flag, owner="sci-orly").total == 1
        hidden = freshness.stale_premises(conn, before=freshness.older_than(T0, 91))
        assert [p.id for p in hidden.items] == [vitry]
        second = freshness.stale_premises(conn, before=flag, limit=1, offset=1)
        assert ([p.id for p in second.items], second.total) == ([orly], 2)
    # Off the market (let), a listing no longer needs confirming.
    with repo.begin() as conn:
        store.set_status(conn, orly, "sold", expected_version=1, actor="t")
    with repo.connect() as conn:
        assert [p.id for p in freshness.stale_premises(conn, before=flag).items] == [vitry]


def test_ages_count_utc_days() -> None:
    now = datetime(2026, 12, 2, 0, 30, tzinfo=UTC)
    assert freshness.age_days(datetime(2026, 12, 1, 23, 59, tzinfo=UTC), now) == 1
    assert freshness.age_days(None, now) is None
    # Confirmed on 3 September: 90 days old on 2 December, hidden from 3 December.
    hide = freshness.older_than(now, 91)
    assert hide == datetime(2026, 9, 3, tzinfo=UTC)
    assert freshness.age_days(hide, now) == 90
