"""Record the examples of the OpenAPI document from real exchanges with the demo app.

Each JSON operation of :data:`CALLS` is sent once to the app (its lifespan entered, on a new
SQLite file holding the demo catalogue) by the role that may make it, with the request body
shown as its example; the answer (lists cut to their first two items) becomes the example of
its 2xx response, and the path and query values become the examples of its parameters. The
result, ``api/openapi_examples.json``, is attached to the document by
``api.openapi_examples.document_examples``; ``tests/api/test_openapi_examples.py`` checks that
every JSON operation has one and that each example still validates against its schema.

Run after changing a route's request or response model::

    python scripts/record_openapi_examples.py
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from pydantic import BaseModel

from api.auth import hash_password, issue_key
from api.main import create_app
from api.routes.contacts import ContactRequestIn
from api.routes.developments import AllocationBody
from api.routes.match import NEED_EXAMPLE as MATCH_NEED
from api.routes.needs import NEED_EXAMPLE as SAVED_NEED
from api.routes.outcomes import OutcomeIn
from api.routes.premises import StatusChange
from api.settings import Settings
from geodata.schemas import PremisesCreate, PremisesUpdate
from geodata.storage import accounts, models
from matcher.weights import DEFAULT_WEIGHTS

OUT = Path(__file__).resolve().parents[1] / "api" / "openapi_examples.json"


def _model_example(model: type[BaseModel]) -> dict[str, Any]:
    """The first example a request model declares (``json_schema_extra``), sent as is."""
    extra = model.model_config.get("json_schema_extra")
    assert isinstance(extra, dict), model
    return dict(extra["examples"][0])  # type: ignore[index,call-overload]


#: (role, method, path, body) of each recorded operation; ``{premises}``, ``{new}`` and
#: ``{need}`` are filled in as the calls go (a public listing, the one created, a saved need).
CALLS: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("anonymous", "GET", "/?f=json", None),
    ("anonymous", "GET", "/health", None),
    ("anonymous", "GET", "/premises?commune=Rungis&limit=2", None),
    ("anonymous", "GET", "/premises/{premises}", None),
    ("anonymous", "POST", "/match?limit=2", MATCH_NEED),
    ("anonymous", "GET", "/premises/{premises}/similar?limit=2", None),
    ("anonymous", "GET", "/naf/25.62B", None),
    ("anonymous", "GET", "/conformance", None),
    ("anonymous", "GET", "/collections", None),
    ("anonymous", "GET", "/collections/premises", None),
    ("anonymous", "GET", "/collections/premises/items?limit=1&bbox=2.30,48.72,2.40,48.80", None),
    ("anonymous", "GET", "/collections/communes/items?limit=1", None),
    ("anonymous", "GET", "/collections/premises/items/{premises}", None),
    ("staff", "GET", "/me", None),
    ("staff", "POST", "/premises", _model_example(PremisesCreate)),
    ("staff", "PATCH", "/premises/{new}", _model_example(PremisesUpdate)),
    ("staff", "POST", "/premises/{new}/status", _model_example(StatusChange)),
    ("staff", "POST", "/premises/{new}/confirm", None),
    ("staff", "GET", "/premises/{new}/history", None),
    ("staff", "DELETE", "/premises/{new}", None),
    ("staff", "GET", "/staff/stale?limit=2", None),
    ("developer", "GET", "/me/reminders?limit=2", None),
    ("company", "PUT", "/me/webhook", {"url": "https://example.org/hooks/implanter"}),
    ("company", "GET", "/me/webhook", None),
    ("company", "POST", "/needs", SAVED_NEED),
    # Not recorded: a listing that fits the saved need, so that it is notified.
    ("setup:staff", "POST", "/premises", None),
    ("company", "GET", "/me/notifications?limit=2", None),
    ("company", "POST", "/me/notifications/{notification}/read", None),
    ("staff", "GET", "/staff/deliveries?state=all&limit=2", None),
    ("staff", "POST", "/staff/deliveries/{notification}/retry", None),
    ("company", "GET", "/needs?limit=2", None),
    ("company", "GET", "/needs/{need}", None),
    ("company", "PATCH", "/needs/{need}", {"surface_max_m2": 1000, "alert_threshold": 80}),
    ("company", "GET", "/needs/{need}/history", None),
    ("company", "GET", "/needs/{need}/matches?limit=2", None),
    ("company", "POST", "/needs/{need}/outcomes", _model_example(OutcomeIn)),
    ("company", "GET", "/needs/{need}/outcomes", None),
    ("company", "GET", "/needs/{need}/outcomes/history", None),
    ("staff", "POST", "/staff/models/{model}/promote", None),
    ("staff", "GET", "/staff/models", None),
    ("staff", "DELETE", "/staff/models/promoted", None),
    ("staff", "GET", "/premises/{premises}/demand", None),
    ("company", "POST", "/premises/{premises}/contact-requests", _model_example(ContactRequestIn)),
    ("company", "GET", "/me/requests", None),
    ("company", "DELETE", "/needs/{need}", None),
    ("staff", "GET", "/analytics/hotspots", None),
    ("staff", "GET", "/analytics/unmet", None),
    ("staff", "GET", "/analytics/balance", None),
    ("staff", "GET", "/analytics/wanted", None),
    ("staff", "GET", "/analytics/time-to-let", None),
    ("staff", "GET", "/staff/developments", None),
    ("staff", "GET", "/staff/developments/{development}", None),
    (
        "staff",
        "POST",
        "/staff/developments/{development}/allocation",
        _model_example(AllocationBody),
    ),
    ("staff", "GET", "/staff/developments/{development}/allocation", None),
]


def _trim(value: Any, depth: int = 0) -> Any:
    """Lists cut to their first two items (a GeoJSON geometry's coordinates kept whole)."""
    if isinstance(value, dict):
        return {
            k: (v if k in ("coordinates", "bbox") else _trim(v, depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_trim(v, depth + 1) for v in value[:2]]
    return value


def _template(paths: dict[str, Any], method: str, path: str) -> tuple[str, dict[str, str]]:
    """The documented path a concrete path matches (the most literal one), its parameters."""
    found = []
    for template, item in paths.items():
        if method.lower() not in item:
            continue
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        if m := re.fullmatch(pattern, path):
            found.append((len(m.groupdict()), template, m.groupdict()))
    if not found:
        msg = f"no documented operation for {method} {path}"
        raise LookupError(msg)
    _, template, params = min(found)
    return template, params


def record() -> dict[str, Any]:
    examples: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings()
        settings.database.url = f"sqlite:///{Path(tmp) / 'implanter.db'}"
        settings.api.demo_on_first_run = True
        settings.delivery.in_app = False
        app = create_app(settings)
        paths = app.openapi()["paths"]
        with TestClient(app, base_url="http://127.0.0.1:8000") as client:
            keys = {}
            with app.state.repo.begin() as conn:
                for role in ("staff", "developer", "company"):
                    account = accounts.create_account(
                        conn, name=f"exemple-{role}", email=f"{role}@example.org", role=role
                    )
                    keys[role] = issue_key(conn, account.id, label="examples").key
                # A saved ranking model (the default weights), for the promotion routes.
                model = models.add_model(
                    conn,
                    weights=DEFAULT_WEIGHTS,
                    metrics={},
                    training_size=0,
                    n_needs=0,
                    source="example",
                    actor="examples",
                )
            first = client.get("/premises", params={"limit": 1, "commune": "Rungis"}).json()
            devs = client.get("/staff/developments", headers=_auth(keys["staff"])).json()
            ids = {
                "premises": str(first["items"][0]["id"]),
                "development": devs[0]["code"],
                "model": str(model.id),
            }
            vitry = client.get("/premises", params={"commune": "Vitry-sur-Seine", "limit": 1})
            near = vitry.json()["items"][0]
            fitting = {
                "title": "Atelier de 500 m² à Vitry-sur-Seine",
                "kind": "workshop",
                "uses": ["production"],
                "surface_m2": 500,
                "tenure": "rent",
                "rent_eur_m2_year": 100,
                "lon": near["lon"],
                "lat": near["lat"],
            }
            for who, method, raw, sent in CALLS:
                setup, _, role = who.rpartition(":")
                body = fitting if setup else sent
                path = raw.format(**ids)
                headers = _auth(keys[role]) if role != "anonymous" else {}
                headers["Accept-Language"] = "en"
                resource = "/".join(path.split("?")[0].split("/")[:3])
                if method != "GET" and resource.split("/")[1] in ("premises", "needs"):
                    etag = client.get(resource, headers=headers).headers.get("ETag")
                    if etag:
                        headers["If-Match"] = etag
                response = client.request(method, path, json=body, headers=headers)
                if response.status_code >= 300:
                    msg = f"{method} {path}: {response.status_code} {response.text[:500]}"
                    raise RuntimeError(msg)
                answer = response.json()
                if setup:
                    continue
                if raw.startswith("/me/notifications?"):
                    ids["notification"] = str(answer["items"][0]["id"])
                if method == "POST" and raw == "/premises":
                    ids["new"] = str(answer["id"])
                if method == "POST" and raw == "/needs":
                    ids["need"] = str(answer["id"])
                bare, _, query = path.partition("?")
                template, params = _template(paths, method, bare)
                op: dict[str, Any] = {"response": _trim(answer), "status": response.status_code}
                if body is not None:
                    op["request"] = body
                params.update(dict(p.split("=", 1) for p in query.split("&") if p))
                if params:
                    op["parameters"] = params
                examples[f"{method} {template}"] = op
            _record_forms(client, app, keys["staff"], examples)
            _record_photos(client, keys["staff"], ids["premises"], examples)
    return examples


#: The sign-in of the recording's password account (a throw-away database).
LOGIN = {"email": "signin@example.org", "password": "an example password"}
#: A one-row listing file for ``POST /imports`` (a dry run).
IMPORT_CSV = (
    "external_ref,title,kind,uses,surface_m2,tenure,rent_eur_m2_year,commune_insee,lon,lat\n"
    "DEMO-IMPORT-1,Atelier de 400 m² à Rungis,workshop,production,400,rent,110,94065,"
    "2.3560,48.7590\n"
)


def _record_forms(client: TestClient, app: Any, staff_key: str, examples: dict[str, Any]) -> None:
    """``POST /login`` (a form, after reading its CSRF token) and ``POST /imports``."""
    with app.state.repo.begin() as conn:
        accounts.create_account(
            conn,
            name="exemple-signin",
            email=LOGIN["email"],
            role="developer",
            password_hash=hash_password(LOGIN["password"]),
        )
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None, "no CSRF token in the sign-in form"
    form = {**LOGIN, "csrf_token": token.group(1), "next": "/"}
    signed = client.post("/login", data=form, headers={"Accept": "application/json"})
    if signed.status_code != 200:
        msg = f"POST /login: {signed.status_code} {signed.text[:500]}"
        raise RuntimeError(msg)
    placeholder = "the csrf_token of GET /login's form"
    examples["POST /login"] = {
        "request": {**form, "csrf_token": placeholder},
        "response": {**signed.json(), "csrf_token": "the token the session's writes carry"},
        "status": 200,
    }
    client.cookies.clear()  # the import below is the staff key's, not the session's
    report = client.post(
        "/imports?lang=en",
        files={"file": ("offers.csv", IMPORT_CSV.encode(), "text/csv")},
        data={"dry_run": "true"},
        headers=_auth(staff_key),
    )
    if report.status_code != 200:
        msg = f"POST /imports: {report.status_code} {report.text[:500]}"
        raise RuntimeError(msg)
    examples["POST /imports"] = {
        "parameters": {"lang": "en"},
        "response": _trim(report.json()),
        "status": 200,
    }


def _photo() -> bytes:
    """A small drawn photo (a JPEG), for ``POST /premises/{id}/photos``."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 480), "#c9d6df")
    draw = ImageDraw.Draw(image)
    draw.rectangle((80, 180, 560, 440), fill="#6b7b8c")
    draw.rectangle((260, 300, 380, 440), fill="#2f3e4e")
    out = io.BytesIO()
    image.save(out, "JPEG")
    return out.getvalue()


def _record_photos(
    client: TestClient, staff_key: str, premises_id: str, examples: dict[str, Any]
) -> None:
    """Add a photo to a listing (multipart), describe it again, delete it."""
    base = f"/premises/{premises_id}/photos"
    sent = {"alt": "Façade sur rue et porte sectionnelle", "alt_en": "Street front and door"}
    added = client.post(
        base,
        files={"file": ("facade.jpg", _photo(), "image/jpeg")},
        data=sent,
        headers=_auth(staff_key),
    )
    if added.status_code != 201:
        msg = f"POST {base}: {added.status_code} {added.text[:500]}"
        raise RuntimeError(msg)
    photo_id = str(added.json()["photo"]["id"])
    params = {"premises_id": premises_id}
    examples["POST /premises/{premises_id}/photos"] = {
        "parameters": params,
        "response": _trim(added.json()),
        "status": 201,
    }
    change = {"alt": "Façade sur rue, porte sectionnelle de 4 m", "position": 0}
    for method, body in (("PATCH", change), ("DELETE", None)):
        done = client.request(method, f"{base}/{photo_id}", json=body, headers=_auth(staff_key))
        if done.status_code != 200:
            msg = f"{method} {base}/{photo_id}: {done.status_code} {done.text[:500]}"
            raise RuntimeError(msg)
        op: dict[str, Any] = {
            "parameters": {**params, "photo_id": photo_id},
            "response": _trim(done.json()),
            "status": 200,
        }
        if body is not None:
            op["request"] = body
        examples[f"{method} /premises/{{premises_id}}/photos/{{photo_id}}"] = op


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def main() -> int:
    examples = record()
    text = json.dumps(examples, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    # The recording run's key prefix and webhook secret are replaced by placeholders (they
    # belong to a throw-away database, but an example must not look like a live secret).
    text = re.sub(r"whsec_[A-Za-z0-9_-]+", "whsec_" + "x" * 43, text)
    text = re.sub(r"imp_[A-Za-z0-9_-]{8}", "imp_AbCd1234", text)
    if re.search(r"imp_[A-Za-z0-9_-]{9,}", text):
        sys.exit("an API key leaked into the examples")
    OUT.write_text(text, encoding="utf-8")
    print(f"{len(examples)} operations recorded in {OUT.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
