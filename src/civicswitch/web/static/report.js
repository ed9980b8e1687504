// The report form (web/report.py) made quicker: everything here also works without JavaScript, by the form's
// own buttons. No inline script (CSP: script-src 'self'); what the server sends back is our own templates.
(function () {
  "use strict";

  function fold(text) {
    return text.toLowerCase().normalize("NFKD").replace(/[\u0300-\u036f]/g, "");
  }

  function start() {
    var form = document.getElementById("report-form");
    if (!form || !window.fetch) { return; }
    var select = document.getElementById("r-service");
    var questions = document.getElementById("r-questions");
    var button = document.getElementById("r-questions-button");
    var find = document.getElementById("r-find");
    var lat = document.getElementById("r-lat"), lng = document.getElementById("r-long");
    var lang = form.getAttribute("data-lang") || "en";
    var all = Array.prototype.map.call(select.options, function (o) {
      return { option: o, group: o.parentNode.tagName === "OPTGROUP" ? o.parentNode : null,
               words: fold(o.text + " " + (o.parentNode.label || "") + " " + (o.getAttribute("data-words") || "")) };
    });
    var here = null;  // the codes taken at the pin (null: not known)

    function show() {
      // the options the words and the place allow; the chosen one always stays
      var wanted = fold(find ? find.value : "").split(/\W+/).filter(Boolean);
      all.forEach(function (item) {
        var o = item.option;
        var ok = !o.value || o.selected || ((here === null || here.indexOf(o.value) >= 0)
          && wanted.every(function (w) { return item.words.indexOf(w) >= 0; }));
        o.hidden = !ok;
        o.disabled = !ok;
      });
      Array.prototype.forEach.call(select.querySelectorAll("optgroup"), function (g) {
        g.hidden = !Array.prototype.some.call(g.children, function (o) { return !o.hidden; });
      });
    }

    if (button) { button.hidden = true; }
    select.addEventListener("change", function () {
      var url = form.getAttribute("data-questions-url") + "?service=" + encodeURIComponent(select.value) +
        "&lang=" + encodeURIComponent(lang);
      fetch(url, { credentials: "same-origin" }).then(function (reply) {
        if (!reply.ok) { throw new Error(String(reply.status)); }
        return reply.text();
      }).then(function (html) {
        questions.innerHTML = html;
      }).catch(function () {
        if (button) { button.hidden = false; }  // the form's own way
      });
    });
    if (find) {
      find.addEventListener("input", show);
    }

    function place() {
      if (!lat || !lng || !lat.value || !lng.value) { here = null; show(); return; }
      var url = form.getAttribute("data-services-url") + "?lat=" + encodeURIComponent(lat.value) +
        "&long=" + encodeURIComponent(lng.value);
      fetch(url, { credentials: "same-origin" }).then(function (reply) {
        if (!reply.ok) { throw new Error(String(reply.status)); }
        return reply.json();
      }).then(function (data) {
        here = data.services;
        show();
      }).catch(function () { here = null; show(); });
    }
    document.addEventListener("civicswitch:point", place);
    if (lat && lng) {
      lat.addEventListener("change", place);
      lng.addEventListener("change", place);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
