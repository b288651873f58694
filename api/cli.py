"""The ``implanter`` command line: init-db, demo, import, export, match, serve, worker, accounts,
keys, model.

Start-up time is part of every command a user types, so this module imports only typer at
load time: each command imports what it uses (the catalogue's storage, the matcher, the
server) inside its body, and ``implanter --help`` imports none of them. These imports are
for start-up speed only; none of them breaks an import cycle.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .models_cli import build_model_app

if TYPE_CHECKING:
    from geodata.storage import Repository
    from matcher import MatchIndex

    from .settings import Settings
    from .settings_models import MatchSettings

__all__ = ["app"]

app = typer.Typer(
    help="Implanter: catalogue of industrial premises matched with company needs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    # Plain click help: typer's rich help formatter imports rich, markdown-it and pygments,
    # about 0.1 s of every `--help` and usage error (measured in bench/RESULTS.md).
    rich_markup_mode=None,
)

# Exit codes: 0 success, 1 bad input (invalid rows, unknown file format), 2 usage error
# (typer/click), 3 database unreachable or not migrated.
EXIT_BAD_INPUT = 1
EXIT_DATABASE = 3

DbOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        "-d",
        help="SQLAlchemy URL (default: IMPLANTER_DATABASE__URL or sqlite:///var/implanter.db).",
    ),
]


def _settings(database_url: str | None) -> Settings:
    # pydantic-settings takes ~0.1 s to import: only the commands that read settings pay it.
    from .settings import Settings

    settings = Settings()
    if database_url:
        settings.database.url = database_url
    return settings


def _match_settings(database_url: str | None) -> MatchSettings:
    """What ``match`` reads of the settings, without pydantic-settings when it can.

    :func:`api.settings_models.match_settings` reads the few variables ``match`` uses, as
    ``Settings()`` does; any other ``IMPLANTER_*`` variable (or an invalid value) makes it
    build ``Settings()`` as the other commands do. Start-up speed only (about 30 ms).
    """
    import os

    from .settings_models import MatchSettings, match_settings

    settings = match_settings(os.environ)
    if settings is None:
        full = _settings(None)
        settings = MatchSettings(full.territory, full.database, full.freshness)
    if database_url:
        settings.database.url = database_url
    return settings


def _open(database_url: str | None, *, migrate: bool = True) -> Repository:
    from sqlalchemy.exc import OperationalError

    from geodata.storage import Repository
    from geodata.storage.errors import StorageError

    url = _settings(database_url).database.url
    try:
        repo = Repository(url)
        if migrate:
            repo.migrate()
        else:
            repo.counts()
    except (OperationalError, StorageError) as exc:
        typer.secho(f"Base de données inaccessible / database unreachable: {url}", err=True)
        typer.secho(f"  {str(exc).splitlines()[0]}", err=True)
        raise typer.Exit(EXIT_DATABASE) from exc
    return repo


@app.command("init-db")
def init_db(database_url: DbOption = None) -> None:
    """Create the database (SQLite file or PostGIS schema) and bring it up to date."""
    repo = _open(database_url)
    counts = repo.counts()
    typer.echo(
        f"Base prête / database ready: {repo.engine.url.render_as_string(hide_password=True)} "
        f"({counts['premises']} locaux, {counts['needs']} besoins)"
    )


@app.command()
def demo(
    database_url: DbOption = None,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same data.")] = 2018,
    premises: Annotated[int, typer.Option(help="Number of premises.", min=1)] = 360,
    needs: Annotated[int, typer.Option(help="Number of company needs.", min=0)] = 180,
    force: Annotated[bool, typer.Option(help="Load even if the catalogue is not empty.")] = False,
    catalogue: Annotated[
        bool, typer.Option(help="Load the catalogue; --no-catalogue creates the accounts only.")
    ] = True,
) -> None:
    """Load the fictitious demo catalogue and create one demo account per role, with a key."""
    repo = _open(database_url)
    if not catalogue:
        _demo_accounts(repo)
        return
    from geodata.demo import load_demo
    from geodata.territory import load_territory

    territory = load_territory(_settings(database_url).territory)
    if repo.counts()["premises"] and not force:
        typer.secho(
            "Le catalogue n'est pas vide ; --force pour ajouter la démo quand même, "
            "--no-catalogue pour créer seulement les comptes de démonstration. "
            "The catalogue is not empty; use --force to add the demo anyway, or "
            "--no-catalogue to create the demo accounts only.",
            err=True,
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    from geodata.storage.errors import StorageError

    try:
        n_p, n_n = load_demo(
            repo,
            territory=territory,
            seed=seed,
            n_premises=premises,
            n_needs=needs,
            reference_date=datetime.now(UTC).date(),
        )
    except StorageError as exc:
        typer.secho(f"Rien n'a été chargé / nothing was loaded: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    typer.echo(f"{n_p} locaux et {n_n} besoins de démonstration chargés / demo loaded")
    _demo_accounts(repo)


class Lang(enum.StrEnum):
    """Language of messages."""

    fr = "fr"
    en = "en"


@app.command("import")
def import_(
    path: Annotated[Path, typer.Argument(help="CSV, GeoJSON, GeoPackage or XLSX file.")],
    database_url: DbOption = None,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Import the valid rows, list the others.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check only, write nothing.")] = False,
    actor: Annotated[str, typer.Option(help="Who imports (kept in the audit trail).")] = "cli",
    lang: Annotated[Lang, typer.Option(help="Language of the report.")] = Lang.fr,
    sheet: Annotated[
        str | None,
        typer.Option(
            "--sheet",
            "--layer",
            help="Sheet of an XLSX workbook or layer of a GeoPackage, by name or number "
            "(from 1). Default: the first sheet that looks like a listing table.",
        ),
    ] = None,
) -> None:
    """Import listings; nothing is written if a row is bad, unless --skip-invalid.

    The listings written notify the saved searches they newly fit, in the import's
    transaction, as a listing written through the API does."""
    from geodata.io import format_report, import_listings
    from geodata.io.limits import ImportFileError
    from geodata.storage.errors import StorageError
    from geodata.territory import load_territory

    from .alerts import AlertingCatalogue, ListingAlerts, TerritoryAccess

    if not path.exists():
        typer.secho(f"Fichier introuvable / file not found: {path}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    repo = _open(database_url)
    settings = _settings(database_url)
    territory = load_territory(settings.territory)
    alerts = ListingAlerts(TerritoryAccess.of(territory), datetime.now(UTC), settings.freshness)
    target = AlertingCatalogue(repo, alerts)
    try:
        report = import_listings(
            target,
            path,
            actor=actor,
            skip_invalid=skip_invalid,
            dry_run=dry_run,
            territory=territory,
            sheet=sheet,
        )
    except ImportFileError as exc:  # the whole file refused: one line, in the report's language
        colon = " :" if lang.value == "fr" else ":"
        typer.secho(f"file{colon} {exc.text(lang.value)}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    except (ValueError, StorageError) as exc:
        typer.secho(str(exc), err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    typer.echo(format_report(report, lang=lang.value))
    if report.written:
        n = target.notified
        typer.echo(
            f"Alertes : {n} notification(s) écrite(s) pour les recherches enregistrées."
            if lang.value == "fr"
            else f"Alerts: {n} notification(s) written for saved searches."
        )
    if report.errors and not skip_invalid:
        raise typer.Exit(EXIT_BAD_INPUT)


class ExportFormat(enum.StrEnum):
    """Export formats."""

    csv = "csv"
    csv_fr = "csv-fr"
    geojson = "geojson"
    gpkg = "gpkg"
    cnig = "cnig"


@app.command()
def export(
    path: Annotated[Path, typer.Argument(help="Output file (or folder for --format cnig).")],
    database_url: DbOption = None,
    fmt: Annotated[
        ExportFormat | None,
        typer.Option("--format", "-f", help="Default: from the file extension."),
    ] = None,
) -> None:
    """Export the catalogue as CSV, GeoJSON, GeoPackage or CNIG 'Sites économiques' CSVs."""
    from geodata.io import export_cnig, export_listings
    from geodata.territory import load_territory

    repo = _open(database_url)
    if fmt is ExportFormat.cnig:
        territory = load_territory(_settings(database_url).territory)
        written = export_cnig(repo, territory, path)
        typer.echo(written.summary("fr"))
        typer.echo(written.summary("en"))
        return
    try:
        if fmt is ExportFormat.csv_fr:
            export_listings(repo, path, fmt="csv", french=True)
        else:
            export_listings(repo, path, fmt=fmt.value if fmt else None)
    except ValueError as exc:
        typer.secho(str(exc), err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    typer.echo(f"{repo.counts()['premises']} locaux exportés / exported: {path}")


@app.command()
def match(
    need_file: Annotated[
        Path | None, typer.Argument(help="A need as JSON (the fields of NeedIn).")
    ] = None,
    need_id: Annotated[int | None, typer.Option(help="Match a saved need instead.")] = None,
    k: Annotated[int, typer.Option("-k", help="How many results.", min=1)] = 10,
    database_url: DbOption = None,
    lang: Annotated[Lang, typer.Option(help="Language of the reasons.")] = Lang.fr,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Rank the catalogue for a company's need, with the reasons of every score."""
    import json

    from pydantic import ValidationError

    from geodata.schemas import NeedIn, error_details
    from geodata.territory import load_territory
    from matcher import match as run_match

    from .index_cache import quick_index, sqlite_file
    from .live_model import LiveModel, quick_live_model

    if (need_file is None) == (need_id is None):
        typer.secho(
            "Donnez un fichier de besoin ou --need-id / give a need file or --need-id", err=True
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    settings = _match_settings(database_url)
    territory = load_territory(settings.territory)
    need: NeedIn
    try:
        if need_file is not None:
            raw = json.loads(need_file.read_text(encoding="utf-8"))
            need = NeedIn.model_validate(raw, context={"territory": territory})
    except (OSError, json.JSONDecodeError) as exc:
        typer.secho(str(exc), err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    except ValidationError as exc:
        for e in error_details(exc):
            typer.secho(f"{e['field']}: {e['reason']}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    from geodata.freshness import hidden_before

    now = datetime.now(UTC)
    # As POST /match: listings unconfirmed for more than freshness.hide_days are left out.
    since = hidden_before(now, settings.freshness.hide_days)
    # The index an earlier run built and kept, when the catalogue has not changed since
    # (IMPLANTER_DATABASE__INDEX_CACHE), and the promoted model: found without opening the
    # repository.
    index: MatchIndex | None = None
    live: LiveModel | None = None
    if need_file is not None:
        index = quick_index(settings.database.url, settings.database.index_cache, territory)
        file = sqlite_file(settings.database.url)
        if index is not None and file is not None:
            live = quick_live_model(file)
    if index is None or live is None:
        from geodata.storage.errors import NotFoundError
        from geodata.storage.models import promoted_model

        from .matching import cached_index, index_cache_path

        repo = _open(database_url)
        if need_id is not None:
            try:
                need = repo.get_need(need_id)
            except NotFoundError as exc:
                typer.secho(str(exc), err=True)
                raise typer.Exit(EXIT_BAD_INPUT) from exc
        if index is None:
            path = index_cache_path(settings.database.index_cache, repo)
            index = cached_index(repo, territory, path)
        with repo.connect() as conn:
            model = promoted_model(conn)
        live = LiveModel(None, None) if model is None else LiveModel(model.id, model.weights)
    # As the API ranks: by the promoted model, the default weights when none is.
    result = run_match(
        index, need, k=k, lang=lang.value, verified_since=since, now=now, ranker=live.ranker
    )
    if as_json:
        body = {**result.to_dict(), "model": live.to_dict(lang.value)}
        typer.echo(json.dumps(body, ensure_ascii=False, default=str, indent=2))
        return
    typer.echo(_format_match(result, lang.value, live.text(lang.value)))


def _format_match(result: Any, lang: str, model: str) -> str:
    from matcher.explain import criterion_label

    fr = lang == "fr"
    d = result.diagnostics
    lines = [
        (
            f"{d.n_matching} local(aux) sur {d.n_matchable} disponibles répondent aux critères "
            "obligatoires."
            if fr
            else f"{d.n_matching} of {d.n_matchable} available premises meet the required criteria."
        ),
        f"Classé par : {model}" if fr else f"Ranked by: {model}",
    ]
    for item in result.results:
        lines.append(f"\n{item.rank}. {item.title} — {item.score:.0f}/100 (#{item.listing_id})")
        for reason in item.reasons.get(lang, []):
            lines.append(f"   - {reason}")
        share = f"{item.completeness:.0%}"
        lines.append(
            f"   ({'annonce renseignée à' if fr else 'listing completeness'} {share}"
            + (
                f", {'vérifiée il y a' if fr else 'verified'} {item.verified_age_days:.0f} "
                f"{'jours' if fr else 'days ago'})"
                if item.verified_age_days is not None
                else ")"
            )
        )
    excluded = {c: n for c, n in d.excluded.items() if n}
    if excluded:
        head = "Exclus par critère obligatoire :" if fr else "Excluded by required criterion:"
        counts = ", ".join(f"{criterion_label(c, lang)} {n}" for c, n in excluded.items())
        lines.append("\n" + head + " " + counts)
    if result.relaxations:
        lines.append("\n" + ("Pour élargir la recherche :" if fr else "To widen the search:"))
        for r in result.relaxations:
            lines.append(f"   - {r.text[lang]}")
    return "\n".join(lines)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    database_url: DbOption = None,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1)] = 1,
    reload: Annotated[bool, typer.Option(help="Reload on code change (development).")] = False,
) -> None:
    """Serve the API (demo catalogue loaded on first run of an empty database)."""
    import os

    import uvicorn

    if database_url:
        # uvicorn's factory builds Settings() in each worker from the environment.
        os.environ["IMPLANTER_DATABASE__URL"] = database_url
    # Create and migrate the database once, before the workers start.
    from geodata.territory import load_territory

    from .main import open_catalogue
    from .middleware import SERVER_OPTIONS

    settings = _settings(database_url)
    open_catalogue(settings, load_territory(settings.territory)).dispose()
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        # No `server: uvicorn` header; the app logs each request itself, with secrets redacted.
        **SERVER_OPTIONS,
    )


@app.command()
def worker(
    database_url: DbOption = None,
    once: Annotated[
        bool, typer.Option(help="Deliver what is due now, then exit (for cron or a test).")
    ] = False,
) -> None:
    """Deliver the alerts outbox to the accounts' webhooks until stopped (Ctrl-C).

    Any number of workers (and app processes with IMPLANTER_DELIVERY__IN_APP=true) may run
    on the same database; settings are IMPLANTER_DELIVERY__* (retries, timeout, pause).
    """
    import logging
    import signal
    import threading

    from .delivery import DeliveryReport, deliver_due
    from .reminders import ReminderSchedule

    settings = _settings(database_url)
    repo = _open(database_url)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    typer.echo(
        f"Livraison des alertes / delivering alerts from "
        f"{repo.engine.url.render_as_string(hide_password=True)}",
        err=True,
    )
    report = DeliveryReport()
    reminders = ReminderSchedule(repo, settings.freshness)
    try:
        while True:
            written = reminders()
            if written:
                typer.echo(f"{written} rappels écrits / reminders written", err=True)
            report = deliver_due(repo, settings.delivery)
            if once or stop.wait(settings.delivery.poll_seconds):
                break
    except KeyboardInterrupt:
        pass
    finally:
        repo.dispose()
    if once:
        typer.echo(
            f"{report.delivered} livrées / delivered, {report.failed} en échec / failed, "
            f"{report.gave_up} abandonnées / given up"
        )


# -- accounts and API keys ----------------------------------------------------------------------

accounts_app = typer.Typer(
    help="Accounts (staff, developer, company).", no_args_is_help=True, rich_markup_mode=None
)
keys_app = typer.Typer(
    help="API keys: shown once, stored as a hash, revocable.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(accounts_app, name="accounts")
app.add_typer(keys_app, name="keys")


class Role(enum.StrEnum):
    """What an account may do."""

    staff = "staff"
    developer = "developer"
    company = "company"


def _refused(exc: Exception) -> typer.Exit:
    typer.secho(f"Refusé / refused: {exc}", err=True)
    return typer.Exit(EXIT_BAD_INPUT)


def _show_key(issued: Any, base_url: str = "http://127.0.0.1:8000") -> None:
    typer.echo(f"  clé API, affichée une seule fois / API key, shown once: {issued.key}")
    typer.echo(f"  curl -H 'Authorization: Bearer {issued.key}' {base_url}/me")


@accounts_app.command("create")
def accounts_create(
    email: Annotated[str, typer.Argument(help="The account's e-mail address.")],
    role: Annotated[Role, typer.Option(help="What the account may do.")],
    name: Annotated[
        str | None,
        typer.Option(help="Handle written in its listings' owner_account (default: the e-mail)."),
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option(help="Read a password (10 characters or more) from standard input.")
    ] = False,
    key: Annotated[bool, typer.Option(help="Also create an API key, shown once.")] = False,
    database_url: DbOption = None,
) -> None:
    """Create an account; a password is read from stdin only, never from the command line."""
    import sys

    from geodata.storage import accounts
    from geodata.storage.accounts import AccountError

    from .auth import hash_password, issue_key

    password_hash = None
    if password_stdin:
        try:
            password_hash = hash_password(sys.stdin.readline().rstrip("\n"))
        except ValueError as exc:
            raise _refused(exc) from exc
    repo = _open(database_url)
    try:
        with repo.begin() as conn:
            account = accounts.create_account(
                conn,
                name=name or email,
                email=email,
                role=role.value,
                password_hash=password_hash,
            )
            issued = issue_key(conn, account.id, label="created with the account") if key else None
    except AccountError as exc:
        raise _refused(exc) from exc
    typer.echo(f"compte / account {account.id}: {account.name} <{account.email}> ({account.role})")
    if issued is not None:
        _show_key(issued)


@accounts_app.command("list")
def accounts_list(database_url: DbOption = None) -> None:
    """List the accounts: id, name, e-mail, role, whether disabled."""
    from geodata.storage import accounts

    repo = _open(database_url)
    with repo.connect() as conn:
        rows = accounts.list_accounts(conn)
    for a in rows:
        state = "disabled" if a.disabled else "active"
        typer.echo(f"{a.id}\t{a.name}\t{a.email}\t{a.role}\t{state}")


@accounts_app.command("disable")
def accounts_disable(
    account: Annotated[str, typer.Argument(help="The account's id, e-mail or name.")],
    database_url: DbOption = None,
) -> None:
    """Disable an account: its keys, password and web sessions stop working at once."""
    from geodata.storage import accounts
    from geodata.storage.accounts import AccountError

    repo = _open(database_url)
    try:
        with repo.begin() as conn:
            done = accounts.set_disabled(conn, _ref(account))
    except AccountError as exc:
        raise _refused(exc) from exc
    typer.echo(f"compte désactivé / account disabled: {done.id} {done.name}")


def _ref(text: str) -> int | str:
    return int(text) if text.isdigit() else text


@keys_app.command("create")
def keys_create(
    account: Annotated[str, typer.Argument(help="The account's id, e-mail or name.")],
    label: Annotated[str | None, typer.Option(help="What the key is for.")] = None,
    database_url: DbOption = None,
) -> None:
    """Create an API key for an account; it is printed once and stored as a hash only."""
    from geodata.storage import accounts
    from geodata.storage.accounts import AccountError

    from .auth import issue_key

    repo = _open(database_url)
    try:
        with repo.begin() as conn:
            owner = accounts.find_account(conn, _ref(account))
            issued = issue_key(conn, owner.id, label=label)
    except AccountError as exc:
        raise _refused(exc) from exc
    typer.echo(f"clé / key {issued.id} ({issued.prefix}…) pour / for {owner.name}")
    _show_key(issued)


@keys_app.command("list")
def keys_list(
    account: Annotated[
        str | None, typer.Argument(help="Only this account's keys (id, e-mail or name).")
    ] = None,
    database_url: DbOption = None,
) -> None:
    """List the keys: id, prefix, account, label, last use, revocation (never the keys)."""
    from geodata.storage import accounts
    from geodata.storage.accounts import AccountError

    repo = _open(database_url)
    try:
        with repo.connect() as conn:
            owner_id = None if account is None else accounts.find_account(conn, _ref(account)).id
            rows = accounts.list_api_keys(conn, owner_id)
    except AccountError as exc:
        raise _refused(exc) from exc
    for k in rows:
        used = k.last_used_at.isoformat() if k.last_used_at else "never used"
        revoked = f"revoked {k.revoked_at.isoformat()}" if k.revoked_at else "live"
        typer.echo(f"{k.id}\t{k.prefix}…\t{k.account_id}\t{k.label or ''}\t{used}\t{revoked}")


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="The key's id or prefix (see `keys list`).")],
    database_url: DbOption = None,
) -> None:
    """Revoke an API key: requests with it get 401 from now on."""
    from geodata.storage import accounts
    from geodata.storage.accounts import AccountError

    repo = _open(database_url)
    try:
        with repo.begin() as conn:
            done = accounts.revoke_api_key(conn, _ref(key))
    except AccountError as exc:
        raise _refused(exc) from exc
    typer.echo(f"clé révoquée / key revoked: {done.id} ({done.prefix}…)")


def _demo_accounts(repo: Repository) -> None:
    """Create (or reuse) one demo account per role and print a fresh key and a fresh password
    for each, once (the key for the API, the password for the web pages at /login).

    The developer account takes the handle of the demo owner with the most listings, so it
    can edit those at once and gets 403 on the others.
    """
    import secrets

    import sqlalchemy as sa

    from geodata.storage import accounts
    from geodata.storage._tables import premises
    from geodata.storage.accounts import AccountError

    from .auth import hash_password, issue_key

    with repo.begin() as conn:
        owner = conn.execute(
            sa.select(premises.c.owner_account)
            .where(premises.c.owner_account.is_not(None))
            .group_by(premises.c.owner_account)
            .order_by(sa.func.count().desc(), premises.c.owner_account)
            .limit(1)
        ).scalar_one_or_none()
        names = {"staff": "demo-staff", "developer": owner or "demo-developer"}
        names["company"] = "demo-company"
        typer.echo("Comptes de démonstration / demo accounts:")
        for role, name in names.items():
            try:
                account = accounts.find_account(conn, name)
            except AccountError:
                account = accounts.create_account(
                    conn, name=name, email=f"{name}@demo.invalid", role=role
                )
            issued = issue_key(conn, account.id, label="implanter demo")
            password = secrets.token_urlsafe(12)
            accounts.set_password_hash(conn, account.id, hash_password(password))
            typer.echo(f"- {role}: {account.name} <{account.email}>")
            _show_key(issued)
            typer.echo(f"  mot de passe (pages, /login) / password: {password}")


# The `model` group lives in its own module, handed the opener and settings reader above.
app.add_typer(build_model_app(_open, _settings), name="model")


if __name__ == "__main__":  # pragma: no cover
    app()
