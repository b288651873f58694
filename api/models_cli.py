"""``implanter model``: simulate outcomes, train a ranking model, list the models, promote one.

Training reads the recorded outcomes (:mod:`geodata.storage.outcomes`) with the engine's
per-criterion utilities of each (need, listing) pair as they were shown (the current
catalogue's for a pair recorded without them; the report says how many), cross-validates
learned weights against the defaults by need (:mod:`matcher.calibration`) and saves the
model with its metrics, not promoted: the live ranking changes only with
``implanter model promote N`` (or ``POST /staff/models/{n}/promote``).

Like :mod:`api.cli`, this module imports only typer at load time; each command imports what
it uses. :func:`build_model_app` receives the command line's repository opener and settings
reader, so that this module does not import :mod:`api.cli`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from geodata.schemas import Need
    from geodata.storage import Repository
    from matcher import MatchIndex

    from .settings import Settings

__all__ = ["build_model_app"]

EXIT_BAD_INPUT = 1

DbOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        "-d",
        help="SQLAlchemy URL (default: IMPLANTER_DATABASE__URL or sqlite:///var/implanter.db).",
    ),
]


def build_model_app(
    open_repo: Callable[[str | None], Repository], settings_of: Callable[[str | None], Settings]
) -> typer.Typer:
    """The ``model`` sub-command group, on the command line's opener and settings."""
    model_app = typer.Typer(
        help="Ranking models learned from outcomes: simulate, train, list, promote.",
        no_args_is_help=True,
        rich_markup_mode=None,
    )

    def _index_and_needs(database_url: str | None) -> tuple[Repository, MatchIndex, list[Need]]:
        from geodata.territory import load_territory

        from .matching import build_index

        repo = open_repo(database_url)
        territory = load_territory(settings_of(database_url).territory)
        return repo, build_index(repo, territory), repo.all_needs(active=None)

    @model_app.command("simulate")
    def simulate(
        database_url: DbOption = None,
        seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same outcomes.")] = 0,
        shown: Annotated[int, typer.Option(help="Listings shown per need.", min=2)] = 20,
    ) -> None:
        """Record outcomes simulated from hidden preferences (demo data only)."""
        import numpy as np

        from geodata.storage import outcomes
        from matcher.simulate import simulate_outcomes

        repo, index, needs = _index_and_needs(database_url)
        sim = simulate_outcomes(index, needs, seed=seed, shown=shown)
        ids = np.array([n.id for n in needs], dtype=np.int64)
        need_ids = ids[sim.need_positions].tolist()
        pids = sim.premises_ids.tolist()
        # In bulk: the same rows and audit trail as recording each event in turn.
        with repo.begin() as conn:
            outcomes.record_batch(
                conn,
                list(
                    zip(
                        need_ids,
                        pids,
                        sim.ranks.tolist(),
                        sim.scores.tolist(),
                        sim.utility_maps(),
                        strict=True,
                    )
                ),
                [(int(ids[pos]), p, e, r) for pos, p, e, r in sim.events if e != "shown"],
                actor="simulation",
            )
        n_needs = len(set(sim.need_positions.tolist()))
        typer.echo(
            f"{len(sim.levels)} propositions simulées pour {n_needs} besoins, "
            f"{len(sim.events)} événements / simulated proposals and events (seed {seed})"
        )

    @model_app.command("train")
    def train(
        database_url: DbOption = None,
        folds: Annotated[int, typer.Option(help="Cross-validation folds (by need).", min=2)] = 5,
        seed: Annotated[int, typer.Option(help="Seed of pairs and bootstrap.")] = 0,
        source: Annotated[str, typer.Option(help="Where the outcomes come from.")] = "outcomes",
    ) -> None:
        """Train a model on the recorded outcomes, evaluate it and save it (not promoted)."""
        from geodata.storage import models, outcomes
        from matcher.calibration import calibrate

        repo, index, needs = _index_and_needs(database_url)
        with repo.connect() as conn:
            rows = outcomes.training_outcomes(conn)
            as_shown = outcomes.recorded_utilities(conn)
        try:
            report = calibrate(
                index, needs, rows, as_shown=as_shown, n_splits=folds, random_state=seed
            )
        except ValueError as exc:
            typer.secho(f"Refusé / refused: {exc}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from exc
        with repo.begin() as conn:
            saved = models.add_model(
                conn,
                weights=report.weights,
                metrics=report.to_dict(),
                training_size=report.n_rows,
                n_needs=report.n_needs,
                source=source,
                actor="cli",
            )
        typer.echo(
            f"Modèle {saved.id} enregistré, non promu / model {saved.id} saved, not promoted"
        )
        typer.echo(f"  {report.n_rows} issues, {report.n_needs} besoins / outcomes, needs")
        typer.echo(
            f"  caractéristiques / features: {report.n_as_shown} telles que montrées / as "
            f"shown, {report.n_from_catalogue} du catalogue actuel, faute d'enregistrement / "
            f"from today's catalogue, none recorded; {report.n_left_out} écartées / left out"
        )
        for name, d in report.metrics.items():
            typer.echo(
                f"  {name}: défaut/default {d['default']}, appris/learned {d['learned']}, "
                f"écart/difference {d['difference']}"
            )
        weights = ", ".join(f"{k} {v:.1f}" for k, v in report.weights.items())
        typer.echo(f"  poids / weights: {weights}")

    @model_app.command("list")
    def list_models(database_url: DbOption = None) -> None:
        """List the saved models, newest first; * marks the promoted one."""
        from geodata.storage import models

        repo = open_repo(database_url)
        with repo.connect() as conn:
            items = models.list_models(conn)
        if not items:
            typer.echo(
                "Aucun modèle ; la pondération par défaut classe / no model: default weights"
            )
        for m in items:
            ndcg = m.metrics.get("metrics", {}).get("ndcg@10", {})
            diff = ndcg.get("difference", {})
            gain = f"{diff['mean']:+.3f} [{diff['low']:+.3f}, {diff['high']:+.3f}]" if diff else "?"
            typer.echo(
                f"{'*' if m.promoted else ' '} {m.id}  {m.created_at:%Y-%m-%d %H:%M}  "
                f"{m.training_size} issues/outcomes  NDCG@10 {gain}  {m.source}"
            )

    @model_app.command("promote")
    def promote(
        version: Annotated[
            str, typer.Argument(help="The model's version, or 'default' for the default weights.")
        ],
        database_url: DbOption = None,
    ) -> None:
        """Make a model the one the live ranking uses ('default': the default weights)."""
        from geodata.storage import models
        from geodata.storage.errors import NotFoundError

        if version != "default" and not version.isdigit():
            typer.secho(
                f"version : {version!r} n'est ni un numéro de modèle ni 'default' / "
                "version: not a model number nor 'default'",
                err=True,
            )
            raise typer.Exit(EXIT_BAD_INPUT)
        repo = open_repo(database_url)
        try:
            with repo.begin() as conn:
                models.promote(conn, None if version == "default" else int(version), actor="cli")
        except NotFoundError as exc:
            typer.secho(f"Refusé / refused: {exc}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from exc
        which = (
            "la pondération par défaut / the default weights"
            if version == "default"
            else (f"le modèle {version} / model {version}")
        )
        typer.echo(f"Le classement utilise désormais {which}")

    return model_app
