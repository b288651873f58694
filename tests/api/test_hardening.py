"""Errors, limits and headers, as an attacker would probe them (issue 8, section 6).

Every refusal is RFC 9457 problem+json naming the field, in the request's language; integers
are bounded before they reach the database; the Host header is never reflected; every
response carries the security headers and a request id; secrets never reach the log.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from api.main import create_app
from api.settings import HttpSettings, Settings
from geodata.schemas import PremisesCreate
from geodata.territory import default_territory
from tests.api.live_uvicorn import free_port, serving

ROOT = Path(__file__).resolve().parents[2]
HUGE = "9223372036854775808"  # 2**63: overflows SQLite's and PostgreSQL's bigint bindings


def _problem(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"] and body["detail"]
    if field is not None:
        assert field in {e["field"] for e in body.get("errors", [])}, body
    for leak in ("Traceback", 'File "', "sqlalchemy", "OverflowError"):
        assert leak not in response.text
    return body


# -- integers and floats are bounded before the database sees them -------------------------


@pytest.mark.parametrize(
    ("url", "field"),
    [
        (f"/premises?offset={HUGE}", "offset"),
        (f"/premises?limit={HUGE}", "limit"),
        (f"/premises/{HUGE}", "premises_id"),
        ("/premises/2147483648", "premises_id"),
        ("/premises/0", "premises_id"),
        (f"/?offset={HUGE}", "offset"),
        ("/premises?min_surface_m2=inf", "min_surface_m2"),
        ("/premises?max_surface_m2=nan", "max_surface_m2"),
    ],
)
def test_out_of_range_numbers_are_422_naming_the_field(
    client: TestClient, url: str, field: str
) -> None:
    _problem(client.get(url), 422, field)


@pytest.mark.parametrize("bbox", ["nan,nan,nan,nan", "-inf,48,2.5,49", "2,48,inf,49"])
def test_bbox_takes_finite_numbers_only(client: TestClient, bbox: str) -> None:
    _problem(client.get("/premises", params={"bbox": bbox}), 400, "bbox")


@pytest.mark.postgis
def test_integers_do_not_overflow_postgresql(pg_scratch: Any) -> None:
    with pg_scratch() as url:
        settings = Settings()
        settings.database.url = url
        settings.api.demo_on_first_run = False
        with TestClient(create_app(settings)) as pg:
            for path in (f"/premises/{HUGE}", "/premises/2147483648", f"/premises?offset={HUGE}"):
                assert 400 <= pg.get(path).status_code < 500, path


# -- problem+json everywhere, in the request's language ------------------------------------


def test_unknown_route_is_404_in_french_by_default_and_english_on_request(
    client: TestClient,
) -> None:
    fr = _problem(client.get("/nulle-part"), 404)
    assert fr["title"] == "Introuvable" and "Aucune ressource" in fr["detail"]
    en = _problem(client.get("/nulle-part", headers={"Accept-Language": "en-GB,en;q=0.9"}), 404)
    assert en["title"] == "Not found" and "Nothing at /nulle-part" in en["detail"]
    assert _problem(client.get("/nulle-part?lang=en"), 404)["title"] == "Not found"
    missing = _problem(client.get("/premises/999999?lang=en"), 404, "id")
    assert "999999" in missing["detail"]


def test_wrong_method_is_405_with_allow(client: TestClient) -> None:
    response = client.put("/health")
    body = _problem(response, 405)
    allowed = {m.strip() for m in response.headers["allow"].split(",")}
    assert allowed == {"GET", "HEAD"}
    assert "PUT" in body["detail"]


@pytest.mark.parametrize(
    ("path", "methods"),
    [("/premises", {"GET", "HEAD", "POST"}), ("/premises/1", {"GET", "HEAD", "PATCH", "DELETE"})],
)
def test_405_allow_names_every_route_of_the_path(
    client: TestClient, path: str, methods: set[str]
) -> None:
    # One route per method on these paths: Starlette alone names only the first route's.
    response = client.put(path)
    _problem(response, 405)
    assert {m.strip() for m in response.headers["allow"].split(",")} == methods


def test_head_answers_wherever_get_does(client: TestClient) -> None:
    item = client.get("/premises", params={"limit": 1}).json()["items"][0]
    for url in ("/", "/health", "/premises?limit=3", f"/premises/{item['id']}", "/openapi.json"):
        get = client.get(url)
        head = client.head(url)
        assert head.status_code == get.status_code == 200, url
        assert head.content == b""
        assert head.headers["content-type"] == get.headers["content-type"]
        assert head.headers["content-length"] == get.headers["content-length"]


def test_if_none_match_gets_304_until_the_catalogue_changes(
    tmp_path: Path, settings_for: Callable[..., Settings]
) -> None:
    with TestClient(create_app(settings_for(tmp_path / "etag.db"))) as c:
        item = c.get("/premises", params={"limit": 1}).json()["items"][0]
        one = c.get(f"/premises/{item['id']}")
        etag = one.headers["etag"]
        again = c.get(f"/premises/{item['id']}", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag
        assert c.get(f"/premises/{item['id']}", headers={"If-None-Match": '"0"'}).status_code == 200

        page = c.get("/premises", params={"limit": 5})
        page_etag = page.headers["etag"]
        assert page_etag.startswith('W/"')
        cached = c.get("/premises", params={"limit": 5}, headers={"If-None-Match": page_etag})
        assert cached.status_code == 304
        other_query = c.get("/premises", params={"limit": 6}, headers={"If-None-Match": page_etag})
        assert other_query.status_code == 200
        c.app.state.repo.add_premises(  # type: ignore[attr-defined]
            PremisesCreate.model_validate(
                {
                    "external_ref": "ETAG-1",
                    "title": "Atelier neuf",
                    "kind": "workshop",
                    "surface_m2": 300,
                    "tenure": "rent",
                    "rent_eur_m2_year": 110,
                    "lon": 2.39,
                    "lat": 48.787,
                },
                context={"territory": default_territory()},
            ),
            actor="test",
        )
        changed = c.get("/premises", params={"limit": 5}, headers={"If-None-Match": page_etag})
        assert changed.status_code == 200 and changed.headers["etag"] != page_etag


# -- a test app with routes the real app doesn't have: a crash and a JSON body -------------


class _Echo(BaseModel):
    name: str
    surface_m2: float


@pytest.fixture(scope="module")
def probe_app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    settings = Settings()
    settings.database.url = f"sqlite:///{tmp_path_factory.mktemp('probe') / 'probe.db'}"
    settings.api.demo_on_first_run = False
    settings.http.max_body_bytes = 2000
    app = create_app(settings)

    @app.get("/test-only/boom")
    def boom() -> None:
        msg = "secret-internal-detail at /srv/app/db.py"
        raise RuntimeError(msg)

    @app.post("/test-only/echo")
    def echo(body: _Echo) -> _Echo:
        return body

    return app


@pytest.fixture(scope="module")
def probe(probe_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(probe_app) as c:
        yield c


def test_a_crash_is_a_500_problem_without_stack_trace(
    probe: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        response = probe.get("/test-only/boom", headers={"X-Request-ID": "crash-0001"})
    body = _problem(response, 500)
    assert body["title"] == "Erreur interne"
    assert "secret-internal-detail" not in response.text and "RuntimeError" not in response.text
    assert body["request_id"] == response.headers["x-request-id"] == "crash-0001"
    assert "content-security-policy" in response.headers
    # The traceback goes to the log, with the request id, for the operator.
    assert "secret-internal-detail" in caplog.text and "crash-0001" in caplog.text


def test_json_bodies_malformed_wrong_type_or_too_large(probe: TestClient) -> None:
    ok = probe.post("/test-only/echo", json={"name": "a", "surface_m2": 3})
    assert ok.status_code == 200
    malformed = probe.post(
        "/test-only/echo",
        content=b'{"name": "a", "surface_m2": ',
        headers={"Content-Type": "application/json"},
    )
    assert "JSON" in _problem(malformed, 400, "body")["detail"]
    wrong_type = probe.post(
        "/test-only/echo", content=b"name=a", headers={"Content-Type": "text/plain"}
    )
    _problem(wrong_type, 415, "Content-Type")
    too_large = probe.post("/test-only/echo", json={"name": "x" * 3000, "surface_m2": 1})
    assert "2000" in _problem(too_large, 413, "body")["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit counts what arrives
        yield b'{"name": "'
        for _ in range(10):
            yield b"x" * 500
        yield b'", "surface_m2": 1}'

    streamed = probe.post(
        "/test-only/echo", content=chunks(), headers={"Content-Type": "application/json"}
    )
    _problem(streamed, 413, "body")
    invalid = probe.post("/test-only/echo?lang=en", json={"name": "a", "surface_m2": "big"})
    assert _problem(invalid, 422, "surface_m2")["title"] == "Invalid data"
    invalid_fr = probe.post("/test-only/echo", json={"name": "a", "surface_m2": "big"})
    body = _problem(invalid_fr, 422, "surface_m2")
    assert body["title"] == "Données invalides" and "Corrigez" in body["detail"]


def test_too_long_url_is_414(client: TestClient) -> None:
    _problem(client.get("/premises?commune=" + "x" * 5000), 414, "url")


def test_live_uvicorn_answers_414_and_hides_its_name(demo_db: Path, client: TestClient) -> None:
    """A real uvicorn, configured as ``implanter serve``: never a reset connection."""
    settings = Settings()
    settings.database.url = f"sqlite:///{demo_db}"
    with serving(create_app(settings)) as url:
        address = urlsplit(url)
        for length in (5_000, 20_000, 100_000):
            conn = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
            conn.request("GET", "/premises?commune=" + "x" * length)
            response = conn.getresponse()
            body = json.loads(response.read())
            conn.close()
            assert response.status == 414, length
            assert response.getheader("content-type") == "application/problem+json"
            assert body["errors"][0]["field"] == "url"
            assert response.getheader("server") is None
        conn = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        conn.request("GET", "/health")
        ok = conn.getresponse()
        ok.read()
        conn.close()
        assert ok.status == 200 and ok.getheader("server") is None


# -- hosts, links, headers, CORS -----------------------------------------------------------


def test_host_header_is_never_reflected_in_links(client: TestClient) -> None:
    response = client.get("/premises", params={"limit": 2}, headers={"Host": "evil.example"})
    assert response.status_code == 200
    assert "evil.example" not in response.text
    hrefs = {link["rel"]: link["href"] for link in response.json()["links"]}
    assert hrefs["next"].startswith("/premises?")


def test_base_url_and_trusted_hosts(tmp_path: Path, settings_for: Callable[..., Settings]) -> None:
    settings = settings_for(tmp_path / "hosts.db")
    settings.http.base_url = "https://implanter.example.org/"
    settings.http.trusted_hosts = ["implanter.example.org", "*.implanter.example.org"]
    with TestClient(create_app(settings), base_url="https://implanter.example.org") as c:
        links = c.get("/premises", params={"limit": 2}).json()["links"]
        assert all(
            link["href"].startswith("https://implanter.example.org/premises?") for link in links
        )
        assert c.get("/health", headers={"Host": "api.implanter.example.org"}).status_code == 200
        refused = c.get("/health", headers={"Host": "evil.example"})
        assert "evil.example" in _problem(refused, 400, "Host")["detail"]


def _assert_security_headers(response: Any) -> None:
    h = response.headers
    assert "frame-ancestors 'none'" in h["content-security-policy"]
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"]
    assert h["x-request-id"]
    assert "server" not in h


def test_security_headers_and_cache_policy_on_every_response(client: TestClient) -> None:
    item_id = client.get("/premises", params={"limit": 1}).json()["items"][0]["id"]
    public = ["/", "/health", "/premises", f"/premises/{item_id}", "/openapi.json", "/docs"]
    for url in public:
        response = client.get(url)
        assert response.status_code == 200, url
        _assert_security_headers(response)
        assert response.headers["cache-control"].startswith("public"), url
        # A request carrying credentials may get a private answer: never stored.
        private = client.get(url, headers={"Authorization": "Bearer k", "Cookie": "s=1"})
        assert private.headers["cache-control"] == "no-store", url
    refused = [
        client.get("/nulle-part"),
        client.put("/health"),
        client.get("/premises?kind=castle"),
        client.get("/premises?commune=" + "x" * 5000),
    ]
    for response in refused:
        _assert_security_headers(response)
        assert response.headers["cache-control"] == "no-store"


def test_request_id_taken_only_when_well_formed(client: TestClient) -> None:
    given = client.get("/health", headers={"X-Request-ID": "abc-123.4"})
    assert given.headers["x-request-id"] == "abc-123.4"
    for bad in ("a b", "x" * 200, "<script>"):
        response = client.get("/health", headers={"X-Request-ID": bad})
        assert response.headers["x-request-id"] != bad
        assert len(response.headers["x-request-id"]) == 32


def test_cors_is_off_by_default_and_configurable(
    tmp_path: Path, client: TestClient, settings_for: Callable[..., Settings]
) -> None:
    preflight = {
        "Origin": "https://partner.example",
        "Access-Control-Request-Method": "GET",
    }
    off = client.options("/premises", headers=preflight)
    assert "access-control-allow-origin" not in off.headers
    plain = client.get("/health", headers={"Origin": "https://partner.example"})
    assert "access-control-allow-origin" not in plain.headers
    settings = settings_for(tmp_path / "cors.db")
    settings.http.cors_origins = ["https://partner.example"]
    with TestClient(create_app(settings)) as c:
        on = c.options("/premises", headers=preflight)
        assert on.status_code == 200
        assert on.headers["access-control-allow-origin"] == "https://partner.example"
        other = c.options("/premises", headers={**preflight, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


# -- logs ----------------------------------------------------------------------------------


def test_refusals_are_logged_with_request_id_and_no_secret(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    secrets = ["sk-live-SECRET1", "SECRET2-cookie", "SECRET3-pass", "SECRET4-key"]
    with caplog.at_level(logging.DEBUG):
        refused = client.get(
            f"/premises?kind=castle&password={secrets[2]}&api_key={secrets[3]}",
            headers={
                "Authorization": f"Bearer {secrets[0]}",
                "Cookie": f"session={secrets[1]}",
                "X-Request-ID": "probe-42",
            },
        )
        client.get(f"/nulle-part?token={secrets[3]}", headers={"Authorization": secrets[0]})
    # The bearer key is unknown: refused with 401 before the bad ``kind`` is looked at.
    assert refused.status_code == 401
    # The server's records (the test client logs its own requests: not the server's log).
    server = [r for r in caplog.records if not r.name.startswith("httpx")]
    refusals = [r for r in server if r.name == "api.access" and "probe-42" in r.getMessage()]
    assert refusals and "401" in refusals[0].getMessage()
    text = "\n".join(r.getMessage() for r in server)
    for secret in secrets:
        assert secret not in text


# -- the OpenAPI document ------------------------------------------------------------------


def test_openapi_documents_the_problem_responses(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert "Problem" in doc["components"]["schemas"]
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for code in ("400", "404", "414", "422", "500"):
                content = op["responses"][code]["content"]
                assert "application/problem+json" in content, (method, path, code)


def test_implanter_serve_hides_uvicorn_and_logs_no_secret(tmp_path: Path) -> None:
    """``implanter serve`` itself, as a process: no ``server`` header, 414, redacted log."""
    port = free_port()
    env = {
        **os.environ,
        "IMPLANTER_API__DEMO_ON_FIRST_RUN": "false",
        "PYTHONPATH": str(ROOT),
    }
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    command = [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "-d", url]
    with subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                    conn.request("GET", "/health")
                    health = conn.getresponse()
                    health.read()
                    break
                except OSError:
                    assert proc.poll() is None and time.monotonic() < deadline, "serve failed"
                    time.sleep(0.2)
            assert health.status == 200 and health.getheader("server") is None
            conn.request(
                "GET",
                "/premises?api_key=SECRET-KEY&commune=" + "x" * 20_000,
                headers={"Authorization": "Bearer SECRET-BEARER", "Cookie": "s=SECRET-COOKIE"},
            )
            long_url = conn.getresponse()
            long_url.read()
            conn.close()
            assert long_url.status == 414 and long_url.getheader("server") is None
        finally:
            proc.terminate()
            output, _ = proc.communicate(timeout=30)
    assert "GET /health -> 200" in output  # each request is logged...
    assert "refused GET /premises?api_key=%2A%2A%2A" in output and "-> 414" in output
    assert "SECRET" not in output  # ...without the key, the bearer token or the cookie


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"base_url": "implanter.example.org"}, "base_url"),
        ({"base_url": "https://x.example/?a=1"}, "base_url"),
        ({"trusted_hosts": []}, "trusted_hosts"),
        ({"max_url_length": 10**6}, "max_url_length"),
    ],
)
def test_http_settings_refuse_unusable_values(values: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        HttpSettings(**values)


def test_openapi_documents_auth_and_precondition_problems_of_new_routes(
    settings_for: Callable[..., Settings], tmp_path: Path
) -> None:
    """A write route added later is documented with 401/403/409/412/428 without extra work."""
    from fastapi import Depends, Header
    from fastapi.security import HTTPBearer

    app = create_app(settings_for(tmp_path / "doc.db", demo=False))

    @app.patch("/test-only/things/{thing_id}", dependencies=[Depends(HTTPBearer())])
    def patch_thing(thing_id: int, body: _Echo, if_match: str = Header()) -> _Echo:
        return body

    responses = app.openapi()["paths"]["/test-only/things/{thing_id}"]["patch"]["responses"]
    for code in ("401", "403", "409", "412", "413", "415", "428"):
        assert "application/problem+json" in responses[code]["content"], code
