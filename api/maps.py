"""Folium maps rendered into the app's own pages, with the app's own assets only.

Every map of the site is built here so that three rules hold everywhere:

- **No CDN.** folium's elements name their scripts and styles in ``default_js`` /
  ``default_css`` (CDN URLs by default). Each element made here gets new lists *on the
  instance* pointing under ``/static/app/vendor`` (copied there from ``web/`` by ``make``), and
  only the assets a map uses are kept: no jQuery, Bootstrap, Font Awesome or awesome-markers.
  (``add_js_link`` is never used: it edits the class-level list, which would leak into every
  later map.) The tiles are one ``TileLayer`` whose URL and attribution are settings
  (``IMPLANTER_MAPS__TILES_URL``, ``IMPLANTER_MAPS__TILES_ATTRIBUTION``); markers, communes and
  other layers are vectors drawn by Leaflet, so they still show when tiles cannot load.
- **No inline script without the request's nonce.** :func:`render_map` returns the map's parts
  (CSS links, the map's ``<div>``, then the script tags) for our Jinja templates instead of a
  folium page: external scripts are the app's files (``script-src 'self'``) and the map's own
  script is one ``<script nonce=…>`` carrying the per-request nonce of the page's CSP
  (:func:`api.pages.render`), so the policy never needs ``'unsafe-inline'`` for scripts.
  folium's header (a ``<meta viewport>`` that forbids zooming, page-wide ``<style>`` for
  ``html, body`` and an inline ``<script>``) is dropped; the site's CSS sizes the maps.
- **User text is never parsed as HTML, JavaScript or a template.** folium's ``Popup`` puts its
  HTML into a JavaScript template literal handed to jQuery (``$(`…`)``): a title with a
  backtick or ``${`` would run as script, and it needs jQuery. Worse, branca compiles every
  element's *rendered* script as a Jinja template once more, so a ``{{ … }}`` in data embedded
  by a folium element would be evaluated on the server. Premises are therefore drawn by
  :class:`PointsLayer`: light GeoJSON (only what a popup or tooltip shows) in a
  ``<script type="application/json">`` data block of the page (``<``, ``>``, ``&`` and quotes
  escaped, so no ``</script>`` can close it; never executed, so no nonce), outside folium's
  templates, and ``api/static/maps.js`` builds popups and tooltips with DOM nodes and
  ``textContent``. For folium's own layers, :func:`render_map` turns the braces of their
  ``data`` and ``text`` into HTML entities before rendering, and layers that show properties
  through ``innerHTML`` (``GeoJsonTooltip``, ``GeoJsonPopup``) must get them through
  :func:`escape_properties`.

A map in a page (see ``api/routes/pages_map.py`` and ``api/templates/carte.html``)::

    m = maps.new_map(settings.maps)                        # local Leaflet, configured tiles
    maps.communes_layer(territory).add_to(m)               # outlines: visible without tiles
    maps.PointsLayer(data, cluster=True, href="/locaux/{id}?lang=fr").add_to(m)
    parts = maps.render_map(m, csp_nonce(request))         # api.pages.csp_nonce
    return render(request, "page.html", lang, map=parts)

    {% block head %}{{ map.css }}{% endblock %}
    <div class="map-frame">{{ map.html }}</div>            {# .map-frame gives the size #}
    {% block scripts %}{{ map.scripts }}{% endblock %}

Other folium layers (``folium.GeoJson`` choropleths, ``LayerControl``, :func:`heat_map`,
:func:`marker_cluster`) work the same way; never ``folium.Popup``/``Tooltip`` with user text.

What ``style-src`` needs: ``'self'`` for Leaflet's and the site's stylesheets. Leaflet and
markercluster position tiles and markers through ``element.style`` (the CSSOM, which CSP
does not restrict); the ``'unsafe-inline'`` kept in the default policy is for ``style=``
attributes of server-rendered markup (legend swatches and the like); no ``<style>`` element
of folium is emitted.
"""

from __future__ import annotations

import functools
import json
import logging
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from json.encoder import encode_basestring_ascii as _js
from pathlib import Path
from typing import Any

import folium
import folium.plugins
import numpy as np
from branca.element import CssLink, Figure, JavascriptLink, MacroElement
from folium.elements import JSCSSMixin
from jinja2 import Template
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup, escape

from geodata.schemas import label
from geodata.territory import Territory
from matcher._codes import KINDS, REMOVED, STATUS_CODE
from matcher.criteria.base import day_number
from matcher.index import MatchIndex

from .settings import MapSettings

__all__ = [
    "STATIC_URL",
    "VENDOR_URL",
    "MapParts",
    "PointsLayer",
    "communes_layer",
    "escape_properties",
    "features_json",
    "heat_map",
    "marker_cluster",
    "new_map",
    "point_features",
    "premises_features",
    "premises_features_json",
    "public_rows",
    "render_map",
    "vendor_available",
]

logger = logging.getLogger(__name__)

#: Where ``api/static`` is served (see :mod:`api.docs`).
STATIC_URL = "/static/app"
#: Where the npm assets copied by ``make vendor`` are served.
VENDOR_URL = f"{STATIC_URL}/vendor"
VENDOR_DIR = Path(__file__).parent / "static" / "vendor"

LEAFLET_JS = [("leaflet", f"{VENDOR_URL}/leaflet/leaflet.js")]
LEAFLET_CSS = [("leaflet_css", f"{VENDOR_URL}/leaflet/leaflet.css")]
CLUSTER_JS = [("markerclusterjs", f"{VENDOR_URL}/markercluster/leaflet.markercluster.js")]
CLUSTER_CSS = [
    ("markerclustercss", f"{VENDOR_URL}/markercluster/MarkerCluster.css"),
    ("markerclusterdefaultcss", f"{VENDOR_URL}/markercluster/MarkerCluster.Default.css"),
]
HEAT_JS = [("leaflet-heat.js", f"{VENDOR_URL}/heat/leaflet-heat.js")]
#: The points layer's clustering: supercluster (a k-d tree per zoom level, built in a few
#: hundred milliseconds for 100,000 points) instead of markercluster (seconds).
SUPERCLUSTER_JS = [("supercluster", f"{VENDOR_URL}/supercluster/supercluster.min.js")]
#: The site's own map code (popups, tooltips, colours, list-marker highlighting).
MAPS_JS = [("implanter_maps", f"{STATIC_URL}/maps.js")]

#: The widest zoom level of a map (a region), and the closest one that groups markers.
MIN_ZOOM = 8
CLUSTER_UNTIL_ZOOM = 16

#: The territory's centre, used when a map has nothing to fit.
DEFAULT_CENTER = (48.77, 2.40)


@functools.cache
def vendor_available() -> bool:
    """Whether Leaflet's files are in ``api/static/vendor``; logged once when they are not."""
    present = (VENDOR_DIR / "leaflet" / "leaflet.js").is_file()
    if not present:
        logger.warning(
            "maps: %s is missing, so pages show their data without maps; run `make vendor` "
            "(npm ci in web/ and a copy of Leaflet's files) to bring the map assets",
            "api/static/vendor/leaflet/leaflet.js",
        )
    return present


def new_map(
    settings: MapSettings,
    *,
    location: Sequence[float] = DEFAULT_CENTER,
    zoom: int = 12,
    prefer_canvas: bool = True,
    tiles_name: str = "OpenStreetMap",
) -> folium.Map:
    """A folium map with the local Leaflet and the configured tiles (no folium CDN asset).

    ``prefer_canvas`` draws vector markers on one canvas (fast for thousands of points).
    """
    m = folium.Map(
        location=list(location),
        zoom_start=zoom,
        # The territory's scale: fewer zoom levels for markercluster to build (and no
        # zooming out to the whole world, where there is nothing to see).
        min_zoom=MIN_ZOOM,
        tiles=None,
        control_scale=True,
        prefer_canvas=prefer_canvas,
    )
    m.default_js = list(LEAFLET_JS)
    m.default_css = list(LEAFLET_CSS)
    folium.TileLayer(
        tiles=settings.tiles_url,
        attr=settings.tiles_attribution,
        name=tiles_name,
        max_zoom=19,
        control=False,
    ).add_to(m)
    return m


def marker_cluster(**options: Any) -> folium.plugins.MarkerCluster:
    """folium's ``MarkerCluster`` with the local markercluster files."""
    cluster = folium.plugins.MarkerCluster(**options)
    cluster.default_js = list(CLUSTER_JS)
    cluster.default_css = list(CLUSTER_CSS)
    return cluster


def heat_map(data: Iterable[Sequence[float]], **options: Any) -> folium.plugins.HeatMap:
    """folium's ``HeatMap`` (``[[lat, lon, weight], …]``) with the local leaflet.heat."""
    heat = folium.plugins.HeatMap(list(data), **options)
    heat.default_js = list(HEAT_JS)
    return heat


def escape_properties(properties: Mapping[str, Any]) -> dict[str, Any]:
    """HTML-escape the string values, for folium layers that show them through ``innerHTML``.

    Examples
    --------
    >>> escape_properties({"name": "<b>x</b>", "n": 3})
    {'name': '&lt;b&gt;x&lt;/b&gt;', 'n': 3}
    """
    return {k: str(escape(v)) if isinstance(v, str) else v for k, v in properties.items()}


def point_features(
    lon: Sequence[float], lat: Sequence[float], properties: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """A light GeoJSON FeatureCollection of points (coordinates rounded to about 1 m)."""
    xs = np.round(np.asarray(lon, dtype=np.float64), 5).tolist()
    ys = np.round(np.asarray(lat, dtype=np.float64), 5).tolist()
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [x, y]},
                "properties": p,
            }
            for x, y, p in zip(xs, ys, properties, strict=True)
        ],
    }


def features_json(data: Mapping[str, Any]) -> str:
    """GeoJSON as compact JSON safe inside a ``<script>`` data block (``<``, ``>``, ``&`` and
    ``'`` escaped); a :class:`PointsLayer` takes it instead of the dict (to cache it)."""
    return str(htmlsafe_json_dumps(data, separators=(",", ":")))


def public_rows(index: MatchIndex, visible_since: datetime) -> np.ndarray:
    """Rows of the index the public sees: neither withdrawn nor removed nor hidden as stale
    (confirmed before ``visible_since``), as anonymous ``GET /premises`` lists them."""
    status = index.cols["status"]
    keep = (status != STATUS_CODE["withdrawn"]) & (status != REMOVED)
    keep &= ~(index.cols["verified_day"] < day_number(visible_since))
    return np.flatnonzero(keep)


def _premises_columns(
    index: MatchIndex, rows: np.ndarray, lang: str
) -> tuple[list[Any], list[Any], list[str], list[str], list[str]]:
    """Ids, titles, both popup lines and nothing else, as lists (one conversion per column)."""
    from .pages import fmt_number

    cols = index.cols
    kind_names = np.array([label(k, lang) for k in KINDS], dtype=object)
    commune_names = np.array(
        [index.commune_names.get(c, c) for c in index.communes] + ["—"], dtype=object
    )
    kinds = kind_names[cols["kind"][rows]].tolist()
    communes = commune_names[cols["commune"][rows]].tolist()  # -1 (unknown): the last, "—"
    # Surfaces formatted once per distinct value.
    distinct, at = np.unique(cols["surface_m2"][rows], return_inverse=True)
    formatted = [fmt_number(v, lang) for v in distinct.tolist()]  # type: ignore[arg-type]
    texts = np.array(formatted, dtype=object)
    surfaces = texts[at.reshape(-1)].tolist() if len(rows) else []
    lines = [f"{kind} · {surface} m²" for kind, surface in zip(kinds, surfaces, strict=True)]
    ids = cols["id"][rows].tolist()
    titles = [t or f"#{i}" for i, t in zip(ids, cols["title"][rows].tolist(), strict=True)]
    return ids, titles, lines, communes, kinds


def premises_features(
    index: MatchIndex,
    rows: np.ndarray,
    lang: str,
    *,
    scores: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Light GeoJSON of listings of the index: only what a popup and a tooltip show.

    Properties: ``id``, ``title``, ``lines`` (kind and surface; commune) and, when given,
    ``score`` (rounded). The link to the detail page is the layer's ``href`` template (see
    :class:`PointsLayer`), not repeated in each feature. Texts are data for ``maps.js``,
    which shows them as text. :func:`premises_features_json` gives the same, serialised,
    without building a dict per listing.
    """
    ids, titles, lines, communes, _ = _premises_columns(index, rows, lang)
    properties: list[dict[str, Any]] = [
        {"id": i, "title": title, "lines": [line, commune]}
        for i, title, line, commune in zip(ids, titles, lines, communes, strict=True)
    ]
    if scores is not None:
        for p, score in zip(properties, np.round(np.asarray(scores)).tolist(), strict=True):
            p["score"] = int(score)
    return point_features(index.cols["lon"][rows], index.cols["lat"][rows], properties)


def _json_number(value: float) -> str:
    return repr(value) if math.isfinite(value) else json.dumps(value)


def premises_features_json(
    index: MatchIndex,
    rows: np.ndarray,
    lang: str,
    *,
    scores: Sequence[float] | None = None,
    colours: Sequence[str] | None = None,
) -> str:
    """:func:`features_json` of :func:`premises_features` (plus a ``colour`` per listing when
    given), written as text straight from the index's columns.

    The same characters, but no dict or list per listing: at 10,000 listings the dicts cost
    more in the garbage collector's passes over a large heap than in building them.
    """
    ids, titles, lines, communes, _ = _premises_columns(index, rows, lang)
    xs = np.round(index.cols["lon"][rows].astype(np.float64), 5).tolist()
    ys = np.round(index.cols["lat"][rows].astype(np.float64), 5).tolist()
    n = len(ids)
    extra = [""] * n
    if scores is not None:
        extra = [
            f'{e},"score":{int(s)}'
            for e, s in zip(extra, np.round(np.asarray(scores)).tolist(), strict=True)
        ]
    if colours is not None:
        extra = [f'{e},"colour":{_js(c)}' for e, c in zip(extra, colours, strict=True)]
    features = ",".join(
        f'{{"type":"Feature","geometry":{{"type":"Point","coordinates":[{_json_number(x)},'
        f'{_json_number(y)}]}},"properties":{{"id":{i},"title":{_js(t)},"lines":[{_js(line)},'
        f"{_js(c)}]{e}}}}}"
        for x, y, i, t, line, c, e in zip(xs, ys, ids, titles, lines, communes, extra, strict=True)
    )
    text = f'{{"type":"FeatureCollection","features":[{features}]}}'
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("'", "\\u0027")
    )


@functools.lru_cache(maxsize=64)
def _communes_geojson(territory: Territory, codes: tuple[str, ...] | None) -> dict[str, Any]:
    import shapely

    frame = territory.communes
    if codes is not None:
        frame = frame[frame.index.isin(codes)]
    # About 50 m of simplification and 1 m of precision: outlines, not survey lines.
    geoms = shapely.set_precision(shapely.simplify(frame.geometry.values, 0.0005), 1e-5)
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": str(code),
                "geometry": shapely.geometry.mapping(geom),
                "properties": {"name": territory.commune_names.get(str(code), str(code))},
            }
            for code, geom in zip(frame.index, geoms, strict=True)
        ],
    }


def communes_layer(
    territory: Territory, codes: Sequence[str] | None = None, *, name: str = "communes"
) -> folium.GeoJson:
    """The communes' outlines (simplified, only their names as properties), drawn as vectors
    so that the territory shows even when the tiles do not load."""
    data = _communes_geojson(territory, tuple(sorted(codes)) if codes else None)
    return folium.GeoJson(
        data,
        name=name,
        style_function=lambda _: {
            "color": "#12365a",
            "weight": 1.5 if codes else 1,
            "opacity": 0.8,
            "fill": bool(codes),
            "fillColor": "#12365a",
            "fillOpacity": 0.06,
        },
        control=False,
        interactive=False,
    )


class PointsLayer(JSCSSMixin, MacroElement):
    """Premises (or any points) drawn by ``Implanter.points`` of ``api/static/maps.js``.

    Each feature's properties are data, shown as text: ``title`` (popup heading and tooltip),
    ``lines`` (a list of text lines), ``href`` (the detail page, a site path), ``score``
    (0–100, colours the marker; none: one colour), ``id`` (ties the marker to the list item
    with ``data-premises-id``).

    Parameters
    ----------
    data
        A GeoJSON FeatureCollection of points (see :func:`point_features`), or the same
        already serialised by :func:`features_json`.
    name
        The layer's name in a layer control.
    cluster
        Group nearby markers (supercluster; only what is in view is drawn) — for large
        catalogues.
    link_text
        The text of the popup's link to ``href``.
    fit
        Fit the map to the points once drawn.
    style
        ``"premises"`` (circles coloured by score, tied to the list) or ``"place"`` (a place
        that matters to the company: a dark square, not tied to the list).
    colour, radius
        One colour (and radius, px) for every marker (stations, exits…), instead of the
        score's; such markers are not tied to the list.
    href
        The popup's link for features without their own ``href``: a site path where
        ``{id}`` is replaced by the feature's id (``"/locaux/{id}?lang=fr"``).
    """

    # The data is not in the macro: folium compiles every element's rendered script as a
    # Jinja template again (branca's ``Element(template)``), which would evaluate ``{{ … }}``
    # in a title and take seconds for a large catalogue. It goes in a JSON data block of the
    # page instead (see :func:`render_map`), read by ``Implanter.data``.
    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = Implanter.points(
            {{ this._parent.get_name() }},
            Implanter.data({{ this.data_id|tojson }}),
            {{ this.options|tojson }}
        );
        {% endmacro %}
        """
    )

    def __init__(
        self,
        data: Mapping[str, Any] | str,
        *,
        name: str = "premises",
        cluster: bool = False,
        link_text: str = "",
        fit: bool = False,
        style: str = "premises",
        colour: str | None = None,
        radius: int | None = None,
        href: str | None = None,
    ) -> None:
        super().__init__()
        self._name = "PointsLayer"
        self.payload = data
        self.data_id = f"{self.get_name()}-data"
        self.layer_name = name
        self.options = {
            "cluster": cluster,
            "clusterUntil": CLUSTER_UNTIL_ZOOM,
            "linkText": link_text,
            "fit": fit,
            "name": name,
            "style": style,
            "colour": colour,
            "radius": radius,
            "href": href,
        }
        self.default_js = list(SUPERCLUSTER_JS if cluster else []) + list(MAPS_JS)
        self.default_css: list[tuple[str, str]] = []


def _walk(element: Any) -> Iterator[Any]:
    yield element
    for child in list(element._children.values()):
        yield from _walk(child)


_BRACES = str.maketrans({"{": "&#123;", "}": "&#125;"})


def _defuse_value(value: Any) -> Any:
    if isinstance(value, str):
        return value.translate(_BRACES) if ("{" in value or "}" in value) else value
    if isinstance(value, dict):
        return {k: _defuse_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_defuse_value(v) for v in value]
    return value


def _defuse(element: Any) -> None:
    """Keep data out of Jinja's reach in folium's own elements (``GeoJson`` data, tooltip
    texts): braces become HTML entities, so the second compilation of the rendered script
    sees no ``{{``/``{%``; an ``innerHTML`` consumer (folium's tooltips and popups) still
    shows ``{``. Text shown through ``innerHTML`` must also be HTML-escaped by the caller
    (:func:`escape_properties`)."""
    for name in ("data", "text"):
        value = getattr(element, name, None)
        if isinstance(value, str | dict | list):
            setattr(element, name, _defuse_value(value))


@dataclass(frozen=True)
class MapParts:
    """What a page puts in its ``<head>`` (``css``), where the map goes (``html``) and at the
    end of ``<body>`` (``scripts``: the asset scripts, then the map's own, with the nonce)."""

    css: Markup
    html: Markup
    scripts: Markup
    name: str


def render_map(m: folium.Map, nonce: str, *, label: str = "") -> MapParts:
    """Render a folium map into parts for our templates (no folium page, no inline header).

    When the map assets are absent (``make vendor`` not run), the parts carry a visible note
    instead of a map, and the page still shows its data.
    """
    name = m.get_name()
    if not vendor_available():
        note = Markup('<p class="map-missing" role="note">{}</p>').format(
            label
            or "Carte indisponible : les fichiers de Leaflet ne sont pas installés "
            "(Map unavailable: Leaflet's files are not installed)."
        )
        return MapParts(css=Markup(""), html=note, scripts=Markup(""), name=name)
    figure = m.get_root()
    assert isinstance(figure, Figure)
    blocks: list[str] = []
    for element in _walk(m):
        if isinstance(element, PointsLayer):
            payload = (
                element.payload
                if isinstance(element.payload, str)
                else features_json(element.payload)
            )
            blocks.append(
                f'<script type="application/json" id="{element.data_id}">{payload}</script>'
            )
        elif getattr(element, "data_id", None) is None:
            # (A layer with a ``data_id`` keeps its data in a JSON block of the page, out of
            # folium's templates.)
            _defuse(element)
    figure.render()
    css: list[str] = []
    scripts: list[str] = []
    for child in figure.header._children.values():
        # Only the asset links are kept; folium's inline header (meta, styles, script) is not.
        if isinstance(child, CssLink):
            css.append(f'<link rel="stylesheet" href="{escape(child.url)}">')
        elif isinstance(child, JavascriptLink):
            scripts.append(f'<script src="{escape(child.url)}"></script>')
    for url in (*css, *scripts):
        if "//" in url:  # an element of folium left with its CDN default
            msg = f"maps: a map asset is not served by the app: {url}"
            raise ValueError(msg)
    body = figure.html.render() + "\n".join(blocks)
    code = figure.script.render()
    scripts.append(f'<script nonce="{escape(nonce)}">\n{code}\n</script>')
    return MapParts(
        css=Markup("\n".join(css)),
        html=Markup(body),
        scripts=Markup("\n".join(scripts)),
        name=name,
    )
