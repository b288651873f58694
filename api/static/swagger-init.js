// Starts Swagger UI on /docs. Kept in a file of its own: the Content-Security-Policy of the
// app allows no inline script. The OpenAPI address comes from the page's data attribute.
(function () {
  "use strict";
  var node = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: node.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    validatorUrl: null, // no badge fetched from validator.swagger.io
    showExtensions: true,
    showCommonExtensions: true,
    presets: [SwaggerUIBundle.presets.apis],
  });
})();
