// Swagger UI over Assay's own OpenAPI document. "Authorize" takes an access token (bearerAuth)
// or an API key (apiKeyHeader, sent as X-API-Key); "Try it out" then calls this server.
// No validator badge (it would call an outside service) and nothing kept in localStorage.
"use strict";
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout",
    validatorUrl: null,
    persistAuthorization: false,
    displayRequestDuration: true,
    filter: true,
    tryItOutEnabled: false,
  });
});
