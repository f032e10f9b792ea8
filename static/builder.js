/*
 * The batch builder: filter the class list, select what matches, and price the choice before submitting
 * (with images the model is sure about: what asking them one vote, in a batch of their own, saves).
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

  function counted(n, word) {  // formatting.counted: "1 page", "2 pages"
    return n === 1 ? "1 " + word : count(n) + " " + word + "s";
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
    var feeStep = Number(line.getAttribute("data-fee-step")), maxPart = Number(line.getAttribute("data-max-part"));
    var picked = chosen.length ? chosen : all;
    // Pages, HITs, assignments and cents of pages of each row's countOf(row) candidates, asked `asked` votes each.
    function price(countOf, asked) {
      var pages = picked.reduce(function (sum, row) {
        var n = countOf(row);
        return sum + (n > 0 ? Math.ceil(n / perPage) : 0);
      }, 0);
      var hits = Math.ceil(pages / pagesPerHit);
      var feesPerHit = split(asked, maxPart).reduce(function (sum, size) {
        return sum + feeCents(rewardCents, size, feeStep) * size;
      }, 0);
      return { pages: pages, hits: hits, assignments: hits * asked, rewards: rewardCents * hits * asked, fees: feesPerHit * hits };
    }
    function candidates(row) { return Number(row.getAttribute("data-candidates")); }
    function sureOf(row) { return Number(row.getAttribute("data-sure") || 0); }
    var whole = price(candidates, assignments), priced = whole;
    var pages = whole.pages;
    var block = form.querySelector("[data-sure-images]"), saving = form.querySelector("[data-sure-saving]");
    var sure = picked.reduce(function (sum, row) { return sum + sureOf(row); }, 0);
    if (block && saving) {
      // A lean first round (services/batches/builder.sure_companion): the sure candidates in a batch of their own.
      var fewer = Number(block.getAttribute("data-sure-assignments"));
      var rest = price(function (row) { return candidates(row) - sureOf(row); }, assignments), few = price(sureOf, fewer);
      var lean = {
        pages: rest.pages + few.pages, hits: rest.hits + few.hits, assignments: rest.assignments + few.assignments,
        rewards: rest.rewards + few.rewards, fees: rest.fees + few.fees
      };
      saving.textContent = sure ? "The model is sure about " + count(sure) + " of the chosen candidates: asking them one vote saves " +
        count(sure * (assignments - fewer)) + " votes, " + dollars(lean.rewards + lean.fees) + " instead of " +
        dollars(whole.rewards + whole.fees) + " on MTurk." : "The model is sure about none of the chosen candidates.";
      if (sure && form.elements.ask_sure_once && form.elements.ask_sure_once.checked) priced = lean;
    }
    line.textContent = counted(priced.pages, "page") + " · " + counted(priced.hits, "HIT") + " · " +
      counted(priced.assignments, "assignment") + " · on MTurk " + dollars(priced.rewards + priced.fees) + " (" +
      dollars(priced.rewards) + " rewards + " + dollars(priced.fees) + " MTurk fee)";
    var warning = document.getElementById("fee-warning");
    if (warning) warning.hidden = !(assignments >= feeStep);
    shapeWarnings(form, picked, perPage, pages, pagesPerHit);
    // The pages a HIT will have, which the hourly pay is estimated for (batches/new.html asks the server again).
    var hitPages = document.getElementById("hit-pages"), longest = String(pages > 0 ? Math.min(pagesPerHit, pages) : pagesPerHit);
    if (hitPages && hitPages.value !== longest) {
      hitPages.value = longest;
      document.body.dispatchEvent(new CustomEvent("hit-pages-changed"));
    }
  }

  // What the chosen classes cannot fill of the asked shape (services/batches/builder.shape_warnings says the same).
  function shapeWarnings(form, chosen, perPage, pages, pagesPerHit) {
    var list = form.querySelector("[data-shape-warnings]");
    if (!list) return;
    var positives = number(form, "positives_per_page"), negatives = number(form, "negatives_per_page");
    var images = number(form, "images_per_page"), said = [];
    var filled = chosen.filter(function (r) { return Number(r.getAttribute("data-candidates")) > 0; });
    var short = filled.filter(function (r) {
      return Number(r.getAttribute("data-positives")) < positives || Number(r.getAttribute("data-negatives")) < negatives;
    }).map(function (r) { return r.getAttribute("data-key"); });
    if (short.length) {
      said.push(short.length + (short.length === 1 ? " class (" : " classes (") + short.slice(0, 5).join(", ") +
        (short.length > 5 ? " and " + (short.length - 5) + " more" : "") + (short.length === 1 ? ") has" : ") have") +
        " fewer than " + positives + " positive or " + negatives + " negative controls: the build would stop. " +
        "Lower the controls per page, import controls, or leave them out.");
    }
    if (filled.length && pages < pagesPerHit) {
      said.push("The chosen classes fill only " + pages + (pages === 1 ? " page" : " pages") + ": a HIT will have " +
        pages + ", not " + pagesPerHit + ".");
    }
    var partial = filled.filter(function (r) { return Number(r.getAttribute("data-candidates")) % perPage; }).length;
    if (partial) {
      said.push(partial + " of the " + pages + " pages will show fewer than " + images +
        " images (a class's last page takes the candidates that are left).");
    }
    list.replaceChildren.apply(list, said.map(function (text) {
      var item = document.createElement("li");
      item.textContent = text;
      return item;
    }));
    list.hidden = !said.length;
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
