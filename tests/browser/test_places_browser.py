"""A HIT's places and who goes on with an assignment, in Chromium through the local MTurk (issues 18 and 19).

A HIT MTurk shows as available and a worker accepted must be workable, whoever came through a lab link
first; and a worker's HIT in progress cannot be taken over from another browser with their WorkerId.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from click.testing import CliRunner
from factories import grant_server_account, make_batch
from flask.cli import ScriptInfo
from worker import submit, wait_loaded

from freelunch.cli import cli
from freelunch.models import Assignment, LabLink, MTurkHit

pytestmark = pytest.mark.browser


def publish(app, local_mturk, batch) -> str:
    app.config["MTURK_ENDPOINT_URL"] = local_mturk.endpoint_url
    with app.app_context():
        grant_server_account(batch.organization)  # (the stand-in plays the server's account)
    batch.title, batch.description, batch.reward = "Find the tench", "Click every tench", Decimal("0.50")
    batch.save()
    result = CliRunner().invoke(
        cli, ["mturk", "publish", "--batch", str(batch.id), "--yes"], obj=ScriptInfo(create_app=lambda: app)
    )
    assert result.exit_code == 0, result.output
    return MTurkHit.get().mturk_hit_id


def accept(browser, local_mturk, hit_id: str, worker: str):
    """A worker's own browser accepts the HIT on the worker site; (context, top page, the HIT's frame)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1500})
    top = context.new_page()
    top.on("dialog", lambda dialog: dialog.accept())
    top.goto(f"{local_mturk.endpoint_url}/worker/")
    top.fill("input[name=worker_id]", worker)
    top.click("header button")
    top.goto(f"{local_mturk.endpoint_url}/worker/hits/{hit_id}")
    top.click("#accept")
    top.wait_for_url(re.compile(r"/worker/assignments/[A-Z0-9]+$"))
    top.frame_locator("#hit-frame").locator("main").wait_for()
    frame = next(f for f in top.frames if "/annotate" in f.url)
    return context, top, frame


def finish_and_submit_to_mturk(top, frame) -> None:
    """Select an image, Submit the HIT's one page, then send the completion form to MTurk."""
    wait_loaded(frame)
    frame.locator('img[data-i="0"]').click()
    submit(frame, next_pageno=None)
    frame.click("form.mturk button")
    top.frame_locator("#hit-frame").locator("#submitted").wait_for()


def test_a_lab_annotator_then_three_mturk_workers_on_a_hit_of_three(app, live_server, browser, local_mturk, org):
    batch = make_batch(app, org, pages=1, per_page=4, assignments_per_hit=3)
    link = LabLink.create(organization=org, batch=batch, label="Lab session")
    hit_id = publish(app, local_mturk, batch)

    lab = browser.new_context(viewport={"width": 1400, "height": 1500})
    annotator = lab.new_page()
    annotator.goto(f"{live_server}/lab/{link.token}")
    annotator.fill("input[name=workerId]", "Ada Lovelace")
    annotator.click("button.submit")
    annotator.wait_for_selector("form#task[data-pageno='1']")

    workers = [accept(browser, local_mturk, hit_id, f"AMTURKWORKER{n}") for n in range(3)]
    for _, _, frame in workers:
        frame.wait_for_selector("form#task[data-pageno='1']")
        assert "all the workers it needs" not in frame.inner_text("body")
    _, top, frame = workers[2]  # the one MTurk still offered a place after the lab annotator took theirs
    finish_and_submit_to_mturk(top, frame)
    with local_mturk.store.lock:
        [submission] = local_mturk.store.submissions
        assert submission["workerId"] == "AMTURKWORKER2"
    wait_loaded(annotator)
    annotator.locator('img[data-i="1"]').click()
    submit(annotator, next_pageno=None)  # and the lab annotator's place was theirs all along
    sources = sorted(a.source for a in Assignment.select())
    assert sources == ["lab", "mturk", "mturk", "mturk"]
    for context, _, _ in workers:
        context.close()
    lab.close()


def test_a_hit_in_progress_cannot_be_taken_over_from_another_browser(app, live_server, browser, local_mturk, org):
    batch = make_batch(app, org, pages=1, per_page=4, assignments_per_hit=3)
    hit_id = publish(app, local_mturk, batch)
    victim, victim_top, victim_frame = accept(browser, local_mturk, hit_id, "AVICTIMWORKER")
    victim_frame.wait_for_selector("form#task[data-pageno='1']")
    victims_assignment = victim_top.url.rsplit("/", 1)[1]
    frame_link = victim_frame.url  # opened by the local MTurk with the victim's AssignmentId, then redirected
    assert "token=" in frame_link

    # The attacker knows the victim's WorkerId (requesters and forums see them) and holds an assignment
    # of the same HIT; their own browser opens the HIT link with the victim's WorkerId.
    attacker, attacker_top, _ = accept(browser, local_mturk, hit_id, "AATTACKER")
    attackers_assignment = attacker_top.url.rsplit("/", 1)[1]
    hit = batch.hits.get()
    forged = (
        f"{live_server}/annotate?imageNetHitId={hit.key}&assignmentId={attackers_assignment}&hitId={hit_id}"
        f"&turkSubmitTo={local_mturk.endpoint_url}&workerId=AVICTIMWORKER"
    )
    takeover = attacker.new_page()
    answer = takeover.goto(forged)
    assert answer.status == 409 and "in progress in another browser" in takeover.inner_text("body")
    assert takeover.locator("form#task").count() == 0
    [mine] = Assignment.select().where(Assignment.mturk_assignment_id == victims_assignment)
    [attackers_own] = Assignment.select().where(Assignment.mturk_assignment_id == attackers_assignment)
    assert attackers_own.worker_id != mine.worker_id, "the attacker's AssignmentId is on their own HIT only"

    # The victim's own Submit still posts the victim's AssignmentId.
    finish_and_submit_to_mturk(victim_top, victim_frame)
    with local_mturk.store.lock:
        [submission] = local_mturk.store.submissions
        assert submission["assignmentId"] == victims_assignment and submission["workerId"] == "AVICTIMWORKER"
        assert local_mturk.store.assignments[victims_assignment].status == "Submitted"
    assert Assignment.get_by_id(mine.id).done
    victim.close()
    attacker.close()


def test_a_phone_is_told_before_anything_is_created(app, live_server, playwright, browser, local_mturk, org):
    batch = make_batch(app, org, pages=1, per_page=4, assignments_per_hit=3)
    link = LabLink.create(organization=org, batch=batch, label="Lab session")
    hit_id = publish(app, local_mturk, batch)
    # A survey link of a batch run from MTurk's own pages (a HIT published through the API takes none).
    surveyed = make_batch(app, org, pages=1, per_page=4, assignments_per_hit=3, name="Survey")
    survey_link = f"/annotate?hitDatasetName={surveyed.id}&imageNetHitId={surveyed.hits.get().key}"
    phone = browser.new_context(**playwright.devices["Pixel 5"])  # is_mobile, has_touch, a phone's screen
    assert playwright.devices["Pixel 5"]["is_mobile"] and playwright.devices["Pixel 5"]["has_touch"]
    tab = phone.new_page()

    tab.goto(f"{live_server}/lab/{link.token}")  # told on the lab page, before typing a name
    assert tab.is_visible(".needs-pointer") and "needs a mouse or a trackpad" in tab.inner_text(".needs-pointer")
    assert not tab.is_visible("form.lab")

    tab.goto(f"{live_server}{survey_link}&workerId=APHONEWORKER")
    tab.wait_for_selector("[data-device-check] .needs-pointer")
    assert "Nothing has been started" in tab.inner_text(".needs-pointer") and not tab.is_visible(".opening")

    tab.goto(f"{local_mturk.endpoint_url}/worker/")  # an MTurk worker who accepts anyway
    tab.fill("input[name=worker_id]", "APHONEWORKER")
    tab.click("header button")
    tab.goto(f"{local_mturk.endpoint_url}/worker/hits/{hit_id}")
    tab.frame_locator("#hit-frame").locator(".needs-pointer").wait_for()  # the preview says so too
    tab.click("#accept")
    notice = tab.frame_locator("#hit-frame").locator("[data-device-check] .needs-pointer")
    notice.wait_for()
    assert "please return the HIT on MTurk" in " ".join(notice.inner_text().split())
    tab.wait_for_timeout(500)  # (a page that went on would have replaced itself by now; nothing may be created)
    assert not Assignment.select().exists()
    phone.close()

    computer = browser.new_context(viewport={"width": 1400, "height": 1500})  # the same links on a computer
    tab = computer.new_page()
    tab.goto(f"{live_server}{survey_link}&workerId=APHONEWORKER")
    tab.wait_for_selector("form#task[data-pageno='1']")
    assert "token=" in tab.url and "pointer=" not in tab.url
    assert Assignment.select().count() == 1
    computer.close()
