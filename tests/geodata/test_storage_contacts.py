"""Contact requests and companies' needs in storage, the same on SQLite and PostGIS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from geodata.schemas import NeedIn
from geodata.storage import NotFoundError, Repository, StaleVersionError, StorageError, contacts
from geodata.storage import needs as store


def _send(conn: object, **extra: object) -> contacts.ContactRequest:
    data: dict[str, object] = {
        "premises_id": 1,
        "sender_account": "pme-alpha",
        "recipient_account": "sci-orly",
        "message": "Bonjour",
        "contact_email": "a@b.fr",
        **extra,
    }
    return contacts.add_contact_request(conn, **data)  # type: ignore[arg-type]


def test_contact_requests_are_recorded_and_listed_per_side(repo: Repository) -> None:
    t0 = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    with repo.begin() as conn:
        first = _send(conn, at=t0, need_id=7, contact_name="Mme A", contact_phone="0612")
        second = _send(conn, premises_id=2, recipient_account="sogaris", at=t0 + timedelta(1))
        third = _send(conn, sender_account="pme-beta", at=t0 + timedelta(2))
    assert first.id < second.id < third.id
    assert (first.need_id, first.contact_name, first.contact_phone) == (7, "Mme A", "0612")
    with repo.connect() as conn:
        every = contacts.list_contact_requests(conn)
        assert [r.id for r in every.items] == [third.id, second.id, first.id]  # newest first
        assert every.items[-1] == first  # read back as written, time zone included
        assert every.items[-1].created_at == t0
        sent = contacts.list_contact_requests(conn, sender_account="pme-alpha")
        assert [r.id for r in sent.items] == [second.id, first.id]
        received = contacts.list_contact_requests(conn, recipient_account="sci-orly")
        assert [r.id for r in received.items] == [third.id, first.id]
        about = contacts.list_contact_requests(conn, premises_id=2)
        assert [r.id for r in about.items] == [second.id]
        page = contacts.list_contact_requests(conn, limit=1, offset=1)
        assert ([r.id for r in page.items], page.total) == ([second.id], 3)
        with pytest.raises(ValueError, match="limit, offset"):
            contacts.list_contact_requests(conn, offset=-1)


def test_a_contact_request_that_cannot_be_stored_names_the_field(repo: Repository) -> None:
    with pytest.raises(StorageError, match=r"^message: contains a NUL"), repo.begin() as conn:
        _send(conn, message="a\x00b")
    with repo.connect() as conn:
        assert contacts.list_contact_requests(conn).total == 0


def _need(owner: str | None, **extra: object) -> NeedIn:
    return NeedIn.model_validate(
        {
            "company_name": "Atelier Martin",
            "naf_code": "10.71C",
            "surface_min_m2": 200,
            "surface_max_m2": 600,
            "owner_account": owner,
            **extra,
        }
    )


def test_needs_are_owned_versioned_and_deactivated_with_their_history(repo: Repository) -> None:
    with repo.begin() as conn:
        mine, theirs, unowned = store.add_many_needs(
            conn, [_need("pme-alpha"), _need("pme-beta"), _need(None)], actor="t"
        )
    assert mine.uses == ["production", "food_processing"]  # suggested by the NAF code
    assert mine.alert_threshold == 70
    with repo.connect() as conn:
        page = store.list_needs(conn, owner_account="pme-alpha")
        assert [n.id for n in page.items] == [mine.id]
        assert store.list_needs(conn, active=None).total == 3
    off = NeedIn.model_validate(
        {**mine.model_dump(include=set(NeedIn.model_fields)), "active": False}
    )
    with repo.connect() as conn:
        before = store.needs_signature(conn)
    assert before == (3, 3, unowned.id)
    with repo.begin() as conn:
        store.update_need(conn, mine.id, off, expected_version=1, actor="pme-alpha")
    with repo.connect() as conn:
        assert store.needs_signature(conn) == (3, 4, unowned.id)
    with pytest.raises(StaleVersionError), repo.begin() as conn:
        store.update_need(conn, mine.id, off, expected_version=1, actor="pme-alpha")
    with repo.connect() as conn:
        assert store.get_need(conn, mine.id).version == 2
        assert [n.id for n in store.all_needs(conn)] == [theirs.id, unowned.id]
        assert store.list_needs(conn, active=False, owner_account="pme-alpha").total == 1
        with pytest.raises(NotFoundError):
            store.get_need(conn, 999_999)
    trail = repo.audit_trail("need", mine.id)
    assert [(e.action, e.version, e.changes.get("active")) for e in trail] == [
        ("create", 1, True),
        ("update", 2, [True, False]),
    ]
