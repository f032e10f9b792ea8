"""Every requester page in Chromium, as a person reads it: no code names in the text, every table's headers over
their columns, checkboxes and radio buttons beside their own text, muted text readable (contrast at least 4.5:1,
WCAG AA), no page wider than the window; and the worker's grid within a 390 px phone-wide window."""

from __future__ import annotations

import re

import pytest
from factories import make_campaign, make_dataset
from support import log_in
from worker import wait_loaded

from freelunch.models import LabLink, ReviewRules

pytestmark = pytest.mark.browser

# Words of the code, not of the product: the seed's field and version names, RQ's workers, the RNG's seed.
CODE_NAMES = re.compile(
    r"(?i:the seed|shuffle seed|seed-format|waiting for a worker)|estimateTime|\b(?:NO_)?POINTER_(?:NO_)?ORIGINAL\b|"
    r"\b[a-z]+[A-Z][a-zA-Z]*Id\b"
)

TABLES = """() => [...document.querySelectorAll('table')]
.filter(t => t.offsetParent && t.tHead && t.tBodies.length).map(t => {
  const width = cells => [...cells].reduce((n, c) => n + (c.colSpan || 1), 0);
  const head = [...t.tHead.rows].at(-1);
  const rows = [...t.tBodies[0].rows];
  const first = rows.find(r => [...r.cells].every(c => (c.colSpan || 1) === 1) && r.cells.length === head.cells.length);
  return {
    id: t.id || t.className || t.closest('[id]')?.id,
    head: width(head.cells),
    rows: rows.map(r => width(r.cells)),
    shifted: first ? [...head.cells].some((c, i) =>
      Math.abs(c.getBoundingClientRect().left - first.cells[i].getBoundingClientRect().left) > 1) : false,
  };
})"""

CHOICES = """() => [...document.querySelectorAll('input[type=checkbox], input[type=radio]')]
.filter(i => i.offsetParent).map(i => {
  const around = i.closest('label'), label = around || (i.id && document.querySelector(`label[for="${i.id}"]`));
  if (!label) return {name: i.name || i.outerHTML, label: false};
  const box = i.getBoundingClientRect(), text = label.getBoundingClientRect();
  // Inside its label: at the start of it. Beside a label[for]: just before it, on its line.
  const dx = around ? box.left - text.left : text.left - box.right;
  return {name: i.name || i.outerHTML, label: true, dx: dx, dy: box.top - text.top};
})"""

MUTED = """() => {
  const rgb = s => s.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => [r, g, b]
    .map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
  const background = el => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor);
    if (c.length < 4 || c[3] > 0) return c.slice(0, 3); } return [255, 255, 255]; };
  return [...document.querySelectorAll('.muted, .hint, .empty, .crumbs, small, .decision, .job-message')]
    .filter(el => el.offsetParent && el.innerText.trim()).map(el => {
      const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(background(el))];
      return {text: el.innerText.trim().slice(0, 40), ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)};
    });
}"""


def requester_pages(campaign, dataset) -> list[str]:
    batch, a = campaign.batch.id, campaign.assignments["h1w1"].id
    return [
        "/",
        "/datasets/",
        f"/datasets/{dataset.id}",
        f"/datasets/{dataset.id}/images",
        "/batches/",
        f"/batches/new?dataset_id={dataset.id}",
        f"/batches/{batch}",
        f"/batches/{batch}/hits",
        f"/batches/{batch}/links",
        f"/batches/{batch}/mturk",
        f"/batches/{batch}/mturk/publish",
        f"/batches/{batch}/mturk/review",
        f"/review/batches/{batch}/assignments",
        f"/review/batches/{batch}/workers",
        f"/review/batches/{batch}/results",
        f"/review/batches/{batch}/exports",
        f"/review/assignments/{a}",
        f"/review/assignments/{a}/pages/1",
        "/review/workers",
        "/members/",
        "/mturk/credentials",
    ]


def test_every_requester_page_reads_right(app, live_server, page, make_account):
    _, org = make_account("owner@example.org", "Lab")
    with app.app_context():
        campaign = make_campaign(org)
        dataset = make_dataset(org, classes=("n01", "n02"), candidates=30)
        ReviewRules.create(organization=org, batch=campaign.batch)
    log_in(page, live_server, "owner@example.org")
    page.set_viewport_size({"width": 1280, "height": 800})
    seen_tables = seen_choices = 0
    for path in requester_pages(campaign, dataset):
        response = page.goto(live_server + path)
        assert response.status == 200, path
        page.wait_for_load_state("networkidle")
        for details in page.locator("details").all():  # what a click opens is read too
            details.evaluate("d => d.open = true")
        text = page.inner_text("body")
        assert not CODE_NAMES.search(text), (path, CODE_NAMES.search(text).group(0))

        for table in page.evaluate(TABLES):
            seen_tables += 1
            assert set(table["rows"]) <= {table["head"]}, (path, table)
            assert not table["shifted"], (path, table)
        for choice in page.evaluate(CHOICES):
            seen_choices += 1
            assert choice["label"], (path, choice)
            assert 0 <= choice["dx"] <= 12 and abs(choice["dy"]) <= 12, (path, choice)  # beside its own text
        for muted in page.evaluate(MUTED):
            assert muted["ratio"] >= 4.5, (path, muted)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
    assert seen_tables >= 10 and seen_choices >= 10  # the checks above looked at something


def test_the_worker_grid_fits_a_390_px_window(app, live_server, browser, make_account):
    _, org = make_account("lead@example.org", "Lab")
    with app.app_context():
        campaign = make_campaign(org)
        link = LabLink.create(organization=org, batch=campaign.batch, label="Narrow")
    context = browser.new_context(viewport={"width": 390, "height": 844})
    worker = context.new_page()
    worker.goto(f"{live_server}/lab/{link.token}")
    worker.fill("input[name=workerId]", "Ada")
    worker.click("button:has-text('Start')")
    wait_loaded(worker)
    assert worker.evaluate("document.documentElement.scrollWidth") <= 390
    right = worker.evaluate(
        "Math.max(...[...document.querySelectorAll('.cell')].map(c => c.getBoundingClientRect().right))"
    )
    assert right <= 390
    context.close()
