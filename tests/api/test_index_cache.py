"""The match index kept between runs of ``implanter match``: used only when nothing it was
built from has changed; any change, a replaced file or a damaged one means a rebuild."""

from __future__ import annotations

import json
import mmap
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from api.cli import app
from api.index_cache import quick_index
from api.matching import (
    build_index,
    cached_index,
    index_cache_key,
    index_cache_path,
)
from geodata.schemas import NeedIn
from geodata.storage import Repository, dispose_engine
from geodata.territory import Territory, load_territory
from matcher import MatchIndex, match
from matcher.index_file import load_index, save_index
from tests.geodata.test_storage import IVRY, ORLY, RUNGIS, THIAIS, VITRY, make_premises

VALLEE = Path(__file__).resolve().parents[1] / "data" / "territories" / "vallee-chimie"
NEED = NeedIn(
    company_name="Test",
    surface_min_m2=300,
    surface_max_m2=1500,
    uses=["logistics"],
    places=[{"label": "MIN", "lon": 2.355, "lat": 48.759}],
)


@pytest.fixture(scope="module")
def territory() -> Territory:
    return load_territory("gosb")


def _catalogue(url: str, n: int = 0) -> Repository:
    repo = Repository(url)
    repo.migrate()
    places = [RUNGIS, VITRY, ORLY, IVRY, THIAIS]
    repo.add_many_premises(
        [
            make_premises(
                places[i % len(places)],
                uses=["logistics"] if i % 2 else ["production"],
                surface_m2=300.0 + 97 * i,
                rent_eur_m2_year=None if i % 7 == 3 else 80.0 + i,
                title=f"Local n°{i} à l’essai",
            )
            for i in range(12 + n)
        ],
        actor="t",
    )
    return repo


def _assert_identical(a: MatchIndex, b: MatchIndex) -> None:
    """Every array bit for bit (dtype, values, NaN in the same places), and the rest."""
    assert a.cols.keys() == b.cols.keys()
    for name, arr in a.cols.items():
        other = b.cols[name]
        assert arr.dtype == other.dtype and arr.shape == other.shape, name
        if arr.dtype == object:
            assert arr.tolist() == other.tolist(), name
        else:
            assert arr.tobytes() == other.tobytes(), name
    assert (a.version, a.communes, a.commune_names) == (b.version, b.communes, b.commune_names)
    assert a._grid == b._grid and np.array_equal(a._grid_starts, b._grid_starts)
    for pa, pb in ((a.stations, b.stations), (a.interchanges, b.interchanges)):
        assert pa is not None and pb is not None
        assert pa.x.tobytes() == pb.x.tobytes() and pa.names.tolist() == pb.names.tolist()


def _owner(array: np.ndarray) -> object:
    """The object that holds an array's memory (a view's base, followed to the end)."""
    base: object = array
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    return base.obj if isinstance(base, memoryview) else base


def _same_matches(a: MatchIndex, b: MatchIndex) -> None:
    ra = match(a, NEED, k=10).to_dict()
    rb = match(b, NEED, k=10).to_dict()
    assert ra == rb
    assert ra["results"], "the need should match something"


def test_a_kept_index_is_bit_identical_to_a_fresh_build(
    sqlite_url: str, territory: Territory
) -> None:
    repo = _catalogue(sqlite_url)
    path = index_cache_path("auto", repo)
    assert path is not None and path.name == "implanter.db.match-index"
    built = cached_index(repo, territory, path)
    assert path.exists()
    kept = cached_index(repo, territory, path)
    assert kept is not built
    # Read from the file: its columns are views of the file's memory map.
    assert isinstance(_owner(kept.cols["surface_m2"]), mmap.mmap)
    assert not isinstance(_owner(built.cols["surface_m2"]), mmap.mmap)
    _assert_identical(kept, build_index(repo, territory))
    _same_matches(kept, build_index(repo, territory))
    # A change to a loaded index stays in the process (copy-on-write map).
    kept.update(int(kept.cols["id"][0]), {**make_premises(VITRY).model_dump(), "id": 0})
    _assert_identical(cached_index(repo, territory, path), build_index(repo, territory))


def test_a_write_to_the_catalogue_rebuilds(sqlite_url: str, territory: Territory) -> None:
    repo = _catalogue(sqlite_url)
    path = index_cache_path("auto", repo)
    first = cached_index(repo, territory, path)
    quick = quick_index(sqlite_url, "auto", territory)  # the key read with sqlite3 alone
    assert quick is not None
    _assert_identical(quick, first)
    [added] = repo.add_many_premises([make_premises(RUNGIS, uses=["logistics"])], actor="t")
    assert quick_index(sqlite_url, "auto", territory) is None
    again = cached_index(repo, territory, path)
    assert again.position(added.id) is not None and first.position(added.id) is None
    _assert_identical(again, build_index(repo, territory))
    # And a status change, which moves the version but not the number of listings.
    repo.set_status(added.id, "let", expected_version=1, actor="t")
    _assert_identical(cached_index(repo, territory, path), build_index(repo, territory))


def test_another_territory_rebuilds(sqlite_url: str, territory: Territory) -> None:
    repo = _catalogue(sqlite_url)
    path = index_cache_path("auto", repo)
    cached_index(repo, territory, path)
    other = load_territory(str(VALLEE))
    assert quick_index(sqlite_url, "auto", other) is None
    on_other = cached_index(repo, other, path)
    _assert_identical(on_other, build_index(repo, other))
    assert on_other.stations is not None
    assert set(on_other.stations.names.tolist()) != set(
        build_index(repo, territory).stations.names.tolist()  # type: ignore[union-attr]
    )


def test_a_replaced_database_file_rebuilds(tmp_path: Path, territory: Territory) -> None:
    """Another catalogue at the same version and with as many listings, copied over the file."""
    a, b = tmp_path / "a" / "catalogue.db", tmp_path / "b" / "catalogue.db"
    repo_a = _catalogue(f"sqlite:///{a}")
    repo_b = _catalogue(f"sqlite:///{b}")
    repo_b.patch_premises(1, {"surface_m2": 5000.0}, expected_version=1, actor="t")
    repo_a.patch_premises(2, {"rent_eur_m2_year": 60.0}, expected_version=1, actor="t")
    assert repo_a.catalogue_version() == repo_b.catalogue_version()
    path = index_cache_path("auto", repo_a)
    cached_index(repo_a, territory, path)
    for repo in (repo_a, repo_b):
        repo.dispose()
    for suffix in ("", "-wal", "-shm"):
        src = b.with_name(b.name + suffix)
        if src.exists():
            shutil.copyfile(src, a.with_name(a.name + suffix))
    dispose_engine(f"sqlite:///{a}")
    assert quick_index(f"sqlite:///{a}", "auto", territory) is None
    repo = Repository(f"sqlite:///{a}")
    index = cached_index(repo, territory, path)
    assert index.cols["surface_m2"][index.position(1)] == 5000.0
    _assert_identical(index, build_index(repo, territory))


@pytest.mark.parametrize("damage", ["truncated", "flipped", "empty", "garbage"])
def test_a_damaged_file_rebuilds(sqlite_url: str, territory: Territory, damage: str) -> None:
    repo = _catalogue(sqlite_url)
    path = index_cache_path("auto", repo)
    assert path is not None
    cached_index(repo, territory, path)
    data = bytearray(path.read_bytes())
    if damage == "truncated":
        data = data[: len(data) - 100]
    elif damage == "flipped":
        data[-200] ^= 0x10  # one bit of the arrays (the surfaces, the ids …)
    elif damage == "empty":
        data = bytearray()
    else:
        data = bytearray(b"IMPLIDX\x01" + (10**9).to_bytes(8, "little") + b"{}")
    path.write_bytes(bytes(data))
    with repo.connect() as conn:
        key = index_cache_key(conn, repo, territory)
    assert load_index(path, key) is None
    assert quick_index(sqlite_url, "auto", territory) is None
    index = cached_index(repo, territory, path)
    _assert_identical(index, build_index(repo, territory))
    assert load_index(path, key) is not None  # written anew


def test_a_key_that_differs_in_anything_is_not_trusted(tmp_path: Path) -> None:
    index = MatchIndex.from_columns(
        {
            "id": np.array([1, 2]),
            "kind": np.array(["workshop", "warehouse"], dtype=object),
            "status": np.array(["available", "available"], dtype=object),
            "tenure": np.array(["rent", "sale"], dtype=object),
            "surface_m2": np.array([100.0, 200.0]),
            "lon": np.array([2.35, 2.36]),
            "lat": np.array([48.75, 48.76]),
            "commune_insee": np.array(["94065", None], dtype=object),
            "title": np.array(["a", None], dtype=object),
        },
        stations=None,
        interchanges=None,
    )
    path = tmp_path / "x.match-index"
    key = {"catalogue": {"version": 3}, "schema": "0007"}
    assert save_index(index, path, key)
    loaded = load_index(path, key)
    assert loaded is not None and loaded.cols["title"].tolist() == ["a", None]
    assert loaded.stations is None
    assert load_index(path, {**key, "schema": "0008"}) is None
    assert load_index(path, {"catalogue": {"version": 4}, "schema": "0007"}) is None
    assert load_index(tmp_path / "missing", key) is None
    # An index changed since it was built is not kept (its rows wait for a re-sort).
    new_row = {"lon": 2.37, "lat": 48.77, "status": "available", "kind": "workshop"}
    index.update(3, {**new_row, "tenure": "rent", "surface_m2": 50.0})
    assert not save_index(index, tmp_path / "y.match-index", key)
    assert not (tmp_path / "y.match-index").exists()


def test_the_cache_can_be_turned_off_or_moved(
    sqlite_url: str, tmp_path: Path, territory: Territory, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _catalogue(sqlite_url)
    assert index_cache_path("off", repo) is None
    cached_index(repo, territory, None)
    assert quick_index(sqlite_url, "off", territory) is None
    folder = tmp_path / "cache"
    folder.mkdir()
    moved = index_cache_path(str(folder), repo)
    assert moved is not None and moved.parent == folder
    cached_index(repo, territory, moved)
    assert list(folder.glob("*.match-index")) == [moved]

    need = tmp_path / "need.json"
    need.write_text(json.dumps(NEED.model_dump(mode="json")), encoding="utf-8")
    beside = Path(sqlite_url.removeprefix("sqlite:///") + ".match-index")
    monkeypatch.setenv("IMPLANTER_DATABASE__INDEX_CACHE", "off")
    runner = CliRunner()
    off = runner.invoke(app, ["match", str(need), "-d", sqlite_url, "--json"])
    assert off.exit_code == 0, off.output
    assert not beside.exists()
    monkeypatch.delenv("IMPLANTER_DATABASE__INDEX_CACHE")
    first = runner.invoke(app, ["match", str(need), "-d", sqlite_url, "--json"])
    assert first.exit_code == 0, first.output
    assert beside.exists()
    mtime = os.stat(beside).st_mtime_ns
    second = runner.invoke(app, ["match", str(need), "-d", sqlite_url, "--json"])
    assert os.stat(beside).st_mtime_ns == mtime  # read, not written again

    def ranked(output: str) -> list[tuple[int, float]]:
        return [(r["listing_id"], r["score"]) for r in json.loads(output)["results"]]

    assert ranked(first.output) == ranked(second.output) == ranked(off.output)
