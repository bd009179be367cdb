// hmc dashboard tables: sort on a header click, filter rows from a form; plain DOM, no library, no server.
// A sortable table has class "sortable"; its <th data-type="num|date|text"> sort by each cell's data-sort
// (else its text). A <form class="filters" data-table="ID"> filters the rows of table ID on their
// data-volcano (substring), data-start / data-end (ISO dates, overlapping the range), data-score (minimum)
// and data-status (equal) attributes.
(function () {
  "use strict";
  function each(list, fn) { Array.prototype.forEach.call(list, fn); }
  function sortKey(cell, type) {
    var v = cell ? cell.getAttribute("data-sort") : "";
    if (v === null) { v = cell.textContent.trim(); }
    if (type === "num") { var n = parseFloat(v); return isNaN(n) ? -Infinity : n; }
    return String(v).toLowerCase();
  }
  each(document.querySelectorAll("table.sortable"), function (table) {
    var heads = table.tHead ? table.tHead.rows[0].cells : [];
    each(heads, function (th, col) {
      var type = th.getAttribute("data-type");
      if (!type) { return; }
      th.tabIndex = 0;
      function sort() {
        var asc = th.getAttribute("aria-sort") !== "ascending";
        each(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = sortKey(a.cells[col], type), y = sortKey(b.cells[col], type);
          return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
        });
        rows.forEach(function (r) { body.appendChild(r); });
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (evt) { if (evt.key === "Enter") { sort(); } });
    });
  });
  each(document.querySelectorAll("form.filters"), function (form) {
    var table = document.getElementById(form.getAttribute("data-table"));
    if (!table) { return; }
    var count = form.querySelector("output.count");
    function value(name) { var el = form.elements[name]; return el ? el.value.trim() : ""; }
    function apply() {
      var volcano = value("volcano").toLowerCase(), from = value("from"), to = value("to");
      var score = parseFloat(value("score")), status = value("status");
      var rows = table.tBodies[0].rows, shown = 0;
      each(rows, function (r) {
        var ok = true;
        if (volcano && (r.getAttribute("data-volcano") || "").indexOf(volcano) < 0) { ok = false; }
        if (from && (r.getAttribute("data-end") || "") < from) { ok = false; }
        if (to && ((r.getAttribute("data-start") || "") > to || !r.getAttribute("data-start"))) { ok = false; }
        if (!isNaN(score) && !(parseFloat(r.getAttribute("data-score")) >= score)) { ok = false; }
        if (status && r.getAttribute("data-status") !== status) { ok = false; }
        r.hidden = !ok;
        shown += ok ? 1 : 0;
      });
      if (count) { count.textContent = shown + " of " + rows.length + " shown"; }
    }
    form.addEventListener("input", apply);
    form.addEventListener("change", apply);
    form.addEventListener("submit", function (evt) { evt.preventDefault(); });
    form.addEventListener("reset", function () { window.setTimeout(apply, 0); });
    apply();
  });
}());
