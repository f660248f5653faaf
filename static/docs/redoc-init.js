// ReDoc over Assay's own OpenAPI document (read-only reference; "Try it out" is at /docs).
"use strict";
window.addEventListener("load", function () {
  Redoc.init("/openapi.json", { hideDownloadButton: false, expandResponses: "200,201", pathInMiddlePanel: true },
             document.getElementById("redoc"));
});
