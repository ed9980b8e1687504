/* Maps on the pages (web/maps.py, templates/_map.html): Leaflet from the xstatic-leaflet package, served here.
   Each [data-map] box gets a map: "pick" places a draggable pin by a click and writes the latitude and longitude
   inputs (and follows them when they are typed into); "show" only shows the point. Without tiles (no
   data-tile-url) the map draws the jurisdiction's areas, which is enough to pick a point. No inline script: the
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
    var bounds = (data.bounds || "").split(",").map(Number);
    if (start !== null) {
      place(start);
      map.setView(start, closeUp);
    } else if (bounds.length === 4 && bounds.every(isFinite)) {
      map.fitBounds([[bounds[0], bounds[1]], [bounds[2], bounds[3]]]);
    } else {
      map.setView([0, 0], 1);
    }
    if (data.outlineUrl && window.fetch) {
      window.fetch(data.outlineUrl, { credentials: "same-origin" })
        .then(function (reply) { return reply.ok ? reply.json() : null; })
        .then(function (areas) {
          if (!areas) { return; }
          var layer = L.geoJSON(areas, {
            interactive: false,
            style: { color: "#123a63", weight: 1.5, fillColor: "#6b8fb5", fillOpacity: 0.12 }
          }).addTo(map);
          layer.bringToBack();
        })
        .catch(function () { /* the outline only helps: the inputs work without it */ });
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
