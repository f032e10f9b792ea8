"""A HIT's places (services/annotation/places.py) and who may go on with an assignment (issues 18 and 19).

One MTurk AssignmentId is one place whatever workerIds come with it; an idle assignment frees its place;
MTurk and lab links have places of their own; only the browser that started an assignment, or its own
MTurk AssignmentId, goes on with it.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
from factories import make_batch, published_on_mturk, summary_for
from support import open_assignment, post_page, survey_url

from freelunch.config import ConfigError, load
from freelunch.models import Assignment, Hit, LabLink, PageSubmission, PointerChunk, utcnow
from freelunch.services.accounts.identity import anonymous_worker_id

SANDBOX = "https://workersandbox.mturk.com"


@pytest.fixture
def hit(app, org):
    return make_batch(app, org, hits=1, assignments_per_hit=3).hits.get()


def mturk_url(hit, worker, assignment, mturk_hit="3MTURKHIT"):
    return (
        f"/annotate?pointer=fine&imageNetHitId={hit.key}&workerId={worker}&assignmentId={assignment}"
        f"&hitId={mturk_hit}&turkSubmitTo={SANDBOX}"
    )


def opens(app, url) -> int:
    """The status of opening ``url`` from a browser of its own (no cookie from any other open)."""
    return app.test_client().get(url).status_code


def assignment_of(app, hit, worker) -> Assignment:
    with app.app_context():
        return Assignment.get(
            Assignment.hit == hit, Assignment.worker_id == anonymous_worker_id(hit.organization_id, worker)
        )


# --- one MTurk AssignmentId, one place ---------------------------------------------


def test_twelve_workers_on_one_mturk_assignment_take_one_place(app, hit):
    shared = [opens(app, mturk_url(hit, f"AFAKE{n:02d}", "3SHAREDASSIGNMENT")) for n in range(12)]
    assert shared == [303] * 12, "MTurk hands a returned assignment on: each may open it, as the same place"
    assert [opens(app, mturk_url(hit, f"AREAL{n}", f"3REALASSIGNMENT{n}")) for n in range(3)] == [303, 303, 409]
    assert Assignment.select().where(Assignment.mturk_assignment_id.startswith("3REAL")).count() == 2


def test_an_mturk_assignment_id_belongs_to_one_hit(app, org):
    batch = make_batch(app, org, hits=2, assignments_per_hit=3)
    first, second = batch.hits.order_by(Hit.id)
    assert opens(app, mturk_url(first, "AWORKERONE", "3ASSIGNMENTX")) == 303
    response = app.test_client().get(mturk_url(second, "AWORKERTWO", "3ASSIGNMENTX"))
    assert response.status_code == 409 and "belongs to another HIT" in response.get_data(as_text=True)
    assert not Assignment.select().where(Assignment.hit == second).exists()


# --- idle assignments ----------------------------------------------------------------


def _backdate(assignment, minutes):
    started = assignment.started_at - dt.timedelta(minutes=minutes)
    Assignment.update(started_at=started).where(Assignment.id == assignment.id).execute()


def test_an_idle_assignment_frees_its_place_after_the_idle_time(app, client, hit):
    app.config["PLACE_IDLE_MINUTES"] = 10
    (_, idle), (paging_token, paging), (_, pointing) = [open_assignment(client, hit, f"W{n}") for n in range(3)]
    assert opens(app, survey_url(hit, "ANEWCOMER")) == 409
    for assignment in (idle, paging, pointing):
        _backdate(assignment, 11)  # opened 11 minutes ago, well within the hour the HIT allows
    assert post_page(client, paging_token, 1, summary_for(hit, 1)).status_code == 200  # active: a page now
    now_ms = int(time.time() * 1000)
    PointerChunk.create(assignment=pointing, pageno=1, seq=0, n_events=1, events="[]", received_at=now_ms)
    assert opens(app, survey_url(hit, "ANEWCOMER")) == 303, "the idle one's place is free"
    assert opens(app, survey_url(hit, "ALATECOMER")) == 409, "the active ones keep theirs"
    assert client.get(survey_url(hit, "W0")).status_code == 409, "the idle worker lost the place to the newcomer"


def test_the_idle_time_is_configurable(app, client, hit):
    assert load({"PLACE_IDLE_MINUTES": "3", "SECRET_KEY": "x"})["PLACE_IDLE_MINUTES"] == 3
    assert load({"SECRET_KEY": "x"})["PLACE_IDLE_MINUTES"] == 10
    for wrong in ("0", "ten", "-5"):
        with pytest.raises(ConfigError, match="PLACE_IDLE_MINUTES must be a whole number"):
            load({"PLACE_IDLE_MINUTES": wrong, "SECRET_KEY": "x"})
    app.config["PLACE_IDLE_MINUTES"] = 30
    assignments = [open_assignment(client, hit, f"W{n}")[1] for n in range(3)]
    for assignment in assignments:
        _backdate(assignment, 11)
    assert opens(app, survey_url(hit, "ANEWCOMER")) == 409, "11 minutes is not idle under a 30-minute setting"


def test_made_up_mturk_assignments_are_freed_when_idle(app, hit):
    for n in range(3):
        assert opens(app, mturk_url(hit, f"AFAKE{n}", f"3MADEUP{n}")) == 303
    assert opens(app, mturk_url(hit, "AREALWORKER", "3REALONE")) == 409
    for assignment in Assignment.select():
        _backdate(assignment, 11)
    assert opens(app, mturk_url(hit, "AREALWORKER", "3REALONE")) == 303


def test_made_up_mturk_assignments_that_finish_hold_no_place_unless_mturk_confirms_them(app, hit):
    """Made-up AssignmentIds that submit every page would otherwise fill the HIT for good: every worker MTurk
    sends would get 409. MTurk never sends more than MaxAssignments, so freeing them lets no extra work in."""
    tokens = {}
    for n in range(3):
        client = app.test_client()
        opened = client.get(mturk_url(hit, f"AFAKE{n}", f"3MADEUP{n}"))
        tokens[n] = opened.headers["Location"].split("token=")[1]
        for pageno in (1, 2):
            assert post_page(client, tokens[n], pageno, summary_for(hit, pageno)).status_code == 200
    assert all(a.done for a in Assignment.select())
    assert opens(app, mturk_url(hit, "AREAL1", "3REAL1")) == 409, "just finished: MTurk may not have said yet"
    ago = utcnow() - dt.timedelta(minutes=11)
    Assignment.update(started_at=ago - dt.timedelta(minutes=30), completed_at=ago).execute()
    PageSubmission.update(submitted_at=ago).execute()
    Assignment.update(mturk_status="Submitted").where(Assignment.mturk_assignment_id == "3MADEUP0").execute()
    assert [opens(app, mturk_url(hit, f"AREAL{n}", f"3REAL{n}")) for n in (1, 2, 3)] == [303, 303, 409]
    fake = app.test_client().get(f"/annotate?token={tokens[1]}")
    assert fake.status_code == 200, "a finished assignment's page (and code) still opens by its token"


# --- MTurk and lab links: places of their own ---------------------------------------------


def test_lab_links_and_mturk_keep_their_own_places(app, hit):
    link = LabLink.create(organization=hit.organization_id, batch=hit.batch_id)
    assert opens(app, f"/annotate?pointer=fine&lab={link.token}&workerId=Ada") == 303
    mturk = [opens(app, mturk_url(hit, f"AMTURK{n}", f"3ASSIGNMENT{n}")) for n in range(4)]
    assert mturk == [303, 303, 303, 409], "a lab annotator takes none of the places MTurk sold"
    lab = [opens(app, f"/annotate?pointer=fine&lab={link.token}&workerId=Annotator {n}") for n in range(3)]
    assert lab == [303, 303, 404], "nor the MTurk workers any of the lab links'"
    assert opens(app, survey_url(hit, "ASURVEYWORKER")) == 409, "survey links share the lab links' places"


def test_the_lab_links_tab_says_lab_annotators_come_on_top_of_mturk(client, hit):
    requester, note = client, "data-places-note>"  # (the org fixture logged its owner in)
    tab = requester.get(f"/batches/{hit.batch_id}/links").get_data(as_text=True)
    assert "Lab links have places of their own" in tab and "live on MTurk" not in tab
    published_on_mturk(hit)
    tab = requester.get(f"/batches/{hit.batch_id}/links").get_data(as_text=True)
    said = tab.split(note, 1)[1].split("</p>", 1)[0]
    assert "This batch is live on MTurk" in said and "up to 3 lab annotators" in said
    assert "never takes a place an MTurk worker accepted" in " ".join(said.split())


def test_a_hit_on_mturk_opens_from_mturk_and_lab_links_only(app, hit):
    """Its HIT key is in every MTurk preview's URL: a survey or plain link with a made-up workerId would
    otherwise store votes that count at once, never confirmed by MTurk (issue 18.2)."""
    published_on_mturk(hit)
    for url in (survey_url(hit, "AINVENTED1"), f"/annotate?pointer=fine&imageNetHitId={hit.key}&workerId=AINVENTED2"):
        response = app.test_client().get(url)
        assert response.status_code == 403 and "accept it there" in response.get_data(as_text=True)
    assert Assignment.select().count() == 0
    link = LabLink.create(organization=hit.organization_id, batch=hit.batch_id)
    assert opens(app, f"/annotate?pointer=fine&lab={link.token}&workerId=Ada") == 303, "the requester's lab link"
    assert opens(app, mturk_url(hit, "AWORKER", "3ASSIGNMENT")) == 303


# --- no takeover with a WorkerId --------------------------------------------------------


def test_a_workers_hit_cannot_be_taken_over_with_their_worker_id(app, hit):
    victim = app.test_client()
    assert victim.get(mturk_url(hit, "AVICTIM", "3VICTIMSASSIGNMENT")).status_code == 303
    attacker = app.test_client()
    for url in (mturk_url(hit, "AVICTIM", "3ATTACKERSASSIGNMENT"), survey_url(hit, "AVICTIM")):
        response = attacker.get(url)
        assert response.status_code == 409 and "in progress in another browser" in response.get_data(as_text=True)
    assert assignment_of(app, hit, "AVICTIM").mturk_assignment_id == "3VICTIMSASSIGNMENT"
    assert victim.get(mturk_url(hit, "AVICTIM", "3VICTIMSASSIGNMENT")).status_code == 303, "the victim goes on"
    frame = app.test_client()  # MTurk's frame with third-party cookies blocked: the AssignmentId carries the worker
    assert frame.get(mturk_url(hit, "AVICTIM", "3VICTIMSASSIGNMENT")).status_code == 303
    returned = victim.get(mturk_url(hit, "AVICTIM", "3SECONDASSIGNMENT"))
    assert returned.status_code == 409 and "which you returned" in returned.get_data(as_text=True)
    assert assignment_of(app, hit, "AVICTIM").mturk_assignment_id == "3VICTIMSASSIGNMENT", "never rewritten"


def test_an_empty_abandoned_mturk_assignment_gives_way_to_the_next_assignment_id(app, client, hit):
    """Someone opened the HIT with the victim's WorkerId ahead of them and left: once it is idle, the victim's
    own AssignmentId gets the HIT; an assignment with a page stored is never replaced."""
    assert opens(app, mturk_url(hit, "AVICTIM", "3SQUATTERS")) == 303
    assert opens(app, mturk_url(hit, "AVICTIM", "3VICTIMS")) == 409, "not while it may still be someone's"
    _backdate(assignment_of(app, hit, "AVICTIM"), 11)
    victim = app.test_client()
    assert victim.get(mturk_url(hit, "AVICTIM", "3VICTIMS")).status_code == 303
    assert [a.mturk_assignment_id for a in Assignment.select()] == ["3VICTIMS"]

    token, worker = open_assignment(client, hit, "AWORKER2")
    assert post_page(client, token, 1, summary_for(hit, 1)).status_code == 200
    Assignment.update(source="mturk", mturk_assignment_id="3WORKED").where(Assignment.id == worker.id).execute()
    _backdate(worker, 11)
    PageSubmission.update(submitted_at=utcnow() - dt.timedelta(minutes=11)).execute()
    assert opens(app, mturk_url(hit, "AWORKER2", "3OTHER")) == 409
    assert Assignment.get_by_id(worker.id).mturk_assignment_id == "3WORKED"


def test_a_finished_survey_hit_shows_its_code_only_in_its_own_browser(app, client, hit):
    token, assignment = open_assignment(client, hit, "A1WORKER")
    for pageno in (1, 2):
        assert post_page(client, token, pageno, summary_for(hit, pageno)).status_code == 200
    code = Assignment.get_by_id(assignment.id).completion_code
    assert code in client.get(survey_url(hit, "A1WORKER"), follow_redirects=True).get_data(as_text=True)
    stranger = app.test_client().get(survey_url(hit, "A1WORKER"), follow_redirects=True)
    assert stranger.status_code == 409 and code not in stranger.get_data(as_text=True)


@pytest.mark.parametrize(
    "public_url, attributes",
    [
        ("https://freelunch.example.org", ["Secure", "SameSite=None", "HttpOnly", "Path=/annotate"]),
        ("http://localhost", ["SameSite=Lax", "HttpOnly", "Path=/annotate"]),
    ],
)
def test_the_browser_cookie_reaches_mturks_frame_over_https(app, client, hit, public_url, attributes):
    app.config["PUBLIC_URL"] = public_url
    response = client.get(survey_url(hit, "A1WORKER"))
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("freelunch_a"))
    assert all(attribute in cookie.split("; ") for attribute in attributes), cookie
    assert ("Secure" in cookie.split("; ")) == public_url.startswith("https")


# --- phones hold no place ------------------------------------------------------------------


def test_a_new_assignment_waits_for_the_browser_to_say_it_has_a_mouse(app, client, hit):
    link = LabLink.create(organization=hit.organization_id, batch=hit.batch_id)
    unchecked = [
        survey_url(hit, "A1WORKER", pointer="unknown"),
        f"/annotate?lab={link.token}&workerId=Ada",
        f"/annotate?imageNetHitId={hit.key}&workerId=AWORKER&assignmentId=3ASG&hitId=3HIT&turkSubmitTo={SANDBOX}",
    ]
    for url in unchecked:
        response = client.get(url)
        html = response.get_data(as_text=True)
        assert response.status_code == 200 and "data-device-check" in html and "device-check.js" in html
        assert "needs a mouse or a trackpad" in html
    assert "please return the HIT on MTurk" in " ".join(html.split()), "an MTurk worker is told to return the HIT"
    assert not Assignment.select().exists()
    assert client.get(survey_url(hit, "A1WORKER")).status_code == 303  # pointer=fine: the device said yes
