/* Maps on the pages (web/maps.py, templates/_map.html): Leaflet from the xstatic-leaflet package, served here.
   Each [data-map] box gets a map: "pick" places a draggable pin by a click and writes the latitude and longitude
   inputs (and follows them when they are typed into); "show" only shows the point. Without tiles (no
   data-tile-url) the map draws the jurisdiction's areas, which is enough to pick a point; a "show" map is fitted to
   the area holding its point (data-focus-*: a district, say), outlined and named in a corner, else to the
   jurisdiction and the point: at a street's zoom, with no tiles, there would be only the pin. No inline script: the
   data comes from data- attributes. */
(function () {
  "use strict";
  var DECIMALS = 6;

  function coordinate(text, bound) {
    var value = String(text || "").trim();
    if (!/^[-+]?(\d+(\.\d*)?|\.\d+)$/.test(value)) { return null; }
    var number = parseFloat(value);
    return Math.abs(number) <= bound ? number : null;
  }

  function boundsOf(text) {  // "south,west,north,east" as [[south, west], [north, east]], or null
    var values = String(text || "").split(",").map(Number);
    if (values.length !== 4 || !values.every(isFinite)) { return null; }
    return [[values[0], values[1]], [values[2], values[3]]];
  }

  function drawn(map, url, style, then) {  // a GeoJSON document of ours on the map, not interactive
    if (!url || !window.fetch) { return; }
    window.fetch(url, { credentials: "same-origin" })
      .then(function (reply) { return reply.ok ? reply.json() : null; })
      .then(function (areas) {
        if (!areas) { return; }
        then(window.L.geoJSON(areas, { interactive: false, style: style }).addTo(map));
      })
      .catch(function () { /* the outlines only help: the inputs and the text beside the map say where */ });
  }

  function escapeHtml(text) {  // Leaflet puts attributions in as HTML: the setting is plain text
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }

  function setUp(box) {
    var L = window.L;
    if (!L) { return; }
    var data = box.dataset;
    var pick = data.map === "pick";
    var latInput = data.latInput ? document.getElementById(data.latInput) : null;
    var longInput = data.longInput ? document.getElementById(data.longInput) : null;
    box.hidden = false;
    var map = L.map(box, {
      zoomControl: pick, dragging: pick, keyboard: pick, doubleClickZoom: pick, boxZoom: pick, touchZoom: pick,
      scrollWheelZoom: false, attributionControl: Boolean(data.tileUrl), zoomSnap: 0.25
    });
    // With tiles, close enough to see the street; without, the areas around the point.
    var closeUp = data.tileUrl ? 16 : 12;
    if (data.tileUrl) {
      map.attributionControl.setPrefix(false);
      L.tileLayer(data.tileUrl, { attribution: escapeHtml(data.tileAttribution || ""), maxZoom: 19 }).addTo(map);
    }
    var pin = null;

    function given() {
      if (latInput && longInput) {
        var lat = coordinate(latInput.value, 90), lng = coordinate(longInput.value, 180);
        return lat === null || lng === null ? null : L.latLng(lat, lng);
      }
      var shown = coordinate(data.lat, 90), shownLong = coordinate(data.long, 180);
      return shown === null || shownLong === null ? null : L.latLng(shown, shownLong);
    }

    function write(point) {
      if (!latInput || !longInput) { return; }
      latInput.value = point.lat.toFixed(DECIMALS);
      longInput.value = L.Util.wrapNum(point.lng, [-180, 180], true).toFixed(DECIMALS);
      // the page may follow the point (the report form narrows its services to the place)
      latInput.dispatchEvent(new CustomEvent("civicswitch:point", { bubbles: true }));
    }

    function place(point) {
      if (pin === null) {
        // not a Tab stop: the latitude and longitude inputs are the keyboard's way to move it
        pin = L.marker(point, { draggable: pick, keyboard: false, alt: data.pinLabel || "Pin", title: data.pinLabel || "" });
        pin.addTo(map);
        if (pick) {
          pin.on("dragend", function () { write(pin.getLatLng()); });
        }
      } else {
        pin.setLatLng(point);
      }
    }

    var start = given();
    var bounds = boundsOf(data.bounds);
    var focus = boundsOf(data.focusBounds);
    // A point with no tiles: the area around it in view, not a street's zoom on white.
    var around = data.tileUrl || pick ? null : (focus || bounds);
    if (start !== null) {
      place(start);
      if (around) {
        // room at the top for the area's name (a show map has no zoom buttons there)
        map.fitBounds(L.latLngBounds(around).extend(start),
          { paddingTopLeft: [12, focus ? 40 : 12], paddingBottomRight: [12, 24], maxZoom: 16 });
      } else {
        map.setView(start, closeUp);
      }
    } else if (bounds) {
      map.fitBounds(bounds);
    } else {
      map.setView([0, 0], 1);
    }
    drawn(map, data.outlineUrl, { color: "#123a63", weight: 1.5, fillColor: "#6b8fb5", fillOpacity: 0.12 },
      function (layer) { layer.bringToBack(); });
    if (focus && !data.tileUrl) {
      drawn(map, data.focusUrl, { color: "#8a4b00", weight: 3, fillColor: "#f2a900", fillOpacity: 0.15 },
        function (layer) { layer.bringToFront(); });
      var Label = L.Control.extend({
        onAdd: function () {
          var label = L.DomUtil.create("p", "map-label");
          label.textContent = data.focusLabel || ("Outlined: " + (data.focusName || "the area"));
          return label;
        }
      });
      new Label({ position: "topleft" }).addTo(map);
    }
    if (pick) {
      map.on("click", function (event) {
        place(event.latlng);
        write(event.latlng);
      });
      var follow = function () {
        var point = given();
        if (point !== null) {
          place(point);
          map.panTo(point);
        }
      };
      if (latInput && longInput) {
        ["input", "change"].forEach(function (kind) {
          latInput.addEventListener(kind, follow);
          longInput.addEventListener(kind, follow);
        });
      }
    }
  }

  function start() {
    var boxes = document.querySelectorAll("[data-map]");
    for (var i = 0; i < boxes.length; i += 1) { setUp(boxes[i]); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
