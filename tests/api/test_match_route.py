"""``POST /match``: a stateless match for anyone, on the process's current match index."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.freshness import hide_before
from api.json_response import encode_json
from api.main import create_app
from api.routes.match import (
    ANONYMOUS,
    MatchResponse,
    match_body,
    rank_for_need,
    request_language,
)
from geodata.schemas import CONTACT_FIELDS, OWNER_FIELDS, NeedIn
from geodata.storage import Repository
from matcher.weights import SURFACE_TOLERANCE
from tests.geodata.test_storage import RUNGIS, make_premises

NEED: dict[str, Any] = {
    "surface_min_m2": 500,
    "surface_max_m2": 1500,
    "uses": ["logistics"],
    "communes": ["Rungis", "94073"],
}


def test_an_anonymous_match_ranks_public_listings_with_reasons(client: TestClient) -> None:
    response = client.post("/match", params={"k": 5}, json=NEED)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["lang"] == "fr"
    results = body["results"]
    assert [r["rank"] for r in results] == [1, 2, 3, 4, 5]
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    # Location is a preferred criterion here: the best listing is in a wanted commune, and
    # a listing is said to be in the communes exactly when it is.
    assert results[0]["premises"]["commune_insee"] in ("94065", "94073")
    for r in results:
        listing = r["premises"]
        wanted = listing["commune_insee"] in ("94065", "94073")
        # Surface is a required criterion: the listing, or a lot of a divisible one, fits
        # 500-1,500 m² within the 10 % tolerance (a divisible 1,950 m² offers 1,000 m² lots).
        smallest = (listing["min_lot_m2"] or 0) if listing["divisible"] else listing["surface_m2"]
        assert listing["surface_m2"] >= 500 * (1 - SURFACE_TOLERANCE)
        assert smallest <= 1500 * (1 + SURFACE_TOLERANCE)
        assert not OWNER_FIELDS & listing.keys()
        if not listing["contact_public"]:
            assert all(listing[f] is None for f in CONTACT_FIELDS)
        assert set(r["utilities"]) >= {"surface", "use", "location"}
        assert all(0 <= u <= 1 for u in r["utilities"].values())
        codes = {(x["criterion"], x["code"]) for x in r["reasons"]}
        assert (("location", "in_communes") in codes) == wanted, (listing["commune_insee"], codes)
        assert all(x["text"] for x in r["reasons"])
        assert 0 <= r["completeness"] <= 1
        assert r["verified_age_days"] is None or r["verified_age_days"] >= 0
    d = body["diagnostics"]
    assert d["n_matching"] >= len(results)
    assert d["n_listings"] >= d["n_matchable"] >= d["n_matching"]
    assert body["catalogue_version"] == client.get("/health").json()["catalogue_version"]


def test_the_reasons_follow_accept_language_or_lang(client: TestClient) -> None:
    def first_text(**kwargs: Any) -> tuple[str, str]:
        body = client.post("/match", json=NEED, **kwargs).json()
        return body["lang"], body["results"][0]["reasons"][0]["text"]

    lang_fr, text_fr = first_text()
    lang_en, text_en = first_text(headers={"Accept-Language": "en-GB,en;q=0.9,fr;q=0.5"})
    lang_q, text_q = first_text(headers={"Accept-Language": "en"}, params={"lang": "fr"})
    assert (lang_fr, lang_en, lang_q) == ("fr", "en", "fr")
    assert text_en != text_fr == text_q
    assert "you need" in text_en and "votre besoin" in text_fr


def test_request_language_reads_quality_values() -> None:
    assert request_language(None, None) == "fr"
    assert request_language(None, "de-DE, en;q=0.4, fr;q=0.3") == "en"
    assert request_language(None, "en;q=0, fr;q=0.1") == "fr"
    assert request_language(None, "en;q=bad, fr") == "fr"


def test_a_narrow_need_gets_diagnostics_and_relaxations(client: TestClient) -> None:
    need = {**NEED, "surface_min_m2": 1480, "surface_max_m2": 1500, "communes": ["Rungis"]}
    body = client.post("/match", json=need, params={"k": 20}).json()
    assert body["diagnostics"]["n_matching"] < 20
    assert body["diagnostics"]["excluded"]["surface"] > 0
    assert body["relaxations"], "a need matching fewer than k listings gets suggestions"
    for r in body["relaxations"]:
        assert r["brings"] > 0 and r["text"] and r["need_update"]


def test_a_bad_need_names_its_field(client: TestClient) -> None:
    response = client.post("/match", json={**NEED, "surface_min_m2": 5000})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "surface_min_m2"
    response = client.post("/match", json={**NEED, "communes": ["Lyon"]})
    assert response.status_code == 422
    assert "Lyon" in response.json()["detail"]
    assert client.post("/match", json=NEED, params={"k": 0}).status_code == 422
    assert client.post("/match", json=NEED, params={"k": 51}).status_code == 422


def test_a_listing_written_to_the_database_is_matched_at_the_next_request(
    tmp_path: Path, settings_for: Any
) -> None:
    settings = settings_for(tmp_path / "implanter.db", demo=False)
    need = {"surface_min_m2": 70000, "surface_max_m2": 80000, "communes": ["94065"]}
    with TestClient(create_app(settings)) as client:
        assert client.post("/match", json=need).json()["results"] == []
        repo = Repository(settings.database.url)
        item = repo.add_premises(
            make_premises(RUNGIS, surface_m2=75000.0, contact_email="x@y.fr"), actor="t"
        )
        body = client.post("/match", json=need).json()
        assert [r["premises"]["id"] for r in body["results"]] == [item.id]
        assert body["results"][0]["premises"]["contact_email"] is None
        assert body["catalogue_version"] == repo.catalogue_version()
        repo.delete_premises(item.id, expected_version=1, actor="t")
        assert client.post("/match", json=need).json()["results"] == []
        holder = client.app.state.match_index  # type: ignore[attr-defined]
        assert (holder.refreshes, holder.rebuilds) == (2, 0)


def test_the_answer_is_the_match_response_model_serialised(client: TestClient) -> None:
    """The route serialises its answer itself (listings from a cache): exactly what the
    documented model gives, for both languages and with relaxations."""
    app: Any = client.app
    narrow = {**NEED, "surface_min_m2": 1480, "surface_max_m2": 1500, "communes": ["Rungis"]}
    for need, lang, k in ((NEED, "fr", 10), (narrow, "en", 20), (NEED, "en", 50)):
        for _ in range(2):  # built, then from the cache
            body = client.post("/match", json=need, params={"k": k, "lang": lang}).json()
            parsed = NeedIn.model_validate(
                {**need, "company_name": ANONYMOUS}, context={"territory": app.state.territory}
            )
            expected = rank_for_need(
                app.state.repo,
                app.state.match_index,
                parsed,
                k=k,
                lang=lang,
                verified_since=hide_before(app.state.clock(), app.state.settings.freshness),
                now=app.state.clock(),
            )
            # Ages count from "now", which moved between the two calls.
            want = expected.model_dump(mode="json", by_alias=True)
            for r in want["results"]:
                r["verified_age_days"] = None
            for r in body["results"]:
                r["verified_age_days"] = None
            assert body == want
            assert MatchResponse.model_validate(body).results


def test_the_answer_splices_the_cached_listings_into_the_same_bytes(client: TestClient) -> None:
    """The body is written with each listing's JSON as encoded in the cache: the bytes the
    whole answer encoded at once gives, with results, with relaxations and with none."""
    app: Any = client.app
    narrow = {**NEED, "surface_min_m2": 1480, "surface_max_m2": 1500, "communes": ["Rungis"]}
    nothing = {**NEED, "surface_min_m2": 90000, "surface_max_m2": 95000}
    sizes = []
    for need, lang, k in ((NEED, "fr", 10), (narrow, "en", 20), (nothing, "fr", 5)):
        parsed = NeedIn.model_validate(
            {**need, "company_name": ANONYMOUS}, context={"territory": app.state.territory}
        )
        for _ in range(2):  # built, then from the cache
            answer = match_body(
                app.state, app.state.repo, parsed, k=k, lang=lang, verified_since=None, now=None
            )
            assert answer.encode() == encode_json(answer.body)
        sizes.append(len(answer.body["results"]))
    assert sizes[0] == 10 and sizes[2] == 0


def test_a_listing_edited_is_matched_in_its_new_version(tmp_path: Path, settings_for: Any) -> None:
    settings = settings_for(tmp_path / "implanter.db", demo=False)
    need = {"surface_min_m2": 70000, "surface_max_m2": 80000, "communes": ["94065"]}
    with TestClient(create_app(settings)) as client:
        repo = Repository(settings.database.url)
        item = repo.add_premises(make_premises(RUNGIS, surface_m2=75000.0), actor="t")
        first = client.post("/match", json=need).json()["results"][0]["premises"]
        repo.patch_premises(item.id, {"title": "Nouveau titre"}, expected_version=1, actor="t")
        again = client.post("/match", json=need).json()["results"][0]["premises"]
        assert (first["version"], again["version"]) == (1, 2)
        assert again["title"] == "Nouveau titre" != first["title"]


def test_a_match_reads_no_listing_row_when_their_json_is_cached(
    tmp_path: Path, settings_for: Any
) -> None:
    """The index holds each listing's version, so listings whose public JSON is cached at
    that version are not read again; an edited one (new version) is read again."""
    settings = settings_for(tmp_path / "implanter.db", demo=False)
    need = {"surface_min_m2": 70000, "surface_max_m2": 80000, "communes": ["94065"]}
    with TestClient(create_app(settings)) as client:
        repo = Repository(settings.database.url)
        item = repo.add_premises(make_premises(RUNGIS, surface_m2=75000.0), actor="t")
        statements: list[str] = []

        def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            statements.append(statement)

        engine = client.app.state.repo.engine  # type: ignore[attr-defined]
        sa.event.listen(engine, "before_cursor_execute", seen)
        try:
            reads = []
            for _ in range(3):
                statements.clear()
                assert client.post("/match", json=need).json()["results"][0]["premises"]["id"]
                reads.append(sum("FROM premises" in s for s in statements))
            repo.patch_premises(item.id, {"title": "Nouveau"}, expected_version=1, actor="t")
            statements.clear()
            body = client.post("/match", json=need).json()
            edited = sum("FROM premises" in s and "WHERE premises.id IN" in s for s in statements)
        finally:
            sa.event.remove(engine, "before_cursor_execute", seen)
        # The first match builds the listing's JSON from its row; the next ones read no row.
        assert reads[0] >= 1
        assert reads[1:] == [0, 0]
        # The edit is read (the index's refresh, then the listing's new JSON).
        assert edited >= 1
        assert body["results"][0]["premises"]["title"] == "Nouveau"
        assert body["results"][0]["premises"]["version"] == 2


def test_matches_take_turns_on_the_engine_lock(client: TestClient) -> None:
    """A match waits while another ranking holds the engine (``ENGINE_LOCK``: concurrent
    numpy passes over a large index fought over the GIL), then answers as usual."""
    import threading

    from api.index_state import ENGINE_LOCK

    answers: list[int] = []
    with ENGINE_LOCK:
        waiting = threading.Thread(
            target=lambda: answers.append(client.post("/match", json=NEED).status_code)
        )
        waiting.start()
        waiting.join(timeout=1.0)
        assert waiting.is_alive() and answers == []  # blocked on the lock, not answered
    waiting.join()
    assert answers == [200]
