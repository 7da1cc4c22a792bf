// The public map: shade the districts by the chosen measure (no library: the paths are drawn by the page).
(function () {
  "use strict";
  var data = document.getElementById("map-data");
  var select = document.getElementById("measure");
  var legend = document.getElementById("map-legend");
  if (!data || !select) { return; }
  var map = JSON.parse(data.textContent);
  var paths = document.querySelectorAll("#district-map path[data-code]");

  function fmt(v, kind) {
    if (v === null || v === undefined) { return "—"; }
    if (kind === "pct") { return (100 * v).toFixed(1) + "%"; }
    if (kind === "hours") { return v.toFixed(1) + " h"; }
    if (kind === "points") { return v.toFixed(2); }
    return String(v);
  }

  function shade(t) { // light to dark blue
    var a = [232, 241, 251], b = [8, 81, 156];
    return "rgb(" + a.map(function (x, i) { return Math.round(x + (b[i] - x) * t); }).join(",") + ")";
  }

  function draw() {
    var measure = select.value, kind = map.measures[measure][1], label = select.options[select.selectedIndex].text;
    var vals = [];
    Object.keys(map.values).forEach(function (c) {
      var v = map.values[c][measure];
      if (v !== null && v !== undefined) { vals.push(v); }
    });
    var lo = Math.min.apply(null, vals), hi = Math.max.apply(null, vals);
    paths.forEach(function (p) {
      var code = p.getAttribute("data-code"), v = (map.values[code] || {})[measure];
      var none = v === null || v === undefined;
      p.style.fill = none ? "#eeeeee" : shade(hi > lo ? (v - lo) / (hi - lo) : 0.5);
      p.setAttribute("data-value", none ? "" : String(v));
      var title = p.querySelector("title");
      if (title) { title.textContent = (map.names[code] || code) + " · " + label + " " + fmt(v, kind); }
    });
    legend.textContent = vals.length ? label + ": " + fmt(lo, kind) + " – " + fmt(hi, kind) : label + ": —";
  }
  select.addEventListener("change", draw);
  draw();
}());
