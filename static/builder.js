/*
 * The batch builder: filter the class list, select what matches, and price the choice before submitting.
 *
 * Pages and HITs are counted as services/batches/builder.plan does, the cost as
 * services/mturk/cost.estimate does (rewards plus MTurk's fee on MTurk HITs of at
 * most 9 assignments); the server renders the same line for the initial choice.
 */
(function () {
  "use strict";

  function number(form, name) {
    var field = form.elements[name];
    return field ? Number(field.value) : NaN;
  }

  function rows(form) {
    return Array.prototype.slice.call(form.querySelectorAll("[data-class-list] li"));
  }

  function filter(form) {
    var search = form.querySelector("[data-class-search]");
    if (!search) return;
    var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    var withImages = form.querySelector("[data-with-images]").checked;
    rows(form).forEach(function (row) {
      var text = row.getAttribute("data-text");
      var matches = words.every(function (w) { return text.indexOf(w) !== -1; });
      row.hidden = !matches || (withImages && row.getAttribute("data-candidates") === "0");
    });
  }

  // MTurk HITs of at most maxPart assignments, sizes as even as can be (cost.split).
  function split(assignments, maxPart) {
    if (assignments < 1) return [];
    var parts = Math.ceil(assignments / maxPart), size = Math.floor(assignments / parts), extra = assignments % parts;
    var sizes = [];
    for (var i = 0; i < parts; i++) sizes.push(i < extra ? size + 1 : size);
    return sizes;
  }

  // MTurk's fee on one assignment's reward, in cents (cost.fee): 20 %, 40 % from feeStep on, at least a cent.
  function feeCents(rewardCents, size, feeStep) {
    if (rewardCents <= 0) return 0;
    return Math.max(1, Math.round(rewardCents * (size >= feeStep ? 4 : 2) / 10));
  }

  function dollars(cents) {
    return "$" + (cents / 100).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }

  function count(n) {
    return n.toLocaleString("en-US");
  }

  function summarise(form) {
    var all = rows(form), chosen = all.filter(function (r) { return r.querySelector("input").checked; });
    var shown = all.filter(function (r) { return !r.hidden; }).length;
    var counter = form.querySelector("[data-class-count]");
    if (counter) {
      counter.textContent = count(shown) + " of " + count(all.length) + " classes shown · " + count(chosen.length) +
        " selected." + (chosen.length ? "" : " None selected means every class with images.");
    }
    var line = form.querySelector("[data-cost-line]");
    if (!line) return;
    var perPage = number(form, "images_per_page") - number(form, "positives_per_page") - number(form, "negatives_per_page");
    var pagesPerHit = number(form, "pages_per_hit"), assignments = number(form, "assignments_per_hit");
    var rewardCents = Math.round(number(form, "reward") * 100);
    if (!(perPage > 0 && pagesPerHit > 0 && assignments > 0 && rewardCents >= 0)) {
      line.textContent = "Fill in the numbers to see the pages, HITs and cost.";
      return;
    }
    var pages = (chosen.length ? chosen : all).reduce(function (sum, row) {
      var candidates = Number(row.getAttribute("data-candidates"));
      return sum + (candidates > 0 ? Math.ceil(candidates / perPage) : 0);
    }, 0);
    var hits = Math.ceil(pages / pagesPerHit);
    var feeStep = Number(line.getAttribute("data-fee-step")), maxPart = Number(line.getAttribute("data-max-part"));
    var feesPerHit = split(assignments, maxPart).reduce(function (sum, size) {
      return sum + feeCents(rewardCents, size, feeStep) * size;
    }, 0);
    var rewards = rewardCents * hits * assignments, fees = feesPerHit * hits;
    line.textContent = count(pages) + " pages · " + count(hits) + " HITs · " + count(hits * assignments) + " assignments · on MTurk " +
      dollars(rewards + fees) + " (" + dollars(rewards) + " rewards + " + dollars(fees) + " MTurk fee)";
    var warning = document.getElementById("fee-warning");
    if (warning) warning.hidden = !(assignments >= feeStep);
  }

  function refresh(form) {
    filter(form);
    summarise(form);
  }

  function setUp(form) {
    form.addEventListener("input", function () { refresh(form); });
    form.addEventListener("change", function () { refresh(form); });
    form.addEventListener("click", function (event) {
      var select = event.target.closest("[data-select-matching]"), clear = event.target.closest("[data-clear-selection]");
      if (!select && !clear) return;
      rows(form).forEach(function (row) {
        var box = row.querySelector("input");
        if (clear) box.checked = false;
        else if (!row.hidden) box.checked = true;
      });
      summarise(form);
    });
    // A new dataset swaps the class list in: filter and price it at once.
    document.body.addEventListener("htmx:afterSettle", function () { refresh(form); });
    refresh(form);
  }

  var form = document.querySelector("form.builder");
  if (form) setUp(form);
})();
