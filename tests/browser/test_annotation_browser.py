"""A scripted worker in real Chromium; the export must show exactly what was done (record-format.md)."""

from __future__ import annotations

import re
import time

import pytest
from factories import make_batch
from worker import (
    GEOMETRY_JS,
    NEUTRAL,
    at,
    click,
    distance_to_path,
    flush_until_complete,
    flush_until_stored,
    glide,
    jump,
    stored_events,
    submit,
    wait_loaded,
)

from freelunch.models import Assignment, Hit, HitPage, Image, PageSubmission, PointerChunk
from freelunch.services import demo
from freelunch.services.exports.seed import seed_records

pytestmark = pytest.mark.browser

RECORD_FIELDS = [
    "imageID",
    "originalImageHeight",
    "originalImageWidth",
    "imageHeight",
    "imageWidth",
    "imagePosition",
    "hoveredRecord",
    "hoveredCount",
    "mouseTracking",
    "selected",
    "selectedCount",
    "selectedRecord",
    "estimateTime",
    "worker_id",
]


@pytest.fixture
def org(make_account):
    return make_account("requester@example.org", "Lab")[1]


def link(base, hit, worker="W1", **extra):
    params = {"hitDatasetName": hit.batch_id, "imageNetHitId": hit.key, "workerId": worker, **extra}
    return base + "/annotate?" + "&".join(f"{k}={v}" for k, v in params.items())


def expected_estimate(record: dict, clicks: list[dict]) -> int:
    """Time over the image while not selected, from its first recorded move: from the records and the stored clicks."""
    if not record["mouseTracking"]:
        return 0
    first = record["mouseTracking"][0]["time"]
    selected_spans, since = [], None
    for event in clicks:
        if event["selected"]:
            since = event["time"]
        elif since is not None:
            selected_spans.append((since, event["time"]))
            since = None
    if since is not None:
        selected_spans.append((since, float("inf")))
    hovers = record["hoveredRecord"]
    total = 0
    for enter, leave in zip(hovers[::2], hovers[1::2]):
        start, end = max(enter["time"], first), leave["time"]
        if end <= start:
            continue
        covered = sum(max(0, min(end, b) - max(start, a)) for a, b in selected_spans)
        total += end - start - covered
    return total


def test_export_matches_what_the_worker_did(app, live_server, page, org):
    batch = make_batch(app, org, pages=2, per_page=6)
    hit = batch.hits.get()
    page.goto(link(live_server, hit))
    wait_loaded(page)
    page.evaluate("window.__sameDocument = true")
    dom = {g["i"]: g for g in page.evaluate(GEOMETRY_JS)}

    # Image 0: a path, a leave, a re-entry, a selecting click, moves while selected, a de-selecting click, more moves.
    jump(page, *NEUTRAL)
    path_a = glide(page, 0, [(0.1, 0.1), (0.9, 0.2), (0.5, 0.9)], seconds=1.2)
    jump(page, *NEUTRAL)
    page.wait_for_timeout(150)
    path_b = glide(page, 0, [(0.3, 0.3), (0.4, 0.5)], seconds=0.4)
    click(page, 0, 0.4, 0.5)
    glide(page, 0, [(0.4, 0.5), (0.8, 0.8)], seconds=0.6)  # selected: none of this may be recorded
    click(page, 0, 0.8, 0.8)
    path_c = glide(page, 0, [(0.8, 0.8), (0.2, 0.7)], seconds=0.5)
    jump(page, *NEUTRAL)
    # Image 1: hovered, moved over, selected.
    path_d = glide(page, 1, [(0.5, 0.5), (0.6, 0.4)], seconds=0.4)
    click(page, 1, 0.6, 0.4)
    jump(page, *NEUTRAL)
    # Image 2: selected with the keyboard only.
    page.locator('img[data-i="2"]').focus()
    page.keyboard.press("Space")
    # Image 4: entered and left three times.
    for _ in range(3):
        jump(page, *at(page, 4, 0.5, 0.5))
        page.wait_for_timeout(40)
        jump(page, *NEUTRAL)
        page.wait_for_timeout(40)
    assert page.evaluate("document.querySelector('[data-i=\"1\"]').closest('.cell').classList.contains('selected')")
    assert page.evaluate(GEOMETRY_JS) == list(dom.values())
    submit(page, next_pageno=2)
    assert page.evaluate("window.__sameDocument") is True  # HTMX swapped the page in, no reload
    assert page.inner_text(".progress") == "Page 2 of 2"
    dom2 = {g["i"]: g for g in page.evaluate(GEOMETRY_JS)}
    click(page, 3, 0.5, 0.5)
    submit(page, next_pageno=None)
    assignment = Assignment.get()
    assert page.inner_text("[data-completion-code]") == Assignment.get_by_id(assignment.id).completion_code

    flush_until_complete(app)
    with app.app_context():
        records = list(seed_records(batch))
    assert len(records) == 12
    keys = dict(Image.select(Image.id, Image.key).tuples())
    shown = {p.pageno: [keys[i] for i in p.image_ids] for p in HitPage.select().where(HitPage.hit == hit)}
    for record in records:
        assert list(record)[: len(RECORD_FIELDS)] == RECORD_FIELDS
        assert record["worker_id"] == assignment.worker_id and re.fullmatch(r"[0-9A-F]{10}", record["worker_id"])
        geometry = (dom if record["pageno"] == 1 else dom2)[record["gridIndex"]]
        assert record["imageID"] == shown[record["pageno"]][record["gridIndex"]]  # the key, not the page's ref
        assert geometry["key"] not in keys.values() and re.fullmatch(r"[\w-]{16}", geometry["key"])
        assert (record["originalImageWidth"], record["originalImageHeight"]) == (
            geometry["naturalWidth"],
            geometry["naturalHeight"],
        )
        assert (record["imageWidth"], record["imageHeight"]) == (geometry["width"], geometry["height"])
        assert record["imagePosition"] == {"x": geometry["x"], "y": geometry["y"]}
        assert record["hoveredCount"] == sum(h["action"] == "enter" for h in record["hoveredRecord"])
        assert [h["action"] for h in record["hoveredRecord"]] == ["enter", "leave"] * record["hoveredCount"]
        times = [p["time"] for p in record["mouseTracking"]]
        assert times == sorted(times)
        assert all(b - a >= 15 for a, b in zip(times, times[1:])), "more than ~60 points a second"
        for point in record["mouseTracking"]:
            assert -0.01 <= point["x"] <= 1.01 and -0.01 <= point["y"] <= 1.01
        clicks = [
            e
            for e in stored_events(assignment.id, record["pageno"])
            if e["type"] in ("click", "key") and e["i"] == record["gridIndex"]
        ]
        assert record["selectedCount"] == sum(e["selected"] for e in clicks) == len(record["selectedRecord"])
        assert record["selected"] == (clicks[-1]["selected"] if clicks else False)
        assert abs(record["estimateTime"] - expected_estimate(record, [e for e in clicks if e["type"] == "click"])) <= 2
        assert record["pageStartedAt"] <= min(times + [record["pageEndedAt"]])

    first, second, by_key, fourth = records[0], records[1], records[2], records[4]
    # Image 0: two visits, one selecting click, a de-selecting click that added nothing.
    assert first["hoveredCount"] == 2 and not first["selected"] and first["selectedCount"] == 1
    (selecting,) = first["selectedRecord"]
    assert abs(selecting["x"] - 0.4) <= 0.01 and abs(selecting["y"] - 0.5) <= 0.01
    for point in first["mouseTracking"]:
        assert min(distance_to_path(point["x"], point["y"], p) for p in (path_a, path_b, path_c)) <= 0.01
    assert len(first["mouseTracking"]) >= 40  # ~2.5 s of unselected movement at up to 60 Hz
    duration_s = (first["mouseTracking"][-1]["time"] - first["mouseTracking"][0]["time"]) / 1000
    assert len(first["mouseTracking"]) <= 62 * duration_s + 2
    clicks0 = [e for e in stored_events(assignment.id, 1) if e["type"] == "click" and e["i"] == 0]
    selected_at, deselected_at = clicks0[0]["time"], clicks0[1]["time"]
    assert deselected_at - selected_at >= 500
    assert not [p for p in first["mouseTracking"] if selected_at < p["time"] < deselected_at]
    assert [p for p in first["mouseTracking"] if p["time"] > deselected_at], "tracking resumes after de-selection"
    # Image 1: selected by a click at (0.6, 0.4) after a path.
    assert second["selected"] and second["hoveredCount"] == 1
    assert abs(second["selectedRecord"][0]["x"] - 0.6) <= 0.01 and abs(second["selectedRecord"][0]["y"] - 0.4) <= 0.01
    assert all(distance_to_path(p["x"], p["y"], path_d) <= 0.01 for p in second["mouseTracking"])
    # Image 2: the keyboard, no pointer coordinates.
    assert by_key["selected"] and by_key["hoveredCount"] == 0 and by_key["mouseTracking"] == []
    assert [set(r) for r in by_key["selectedRecord"]] == [{"time", "input"}] and by_key["selectedRecord"][0][
        "input"
    ] == "keyboard"
    assert by_key["estimateTime"] == 0
    # Image 4: three enters and leaves.
    assert fourth["hoveredCount"] == 3 and not fourth["selected"] and fourth["selectedRecord"] == []
    # Untouched images.
    assert records[3]["hoveredRecord"] == [] and records[5]["mouseTracking"] == [] and not records[5]["selected"]
    # Page 2: one selecting click on image 3.
    assert [r["gridIndex"] for r in records[6:] if r["selected"]] == [3]
    stored = PageSubmission.select().order_by(PageSubmission.pageno)
    assert all(p.chunks_reported >= 1 for p in stored)


# A renderer paused between two clock reads: every other Date.now() returns 10 ms late (monotonic, as a real pause).
PAUSING_CLOCK = """(() => { const now = Date.now.bind(Date); let calls = 0;
  Date.now = () => { if (calls++ % 2) { const end = performance.now() + 10; while (performance.now() < end); }
                     return now(); }; })();"""


def test_points_stay_a_throttle_window_apart_when_the_renderer_pauses(app, live_server, page, org):
    batch = make_batch(app, org, pages=1, per_page=6)
    page.add_init_script(PAUSING_CLOCK)
    page.goto(link(live_server, batch.hits.get()))
    wait_loaded(page)
    jump(page, *NEUTRAL)
    glide(page, 0, [(0.1, 0.1), (0.9, 0.9), (0.2, 0.8)], seconds=1.5)
    jump(page, *NEUTRAL)
    submit(page, next_pageno=None)
    flush_until_complete(app)
    with app.app_context():
        (record,) = [r for r in seed_records(batch) if r["gridIndex"] == 0]
    times = [p["time"] for p in record["mouseTracking"]]
    assert len(times) >= 20
    assert all(b - a >= 16 for a, b in zip(times, times[1:])), "points closer than the throttle's window"


VERSIONS = ["POINTER_ORIGINAL", "NO_POINTER_ORIGINAL", "POINTER_NO_ORIGINAL", "NO_POINTER_NO_ORIGINAL"]
STYLE_JS = """i => { const img = document.querySelector(`img[data-i="${i}"]`); const cell = img.closest('.cell');
  const dot = cell.querySelector('.dot'); const d = dot.getBoundingClientRect();
  return {filter: getComputedStyle(img).filter, border: getComputedStyle(cell).borderTopColor,
          borderWidth: getComputedStyle(cell).borderTopWidth, dot: getComputedStyle(dot).display,
          dotX: d.left + d.width / 2, dotY: d.top + d.height / 2, dotSize: d.width,
          colour: getComputedStyle(dot).backgroundColor}; }"""


@pytest.mark.parametrize("version", VERSIONS)
def test_the_four_versions_render_as_specified(app, live_server, page, org, version, tmp_path):
    batch = make_batch(app, org, pages=1, per_page=6, versions=VERSIONS)
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(link(live_server, batch.hits.get(), version=version))
    wait_loaded(page)
    assert Assignment.get().version == version
    blurred = version.endswith("NO_ORIGINAL")
    pointer = version.startswith("POINTER")
    assert page.evaluate(STYLE_JS, 2)["filter"] == ("blur(8px)" if blurred else "none")
    glide(page, 0, [(0.2, 0.3), (0.3, 0.3)], seconds=0.2)
    click(page, 0, 0.3, 0.3)
    glide(page, 1, [(0.5, 0.5), (0.45, 0.4)], seconds=0.2)
    page.wait_for_timeout(40)  # past the throttle window, so this last move is recorded and the dot lands here
    page.mouse.move(*at(page, 1, 0.45, 0.4))
    page.wait_for_timeout(50)
    selected, hovered, other = (page.evaluate(STYLE_JS, i) for i in (0, 1, 2))
    assert selected["border"] == "rgb(0, 176, 255)" and other["border"] == "rgb(238, 238, 238)"
    assert selected["borderWidth"] == "4px"
    assert selected["filter"] == hovered["filter"] == "none"
    assert other["filter"] == ("blur(8px)" if blurred else "none")
    if pointer:
        for style, (i, fx, fy) in ((selected, (0, 0.3, 0.3)), (hovered, (1, 0.45, 0.4))):
            x, y = at(page, i, fx, fy)
            assert style["dot"] == "block" and style["colour"] == "rgb(255, 0, 0)" and style["dotSize"] == 10
            assert abs(style["dotX"] - x) <= 2 and abs(style["dotY"] - y) <= 2
        assert other["dot"] == "none"
    else:
        assert selected["dot"] == hovered["dot"] == "none"
    page.screenshot(path=str(tmp_path / f"{version}.png"))


def test_preview_shows_the_task_and_sends_nothing(app, live_server, page, org):
    batch = make_batch(app, org, pages=1, per_page=6)
    hit = batch.hits.get()
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(
        f"{live_server}/annotate?imageNetHitId={hit.key}&assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId=X"
        "&turkSubmitTo=https://www.mturk.com"
    )
    wait_loaded(page)
    assert "accept the HIT" in page.inner_text(".banner")
    glide(page, 0, [(0.2, 0.2), (0.8, 0.8)], seconds=0.4)
    click(page, 0, 0.5, 0.5)
    page.wait_for_timeout(1500)  # longer than the tracker's flush interval
    assert page.locator("[data-submit]").is_disabled()
    assert not [u for u in requests if "/api/ingest" in u or "/annotate/submit" in u]
    assert Assignment.select().count() == 0 and PageSubmission.select().count() == 0


def test_resume_and_beforeunload(app, live_server, page, org):
    batch = make_batch(app, org, pages=3, per_page=3)
    hit = batch.hits.get()
    page.goto(link(live_server, hit))
    wait_loaded(page)
    token_url = page.url
    click(page, 0, 0.5, 0.5)
    submit(page, next_pageno=2)
    dialogs = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.type))
    click(page, 1, 0.5, 0.5)  # some work on page 2, then leave
    page.goto(token_url)
    assert "beforeunload" in dialogs
    wait_loaded(page)
    assert page.get_attribute("form#task", "data-pageno") == "2"
    assert page.inner_text(".progress") == "Page 2 of 3"
    page.goto(link(live_server, hit))  # the original link resumes too
    assert page.get_attribute("form#task", "data-pageno") == "2"
    assert PageSubmission.select().count() == 1


def test_mturk_completion_and_one_hit_per_worker(app, live_server, page, org):
    batch = make_batch(app, org, pages=2, per_page=3, hits=2, one_hit_per_worker=True)
    first, second = batch.hits.order_by(Hit.id)
    mturk = "assignmentId=ASG{n}&hitId=HIT{n}&workerId=A2WORKER&turkSubmitTo=https://workersandbox.mturk.com"
    page.goto(f"{live_server}/annotate?imageNetHitId={first.key}&" + mturk.format(n=1))
    wait_loaded(page)
    submit(page, next_pageno=2)
    submit(page, next_pageno=None)
    code = page.inner_text("[data-completion-code]")
    form = page.locator("form.mturk")
    assert form.get_attribute("action") == "https://workersandbox.mturk.com/mturk/externalSubmit"
    assert form.get_attribute("method") == "post"
    assert form.locator('input[name="assignmentId"]').get_attribute("value") == "ASG1"
    page.goto(f"{live_server}/annotate?imageNetHitId={second.key}&" + mturk.format(n=2))
    assert "We do not accept more than 1 HIT per worker" in page.inner_text("body")
    page.goto(f"{live_server}/annotate?imageNetHitId={first.key}&" + mturk.format(n=1))
    assert page.inner_text("[data-completion-code]") == code
    assert Assignment.select().count() == 1


def test_broken_images_are_replaced_or_dropped(app, live_server, page, org):
    """The page names images by refs only (its HTML and every URL it loads); what is stored is the keys."""
    import json
    import os

    batch = make_batch(app, org, pages=2, per_page=6)
    hit = batch.hits.get()
    page_one = HitPage.get(HitPage.hit == hit, HitPage.pageno == 1)
    broken = [Image.get_by_id(i) for i in page_one.image_ids[:2] + page_one.spare_image_ids[1:]]
    for image in broken:
        os.remove(os.path.join(app.config["MEDIA_ROOT"], image.storage_path))
    spare = Image.get_by_id(page_one.spare_image_ids[0])
    loaded = []
    page.on("request", lambda request: loaded.append(request.url))
    page.goto(link(live_server, hit))
    wait_loaded(page)
    assert page.locator(".cell.dropped").count() == 1
    spares = json.loads(page.get_attribute(".grid", "data-spares"))
    replaced = page.locator(f'img[data-image-id="{spares[0]["id"]}"]')
    assert replaced.count() == 1 and replaced.get_attribute("src") == spares[0]["src"]
    html = page.content()
    for image in Image.select():
        names = (image.key, image.storage_path, os.path.basename(image.storage_path), image.key.split("/")[-1])
        assert not any(name in html or any(name in url for url in loaded) for name in names), image.key
    submit(page, next_pageno=2)
    with app.app_context():
        records = list(seed_records(batch))
    statuses = sorted((r["loadStatus"], r["imageID"], r["replacesImageID"]) for r in records[:2])
    originals = {broken[0].key, broken[1].key}
    assert statuses[0][0] == "dropped" and statuses[0][1] in originals and statuses[0][2] is None
    assert statuses[1][:2] == ("replacement", spare.key) and statuses[1][2] in originals - {statuses[0][1]}
    dropped = next(r for r in records if r["loadStatus"] == "dropped")
    assert dropped["imageWidth"] is None and dropped["hoveredRecord"] == []
    assert [r["imageID"] for r in records[2:6]] == [Image.get_by_id(i).key for i in page_one.image_ids[2:]]


def test_demo_batch_end_to_end(app, live_server, page):
    with app.app_context():
        summary = demo.ensure_demo()
    page.goto(summary["worker_links"][0])
    wait_loaded(page)
    pages = int(re.search(r"of (\d+)$", page.inner_text(".progress")).group(1))
    for pageno in range(1, pages + 1):
        glide(page, 0, [(0.2, 0.2), (0.7, 0.6)], seconds=0.3)
        click(page, 0, 0.7, 0.6)
        jump(page, *NEUTRAL)
        submit(page, next_pageno=pageno + 1 if pageno < pages else None)
    assert re.fullmatch(r"[0-9A-F]{6}", page.inner_text("[data-completion-code]"))
    flush_until_complete(app)
    with app.app_context():
        from freelunch.models import Batch

        records = list(seed_records(Batch.get_by_id(summary["batch_id"])))
    assert len({r["pageno"] for r in records}) == pages
    chosen = [r for r in records if r["selected"]]
    assert len(chosen) == pages and all(r["gridIndex"] == 0 and r["mouseTracking"] for r in chosen)
    assert all(set(RECORD_FIELDS) <= set(r) for r in records)


def test_usable_at_1280_px_and_phones_are_told_to_use_a_pointer(app, live_server, browser, org):
    batch = make_batch(app, org, pages=1, per_page=6)
    url = link(live_server, batch.hits.get())
    desktop = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = desktop.new_page()
    tab.goto(url)
    wait_loaded(tab)
    assert tab.evaluate("document.documentElement.scrollWidth") <= 1280  # no sideways scrolling
    assert tab.locator('img[data-i="2"]').bounding_box()["x"] + 324 <= 1280
    assert tab.is_visible("[data-submit]") and not tab.is_visible(".needs-pointer")
    tab.locator('img[data-i="4"]').focus()
    tab.keyboard.press("Enter")  # Enter toggles like Space, and does not submit the form
    assert tab.get_attribute('img[data-i="4"]', "aria-checked") == "true"
    assert tab.locator(".cell.selected").count() == 1 and PageSubmission.select().count() == 0
    desktop.close()
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    tab = phone.new_page()
    tab.goto(link(live_server, batch.hits.get(), "W2"))  # (W1's HIT goes on only in the browser that started it)
    assert tab.is_visible(".needs-pointer") and "needs a mouse or a trackpad" in tab.inner_text(".needs-pointer")
    assert not tab.is_visible("form#task")
    assert Assignment.select().count() == 1, "the phone opened nothing (W1's is the computer's)"
    phone.close()


def test_closing_the_page_still_delivers_the_last_events(app, live_server, browser, org):
    """Events of the last second are sent on pagehide (sendBeacon, and a keepalive fetch), not lost."""
    batch = make_batch(app, org, pages=1, per_page=3)
    context = browser.new_context(viewport={"width": 1400, "height": 1200})
    tab = context.new_page()
    tab.goto(link(live_server, batch.hits.get()))
    wait_loaded(tab)
    path = glide(tab, 0, [(0.2, 0.2), (0.8, 0.7)], seconds=0.5)
    tab.wait_for_timeout(50)  # past the tracker's 60 Hz throttle, so the next move is recorded
    last = (0.5, 0.45)  # on the path: the last move, made just before closing
    tab.mouse.move(*at(tab, 0, *last))
    tab.close()  # pagehide, with no Submit
    context.close()
    assignment = Assignment.get()
    deadline = time.monotonic() + 60  # a busy machine may take its time; only a lost move fails

    def delivered(moves: list[dict]) -> bool:
        return bool(moves) and distance_to_path(moves[-1]["x"], moves[-1]["y"], [last, last]) <= 0.01

    with app.app_context():
        from freelunch.services.ingest.flush import sweep

        while True:
            sweep("browser-test")  # every ingest shard
            moves = [e for e in stored_events(assignment.id, 1) if e["type"] == "move"]
            if delivered(moves) or time.monotonic() > deadline:
                break
            time.sleep(0.25)
    assert delivered(moves), "the move of the last moment before closing was lost"
    assert all(distance_to_path(e["x"], e["y"], path) <= 0.01 for e in moves)


def test_a_page_open_in_two_tabs_keeps_both_tabs_batches(app, live_server, browser, org):
    """Each tab numbers its batches from 0; the submitting tab's moves are the page's, the other tab's stay stored."""
    batch = make_batch(app, org, pages=1, per_page=3)
    context = browser.new_context(viewport={"width": 1400, "height": 1200})
    first = context.new_page()
    first.goto(link(live_server, batch.hits.get()))
    wait_loaded(first)  # polls on animation frames, which a background tab never draws: open the second tab after
    glide(first, 0, [(0.2, 0.2), (0.8, 0.7)], seconds=0.5)
    flush_until_stored(app, 1)  # the first tab's batch 0 is in before the second tab opens
    second = context.new_page()
    second.goto(first.url)
    wait_loaded(second)
    path = glide(second, 1, [(0.1, 0.9), (0.9, 0.1)], seconds=0.5)
    submit(second, next_pageno=None)
    flush_until_complete(app)
    context.close()

    tabs = {}
    for tab, seq in PointerChunk.select(PointerChunk.tab, PointerChunk.seq).tuples():
        tabs.setdefault(tab, set()).add(seq)
    assert len(tabs) == 2 and all(0 in seqs for seqs in tabs.values()), "both tabs' first batches are stored"
    submitted = PageSubmission.get()
    assert submitted.tab in tabs
    with app.app_context():
        records = list(seed_records(batch))
    moves = records[1]["mouseTracking"]
    assert moves and all(distance_to_path(m["x"], m["y"], path) <= 0.01 for m in moves)
    assert not records[0]["mouseTracking"], "the other tab's moves are not the submitted page's"
