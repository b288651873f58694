"""Location: inside the wanted communes, search area or radius, close to the wanted places."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

import shapely

from matcher._geo import project_geometry, to_lambert93, to_wgs84_geometry
from matcher.criteria.base import (
    Candidates,
    Criterion,
    Formatter,
    Message,
    Params,
    Reason,
    Relaxation,
    change_messages,
    distance_m,
    distance_utility,
    lax_round,
    mean_of_present,
    severity,
)
from matcher.weights import DEFAULT_PLACE_REACH_M, DEFAULT_WEIGHTS

if TYPE_CHECKING:
    from geodata.schemas import NeedIn
    from matcher.index import MatchIndex

__all__ = ["Location"]

_NAN = float("nan")
#: A distance limit is never raised beyond this many times its value (radius, places);
#: a search area never grown by more than this many times its equivalent radius.
MAX_RAISE = 2.0
#: At most this many communes are added at once.
MAX_ADDED_COMMUNES = 3


def _opt(v: float | None) -> float:
    return _NAN if v is None else float(v)


def _communes_mask(index: MatchIndex, communes: Sequence[str]) -> np.ndarray:
    table = np.zeros(len(index.communes) + 1, dtype=bool)
    for code in communes:
        if code in index.communes:
            table[index.communes.index(code)] = True
    return table[index.cols["commune"]]


def _mask_from_positions(n: int, positions: np.ndarray) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[positions] = True
    return out


# --- messages ------------------------------------------------------------------------------


def _msg(fr: Any, en: Any) -> dict[str, Any]:
    return {"fr": fr, "en": en}


def _add_communes(lang: str) -> Any:
    def message(p: Mapping[str, Any], f: Formatter) -> str:
        names = ", ".join(f.commune(c, n) for c, n in zip(p["added"], p["names"], strict=True))
        return (
            f"Ajouter {names} à vos communes" if lang == "fr" else f"Add {names} to your communes"
        )

    return message


def _grow_area(lang: str) -> Any:
    def message(p: Mapping[str, Any], f: Formatter) -> str:
        d = f.distance(p["suggested"])
        if lang == "fr":
            return f"Élargir votre zone de recherche de {d}"
        return f"Widen your search area by {d}"

    return message


def _place(lang: str) -> Any:
    def message(p: Mapping[str, Any], f: Formatter) -> str:
        d, place = f.distance(p["distance"]), f.place(p["label"])
        if lang == "fr":
            text = f"à {d} de {place}"
            if p["beyond"] is not None:
                text += f" (au-delà de {f.distance(p['beyond'])})"
            return text
        text = f"{d} from {place}"
        if p["beyond"] is not None:
            text += f" (beyond {f.distance(p['beyond'])})"
        return text

    return message


def _centre(lang: str) -> Any:
    def message(p: Mapping[str, Any], f: Formatter) -> str:
        d = f.distance(p["distance"])
        if lang == "fr":
            text = f"à {d} du centre de votre recherche"
            return text + (f" (rayon {f.distance(p['radius'])})" if p["radius"] is not None else "")
        text = f"{d} from the centre of your search"
        return text + (f" (radius {f.distance(p['radius'])})" if p["radius"] is not None else "")

    return message


class Location(Criterion):
    """Location: communes and search area score 1 inside, 0 outside; distances decay.

    Filters are hard: inside the communes, the search area, the radius, each place's
    maximum distance.
    """

    name = "location"
    label = ("localisation", "location")
    default_weight = DEFAULT_WEIGHTS["location"]
    labels: ClassVar[dict[str, tuple[str, str, str]]] = {
        "radius_m": ("rayon de recherche", "search radius", "distance"),
    }
    messages: ClassVar[Mapping[str, Mapping[str, Message]]] = {
        "in_communes": _msg(
            lambda p, f: f"à {f.commune(p['commune'], p['name'])}, dans vos communes",
            lambda p, f: f"in {f.commune(p['commune'], p['name'])}, one of your communes",
        ),
        "outside_communes": _msg(
            lambda p, f: f"à {f.commune(p['commune'], p['name'])}, hors de vos communes",
            lambda p, f: f"in {f.commune(p['commune'], p['name'])}, outside your communes",
        ),
        "in_area": _msg(
            lambda p, f: "dans votre zone de recherche", lambda p, f: "inside your search area"
        ),
        "outside_area": _msg(
            lambda p, f: f"hors de votre zone de recherche, à {f.distance(p['distance'])}",
            lambda p, f: f"outside your search area, {f.distance(p['distance'])} from it",
        ),
        "centre": {lang: _centre(lang) for lang in ("fr", "en")},
        "place": {lang: _place(lang) for lang in ("fr", "en")},
        "place_limit": _msg(
            lambda p, f: (
                f"Distance maximale à {f.place(p['place'])}\u00a0: "
                f"{f.distance(p['suggested'])} au lieu de {f.distance(p['current'])}"
            ),
            lambda p, f: (
                f"Maximum distance from {f.place(p['place'])}: "
                f"{f.distance(p['suggested'])} instead of {f.distance(p['current'])}"
            ),
        ),
        "add_communes": {lang: _add_communes(lang) for lang in ("fr", "en")},
        "grow_area": {lang: _grow_area(lang) for lang in ("fr", "en")},
        "change": change_messages(labels),
    }

    def compile(self, needs: Sequence[NeedIn]) -> dict[str, Any]:
        m = len(needs)
        cx = np.full(m, _NAN)
        cy = np.full(m, _NAN)
        has_c = np.array([n.center_lon is not None for n in needs], dtype=bool).reshape(m)
        if has_c.any():
            lon = np.array([_opt(n.center_lon) for n in needs]).reshape(m)
            lat = np.array([_opt(n.center_lat) for n in needs]).reshape(m)
            x, y = to_lambert93(lon[has_c], lat[has_c])
            cx[has_c], cy[has_c] = x, y
        radius = np.array([_opt(n.radius_m) for n in needs]).reshape(m)
        reach = np.where(has_c, np.where(np.isnan(radius), DEFAULT_PLACE_REACH_M, radius), _NAN)
        polygon = np.full(m, None, dtype=object)
        for i, n in enumerate(needs):
            if n.polygon is not None:
                polygon[i] = project_geometry(shapely.from_geojson(json.dumps(n.polygon)))
        place_x: list[np.ndarray] = []
        place_y: list[np.ndarray] = []
        place_reach: list[np.ndarray] = []
        place_hard: list[np.ndarray] = []
        for n in needs:
            if n.places:
                px, py = to_lambert93([q.lon for q in n.places], [q.lat for q in n.places])
                mx = np.array([_opt(q.max_distance_m) for q in n.places])
            else:
                px = py = mx = np.empty(0)
            place_x.append(px)
            place_y.append(py)
            place_reach.append(np.where(np.isnan(mx), DEFAULT_PLACE_REACH_M, mx))
            place_hard.append(~np.isnan(mx))
        communes = [tuple(n.communes) for n in needs]
        # padded and flattened forms, for one listing against many needs
        width = max((len(x) for x in place_x), default=0)
        pad = {k: np.full((m, width), _NAN) for k in ("x", "y", "reach")}
        pad_hard = np.zeros((m, width), dtype=bool)
        for i in range(m):
            k = len(place_x[i])
            pad["x"][i, :k], pad["y"][i, :k] = place_x[i], place_y[i]
            pad["reach"][i, :k], pad_hard[i, :k] = place_reach[i], place_hard[i]
        return {
            "communes": communes,
            "cx": cx,
            "cy": cy,
            "reach": reach,
            "radius_hard": ~np.isnan(radius) & has_c,
            "polygon": polygon,
            "place_x": place_x,
            "place_y": place_y,
            "place_reach": place_reach,
            "place_hard": place_hard,
            "place_label": [tuple(q.label for q in n.places) for n in needs],
            "place_limit": [tuple(q.max_distance_m for q in n.places) for n in needs],
            "pad_place_x": pad["x"],
            "pad_place_y": pad["y"],
            "pad_place_reach": pad["reach"],
            "pad_place_hard": pad_hard,
            "commune_owner": np.array(
                [i for i, cs in enumerate(communes) for _ in cs], dtype=np.int64
            ),
            "commune_code": np.array([c for cs in communes for c in cs], dtype=object),
            "has_communes": np.array([bool(cs) for cs in communes], dtype=bool).reshape(m),
            "has_polygon": np.array([g is not None for g in polygon], dtype=bool).reshape(m),
            "has_centre": has_c,
        }

    def stated(self, p: Params, m: int) -> np.ndarray:
        return (
            p["has_communes"]
            | p["has_centre"]
            | p["has_polygon"]
            | np.array([len(x) > 0 for x in p["place_x"]], dtype=bool).reshape(m)
        )

    def filters(self, index: MatchIndex, p: Params, i: int) -> list[tuple[str, np.ndarray]]:
        out = []
        if p["communes"][i]:
            out.append(("communes", _communes_mask(index, p["communes"][i])))
        if p["polygon"][i] is not None:
            hits = index.positions_covered_by(p["polygon"][i])
            out.append(("polygon", _mask_from_positions(index.n_rows, hits)))
        if p["radius_hard"][i]:
            mask = index.within_mask(float(p["cx"][i]), float(p["cy"][i]), float(p["reach"][i]))
            out.append(("radius_m", mask))
        for j in np.flatnonzero(p["place_hard"][i]).tolist():
            mask = index.within_mask(
                float(p["place_x"][i][j]), float(p["place_y"][i][j]), float(p["place_reach"][i][j])
            )
            out.append((f"places.{j}", mask))
        return out

    def utility(self, index: MatchIndex, p: Params, i: int, rows: np.ndarray) -> np.ndarray:
        c = index.cols
        x, y = c["x"][rows], c["y"][rows]
        parts: list[np.ndarray] = []
        if p["communes"][i]:
            parts.append(np.where(_communes_mask(index, p["communes"][i])[rows], 1.0, 0.0))
        if p["polygon"][i] is not None:
            inside = np.isin(rows, index.positions_covered_by(p["polygon"][i]))
            parts.append(np.where(inside, 1.0, 0.0))
        if not np.isnan(p["cx"][i]):
            parts.append(distance_utility(distance_m(x, y, p["cx"][i], p["cy"][i]), p["reach"][i]))
        for j in range(len(p["place_x"][i])):
            d = distance_m(x, y, p["place_x"][i][j], p["place_y"][i][j])
            parts.append(distance_utility(d, p["place_reach"][i][j]))
        acc = parts[0]
        for part in parts[1:]:
            acc = acc + part
        return acc / float(len(parts))

    def reasons(self, record: Mapping[str, Any], p: Params, i: int, utility: float) -> list[Reason]:
        out = []
        x, y = record["x"], record["y"]
        if p["communes"][i]:
            code = record["commune_insee"]
            out.append(
                Reason(
                    self.name,
                    "in_communes" if code in p["communes"][i] else "outside_communes",
                    {"commune": code, "name": record.get("commune_name")},
                )
            )
        poly = p["polygon"][i]
        if poly is not None:
            point = shapely.Point(x, y)
            if shapely.covers(poly, point):
                out.append(Reason(self.name, "in_area", {}))
            else:
                d = float(shapely.distance(poly, point))
                out.append(Reason(self.name, "outside_area", {"distance": d}))
        if not np.isnan(p["cx"][i]):
            d = float(distance_m(x, y, p["cx"][i], p["cy"][i]))
            radius = float(p["reach"][i]) if p["radius_hard"][i] else None
            out.append(Reason(self.name, "centre", {"distance": d, "radius": radius}))
        for j, label in enumerate(p["place_label"][i]):
            d = float(distance_m(x, y, p["place_x"][i][j], p["place_y"][i][j]))
            limit = p["place_limit"][i][j]
            beyond = float(limit) if limit is not None and d > limit else None
            out.append(
                Reason(self.name, "place", {"label": label, "distance": d, "beyond": beyond})
            )
        return out

    def candidates(
        self,
        index: MatchIndex,
        p: Params,
        i: int,
        need: NeedIn,
        constraint: str,
        rows: np.ndarray,
    ) -> list[Candidates]:
        c = index.cols
        if constraint == "communes":
            return self._communes(index, p, i, rows)
        if constraint == "polygon":
            return self._polygon(c, p, i, rows)
        if constraint == "radius_m":
            d = distance_m(c["x"][rows], c["y"][rows], p["cx"][i], p["cy"][i])
            cur = float(p["reach"][i])
            return [
                Candidates(
                    self.name,
                    "radius_m",
                    severity((d - cur) / cur, MAX_RAISE),
                    lambda sel: self._change("radius_m", cur, float(np.max(d[sel])), {}),
                )
            ]
        if constraint.startswith("places."):
            j = int(constraint.split(".")[1])
            d = distance_m(c["x"][rows], c["y"][rows], p["place_x"][i][j], p["place_y"][i][j])
            cur = float(p["place_reach"][i][j])

            def update(v: float) -> dict[str, Any]:
                places = [q.model_dump() for q in need.places]
                places[j]["max_distance_m"] = v
                return {"places": places}

            label = p["place_label"][i][j]
            return [
                Candidates(
                    self.name,
                    constraint,
                    severity((d - cur) / cur, MAX_RAISE),
                    lambda sel: self._change(
                        constraint, cur, float(np.max(d[sel])), {"place": label}, update
                    ),
                )
            ]
        return []

    def _change(
        self,
        constraint: str,
        cur: float,
        needed: float,
        extra: dict[str, Any],
        update: Any = None,
    ) -> Relaxation:
        new = lax_round(needed, 100.0, up=True)
        params: dict[str, Any] = {"constraint": constraint, "current": cur, "suggested": new}
        if "place" in extra:
            params["place"] = extra["place"]
        return Relaxation(
            self.name,
            constraint,
            cur,
            new,
            update(new) if update else {constraint: new},
            0,
            abs(new - cur) / cur,
            {},
            reason=Reason(self.name, "change" if "place" not in extra else "place_limit", params),
        )

    def _communes(self, index: MatchIndex, p: Params, i: int, rows: np.ndarray) -> list[Candidates]:
        codes = index.cols["commune"][rows]
        known = codes >= 0
        if not known.any():
            return []
        values, inverse, counts = np.unique(
            np.where(known, codes, -1), return_inverse=True, return_counts=True
        )
        names = np.array([index.communes[v] if v >= 0 else "" for v in values])
        # most listings first, then by code: the order in which communes are added
        order = np.lexsort((names, -counts))
        place = np.empty(len(values), dtype=np.float64)
        place[order] = np.arange(len(values))
        cur = list(p["communes"][i])
        n_cur = len(cur)
        # adding one commune to n: 1 / (n + 1); the rank of the commune breaks ties
        sev = (1.0 / (n_cur + 1)) * (1.0 + place[inverse] * 1e-9)
        sev = np.where(known, sev, np.nan)

        def make(sel: np.ndarray) -> Relaxation | None:
            picked = np.unique(codes[sel & known])
            picked = picked[np.argsort(place[np.searchsorted(values, picked)])]
            added = [index.communes[v] for v in picked[:MAX_ADDED_COMMUNES]]
            if not added:
                return None
            return Relaxation(
                self.name,
                "communes",
                cur,
                cur + added,
                {"communes": cur + added},
                0,
                len(added) / max(1, n_cur),
                {},
                cost=0.0,
                reason=Reason(
                    self.name,
                    "add_communes",
                    {"added": added, "names": [index.commune_names.get(a) for a in added]},
                ),
            )

        return [Candidates(self.name, "communes", sev, make)]

    def _polygon(
        self, c: Mapping[str, np.ndarray], p: Params, i: int, rows: np.ndarray
    ) -> list[Candidates]:
        poly = p["polygon"][i]
        pts = shapely.points(c["x"][rows], c["y"][rows])
        d = np.asarray(shapely.distance(poly, pts), dtype=np.float64)
        scale = float(np.sqrt(shapely.area(poly) / np.pi)) or 1.0

        def make(sel: np.ndarray) -> Relaxation:
            new = lax_round(float(np.max(d[sel])), 100.0, up=True)
            grown = to_wgs84_geometry(shapely.buffer(poly, new))
            return Relaxation(
                self.name,
                "polygon",
                None,
                new,
                {"polygon": json.loads(shapely.to_geojson(grown))},
                0,
                new / 1000.0,
                {},
                reason=Reason(self.name, "grow_area", {"suggested": new}),
            )

        return [Candidates(self.name, "polygon", severity(d / scale, MAX_RAISE), make)]

    def ok_listing(self, index: MatchIndex, pos: int, p: Params) -> np.ndarray:
        return self.listing(index, pos, p)[0]

    def utility_listing(self, index: MatchIndex, pos: int, p: Params) -> np.ndarray:
        return self.listing(index, pos, p)[1]

    def listing(self, index: MatchIndex, pos: int, p: Params) -> tuple[np.ndarray, np.ndarray]:
        hit, inside = self._inside(index, pos, p)
        return self._ok(index, pos, p, hit, inside), self._utility(index, pos, p, hit, inside)

    def _ok(
        self, index: MatchIndex, pos: int, p: Params, hit: np.ndarray, inside_poly: np.ndarray
    ) -> np.ndarray:
        c = index.cols
        x, y = c["x"][pos], c["y"][pos]
        dx, dy = x - p["cx"], y - p["cy"]
        ok_radius = ~p["radius_hard"] | (dx * dx + dy * dy <= p["reach"] * p["reach"])
        pdx, pdy = x - p["pad_place_x"], y - p["pad_place_y"]
        pd2 = pdx * pdx + pdy * pdy
        reach = p["pad_place_reach"]
        ok_places = ~(p["pad_place_hard"] & ~(pd2 <= reach * reach)).any(axis=1)
        return (
            (~p["has_communes"] | hit) & (~p["has_polygon"] | inside_poly) & ok_radius & ok_places
        )

    def _inside(self, index: MatchIndex, pos: int, p: Params) -> tuple[np.ndarray, np.ndarray]:
        m = len(p["cx"])
        code = index.cols["commune"][pos]
        commune = index.communes[code] if code >= 0 else None
        hit = np.zeros(m, dtype=bool)
        if commune is not None and len(p["commune_code"]):
            hit[p["commune_owner"][p["commune_code"] == commune]] = True
        inside = np.zeros(m, dtype=bool)
        if p["has_polygon"].any():
            point = shapely.Point(index.cols["x"][pos], index.cols["y"][pos])
            inside[p["has_polygon"]] = shapely.covers(
                np.asarray(p["polygon"][p["has_polygon"]], dtype=object), point
            )
        return hit, inside

    def _utility(
        self, index: MatchIndex, pos: int, p: Params, hit: np.ndarray, inside: np.ndarray
    ) -> np.ndarray:
        x, y = index.cols["x"][pos], index.cols["y"][pos]
        parts: list[Any] = [
            np.where(p["has_communes"], np.where(hit, 1.0, 0.0), np.nan),
            np.where(p["has_polygon"], np.where(inside, 1.0, 0.0), np.nan),
            distance_utility(distance_m(x, y, p["cx"], p["cy"]), p["reach"]),
        ]
        for j in range(p["pad_place_x"].shape[1]):
            d = distance_m(x, y, p["pad_place_x"][:, j], p["pad_place_y"][:, j])
            parts.append(distance_utility(d, p["pad_place_reach"][:, j]))
        return mean_of_present(parts)
