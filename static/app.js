/* The dashboard's few behaviours, wired by data attributes: the Content-Security-Policy refuses inline handlers.
 *   data-autosubmit       on a <select>: submit its form on change
 *   data-switch-org       on a <form>: post to the URL its <select> holds
 *   data-confirm="..."    on a <form>: ask before submitting
 *   data-copy="ID"        on a <button>: copy the value of input #ID, then say "Copied"
 *   data-reset-on-success on an htmx <form>: clear it after a successful request
 *   data-reveal="ID" data-reveal-at="N" on a number <input>: show #ID while the value is at least N
 *   data-auto-download    on a link swapped in by htmx: follow it once (an export's row that came back finished,
 *                         so pressing Export is the requester's one click)
 *   data-unsaved-blocks="SELECTOR" on a <form>: once it has unsaved edits, disable the buttons SELECTOR finds and
 *                         show [data-unsaved-note] (Publish sends the saved settings, never half-edited ones)
 */
(function () {
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
  document.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll("[data-auto-download]").forEach(function (link) {
      link.removeAttribute("data-auto-download");
      link.click();
    });
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt;
    if (event.detail.successful && form.hasAttribute && form.hasAttribute("data-reset-on-success")) form.reset();
  });
})();
