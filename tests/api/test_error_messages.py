"""Auth and write errors speak French by default and English on request, and say what to do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.auth import issue_key
from api.main import create_app
from geodata.storage import accounts
from tests.api.conftest import make_settings

EN = {"Accept-Language": "en-GB,en;q=0.9"}


def _sample(**extra: Any) -> dict[str, Any]:
    return {
        "title": "Atelier",
        "kind": "workshop",
        "surface_m2": 300,
        "tenure": "rent",
        "rent_eur_m2_year": 100,
        "lon": 2.3920,
        "lat": 48.7870,
        **extra,
    }


@pytest.fixture(scope="module")
def app_and_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict]]:
    path: Path = tmp_path_factory.mktemp("messages") / "implanter.db"
    with TestClient(create_app(make_settings(path, demo=False))) as client:
        keys = {}
        with client.app.state.repo.begin() as conn:  # type: ignore[attr-defined]
            for name in ("sci-orly", "autre-dev"):
                account = accounts.create_account(
                    conn, name=name, email=f"{name}@exemple.invalid", role="developer"
                )
                keys[name] = {"Authorization": f"Bearer {issue_key(conn, account.id).key}"}
        yield client, keys


def _both(client: TestClient, method: str, url: str, **kw: Any) -> tuple[dict, dict]:
    """The problem in French (no language asked) and in English (Accept-Language)."""
    headers = kw.pop("headers", {})
    fr = client.request(method, url, headers=headers, **kw)
    en = client.request(method, url, headers={**headers, **EN}, **kw)
    assert fr.status_code == en.status_code, (fr.text, en.text)
    for response in (fr, en):
        assert response.headers["content-type"].startswith("application/problem+json")
    return fr.json(), en.json()


def test_401_without_a_key_or_with_a_bad_one(app_and_keys: Any) -> None:
    client, _ = app_and_keys
    fr, en = _both(client, "POST", "/premises", json=_sample())
    assert fr["status"] == 401 and fr["title"] == "Authentification requise"
    assert "cette route demande une clé d'API" in fr["detail"] and "/login" in fr["detail"]
    assert en["title"] == "Authentication required" and "needs an API key" in en["detail"]
    bad = {"Authorization": "Bearer imp_nope"}
    fr, en = _both(client, "GET", "/me", headers=bad)
    assert "inconnue, révoquée" in fr["detail"] and fr["errors"][0]["field"] == "Authorization"
    assert "unknown, revoked" in en["detail"]


def test_403_on_another_developers_listing(app_and_keys: Any) -> None:
    client, keys = app_and_keys
    created = client.post("/premises", json=_sample(), headers=keys["sci-orly"]).json()
    headers = {**keys["autre-dev"], "If-Match": f'"{created["version"]}"'}
    fr, en = _both(
        client, "PATCH", f"/premises/{created['id']}", json={"title": "x"}, headers=headers
    )
    assert fr["title"] == "Accès refusé" and "ne peut pas modifier cette annonce" in fr["detail"]
    assert en["title"] == "Forbidden" and "may not change this listing" in en["detail"]


def test_404_409_412_428(app_and_keys: Any) -> None:
    client, keys = app_and_keys
    dev = keys["sci-orly"]
    fr, en = _both(client, "GET", "/premises/999999")
    assert "n'existe pas" in fr["detail"] and "does not exist" in en["detail"]
    client.post("/premises", json=_sample(external_ref="REF-409"), headers=dev)
    fr, en = _both(client, "POST", "/premises", json=_sample(external_ref="REF-409"), headers=dev)
    assert fr["status"] == 409 and fr["title"] == "Conflit"
    assert fr["detail"].startswith("external_ref : 'REF-409' déjà utilisée")
    assert en["title"] == "Conflict" and "REF-409" in en["detail"]
    created = client.post("/premises", json=_sample(), headers=dev).json()
    url = f"/premises/{created['id']}"
    client.patch(url, json={"title": "v2"}, headers={**dev, "If-Match": '"1"'})
    stale = {**dev, "If-Match": '"1"'}
    fr, en = _both(client, "PATCH", url, json={"title": "v3"}, headers=stale)
    assert fr["status"] == 412 and fr["title"] == "Version périmée"
    assert f"Relisez-la (GET {url}) ou relisez la liste" in fr["detail"]
    assert 'If-Match: "2"' in fr["detail"] and fr["errors"][0]["field"] == "If-Match"
    assert f"Re-read it (GET {url}) or re-read the listing" in en["detail"]
    # The status route points back at the listing itself.
    fr, _ = _both(client, "POST", f"{url}/status", json={"status": "let"}, headers=stale)
    assert f"(GET {url})" in fr["detail"]
    fr, en = _both(client, "PATCH", url, json={"title": "v3"}, headers=dev)
    assert fr["status"] == 428 and fr["title"] == "Version requise"
    assert "renvoyez son ETag dans l'en-tête If-Match" in fr["detail"]
    assert "send its ETag back in the If-Match header" in en["detail"]


def test_405_413_414(app_and_keys: Any) -> None:
    client, keys = app_and_keys
    fr, en = _both(client, "PUT", "/premises")
    assert "n'est pas acceptée" in fr["detail"] and "is not allowed" in en["detail"]
    fr, en = _both(client, "GET", "/premises?q=" + "x" * 5000)
    assert fr["status"] == 414 and "l'adresse fait" in fr["detail"]
    assert "the URL is" in en["detail"]
    big = b"[" + b"1," * 600_000 + b"1]"
    fr, en = _both(
        client,
        "POST",
        "/premises",
        content=big,
        headers={**keys["sci-orly"], "Content-Type": "application/json"},
    )
    assert fr["status"] == 413 and "dépasse" in fr["detail"] and "exceeds" in en["detail"]
