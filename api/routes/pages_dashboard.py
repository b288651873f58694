"""The staff dashboard: the territory's supply and demand on a map, with its key figures.

``GET /tableau-de-bord`` (also ``/dashboard``), staff only: an anonymous reader is sent to the
sign-in page (and back here after), another role gets a 403 page. French first, English
with ``?lang=en``; the filters (``kind``, ``use``, ``band``, ``threshold``) are a GET form,
so a view can be bookmarked and shared, and the language switch keeps them.

The map (folium, with the app's own Leaflet) has a layer control:

- the communes as three choropleths, one at a time (radio buttons): available building
  floor area, available land (the two are never added together), active needs per commune;
- the supply coloured by kind, a heat map of the places needs name, the unmet needs (best
  score under ``threshold``), hot spots of demand, and the territory's stations, motorway
  exits and activity zones.

Beside it, the key figures as tables (:mod:`api.dashboard` computes them from the match
index's columns) and links to download what is shown (``/exports/premises`` in CSV and
GeoJSON, the OGC API items) with the same filters. Legends are the page's HTML, in words.
Every layer is drawn by ``api/static/dashboard.js`` from GeoJSON embedded with ``tojson``;
tooltips and popups are DOM text, so no user text is parsed as HTML.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import folium
import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from folium.elements import JSCSSMixin
from folium.template import Template as FoliumTemplate
from jinja2 import Template
from markupsafe import Markup, escape

import shapely

from geodata.schemas import label
from geodata.territory import Territory, to_wgs84
from matcher._codes import KINDS, USES
from matcher.index import MatchIndex

from .. import maps
from ..auth import OPTIONAL_AUTH, OptionalAccount
from ..dashboard import BANDS, FigureCache, Figures, band_text, parse_filters, tables, tr
from ..deps import NowDep, SettingsDep
from ..errors import request_language
from ..pages import PAGE_RESPONSES, Lang, csp_nonce, fmt_number, render, sign_in_redirect
from .demand import active_needs

__all__ = ["DashboardLayer", "LayerControl", "MapView", "build_map", "router", "staff_gate"]

router = APIRouter(tags=["pages"])

DASHBOARD_JS = [("implanter_dashboard", f"{maps.STATIC_URL}/dashboard.js")]

#: ColorBrewer sequential ramps (5 classes), light to dark.
RAMPS = {
    "building": ["#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c"],
    "land": ["#ffffcc", "#c2e699", "#78c679", "#31a354", "#006837"],
    "demand": ["#f2f0f7", "#cbc9e2", "#9e9ac8", "#756bb1", "#54278f"],
}
#: One colour per kind (Okabe–Ito, told apart by colour-blind readers).
KIND_COLOURS = dict(
    zip(KINDS, ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"],
        strict=True)
)  # fmt: skip
UNMET_COLOUR = "#a4161a"
STATION_COLOUR = "#37474f"
EXIT_COLOUR = "#111111"

_STATION_STATUS = {"open": ("en service", "open"), "planned": ("en projet", "planned")}
_SITE_TYPES = {
    "zone d'activité économique": ("Zone d'activité économique", "Business park"),
    "site économique historique hors ZAE": (
        "Site économique historique hors ZAE",
        "Historic economic site outside a business park",
    ),
}


def _named(table: dict[str, tuple[str, str]], value: Any, lang: Lang) -> str:
    text = str(value or "")
    return table.get(text, (text, text))[lang == "en"]


def _cache(request: Request) -> FigureCache:
    cache: FigureCache | None = getattr(request.app.state, "dashboard_cache", None)
    if cache is None:
        cache = request.app.state.dashboard_cache = FigureCache()
    return cache


# --- map ------------------------------------------------------------------------------------


class DashboardLayer(JSCSSMixin, folium.map.Layer):
    """A layer drawn by ``ImplanterDashboard.<function>`` of ``api/static/dashboard.js``
    (areas, points or circles), listed in the layer control under ``name``.

    The data is GeoJSON (or the same serialised by :func:`api.maps.features_json`) whose
    properties are shown as text (``title``, ``lines``, ``href``) or used as style (``fill``,
    ``colour``, ``radius``, ``radius_m``, ``hollow``). It is not in the map's script: the
    page puts it in a ``<script type="application/json" id="{data_id}">`` block (serialised
    by :func:`api.maps.features_json`: no ``<`` can close the element; a data block is never
    executed, so it needs no nonce), which ``dashboard.js`` parses. No user text is ever
    parsed as HTML or script, and the map's script stays small (folium passes it through
    Jinja's lexer, slow on megabytes of GeoJSON).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = ImplanterDashboard.{{ this.function }}(
            {{ this._parent.get_name() }}, ImplanterDashboard.data({{ this.data_id|tojson }}),
            {{ this.options|tojson }}
        );
        {% endmacro %}
        """
    )

    def __init__(
        self,
        function: str,
        data: dict[str, Any] | str,
        *,
        name: str,
        key: str,
        overlay: bool = True,
        show: bool = True,
        **options: Any,
    ) -> None:
        # Leaflet's layer control writes the name with innerHTML: escaped here.
        super().__init__(name=str(escape(name)), overlay=overlay, control=True, show=show)
        self._name = "DashboardLayer"
        assert function in ("areas", "points", "circles")
        self.function = function
        self.data = data
        self.data_id = f"data-{self.get_name()}"
        self.options = {"key": key, **options}
        self.default_js = list(DASHBOARD_JS)


class LayerControl(folium.LayerControl):
    """folium's layer control, folded behind its button on a narrow screen (where it would
    hide the map) and open on a wide one, its button named in the reader's language."""

    _template = FoliumTemplate(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.control.layers(
            {
            {%- for key, val in this.base_layers.items() %}
                {{ key|tojson }}: {{ val }},
            {%- endfor %}
            },
            {
            {%- for key, val in this.overlays.items() %}
                {{ key|tojson }}: {{ val }},
            {%- endfor %}
            },
            Object.assign({{ this.options|tojavascript }},
                          {collapsed: window.matchMedia("(max-width: 700px)").matches})
        ).addTo({{ this._parent.get_name() }});
        (function (toggle) {
            if (!toggle) return;
            toggle.title = {{ this.toggle_text|tojson }};
            toggle.setAttribute("aria-label", {{ this.toggle_text|tojson }});
        })({{ this.get_name() }}.getContainer().querySelector(".leaflet-control-layers-toggle"));
        {% endmacro %}
        """
    )

    def __init__(self, toggle_text: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.toggle_text = toggle_text


def _classes(values: np.ndarray, n: int = 5) -> np.ndarray:
    """Upper edges of up to ``n`` classes of the positive values (quantiles, rounded up)."""
    positive = values[values > 0]
    if positive.size == 0:
        return np.empty(0)
    edges = np.quantile(positive, np.linspace(0, 1, n + 1)[1:])
    return np.unique(np.ceil(edges))


def _fills(values: np.ndarray, edges: np.ndarray, ramp: list[str]) -> list[str | None]:
    if edges.size == 0:
        return [None] * len(values)
    colours = ramp[len(ramp) - edges.size :]
    k = np.searchsorted(edges, values, side="left").clip(0, edges.size - 1)
    return [colours[i] if v > 0 else None for v, i in zip(values, k, strict=True)]


def _legend(
    edges: np.ndarray, ramp: list[str], unit: str, lang: Lang, *, counts: bool = False
) -> list[dict[str, Any]]:
    """The classes of a choropleth in words; ``counts``: whole numbers (``1``, ``2 – 5``).

    Examples
    --------
    >>> [i["text"] for i in _legend(np.array([1.0, 2.0, 6.0]), RAMPS["demand"], "", "fr",
    ...                             counts=True)]
    ['aucun', '1', '2', '3 – 6']
    >>> [i["text"] for i in _legend(np.array([900.0, 2500.0]), RAMPS["land"], " m²", "en")]
    ['none', 'up to 900 m²', '900 – 2,500 m²']
    """
    items: list[dict[str, Any]] = [{"colour": None, "text": tr(lang, "aucun", "none")}]
    colours = ramp[len(ramp) - edges.size :]
    lo = 0.0
    for colour, hi in zip(colours, edges, strict=True):
        if counts:
            first = lo + 1
            text = fmt_number(hi, lang) if first >= hi else f"{fmt_number(first, lang)} – "
            text += "" if first >= hi else fmt_number(hi, lang)
        elif lo == 0:
            text = f"{tr(lang, 'jusqu’à', 'up to')} {fmt_number(hi, lang)}{unit}"
        else:
            text = f"{fmt_number(lo, lang)} – {fmt_number(hi, lang)}{unit}"
        items.append({"colour": colour, "text": text})
        lo = hi
    return items


def _communes_geojson(territory: Territory) -> list[dict[str, Any]]:
    layer = territory.layer("communes")
    geoms = shapely.transform(layer.geometry, lambda a: np.round(a, 5))
    return [json.loads(g) for g in shapely.to_geojson(geoms)]


def _features(lon: np.ndarray, lat: np.ndarray, props: list[dict[str, Any]]) -> dict[str, Any]:
    return maps.point_features(list(map(float, lon)), list(map(float, lat)), props)


def _area_features(geometries: Sequence[dict[str, Any]], props: list[dict[str, Any]]) -> Any:
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": g, "properties": p}
            for g, p in zip(geometries, props, strict=True)
        ],
    }


@dataclass(frozen=True)
class MapView:
    """The map's parts for the page, its layers' data blocks (id → GeoJSON; none when the
    map assets are missing), and the legends (key → items) with their titles."""

    parts: maps.MapParts
    data: dict[str, Any]
    legends: dict[str, list[dict[str, Any]]]
    titles: dict[str, str]


def build_map(
    request: Request,
    figures: Figures,
    index: MatchIndex,
    territory: Territory,
    lang: Lang,
    threshold: float,
) -> MapView:
    """The folium map with its layer control, its layers' data and legends."""
    settings = request.app.state.settings
    m = maps.new_map(settings.maps, prefer_canvas=False)
    m.options["zoom_snap"] = 0.25  # fit the territory closely
    layer = territory.layer("communes")
    codes = [str(c) for c in layer.column("insee")]
    names = [str(n) for n in layer.column("name")]
    geoms = _communes_geojson(territory)
    bal = figures.balance.reindex(codes).fillna(0.0)
    demand = (bal["needs_building"] + bal["needs_land"]).to_numpy(dtype=np.float64)
    legends: dict[str, list[dict[str, Any]]] = {}
    titles: dict[str, str] = {}
    m2 = " m²"
    for key, values, unit, fr, en, show in (
        ("building", bal["building_m2"].to_numpy(), m2,
         "Surface bâtie disponible (m²)", "Available building floor area (m²)", True),
        ("land", bal["land_m2"].to_numpy(), m2,
         "Terrains disponibles (m²)", "Available land (m²)", False),
        ("demand", demand, "",
         "Besoins actifs par commune", "Active needs per commune", False),
    ):  # fmt: skip
        values = np.asarray(values, dtype=np.float64)
        edges = _classes(values)
        fills = _fills(values, edges, RAMPS[key])
        what = tr(lang, fr, en)
        props: list[dict[str, Any]] = [
            {
                "title": name,
                "lines": [f"{what} : {fmt_number(v, lang)}" if lang == "fr" else
                          f"{what}: {fmt_number(v, lang)}"],
                "fill": fill,
            }
            for name, v, fill in zip(names, values, fills, strict=True)
        ]  # fmt: skip
        DashboardLayer(
            "areas",
            _area_features(geoms, props),
            name=what,
            key=f"communes-{key}",
            overlay=False,
            show=show,
        ).add_to(m)
        legends[key] = _legend(edges, RAMPS[key], unit, lang, counts=key == "demand")
        titles[key] = what

    # Supply by kind.
    s = figures.supply
    colours = s["kind"].map(KIND_COLOURS).tolist()
    DashboardLayer(
        "points",
        maps.premises_features_json(index, figures.rows, lang, colours=colours),
        name=tr(lang, "Offre disponible, par type", "Available supply, by kind"),
        key="supply",
        show=False,
        linkText=tr(lang, "Voir le local", "See the premises"),
        stroke="#333333",
        weight=1,
    ).add_to(m)
    kinds_shown = sorted(s["kind"].unique(), key=KINDS.index)
    legends["kinds"] = [{"colour": KIND_COLOURS[k], "text": label(k, lang)} for k in kinds_shown]

    # Heat map of the places needs name (each need weighs one in all).
    places = figures.places
    if len(places):
        lon, lat = to_wgs84(places["x"].to_numpy(), places["y"].to_numpy())
        heat = np.column_stack([np.round(lat, 5), np.round(lon, 5), places["weight"].to_numpy()])
        maps.heat_map(
            heat.tolist(),
            name=str(escape(tr(lang, "Chaleur de la demande", "Demand heat map"))),
            radius=22,
            blur=18,
            min_opacity=0.3,
            # Warm colours, apart from the blue, green and purple choropleths.
            gradient={0.3: "#ffffb2", 0.55: "#fecc5c", 0.75: "#fd8d3c", 1.0: "#e31a1c"},
        ).add_to(m)

    # Unmet needs at their place.
    needs = figures.needs
    best = figures.best.to_numpy(dtype=np.float64)
    unmet = (~(best >= threshold)) & needs["x"].notna().to_numpy()
    u = needs[unmet]
    lon, lat = to_wgs84(u["x"].to_numpy(), u["y"].to_numpy())
    by_id = figures.extra["needs_by_id"]
    props = []
    for need_id, score, s_min, s_max in zip(
        u.index, best[unmet], u["s_min"], u["s_max"], strict=True
    ):
        need = by_id[int(need_id)]
        uses = ", ".join(label(str(x), lang) for x in need.uses) or tr(
            lang, "tout usage", "any use"
        )
        if np.isnan(score):
            verdict = tr(lang, "aucun local ne passe ses critères requis",
                         "no listing passes its required criteria")  # fmt: skip
        else:
            verdict = tr(lang, f"meilleur score : {fmt_number(score, lang)}/100",
                         f"best score: {fmt_number(score, lang)}/100")  # fmt: skip
        props.append(
            {
                "title": need.company_name,
                "lines": [
                    f"{fmt_number(s_min, lang)}–{fmt_number(s_max, lang)} m² · {uses}",
                    verdict,
                ],
                "colour": UNMET_COLOUR,
                "radius": 7,
            }
        )
    DashboardLayer(
        "points",
        _features(lon, lat, props),
        name=tr(lang, "Demande non satisfaite", "Unmet demand"),
        key="unmet",
    ).add_to(m)

    # Hot spots of demand.
    spots = figures.hotspots
    if len(spots):
        lon, lat = to_wgs84(spots["x"].to_numpy(), spots["y"].to_numpy())
        props = [
            {
                "title": tr(lang, f"Foyer de demande n° {i + 1}", f"Demand hot spot no. {i + 1}"),
                "lines": [tr(lang, f"{n} besoins", f"{n} needs")],
                "radius_m": float(max(r, 300.0)),
            }
            for i, (n, r) in enumerate(zip(spots["n_needs"], spots["radius_m"], strict=True))
        ]
        DashboardLayer(
            "circles",
            _features(lon, lat, props),
            name=tr(lang, "Foyers de demande", "Demand hot spots"),
            key="hotspots",
        ).add_to(m)

    # The territory's layers.
    st = territory.layer("stations")
    xy = shapely.get_coordinates(st.geometry)
    props = [
        {
            "title": p["name"],
            "lines": [
                ", ".join(p.get("lines") or []),
                _named(_STATION_STATUS, p.get("status"), lang),
            ],
            "colour": STATION_COLOUR,
            "radius": 4,
            "hollow": p.get("status") == "planned",
        }
        for p in st.properties
    ]
    DashboardLayer(
        "points", _features(xy[:, 0], xy[:, 1], props),
        name=tr(lang, "Gares et stations", "Stations"), key="stations", show=False,
    ).add_to(m)  # fmt: skip
    ic = territory.layer("interchanges")
    exits = [i for i, p in enumerate(ic.properties) if p.get("kind") == "exit"]
    xy = shapely.get_coordinates(ic.geometry[exits]) if exits else np.empty((0, 2))
    props = [
        {"title": ic.properties[i]["name"], "lines": [str(ic.properties[i].get("road", ""))],
         "colour": EXIT_COLOUR, "radius": 5}
        for i in exits
    ]  # fmt: skip
    DashboardLayer(
        "points", _features(xy[:, 0], xy[:, 1], props),
        name=tr(lang, "Sorties d'autoroute", "Motorway exits"), key="exits", show=False,
    ).add_to(m)  # fmt: skip
    zones = territory.layer("zones")
    zgeoms = [
        json.loads(g)
        for g in shapely.to_geojson(shapely.transform(zones.geometry, lambda a: np.round(a, 5)))
    ]
    props = [
        {
            "title": p["site_nom"],
            "lines": [
                _named(_SITE_TYPES, p.get("site_type"), lang),
                str(p.get("site_comm_nom") or ""),
            ],
        }
        for p in zones.properties
    ]
    DashboardLayer(
        "areas", _area_features(zgeoms, props),
        name=tr(lang, "Zones d'activité", "Activity zones"), key="zones", show=False,
        stroke="#6d4c41", weight=2, dashArray="5 4", pane="implanter-zones", zIndex=360,
    ).add_to(m)  # fmt: skip

    LayerControl(tr(lang, "Couches de la carte", "Map layers"), position="topright").add_to(m)
    minx, miny, maxx, maxy = territory.boundary.bounds
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    label_text = tr(lang, "Carte indisponible.", "Map unavailable.")
    parts = maps.render_map(m, csp_nonce(request), label=label_text)
    data = {
        layer.data_id: Markup(
            layer.data if isinstance(layer.data, str) else maps.features_json(layer.data)
        )
        for layer in m._children.values()
        if isinstance(layer, DashboardLayer)
    }
    return MapView(parts=parts, data=data if parts.scripts else {}, legends=legends, titles=titles)


# --- the page -------------------------------------------------------------------------------


def _commune_label(territory: Territory, lang: Lang) -> Any:
    def name(code: str) -> str:
        if not code:
            return tr(lang, "Hors territoire ou sans commune", "Outside or no commune named")
        return territory.commune_names.get(code, code)

    return name


def _forbidden(request: Request, lang: Lang, account: Any) -> Response:
    response: Response = render(request, "dashboard_forbidden.html", lang, account=account)
    response.status_code = 403
    return response


def staff_gate(request: Request, lang: Lang, account: Any) -> Response | None:
    """None for staff; else the answer of a staff page: the sign-in page for an anonymous
    reader (back to this page after), the 403 page for another role."""
    if account is None:
        return sign_in_redirect(request, lang)
    if account.role != "staff":
        return _forbidden(request, lang, account)
    return None


@router.get(
    "/tableau-de-bord",
    response_class=HTMLResponse,
    openapi_extra=OPTIONAL_AUTH,
    responses=PAGE_RESPONSES,
)
@router.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
def dashboard(
    request: Request, settings: SettingsDep, now: NowDep, account: OptionalAccount
) -> Response:
    """The staff dashboard (see the module's docstring). Filters: ``kind``, ``use``,
    ``band`` (``200-400``…), ``threshold`` (0–100, a good match's score; default 50)."""
    lang = request_language(request.headers, request.url.query)
    refused = staff_gate(request, lang, account)
    if refused is not None:
        return refused
    filters, errors = parse_filters(request, lang)
    territory: Territory = request.app.state.territory
    holder = request.app.state.match_index
    repo = request.app.state.repo
    with repo.connect() as conn:
        index: MatchIndex = holder.current(conn)
        needs, table = active_needs(request.app).get(conn)
    figures = _cache(request).figures(
        index, needs, table, territory, now, settings.freshness, filters
    )
    view = build_map(request, figures, index, territory, lang, filters.threshold)
    premises = filters.premises_params()
    downloads = {
        "csv": "/exports/premises?" + urlencode({"format": "csv", **premises}),
        "geojson": "/exports/premises?" + urlencode({"format": "geojson", **premises}),
        "ogc": "/collections/premises/items?"
        + urlencode({"f": "json", **premises, "limit": 10000}),
        "ogc_html": "/collections/premises/items?"
        + urlencode({"f": "html", **premises, "limit": 100}),
        "communes": "/collections/communes/items?f=json&limit=1000",
    }
    response: Response = render(
        request,
        "dashboard.html",
        lang,
        account=account,
        map=view.parts,
        map_data=view.data,
        legends=view.legends,
        legend_titles=view.titles,
        fig=figures,
        filters=filters,
        errors=errors,
        bands=[(v, band_text(v, lang)) for v, _, _ in BANDS],
        kinds=KINDS,
        uses=USES,
        unmet_colour=UNMET_COLOUR,
        num=lambda v, d=0: fmt_number(float(v), lang, d),
        downloads=downloads,
        tables=tables(
            figures,
            lang,
            _commune_label(territory, lang),
            list(territory.commune_names),
            settings.freshness,
        ),
        freshness=settings.freshness,
    )
    if errors:
        response.status_code = 422
    return response
