// Before a link opens an assignment (device_check.html, the lab page): only a browser with a mouse or a
// trackpad goes on. The task needs hovering, which a finger cannot do; a phone is told by annotate.css
// (the same media query) and sends nothing, so no assignment holds a HIT's place for it.
(function () {
  'use strict';
  if (!window.matchMedia('(any-pointer: fine)').matches) return;
  if (document.querySelector('[data-device-check]')) {
    var url = new URL(window.location.href);
    url.searchParams.set('pointer', 'fine');
    window.location.replace(url.toString());
    return;
  }
  var lab = document.querySelector('form.lab');
  if (lab) {
    var field = document.createElement('input');
    field.type = 'hidden';
    field.name = 'pointer';
    field.value = 'fine';
    lab.appendChild(field);
  }
})();
