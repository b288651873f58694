"""The web sign-in's shared state, on SQLite and PostGIS: secret, sessions, failure counts."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from geodata.storage import Repository, accounts, sessions

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)


def _account(repo: Repository, name: str = "sci-orly") -> int:
    with repo.begin() as conn:
        return accounts.create_account(
            conn, name=name, email=f"{name}@exemple.invalid", role="developer"
        ).id


def test_the_secret_is_generated_once_and_shared(repo: Repository) -> None:
    def read() -> str:
        with repo.begin() as conn:
            return sessions.shared_secret(conn, "session", now=T0)

    # Four "workers" starting together agree on one secret.
    with ThreadPoolExecutor(4) as pool:
        values = set(pool.map(lambda _: read(), range(4)))
    assert len(values) == 1
    (secret,) = values
    assert len(secret) >= 48
    with repo.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM app_secrets")).scalar() == 1
    with repo.begin() as conn:
        assert sessions.shared_secret(conn, "other", now=T0) != secret


def test_a_session_lives_until_it_ends_expires_or_its_account_is_disabled(
    repo: Repository,
) -> None:
    account_id = _account(repo)
    with repo.begin() as conn:
        for token in ("a", "b", "c"):
            sessions.create_session(
                conn,
                token_hash=token * 64,
                account_id=account_id,
                now=T0,
                expires_at=T0 + timedelta(hours=8),
            )
    with repo.connect() as conn:
        found = sessions.account_for_session(conn, "a" * 64, now=T0 + timedelta(hours=1))
        assert found is not None and found.name == "sci-orly"
        assert sessions.account_for_session(conn, "a" * 64, now=T0 + timedelta(hours=9)) is None
        assert sessions.account_for_session(conn, "z" * 64, now=T0) is None
    with repo.begin() as conn:
        sessions.end_session(conn, "a" * 64, now=T0)
    with repo.connect() as conn:
        assert sessions.account_for_session(conn, "a" * 64, now=T0) is None
        assert sessions.account_for_session(conn, "b" * 64, now=T0) is not None
    with repo.begin() as conn:
        accounts.set_disabled(conn, account_id)
        accounts.set_disabled(conn, account_id, disabled=False)
    with repo.connect() as conn:
        assert sessions.account_for_session(conn, "b" * 64, now=T0) is None
        assert sessions.account_for_session(conn, "c" * 64, now=T0) is None
    # A new sign-in clears the account's expired sessions on the way.
    with repo.begin() as conn:
        later = T0 + timedelta(days=1)
        sessions.create_session(
            conn, token_hash="d" * 64, account_id=account_id, now=later, expires_at=later
        )
        assert sessions.end_account_sessions(conn, account_id, now=later) == 1
        rows = conn.execute(sa.text("SELECT count(*) FROM web_sessions")).scalar()
    assert rows == 1


def test_failures_are_counted_per_key_and_restart_after_a_quiet_window(
    repo: Repository,
) -> None:
    keys = ["email:x", "ip:10.0.0.1"]
    with repo.begin() as conn:
        for i in range(3):
            counted = sessions.record_failure(
                conn, keys, now=T0 + timedelta(minutes=i), window=WINDOW
            )
    assert {k: f.count for k, f in counted.items()} == {"email:x": 3, "ip:10.0.0.1": 3}
    assert counted["email:x"].last_failed_at == T0 + timedelta(minutes=2)
    with repo.begin() as conn:
        sessions.clear_failures(conn, "email:x")
        seen = sessions.failures_of(conn, [*keys, "email:y"])
    assert list(seen) == ["ip:10.0.0.1"] and seen["ip:10.0.0.1"].count == 3
    with repo.begin() as conn:
        quiet = T0 + timedelta(minutes=2) + WINDOW + timedelta(seconds=1)
        again = sessions.record_failure(conn, keys, now=quiet, window=WINDOW)
    assert again["ip:10.0.0.1"].count == 1 and again["email:x"].count == 1


def test_concurrent_failures_are_all_counted(repo: Repository) -> None:
    def fail(i: int) -> None:
        with repo.begin() as conn:
            sessions.record_failure(
                conn, ["ip:10.9.9.9"], now=T0 + timedelta(seconds=i), window=WINDOW
            )

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(fail, range(12)))
    with repo.connect() as conn:
        assert sessions.failures_of(conn, ["ip:10.9.9.9"])["ip:10.9.9.9"].count == 12
