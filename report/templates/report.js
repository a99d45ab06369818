// Sortable tables: a click on a numeric column's header orders the rows by it (a second
// click reverses), by the unrounded value (data-v); empty cells go last. Without scripts
// the tables are simply static, so the page never depends on this.
(function () {
  function key(td) {
    var v = td ? td.getAttribute("data-v") : null;
    return v === null ? null : parseFloat(v);
  }
  function order(col, asc) {
    return function (a, b) {
      var x = key(a.cells[col]), y = key(b.cells[col]);
      if (x === null || y === null) return (x === null) - (y === null);
      return asc ? x - y : y - x;
    };
  }
  function sortBy(table, th, col) {
    var asc = th.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    rows.sort(order(col, asc));
    rows.forEach(function (r) { body.appendChild(r); });
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.classList.add("js-sort");
    table.querySelectorAll("thead th").forEach(function (th, col) {
      if (!th.classList.contains("num")) return;
      th.tabIndex = 0;
      th.title = "Sort by this column";
      th.addEventListener("click", function () { sortBy(table, th, col); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(table, th, col); }
      });
    });
  });
  // Esc closes a zoomed figure (a click on it closes it without script too).
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    document.querySelectorAll("details.zoom[open]").forEach(function (d) { d.open = false; });
  });
})();
