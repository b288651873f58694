"""Photos of listings over HTTP and in the pages: who may do what (one table), versions,
refused files naming the field, metadata stripped, visibility, the listing's JSON and pages.

Every test runs on SQLite and on PostGIS, through the real app with its lifespan entered.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from api.auth import hash_password, issue_key
from api.main import create_app
from geodata.photos import prepare_photo
from geodata.schemas import PremisesCreate
from geodata.storage import Repository, accounts, photos
from geodata.storage import premises as store
from geodata.territory import default_territory
from tests.api.conftest import backend_url, empty_settings
from tests.conftest import BACKENDS
from tests.utils.images import (
    OWNER,
    bomb_png,
    jpeg_with_gps,
    noisy_png,
    png_bytes,
    svg_bytes,
    truncated_jpeg,
)

PRINCIPALS = ("anonymous", "company", "developer", "other_developer", "staff")
NAMES = {
    "company": "pme-photo",
    "developer": "sci-photo",
    "other_developer": "autre-photo",
    "staff": "eco-photo",
}
PASSWORD = "correct horse battery"
XSS = '<img src=x onerror=alert(1)>" onload="alert(2)'


@dataclass
class World:
    client: TestClient
    repo: Repository
    keys: dict[str, str]

    def headers(self, who: str, **extra: str) -> dict[str, str]:
        auth = {} if who == "anonymous" else {"Authorization": f"Bearer {self.keys[who]}"}
        return {**auth, **extra}

    def listing(self, *, verified_days_ago: int | None = 0, **extra: Any) -> int:
        """A listing of "developer", confirmed ``verified_days_ago`` days ago."""
        verified = None
        if verified_days_ago is not None:
            verified = datetime.now(UTC) - timedelta(days=verified_days_ago)
        item = PremisesCreate.model_validate(
            {
                "title": "Atelier avec photos",
                "kind": "workshop",
                "surface_m2": 450,
                "tenure": "rent",
                "lon": 2.392,
                "lat": 48.787,
                "owner_account": NAMES["developer"],
                "last_verified_at": verified,
                **extra,
            },
            context={"territory": default_territory()},
        )
        return self.repo.add_premises(item, actor="fixture").id

    def photo(self, pid: int, size: tuple[int, int] = (300, 200)) -> int:
        """Store a photo of a listing through the storage functions; its id."""
        with self.repo.begin() as conn:
            info, _ = photos.add_photo(
                conn, pid, prepare_photo(png_bytes(size)), alt="Façade", actor="fixture"
            )
        return info.id

    def upload(
        self, pid: int, who: str = "developer", data: bytes | None = None, **fields: Any
    ) -> Any:
        name = fields.pop("name", "photo.jpg")
        headers = self.headers(who, **fields.pop("headers", {}))
        return self.client.post(
            f"/premises/{pid}/photos",
            files={"file": (name, data or png_bytes(), "image/jpeg")},
            data={"alt": "Façade sur rue", **fields},
            headers=headers,
        )


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with backend_url(request, tmp_path_factory, "photos") as url:
        settings = empty_settings(url)
        settings.uploads.photo_max_bytes = 200_000  # small, so that the limits are cheap
        with TestClient(create_app(settings)) as client:
            repo: Repository = client.app.state.repo  # type: ignore[attr-defined]
            keys = {}
            with repo.begin() as conn:
                for who, name in NAMES.items():
                    role = "developer" if "developer" in who else who
                    account = accounts.create_account(
                        conn,
                        name=name,
                        email=f"{name}@exemple.invalid",
                        role=role,
                        password_hash=hash_password(PASSWORD),
                    )
                    keys[who] = issue_key(conn, account.id).key
            yield World(client, repo, keys)


# -- the role × route matrix ------------------------------------------------------------------

#: (method, path, listing state) -> status for each of PRINCIPALS. ``{id}`` is a listing of
#: "developer" in that state holding one photo ``{photo}``; ``{missing}`` was never created.
MATRIX: list[tuple[str, str, str, tuple[int, ...]]] = [
    ("POST", "/premises/{id}/photos", "public", (401, 403, 201, 403, 201)),
    ("POST", "/premises/{missing}/photos", "public", (401, 404, 404, 404, 404)),
    ("PATCH", "/premises/{id}/photos/{photo}", "public", (401, 403, 200, 403, 200)),
    ("DELETE", "/premises/{id}/photos/{photo}", "public", (401, 403, 200, 403, 200)),
    ("DELETE", "/premises/{id}/photos/{missing}", "public", (401, 403, 404, 403, 404)),
    ("GET", "/premises/{id}/photos/{photo}", "public", (200, 200, 200, 200, 200)),
    ("GET", "/premises/{id}/photos/{missing}", "public", (404, 404, 404, 404, 404)),
    ("GET", "/premises/{id}/photos/{photo}", "hidden", (404, 404, 200, 404, 200)),
    ("GET", "/premises/{id}/photos/{photo}", "withdrawn", (404, 404, 200, 404, 200)),
]

CASES = [
    pytest.param(method, path, state, who, status, id=f"{method} {path} ({state}) as {who}")
    for method, path, state, statuses in MATRIX
    for who, status in zip(PRINCIPALS, statuses, strict=True)
]


@pytest.mark.parametrize(("method", "path", "state", "who", "expected"), CASES)
def test_role_route_matrix(
    world: World, method: str, path: str, state: str, who: str, expected: int
) -> None:
    pid = world.listing(
        verified_days_ago=200 if state == "hidden" else 0,
        status="withdrawn" if state == "withdrawn" else "available",
    )
    photo = world.photo(pid)  # through storage: the listing stays hidden or withdrawn
    version = world.repo.get_premises(pid).version
    url = path.format(id=pid, photo=photo, missing=pid + photo + 10_000)
    headers = world.headers(who)
    if method == "POST":
        response = world.client.post(
            url,
            files={"file": ("b.png", png_bytes(), "image/png")},
            data={"alt": "B"},
            headers=headers,
        )
    elif method == "PATCH":
        response = world.client.patch(url, json={"alt": "Nouvelle"}, headers=headers)
    else:
        response = world.client.request(method, url, headers=headers)
    assert response.status_code == expected, response.text[:300]
    if expected >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
        if method != "GET":  # a refused write changed nothing
            assert world.repo.get_premises(pid).version == version
    if expected == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    if method == "GET" and expected == 200:
        assert response.headers["content-type"] == "image/jpeg"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["ETag"]
        private = who != "anonymous"
        assert response.headers["Cache-Control"] == (
            "no-store" if private else "public, max-age=3600"
        )


# -- writes -----------------------------------------------------------------------------------


def test_an_upload_loses_its_exif_and_moves_the_listing_version(world: World) -> None:
    pid = world.listing()
    added = world.upload(pid, data=jpeg_with_gps(), alt_en="Street front")
    assert added.status_code == 201, added.text
    body = added.json()
    assert added.headers["ETag"] == '"2"' and body["premises_version"] == 2
    photo = body["photo"]
    assert added.headers["Location"] == photo["url"] == f"/premises/{pid}/photos/{photo['id']}"
    assert (photo["width"], photo["height"], photo["content_type"]) == (400, 200, "image/jpeg")
    served = world.client.get(photo["url"])
    assert served.status_code == 200
    image = Image.open(io.BytesIO(served.content))
    assert dict(image.getexif()) == {} and "exif" not in image.info
    assert OWNER.encode() not in served.content and b"Exif" not in served.content
    # Conditional GET: the ETag gives a 304 without the body.
    again = world.client.get(photo["url"], headers={"If-None-Match": served.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""
    # The listing lists it, in the public view and in the owner's full view.
    ref = {
        "id": photo["id"],
        "url": photo["url"],
        "alt": "Façade sur rue",
        "alt_en": "Street front",
        "width": 400,
        "height": 200,
    }
    public = world.client.get(f"/premises/{pid}")
    assert public.json()["gallery"] == [ref] and "owner_account" not in public.json()
    assert public.headers["ETag"] == '"2"'
    full = world.client.get(f"/premises/{pid}", headers=world.headers("developer"))
    assert full.json()["gallery"] == [ref] and "owner_account" in full.json()
    page = world.client.get("/premises", params={"limit": 500}).json()
    assert next(i for i in page["items"] if i["id"] == pid)["gallery"] == [ref]
    history = world.client.get(f"/premises/{pid}/history", headers=world.headers("developer"))
    last = history.json()[-1]
    assert (last["action"], last["version"], last["actor"]) == ("update", 2, NAMES["developer"])
    assert last["changes"]["gallery"] == [[], [ref]]


def test_if_match_is_optional_and_a_stale_one_is_412(world: World) -> None:
    pid = world.listing()
    assert world.upload(pid, headers={"If-Match": '"1"'}).status_code == 201
    stale = world.upload(pid, headers={"If-Match": '"1"'})
    assert stale.status_code == 412, stale.text
    assert stale.json()["errors"][0]["field"] == "If-Match"
    listing = world.repo.get_premises(pid)
    assert listing.version == 2 and len(listing.gallery) == 1
    photo = listing.gallery[0].id
    stale_delete = world.client.delete(
        f"/premises/{pid}/photos/{photo}", headers=world.headers("developer", **{"If-Match": '"1"'})
    )
    assert stale_delete.status_code == 412
    moved = world.client.patch(
        f"/premises/{pid}/photos/{photo}",
        json={"alt": "Quai couvert", "alt_en": ""},
        headers=world.headers("developer", **{"If-Match": '"2"'}),
    )
    assert moved.status_code == 200, moved.text
    assert moved.headers["ETag"] == '"3"' and moved.json()["gallery"][0]["alt"] == "Quai couvert"


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("facade.jpg", b"juste du texte\n" * 50, "est du texte"),
        ("plan.svg", svg_bytes(), "une image SVG"),
        ("coupee.jpg", truncated_jpeg(), "tronqué ou abîmé"),
        ("bombe.png", bomb_png(8000, 8000), "8000 × 8000 pixels"),
        ("lourde.png", png_bytes((900, 900)) + b"\x00" * 200_000, "la limite est"),
    ],
    ids=["text-renamed-jpg", "svg", "truncated", "too-many-pixels", "too-many-bytes"],
)
def test_refused_files_name_the_field_and_write_nothing(
    world: World, name: str, data: bytes, reason: str
) -> None:
    pid = world.listing()
    refused = world.upload(pid, data=data, name=name)
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["errors"][0]["field"] == "file"
    assert reason in problem["detail"] and problem["detail"].startswith("file : ")
    english = world.client.post(
        f"/premises/{pid}/photos?lang=en",
        files={"file": (name, data, "image/jpeg")},
        data={"alt": "x"},
        headers=world.headers("developer"),
    )
    assert english.json()["detail"].startswith("file: ")
    assert world.repo.get_premises(pid).version == 1


def test_a_missing_description_and_an_oversized_body_are_refused(world: World) -> None:
    pid = world.listing()
    missing = world.client.post(
        f"/premises/{pid}/photos",
        files={"file": ("a.png", png_bytes(), "image/png")},
        headers=world.headers("developer"),
    )
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "alt"
    blank = world.upload(pid, alt="   ")
    assert blank.status_code == 422 and blank.json()["errors"][0]["field"] == "alt"
    huge = world.upload(pid, data=b"\xff\xd8\xff" + b"\x00" * 400_000)
    assert huge.status_code == 413 and huge.json()["errors"][0]["field"] == "body"
    assert world.repo.get_premises(pid).version == 1


def test_the_most_photos_allowed_is_a_409(world: World) -> None:
    limit = world.client.app.state.settings.uploads.photos_per_listing  # type: ignore[attr-defined]
    pid = world.listing()
    with world.repo.begin() as conn:
        prepared = prepare_photo(png_bytes((50, 40)))
        for n in range(limit):
            photos.add_photo(conn, pid, prepared, alt=f"Photo {n}", actor="fixture")
    refused = world.upload(pid)
    assert refused.status_code == 409 and refused.json()["errors"][0]["field"] == "file"
    assert f"déjà {limit} photos" in refused.json()["detail"]


# -- pages ------------------------------------------------------------------------------------


def test_the_detail_page_shows_the_photos_escaped_and_only_to_those_who_may(world: World) -> None:
    pid = world.listing()
    assert world.upload(pid, alt=XSS).status_code == 201
    page = world.client.get(f"/locaux/{pid}").text
    images = re.findall(r'<img src="/premises/\d+/photos/\d+"[^>]*>', page)
    assert len(images) == 1
    assert 'alt="&lt;img src=x onerror=alert(1)&gt;&#34; onload=&#34;alert(2)"' in images[0]
    assert 'loading="eager"' in images[0] and 'width="300" height="200"' in images[0]
    assert "<img src=x" not in page
    # In English, a photo described in French only says so.
    english = world.client.get(f"/locaux/{pid}?lang=en").text
    assert 'lang="fr"' in re.findall(r'<img src="/premises/[^>]*>', english)[0]
    # Hidden for want of confirmation: the page says so, and shows no photo to the public.
    with world.repo.begin() as conn:
        store.confirm_premises(
            conn, pid, at=datetime.now(UTC) - timedelta(days=200), actor="fixture"
        )
    assert 'id="gallery"' not in world.client.get(f"/locaux/{pid}").text
    owner = world.client.get(f"/locaux/{pid}", headers=world.headers("developer")).text
    assert 'id="gallery"' in owner
    # No photo: no photo section at all.
    assert 'id="photos"' not in world.client.get(f"/locaux/{world.listing()}").text


def _sign_in(client: TestClient, name: str) -> str:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    response = client.post(
        "/login",
        data={"email": f"{name}@exemple.invalid", "password": PASSWORD, "csrf_token": token[1]},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["csrf_token"])


def test_the_listing_form_adds_and_deletes_photos_with_its_csrf_token(world: World) -> None:
    pid = world.listing()
    client = world.client
    csrf = _sign_in(client, NAMES["developer"])
    try:
        form = client.get(f"/mes-annonces/{pid}/modifier")
        assert form.status_code == 200 and 'id="photo-form"' in form.text
        assert 'enctype="multipart/form-data"' in form.text and 'id="no-photo"' in form.text
        files = {"file": ("facade.jpg", jpeg_with_gps(), "image/jpeg")}
        forged = client.post(
            f"/mes-annonces/{pid}/photos", files=files, data={"alt": "A", "csrf_token": "0" * 64}
        )
        assert forged.status_code == 403
        refused = client.post(
            f"/mes-annonces/{pid}/photos",
            files={"file": ("plan.svg", svg_bytes(), "image/svg+xml")},
            data={"alt": "Plan", "csrf_token": csrf},
        )
        assert refused.status_code == 422
        assert 'id="err-p-file"' in refused.text and "une image SVG" in refused.text
        assert 'value="Plan"' in refused.text  # what was typed is kept
        no_alt = client.post(
            f"/mes-annonces/{pid}/photos", files=files, data={"alt": "", "csrf_token": csrf}
        )
        assert no_alt.status_code == 422 and 'id="err-p-alt"' in no_alt.text
        added = client.post(
            f"/mes-annonces/{pid}/photos",
            files=files,
            data={"alt": "Façade", "alt_en": "Front", "csrf_token": csrf},
            follow_redirects=False,
        )
        assert added.status_code == 303, added.text
        assert added.headers["location"].endswith("photo=added&lang=fr#photos")
        listing = world.repo.get_premises(pid)
        assert [p.alt for p in listing.gallery] == ["Façade"] and listing.version == 2
        shown = client.get(added.headers["location"]).text
        assert 'id="photo-done"' in shown and 'id="photo-list"' in shown
        photo = listing.gallery[0].id
        deleted = client.post(
            f"/mes-annonces/{pid}/photos/{photo}/supprimer",
            data={"csrf_token": csrf},
            follow_redirects=False,
        )
        assert deleted.status_code == 303
        assert world.repo.get_premises(pid).gallery == []
        # Another developer's listing is a 404 page, as its form is.
        theirs = world.listing(owner_account=NAMES["other_developer"])
        other = client.post(
            f"/mes-annonces/{theirs}/photos", files=files, data={"alt": "A", "csrf_token": csrf}
        )
        assert other.status_code == 404
    finally:
        client.cookies.clear()


def test_a_photo_added_by_the_owner_confirms_a_hidden_listing(world: World) -> None:
    pid = world.listing(verified_days_ago=200)
    listed = world.client.get("/premises", params={"limit": 500}).json()["items"]
    assert pid not in {i["id"] for i in listed}  # hidden for want of confirmation
    added = world.upload(pid)
    assert added.status_code == 201
    url = added.json()["photo"]["url"]
    full = world.client.get(f"/premises/{pid}", headers=world.headers("developer")).json()
    assert full["freshness"]["hidden"] is False and full["freshness"]["age_days"] == 0
    listed = world.client.get("/premises", params={"limit": 500}).json()["items"]
    assert pid in {i["id"] for i in listed}
    head = world.client.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == "image/jpeg"


def test_a_photo_may_be_larger_than_other_request_bodies(tmp_path: Any) -> None:
    """The body limit of the photo routes is the photo's (path templates in the middleware)."""
    settings = empty_settings(f"sqlite:///{tmp_path / 'bodies.db'}")
    settings.http.max_body_bytes = 20_000
    photo = noisy_png()
    assert 20_000 < len(photo) < settings.uploads.photo_max_bytes
    with TestClient(create_app(settings)) as client:
        repo: Repository = client.app.state.repo  # type: ignore[attr-defined]
        with repo.begin() as conn:
            staff = accounts.create_account(
                conn, name="eco-bodies", email="eco@exemple.invalid", role="staff"
            )
            key = issue_key(conn, staff.id).key
        auth = {"Authorization": f"Bearer {key}"}
        item = PremisesCreate.model_validate(
            {
                "title": "A",
                "kind": "workshop",
                "surface_m2": 90,
                "tenure": "rent",
                "lon": 2.392,
                "lat": 48.787,
            },
            context={"territory": default_territory()},
        )
        pid = repo.add_premises(item, actor="fixture").id
        added = client.post(
            f"/premises/{pid}/photos",
            files={"file": ("a.png", photo, "image/png")},
            data={"alt": "Cour"},
            headers=auth,
        )
        assert added.status_code == 201, added.text
        # Elsewhere, and on another method of a photo path, the general limit holds.
        long_title = client.patch(
            f"/premises/{pid}/photos/{added.json()['photo']['id']}",
            json={"alt": "x" * 30_000},
            headers=auth,
        )
        assert long_title.status_code == 413


def test_a_withdrawn_listing_lists_its_photos_to_its_owner_only(world: World) -> None:
    pid = world.listing()
    world.photo(pid)
    version = world.repo.get_premises(pid).version
    gone = world.client.delete(
        f"/premises/{pid}", headers=world.headers("developer", **{"If-Match": f'"{version}"'})
    )
    assert gone.status_code == 200 and len(gone.json()["gallery"]) == 1
    assert world.client.get(f"/premises/{pid}").json()["gallery"] == []
    owner = world.client.get(f"/premises/{pid}", headers=world.headers("developer")).json()
    assert len(owner["gallery"]) == 1
