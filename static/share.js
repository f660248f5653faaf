// Assay share and embed pages: a filter form sends itself when a choice changes. The form is a
// plain GET form that works without this; no inline handlers, no eval (the page's CSP allows
// scripts from /static/ only). Editing this file changes PageRenderer.staticFilesVersion.
"use strict";

document.querySelectorAll("form.filters").forEach(function (form) {
  form.querySelectorAll("select").forEach(function (select) {
    select.addEventListener("change", function () {
      if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
    });
  });
  // Text fields still need a button (Enter works too, but a visible one is clearer).
  var apply = form.querySelector(".apply");
  if (apply && !form.querySelector("input[type=text]")) { apply.hidden = true; }
});
