"""The annotation page's links and flows, and storing a submitted page (no browser here; see tests/browser/)."""

import json
import re
import threading
from urllib.parse import parse_qs, urlsplit

import pytest
from factories import make_batch, summary_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import as_the_page_sends, open_assignment, post_page, survey_url

from freelunch.db import database
from freelunch.models import (
    Assignment,
    Hit,
    HitPage,
    Image,
    ImageRecord,
    LabLink,
    PageSubmission,
    PageTally,
    Vote,
    utcnow,
)
from freelunch.services.accounts.identity import assignment_token, completion_code
from freelunch.services.annotation import image_refs
from freelunch.services.annotation.pages import assignment_from_token


@pytest.fixture
def org(make_account):
    return make_account("requester@example.org", "Lab")[1]


@pytest.fixture
def batch(app, org):
    return make_batch(app, org, hits=2)


def test_survey_link_opens_an_anonymised_assignment_and_renders_the_page(client, batch):
    hit = batch.hits.order_by(Hit.id).first()
    token, assignment = open_assignment(client, hit, "A1RAWWORKER")
    assert assignment.source == "survey" and assignment.version == "POINTER_ORIGINAL"
    assert re.fullmatch(r"[0-9A-F]{10}", assignment.worker_id)
    assert not Assignment.select().where(Assignment.worker_id.contains("A1RAW")).exists()
    html = client.get(f"/annotate?token={token}").get_data(as_text=True)
    page = HitPage.get(HitPage.hit == hit, HitPage.pageno == 1)
    shown = re.findall(r'data-image-id="([^"]+)"', html)  # the page's refs (image_refs.py), not the keys
    with client.application.app_context():
        refs = image_refs.refs(image_refs.scope(1, assignment_id=assignment.id), page.image_ids)
    assert shown == [refs[i] for i in page.image_ids] and len(set(shown)) == len(shown)
    assert not any(Image.get_by_id(i).key in html for i in page.image_ids)
    assert (
        "data-submit" in html
        and "Page 1 of 2</div>" in html
        and "Page 1 of 2 · <span data-selected-count>0</span> selected" in html
    )
    assert "Tench, Tinca tinca" in html and "Definition: Freshwater dace-like game fish" in html
    assert 'href="https://en.wikipedia.org/wiki/Tench" target="_blank"' in html
    # Opening the same link again resumes the same assignment.
    assert open_assignment(client, hit, "A1RAWWORKER")[1].id == assignment.id
    assert Assignment.select().count() == 1


def test_preview_shows_the_task_and_records_nothing(client, batch):
    hit = batch.hits.first()
    response = client.get(f"/annotate?imageNetHitId={hit.key}&assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId=X")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "accept the HIT" in html and "data-preview" in html and re.search(r"data-submit disabled", html)
    assert len(re.findall("data-image-id=", html)) == 6
    assert Assignment.select().count() == 0
    assert client.post("/annotate/submit", data={"token": "", "pageno": 1, "summary": "{}"}).status_code == 403
    assert PageSubmission.select().count() == 0


def test_mturk_external_question_parameters(client, batch):
    hit = batch.hits.first()
    hit.mturk_hit_id = "3MTURKHIT"
    hit.save()
    base = "/annotate?pointer=fine&assignmentId=ASG1&hitId=3MTURKHIT&workerId=AWORKER&turkSubmitTo=https://workersandbox.mturk.com"
    response = client.get(base)
    assert response.status_code == 303
    assignment = Assignment.get()
    assert (assignment.source, assignment.mturk_assignment_id, assignment.mturk_hit_id, assignment.turk_submit_to) == (
        "mturk",
        "ASG1",
        "3MTURKHIT",
        "https://workersandbox.mturk.com",
    )
    # The seed's imageNetHitId in the ExternalURL names the HIT too.
    other = batch.hits.order_by(Hit.id.desc()).first()
    assert (
        client.get(
            f"/annotate?pointer=fine&imageNetHitId={other.key}&assignmentId=ASG2&hitId=H&workerId=AWORKER"
            "&turkSubmitTo=https%3A%2F%2Fwww.mturk.com"
        ).status_code
        == 303
    )
    # A turkSubmitTo that is not MTurk would make the completion form post elsewhere.
    evil = client.get(
        base.replace("https://workersandbox.mturk.com", "https://evil.example.org").replace("ASG1", "ASG3")
    )
    text = evil.get_data(as_text=True)
    assert evil.status_code == 400 and "does not send the work back to Amazon Mechanical Turk" in text
    assert "turkSubmitTo" not in text  # MTurk's parameter name means nothing to a worker


def test_a_worker_who_did_a_hit_is_turned_away_from_its_other_mturk_copy(app, client, batch):
    """More than 9 assignments make several MTurk HITs of one HIT: the same pages must not be done twice."""
    hit = batch.hits.first()
    query = f"/annotate?pointer=fine&imageNetHitId={hit.key}&workerId=W9&turkSubmitTo=https://workersandbox.mturk.com"
    client.get(f"{query}&assignmentId=ASG9&hitId=3PARTONE")
    assignment = Assignment.get()
    with app.app_context():
        token = assignment_token(assignment.id)
    for pageno in (1, 2):
        assert post_page(client, token, pageno, summary_for(hit, pageno)).status_code == 200
    again = client.get(f"{query}&assignmentId=ASG10&hitId=3PARTTWO")
    assert again.status_code == 409 and "another copy of this HIT" in again.get_data(as_text=True)
    assert client.get(f"{query}&assignmentId=ASG9&hitId=3PARTONE").status_code in (200, 303)  # its own copy still opens
    assert Assignment.get().mturk_assignment_id == "ASG9"


def test_mturk_completion_form_posts_the_assignment_to_turk_submit_to(app, client, batch):
    hit = batch.hits.first()
    client.get(
        f"/annotate?pointer=fine&imageNetHitId={hit.key}&assignmentId=ASG9&hitId=H9&workerId=W9"
        "&turkSubmitTo=https://workersandbox.mturk.com"
    )
    assignment = Assignment.get()
    with app.app_context():
        token = assignment_token(assignment.id)
    for pageno in (1, 2):
        assert post_page(client, token, pageno, summary_for(hit, pageno)).status_code == 200
    html = client.get(f"/annotate?token={token}").get_data(as_text=True)
    form = re.search(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', html, re.S)
    assert form.group(1) == "https://workersandbox.mturk.com/mturk/externalSubmit"
    assert 'name="assignmentId" value="ASG9"' in form.group(2)


def test_version_comes_from_the_link_and_is_limited_to_the_batch(app, client, org):
    batch = make_batch(app, org, hits=3, versions=["POINTER_NO_ORIGINAL", "NO_POINTER_ORIGINAL"])
    first, second, third = batch.hits.order_by(Hit.id)
    assert open_assignment(client, first, "W1", VERSION="NO_POINTER_ORIGINAL")[1].version == "NO_POINTER_ORIGINAL"
    assert open_assignment(client, second, "W1", version="pointer_no_original")[1].version == "POINTER_NO_ORIGINAL"
    refused = client.get(survey_url(third, "W1", version="POINTER_ORIGINAL"))
    assert refused.status_code == 400 and "POINTER_ORIGINAL" in refused.get_data(as_text=True)
    # Without a version the batch's versions take turns.
    chosen = {open_assignment(client, third, f"W{n}")[1].version for n in range(2, 4)}
    assert chosen == {"POINTER_NO_ORIGINAL", "NO_POINTER_ORIGINAL"}
    token, _ = open_assignment(client, third, "W2")
    html = client.get(f"/annotate?token={token}").get_data(as_text=True)
    assert 'class="task' in html


@pytest.mark.parametrize("token", ["nonsense", "MQ.tampered-signature", ""])
def test_tampered_or_foreign_token_gets_a_clear_403(client, batch, token):
    response = client.get(f"/annotate?token={token}")
    assert response.status_code == 403
    assert "This link is not valid" in response.get_data(as_text=True)


def test_token_from_another_deployment_is_refused(app, client, batch):
    open_assignment(client, batch.hits.first())
    app.config["SECRET_KEY"] = "another-deployment"
    with app.app_context():
        foreign = assignment_token(1)
    app.config["SECRET_KEY"] = "test-secret"
    assert client.get(f"/annotate?token={foreign}").status_code == 403


def test_unknown_hit_and_missing_worker_are_clear_errors(client, batch):
    hit = batch.hits.first()
    assert client.get("/annotate?pointer=fine&imageNetHitId=nope&workerId=W").status_code == 404
    assert (
        client.get(f"/annotate?pointer=fine&hitDatasetName=999&imageNetHitId={hit.key}&workerId=W").status_code == 404
    )
    missing = client.get(f"/annotate?pointer=fine&imageNetHitId={hit.key}")
    assert missing.status_code == 400 and "no worker id" in missing.get_data(as_text=True)


def test_submit_stores_once_resumes_and_completes(app, client, batch):
    hit = batch.hits.first()
    token, assignment = open_assignment(client, hit)
    summary = summary_for(hit, 1, chunks=3)
    first = post_page(client, token, 1, summary)
    assert first.status_code == 200 and 'data-pageno="2"' in first.get_data(as_text=True)
    assert "<html" not in first.get_data(as_text=True)  # an HTMX partial, not a full reload
    # Pressing Submit twice, or a retried request, stores the page once.
    assert post_page(client, token, 1, summary).status_code == 200
    assert PageSubmission.select().count() == 1 and ImageRecord.select().count() == 6
    stored = PageSubmission.get()
    # The review read model is derived with the page, once: no review request ever has to.
    tally = PageTally.get(PageTally.page == stored.id)
    assert (tally.images, tally.selected) == (6, sum(1 for r in summary["images"] if r["selected"]))
    assert Vote.select().where(Vote.assignment == assignment.id).count() == 6
    assert (stored.pageno, stored.started_at, stored.ended_at, stored.chunks_reported) == (
        1,
        summary["startedAt"],
        summary["endedAt"],
        3,
    )
    record = ImageRecord.get(ImageRecord.grid_index == 0)
    assert record.selected and record.selected_record == [{"x": 0.5, "y": 0.25, "time": 1_700_000_000_500}]
    assert (record.width, record.height, record.position_x, record.estimate_time) == (324, 243, 100, 400)
    # Coming back resumes at the first unsubmitted page.
    assert 'data-pageno="2"' in client.get(f"/annotate?token={token}").get_data(as_text=True)
    assert 'data-pageno="2"' in client.get(client.get(survey_url(hit)).headers["Location"]).get_data(as_text=True)
    done = post_page(client, token, 2, summary_for(hit, 2)).get_data(as_text=True)
    assignment = Assignment.get_by_id(assignment.id)
    with app.app_context():
        assert assignment.done and assignment.completion_code == completion_code(
            hit.key, assignment.worker_id, assignment.id
        )
    assert f'Your survey code is <span class="code" data-completion-code>{assignment.completion_code}' in done
    assert assignment.completion_code in client.get(f"/annotate?token={token}").get_data(as_text=True)
    # A late retry of a page after completion changes nothing.
    assert post_page(client, token, 2, summary_for(hit, 2)).status_code == 200
    assert PageSubmission.select().count() == 2


def test_concurrent_double_submit_stores_once(app, batch):
    hit = batch.hits.first()
    client = app.test_client()
    token, _ = open_assignment(client, hit)
    summary = summary_for(hit, 1)
    codes = []

    def press():
        codes.append(post_page(app.test_client(), token, 1, summary).status_code)

    threads = [threading.Thread(target=press) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes == [200] * 4
    assert PageSubmission.select().count() == 1 and ImageRecord.select().count() == 6


def test_plain_form_post_redirects_to_the_page(client, batch):
    hit = batch.hits.first()
    token, _ = open_assignment(client, hit)
    response = post_page(client, token, 1, summary_for(hit, 1), htmx=False)
    assert response.status_code == 303 and "token=" in response.headers["Location"]


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: s.pop("images"), "image list"),
        (lambda s: s["images"].pop(), "one record for every image"),
        (lambda s: s["images"][1].update(imageID="n01440764/other"), "wrong image"),
        (lambda s: s["images"][1].update(i=0, imageID=s["images"][0]["imageID"]), "one record for every image"),
        (lambda s: s["images"][0]["selectedRecord"][0].update(x=7), "selectedRecord x"),
        (lambda s: s["images"][0].update(hoveredRecord=[{"action": "jump", "time": 1}]), "hoveredRecord"),
        (lambda s: s["images"][0].update(estimateTime=-5), "estimateTime"),
        (lambda s: s["images"][0].update(loadStatus="replacement", imageID=s["images"][1]["imageID"]), "replacement"),
        (lambda s: s.update(endedAt=1), "ends before"),
    ],
)
def test_bad_summaries_are_refused_clearly(client, batch, change, message):
    hit = batch.hits.first()
    token, _ = open_assignment(client, hit)
    summary = summary_for(hit, 1)
    change(summary)
    response = post_page(client, token, 1, summary)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert PageSubmission.select().count() == 0


def test_pages_are_submitted_in_order_and_need_their_data(client, batch):
    hit = batch.hits.first()
    token, _ = open_assignment(client, hit)
    assert post_page(client, token, 2, summary_for(hit, 2)).status_code == 409
    no_summary = client.post("/annotate/submit", data={"token": token, "pageno": 1}, headers={"HX-Request": "true"})
    assert no_summary.status_code == 400
    assert client.post("/annotate/submit", data={"token": token, "pageno": "x", "summary": "{}"}).status_code == 400


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    junk=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "i",
                        "imageID",
                        "images",
                        "startedAt",
                        "endedAt",
                        "x",
                        "time",
                        "loadStatus",
                        "hoveredRecord",
                        "selectedRecord",
                        "imagePosition",
                        "chunks",
                    ]
                ),
                inner,
                max_size=5,
            )
        ),
        max_leaves=12,
    )
)
def test_hostile_summaries_never_cause_a_500(app, batch, junk):
    client = app.test_client()  # a new browser each example: it goes on with the assignment by its token
    hit = batch.hits.first()
    opened = Assignment.get_or_none(Assignment.hit == hit)
    if opened is None:
        token, _ = open_assignment(client, hit)
    else:
        with app.app_context():
            token = assignment_token(opened.id)
    response = post_page(client, token, 1, junk)
    assert response.status_code in (200, 400, 409)


def test_replaced_and_dropped_images_say_which(client, batch):
    hit = batch.hits.first()
    page = HitPage.get(HitPage.hit == hit, HitPage.pageno == 1)
    token, _ = open_assignment(client, hit)
    summary = summary_for(hit, 1)
    spare = Image.get_by_id(page.spare_image_ids[0])
    summary["images"][2].update(imageID=spare.key, loadStatus="replacement")
    summary["images"][3].update(
        loadStatus="dropped",
        imageWidth=None,
        imageHeight=None,
        imagePosition=None,
        originalImageWidth=None,
        originalImageHeight=None,
    )
    assert post_page(client, token, 1, summary).status_code == 200
    replaced = ImageRecord.get(ImageRecord.grid_index == 2)
    assert (replaced.image_id, replaced.load_status, replaced.replaces_id) == (
        spare.id,
        "replacement",
        page.image_ids[2],
    )
    dropped = ImageRecord.get(ImageRecord.grid_index == 3)
    assert (dropped.image_id, dropped.load_status, dropped.width) == (page.image_ids[3], "dropped", None)


def test_one_hit_per_worker(app, client, org):
    """The seed's rule: once a worker has finished a HIT of the batch, any other HIT is refused."""
    batch = make_batch(app, org, hits=3, one_hit_per_worker=True)
    first, second, third = batch.hits.order_by(Hit.id)
    open_assignment(client, third)  # started, never finished: does not count
    token, assignment = open_assignment(client, first)
    for pageno in (1, 2):
        post_page(client, token, pageno, summary_for(first, pageno))
    code = Assignment.get_by_id(assignment.id).completion_code
    # The same HIT again: the same completion code.
    again = client.get(client.get(survey_url(first)).headers["Location"]).get_data(as_text=True)
    assert code in again
    for other in (second, third):
        refused = client.get(survey_url(other))
        assert refused.status_code == 403
        assert "We do not accept more than 1 HIT per worker" in refused.get_data(as_text=True)
    assert Assignment.select().count() == 2
    # Another worker may still take the second HIT; without the rule, so may the first worker.
    assert client.get(survey_url(second, "W2")).status_code == 303
    batch.one_hit_per_worker = False
    batch.save()
    assert client.get(survey_url(second)).status_code == 303


def test_lab_link_asks_for_a_name_then_hands_out_hits(app, client, org):
    batch = make_batch(app, org, hits=2, assignments_per_hit=1)
    link = LabLink.create(organization=org, batch=batch, label="Lab round 1")
    form = client.get(f"/lab/{link.token}").get_data(as_text=True)
    assert "Lab round 1" in form and 'name="workerId"' in form and f'value="{link.token}"' in form
    first = client.get(f"/annotate?pointer=fine&lab={link.token}&workerId=alice")
    assert first.status_code == 303
    alice = Assignment.get()
    assert (alice.source, alice.lab_link_id, alice.lab_name) == ("lab", link.id, "alice")
    assert alice.worker_id != "alice"  # the anonymised id stays the identity; the name is shown beside it
    # Alice again: her unfinished HIT, not a new one (a token of its own: its expiry may fall a second later).
    again = client.get(f"/annotate?pointer=fine&lab={link.token}&workerId=alice").headers["Location"]
    with app.app_context():
        assert assignment_from_token(parse_qs(urlsplit(again).query)["token"][0]).id == alice.id
    assert Assignment.select().count() == 1
    # Bob gets the next HIT that still needs an assignment.
    client.get(f"/annotate?pointer=fine&lab={link.token}&workerId=bob")
    bob = Assignment.get(Assignment.id != alice.id)
    assert bob.hit_id != alice.hit_id
    full = client.get(f"/annotate?pointer=fine&lab={link.token}&workerId=carol")
    assert full.status_code == 404 and "all the annotators it needs" in full.get_data(as_text=True)
    assert client.get(f"/annotate?pointer=fine&lab={link.token}&workerId=").status_code == 400
    link.revoked_at = utcnow()
    link.save()
    assert client.get(f"/lab/{link.token}").status_code == 404
    assert client.get(f"/annotate?pointer=fine&lab={link.token}&workerId=dave").status_code == 404


def test_lab_worker_who_finished_gets_the_next_hit(app, client, org):
    batch = make_batch(app, org, hits=2)
    link = LabLink.create(organization=org, batch=batch)
    location = client.get(f"/annotate?pointer=fine&lab={link.token}&workerId=alice").headers["Location"]
    token = parse_qs(urlsplit(location).query)["token"][0]
    first = Assignment.get()
    for pageno in (1, 2):
        post_page(client, token, pageno, summary_for(first.hit, pageno))
    # Reopening the link shows the finished HIT, with the offer of another; only that offer starts one.
    again = client.get(f"/annotate?pointer=fine&lab={link.token}&workerId=alice")
    # (its token is signed anew, with the time: compare where it leads, not its text)
    assert urlsplit(again.headers["Location"]).path == urlsplit(location).path and Assignment.select().count() == 1
    done = client.get(again.headers["Location"]).get_data(as_text=True)
    assert "You have finished this HIT" in done and "AWS MTurk" not in done and 'name="another"' in done
    assert 'name="workerId" value="alice"' in done
    client.get(f"/annotate?pointer=fine&lab={link.token}&workerId=alice&another=1")
    second = Assignment.get(Assignment.id != first.id)
    assert second.hit_id != first.hit_id and second.lab_name == "alice"


def test_worker_routes_need_no_csrf_or_session(app, batch):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client(use_cookies=False)
    hit = batch.hits.first()
    token, _ = open_assignment(client, hit)
    assert post_page(client, token, 1, summary_for(hit, 1)).status_code == 200
    with database.atomic():
        assert PageSubmission.select().count() == 1


def test_a_long_page_summary_is_stored(client, batch):
    """Hours on one page make a summary larger than Flask's default 500 KB form field cap."""
    hit = batch.hits.first()
    token, _ = open_assignment(client, hit)
    with client.application.app_context():
        summary = as_the_page_sends(token, 1, summary_for(hit, 1))
    hovers = [{"action": a, "time": 1_700_000_000_000 + n} for n in range(3000) for a in ("enter", "leave")]
    for image in summary["images"]:
        image.update(hoveredRecord=hovers, hoveredCount=3000)
    assert len(json.dumps(summary)) > 600_000
    # Multipart, where Flask applies its 500 KB cap on a form field (HTMX sends urlencoded, capped only by ours).
    response = client.post(
        "/annotate/submit",
        data={"token": token, "pageno": 1, "summary": json.dumps(summary)},
        headers={"HX-Request": "true"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert ImageRecord.get(ImageRecord.grid_index == 5).hovered_count == 3000
    too_big = client.post("/annotate/submit", data={"token": token, "pageno": 2, "summary": "x" * (5 * 1024 * 1024)})
    assert too_big.status_code == 413
