/* Assay embed loader: the script-tag variant of an embedded widget's code.
 *
 *   <script src="https://assay.example.com/static/embed.js" data-assay-widget="WIDGET_ID"
 *           data-width="800" data-height="400" data-title="Sales by month" async></script>
 *
 * Puts the widget's <iframe> where the script tag stands: same URL, size, title, lazy loading
 * and sandbox as the iframe snippet. No globals, no inline styles from the server's side. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) { return; }
  var id = script.getAttribute("data-assay-widget") || "";
  if (!/^[A-Za-z0-9_-]{43}$/.test(id)) { return; }
  var base = new URL(script.src).origin;
  var number = function (name, fallback) {
    var value = parseInt(script.getAttribute(name) || "", 10);
    return value > 0 && value <= 4000 ? value : fallback;
  };
  var frame = document.createElement("iframe");
  frame.src = base + "/embed/" + id + (script.getAttribute("data-token") ? "?token=" + encodeURIComponent(script.getAttribute("data-token")) : "");
  frame.title = script.getAttribute("data-title") || "Assay widget";
  frame.width = String(number("data-width", 800));
  frame.height = String(number("data-height", 400));
  frame.loading = "lazy";
  frame.setAttribute("sandbox", "allow-scripts allow-same-origin allow-forms allow-popups allow-downloads");
  frame.referrerPolicy = "strict-origin-when-cross-origin";
  frame.style.border = "0";
  frame.style.maxWidth = "100%";
  script.parentNode.insertBefore(frame, script);
}());
