"""The ``implanter`` command line, run as a user would, as a real subprocess."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from geodata.storage import Repository

IMPLANTER = [sys.executable, "-m", "api.cli"]


def run(*args: str, env_db: Path | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [*IMPLANTER, *args]
    if env_db is not None:
        cmd += ["--database-url", f"sqlite:///{env_db}"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.parametrize("command", ["init-db", "demo", "import", "export", "serve"])
def test_every_command_has_help(command: str) -> None:
    r = run(command, "--help")
    assert r.returncode == 0, r.stderr
    assert "Usage" in r.stdout


def test_init_db_demo_export(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    r = run("init-db", env_db=db)
    assert r.returncode == 0, r.stderr
    assert db.exists()
    r = run("demo", "--premises", "320", "--needs", "150", env_db=db)
    assert r.returncode == 0, r.stderr
    again = run("demo", env_db=db)
    assert again.returncode == 1
    assert "--force" in again.stderr
    out = tmp_path / "out.csv"
    r = run("export", str(out), env_db=db)
    assert r.returncode == 0, r.stderr
    with out.open(encoding="utf-8") as fh:
        assert sum(1 for _ in csv.DictReader(fh)) == 320


def _rows(n: int, bad_row: int | None = None) -> list[dict[str, str]]:
    rows = []
    for i in range(n):
        rows.append(
            {
                "référence": f"CLI-{i:04d}",
                "titre": f"Local d'activité {i}",
                "type": "atelier",
                "usages": "production, artisanat",
                # Neighbours differ by more than 10 % in surface: no probable duplicates.
                "surface (m²)": f"{200 + (i % 2) * 600 + i % 7},5",
                "loyer €/m²/an": "135",
                "transaction": "location",
                "longitude": f"{2.3750 + (i % 40) * 0.0004:.5f}",
                "latitude": f"{48.8000 + (i // 40) * 0.0003:.5f}",
            }
        )
    if bad_row is not None:
        rows[bad_row]["surface (m²)"] = "douze"
    return rows


def _write_french_csv(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), delimiter=";")
        w.writeheader()
        w.writerows(rows)


def test_import_1000_rows_with_one_bad_row(tmp_path: Path) -> None:
    db = tmp_path / "imp.db"
    assert run("init-db", env_db=db).returncode == 0
    src = tmp_path / "annonces.csv"
    _write_french_csv(src, _rows(1000, bad_row=616))
    r = run("import", str(src), env_db=db)
    assert r.returncode == 1
    # Data row 617 is line 618 of the file (the header is line 1).
    assert "618" in r.stdout + r.stderr
    assert "surface_m2" in r.stdout + r.stderr
    repo = Repository(f"sqlite:///{db}")
    assert repo.counts()["premises"] == 0
    repo.dispose()
    r = run("import", str(src), "--skip-invalid", env_db=db)
    assert r.returncode == 0, r.stdout + r.stderr
    repo = Repository(f"sqlite:///{db}")
    assert repo.counts()["premises"] == 999
    repo.dispose()


def test_import_notifies_the_saved_searches_it_newly_fits(db_url: str, tmp_path: Path) -> None:
    """``implanter import`` alerts saved searches as the API does, and says how many: a
    dry run and a refused file notify no one; importing again notifies no one again."""
    from geodata.schemas import NeedIn
    from geodata.storage import needs, outbox

    repo = Repository(db_url)
    with repo.begin() as conn:
        [need] = needs.add_many_needs(
            conn,
            [
                NeedIn(
                    company_name="PME Cli",
                    owner_account="pme-cli",
                    surface_min_m2=2230,
                    surface_max_m2=2250,
                    uses=["production"],
                    max_rent_eur_m2_year=150,
                )
            ],
            actor="fixture",
        )

    def notes() -> list[tuple[int | None, int | None]]:
        with repo.connect() as conn:
            items = outbox.list_notifications(conn, "pme-cli", limit=100).items
        return [(n.need_id, n.premises_id) for n in items]

    rows = _rows(1200)
    rows[700]["surface (m²)"] = "2240"
    src = tmp_path / "annonces.csv"
    _write_french_csv(src, rows)
    bad = tmp_path / "mauvaises.csv"
    _write_french_csv(bad, _rows(1200, bad_row=3)[:700] + rows[700:])
    cli = [*IMPLANTER, "import", "--database-url", db_url]

    def imp(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*cli, *args], capture_output=True, text=True, timeout=300)

    dry = imp(str(src), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "Alertes" not in dry.stdout and notes() == []
    refused = imp(str(bad))
    assert refused.returncode == 1 and notes() == []
    done = imp(str(src))
    assert done.returncode == 0, done.stderr
    assert "Alertes : 1 notification(s) écrite(s)" in done.stdout
    listing = repo.premises_by_refs(["CLI-0700"])["CLI-0700"]
    assert notes() == [(need.id, listing.id)]
    for row in rows:
        row["loyer €/m²/an"] = "130"
    _write_french_csv(src, rows)
    again = imp(str(src), "--lang", "en")
    assert again.returncode == 0, again.stderr
    assert "Alerts: 0 notification(s) written" in again.stdout
    assert repo.get_premises(listing.id).rent_eur_m2_year == 130
    assert len(notes()) == 1
    repo.dispose()


def test_import_a_chosen_sheet_of_a_workbook(tmp_path: Path) -> None:
    import pandas as pd

    db = tmp_path / "xlsx.db"
    assert run("init-db", env_db=db).returncode == 0
    src = tmp_path / "annonces.xlsx"
    with pd.ExcelWriter(src, engine="openpyxl") as writer:
        pd.DataFrame(_rows(3)).to_excel(writer, sheet_name="2025", index=False)
        pd.DataFrame(_rows(5)).to_excel(writer, sheet_name="2026", index=False)
    r = run("import", str(src), "--sheet", "2027", env_db=db)
    assert r.returncode == 1
    assert "1 « 2025 », 2 « 2026 »" in r.stderr
    r = run("import", str(src), "--sheet", "2026", env_db=db)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "feuille 2026" in r.stdout
    repo = Repository(f"sqlite:///{db}")
    assert repo.counts()["premises"] == 5
    repo.dispose()


def test_missing_file_and_unreachable_database(tmp_path: Path) -> None:
    r = run("import", str(tmp_path / "nope.csv"), env_db=tmp_path / "x.db")
    assert r.returncode == 1
    assert "nope.csv" in r.stderr
    r = subprocess.run(
        [
            *IMPLANTER,
            "init-db",
            "--database-url",
            "postgresql+psycopg://nobody@127.0.0.1:1/none",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 3
    assert "unreachable" in r.stderr


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("match") / "demo.db"
    assert run("demo", env_db=db).returncode == 0
    return db


def test_match_storage_near_rungis_reads_like_prose(demo_db: Path, tmp_path: Path) -> None:
    need = {
        "company_name": "Primeurs Démo",
        "surface_min_m2": 800,
        "surface_max_m2": 1200,
        "uses": ["logistics"],
        "tenure": "rent",
        "max_rent_eur_m2_year": 90,
        "places": [{"label": "MIN de Rungis", "lon": 2.355, "lat": 48.759}],
    }
    path = tmp_path / "need.json"
    path.write_text(json.dumps(need), encoding="utf-8")
    r = run("match", str(path), "-k", "5", env_db=demo_db)
    assert r.returncode == 0, r.stderr
    # French typography: no-break spaces before units and colons, narrow ones in numbers.
    text = r.stdout.replace("\u00a0", " ").replace("\u202f", " ")
    assert "1. " in text and "5. " in text
    assert "/100" in text
    assert "votre besoin : 800 à 1 200 m²" in text
    assert "de « MIN de Rungis »" in text
    assert "dans votre plafond de 90 €" in text
    out = run("match", str(path), "-k", "5", "--json", env_db=demo_db)
    body = json.loads(out.stdout)
    scores = [item["score"] for item in body["results"]]
    assert len(scores) == 5 and scores == sorted(scores, reverse=True)


def test_impossible_need_gets_no_result_and_a_relaxation(demo_db: Path, tmp_path: Path) -> None:
    need = {
        "company_name": "Géant Démo",
        "surface_min_m2": 50000,
        "surface_max_m2": 60000,
        "uses": ["logistics"],
        "communes": ["94037"],
        "required": ["surface", "use", "location"],
    }
    path = tmp_path / "big.json"
    path.write_text(json.dumps(need), encoding="utf-8")
    body = json.loads(run("match", str(path), "--json", env_db=demo_db).stdout)
    assert body["results"] == []
    assert body["relaxations"] and all(r["brings"] > 0 for r in body["relaxations"])
    r = run("match", str(path), env_db=demo_db)
    assert "0 local(aux)" in r.stdout and "Pour élargir la recherche" in r.stdout
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**need, "surface_min_m2": 70000}), encoding="utf-8")
    r = run("match", str(bad), env_db=demo_db)
    assert r.returncode == 1 and "surface_min_m2" in r.stderr


def test_french_output_has_no_english_criterion_key(demo_db: Path, tmp_path: Path) -> None:
    need = {
        "company_name": "Labo Démo",
        "surface_min_m2": 900,
        "surface_max_m2": 1100,
        "uses": ["lab_rd"],
        "communes": ["94037"],
        "wanted_by": "2026-01-15",
        "max_station_distance_m": 400,
        "required": ["surface", "use", "location", "access", "availability"],
    }
    path = tmp_path / "lab.json"
    path.write_text(json.dumps(need), encoding="utf-8")
    fr = run("match", str(path), env_db=demo_db).stdout
    assert "Exclus par critère obligatoire" in fr
    keys = r"\b(use|location|access|technical|availability) \d"  # surface, budget: both
    assert not re.search(keys, fr), fr
    assert re.search(r"\busage \d", fr) and re.search(r"\blocalisation \d", fr)
    en = run("match", str(path), "--lang", "en", env_db=demo_db).stdout
    assert "Excluded by required criterion" in en and re.search(r"\buse \d", en)


def test_demo_twice_with_force_says_why_without_a_traceback(demo_db: Path) -> None:
    r = run("demo", "--force", env_db=demo_db)
    assert r.returncode == 1
    assert "DEMO-0001" in r.stderr and "already used" in r.stderr
    assert "Traceback" not in r.stdout + r.stderr


# -- a second territory, selected with IMPLANTER_TERRITORY -----------------------------------

VALLEE = Path(__file__).resolve().parent / "data" / "territories" / "vallee-chimie"


def run_in(territory: Path, *args: str, db: Path) -> subprocess.CompletedProcess[str]:
    """Run the command line with ``IMPLANTER_TERRITORY`` set to a territory folder."""
    import os

    env = {**os.environ, "IMPLANTER_TERRITORY": str(territory)}
    cmd = [*IMPLANTER, *args, "--database-url", f"sqlite:///{db}"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False, env=env)


def test_another_territory_imports_matches_and_exports(tmp_path: Path) -> None:
    db = tmp_path / "vallee.db"
    rows = [
        {
            "référence": f"VAL-{i}",
            "titre": f"Entrepôt {i}",
            "type": "entrepôt",
            "usages": "stockage",
            "surface (m²)": f"{1000 + 150 * i}",
            "loyer €/m²/an": "80",
            "transaction": "location",
            "commune": commune,
            "longitude": lon,
            "latitude": lat,
        }
        for i, (commune, lon, lat) in enumerate(
            [
                ("VENISSIEUX", "4.8853", "45.6968"),
                ("vénissieux", "4.8880", "45.7040"),
                ("Saint Fons", "4.8527", "45.7092"),
                ("69276", "4.8564", "45.6695"),
            ]
        )
    ]
    src = tmp_path / "annonces.csv"
    _write_french_csv(src, rows)
    r = run_in(VALLEE, "import", str(src), db=db)
    assert r.returncode == 0, r.stdout + r.stderr
    repo = Repository(f"sqlite:///{db}")
    communes = sorted(p.commune_insee for p in repo.list_premises(limit=10).items)
    repo.dispose()
    assert communes == ["69199", "69259", "69259", "69276"]

    gosb_file = tmp_path / "gosb.csv"
    _write_french_csv(gosb_file, _rows(1))  # a listing in GOSB is outside this territory
    refused = run_in(VALLEE, "import", str(gosb_file), db=db)
    assert refused.returncode == 1 and "Vallée de la chimie" in refused.stdout + refused.stderr

    need = {
        "company_name": "Stockage Démo",
        "surface_min_m2": 900,
        "surface_max_m2": 1400,
        "uses": ["logistics"],
        "communes": ["Vénissieux", "SAINT-FONS"],
        "required": ["surface", "use", "location"],
    }
    need_path = tmp_path / "need.json"
    need_path.write_text(json.dumps(need), encoding="utf-8")
    r = run_in(VALLEE, "match", str(need_path), "--json", db=db)
    assert r.returncode == 0, r.stderr
    found = json.loads(r.stdout)["results"]
    assert sorted(item["title"] for item in found) == ["Entrepôt 0", "Entrepôt 1", "Entrepôt 2"]
    need_path.write_text(json.dumps({**need, "communes": ["Venisieux"]}), encoding="utf-8")
    wrong = run_in(VALLEE, "match", str(need_path), db=db)
    assert wrong.returncode == 1 and "communes" in wrong.stderr
    assert "Vénissieux (69259)" in wrong.stderr

    out = tmp_path / "export.csv"
    assert run_in(VALLEE, "export", str(out), db=db).returncode == 0
    with out.open(encoding="utf-8") as fh:
        assert len(list(csv.DictReader(fh))) == 4
    cnig = tmp_path / "cnig"
    r = run_in(VALLEE, "export", str(cnig), "--format", "cnig", db=db)
    assert r.returncode == 0, r.stderr
    site = (cnig / "site-eco.csv").read_text(encoding="utf-8")
    terrain = (cnig / "terrain-eco.csv").read_text(encoding="utf-8")
    # No zone: each listing is a land unit of the diffuse site of its commune.
    assert "4 annonce(s) : 0 dans 0 zone(s) d'activité, 4 hors zone" in r.stdout
    assert site.startswith("site_id") and "_SITE-ECO_DIFFUS;" in site
    assert len(terrain.splitlines()) == 1 + 4


def test_demo_on_another_territory_is_drawn_from_its_layers(tmp_path: Path) -> None:
    db = tmp_path / "vallee-demo.db"
    r = run_in(VALLEE, "demo", "--premises", "40", "--needs", "10", db=db)
    assert r.returncode == 0, r.stderr
    repo = Repository(f"sqlite:///{db}")
    communes = {p.commune_insee for p in repo.list_premises(limit=100).items}
    repo.dispose()
    assert communes == {"69199", "69259", "69276", "69296"}
