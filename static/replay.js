// The page replay's time slider: shows each image's pointer path, clicks, hover and
// selection state up to the chosen moment. The server drew the final state; this
// only redraws it for earlier times. Data: #replay-data (services/replay.py).
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("replay-data").textContent);
  const slider = document.getElementById("replay-time");
  const clock = document.getElementById("replay-clock");
  const play = document.getElementById("replay-play");
  const speed = document.getElementById("replay-speed");
  const cursor = document.getElementById("timeline-cursor");
  const cells = data.cells.map(function (cell) {
    const el = document.querySelector('[data-cell="' + cell.i + '"]');
    return Object.assign(cell, {
      el: el,
      path: el.querySelector(".path"),
      pointer: el.querySelector(".pointer"),
      clickMarks: Array.from(el.querySelectorAll(".click")),
    });
  });

  function show(t) {
    cells.forEach(function (c) {
      const moves = c.moves.filter(function (m) { return m[2] <= t; });
      c.path.setAttribute("points", moves.map(function (m) { return (m[0] * c.w).toFixed(1) + "," + (m[1] * c.h).toFixed(1); }).join(" "));
      const last = moves[moves.length - 1];
      // No point yet: hidden, never parked off the image (the frame's svg shows what overflows it).
      c.pointer.setAttribute("visibility", last ? "visible" : "hidden");
      if (last) {
        c.pointer.setAttribute("cx", last[0] * c.w);
        c.pointer.setAttribute("cy", last[1] * c.h);
      }
      c.clickMarks.forEach(function (mark) { mark.style.display = Number(mark.dataset.t) <= t ? "" : "none"; });
      const clicks = c.clicks.filter(function (k) { return k[2] <= t; });
      const selected = t >= data.duration ? c.selected : (clicks.length ? clicks[clicks.length - 1][3] : false);
      c.el.classList.toggle("selected", selected);
      c.el.classList.toggle("hovered", c.hovers.some(function (h) { return h[0] <= t && t < h[1]; }));
    });
    clock.value = (t / 1000).toFixed(1) + " s";
    const x = Number(cursor.dataset.left) + Number(cursor.dataset.width) * t / data.duration;
    cursor.setAttribute("x1", x);
    cursor.setAttribute("x2", x);
  }

  let playing = null;
  function stop() {
    if (playing !== null) cancelAnimationFrame(playing);
    playing = null;
    play.textContent = "Play";
  }
  play.addEventListener("click", function () {
    if (playing !== null) return stop();
    // At the end (the page opens there, showing everything), Play starts over. The slider snaps to its
    // 10 ms steps, so "the end" is the last step, which can lie a few ms before the duration.
    if (Number(slider.value) >= data.duration - Number(slider.step)) slider.value = 0;
    let before = performance.now();
    let t = Number(slider.value);  // kept here: the slider rounds to its steps
    play.textContent = "Pause";
    function step(now) {
      t = Math.min(data.duration, t + (now - before) * Number(speed.value));
      before = now;
      slider.value = t;
      show(t);
      if (t >= data.duration) return stop();
      playing = requestAnimationFrame(step);
    }
    playing = requestAnimationFrame(step);
  });
  slider.addEventListener("input", function () { stop(); show(Number(slider.value)); });
  show(Number(slider.value));
})();
