/* Implanter's map code: points with popups and tooltips built as DOM text (never HTML),
 * colours by score, clustering, and the link between a result list and its markers.
 * Loaded after Leaflet (and markercluster when a layer clusters); called by the map's script. */
(function () {
  "use strict";

  var registry = {}; // premises id -> marker
  var NEUTRAL = "#1f5f99";

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

  function points(map, data, opts) {
    opts = opts || {};
    if (window.performance && performance.mark) performance.mark("implanter-points-start");
    var radius = opts.radius || 7;
    var place = opts.style === "place";
    var layer = L.geoJSON(data, {
      pointToLayer: function (feature, latlng) {
        var props = feature.properties || {};
        if (place) {
          // A place that matters to the company: a dark square with its name.
          var icon = L.divIcon({ className: "place-marker", iconSize: [16, 16] });
          var pin = L.marker(latlng, { icon: icon, keyboard: false, title: "" });
          pin.bindTooltip(function () { return text("span", props.title); }, { permanent: true, direction: "right" });
          return pin;
        }
        var colour = opts.colour || scoreColour(props.score);
        var marker = L.circleMarker(latlng, {
          radius: radius,
          color: "#ffffff",
          weight: 1.5,
          fillColor: colour,
          fillOpacity: 0.9
        });
        marker.baseStyle = { radius: radius, color: "#ffffff", weight: 1.5 };
        // Built when opened: cheap for 100,000 markers; text nodes only.
        marker.bindPopup(function () { return popupContent(props, opts); });
        marker.bindTooltip(function () { return text("span", props.title); });
        if (props.id !== undefined && props.id !== null && !opts.colour) {
          registry[String(props.id)] = marker;
        }
        return marker;
      }
    });
    if (window.performance && performance.mark) performance.mark("implanter-points-built");
    var shown = layer;
    if (opts.cluster && L.markerClusterGroup) {
      shown = L.markerClusterGroup({ chunkedLoading: true, showCoverageOnHover: false });
      shown.addLayer(layer);
    }
    shown.addTo(map);
    if (opts.fit && layer.getLayers().length) {
      map.fitBounds(layer.getBounds(), { padding: [24, 24], maxZoom: 15 });
    }
    map.getContainer().setAttribute("data-markers", String(layer.getLayers().length));
    if (window.performance && performance.mark) performance.mark("implanter-points-added");
    return shown;
  }

  // A layer's features, from the page's JSON data block (never executed, never HTML).
  function data(id) {
    var block = document.getElementById(id);
    return block ? JSON.parse(block.textContent) : { type: "FeatureCollection", features: [] };
  }

  function highlight(id, on) {
    var marker = registry[String(id)];
    if (!marker || !marker.setStyle) return;
    if (on) {
      marker.setStyle({ radius: 12, color: "#111111", weight: 3 });
      if (marker.bringToFront && marker._map) marker.bringToFront();
    } else {
      marker.setStyle(marker.baseStyle);
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
