"""Reasons in French and English, with each language's number formatting."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest
from matcher_data import NOW, STATIONS, need

import geopandas as gpd
import shapely

from matcher import MatchIndex, Reason, match
from matcher.explain import fmt_area, fmt_date, fmt_distance, fmt_money, fmt_number, render

NNBSP, NBSP = "\u202f", "\u00a0"


def test_french_number_formatting() -> None:
    assert fmt_number(3200) == f"3{NNBSP}200"
    assert fmt_number(1_234_567.891, "fr", 2) == f"1{NNBSP}234{NNBSP}567,89"
    assert fmt_number(1_234_567.891, "en", 2) == "1,234,567.89"
    assert fmt_area(3200) == f"3{NNBSP}200{NBSP}m²"
    assert fmt_distance(1200) == f"1,2{NBSP}km"
    assert fmt_distance(1200, "en") == f"1.2{NBSP}km"
    assert fmt_distance(640) == f"640{NBSP}m"
    assert fmt_distance(2000) == f"2{NBSP}km"
    assert fmt_money(95, "fr", "/m²/an") == f"95{NBSP}€/m²/an"
    assert fmt_money(1_500_000, "en") == "€1,500,000"
    assert fmt_date(date(2026, 1, 1)) == "1er janvier 2026"
    assert fmt_date(date(2026, 8, 15)) == "15 août 2026"


def _one_listing(**overrides: object) -> MatchIndex:
    row = {
        "kind": "warehouse",
        "uses": "logistics",
        "surface_m2": 3200.0,
        "divisible": True,
        "min_lot_m2": 800.0,
        "tenure": "rent",
        "rent_eur_m2_year": 95.0,
        "status": "available",
        "commune_insee": "94065",
        "lon": 2.3600,
        "lat": 48.7550,
        "title": "Entrepôt de Rungis",
        "last_verified_at": pd.Timestamp("2026-05-01", tz="UTC"),
        "available_from": pd.NaT,
        "ceiling_height_m": 9.5,
        "loading_docks": 4.0,
        "icpe_allowed": True,
    }
    row.update(overrides)
    frame = pd.DataFrame([row], index=pd.Index([7], name="id"))
    gdf = gpd.GeoDataFrame(frame, geometry=shapely.points(frame["lon"], frame["lat"]), crs=4326)
    return MatchIndex.from_frame(gdf, stations=STATIONS, commune_names={"94065": "Rungis"})


def test_reasons_read_like_the_examples() -> None:
    idx = _one_listing()
    # the current site is 1.2 km away (about 0.0163° of latitude)
    site = {"label": "Site actuel", "lon": 2.3600, "lat": 48.7550 + 1200 / 111_200}
    n = need(
        surface_min_m2=900,
        surface_max_m2=900,
        places=[site],
        required=["surface"],
        max_station_distance_m=2000,
        min_ceiling_height_m=8,
        min_loading_docks=2,
        needs_icpe=True,
        wanted_by=date(2026, 9, 1),
        communes=["94065"],
    )
    result = match(idx, n, k=5, now=NOW)
    (item,) = result.results
    fr, en = item.reasons["fr"], item.reasons["en"]
    assert f"3{NNBSP}200{NBSP}m² divisible dès 800{NBSP}m² — votre besoin{NBSP}: 900{NBSP}m²" in fr
    assert "3,200\u00a0m² divisible from 800\u00a0m² — you need 900\u00a0m²" in en
    assert any(
        r.startswith(f"loyer 95{NBSP}€/m²/an, au-dessus de votre plafond de 90{NBSP}€") for r in fr
    )
    assert any("above your ceiling of €90" in r for r in en)
    assert f"à 1,2{NBSP}km de votre site actuel" in fr
    assert f"1.2{NBSP}km from your current site" in en
    assert "à Rungis (94065), dans vos communes" in fr
    assert any(r.startswith(f"gare la plus proche{NBSP}: ") for r in fr)
    assert any("hauteur sous plafond 9,5" in r and "ICPE autorisée" in r for r in fr)
    assert "disponible immédiatement" in fr
    # the annual total the rent implies for the surface taken (900 m²)
    assert any(f"85{NNBSP}500{NBSP}€/an pour 900{NBSP}m²" in r for r in fr)
    assert len(fr) == len(en) == len(set(fr))


def test_reasons_say_what_is_unknown() -> None:
    idx = _one_listing(rent_eur_m2_year=np.nan, ceiling_height_m=np.nan, uses="", icpe_allowed=None)
    n = need(min_ceiling_height_m=8, needs_icpe=True, required=[])
    (item,) = match(idx, n, k=5, now=NOW).results
    text = " | ".join(item.reasons["fr"])
    assert "loyer non communiqué" in text
    assert f"hauteur sous plafond{NBSP}: non renseigné" in text
    assert "usages non précisés" in text
    assert "ICPE" in text and "non précisé" in text
    assert set(item.missing) == {"rent_eur_m2_year", "ceiling_height_m", "uses", "icpe_allowed"}
    en = " | ".join(item.reasons["en"])
    assert "rent not stated" in en and "ceiling height: not stated" in en


def test_reasons_for_a_sale_and_a_wrong_tenure() -> None:
    idx = _one_listing(tenure="sale", rent_eur_m2_year=np.nan, sale_price_eur=3_200_000.0)
    (item,) = match(
        idx,
        need(tenure="either", max_rent_eur_m2_year=None, max_sale_price_eur=1_000_000, required=[]),
        k=1,
        now=NOW,
    ).results
    assert (
        f"prix de vente 800{NNBSP}000{NBSP}€ pour 800{NBSP}m² (au prorata), dans votre "
        f"budget de 1{NNBSP}000{NNBSP}000{NBSP}€"
    ) in item.reasons["fr"]
    (item,) = match(idx, need(required=[]), k=1, now=NOW).results
    assert "proposé à la vente seulement, vous cherchez à louer" in item.reasons["fr"]
    assert item.utilities["budget"] == 0.0


def test_one_language_on_request() -> None:
    idx = _one_listing()
    (item,) = match(idx, need(required=[]), k=1, now=NOW, lang="en").results
    assert list(item.reasons) == ["en"]
    with pytest.raises(ValueError, match="lang"):
        match(idx, need(), lang="de")


def test_reasons_are_data_with_both_texts(index: MatchIndex) -> None:
    n = need(communes=["94041"], max_station_distance_m=800, min_ceiling_height_m=6)
    result = match(index, n, k=5, now=NOW, lang="fr")
    for item in result.results:
        assert set(item.reasons) == {"fr"}
        assert [d["text"]["fr"] for d in item.reason_details] == item.reasons["fr"]
        for d in item.reason_details:
            assert set(d) == {"criterion", "code", "params", "text"}
            assert set(d["text"]) == {"fr", "en"} and d["text"]["en"]
            again = Reason(d["criterion"], d["code"], d["params"])
            assert render(again, "en") == d["text"]["en"]  # the data alone gives the text
        assert {d["criterion"] for d in item.reason_details} >= {"surface", "location"}
    json.dumps(result.to_dict(), ensure_ascii=False)  # JSON-ready without a fallback
