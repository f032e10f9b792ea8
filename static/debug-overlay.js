/*
 * The requester's debug overlay for a previewed HIT, as the seed's debug mode had:
 * each image shows the tracker's live counters (selectedCount, hoveredCount,
 * estimateTime, last normalised pointer position). It reads the tracker's own
 * records (window.freelunchDebugPage), so it shows what a worker's page would store.
 */
(function () {
  "use strict";

  function label(rec, now) {
    var estimate = rec.estimateTime + (rec.estStart !== null ? now - rec.estStart : 0);
    var position = rec.checked ? rec.ratioX.toFixed(3) + ", " + rec.ratioY.toFixed(3) : "–";
    return "sel " + rec.selectedCount + " · hov " + rec.hoveredCount + " · est " + estimate + " ms · " + position;
  }

  function paint() {
    var page = window.freelunchDebugPage;
    if (!page) return;
    var now = Date.now();
    page.images.forEach(function (rec) {
      var box = rec.cell.querySelector(".debug-counters");
      if (!box) {
        box = document.createElement("div");
        box.className = "debug-counters";
        rec.cell.appendChild(box);
      }
      box.textContent = label(rec, now);
    });
  }

  window.setInterval(paint, 100);
})();
