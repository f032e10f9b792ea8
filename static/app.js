/* The dashboard's few behaviours, wired by data attributes: the Content-Security-Policy refuses inline handlers.
 *   data-autosubmit       on a <select>: submit its form on change
 *   data-switch-org       on a <form>: post to the URL its <select> holds
 *   data-confirm="..."    on a <form>: ask before submitting
 *   data-copy="ID"        on a <button>: copy the value of input #ID, then say "Copied"
 *   data-reset-on-success on an htmx <form>: clear it after a successful request
 *   data-reveal="ID" data-reveal-at="N" on a number <input>: show #ID while the value is at least N
 *   data-started-here     on an export's row (id "export-N") that answered this page's Export button: once a row
 *                         of that id shows the export finished (whatever swap drew it: its own refresh or its list's
 *                         reload), follow its [data-download] link once, so pressing Export is the requester's one
 *                         click; a row the list picked up (an export started in another tab) is never followed
 *   data-unsaved-blocks="SELECTOR" on a <form>: once it has unsaved edits, disable the buttons SELECTOR finds and
 *                         show [data-unsaved-note] (Publish sends the saved settings, never half-edited ones)
 *   data-panel            a panel that reloads itself when a job ends (templates/_panels.html): the reload waits
 *                         while the requester is in one of its forms or has its confirmation step open (saying so
 *                         on the panel), runs once they leave, and keeps what they typed and ticked
 *   data-include-present="SELECTOR" on an htmx element: its requests carry the fields SELECTOR finds when the page
 *                         has them (hx-include logs an error where it finds none: the batch's status poll carries the
 *                         Exports tab's #exports-seen and the Overview's #progress-shown, each only there)
 */
(function () {
  document.addEventListener("htmx:configRequest", function (event) {
    var selector = event.detail.elt.getAttribute && event.detail.elt.getAttribute("data-include-present");
    if (!selector) return;
    document.querySelectorAll(selector).forEach(function (field) {
      if (field.name) event.detail.parameters[field.name] = field.value;
    });
  });
  document.addEventListener("change", function (event) {
    var target = event.target;
    var form = target.form;
    if (!form) return;
    if (form.hasAttribute("data-switch-org")) {
      form.action = target.value;
      form.submit();
    } else if (target.hasAttribute("data-autosubmit")) {
      form.submit();
    }
  });
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var input = document.getElementById(button.getAttribute("data-copy"));
    if (input && navigator.clipboard) navigator.clipboard.writeText(input.value);
    button.textContent = "Copied";
  });
  function unsaved(event) {
    var form = event.target.form;
    var blocks = form && form.getAttribute("data-unsaved-blocks");
    if (!blocks) return;
    document.querySelectorAll(blocks).forEach(function (button) { button.disabled = true; });
    document.querySelectorAll("[data-unsaved-note]").forEach(function (note) { note.hidden = false; });
  }
  document.addEventListener("input", unsaved);
  document.addEventListener("change", unsaved);
  document.addEventListener("input", function (event) {
    var target = event.target;
    var shown = target.getAttribute && document.getElementById(target.getAttribute("data-reveal"));
    if (shown) shown.hidden = !(target.valueAsNumber >= Number(target.getAttribute("data-reveal-at")));
  });
  var startedHere = {};  // ids of the export rows this page started, until they end
  document.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll("[data-started-here]").forEach(function (row) {
      row.removeAttribute("data-started-here");
      startedHere[row.id] = true;
    });
    Object.keys(startedHere).forEach(function (id) {
      var row = document.getElementById(id);
      if (!row || row.classList.contains("export-queued") || row.classList.contains("export-running")) return;
      delete startedHere[id];  // done (downloaded now) or failed (nothing to download)
      var link = row.querySelector("a[data-download]");
      if (link) link.click();
    });
  });

  // Panels: a reload never takes a half-filled form away from the requester.
  function busy(panel) {
    var active = document.activeElement;
    var typing = active && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName) && !/^(submit|button|reset|image)$/.test(active.type);
    if (typing && active.form && panel.contains(active)) return true;
    // A step open, or one on its way (not a job's card polling its progress: the Exports list holds running rows).
    return Boolean(panel.querySelector(".confirm-step, .htmx-request:not(.job)"));
  }
  function fieldKey(field) {
    var checkable = field.type === "checkbox" || field.type === "radio";
    return [field.form.getAttribute("action"), field.name, checkable ? field.value : ""].join(" ");
  }
  function edits(panel) {
    var changed = {};
    panel.querySelectorAll("input, textarea, select").forEach(function (field) {
      if (!field.form || !field.name || field.type === "hidden") return;
      if (field.type === "checkbox" || field.type === "radio") {
        if (field.checked !== field.defaultChecked) changed[fieldKey(field)] = field.checked;
      } else if (field.tagName === "SELECT") {
        var edited = Array.prototype.some.call(field.options, function (o) { return o.selected !== o.defaultSelected; });
        if (edited) changed[fieldKey(field)] = field.value;
      } else if (field.value !== field.defaultValue) {
        changed[fieldKey(field)] = field.value;
      }
    });
    return changed;
  }
  var keptEdits = {};
  function wait(panel) {
    panel.setAttribute("data-panel-waiting", "");
    if (panel.querySelector("[data-panel-note]")) return;
    var note = document.createElement("p");
    note.className = "flash info";
    note.setAttribute("data-panel-note", "");
    note.setAttribute("role", "status");
    note.textContent = "The figures here are updating: they show once you leave this form (what you typed stays).";
    panel.insertBefore(note, panel.firstChild);
  }
  function resume() {
    document.querySelectorAll("[data-panel-waiting]").forEach(function (panel) {
      if (busy(panel)) return;
      panel.removeAttribute("data-panel-waiting");
      window.htmx.ajax("GET", panel.getAttribute("hx-get"), {
        source: panel, target: panel, swap: "outerHTML", select: "#" + panel.id
      });
    });
  }
  document.addEventListener("htmx:confirm", function (event) {
    var panel = event.detail.elt;
    if (!panel.hasAttribute("data-panel") || !busy(panel)) return;
    event.preventDefault();
    wait(panel);
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    var panel = event.detail.requestConfig && event.detail.requestConfig.elt;  // only a panel's own reload
    if (!panel || !panel.hasAttribute("data-panel") || event.detail.target !== panel) return;
    if (busy(panel)) {  // the requester came back to the form while the figures were on their way
      event.detail.shouldSwap = false;
      wait(panel);
      return;
    }
    keptEdits[panel.id] = edits(panel);
  });
  // On the swap itself, not once it settles: the fields are never seen empty, even for a moment.
  document.addEventListener("htmx:afterSwap", function () {
    Object.keys(keptEdits).forEach(function (id) {
      var panel = document.getElementById(id);
      var changed = keptEdits[id];
      delete keptEdits[id];
      if (!panel) return;
      panel.querySelectorAll("input, textarea, select").forEach(function (field) {
        if (!field.form || !field.name || !(fieldKey(field) in changed)) return;
        var value = changed[fieldKey(field)];
        if (field.type === "checkbox" || field.type === "radio") field.checked = value;
        else field.value = value;
        field.dispatchEvent(new Event("input", { bubbles: true }));  // what reacts to edits sees this one too
      });
    });
  });
  document.addEventListener("htmx:afterSettle", resume);
  document.addEventListener("focusout", function () {
    setTimeout(resume, 0);  // once focus has landed where it went
  });
  // A job card polls every second until its job ends (jobs/_progress.html). A job Redis no longer holds (lost with
  // Redis's data, or its record expired) answers 404 for good, the same as any job not the organization's, so the
  // card ends here instead of asking every second until the page is left.
  document.addEventListener("htmx:responseError", function (event) {
    var card = event.detail.elt;
    if (event.detail.xhr.status !== 404 || !card.matches || !card.matches(".job[hx-trigger]")) return;
    var ended = document.createElement("div");
    ended.className = "job job-failed job-finished";
    ended.id = card.id;
    var title = card.querySelector(".job-title strong").cloneNode(true);
    var line = document.createElement("p");
    line.className = "job-title";
    line.append(title, " · no longer known: its record was lost, so whether it ended is not known here");
    ended.append(line);
    card.replaceWith(ended);
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (event.detail.successful && form.hasAttribute && form.hasAttribute("data-reset-on-success")) form.reset();
  });
})();
