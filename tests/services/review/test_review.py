"""Progress, assignments, workers and page replay of a batch (tests/helpers/factories.py describes the campaign)."""

import datetime as dt
import json
import re

from factories import make_campaign
from support import login

from freelunch.models import Assignment, Candidate, LabLink, Membership, PageTally, Vote
from freelunch.services.accounts.users import create_user
from freelunch.services.review import fits, labels, progress, quality, replay, tallies
from freelunch.web import batch_tabs

HTMX = {"HX-Request": "true"}


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def test_progress_counts_hits_assignments_pages_and_byproducts(app, campaign):
    with app.app_context():
        p = batch_tabs.batch_progress(campaign.batch)
    assert (p.hits, p.hits_started, p.hits_done) == (2, 2, 1)
    assert (p.assignments_target, p.assignments_started, p.assignments_done, p.assignments_open) == (4, 4, 3, 1)
    assert (p.pages_target, p.pages.pages) == (8, 7)
    # every page stored all its pointer batches but W1's first: 2 of 3
    assert (p.pages.chunks_received, p.pages.chunks_reported) == (8, 9)
    assert sum(bar.pages for bar in p.throughput.bars) == 7
    assert p.throughput.seconds == 60 and len(p.throughput.bars) == 7  # one page a minute


def test_work_left_unfinished_is_not_in_progress(app, client, campaign):
    """Of the assignments started and not done, those being worked on are in progress; one returned or left idle
    past PLACE_IDLE_MINUTES, or out of the assignment's time, stopped (annotation/places.working): said so."""
    app.config["PLACE_IDLE_MINUTES"] = 10
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    hit1, hit2 = campaign.hits
    Assignment.update(started_at=now - dt.timedelta(minutes=3)).where(
        Assignment.id == campaign.assignments["h2w3"].id
    ).execute()  # opened 3 minutes ago: in progress
    for worker, hit, minutes in (("IDLE000001", hit1, 25), ("LATE000001", hit2, 90)):  # idle 25 min; past the hour
        Assignment.create(
            organization=campaign.batch.organization_id,
            hit=hit,
            worker_id=worker,
            source="mturk",
            mturk_assignment_id=f"A{worker}",
            version="POINTER_ORIGINAL",
            started_at=now - dt.timedelta(minutes=minutes),
        )
    for url in (f"/review/batches/{campaign.batch.id}/progress", f"/batches/{campaign.batch.id}"):
        shown = text(client.get(url, headers=HTMX if "review" in url else {}))
        assert (
            '3<small>/4</small></span> assignments done <small class="muted" data-testid="assignments-open">1 in'
            " progress · 2 stopped unfinished (returned, out of time or idle 10 min: their places are open to other"
            " workers)</small>" in shown
        ), url
    with app.app_context():
        p = batch_tabs.batch_progress(campaign.batch)
    assert (p.assignments_started, p.assignments_done, p.assignments_working, p.assignments_stopped) == (6, 3, 1, 2)


def test_lab_work_on_a_hit_that_is_on_mturk_is_extra_and_never_completes_it(app, client, campaign):
    # HIT 1 goes on MTurk after its two lab annotators finished: MTurk still offers both its places, so the HIT is
    # not done and its lab work is counted apart (lab links have places of their own on top, annotation/places.py).
    hit1, hit2 = campaign.hits
    hit1.mturk_hit_id = "3HITONMTURK"
    hit1.save()
    # Without a lab link the work is read as before (plain links cannot open a HIT that is on MTurk), on every page.
    status = text(client.get(f"/batches/{campaign.batch.id}/status", headers=HTMX))
    assert "3/4 assignments" in status and "through lab links" not in status and "7/8 pages" in status
    assert "lab links on top" not in text(client.get(f"/batches/{campaign.batch.id}/hits"))
    assert "7/8 pages" in text(client.get("/"))
    LabLink.create(organization=campaign.batch.organization_id, batch=campaign.batch)  # how lab annotators came
    with app.app_context():
        p = batch_tabs.batch_progress(campaign.batch)
    assert (p.hits_done, p.assignments_done, p.assignments_extra, p.assignments_open) == (0, 1, 2, 1)
    assert (p.pages_target, p.pages_done, p.pages_extra, p.percent) == (8, 3, 4, 38)
    assert p.phase == "annotating"
    status = text(client.get(f"/batches/{campaign.batch.id}/status", headers=HTMX))
    assert "1/4 assignments + 2 through lab links" in status and "3/8 pages" in status
    hits = text(client.get(f"/batches/{campaign.batch.id}/hits"))
    assert "0 / 2 of 2 <small" in hits and "(2 done through lab links on top)" in hits
    assert "3/8 pages" in text(client.get("/"))  # the home page's line agrees

    # Two MTurk workers finish HIT 1 and the last lab annotator HIT 2: now it is complete, everywhere.
    for n in (1, 2):
        Assignment.create(
            organization=campaign.batch.organization_id,
            hit=hit1,
            worker_id=f"MTURKW{n}XXXX",
            source="mturk",
            mturk_assignment_id=f"3ASSIGNMENT{n}",
            version="POINTER_ORIGINAL",
            done=True,
        )
    Assignment.update(done=True).where(Assignment.id == campaign.assignments["h2w3"].id).execute()
    with app.app_context():
        p = batch_tabs.batch_progress(campaign.batch)
        assert progress.phases([campaign.batch]) == {campaign.batch.id: "complete"}
    assert (p.hits_done, p.assignments_done, p.assignments_extra, p.phase) == (2, 4, 2, "complete")
    for url in ("/batches/", "/"):
        assert "complete" in text(client.get(url))


def test_progress_rides_the_status_poll_and_serves_a_partial_to_htmx(client, campaign):
    url = f"/review/batches/{campaign.batch.id}/progress"
    assert client.get(url).headers["Location"] == f"/batches/{campaign.batch.id}"  # the Overview tab shows it
    page = text(client.get(f"/batches/{campaign.batch.id}"))
    panel = re.search(r'<section id="batch-progress"[^>]*>\s*<input[^>]*>', page).group(0)
    assert "<html" in page and "hx-trigger" not in panel and 'name="progress_shown"' in panel  # no poll of its own
    status = text(client.get(f"/batches/{campaign.batch.id}/status?progress_shown=1", headers=HTMX))
    assert '<section id="batch-progress" class="progress-panel" hx-swap-oob="true">' in status
    assert "7<small>/8</small></span> pages submitted" in status
    assert 'id="batch-progress"' not in text(client.get(f"/batches/{campaign.batch.id}/status", headers=HTMX))
    partial = text(client.get(url, headers=HTMX))
    assert "<html" not in partial and 'id="batch-progress"' in partial
    assert "7<small>/8</small></span> pages submitted" in partial
    assert "89%" in partial and "8/9" in partial  # byproducts received
    assert partial.count("<rect") == 7  # one throughput bar per minute with a page


def test_empty_batch_progress_says_so(app, client, make_account):
    _, org = make_account("owner@example.org", "Lab")
    from freelunch.models import Batch, Dataset

    with app.app_context():
        batch = Batch.create(organization=org, dataset=Dataset.create(organization=org, name="D"), name="Empty")
    login(client, "owner@example.org")
    assert "No pages submitted yet" in text(client.get(f"/batches/{batch.id}"))


def test_assignment_figures(app, campaign):
    a = campaign.assignments
    with app.app_context():
        tallies.refresh(tallies.in_batch(campaign.batch.id))
        found = quality.figures(Assignment.id, Assignment.id.in_([x.id for x in a.values()]))
    w1, w3, w3b = found[a["h1w1"].id], found[a["h1w3"].id], found[a["h2w3"].id]
    assert (w1.pages, w1.images, w1.selected, w1.seconds_per_page) == (2, 8, 4, 4.0)
    assert (w1.positive.n, w1.positive.correct, w1.negative.n, w1.negative.correct) == (2, 2, 2, 2)
    assert (w3.positive.correct, w3.negative.correct, w3.controls.accuracy) == (0, 0, 0.0)
    assert (w1.chunks_received, w1.chunks_reported, round(w1.completeness, 3)) == (3, 4, 0.75)
    assert (w3b.pages, w3b.controls.n) == (1, 2)
    assert w1.estimate_histogram == [0, 0, 8, 0, 0, 0, 0]  # every image 500 ms: the (250, 500] bucket


def test_assignments_page_lists_figures_and_filters_by_worker(client, campaign):
    url = f"/review/batches/{campaign.batch.id}/assignments"
    page = text(client.get(url))
    for worker in ("W1AAAAAAAA", "W2BBBBBBBB", "W3CCCCCCCC"):
        assert worker in page
    assert "C0FFEE" in page and "75%" in page and "4.0 s" in page
    only = text(client.get(url + "?worker=w3cccccccc", headers=HTMX))
    assert "W3CCCCCCCC" in only and "W1AAAAAAAA" not in only and "<html" not in only


def test_assignment_page_lists_each_page_with_a_replay_link(client, campaign):
    a = campaign.assignments["h2w3"]
    page = text(client.get(f"/review/assignments/{a.id}"))
    assert f"/review/assignments/{a.id}/pages/1" in page
    assert f"/review/assignments/{a.id}/pages/2" not in page and "not submitted" in page


def test_replay_draws_paths_clicks_and_hovers(app, client, campaign):
    a = campaign.assignments["h1w1"]
    with app.app_context():
        r = replay.replay(campaign.pages["h1w1a"])
    first = r.cells[0]
    assert [m[:2] for m in first.moves] == [(0.1, 0.2), (0.4, 0.5)]
    assert first.hovers == [(10, 900)]
    assert first.clicks == [(0.5, 0.5, 500, True)]  # a1 was selected
    assert r.cells[3].clicks == [] and r.duration == 4000 and r.chunks == 2
    page = text(client.get(f"/review/assignments/{a.id}/pages/1"))
    assert 'points="24.0,36.0 96.0,90.0"' in page  # (0.1, 0.2) and (0.4, 0.5) of a 240×180 image
    assert page.count('class="click on"') == 2 and 'id="replay-data"' in page and "replay.js" in page
    assert page.count('class="badge positive" title="positive control"') == 1


def test_replay_of_a_page_not_submitted_is_404(client, campaign):
    a = campaign.assignments["h2w3"]
    assert client.get(f"/review/assignments/{a.id}/pages/2").status_code == 404


def test_replay_falls_back_to_the_summary_clicks_when_chunks_are_missing(app, campaign):
    from freelunch.models import PointerChunk

    page = campaign.pages["h1w1b"]
    with app.app_context():
        PointerChunk.delete().where(PointerChunk.assignment == page.assignment_id, PointerChunk.pageno == 2).execute()
        r = replay.replay(page)
    assert r.chunks == 0 and r.cells[0].moves == []
    assert r.cells[0].clicks == [(0.5, 0.5, 500, True)]


def test_workers_of_batch_and_organization(client, campaign):
    page = text(client.get(f"/review/batches/{campaign.batch.id}/workers"))
    row = re.search(r"W3CCCCCCCC.*?</tr>", page).group(0)
    assert '1<small class="muted">/2 done' in row and "0%" in row and "1.0 s" in row
    assert 'aria-label="Hover time distribution: 0 0, ≤250 ms 0, ≤500 ms 12' in row
    org = text(client.get("/review/workers"))
    assert all(w in org for w in ("W1AAAAAAAA", "W2BBBBBBBB", "W3CCCCCCCC"))


def test_workers_table_is_paginated(app, client, campaign):
    with app.app_context():
        for n in range(55):
            Assignment.create(
                organization=campaign.batch.organization_id,
                hit=campaign.hits[0],
                worker_id=f"X{n:09d}",
                source="lab",
                version="POINTER_ORIGINAL",
            )
    first = text(client.get(f"/review/batches/{campaign.batch.id}/workers"))
    assert "Page 1 of 2" in first and "W3CCCCCCCC" in first and "X000000046" in first and "X000000047" not in first
    second = text(client.get(f"/review/batches/{campaign.batch.id}/workers?page=2"))
    assert "X000000047" in second and "X000000054" in second and "W1AAAAAAAA" not in second


def _stored_without_tallies():
    """Pages as a bulk load (or a version before submit-time tallies) left them: no votes, no tallies."""
    PageTally.delete().execute()
    Vote.delete().execute()


def test_tallies_are_derived_once_and_refresh_is_idempotent(app, campaign):
    scope = tallies.in_batch(campaign.batch.id)
    with app.app_context():
        assert tallies.refresh(scope) == 0  # the campaign's pages were tallied as they were stored
        _stored_without_tallies()
        assert tallies.refresh(scope) == 7
        votes = sorted(Vote.select(Vote.assignment, Vote.image, Vote.selected).tuples())
        assert tallies.refresh(scope) == 0
        tallies._add_votes([p.id for p in campaign.pages.values()])  # a second request doing the same work
        tallies._add_tallies([p.id for p in campaign.pages.values()])
        assert sorted(Vote.select(Vote.assignment, Vote.image, Vote.selected).tuples()) == votes
        assert PageTally.select().count() == 7 and len(votes) == 7 * 4


def test_review_reads_derive_nothing_and_the_periodic_job_derives_what_is_missing(app, campaign, run_jobs):
    """Readers only read (a request never derives a batch's read model); pages stored without their tallies
    are derived by the fit job and by the periodic job (workers/cron.py), not by a page view."""
    from freelunch.services import jobs

    a = campaign.assignments["h1w1"]
    with app.app_context():
        _stored_without_tallies()
        assert sum(f.images for f in quality.page_figures(a).values()) == 0
        assert quality.figures(Assignment.id, Assignment.id == a.id)[a.id].images == 0
        assert labels.summary(campaign.batch, labels.default_rule(campaign.batch)).total == 0
        assert PageTally.select().count() == 0 and Vote.select().count() == 0
        jobs.queue(jobs.DERIVE_MISSING_TALLIES.queue).enqueue(jobs.DERIVE_MISSING_TALLIES.path)
    run_jobs()
    with app.app_context():
        assert PageTally.select().count() == 7
        w1 = quality.figures(Assignment.id, Assignment.id == a.id)[a.id]
        assert (w1.pages, w1.images, w1.selected, w1.positive.correct) == (2, 8, 4, 2)
        assert labels.summary(campaign.batch, labels.default_rule(campaign.batch)).total == 12
        assert len(fits.load_votes([campaign.batch.id]).worker_ids) == 3


def test_control_roles_are_read_live(app, campaign):
    """Correcting a control's role after pages were tallied changes the accuracy at once."""
    a = campaign.assignments["h1w1"]
    with app.app_context():
        tallies.refresh(tallies.in_batch(campaign.batch.id))
        before = quality.figures(Assignment.id, Assignment.id == a.id)[a.id]
        Candidate.update(role="candidate").where(Candidate.image == campaign.images["ap"]).execute()
        after = quality.figures(Assignment.id, Assignment.id == a.id)[a.id]
    assert (before.positive.n, after.positive.n) == (2, 1)


def test_viewer_reads_review_pages(app, client, campaign):
    viewer = create_user("viewer@example.org", "password123")
    with app.app_context():
        Membership.create(user=viewer, organization=campaign.batch.organization_id, role="viewer")
    client.post("/logout", data={})
    login(client, "viewer@example.org")
    b = campaign.batch.id
    a = campaign.assignments["h1w1"].id
    for url in (
        f"/batches/{b}",
        f"/review/batches/{b}/assignments",
        f"/review/assignments/{a}",
        f"/review/assignments/{a}/pages/1",
        f"/review/batches/{b}/workers",
        "/review/workers",
        f"/review/batches/{b}/results",
        f"/review/batches/{b}/exports",
    ):
        assert client.get(url).status_code == 200, url


def test_batch_page_shows_the_live_progress_and_links_every_tab(client, campaign):
    page = text(client.get(f"/batches/{campaign.batch.id}"))
    assert 'id="batch-progress"' in page and "7<small>/8</small></span> pages submitted" in page
    assert (
        f"/review/batches/{campaign.batch.id}/results" in page
        and f"/review/batches/{campaign.batch.id}/exports" in page
    )


def test_organization_workers_page_shows_only_its_own_workers(app, client, campaign, make_account):
    _, other = make_account("other@example.org", "Other lab")
    with app.app_context():
        make_campaign(other, "Theirs")
        from peewee import fn

        Assignment.update(worker_id=fn.REPLACE(Assignment.worker_id, "W", "T")).where(
            Assignment.organization == other
        ).execute()
    page = text(client.get("/review/workers"))
    assert "W1AAAAAAAA" in page and "T1AAAAAAAA" not in page
    assert 'href="/review/workers"' in page  # in the top navigation


def test_replay_keeps_deselecting_clicks_and_keys_and_ignores_events_of_unknown_places(app, campaign):
    from freelunch.models import PointerChunk

    page = campaign.pages["h1w3b"]
    start = page.started_at
    with app.app_context():
        PointerChunk.create(
            assignment=page.assignment_id,
            pageno=2,
            seq=1,
            n_events=4,
            received_at=start,
            events=json.dumps(
                [
                    {"type": "click", "i": 2, "x": 0.3, "y": 0.3, "time": start + 2100, "selected": True},
                    {"type": "click", "i": 2, "x": 0.6, "y": 0.6, "time": start + 2200, "selected": False},
                    {"type": "key", "i": 3, "time": start + 3100, "selected": True},
                    {"type": "move", "i": 99, "x": 0.5, "y": 0.5, "time": start + 100},
                ]
            ),
        )
        r = replay.replay(page)
    assert r.cells[2].clicks == [(0.3, 0.3, 2100, True), (0.6, 0.6, 2200, False)]
    assert r.cells[3].clicks == [(None, None, 3100, True)]
    assert sum(len(c.moves) for c in r.cells) == 8  # 2 per image; the move at place 99 is dropped
    assert json.loads(r.data())["cells"][2]["clicks"][1] == [0.6, 0.6, 2200, False]
