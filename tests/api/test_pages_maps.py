"""The map helper: local assets only, the nonce on the map's script, user text kept as data."""

from __future__ import annotations

import re

import folium
import pytest

from api import maps
from api.pages import policy_with_nonce, switch_lang, url_with_lang
from api.settings import MapSettings

EVIL = "<img src=x onerror=alert(1)>`${alert(2)}`</script>"


def _parts(**layer: object) -> maps.MapParts:
    m = maps.new_map(MapSettings(tiles_url="https://tiles.example.org/{z}/{x}/{y}.png"))
    data = maps.point_features([2.39], [48.78], [{"id": 7, "title": EVIL, "href": "/locaux/7"}])
    maps.PointsLayer(data, link_text="Voir", **layer).add_to(m)  # type: ignore[arg-type]
    maps.heat_map([[48.78, 2.39, 1.0]]).add_to(m)
    maps.marker_cluster().add_to(m)
    return maps.render_map(m, "n0nce")


@pytest.mark.skipif(not maps.vendor_available(), reason="make vendor not run")
def test_a_map_loads_only_the_apps_assets_and_its_script_carries_the_nonce() -> None:
    parts = _parts(cluster=True)
    page = parts.css + parts.html + parts.scripts
    urls = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert urls, page
    assert all(u.startswith("/static/app/") for u in urls), urls
    for needed in ("leaflet/leaflet.js", "supercluster/supercluster.min.js", "maps.js"):
        assert any(u.endswith(needed) for u in urls), needed
    assert "heat/leaflet-heat.js" in page
    assert "markercluster/leaflet.markercluster.js" in page and "MarkerCluster.css" in page
    assert "cdn" not in page.lower() and "jquery" not in page.lower()
    # One inline script, with the nonce; the markers are a JSON data block (not executed).
    inline = re.findall(r"<script(?![^>]*\b(?:src|type)=)([^>]*)>", page)
    assert inline == [' nonce="n0nce"'], inline
    assert len(re.findall(r'<script type="application/json" id="[^"]+">', page)) == 1
    # The configured tiles, and no folium page-wide style or meta.
    assert "https://tiles.example.org/{z}/{x}/{y}.png" in page
    assert "<style" not in page and "<meta" not in page
    assert f'id="{parts.name}"' in parts.html


@pytest.mark.skipif(not maps.vendor_available(), reason="make vendor not run")
def test_user_text_reaches_the_page_only_as_escaped_json() -> None:
    parts = _parts()
    page = str(parts.html + parts.scripts)
    assert EVIL not in page
    block = page.split('type="application/json"', 1)[1].split(">", 1)[1]
    assert block.index("</script>") > block.index("onerror")  # no early end of the block
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in block


def test_folium_defaults_are_not_changed_for_later_maps() -> None:
    maps.new_map(MapSettings())
    maps.marker_cluster()
    assert any("cdn" in url for _, url in folium.Map.default_js)
    assert any("cdn" in url for _, url in folium.plugins.MarkerCluster.default_js)


def test_without_the_assets_the_map_is_a_note_and_the_reason_is_logged(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(maps, "VENDOR_DIR", tmp_path)
    maps.vendor_available.cache_clear()
    try:
        parts = _parts()
    finally:
        maps.vendor_available.cache_clear()
    assert "map-missing" in parts.html
    assert parts.scripts == ""
    assert "make vendor" in caplog.text


def test_links_keep_the_language_and_the_policy_gets_the_nonce() -> None:
    assert url_with_lang("/recherche", "en", {"commune": ["94041", "94081"]}) == (
        "/recherche?commune=94041&commune=94081&lang=en"
    )
    assert switch_lang("surface_min=500&lang=en", "fr") == "?surface_min=500&lang=fr"
    policy = policy_with_nonce("default-src 'self'; script-src 'self'; object-src 'none'", "x")
    assert "script-src 'self' 'nonce-x';" in policy
    assert "unsafe-inline" not in policy


def test_template_syntax_in_data_is_never_evaluated_on_the_server() -> None:
    """branca compiles folium's rendered scripts as Jinja templates: data must stay out."""
    title = '{{ "ev" ~ "aluated" }} {{ cycler.__init__.__globals__.os.name }} {% raw %}'
    m = maps.new_map(MapSettings())
    data = maps.point_features([2.39], [48.78], [{"id": 1, "title": title, "lines": []}])
    maps.PointsLayer(data).add_to(m)
    folium.GeoJson(
        {"type": "FeatureCollection", "features": [dict(data["features"][0])]},
        tooltip=folium.GeoJsonTooltip(fields=["title"]),
    ).add_to(m)
    parts = maps.render_map(m, "n")
    page = parts.html + parts.scripts
    assert "evaluated" not in page and "posix" not in page
    # The points layer's data block keeps the title as it is (JSON, never executed).
    assert '"title":"{{ \\"ev\\" ~ \\"aluated\\" }} {{ cycler' in page
    # folium's own layer gets the braces as entities (an innerHTML tooltip shows them),
    # its "&" written \u0026 by folium's tojson.
    assert '\\u0026#123;\\u0026#123; \\"ev\\" ~ \\"aluated\\" \\u0026#125;' in page


def test_listings_json_written_as_text_is_the_same_as_serialising_the_features(
    client: object,
) -> None:
    """The text written straight from the index's columns equals the dicts serialised, for
    every listing of the demo and for a hostile title, scores and colours."""
    import json

    import numpy as np

    app = client.app  # type: ignore[attr-defined]
    index = app.state.match_index.current().copy()
    item = app.state.repo.get_premises(int(index.cols["id"][0]))
    index.update(item.id, {**item.model_dump(), "title": EVIL + " {{ 7*7 }} 'é' & \\ \u2028"})
    rows = np.arange(index.n_rows)
    for lang in ("fr", "en"):
        dicts = maps.premises_features(index, rows, lang, scores=np.linspace(0, 100, len(rows)))
        text = maps.premises_features_json(index, rows, lang, scores=np.linspace(0, 100, len(rows)))
        assert text == maps.features_json(dicts)
        assert "<" not in text and "'" not in text
    colours = ["#E69F00"] * len(rows)
    parsed = json.loads(maps.premises_features_json(index, rows[:3], "fr", colours=colours[:3]))
    assert [f["properties"]["colour"] for f in parsed["features"]] == colours[:3]
    assert parsed["features"][0]["properties"]["title"].startswith("<img src=x")
