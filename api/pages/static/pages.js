// Progressive enhancement only: every page reads the same without this file.
// Each table marked data-chart="bar|doughnut" gets a chart drawn from its own
// rows (first cell the label, last cell the number); the table stays below it.
(function () {
  "use strict";
  var palette = ["#1f5fa8", "#2f8f5b", "#c7861a", "#8c4fb0", "#c23b3b", "#5b6b7a", "#17869e"];

  function draw(table) {
    if (table.dataset.charted || typeof window.Chart !== "function") { return; }
    table.dataset.charted = "1";
    var labels = [], values = [];
    table.querySelectorAll("tbody tr").forEach(function (row) {
      var cells = row.querySelectorAll("th, td");
      if (cells.length < 2) { return; }
      labels.push(cells[0].textContent.trim());
      values.push(Number(cells[cells.length - 1].textContent.replace(/[^0-9.\-]/g, "")));
    });
    if (!labels.length) { return; }
    var box = document.createElement("div");
    box.className = "chart";
    var canvas = document.createElement("canvas");
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", table.dataset.chartLabel || "");
    box.appendChild(canvas);
    table.parentNode.insertBefore(box, table);
    var kind = table.dataset.chart === "doughnut" ? "doughnut" : "bar";
    new window.Chart(canvas, {
      type: kind,
      data: {
        labels: labels,
        datasets: [{
          label: table.dataset.chartLabel || "",
          data: values,
          backgroundColor: kind === "bar" ? palette[0] : palette.slice(0, values.length),
        }],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: kind !== "bar" } },
        scales: kind === "bar" ? { y: { beginAtZero: true, ticks: { precision: 0 } } } : {},
      },
    });
  }

  function enhance(root) {
    (root || document).querySelectorAll("table[data-chart]").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  document.addEventListener("htmx:load", function (event) { enhance(event.target); });
})();
