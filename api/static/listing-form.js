/* The listing form's location picker: a click on the map fills the longitude and latitude
 * inputs (which stay typeable: the form works without the map) and moves a marker; typing
 * them moves the marker too. No inline handler; loaded after the map's own script. */
(function () {
  "use strict";

  function parse(value) {
    var n = parseFloat(String(value || "").replace(/[\s\u00a0\u202f]/g, "").replace(",", "."));
    return isFinite(n) ? n : null;
  }

  function init() {
    var form = document.getElementById("listing-form");
    if (!form || !window.L) return;
    var map = window[form.getAttribute("data-map")];
    var lon = document.getElementById("f-lon");
    var lat = document.getElementById("f-lat");
    var said = document.getElementById("picked");
    if (!map || !lon || !lat) return;
    var marker = null;

    function place(latlng) {
      if (marker) {
        marker.setLatLng(latlng);
      } else {
        marker = L.circleMarker(latlng, {
          radius: 9, color: "#ffffff", weight: 2, fillColor: "#a4161a", fillOpacity: 0.95
        }).addTo(map);
      }
    }

    function fromInputs() {
      var x = parse(lon.value);
      var y = parse(lat.value);
      if (x !== null && y !== null && Math.abs(x) <= 180 && Math.abs(y) <= 90) place([y, x]);
    }

    map.on("click", function (event) {
      lon.value = event.latlng.lng.toFixed(6);
      lat.value = event.latlng.lat.toFixed(6);
      place(event.latlng);
      if (said) {
        var prefix = form.getAttribute("data-picked-" + form.getAttribute("data-lang")) || "";
        said.textContent = prefix + lon.value + ", " + lat.value;
      }
    });
    lon.addEventListener("change", fromInputs);
    lat.addEventListener("change", fromInputs);
    fromInputs();
    map.getContainer().setAttribute("data-picker", "ready");
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
