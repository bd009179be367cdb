// hmc dashboard map: zoom (wheel, buttons) and pan (drag) an inline SVG by changing its viewBox.
// No library: the SVG is in lon/lat degrees (x = lon, y = -lat), links inside it work as usual.
(function () {
  "use strict";
  var svg = document.getElementById("map");
  if (!svg) { return; }
  var home = svg.getAttribute("viewBox").split(/\s+/).map(Number);
  var box = home.slice();
  function apply() { svg.setAttribute("viewBox", box.join(" ")); }
  function zoom(factor, cx, cy) {
    var w = Math.min(Math.max(box[2] * factor, 0.05), 400), h = w * home[3] / home[2];
    box = [cx - (cx - box[0]) * w / box[2], cy - (cy - box[1]) * h / box[3], w, h];
    apply();
  }
  function toMap(evt) {
    var r = svg.getBoundingClientRect();
    var s = Math.max(box[2] / r.width, box[3] / r.height);
    return [box[0] + box[2] / 2 + (evt.clientX - r.left - r.width / 2) * s,
            box[1] + box[3] / 2 + (evt.clientY - r.top - r.height / 2) * s, s];
  }
  svg.addEventListener("wheel", function (evt) {
    evt.preventDefault();
    var p = toMap(evt);
    zoom(evt.deltaY > 0 ? 1.25 : 0.8, p[0], p[1]);
  }, { passive: false });
  var drag = null;
  svg.addEventListener("mousedown", function (evt) { drag = [evt.clientX, evt.clientY, box[0], box[1], toMap(evt)[2]]; });
  window.addEventListener("mouseup", function () { drag = null; });
  window.addEventListener("mousemove", function (evt) {
    if (!drag) { return; }
    box[0] = drag[2] - (evt.clientX - drag[0]) * drag[4];
    box[1] = drag[3] - (evt.clientY - drag[1]) * drag[4];
    apply();
  });
  function centre() { return [box[0] + box[2] / 2, box[1] + box[3] / 2]; }
  var zin = document.getElementById("zoom-in"), zout = document.getElementById("zoom-out"), reset = document.getElementById("zoom-reset");
  if (zin) { zin.addEventListener("click", function () { var c = centre(); zoom(0.5, c[0], c[1]); }); }
  if (zout) { zout.addEventListener("click", function () { var c = centre(); zoom(2, c[0], c[1]); }); }
  if (reset) { reset.addEventListener("click", function () { box = home.slice(); apply(); }); }
}());
