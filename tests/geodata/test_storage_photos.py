"""Photos of listings in storage (SQLite and PostGIS): every change is a listing write."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from geodata.photos import PreparedPhoto, prepare_photo
from geodata.schemas import PremisesCreate
from geodata.storage import Repository, catalogue, photos
from geodata.storage import premises as store
from geodata.storage._tables import premises_photos
from geodata.storage.errors import NotFoundError, StaleVersionError
from geodata.storage.photos import PhotoCountError
from geodata.territory import default_territory
from tests.utils.images import jpeg_with_gps, png_bytes


def _listing(repo: Repository) -> int:
    item = PremisesCreate.model_validate(
        {
            "title": "Atelier photographié",
            "kind": "workshop",
            "surface_m2": 300,
            "tenure": "rent",
            "lon": 2.392,
            "lat": 48.787,
        },
        context={"territory": default_territory()},
    )
    return repo.add_premises(item, actor="fixture").id


def _photo(size: tuple[int, int] = (300, 200)) -> PreparedPhoto:
    return prepare_photo(png_bytes(size))


def test_adding_and_deleting_a_photo_are_audited_listing_writes(repo: Repository) -> None:
    pid = _listing(repo)
    before = repo.catalogue_version()
    with repo.begin() as conn:
        info, listing = photos.add_photo(
            conn, pid, _photo(), alt="Façade", alt_en="Front", actor="sci-orly"
        )
    assert listing.version == 2
    assert [(p.id, p.alt, p.alt_en, p.width, p.height) for p in listing.gallery] == [
        (info.id, "Façade", "Front", 300, 200)
    ]
    stored = repo.get_premises(pid)
    assert stored.version == 2 and stored.gallery == listing.gallery
    assert stored.gallery[0].url == f"/premises/{pid}/photos/{info.id}"
    assert repo.catalogue_version() == before + 1
    changes = repo.changes_since(before)
    assert [p.id for p in changes.upserted] == [pid]
    assert changes.upserted[0].gallery == listing.gallery
    with repo.connect() as conn:
        served = photos.get_photo(conn, pid, info.id)
    assert served.content == _photo().content and served.created_by == "sci-orly"

    with repo.begin() as conn:
        after = photos.delete_photo(conn, pid, info.id, actor="eco-gosb", expected_version=2)
    assert after.version == 3 and after.gallery == []
    trail = repo.audit_trail("premises", pid)
    assert [(e.action, e.version, e.actor) for e in trail] == [
        ("create", 1, "fixture"),
        ("update", 2, "sci-orly"),
        ("update", 3, "eco-gosb"),
    ]
    assert trail[1].changes["gallery"][0] == []
    assert trail[1].changes["gallery"][1][0]["alt"] == "Façade"
    assert trail[2].changes["gallery"][1] == []
    with repo.connect() as conn, pytest.raises(NotFoundError):
        photos.get_photo(conn, pid, info.id)


def test_a_stale_version_writes_nothing(repo: Repository) -> None:
    pid = _listing(repo)
    with repo.begin() as conn:
        photos.add_photo(conn, pid, _photo(), alt="Quai", actor="a")
    with pytest.raises(StaleVersionError), repo.begin() as conn:
        photos.add_photo(conn, pid, _photo(), alt="Autre", actor="a", expected_version=1)
    stored = repo.get_premises(pid)
    assert stored.version == 2 and [p.alt for p in stored.gallery] == ["Quai"]
    with repo.connect() as conn:
        assert len(photos.list_photos(conn, pid)) == 1


def test_photos_are_ordered_moved_described_and_bounded(repo: Repository) -> None:
    pid = _listing(repo)
    with repo.begin() as conn:
        a, _ = photos.add_photo(conn, pid, _photo(), alt="A", actor="x")
        b, _ = photos.add_photo(conn, pid, _photo(), alt="B", actor="x")
        c, _ = photos.add_photo(conn, pid, _photo(), alt="C", actor="x", position=0)
    assert [p.alt for p in repo.get_premises(pid).gallery] == ["C", "A", "B"]
    with repo.begin() as conn:
        photos.update_photo(conn, pid, c.id, {"position": 2, "alt_en": "C en"}, actor="x")
        photos.update_photo(conn, pid, b.id, {"alt": "B bis"}, actor="x")
    listing = repo.get_premises(pid)
    assert [(p.alt, p.alt_en) for p in listing.gallery] == [
        ("A", None),
        ("B bis", None),
        ("C", "C en"),
    ]
    assert listing.version == 6
    with repo.begin() as conn:
        photos.delete_photo(conn, pid, a.id, actor="x")
        assert [p.position for p in photos.list_photos(conn, pid)] == [0, 1]
    with pytest.raises(PhotoCountError), repo.begin() as conn:
        photos.add_photo(conn, pid, _photo(), alt="D", actor="x", max_photos=2)
    assert len(repo.get_premises(pid).gallery) == 2
    with pytest.raises(NotFoundError), repo.begin() as conn:
        photos.delete_photo(conn, pid + 1000, b.id, actor="x")


def test_a_deleted_listing_takes_its_photos_with_it(repo: Repository) -> None:
    pid = _listing(repo)
    with repo.begin() as conn:
        _, listing = photos.add_photo(conn, pid, prepare_photo(jpeg_with_gps()), alt="A", actor="x")
        store.delete_premises(conn, pid, expected_version=listing.version, actor="x")
    with repo.connect() as conn:
        left = conn.execute(sa.select(sa.func.count()).select_from(premises_photos)).scalar()
        assert left == 0
        # The gallery stays out of the matching columns (the index reads no JSON).
        assert "gallery" not in catalogue.premises_columns(conn)
