/* The staff dashboard's layers: communes filled by a value (choropleth), points coloured by a
 * property, each with tooltips and popups built as DOM text (never HTML). The layers are
 * returned, not added: folium adds the ones shown on opening and the layer control the rest.
 * Loaded after Leaflet; called by the map's script (which carries the page's CSP nonce). */
(function () {
  "use strict";

  function text(tag, value, className) {
    var el = document.createElement(tag);
    el.textContent = value === null || value === undefined ? "" : String(value);
    if (className) el.className = className;
    return el;
  }

  function content(props, linkText) {
    var box = document.createElement("div");
    box.className = "map-popup";
    box.appendChild(text("strong", props.title));
    (props.lines || []).forEach(function (line) {
      box.appendChild(text("div", line));
    });
    // Only a path of this site is ever made a link.
    if (linkText && props.href && props.href.charAt(0) === "/" && props.href.charAt(1) !== "/") {
      var link = text("a", linkText);
      link.href = props.href;
      box.appendChild(link);
    }
    return box;
  }

  // Count what a layer drew on the map's container, for people and tests reading the page.
  function counted(map, layer, key, n) {
    layer.on("add", function () {
      map.getContainer().setAttribute("data-layer-" + key, String(n));
    });
    layer.on("remove", function () {
      map.getContainer().removeAttribute("data-layer-" + key);
    });
    return layer;
  }

  // A pane below Leaflet's overlay pane (z-index 400), so that polygons stay under the
  // points whichever layer the control adds last.
  function pane(map, name, zIndex) {
    if (!map.getPane(name)) map.createPane(name).style.zIndex = String(zIndex);
    return name;
  }

  // Communes (or any polygons) filled with each feature's `fill` colour.
  function areas(map, data, opts) {
    opts = opts || {};
    var layer = L.geoJSON(data, {
      pane: pane(map, opts.pane || "implanter-areas", opts.zIndex || 350),
      style: function (feature) {
        var p = feature.properties || {};
        return {
          color: opts.stroke || "#37474f",
          weight: opts.weight || 1,
          fillColor: p.fill || "#cccccc",
          fillOpacity: p.fill ? (opts.fillOpacity || 0.7) : 0.05,
          dashArray: opts.dashArray || null
        };
      },
      onEachFeature: function (feature, item) {
        var props = feature.properties || {};
        item.bindTooltip(function () { return content(props, null); }, { sticky: true });
        item.bindPopup(function () { return content(props, opts.linkText); });
      }
    });
    return counted(map, layer, opts.key || "areas", data.features.length);
  }

  // Points as circles coloured by each feature's `colour`; canvas when they are many.
  function points(map, data, opts) {
    opts = opts || {};
    var renderer = data.features.length > 1500 ? L.canvas({ padding: 0.5 }) : undefined;
    var layer = L.geoJSON(data, {
      pointToLayer: function (feature, latlng) {
        var p = feature.properties || {};
        var options = {
          radius: p.radius || opts.radius || 6,
          color: opts.stroke || "#ffffff",
          weight: opts.weight || 1.5,
          fillColor: p.colour || opts.colour || "#1f5f99",
          fillOpacity: p.hollow ? 0.15 : 0.9
        };
        if (renderer) options.renderer = renderer;
        return L.circleMarker(latlng, options);
      },
      onEachFeature: function (feature, item) {
        var props = feature.properties || {};
        item.bindTooltip(function () { return text("span", props.title); });
        item.bindPopup(function () { return content(props, opts.linkText); });
      }
    });
    return counted(map, layer, opts.key || "points", data.features.length);
  }

  // Circles of a given radius in metres (hot spots of demand).
  function circles(map, data, opts) {
    opts = opts || {};
    var group = L.featureGroup();
    var circlePane = pane(map, opts.pane || "implanter-circles", opts.zIndex || 370);
    data.features.forEach(function (feature) {
      var p = feature.properties || {};
      var c = feature.geometry.coordinates;
      var circle = L.circle([c[1], c[0]], {
        pane: circlePane,
        radius: p.radius_m || 500,
        color: opts.colour || "#5e3c99",
        weight: 2,
        fillOpacity: 0.12,
        dashArray: "6 4"
      });
      circle.bindTooltip(function () { return content(p, null); }, { sticky: true });
      group.addLayer(circle);
    });
    return counted(map, group, opts.key || "circles", data.features.length);
  }

  // A layer's GeoJSON, from its <script type="application/json"> block in the page.
  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : { type: "FeatureCollection", features: [] };
  }

  window.ImplanterDashboard = { areas: areas, points: points, circles: circles, data: data };
})();
