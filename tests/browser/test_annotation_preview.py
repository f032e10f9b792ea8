"""The requester previews a HIT exactly as a worker sees it, with the seed's live debug counters; nothing is stored."""

from __future__ import annotations

import pytest
from factories import make_batch
from support import log_in
from worker import NEUTRAL, click, glide, jump, wait_loaded

from freelunch.models import Assignment, PageSubmission

pytestmark = pytest.mark.browser


def counters(page, i: int) -> str:
    return page.locator(".cell").nth(i).locator(".debug-counters").inner_text()


def test_preview_shows_live_counters_and_records_nothing(app, live_server, page, make_account):
    _, org = make_account("requester@example.org", "Lab")
    batch = make_batch(app, org, pages=2, per_page=6, versions=("POINTER_ORIGINAL", "NO_POINTER_NO_ORIGINAL"))
    log_in(page, live_server, "requester@example.org")

    page.goto(f"{live_server}/batches/{batch.id}/hits")
    with page.expect_popup() as popup:
        page.locator("a", has_text="preview").first.click()
    preview = popup.value
    preview.set_viewport_size({"width": 1400, "height": 1500})
    wait_loaded(preview)
    assert preview.locator("form#task[data-preview][data-debug]").count() == 1
    assert "Which of these images contain at least one object of type" in preview.inner_text("body")

    jump(preview, *NEUTRAL)
    glide(preview, 0, [(0.2, 0.2), (0.6, 0.7)], seconds=0.5)
    jump(preview, *NEUTRAL)
    preview.wait_for_function("() => document.querySelector('.cell .debug-counters').textContent.includes('hov 1')")
    text = counters(preview, 0)
    assert "sel 0 · hov 1" in text
    assert int(text.split("est ")[1].split(" ms")[0]) > 200
    x, y = (float(v) for v in text.split(" ms · ")[1].split(", "))
    assert abs(x - 0.6) < 0.05 and abs(y - 0.7) < 0.05

    click(preview, 1, 0.5, 0.5)
    preview.wait_for_function(
        "() => document.querySelectorAll('.cell .debug-counters')[1].textContent.startsWith('sel 1')"
    )
    assert preview.locator(".cell").nth(1).get_attribute("class").split().count("selected") == 1

    preview.locator(".debug-bar a", has_text="2").first.click()
    wait_loaded(preview)
    assert preview.locator("form#task").get_attribute("data-pageno") == "2"
    assert "accept the HIT" not in preview.inner_text("body") and "selectedCount" not in preview.inner_text("body")
    preview.locator(".debug-bar a", has_text="No pointer, blurred until hovered").click()  # versions by meaning
    wait_loaded(preview)
    assert "blur" in preview.locator("form#task").get_attribute("class")

    assert Assignment.select().count() == 0 and PageSubmission.select().count() == 0
