"""Ranking models: staff routes, nothing changes the live ranking but a promotion, and the CLI.

The route tests run on SQLite and on PostGIS through the real app; the command-line test
runs ``implanter demo``, ``model simulate``, ``model train``, ``model list`` and
``model promote`` as processes on a SQLite file, then matches through the app on it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.auth import issue_key
from api.main import create_app
from geodata.schemas import PremisesCreate
from geodata.storage import Repository, accounts, models
from geodata.territory import default_territory
from matcher.weights import CRITERIA
from tests.api.conftest import backend_url, empty_settings
from tests.conftest import BACKENDS

ROLES = {"company": "pme-alpha", "developer": "sci-orly", "staff": "eco-gosb"}
NEED = {"surface_min_m2": 400, "surface_max_m2": 600, "communes": ["Vitry-sur-Seine"]}


@pytest.fixture(scope="module", params=BACKENDS)
def app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, Repository, dict[str, dict[str, str]]]]:
    with (
        backend_url(request, tmp_path_factory, "models") as url,
        TestClient(create_app(empty_settings(url))) as client,
    ):
        repo: Repository = client.app.state.repo  # type: ignore[attr-defined]
        headers: dict[str, dict[str, str]] = {"anonymous": {}}
        with repo.begin() as conn:
            for role, name in ROLES.items():
                account = accounts.create_account(
                    conn, name=name, email=f"{name}@exemple.invalid", role=role
                )
                headers[role] = {"Authorization": f"Bearer {issue_key(conn, account.id).key}"}
        territory = default_territory()
        # Two listings: one of the right surface outside Vitry, one a bit small but in
        # Vitry; the defaults put the second first, a surface-only model the first.
        for title, surface, lon, lat in (
            ("Bien dimensionné", 500, 2.3850, 48.8130),  # Ivry-sur-Seine
            ("Bien placé", 380, 2.3920, 48.7870),
        ):
            item = PremisesCreate.model_validate(
                {
                    "title": title,
                    "kind": "workshop",
                    "surface_m2": surface,
                    "tenure": "rent",
                    "rent_eur_m2_year": 100,
                    "lon": lon,
                    "lat": lat,
                },
                context={"territory": territory},
            )
            repo.add_premises(item, actor="fixture")
        yield client, repo, headers


def _match(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.post("/match", json=NEED, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _save(repo: Repository, weights: dict[str, float]) -> int:
    with repo.begin() as conn:
        return models.add_model(
            conn,
            weights=weights,
            metrics={"note": "test"},
            training_size=10,
            n_needs=2,
            source="test",
            actor="test",
        ).id


@pytest.mark.parametrize(
    ("who", "expected"),
    [("anonymous", 401), ("company", 403), ("developer", 403), ("staff", 200)],
)
def test_only_the_staff_manage_models(
    app: tuple[TestClient, Repository, dict[str, dict[str, str]]], who: str, expected: int
) -> None:
    client, repo, headers = app
    model_id = _save(repo, {"surface": 1.0})
    before = _match(client)["model"]
    for method, path in (
        ("GET", "/staff/models"),
        ("POST", f"/staff/models/{model_id}/promote"),
        ("DELETE", "/staff/models/promoted"),
    ):
        response = client.request(method, path, headers=headers[who])
        assert response.status_code == expected, (path, response.text)
        if expected >= 400:
            assert response.headers["content-type"].startswith("application/problem+json")
            assert _match(client)["model"] == before
    missing = client.post("/staff/models/999999/promote", headers=headers[who])
    assert missing.status_code == (404 if who == "staff" else expected)


def test_only_a_promotion_changes_the_live_ranking(
    app: tuple[TestClient, Repository, dict[str, dict[str, str]]],
) -> None:
    client, repo, headers = app
    client.delete("/staff/models/promoted", headers=headers["staff"])
    default = _match(client)
    assert default["model"] == {"version": None, "text": "pondération par défaut"}
    assert default["results"][0]["premises"]["title"] == "Bien placé"
    # Saving a model changes nothing.
    surface_only = _save(repo, {c: 1.0 if c == "surface" else 0.0 for c in CRITERIA})
    assert _match(client) == default
    promoted = client.post(f"/staff/models/{surface_only}/promote", headers=headers["staff"])
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["promoted"] is True and promoted.json()["promoted_by"] == "eco-gosb"
    ranked = _match(client, lang="en")
    assert ranked["model"] == {"version": surface_only, "text": f"learned model {surface_only}"}
    first = ranked["results"][0]
    assert first["premises"]["title"] == "Bien dimensionné"
    assert [r["score"] for r in ranked["results"]] == [
        pytest.approx(100 * r["utilities"]["surface"]) for r in ranked["results"]
    ]
    listing = client.get("/staff/models", headers=headers["staff"]).json()
    assert listing["promoted"] == surface_only
    assert [m["promoted"] for m in listing["items"]].count(True) == 1
    back = client.delete("/staff/models/promoted", headers=headers["staff"])
    assert back.status_code == 200 and back.json()["promoted"] is None
    assert _match(client) == default


# -- the command line ---------------------------------------------------------------------


def run(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "api.cli", *args, "--database-url", f"sqlite:///{db}"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)


def test_model_commands_train_list_and_promote(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    assert run(db, "init-db").returncode == 0
    refused = run(db, "model", "train")
    assert refused.returncode == 1 and "record outcomes first" in refused.stderr
    r = run(db, "demo", "--premises", "360", "--needs", "180")
    assert r.returncode == 0, r.stderr
    r = run(db, "model", "simulate", "--seed", "3")
    assert r.returncode == 0, r.stderr
    r = run(db, "model", "train", "--folds", "3")
    assert r.returncode == 0, r.stderr
    assert "model 1 saved, not promoted" in r.stdout and "ndcg@10" in r.stdout
    listed = run(db, "model", "list")
    assert listed.stdout.startswith("  1 ")  # not promoted
    assert run(db, "model", "promote", "2").returncode == 1
    assert run(db, "model", "promote", "deux").returncode == 1
    r = run(db, "model", "promote", "1")
    assert r.returncode == 0, r.stderr
    assert run(db, "model", "list").stdout.startswith("* 1 ")
    with TestClient(create_app(empty_settings(f"sqlite:///{db}"))) as client:
        assert _match(client)["model"]["version"] == 1
    assert run(db, "model", "promote", "default").returncode == 0
    with TestClient(create_app(empty_settings(f"sqlite:///{db}"))) as client:
        assert _match(client)["model"]["version"] is None


def test_demand_scores_with_the_promoted_model(
    app: tuple[TestClient, Repository, dict[str, dict[str, str]]],
) -> None:
    """GET /premises/{id}/demand scores the needs as their matches do: by the promoted model,
    and names it."""
    client, repo, headers = app
    wanted = {**NEED, "company_name": "Demande"}
    need = client.post("/needs", json=wanted, headers=headers["company"])
    assert need.status_code == 201, need.text
    need_id = need.json()["id"]
    surface_only = _save(repo, {c: 1.0 if c == "surface" else 0.0 for c in CRITERIA})
    try:
        for promoted in (None, surface_only):
            if promoted is None:
                client.delete("/staff/models/promoted", headers=headers["staff"])
            else:
                client.post(f"/staff/models/{promoted}/promote", headers=headers["staff"])
            matches = client.get(f"/needs/{need_id}/matches", headers=headers["staff"]).json()
            assert matches["model"]["version"] == promoted
            for item in matches["results"]:
                pid = item["premises"]["id"]
                demand = client.get(f"/premises/{pid}/demand", headers=headers["staff"])
                assert demand.status_code == 200, demand.text
                body = demand.json()
                [mine] = [n for n in body["needs"] if n["id"] == need_id]
                assert mine["score"] == pytest.approx(item["score"], abs=0.01)
                if promoted is not None:
                    assert mine["score"] == pytest.approx(
                        100 * item["utilities"]["surface"], abs=0.01
                    )
                assert body["model"] == matches["model"]
    finally:
        client.delete("/staff/models/promoted", headers=headers["staff"])


def test_cli_match_ranks_with_the_promoted_model_and_names_it(tmp_path: Path) -> None:
    """`implanter match` ranks as the API does: by the promoted model, on the quick path (the
    kept index read with sqlite3) as on the full one, and says which model ranked."""
    import json

    db = tmp_path / "match.db"
    assert run(db, "demo", "--premises", "80", "--needs", "2").returncode == 0
    need = tmp_path / "need.json"
    need.write_text(
        json.dumps({**NEED, "company_name": "Atelier", "max_rent_eur_m2_year": 90}),
        encoding="utf-8",
    )
    default = json.loads(run(db, "match", str(need), "--json").stdout)
    assert default["model"] == {"version": None, "text": "pondération par défaut"}
    repo = Repository(f"sqlite:///{db}")
    surface_only = _save(repo, {c: 1.0 if c == "surface" else 0.0 for c in CRITERIA})
    repo.dispose()
    assert run(db, "model", "promote", str(surface_only)).returncode == 0
    assert (tmp_path / "match.db.match-index").exists()  # the next match reads it quickly
    bodies = []
    for args in (("match", str(need)), ("match", "--need-id", "1")):
        r = run(db, *args, "--json", "--lang", "en")
        assert r.returncode == 0, r.stderr
        body = json.loads(r.stdout)
        assert body["model"] == {"version": surface_only, "text": f"learned model {surface_only}"}
        scores = [item["score"] for item in body["results"]]
        assert scores == [pytest.approx(100 * i["utilities"]["surface"]) for i in body["results"]]
        assert scores == sorted(scores, reverse=True)
        bodies.append(body)
    ranked = [(i["listing_id"], i["score"]) for i in bodies[0]["results"]]
    assert ranked != [(i["listing_id"], i["score"]) for i in default["results"]]
    text = run(db, "match", str(need)).stdout
    assert f"modèle appris n° {surface_only}" in text
