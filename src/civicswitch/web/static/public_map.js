/* The residents' public map (web/public_map.py, templates/public_map.html): the requests of the list below it,
   clustered (Leaflet.markercluster, from the xstatic-leaflet-markercluster package), each with a popup linking to
   its page. The points come from data-points-url (the page's filters, in its language) for the part of the map in
   view: they are asked again when the map is moved. Without JavaScript the box stays hidden and the list is the
   page. No inline script: everything comes from data- attributes. */
(function () {
  "use strict";

  function boundsOf(text) {  // "south,west,north,east" as [[south, west], [north, east]], or null
    var values = String(text || "").split(",").map(Number);
    if (values.length !== 4 || !values.every(isFinite)) { return null; }
    return [[values[0], values[1]], [values[2], values[3]]];
  }

  function escapeHtml(text) {  // Leaflet puts attributions in as HTML: the setting is plain text
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }

  function line(parent, text, className) {
    var p = document.createElement("p");
    if (className) { p.className = className; }
    p.textContent = text;
    parent.appendChild(p);
    return p;
  }

  function popup(properties, linkLabel) {  // built from text, never from HTML
    var box = document.createElement("div");
    box.className = "map-popup";
    var title = document.createElement("p");
    var link = document.createElement("a");
    link.href = properties.url;
    link.textContent = properties.title;
    title.appendChild(link);
    title.appendChild(document.createTextNode(": " + properties.service));
    box.appendChild(title);
    line(box, properties.status_text);
    line(box, properties.reported);
    if (properties.place) { line(box, properties.place); }
    var more = document.createElement("p");
    var see = document.createElement("a");
    see.href = properties.url;
    see.textContent = linkLabel;
    more.appendChild(see);
    box.appendChild(more);
    return box;
  }

  function setUp(box) {
    var L = window.L;
    if (!L || !L.markerClusterGroup || !window.fetch) { return; }
    var data = box.dataset;
    box.hidden = false;
    // a maximum zoom even without tiles: the clusters need one
    var map = L.map(box, { scrollWheelZoom: false, attributionControl: Boolean(data.tileUrl), zoomSnap: 0.5, maxZoom: 19 });
    if (data.tileUrl) {
      map.attributionControl.setPrefix(false);
      L.tileLayer(data.tileUrl, { attribution: escapeHtml(data.tileAttribution || ""), maxZoom: 19 }).addTo(map);
    }
    var bounds = boundsOf(data.bounds);
    if (bounds) { map.fitBounds(bounds); } else { map.setView([0, 0], 2); }
    if (data.outlineUrl) {
      window.fetch(data.outlineUrl, { credentials: "same-origin" })
        .then(function (reply) { return reply.ok ? reply.json() : null; })
        .then(function (areas) {
          if (!areas) { return; }
          L.geoJSON(areas, { interactive: false, style: { color: "#123a63", weight: 1.5, fillColor: "#6b8fb5", fillOpacity: 0.12 } })
            .addTo(map).bringToBack();
        })
        .catch(function () { /* the outline only helps */ });
    }
    var clusters = L.markerClusterGroup({
      showCoverageOnHover: false,
      maxClusterRadius: 50,
      iconCreateFunction: function (cluster) {
        var count = cluster.getChildCount();
        var size = count < 10 ? "small" : (count < 100 ? "medium" : "large");
        return L.divIcon({
          html: "<div><span>" + count + "</span></div>",
          className: "marker-cluster marker-cluster-" + size,
          iconSize: L.point(40, 40)
        });
      }
    }).addTo(map);
    // a cluster is a button for screen readers and the keyboard: its name says how many and what Enter does
    clusters.on("animationend spiderfied", name);
    map.on("zoomend moveend", name);
    function name() {
      var label = data.clusterLabel || "%(count)s requests";
      box.querySelectorAll(".marker-cluster").forEach(function (icon) {
        var count = icon.textContent.trim();
        icon.setAttribute("role", "button");
        icon.setAttribute("aria-label", label.replace("%(count)s", count));
      });
    }
    var Note = L.Control.extend({
      onAdd: function () {
        var p = L.DomUtil.create("p", "map-note");
        p.hidden = true;
        p.setAttribute("role", "status");
        return p;
      }
    });
    var note = new Note({ position: "bottomleft" }).addTo(map).getContainer();
    var asked = 0;

    function load() {
      var url = data.pointsUrl + (data.pointsUrl.indexOf("?") < 0 ? "?" : "&") +
        "bbox=" + encodeURIComponent(map.getBounds().toBBoxString());
      var mine = ++asked;
      box.setAttribute("aria-busy", "true");
      window.fetch(url, { credentials: "same-origin", headers: { Accept: "application/geo+json" } })
        .then(function (reply) { return reply.ok ? reply.json() : null; })
        .then(function (found) {
          if (mine !== asked) { return; }  // a later move asked again
          box.removeAttribute("aria-busy");
          if (!found) { return; }
          var markers = found.features.map(function (feature) {
            var where = feature.geometry.coordinates;
            var props = feature.properties;
            var marker = L.marker([where[1], where[0]], {
              alt: props.title + ": " + props.service, title: props.title + ": " + props.service
            });
            marker.bindPopup(function () { return popup(props, data.linkLabel || "See the request"); });
            return marker;
          });
          clusters.clearLayers();
          clusters.addLayers(markers);
          name();
          if (found.truncated) {
            note.textContent = data.truncatedLabel || "";
            note.hidden = false;
          } else if (!markers.length) {
            note.textContent = data.emptyLabel || "";
            note.hidden = false;
          } else {
            note.hidden = true;
          }
          box.dataset.loaded = String(markers.length);  // for the browser tests
        })
        .catch(function () { box.removeAttribute("aria-busy"); });
    }

    var waiting = null;
    map.on("moveend", function () {
      if (waiting !== null) { window.clearTimeout(waiting); }
      waiting = window.setTimeout(load, 250);
    });
    load();
  }

  function start() {
    var boxes = document.querySelectorAll("[data-public-map]");
    for (var i = 0; i < boxes.length; i += 1) { setUp(boxes[i]); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
