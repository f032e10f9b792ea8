"""When a background job ends, every panel it changed reloads itself: one mechanism, pinned here.

Each Task names the panels it changes (services/jobs.PANELS), a finished job's progress partial sends
"<panel>-changed" (web/job_events.finished_events), and each panel that shows such data listens for it and reloads
itself from its own URL (templates/_panels.html). The browser side: tests/browser/test_job_panels_browser.py.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from html import unescape
from html.parser import HTMLParser

import pytest
from factories import make_campaign, make_dataset, mturk_assignment, published_on_mturk
from support import HTMX, builder_data

from freelunch.models import Batch, Export
from freelunch.queues import redis_connection
from freelunch.services import jobs
from freelunch.services.mturk import tracking


# Jobs no page watches (cron's, the ingest flush, thumbnails) keep their results briefly: nobody comes back for them.
# A watched job keeps its result for the page (RESULT_TTL), and jobs.enqueue refuses one that names no panels.
def watched(task: jobs.Task) -> bool:
    return task.result_ttl >= jobs.RESULT_TTL


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def tasks() -> list[jobs.Task]:
    return [t for t in vars(jobs).values() if isinstance(t, jobs.Task)]


# Where a page's elements hear the events of jobs: the body, or (the batch's status line, which reads what it would
# hear from its own poll's announcements itself) the tab, where the cards of the page's own jobs are.
HEARD_FROM = ("from:body", "from:#batch-tab")


class Listeners(HTMLParser):
    """Each text of a page with the element around it (innermost first) that reloads on an event of a job."""

    def __init__(self):
        super().__init__()
        self.stack: list[tuple[str, dict]] = []
        self.texts: list[tuple[str, list[dict]]] = []
        self.panels: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "data-panel" in attrs:
            self.panels.append(attrs)
        if tag not in VOID:
            self.stack.append((tag, attrs))

    def handle_endtag(self, tag):
        while self.stack and self.stack.pop()[0] != tag:
            pass

    def handle_data(self, data):
        if data.strip():
            around = [a for _, a in reversed(self.stack) if any(f in (a.get("hx-trigger") or "") for f in HEARD_FROM)]
            self.texts.append((" ".join(data.split()), around))

    def around(self, text: str) -> list[dict]:
        for seen, around in self.texts:
            if text in seen:
                return around
        raise AssertionError(f"{text!r} is not on the page")


def listens(element: dict, task: jobs.Task) -> bool:
    trigger = element.get("hx-trigger", "")
    return any(f"job-finished {f}" in trigger for f in HEARD_FROM) or any(
        f"{p}-changed from:body" in trigger for p in task.changes
    )


def test_every_watched_task_names_the_panels_its_end_changes(app):
    for task in tasks():
        if not watched(task):
            assert not task.changes, task.path
        else:
            assert task.changes and set(task.changes) <= set(jobs.PANELS), task.path
    with app.app_context(), pytest.raises(ValueError, match="must name the panels"):
        jobs.enqueue(jobs.MTURK_SYNC_LIVE, organization_id=1, scope="batch:1", title="Reconcile")


def test_a_finished_job_tells_the_page_which_panels_it_changed(app, client, org, run_jobs):
    dataset = make_dataset(org, classes=("n01",), candidates=40)
    client.post("/batches/", data=builder_data(client, dataset, pages_per_hit=2, images_per_page=12))
    batch = Batch.get()
    with app.app_context():
        (job,) = jobs.recent(org.id, jobs.batch_scope(batch.id))
    running = client.get(f"/jobs/{job.id}", headers=HTMX)
    assert "HX-Trigger" not in running.headers and "in the queue" in running.get_data(as_text=True)
    run_jobs()
    finished = client.get(f"/jobs/{job.id}", headers=HTMX)
    events = json.loads(finished.headers["HX-Trigger"])
    assert events == {"job-finished": {"id": job.id, "changes": ["hits"]}, "hits-changed": {"id": job.id}}
    assert "hx-trigger" not in finished.get_data(as_text=True)  # a finished job stops polling

    listed = client.get(f"/jobs/?scope=batch:{batch.id}", headers=HTMX).get_data(as_text=True)
    assert 'class="activity"' in listed and "2 pages" not in listed and "Build HITs of Round 1" in listed
    assert client.get("/jobs/?scope=batch:1;x", headers=HTMX).status_code == 404


# What each job changes, and where the page shows it: (page, a text of it, a job that changes it).
SHOWN = [
    ("/batches/{batch}", "2 HITs", jobs.BUILD_BATCH),  # the status line
    ("/batches/{batch}", "pages ×", jobs.BUILD_BATCH),  # the shape
    ("/batches/{batch}", "Progress", jobs.MTURK_SYNC),
    ("/batches/{batch}/hits", "Assignments (done / started)", jobs.BUILD_BATCH),
    ("/batches/{batch}/hits", "Assignments (done / started)", jobs.MTURK_PUBLISH),
    ("/batches/{batch}/mturk", "published ·", jobs.MTURK_PUBLISH),
    ("/batches/{batch}/mturk", "Whole batch", jobs.MTURK_EXTEND),
    ("/batches/{batch}/mturk", "Settings", jobs.MTURK_PUBLISH),  # locked once published
    ("/batches/{batch}/mturk/review", "last reconciliation", jobs.MTURK_SYNC),
    ("/batches/{batch}/mturk/review", "Ready for review", jobs.MTURK_DECIDE),
    ("/batches/{batch}/mturk/review", "Ready for review", jobs.MTURK_AUTO_REVIEW),
    ("/review/batches/{batch}/assignments", "W1AAAAAAAA", jobs.MTURK_DECIDE),
    ("/review/batches/{batch}/workers", "W1AAAAAAAA", jobs.MTURK_SYNC),  # work confirmed, waiting or rejected
    ("/review/batches/{batch}/workers", "W1AAAAAAAA", jobs.MTURK_DECIDE),
    ("/review/batches/{batch}/workers", "W1AAAAAAAA", jobs.FIT_LABELS),  # the label model's estimates
    ("/review/workers", "W1AAAAAAAA", jobs.MTURK_SYNC),  # the organization's Workers: any batch's jobs
    ("/review/workers", "W1AAAAAAAA", jobs.MTURK_DECIDE),
    ("/review/workers", "W1AAAAAAAA", jobs.FIT_LABELS),
    ("/review/batches/{batch}/results", "Decision", jobs.FIT_LABELS),
    ("/review/batches/{batch}/results", "No label model fitted yet", jobs.FIT_LABELS),  # the label model panel
    ("/review/batches/{batch}/results", "No label model fitted yet", jobs.MTURK_DECIDE),  # a fit goes stale
    ("/review/batches/{batch}/results", "Labels of record", jobs.MTURK_SYNC),
    ("/review/batches/{batch}/exports", "Download all finished exports", jobs.RUN_EXPORT),
    ("/review/batches/{batch}/exports", "7 rows", jobs.FIT_LABELS),  # a finished export's out-of-date mark
    ("/review/batches/{batch}/exports", "7 rows", jobs.MTURK_DECIDE),
    ("/datasets/{dataset}", "classes ·", jobs.IMPORT_CLASSES),
    ("/datasets/{dataset}", "images", jobs.IMPORT_IMAGES),
    ("/datasets/{dataset}", "Definition", jobs.IMPORT_PRESET),
]


def test_every_panel_that_shows_what_a_job_changes_reloads_itself_when_that_job_ends(client, org):
    campaign = make_campaign(org)
    Export.create(organization=org, batch=campaign.batch, kind="workers-csv", state="done", rows=7)
    ids = {"batch": campaign.batch.id, "dataset": campaign.batch.dataset_id}
    parsed: dict[str, Listeners] = {}
    for url in {page for page, _, _ in SHOWN}:
        response = client.get(url.format(**ids))
        assert response.status_code == 200, url
        parsed[url] = Listeners()
        parsed[url].feed(response.get_data(as_text=True))

    for url, text, task in SHOWN:
        assert any(listens(element, task) for element in parsed[url].around(text)), (url, text, task.path)

    panels = [panel for page in parsed.values() for panel in page.panels]
    assert {name for panel in panels for name in panel["data-panel"].split()} == set(jobs.PANELS)
    for panel in panels:  # each reloads from its own URL, which answers with the panel
        names = panel["data-panel"].split()
        assert panel["hx-trigger"].startswith(", ".join(f"{name}-changed from:body" for name in names))
        assert panel["hx-select"] == f"#{panel['id']}" and panel["hx-disinherit"] == "*"
        answer = client.get(panel["hx-get"], headers={**HTMX, "HX-Target": panel["id"]})
        assert answer.status_code == 200 and f'id="{panel["id"]}"' in answer.get_data(as_text=True), panel


# An MTurk assignment's own page: what the jobs queued from it change there (a decision, a bonus, a block or a
# message to the worker) reloads when they end, as on the batch's pages.
ON_THE_ASSIGNMENT = [
    ("Status on MTurk", jobs.MTURK_DECIDE),
    ("Decisions", jobs.MTURK_DECIDE),
    ("Bonuses", jobs.MTURK_BONUS_ONE),
    ("The worker", jobs.MTURK_BLOCK),
    ("The worker", jobs.MTURK_NOTIFY),
    ("Status on MTurk", jobs.MTURK_SYNC),
]


def test_an_mturk_assignments_page_reloads_what_its_jobs_change(client, org):
    campaign = make_campaign(org)
    row = mturk_assignment(org, campaign.hits[0], "Submitted")
    response = client.get(f"/mturk/assignments/{row.id}")
    assert response.status_code == 200
    page = Listeners()
    page.feed(response.get_data(as_text=True))
    for text, task in ON_THE_ASSIGNMENT:
        assert any(listens(element, task) for element in page.around(text)), (text, task.path)
    for panel in page.panels:
        answer = client.get(panel["hx-get"], headers={**HTMX, "HX-Target": panel["id"]})
        assert answer.status_code == 200 and f'id="{panel["id"]}"' in answer.get_data(as_text=True), panel


# Jobs nobody on the page started: cron's reconciliation has no progress card on any page, so it announces what it
# changed. A batch page hears it through its status line's poll, which carries the latest announcement number it has
# heard (batches/_status.html); the organization's Workers, which has no status line, polls for announcements
# (jobs/_announced.html). Either answer sends the events a finished job's card sends, and the poll's next number.
def announced_poll(html: str, scope: str) -> str:
    found = re.search(rf'data-announced="{scope}"\s+hx-get="([^"]+)"[^>]*hx-trigger="every 5s"', html)
    assert found, f"no announcement poll for {scope}"
    return unescape(found.group(1))


def status_poll(html: str) -> str:
    found = re.search(
        r'id="batch-status"[^>]*hx-get="([^"]+)"\s+hx-trigger="every 5s, job-finished from:#batch-tab"', html
    )
    assert found, "no status poll"
    return unescape(found.group(1))


def next_poll(url: str, answer: str) -> str:
    """The poll's URL in its answer (its own element, swapped in), which says the number it has heard now."""
    if url.startswith("/batches/"):
        return status_poll(answer)
    return announced_poll(answer, url.split("scope=")[1].split("&")[0])


LISTED_AT = dt.datetime.now(dt.UTC).replace(microsecond=0)


def listed_on_mturk(hit_id: str, status: str) -> tuple[dict, dict]:
    """ListAssignmentsForHIT's answer (and the parameters it expects) for one assignment of ``hit_id``."""
    now = LISTED_AT
    assignment = {
        "AssignmentId": "3CRONASSIGNMENT",
        "WorkerId": "AWCRONWORKER1",
        "HITId": hit_id,
        "AssignmentStatus": status,
        "AcceptTime": now - dt.timedelta(minutes=20),
        "SubmitTime": now - dt.timedelta(minutes=10),
        "AutoApprovalTime": now + dt.timedelta(days=3),
        "Answer": "",
    }
    expected = {"HITId": hit_id, "MaxResults": 100, "AssignmentStatuses": ["Submitted", "Approved", "Rejected"]}
    return {"NumResults": 1, "Assignments": [assignment]}, expected


def test_the_cron_reconciliation_tells_the_open_pages_of_the_batch_it_changed(
    app, client, org, run_jobs, stubbed, monkeypatch
):
    mturk, stubber = stubbed
    monkeypatch.setattr(tracking, "client_for", lambda batch: mturk)
    campaign = make_campaign(org)
    published_on_mturk(campaign.hits[0], mturk_hit_id="3CRONHIT")
    batch_page = client.get(f"/batches/{campaign.batch.id}/mturk/review").get_data(as_text=True)
    workers_page = client.get("/review/workers").get_data(as_text=True)
    polls = [status_poll(batch_page), announced_poll(workers_page, f"organization:{org.id}")]
    assert "data-announced=" not in batch_page  # the status poll is the batch page's only one
    for url in polls:
        assert "HX-Trigger" not in client.get(url, headers=HTMX).headers  # nothing announced yet

    def cron_reconciles(status: str) -> None:  # as rq cron queues it (workers/cron.py), run by a real RQ worker
        stubber.add_response("list_assignments_for_hit", *listed_on_mturk("3CRONHIT", status))
        with app.app_context():
            jobs.enqueue_unwatched(jobs.MTURK_SYNC_LIVE, connection=redis_connection())
        run_jobs()

    cron_reconciles("Submitted")  # a new assignment on MTurk
    later = []
    for url in polls:
        answer = client.get(url, headers=HTMX)
        events = json.loads(answer.headers["HX-Trigger"])
        assert set(events) == {"job-finished", "mturk-changed", "assignments-changed"}, url
        assert events["job-finished"]["changes"] == ["mturk", "assignments"]
        later.append(next_poll(url, answer.get_data(as_text=True)))
        assert "HX-Trigger" not in client.get(later[-1], headers=HTMX).headers  # heard once, not again

    cron_reconciles("Submitted")  # MTurk lists the same: nothing changed, nothing announced
    assert all("HX-Trigger" not in client.get(url, headers=HTMX).headers for url in later)
    cron_reconciles("Approved")  # MTurk approved it meanwhile
    assert all("assignments-changed" in client.get(url, headers=HTMX).headers.get("HX-Trigger", "") for url in later)
    assert client.get("/jobs/announced?scope=batch:1&since=x", headers=HTMX).status_code == 404
    bad = client.get(f"/batches/{campaign.batch.id}/status?announced=x", headers=HTMX)
    assert bad.status_code == 400 and "announced is the number of the latest announcement" in bad.get_data(as_text=True)


def test_the_organizations_workers_page_follows_a_job_of_any_batch_to_its_end(app, client, org, run_jobs):
    from freelunch.services.review import fits

    campaign = make_campaign(org)
    with app.app_context():
        fits.start(campaign.batch, "mv", 0.9, 0.5)  # a label fit, as started on the batch's Results tab
    page = client.get("/review/workers").get_data(as_text=True)
    (job_id,) = re.findall(r'data-testid="workers-following".*?id="job-([0-9a-f-]+)"', page, re.S)
    assert "W1AAAAAAAA" in page
    run_jobs()
    events = json.loads(client.get(f"/jobs/{job_id}", headers=HTMX).headers["HX-Trigger"])
    assert "labels-changed" in events  # on which the list reloads (SHOWN above)
    assert 'data-testid="workers-following"' not in client.get("/review/workers").get_data(as_text=True)


def test_the_periodic_derivation_tells_the_open_pages_of_each_batch_whose_pages_it_derived(app, client, org, run_jobs):
    """The review: pages stored without their tallies (a bulk load) are derived by cron's job every five minutes,
    which changes the votes that count and the workers' figures (Results, Workers, and the Exports tab's out-of-date
    marks), yet no page heard of it: it had no card and announced nothing. It announces, to the batches it derived
    pages of, and only when it derived some."""
    from freelunch.models import PageTally, Vote

    campaign = make_campaign(org)
    other = make_campaign(org, "Other batch")
    batches = (campaign.batch, other.batch)
    pages = [client.get(f"/review/batches/{b.id}/exports").get_data(as_text=True) for b in batches]
    polls = [status_poll(page) for page in pages]
    with app.app_context():
        PageTally.delete().where(PageTally.batch == campaign.batch.id).execute()  # as a bulk load leaves them
        Vote.delete().where(Vote.batch == campaign.batch.id).execute()

    def cron_derives() -> None:  # as rq cron queues it (workers/cron.py)
        with app.app_context():
            jobs.enqueue_unwatched(jobs.DERIVE_MISSING_TALLIES, connection=redis_connection())
        run_jobs()

    cron_derives()
    answer = client.get(polls[0], headers=HTMX)
    events = json.loads(answer.headers["HX-Trigger"])
    assert {"labels-changed", "assignments-changed"} <= set(events)
    assert "HX-Trigger" not in client.get(polls[1], headers=HTMX).headers  # nothing of the other batch derived
    later = status_poll(answer.get_data(as_text=True))
    cron_derives()  # nothing left to derive: nothing announced
    assert "HX-Trigger" not in client.get(later, headers=HTMX).headers
