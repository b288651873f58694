"""The bulk import path gives what the row-by-row one gave: audit rows, places, all or nothing."""

from __future__ import annotations

import gc
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from listing_items import GOSB
from pydantic import ValidationError

from geodata.demo import demo_premises
from geodata.io import (
    ListingsFileError,
    canonical_frame,
    export_listings,
    import_listings,
    importer,
    read_listings,
)
from geodata.schemas import PremisesCreate, error_details
from geodata.storage import Repository, StaleVersionError, StorageError
from geodata.storage import premises as store
from geodata.storage._tables import audit_log
from tests.geodata.test_storage import (
    ORLY,
    PLACES,
    RUNGIS,
    VITRY,
    full_premises,
    make_premises,
)


def _created_audits(repo: Repository) -> dict[int, dict[str, Any]]:
    with repo.connect() as conn:
        rows = conn.execute(
            sa.select(audit_log.c.entity_id, audit_log.c.changes).where(
                audit_log.c.action == "create"
            )
        ).all()
    return {int(pid): json.loads(text) for pid, text in rows}


def test_created_audit_rows_are_the_stored_listings(repo: Repository) -> None:
    """The audit text of a created listing is the listing as stored, whatever its fields."""
    paris = timezone(timedelta(hours=2))
    items = [
        full_premises(),
        make_premises(VITRY, external_ref="V-1"),
        make_premises(ORLY, last_verified_at=datetime(2026, 5, 1, 11, 0, tzinfo=paris)),
        make_premises(RUNGIS, last_verified_at=datetime(2026, 5, 1, 9, 0)),  # naive: UTC
        make_premises(VITRY, last_verified_at=datetime(2026, 5, 1, 9, 0, tzinfo=UTC)),
        make_premises(ORLY, uses=["repair", "production", "repair"], photos=[]),
    ]
    result = repo.upsert_premises_by_ref(items, actor="t")
    audits = _created_audits(repo)
    assert sorted(audits) == sorted(result.created)
    for pid in result.created:
        stored = json.loads(repo.get_premises(pid).model_dump_json())
        assert audits[pid] == stored
    assert audits[result.created[2]]["last_verified_at"] == "2026-05-01T09:00:00Z"


def test_upsert_of_several_batches_keeps_order_counts_and_one_version(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches are an implementation detail: ids in item order, one catalogue version."""
    monkeypatch.setattr(store, "BATCH", 3)
    repo.upsert_premises_by_ref([make_premises(RUNGIS, external_ref="K-1")], actor="t")
    version = repo.catalogue_version()
    items = [
        make_premises(PLACES[k % len(PLACES)], external_ref=f"K-{k}", surface_m2=100.0 + k)
        for k in range(1, 11)
    ]
    result = repo.upsert_premises_by_ref(items, actor="t")
    assert len(result.created) == 9 and len(result.updated) == 1
    assert result.created == sorted(result.created)
    assert repo.catalogue_version() == version + 1
    assert repo.counts()["premises"] == 10
    refs = [repo.get_premises(pid).external_ref for pid in result.created]
    assert refs == [f"K-{k}" for k in range(2, 11)]
    with repo.connect() as conn:
        versions = conn.execute(
            sa.select(audit_log.c.catalogue_version).where(audit_log.c.actor == "t")
        ).scalars()
        assert set(versions) == {version, version + 1}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"loading_docks": 2**40}, "loading_docks: .* too large"),  # refused before the SQL
        ({"title": "Local\x00 4"}, "title: contains a NUL character"),
        ({"lon": 500.0}, "the database refused the change"),  # refused by the database
    ],
)
def test_a_refused_row_late_in_a_large_upsert_writes_nothing(
    repo: Repository, monkeypatch: pytest.MonkeyPatch, bad: dict[str, Any], message: str
) -> None:
    """Row 1,500 of 2,000 cannot be stored: the batches before it are rolled back."""
    monkeypatch.setattr(store, "BATCH", 400)
    base = make_premises(RUNGIS).model_dump()
    items = [PremisesCreate.model_validate({**base, "external_ref": f"B-{k}"}) for k in range(2000)]
    items[1499] = PremisesCreate.model_construct(**{**items[1499].model_dump(), **bad})
    with pytest.raises(StorageError, match=message):
        repo.upsert_premises_by_ref(items, actor="t")
    assert repo.counts()["premises"] == 0
    assert repo.catalogue_version() == 0
    with repo.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar() == 0


# -- reading: the territory checked in bulk, a chunk at a time ---------------------------------


@dataclass
class DemoFile:
    path: Path  # the file imported
    names: dict[int, str]  # row -> the commune name it gives instead of a code
    formed: Path  # the same file without those names, to read each row's form without a territory


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> DemoFile:
    """The demo catalogue as a CSV, zones left to the territory, with rows placed wrong.

    Every fifth listing gives no commune (derived from the point); a few are outside the
    territory, have their longitude and latitude swapped, or give a commune the point is not
    in, by code or by name.
    """
    frame = canonical_frame(demo_premises(territory=GOSB))
    frame["zone_id"] = None
    frame.loc[frame.index[::5], "commune_insee"] = None
    lon, lat = frame["lon"].to_numpy(float), frame["lat"].to_numpy(float)
    for k in (3, 40, 41, 199):  # outside, at growing distances
        frame.loc[frame.index[k], "lon"] = lon[k] + 0.05 * (k % 7 + 1)
    for k in (7, 250):  # swapped
        frame.loc[frame.index[k], ["lon", "lat"]] = [lat[k], lon[k]]
    other = "94065" if frame.loc[frame.index[11], "commune_insee"] != "94065" else "94081"
    frame.loc[frame.index[11], "commune_insee"] = other
    folder = tmp_path_factory.mktemp("bulk")
    export_listings(frame, folder / "formed.csv", fmt="csv")
    names = {14: "Rungis", 15: "Paris"}  # file rows; Paris is not in the territory
    for row, name in names.items():
        frame.loc[frame.index[row - 2], "commune_insee"] = name
    export_listings(frame, folder / "demo.csv", fmt="csv")
    return DemoFile(folder / "demo.csv", names, folder / "formed.csv")


def _one_by_one(
    demo: DemoFile,
) -> tuple[dict[int, PremisesCreate], dict[int, set[tuple[str, str]]]]:
    """Each row of the file validated alone against the territory, as a form would."""
    formed = read_listings(demo.formed, territory=None)
    assert not formed.errors
    good: dict[int, PremisesCreate] = {}
    bad: dict[int, set[tuple[str, str]]] = {}
    for item, row in zip(formed.items, formed.rows, strict=True):
        data = item.model_dump(exclude_unset=True)
        if row in demo.names:
            data["commune_insee"] = demo.names[row]
        try:
            good[row] = PremisesCreate.model_validate(data, context={"territory": GOSB})
        except ValidationError as exc:
            bad[row] = {(d["field"], d["reason"]) for d in error_details(exc)}
    return good, bad


def test_bulk_territory_check_gives_what_one_row_at_a_time_gives(demo_file: DemoFile) -> None:
    """The same communes and zones, and the same errors (distances included), as row by row."""
    parsed = read_listings(demo_file.path, territory=GOSB)
    good, bad = _one_by_one(demo_file)
    assert dict(zip(parsed.rows, parsed.items, strict=True)) == good
    found: dict[int, set[tuple[str, str]]] = {}
    for error in parsed.errors:
        found.setdefault(error.row, set()).add((error.field, error.reason))
    assert found == bad
    assert sorted(bad) == [5, 9, 13, 14, 15, 42, 43, 201, 252]  # each misplaced row
    reasons = " ".join(reason for row in bad.values() for _, reason in row)
    assert "km from its boundary" in reasons and "swapped" in reasons
    assert "disagrees with the point" in reasons
    assert sum(item.zone_id is not None for item in parsed.items) > 20


def test_validation_chunks_do_not_change_the_result(
    demo_file: DemoFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks of 7 rows (misplaced rows in several chunks) give what one chunk gives."""
    whole = read_listings(demo_file.path, territory=GOSB)
    monkeypatch.setattr(importer, "VALIDATION_CHUNK", 7)
    chunked = read_listings(demo_file.path, territory=GOSB)
    assert chunked.items == whole.items
    assert chunked.rows == whole.rows
    assert chunked.errors == whole.errors
    assert chunked.warnings == whole.warnings


def test_compacted_listings_keep_their_given_fields(demo_file: DemoFile) -> None:
    """The smaller set of given fields is the same set, and each listing has its own."""
    parsed = read_listings(demo_file.path, territory=GOSB)
    first, second = parsed.items[:2]
    assert first.model_fields_set is not second.model_fields_set
    given = first.model_dump(exclude_unset=True)
    assert {"title", "lon", "lat", "surface_m2"} <= set(given)
    assert PremisesCreate.model_validate(given, context={"territory": GOSB}) == first


def test_imports_leave_the_garbage_collector_as_they_found_it(
    repo: Repository, demo_file: DemoFile, tmp_path: Path
) -> None:
    """What an import freezes for its own speed is unfrozen when it ends, even on an error."""
    assert gc.get_freeze_count() == 0
    report = import_listings(repo, demo_file.path, actor="t", territory=GOSB, skip_invalid=True)
    assert report.written and len(report.created) == 351
    assert gc.get_freeze_count() == 0
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not a workbook")
    with pytest.raises(ListingsFileError):
        import_listings(repo, broken, actor="t", territory=GOSB)
    assert gc.get_freeze_count() == 0


def test_a_stale_listing_in_a_later_batch_writes_nothing(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stored rows are read a batch at a time; a stale one found late still rolls all back."""
    monkeypatch.setattr(store, "BATCH", 2)
    (pid,) = repo.upsert_premises_by_ref([make_premises(external_ref="S-9")], actor="t").created
    version = repo.catalogue_version()
    items = [make_premises(PLACES[k], external_ref=f"S-{k}") for k in range(5)]
    items.append(make_premises(external_ref="S-9", surface_m2=999.0))
    with pytest.raises(StaleVersionError):
        repo.upsert_premises_by_ref(items, actor="t", expected_versions={"S-9": 0})
    assert repo.counts()["premises"] == 1
    assert repo.catalogue_version() == version
    assert repo.get_premises(pid).surface_m2 == 400.0


def test_a_reimport_keeps_stored_fields_chunk_by_chunk(
    repo: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file without a status column keeps each stored status, across validation chunks."""
    monkeypatch.setattr(importer, "VALIDATION_CHUNK", 2)
    monkeypatch.setattr(store, "BATCH", 2)
    stored = repo.upsert_premises_by_ref(
        [make_premises(PLACES[k], external_ref=f"C-{k}") for k in range(5)], actor="t"
    ).created
    repo.set_status(stored[3], "let", expected_version=1, actor="owner")
    lines = ["ref,title,kind,surface_m2,tenure,rent_eur_m2_year,lon,lat"]
    lines += [
        f"C-{k},Local C-{k},workshop,{500 + k},rent,110,{PLACES[k][0]},{PLACES[k][1]}"
        for k in range(6)
    ]
    path = tmp_path / "again.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_listings(repo, path, actor="t", territory=GOSB)
    assert report.written and report.updated == stored and len(report.created) == 1
    assert [repo.get_premises(pid).status for pid in stored] == [
        "available",
        "available",
        "available",
        "let",
        "available",
    ]
    assert [repo.get_premises(pid).surface_m2 for pid in stored] == [500, 501, 502, 503, 504]


def test_an_undated_listing_is_dated_by_its_import(repo: Repository, tmp_path: Path) -> None:
    """Without a freshness date a listing would never be flagged nor hidden for want of
    confirmation: the import dates it; a date given in the file is kept."""
    given = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
    lines = ["ref,title,kind,surface_m2,tenure,rent_eur_m2_year,lon,lat,last_verified_at"]
    lines += [
        f"D-0,Local daté,workshop,500,rent,110,{PLACES[0][0]},{PLACES[0][1]},{given.isoformat()}",
        f"D-1,Local sans date,workshop,600,rent,110,{PLACES[1][0]},{PLACES[1][1]},",
    ]
    path = tmp_path / "dates.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    at = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    report = import_listings(repo, path, actor="t", territory=GOSB, verified_at=at)
    assert report.ok and len(report.created) == 2
    dated, undated = (repo.get_premises(pid) for pid in report.created)
    assert (dated.last_verified_at, undated.last_verified_at) == (given, at)
    # The audit row of the creation says the same as the stored listing.
    assert _created_audits(repo)[undated.id]["last_verified_at"] == "2026-12-01T09:30:00Z"
    # By default the date is the time of the import.
    before = datetime.now(UTC)
    again = tmp_path / "again.csv"
    again.write_text(lines[0] + "\n" + lines[2].replace("D-1", "D-2") + "\n", encoding="utf-8")
    [pid] = import_listings(repo, again, actor="t", territory=GOSB).created
    stamped = repo.get_premises(pid).last_verified_at
    assert stamped is not None and before <= stamped <= datetime.now(UTC)


def test_a_reimport_never_leaves_a_dated_listing_undated(repo: Repository, tmp_path: Path) -> None:
    """Given again with its date blank, a dated listing is dated by the import (a blank
    would otherwise clear it for ever); an undated one given again undated is unchanged."""
    undated, dated = repo.upsert_premises_by_ref(
        [make_premises(PLACES[k], external_ref=f"E-{k}") for k in range(2)], actor="t"
    ).created
    confirmed = datetime(2026, 10, 1, tzinfo=UTC)
    with repo.begin() as conn:
        store.confirm_premises(conn, dated, at=confirmed, actor="owner")
    assert repo.get_premises(undated).last_verified_at is None
    lines = ["ref,title,kind,surface_m2,tenure,rent_eur_m2_year,lon,lat,last_verified_at"]
    lines += [
        f"E-{k},Local d'activité,workshop,400,rent,110,{PLACES[k][0]},{PLACES[k][1]},"
        for k in range(2)
    ]
    path = tmp_path / "blank.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    at = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    report = import_listings(repo, path, actor="t", territory=GOSB, verified_at=at)
    assert report.ok, report.errors
    assert repo.get_premises(undated).last_verified_at is None
    assert repo.get_premises(dated).last_verified_at == at
