"""No click is lost on a slow machine: Chromium's CPU throttled, each image clicked the moment it can be clicked.

On the first page that is before the page's scripts have all run: htmx (deferred) is held back, as a slow machine
or network would, so the grid is drawn but the document not yet done. tracker.js runs in the head and holds such
clicks until it tracks the page (holdEarly); before, the tracker was deferred too and the click went nowhere.
On the next pages the click comes while htmx is still settling the swapped-in page.
"""

from __future__ import annotations

import pytest
from factories import make_batch
from worker import flush_until_complete

from freelunch.models import Assignment, PageSubmission
from freelunch.services.exports.seed import seed_records

pytestmark = pytest.mark.browser

SLOWDOWN = 20  # Chromium's CPU at 1/20 of its speed: a slow laptop on a busy day


def test_a_click_the_moment_an_image_shows_is_recorded_on_a_throttled_cpu(app, live_server, page, make_account):
    _, org = make_account("requester@example.org", "Lab")
    batch = make_batch(app, org, pages=3, per_page=6)
    hit = batch.hits.get()
    page.context.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": SLOWDOWN})
    clicked = {1: 1, 2: 4, 3: 2}  # pageno: the grid index clicked on it

    held = []  # htmx's request, answered only once the first click is in
    page.route("**/htmx-*.min.js", lambda route: held.append(route))
    # "commit": go on as soon as the response starts, without waiting for the document to be parsed.
    page.goto(
        f"{live_server}/annotate?hitDatasetName={batch.id}&imageNetHitId={hit.key}&workerId=W1", wait_until="commit"
    )
    for pageno, i in clicked.items():
        # Playwright waits only until the image is visible, steady and the topmost thing at its centre.
        image = page.locator(f'form#task[data-pageno="{pageno}"] img[data-i="{i}"]')
        image.click()
        if pageno == 1:
            assert len(held) == 1 and page.evaluate("typeof htmx") == "undefined"  # the page's scripts not all run
            held[0].continue_()
            page.wait_for_load_state("load")  # Submit needs htmx (the page's CSP refuses wait_for_function)
        assert image.get_attribute("aria-checked") == "true"  # the tracker has the click
        page.locator(f'form#task[data-pageno="{pageno}"] [data-submit]').click()
        page.wait_for_selector(f'form#task[data-pageno="{pageno + 1}"]' if pageno < 3 else "[data-completion-code]")

    flush_until_complete(app)
    assignment = Assignment.get()
    assert PageSubmission.select().where(PageSubmission.assignment == assignment).count() == 3
    with app.app_context():
        records = list(seed_records(batch))
    selected = {(r["pageno"], r["gridIndex"]) for r in records if r["selected"]}
    assert selected == set(clicked.items())
    for r in records:
        if r["selected"]:
            (click,) = r["selectedRecord"]  # one click, with the point where it landed
            assert 0 <= click["x"] <= 1 and 0 <= click["y"] <= 1 and click.get("input") != "keyboard"
