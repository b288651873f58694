"""Accounts and keys: the storage functions on both backends, and the CLI as a real process."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.auth import hash_key, hash_password, issue_key, verify_password
from api.main import create_app
from api.settings import Settings
from geodata.storage import Repository, accounts
from geodata.storage.accounts import AccountError

IMPLANTER = [sys.executable, "-m", "api.cli"]
KEY_RE = re.compile(r"imp_[A-Za-z0-9_-]{43}")


def keys_in(text: str) -> list[str]:
    """The API keys printed, in order, each once (a key is printed with a curl example)."""
    return list(dict.fromkeys(KEY_RE.findall(text)))


def run(db: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [*IMPLANTER, *args, "--database-url", f"sqlite:///{db}"]
    return subprocess.run(
        cmd, input=stdin, capture_output=True, text=True, timeout=300, check=False
    )


def test_accounts_and_keys_in_storage(repo: Repository) -> None:
    with repo.begin() as conn:
        dev = accounts.create_account(
            conn,
            name="SCI-Orly",
            email="Contact@SCI-Orly.fr",
            role="developer",
            password_hash=hash_password("correct horse battery"),
        )
        issued = issue_key(conn, dev.id, label="import nightly")
    assert (dev.name, dev.email) == ("sci-orly", "contact@sci-orly.fr")
    with repo.begin() as conn:
        for kwargs, field in (
            ({"name": "x", "email": "contact@sci-orly.fr", "role": "company"}, "email"),
            ({"name": "sci-orly", "email": "y@z.fr", "role": "company"}, "name"),
            ({"name": "y", "email": "y@z.fr", "role": "admin"}, "role"),
            ({"name": "y", "email": "pas-un-mail", "role": "company"}, "email"),
            ({"name": "Y Z!", "email": "y@z.fr", "role": "company"}, "name"),
        ):
            with pytest.raises(AccountError, match=f"^{field}: "):
                accounts.create_account(conn, **kwargs)
    with repo.begin() as conn:
        found_key = accounts.account_for_key(conn, hash_key(issued.key))
        assert found_key is not None and found_key[0] == dev
        assert found_key[1].id == issued.id and found_key[1].last_used_at is None
        assert accounts.account_for_key(conn, hash_key(issued.key + "x")) is None
        accounts.touch_api_key(conn, issued.id)
    with repo.connect() as conn:
        (listed,) = accounts.list_api_keys(conn, dev.id)
    assert listed.last_used_at is not None and listed.label == "import nightly"
    with repo.begin() as conn:
        found = accounts.password_hash_of(conn, "CONTACT@sci-orly.fr")
    assert found is not None
    assert verify_password(found[1], "correct horse battery")
    assert not verify_password(found[1], "correct horse battery!")
    assert not verify_password(None, "anything")
    with repo.connect() as conn:
        stored = conn.execute(sa.text("SELECT key_hash, prefix FROM api_keys")).one()
        password = conn.execute(sa.text("SELECT password_hash FROM accounts")).scalar_one()
    assert stored.key_hash == hash_key(issued.key) and issued.key not in stored
    assert issued.key.startswith(stored.prefix)
    assert password.startswith("$argon2id$") and "correct horse" not in password
    with repo.begin() as conn:
        assert accounts.revoke_api_key(conn, issued.prefix).revoked_at is not None
        assert accounts.account_for_key(conn, hash_key(issued.key)) is None
        with pytest.raises(AccountError, match=r"^key: no key"):
            accounts.revoke_api_key(conn, 999)
        with pytest.raises(AccountError, match=r"^account: no account"):
            accounts.find_account(conn, "nobody")


def test_short_passwords_are_refused() -> None:
    with pytest.raises(ValueError, match=r"^password: "):
        hash_password("court")


def test_accounts_and_keys_commands(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    created = run(
        db,
        "accounts",
        "create",
        "dev@sci-orly.fr",
        "--role",
        "developer",
        "--name",
        "sci-orly",
        "--password-stdin",
        "--key",
        stdin="un mot de passe solide\n",
    )
    assert created.returncode == 0, created.stderr
    assert "sci-orly <dev@sci-orly.fr> (developer)" in created.stdout
    (first_key,) = keys_in(created.stdout)
    assert "mot de passe" not in created.stdout

    twice = run(db, "accounts", "create", "dev@sci-orly.fr", "--role", "company")
    assert twice.returncode == 1
    assert "email: 'dev@sci-orly.fr' already belongs to account 1" in twice.stderr
    assert "Traceback" not in twice.stderr
    bad_role = run(db, "accounts", "create", "a@b.fr", "--role", "admin")
    assert bad_role.returncode == 2

    staff = run(db, "accounts", "create", "eco@gosb.fr", "--role", "staff")
    assert staff.returncode == 0, staff.stderr
    listed = run(db, "accounts", "list")
    assert listed.stdout.splitlines() == [
        "1\tsci-orly\tdev@sci-orly.fr\tdeveloper\tactive",
        "2\teco@gosb.fr\teco@gosb.fr\tstaff\tactive",
    ]

    new = run(db, "keys", "create", "sci-orly", "--label", "ERP")
    assert new.returncode == 0, new.stderr
    (second_key,) = keys_in(new.stdout)
    keys = run(db, "keys", "list", "sci-orly").stdout
    assert first_key not in keys and second_key not in keys
    assert second_key[:12] in keys and "never used" in keys

    settings = Settings()
    settings.database.url = f"sqlite:///{db}"
    settings.api.demo_on_first_run = False

    def me(key: str) -> int:
        with TestClient(create_app(settings)) as client:
            return client.get("/me", headers={"Authorization": f"Bearer {key}"}).status_code

    assert me(first_key) == 200
    revoked = run(db, "keys", "revoke", first_key[:12])
    assert revoked.returncode == 0, revoked.stderr
    assert me(first_key) == 401 and me(second_key) == 200
    unknown = run(db, "keys", "revoke", "imp_nothere")
    assert unknown.returncode == 1 and "key: no key" in unknown.stderr

    disabled = run(db, "accounts", "disable", "dev@sci-orly.fr")
    assert disabled.returncode == 0, disabled.stderr
    assert me(second_key) == 401
    assert "disabled" in run(db, "accounts", "list").stdout.splitlines()[0]


def test_demo_creates_one_account_per_role_with_a_working_key(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    r = run(db, "demo", "--premises", "40", "--needs", "5")
    assert r.returncode == 0, r.stderr
    keys = dict(zip(("staff", "developer", "company"), keys_in(r.stdout), strict=True))
    assert "curl -H 'Authorization: Bearer imp_" in r.stdout
    settings = Settings()
    settings.database.url = f"sqlite:///{db}"
    with TestClient(create_app(settings)) as client:
        roles = {
            role: client.get("/me", headers={"Authorization": f"Bearer {key}"}).json()
            for role, key in keys.items()
        }
        assert {role: me["account"]["role"] for role, me in roles.items()} == {r: r for r in keys}
        # The demo developer owns demo listings: it edits its own, not the others'.
        dev = roles["developer"]["account"]["name"]
        items = client.get("/premises", params={"limit": 500}).json()["items"]
        repo: Repository = client.app.state.repo  # type: ignore[attr-defined]
        owners = {i["id"]: repo.get_premises(i["id"]).owner_account for i in items}
        mine = next(pid for pid, owner in owners.items() if owner == dev)
        theirs = next(pid for pid, owner in owners.items() if owner != dev)
        auth = {"Authorization": f"Bearer {keys['developer']}", "If-Match": '"1"'}
        assert (
            client.patch(f"/premises/{mine}", json={"title": "À moi"}, headers=auth).status_code
            == 200
        )
        assert (
            client.patch(f"/premises/{theirs}", json={"title": "x"}, headers=auth).status_code
            == 403
        )
    # Run again for the accounts only: the same accounts, new keys and passwords.
    again = run(db, "demo", "--no-catalogue")
    assert again.returncode == 0, again.stderr
    assert len(set(keys_in(again.stdout)) - set(keys.values())) == 3
    # Each demo account signs in on the web with the password printed (the last one).
    emails = re.findall(r"^- \w+: \S+ <(\S+)>$", again.stdout, flags=re.M)
    passwords = re.findall(r"password: (\S+)$", again.stdout, flags=re.M)
    assert len(emails) == len(passwords) == 3
    with TestClient(create_app(settings)) as client:
        for email, password in zip(emails, passwords, strict=True):
            form = client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert token is not None
            signed_in = client.post(
                "/login",
                data={"email": email, "password": password, "csrf_token": token.group(1)},
                headers={"Accept": "application/json"},
            )
            assert signed_in.status_code == 200, signed_in.text
            assert signed_in.json()["account"]["email"] == email
            client.cookies.clear()
        old = re.findall(r"password: (\S+)$", r.stdout, flags=re.M)[0]
        form = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token is not None
        refused = client.post(
            "/login",
            data={"email": emails[0], "password": old, "csrf_token": token.group(1)},
            headers={"Accept": "application/json"},
        )
        assert refused.status_code == 401, refused.text
    assert len(run(db, "accounts", "list").stdout.splitlines()) == 3
