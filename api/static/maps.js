/* Implanter's map code: points with popups and tooltips built as DOM text (never HTML),
 * colours by score, clustering, and the link between a result list and its markers.
 * Loaded after Leaflet (and markercluster when a layer clusters); called by the map's script. */
(function () {
  "use strict";

  var registry = {}; // premises id -> marker
  var NEUTRAL = "#1f5f99";
  // Up to this many markers (or when clustered: only those in view are on the map), each is
  // an element a keyboard reaches (Tab) and opens (Enter or Space); above, unclustered
  // layers are drawn on one canvas (fast for 100,000 points), and the list beside the map
  // carries the same listings.
  var FOCUSABLE_UNTIL = 1500;

  // A colour-blind-safe ramp from low (orange) to high (dark blue-green) scores.
  function scoreColour(score) {
    if (score === null || score === undefined) return NEUTRAL;
    if (score >= 80) return "#00574b";
    if (score >= 65) return "#1a7f6e";
    if (score >= 50) return "#b26b00";
    return "#a4161a";
  }

  function text(tag, value, className) {
    var el = document.createElement(tag);
    el.textContent = value === null || value === undefined ? "" : String(value);
    if (className) el.className = className;
    return el;
  }

  function popupContent(props, opts) {
    var box = document.createElement("div");
    box.className = "map-popup";
    box.appendChild(text("strong", props.title));
    (props.lines || []).forEach(function (line) {
      box.appendChild(text("div", line));
    });
    var href = props.href;
    if (!href && opts.href && props.id !== undefined) {
      href = opts.href.replace("{id}", encodeURIComponent(String(props.id)));
    }
    if (href && href.charAt(0) === "/" && href.charAt(1) !== "/") {
      var link = text("a", opts.linkText || href);
      link.href = href;
      box.appendChild(link);
    }
    return box;
  }

  function mark(name) {
    if (window.performance && performance.mark) performance.mark(name);
  }

  // A round marker as an element: Leaflet's keyboard option gives it tabindex="0" and
  // role="button"; its accessible name is the listing's title (an attribute, never HTML).
  // One icon per colour and size, shared by the markers (each draws its own element).
  var DotIcon = L.DivIcon.extend({
    createIcon: function (old) {
      var box = L.DivIcon.prototype.createIcon.call(this, old);
      var dot = document.createElement("span");
      var size = this.options.iconSize[0];
      dot.style.cssText = "display:block;box-sizing:border-box;border-radius:50%;" +
        "border:1.5px solid #fff;box-shadow:0 0 0 1px rgba(0,0,0,.45);transition:transform .1s";
      dot.style.width = dot.style.height = size + "px";
      dot.style.backgroundColor = this.options.colour;
      box.replaceChildren(dot);
      box.style.borderRadius = "50%";
      return box;
    }
  });
  var icons = {};
  function dotIcon(colour, radius) {
    var key = colour + "/" + radius;
    if (!icons[key]) {
      var size = 2 * radius + 2;
      icons[key] = new DotIcon({ className: "premises-marker", iconSize: [size, size], colour: colour, html: "" });
    }
    return icons[key];
  }
  function focusableMarker(latlng, props, colour, radius) {
    var marker = L.marker(latlng, { icon: dotIcon(colour, radius), keyboard: true });
    var name = String(props.title === null || props.title === undefined ? "" : props.title);
    if (props.lines && props.lines.length) name += " – " + props.lines.join(", ");
    marker.on("add", function () {
      var el = marker.getElement();
      if (el) el.setAttribute("aria-label", name);
      if (marker.highlighted) highlight(props.id, true);
    });
    return marker;
  }

  // One popup and one tooltip per layer, filled when a marker is clicked or hovered (cheap
  // for 100,000 markers: no popup, tooltip or listener per marker); text nodes only. A
  // marker reached with the keyboard opens the popup with Enter or Space; the popup's link
  // then takes the focus, and Escape (which closes it) gives it back to the marker.
  function attachPopups(map, group, opts) {
    var popup = L.popup({ maxWidth: 280, autoPanPadding: [24, 24] });
    var tooltip = L.tooltip({ direction: "top", offset: [0, -8] });
    var opener = null;
    function target(e) {
      var layer = e.layer || e.propagatedFrom || e.target;
      return layer && layer.props ? layer : null;
    }
    function show(layer, byKeyboard) {
      map.closeTooltip(tooltip);
      opener = byKeyboard ? layer : null;
      popup.setLatLng(layer.getLatLng()).setContent(popupContent(layer.props, opts)).openOn(map);
      var link = byKeyboard && popup.getElement() && popup.getElement().querySelector(".map-popup a");
      if (link) link.focus({ preventScroll: true });
    }
    group.on("click", function (e) {
      var layer = target(e);
      if (layer) show(layer, false);
    });
    group.on("keydown", function (e) {
      var key = e.originalEvent && e.originalEvent.key;
      var layer = target(e);
      if (!layer || (key !== "Enter" && key !== " ")) return;
      e.originalEvent.preventDefault();
      show(layer, true);
    });
    // Leaflet closes a popup on Escape only while the map itself has the focus.
    map.getContainer().addEventListener("keydown", function (e) {
      if (e.key === "Escape" && popup.isOpen()) {
        map.closePopup(popup);
      }
    });
    popup.on("remove", function () {
      var el = opener && opener._map && opener.getElement && opener.getElement();
      opener = null;
      if (el && (!document.activeElement || document.activeElement === document.body ||
                 map.getContainer().contains(document.activeElement))) {
        el.focus({ preventScroll: true });
      }
    });
    group.on("mouseover", function (e) {
      var layer = target(e);
      if (!layer) return;
      tooltip.setLatLng(layer.getLatLng()).setContent(text("span", layer.props.title));
      map.openTooltip(tooltip);
    });
    group.on("mouseout", function () { map.closeTooltip(tooltip); });
  }

  function points(map, data, opts) {
    opts = opts || {};
    mark("implanter-points-start");
    var radius = opts.radius || 7;
    var place = opts.style === "place";
    var features = data.features || [];
    var markers = new Array(features.length);
    var base = { radius: radius, color: "#ffffff", weight: 1.5 };
    var focusable = (opts.cluster && window.Supercluster) || features.length <= FOCUSABLE_UNTIL;
    for (var i = 0; i < features.length; i++) {
      var props = features[i].properties || {};
      var c = features[i].geometry.coordinates;
      var latlng = L.latLng(c[1], c[0]);
      var marker;
      if (place) {
        // A place that matters to the company: a dark square with its name.
        var icon = L.divIcon({ className: "place-marker", iconSize: [16, 16] });
        marker = L.marker(latlng, { icon: icon, keyboard: false });
        marker.bindTooltip(text("span", props.title), { permanent: true, direction: "right" });
      } else if (focusable) {
        marker = focusableMarker(latlng, props, opts.colour || scoreColour(props.score), radius);
      } else {
        marker = L.circleMarker(latlng, {
          radius: radius,
          color: "#ffffff",
          weight: 1.5,
          fillColor: opts.colour || scoreColour(props.score),
          fillOpacity: 0.9,
          // A click on a marker is the marker's (its popup), not the map's (a search centre).
          bubblingMouseEvents: false
        });
        marker.baseStyle = base;
      }
      if (!place) {
        marker.props = props;
        marker.homeMap = map;
        if (props.id !== undefined && props.id !== null && !opts.colour) {
          registry[String(props.id)] = marker;
        }
      }
      markers[i] = marker;
    }
    mark("implanter-points-built");
    var shown;
    if (opts.cluster && window.Supercluster) {
      shown = clustered(map, markers, opts);
    } else {
      shown = L.featureGroup(markers);
    }
    if (!place) attachPopups(map, shown, opts);
    shown.addTo(map);
    if (opts.fit && markers.length) {
      map.fitBounds(L.latLngBounds(markers.map(function (m) { return m.getLatLng(); })), {
        padding: [24, 24], maxZoom: 15
      });
    }
    var count = (+map.getContainer().getAttribute("data-markers") || 0) + (place ? 0 : markers.length);
    map.getContainer().setAttribute("data-markers", String(count));
    mark("implanter-points-added");
    return shown;
  }

  // Groups of markers drawn for the view only: supercluster indexes every point once, and
  // each move draws the clusters and single markers in view (a cluster is a marker with its
  // count as text; a click zooms to where it splits).
  function clustered(map, markers, opts) {
    var until = opts.clusterUntil || 16;
    var index = new Supercluster({ radius: 60, maxZoom: until });
    var points = new Array(markers.length);
    for (var i = 0; i < markers.length; i++) {
      var ll = markers[i].getLatLng();
      markers[i].clusterUntil = until;
      points[i] = {
        type: "Feature",
        properties: { i: i },
        geometry: { type: "Point", coordinates: [ll.lng, ll.lat] }
      };
    }
    index.load(points);
    var group = L.featureGroup();
    var words = opts.clusterWords || ["locaux", "premises"];
    function clusterMarker(c) {
      var n = c.properties.point_count;
      var size = n < 10 ? "small" : n < 100 ? "medium" : "large";
      var box = document.createElement("div");
      box.appendChild(text("span", c.properties.point_count_abbreviated));
      var latlng = L.latLng(c.geometry.coordinates[1], c.geometry.coordinates[0]);
      var m = L.marker(latlng, {
        icon: L.divIcon({ html: box, className: "marker-cluster marker-cluster-" + size, iconSize: [40, 40] }),
        title: n + " " + (document.documentElement.lang === "en" ? words[1] : words[0])
      });
      function expand() {
        map.setView(latlng, Math.min(index.getClusterExpansionZoom(c.properties.cluster_id), until + 1));
      }
      m.on("click", expand);
      // Enter or Space on a cluster reached with the keyboard: zoom in, then give the focus
      // to the marker or cluster nearest to where it was (its element is gone).
      m.on("keydown", function (e) {
        var key = e.originalEvent && e.originalEvent.key;
        if (key !== "Enter" && key !== " ") return;
        e.originalEvent.preventDefault();
        refocus = latlng;
        expand();
      });
      return m;
    }
    var refocus = null;
    function draw() {
      var b = map.getBounds();
      var found = index.getClusters([b.getWest(), b.getSouth(), b.getEast(), b.getNorth()], Math.round(map.getZoom()));
      group.clearLayers();
      for (var j = 0; j < found.length; j++) {
        var c = found[j];
        group.addLayer(c.properties.cluster ? clusterMarker(c) : markers[c.properties.i]);
      }
      if (refocus) {
        var near = null;
        var best = Infinity;
        group.eachLayer(function (layer) {
          var d = map.distance(refocus, layer.getLatLng());
          if (d < best) { best = d; near = layer; }
        });
        refocus = null;
        var el = near && near.getElement && near.getElement();
        if (el) el.focus({ preventScroll: true });
      }
    }
    group.on("add", function () { draw(); map.on("moveend", draw); });
    group.on("remove", function () { map.off("moveend", draw); });
    return group;
  }

  // Open a listing's popup or tooltip as a click or a hover on its marker would (zooming in
  // first when the marker is inside a cluster).
  function open(id) {
    var marker = registry[String(id)];
    if (!marker) return;
    var map = marker.homeMap;
    function go() {
      if (!marker._map && marker.clusterUntil && map) {
        map.setView(marker.getLatLng(), marker.clusterUntil + 1, { animate: false });
      }
      marker.fire("click", { latlng: marker.getLatLng() }, true);
    }
    // A zoom under way would end where it was going, after the popup opened: wait for it.
    if (map && map._animatingZoom) map.once("zoomend", go); else go();
  }
  function hover(id) {
    var marker = registry[String(id)];
    if (marker) marker.fire("mouseover", { latlng: marker.getLatLng() }, true);
  }

  // A layer's features, from the page's JSON data block (never executed, never HTML).
  function data(id) {
    var block = document.getElementById(id);
    return block ? JSON.parse(block.textContent) : { type: "FeatureCollection", features: [] };
  }

  function highlight(id, on) {
    var marker = registry[String(id)];
    if (!marker) return;
    marker.highlighted = !!on;
    if (marker.setStyle) {  // a circle on the canvas
      marker.setStyle(on ? { radius: 12, color: "#111111", weight: 3 } : marker.baseStyle);
      if (on && marker.bringToFront && marker._map) marker.bringToFront();
    } else if (marker.setZIndexOffset) {  // an element: larger, dark ring, on top
      marker.setZIndexOffset(on ? 1000 : 0);
      var dot = marker.getElement() && marker.getElement().firstChild;
      if (dot) {
        dot.style.transform = on ? "scale(1.7)" : "";
        dot.style.boxShadow = on ? "0 0 0 2px #111" : "0 0 0 1px rgba(0,0,0,.45)";
      }
    }
    var el = marker.getElement && marker.getElement();
    if (el) el.classList.toggle("highlighted", !!on);
  }

  // Any element with data-premises-id highlights its marker on hover and keyboard focus.
  function linkList() {
    document.querySelectorAll("[data-premises-id]").forEach(function (item) {
      var id = item.getAttribute("data-premises-id");
      var on = function () { highlight(id, true); item.classList.add("is-highlighted"); };
      var off = function () { highlight(id, false); item.classList.remove("is-highlighted"); };
      item.addEventListener("mouseenter", on);
      item.addEventListener("mouseleave", off);
      item.addEventListener("focusin", on);
      item.addEventListener("focusout", off);
    });
  }

  window.Implanter = {
    points: points,
    data: data,
    open: open,
    hover: hover,
    highlight: highlight,
    scoreColour: scoreColour,
    markers: registry
  };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", linkList);
  } else {
    linkList();
  }
})();
