/*
 * Freelunch byproduct tracker for the annotation page (plain JS, no build step).
 *
 * Records, per candidate image, exactly the fields of record-format.md (the seed
 * front end's semantics): hovers, pointer moves (normalised offsetX/offsetY with a
 * leading-edge 1000/60 ms throttle, none while selected), selecting clicks, counts,
 * estimateTime, sizes and position. Pointer events stream to the ingest endpoint in
 * batches about once a second (sendBeacon when the page is hidden); unsent batches
 * are kept and retried. Submit carries the rest of each record and the batch count.
 * Loaded in the head, not deferred: a click that comes before the page is tracked is held, not lost.
 */
(function () {
  "use strict";

  // 1000/60 on the clock the points' times are in (whole milliseconds): a 60 Hz pointer's moves, 16 or 17 ms apart,
  // all count.
  var THROTTLE_MS = 16;
  var FLUSH_MS = 1000;
  var MAX_BATCH = 500; // events per batch; a second at 60 Hz is far below
  var outbox = []; // sealed batches not yet acknowledged, oldest first, across pages
  var sending = false;
  var retryTimer = null;
  var backoff = 1000;
  var ingestUrl = "/api/ingest";
  var page = null; // the page being worked on
  var tab = tabId();

  // Batches are stored once per (assignment, page, tab, seq): a page open in two
  // tabs numbers its batches in each, and neither tab's are taken for the other's.
  function tabId() {
    var id = NaN;
    try {
      id = parseInt(window.sessionStorage.getItem("freelunch-tab"), 10);
    } catch (e) { /* see loadSeq */ }
    if (!(id >= 0)) {
      id = window.crypto.getRandomValues(new Uint32Array(1))[0] >>> 1; // 31 bits
      try {
        window.sessionStorage.setItem("freelunch-tab", String(id));
      } catch (e) { /* see loadSeq: a new tab id each load keeps batches apart */ }
    }
    return id;
  }

  function seqKey(token, pageno) {
    return "freelunch-seq:" + token.slice(-24) + ":" + pageno;
  }

  function loadSeq(key) {
    try {
      return parseInt(window.sessionStorage.getItem(key) || "0", 10) || 0;
    } catch (e) {
      return 0; // storage blocked in some third-party iframes: start at 0
    }
  }

  function saveSeq(key, seq) {
    try {
      window.sessionStorage.setItem(key, String(seq));
    } catch (e) { /* see loadSeq */ }
  }

  // --- streaming batches -------------------------------------------------------

  function seal() {
    if (!page || page.preview || page.events.length === 0) return;
    outbox.push({ token: page.token, page: page.pageno, tab: tab, seq: page.seq, events: page.events });
    page.seq += 1;
    page.events = [];
    saveSeq(page.seqKey, page.seq);
    pump();
  }

  function retryLater(ms) {
    backoff = Math.min(backoff * 2, 15000);
    retryTimer = window.setTimeout(function () { retryTimer = null; pump(); }, ms);
  }

  function pump() {
    if (sending || retryTimer || outbox.length === 0) return;
    sending = true;
    var batch = outbox[0];
    fetch(ingestUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(batch),
      keepalive: true,
      credentials: "omit"
    }).then(function (response) {
      sending = false;
      var status = response.status;
      if (response.ok || (status >= 400 && status < 500 && status !== 408 && status !== 429)) {
        // Stored, or refused for good (bad token or payload): retrying cannot help.
        if (!response.ok && window.console) console.warn("freelunch: batch refused", status);
        if (outbox[0] === batch) outbox.shift();
        backoff = 1000;
        pump();
      } else {
        var after = parseFloat(response.headers.get("Retry-After"));
        retryLater(after > 0 ? after * 1000 : backoff);
      }
    }, function () {
      sending = false; // network error: keep the batch, try again
      retryLater(backoff);
    });
  }

  function beaconAll() {
    // Closing or hiding the page: hand everything to the browser. Batches stay in
    // the outbox, so if the page lives on they are sent again; ingest stores them once.
    seal();
    if (!navigator.sendBeacon) return;
    outbox.forEach(function (batch) { navigator.sendBeacon(ingestUrl, JSON.stringify(batch)); });
  }

  // --- per-image records -------------------------------------------------------

  function record(rec, event) {
    if (page.preview || page.frozen) return;
    page.events.push(event);
    if (page.events.length >= MAX_BATCH) seal();
  }

  function startEstimate(rec, time) {
    if (rec.checked && rec.hovered && !rec.selected && rec.estStart === null) rec.estStart = time;
  }

  function stopEstimate(rec, time) {
    if (rec.estStart !== null) {
      rec.estimateTime += time - rec.estStart;
      rec.estStart = null;
    }
  }

  function ratio(rec, event) {
    // Sizes come from measure(), so a move reads no layout; before the image loads, ask the DOM.
    var width = rec.imageWidth || rec.img.offsetWidth;
    var height = rec.imageHeight || rec.img.offsetHeight;
    return [event.offsetX / width, event.offsetY / height];
  }

  function showDot(rec) {
    if (!rec.checked || !rec.loaded) return;
    // A transform moves the dot without a layout pass.
    var x = rec.innerX + rec.ratioX * rec.imageWidth;
    var y = rec.innerY + rec.ratioY * rec.imageHeight;
    rec.dot.style.transform = "translate(" + x + "px, " + y + "px) translate(-50%, -50%)";
    if (!rec.dotShown) {
      rec.dotShown = true;
      rec.dot.classList.add("on");
    }
  }

  function measure(rec) {
    var img = rec.img;
    if (!img.complete || img.naturalWidth === 0) return;
    var box = img.getBoundingClientRect();
    rec.loaded = true;
    rec.originalImageWidth = img.naturalWidth;
    rec.originalImageHeight = img.naturalHeight;
    rec.imageWidth = img.offsetWidth;
    rec.imageHeight = img.offsetHeight;
    rec.innerX = img.offsetLeft; // the img's place in its cell, for the red dot
    rec.innerY = img.offsetTop;
    rec.imagePosition = { x: Math.round(box.left + window.scrollX), y: Math.round(box.top + window.scrollY) };
  }

  function measureAll() {
    // One image loading can move the others: keep every loaded image's numbers current.
    if (page) page.images.forEach(measure);
  }

  function setSelected(rec, selected, time) {
    rec.selected = selected;
    rec.cell.classList.toggle("selected", selected);
    rec.img.setAttribute("aria-checked", selected ? "true" : "false");
    if (selected) {
      rec.selectedCount += 1;
      stopEstimate(rec, time);
    } else {
      startEstimate(rec, time);
    }
    showSelectedCount();
  }

  function selectedCount() {
    return page.images.filter(function (rec) { return rec.selected; }).length;
  }

  // The sticky bar's "· 5 selected", for pages taller than the window.
  function showSelectedCount() {
    var box = page && page.form.querySelector("[data-selected-count]");
    if (box) box.textContent = String(selectedCount());
    var check = page && page.form.querySelector("[data-none-check]");
    if (check && selectedCount()) check.hidden = true; // a selection answers the question
  }

  function onEnter(rec) {
    if (page.frozen) return;
    var time = Date.now();
    rec.hovered = true;
    rec.cell.classList.add("hovered");
    rec.hoveredCount += 1;
    rec.hoveredRecord.push({ action: "enter", time: time });
    startEstimate(rec, time);
    record(rec, { type: "enter", i: rec.i, time: time });
  }

  function onLeave(rec) {
    if (page.frozen) return;
    var time = Date.now();
    rec.hovered = false;
    rec.cell.classList.remove("hovered");
    rec.hoveredRecord.push({ action: "leave", time: time });
    stopEstimate(rec, time);
    record(rec, { type: "leave", i: rec.i, time: time });
  }

  function onMove(rec, event) {
    if (rec.selected || page.frozen) return;
    // One clock read for the throttle and the point's time: with a second clock for the throttle, a renderer paused
    // between the two reads stored points closer than the window. A clock set back starts a new window.
    var time = Date.now();
    if (time - rec.lastMove < THROTTLE_MS && time >= rec.lastMove) return; // leading edge: a window's first move
    rec.lastMove = time;
    var xy = ratio(rec, event);
    rec.ratioX = xy[0];
    rec.ratioY = xy[1];
    if (!rec.checked) {
      rec.checked = true; // estimateTime counts from the first move over the image
      startEstimate(rec, time);
    }
    showDot(rec);
    record(rec, { type: "move", i: rec.i, x: xy[0], y: xy[1], time: time });
  }

  // ``at``: when the click happened, for one held until the page was tracked (holdEarly); else now.
  function onClick(rec, event, at) {
    event.preventDefault();
    if (page.frozen) return;
    var xy = ratio(rec, event);
    var time = at || Date.now();
    var selected = !rec.selected;
    rec.ratioX = xy[0];
    rec.ratioY = xy[1];
    if (selected) rec.selectedRecord.push({ x: xy[0], y: xy[1], time: time });
    setSelected(rec, selected, time);
    showDot(rec);
    record(rec, { type: "click", i: rec.i, x: xy[0], y: xy[1], time: time, selected: selected });
  }

  function onKey(rec, event, at) {
    if (event.key !== " " && event.key !== "Enter") return;
    event.preventDefault(); // Space would scroll, Enter would submit
    if (page.frozen || event.repeat) return;
    var time = at || Date.now();
    var selected = !rec.selected;
    if (selected) rec.selectedRecord.push({ time: time, input: "keyboard" });
    setSelected(rec, selected, time);
    record(rec, { type: "key", i: rec.i, time: time, selected: selected });
  }

  function onError(rec) {
    // Replace a broken image with an unused spare of the same page, or drop it.
    var spare = page.spares.shift();
    var img = rec.img;
    if (spare) {
      rec.status = "replacement";
      rec.key = spare.id;
      img.setAttribute("data-image-id", spare.id);
      img.src = spare.src;
    } else {
      rec.status = "dropped";
      rec.key = rec.original;
      rec.loaded = false;
      rec.cell.classList.add("dropped");
      img.removeAttribute("tabindex");
    }
  }

  function track(img) {
    var cell = img.closest(".cell");
    var rec = {
      i: parseInt(img.getAttribute("data-i"), 10), img: img, cell: cell, dot: cell.querySelector(".dot"),
      key: img.getAttribute("data-image-id"), original: img.getAttribute("data-image-id"), status: "ok",
      loaded: false, hovered: false, selected: false, checked: false, lastMove: -Infinity,
      ratioX: 0, ratioY: 0, innerX: 0, innerY: 0, dotShown: false,
      hoveredRecord: [], hoveredCount: 0, selectedCount: 0, selectedRecord: [],
      estimateTime: 0, estStart: null, originalImageWidth: null, originalImageHeight: null,
      imageWidth: null, imageHeight: null, imagePosition: null
    };
    img.addEventListener("mouseenter", function () { onEnter(rec); });
    img.addEventListener("mouseleave", function () { onLeave(rec); });
    img.addEventListener("mousemove", function (event) { onMove(rec, event); });
    img.addEventListener("click", function (event) { onClick(rec, event); });
    img.addEventListener("keydown", function (event) { onKey(rec, event); });
    img.addEventListener("load", measureAll);
    img.addEventListener("error", function () { onError(rec); });
    return rec;
  }

  // --- clicks before the page is tracked ---------------------------------------

  // This script runs in the page's head, before the grid exists, and tracks the page once the document is parsed.
  // A slow machine can draw the grid before that: a click or key on an image then waits here, and is replayed
  // with its own time when the page starts, so a worker's selection is never lost.
  var early = [];

  function holdEarly(event) {
    var img = event.target instanceof Element ? event.target.closest("img[data-image-id]") : null;
    if (!img || (page && page.form.contains(img))) return; // tracked: the image's own listener has it
    if (event.type === "keydown" && event.key !== " " && event.key !== "Enter") return;
    event.preventDefault();
    early.push({
      type: event.type, img: img, offsetX: event.offsetX, offsetY: event.offsetY, key: event.key,
      repeat: event.repeat, time: Date.now(), preventDefault: function () {}
    });
  }
  document.addEventListener("click", holdEarly, true);
  document.addEventListener("keydown", holdEarly, true);

  function replayEarly() {
    var held = early;
    early = [];
    held.forEach(function (event) {
      var rec = page.images.filter(function (r) { return r.img === event.img; })[0];
      if (!rec) return; // an image of a page that is gone
      if (event.type === "click") onClick(rec, event, event.time);
      else onKey(rec, event, event.time);
    });
  }

  // --- the page ----------------------------------------------------------------

  function summary(endedAt) {
    return {
      startedAt: page.startedAt,
      endedAt: endedAt,
      tab: tab,
      chunks: page.seq,
      noneConfirmed: page.noneConfirmed && selectedCount() === 0,
      images: page.images.map(function (rec) {
        var running = rec.estStart === null ? 0 : endedAt - rec.estStart;
        return {
          i: rec.i, imageID: rec.key, loadStatus: rec.status,
          originalImageWidth: rec.originalImageWidth, originalImageHeight: rec.originalImageHeight,
          imageWidth: rec.imageWidth, imageHeight: rec.imageHeight, imagePosition: rec.imagePosition,
          hoveredRecord: rec.hoveredRecord, hoveredCount: rec.hoveredCount,
          selected: rec.selected, selectedCount: rec.selectedCount, selectedRecord: rec.selectedRecord,
          estimateTime: rec.estimateTime + running
        };
      })
    };
  }

  function notice(form, text) {
    var box = form.querySelector(".notice");
    if (!box) return;
    box.textContent = text;
    box.hidden = !text;
  }

  function start(form) {
    var token = form.querySelector("input[name=token]").value;
    var pageno = parseInt(form.getAttribute("data-pageno"), 10);
    var key = seqKey(token, pageno);
    ingestUrl = form.getAttribute("data-ingest") || ingestUrl;
    page = {
      form: form, token: token, pageno: pageno, seqKey: key, seq: loadSeq(key), events: [],
      preview: form.hasAttribute("data-preview"), frozen: false, noneConfirmed: false, startedAt: Date.now(),
      spares: JSON.parse(form.querySelector(".grid").getAttribute("data-spares") || "[]"), images: []
    };
    page.images = Array.prototype.map.call(form.querySelectorAll("img[data-image-id]"), track);
    // The requester's preview shows these records live (debug-overlay.js); workers' pages never expose them.
    if (form.hasAttribute("data-debug")) window.freelunchDebugPage = page;
    page.images.forEach(function (rec) {
      // An image may have loaded, or failed, before this script ran.
      if (rec.img.complete && rec.img.naturalWidth === 0 && rec.img.getAttribute("src")) onError(rec);
    });
    measureAll();
    replayEarly();
    showSelectedCount();
    hideBarNearSubmit(form);
  }

  // The sticky bar repeats Submit only while the page's own Submit is out of sight.
  function hideBarNearSubmit(form) {
    var bar = form.querySelector("[data-sticky-bar]"), submit = form.querySelector("[data-submit]");
    if (!bar || !submit || !window.IntersectionObserver) return;
    new IntersectionObserver(function (entries) {
      bar.classList.toggle("out", entries[entries.length - 1].isIntersecting);
    }).observe(submit);
  }

  function boot() {
    var form = document.querySelector("form#task");
    page = null; // no form: the HIT is finished, or this is a message
    if (form) start(form);
  }

  // A page submitted with nothing selected is asked about once ("none of these show ...?"); the second
  // Submit sends it, with noneConfirmed in the summary. Careful interfaces ask; a stray click should not pass.
  document.addEventListener("htmx:confirm", function (event) {
    if (!page || page.preview || event.detail.elt !== page.form || page.noneConfirmed || selectedCount()) return;
    event.preventDefault();
    page.noneConfirmed = true;
    var check = page.form.querySelector("[data-none-check]");
    if (check) {
      check.hidden = false;
      check.scrollIntoView({ block: "nearest" });
    }
  });

  document.addEventListener("htmx:configRequest", function (event) {
    if (!page || event.detail.elt !== page.form) return;
    var endedAt = Date.now();
    page.frozen = true; // nothing more is recorded for this page
    seal();
    measureAll();
    var params = event.detail.parameters;
    var body = JSON.stringify(summary(endedAt));
    if (typeof params.set === "function") params.set("summary", body);
    else params.summary = body;
    notice(page.form, "");
  });

  function failed(event) {
    if (!page || event.detail.elt !== page.form) return;
    page.frozen = false; // the page stays: let the worker go on and press Submit again
    var xhr = event.detail.xhr;
    var text = "We could not store this page. Please check your connection and press Submit again.";
    if (xhr && xhr.status >= 400 && xhr.status < 500 && xhr.responseText) {
      var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
      var h2 = doc.querySelector("h2");
      if (h2) text = h2.textContent;
    }
    notice(page.form, text);
  }
  document.addEventListener("htmx:responseError", failed);
  document.addEventListener("htmx:sendError", failed);

  document.addEventListener("htmx:afterSwap", function () {
    // Submit swapped in the next page, or the completion view.
    if (page && document.querySelector("form#task") !== page.form) boot();
  });

  window.setInterval(seal, FLUSH_MS);
  window.addEventListener("resize", measureAll);
  window.addEventListener("pagehide", beaconAll);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") beaconAll();
  });
  window.addEventListener("beforeunload", function (event) {
    if (page && !page.preview) {
      event.preventDefault();
      event.returnValue = ""; // the browser shows its own "leave site?" question
    }
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
