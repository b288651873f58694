/* The search page: a click on the map sets the search centre; empty fields stay out of the
 * URL so that a shared search reads well. No inline handler: the CSP allows no inline script
 * but the map's own (with the page's nonce). */
(function () {
  "use strict";

  function setCentre(latlng) {
    var lat = document.getElementById("f-center_lat");
    var lon = document.getElementById("f-center_lon");
    var radius = document.getElementById("f-radius_m");
    if (!lat || !lon) return;
    lat.value = latlng.lat.toFixed(5);
    lon.value = latlng.lng.toFixed(5);
    if (radius && !radius.value) radius.value = "2000";
    var hint = document.getElementById("center-hint");
    if (hint) hint.setAttribute("data-picked", "1");
  }

  function init() {
    var frame = document.getElementById("results-map");
    var map = frame && window[frame.getAttribute("data-map-name")];
    if (map && map.on) map.on("click", function (e) { setCentre(e.latlng); });
    var form = document.getElementById("search-form");
    if (form) {
      form.addEventListener("submit", function () {
        form.querySelectorAll("input, select").forEach(function (el) {
          if (el.name && el.name !== "required" && el.value === "" && el.type !== "checkbox") {
            el.disabled = true;
          }
        });
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
