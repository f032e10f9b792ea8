"""Each worker's MTurk work that does not count, kept per batch (batch_worker.waiting, .rejected: migration 0033) beside
their counted work, so the workers lists and the Workers CSV show every worker who did work in a batch: the kept
counts equal a recount from the assignments after each state change MTurk and the requester make (confirmed,
approved, rejected, a rejection overridden, deleted), and after a random sequence of them, on SQLite and
PostgreSQL; 0033 backfills them."""

from __future__ import annotations

import csv
import io
import random
import re

import pytest
from factories import make_campaign, submit_page
from playhouse.migrate import SchemaMigrator
from playhouse.migrations import Migration
from support import HTMX

from freelunch.db import database
from freelunch.models import Assignment, BatchWorker, Hit, HitPage
from freelunch.services import jobs
from freelunch.services.exports import writers
from freelunch.services.review import counted
from freelunch.services.schema import MIGRATIONS

STATUSES = (None, "Submitted", "Approved", "Rejected", "Returned")


def _recount() -> dict:
    """(batch, worker) -> (counted assignments, done, waiting, rejected), from the assignments themselves."""
    out: dict = {}
    for a in Assignment.select(Assignment, Hit).join(Hit):
        state = counted.state(a)
        n, done, waiting, rejected = out.get((a.hit.batch_id, a.worker_id), (0, 0, 0, 0))
        out[(a.hit.batch_id, a.worker_id)] = (
            n + (state == "counts"),
            done + (state == "counts" and a.done),
            waiting + (state == "waiting"),
            rejected + (state == "rejected"),
        )
    return {k: v for k, v in out.items() if any(v)}


def _kept() -> dict:
    rows = BatchWorker.select().order_by(BatchWorker.batch, BatchWorker.worker_id)
    kept = {(w.batch_id, w.worker_id): (w.assignments, w.done, w.waiting, w.rejected) for w in rows}
    return {k: v for k, v in kept.items() if any(v)}


def _mturk(campaign, hit: Hit, worker: str, status: str | None = None, page: bool = True) -> Assignment:
    """An MTurk assignment of ``worker`` on ``hit`` with its first page submitted (votes, tally, control answers)."""
    a = Assignment.create(
        organization=campaign.batch.organization_id,
        hit=hit,
        worker_id=worker,
        source="mturk",
        version="POINTER_ORIGINAL",
        mturk_assignment_id=f"A{worker}H{hit.id}",
        done=True,
        mturk_status=status,
    )
    if page:
        first = HitPage.get(HitPage.hit == hit, HitPage.pageno == 1)
        submit_page(a, first, set(first.image_ids[:2]), 2 * 10**12)
    return a


def _status(a: Assignment, status: str | None) -> None:
    """As reconcile (services/mturk/tracking.py) and a decision (services/mturk/decisions.py) write MTurk's word."""
    Assignment.update(mturk_status=status).where(Assignment.id == a.id).execute()


def _row(batch, worker: str) -> tuple:
    return _kept().get((batch.id, worker), (0, 0, 0, 0))


def test_each_state_change_moves_the_work_between_waiting_counted_and_rejected(app, campaign):
    batch = campaign.batch
    first, second = campaign.hits
    with app.app_context():
        a = _mturk(campaign, first, "M1")  # submitted here, not yet confirmed by MTurk
        assert _row(batch, "M1") == (0, 0, 1, 0) and _kept() == _recount()
        _status(a, "Submitted")  # reconcile: MTurk lists it submitted, so its votes count
        assert _row(batch, "M1") == (1, 1, 0, 0) and _kept() == _recount()
        _status(a, "Approved")
        assert _row(batch, "M1") == (1, 1, 0, 0) and _kept() == _recount()
        _status(a, "Rejected")
        assert _row(batch, "M1") == (0, 0, 0, 1) and _kept() == _recount()
        _status(a, "Approved")  # the rejection overridden
        assert _row(batch, "M1") == (1, 1, 0, 0) and _kept() == _recount()

        b = _mturk(campaign, second, "M1")  # a second assignment, rejected straight from waiting
        assert _row(batch, "M1") == (1, 1, 1, 0)
        _status(b, "Rejected")
        assert _row(batch, "M1") == (1, 1, 0, 1) and _kept() == _recount()
        a.delete_instance(recursive=False)  # deleted: its pages go by cascade
        assert _row(batch, "M1") == (0, 0, 0, 1) and _kept() == _recount()
        Assignment.delete().where(Assignment.id == b.id).execute()
        assert _row(batch, "M1") == (0, 0, 0, 0) and _kept() == _recount()
        assert "M1" not in [w.worker_id for w in _query(batch.id)]  # a row of zeros may stay, out of the lists

        # A HIT deleted with a waiting and a rejected assignment on it, and a counted one.
        _mturk(campaign, second, "M2")
        _status(_mturk(campaign, second, "M3"), "Rejected")
        assert _row(batch, "M2") == (0, 0, 1, 0) and _row(batch, "M3") == (0, 0, 0, 1)
        Hit.delete().where(Hit.id == second.id).execute()
        assert _kept() == _recount() and _row(batch, "M2") == _row(batch, "M3") == (0, 0, 0, 0)


def _query(batch_id: int) -> list:
    from freelunch.services.review import quality

    return list(quality.batch_workers_query(batch_id))


def test_kept_waiting_and_rejected_equal_a_recount_after_a_random_sequence_of_changes(app, campaign):
    """Inserts, MTurk's word (one assignment or many in one statement), done set, workers changed, deletions of
    assignments and of a HIT, in two batches: after each step the kept rows equal a recount."""
    rng = random.Random(33)
    org = campaign.batch.organization_id
    with app.app_context():
        other = make_campaign(org, "Second batch")
        hits = [*campaign.hits, *other.hits]
        workers = [f"M{n}" for n in range(6)]
        made, seen = 0, set()
        for step in range(120):
            live = list(Assignment.select())
            action = rng.choice(("insert",) * 3 + ("status",) * 3 + ("many", "done", "worker", "source", "delete"))
            if action == "insert" or not live:
                hit = rng.choice(hits)
                worker = f"N{made}" if rng.random() < 0.3 else rng.choice(workers)
                if Assignment.select().where(Assignment.hit == hit, Assignment.worker_id == worker).exists():
                    continue
                made += 1
                _mturk(campaign, hit, worker, rng.choice(STATUSES), page=rng.random() < 0.5)
            elif action == "status":
                _status(rng.choice(live), rng.choice(STATUSES))
            elif action == "many":  # one statement over several rows (PostgreSQL's statement triggers)
                chosen = [a.id for a in rng.sample(live, min(len(live), rng.randint(2, 5)))]
                Assignment.update(mturk_status=rng.choice(STATUSES)).where(Assignment.id.in_(chosen)).execute()
            elif action == "done":
                Assignment.update(done=rng.random() < 0.5).where(Assignment.id == rng.choice(live).id).execute()
            elif action == "worker":
                a = rng.choice(live)
                worker = rng.choice(workers)
                if not Assignment.select().where(Assignment.hit == a.hit_id, Assignment.worker_id == worker).exists():
                    Assignment.update(worker_id=worker).where(Assignment.id == a.id).execute()
            elif action == "source":
                a = rng.choice(live)
                Assignment.update(source="lab" if a.source == "mturk" else "mturk").where(
                    Assignment.id == a.id
                ).execute()
            else:
                chosen = [a.id for a in rng.sample(live, min(len(live), rng.randint(1, 3)))]
                Assignment.delete().where(Assignment.id.in_(chosen)).execute()
            assert _kept() == _recount(), (step, action)
            seen |= {counted.state(a) for a in Assignment.select()}
        assert seen == {"counts", "waiting", "rejected"}
        Hit.delete().where(Hit.id == other.hits[0].id).execute()
        assert _kept() == _recount()


def test_migration_0033_backfills_waiting_and_rejected_and_goes_back(app, campaign):
    """0033 on a database with MTurk work in every state: its counts are the recount's, a worker whose only work does
    not count gets a row; down() and up() again leave the triggers working."""
    migration = next(m for m in Migration.load_directory(str(MIGRATIONS)) if m.name.startswith("0033_")).load()
    migrator = SchemaMigrator.from_database(database.obj)
    batch = campaign.batch
    first, second = campaign.hits
    with app.app_context():
        migration.down(migrator, database.obj)
        assert "waiting" not in {c.name for c in database.get_columns("batch_worker")}
        # Written under 0030's triggers alone: nothing keeps waiting and rejected.
        _mturk(campaign, first, "M1")
        _mturk(campaign, second, "M1", "Rejected")
        _mturk(campaign, first, "M2", "Rejected")
        _mturk(campaign, second, "M3", "Submitted")
        Assignment.update(source="mturk", mturk_status="Rejected").where(
            Assignment.id == campaign.assignments["h1w3"].id
        ).execute()
        migration.up(migrator, database.obj)
        assert _kept() == _recount()
        assert _row(batch, "M1") == (0, 0, 1, 1) and _row(batch, "M2") == (0, 0, 0, 1)
        assert _row(batch, "W3CCCCCCCC") == (1, 0, 0, 1)  # h2w3 (not done) counts, h1w3 rejected
        _status(Assignment.get(Assignment.worker_id == "M1", Assignment.hit == first.id), "Submitted")
        Hit.delete().where(Hit.id == second.id).execute()
        assert _kept() == _recount()


# --- the readers: the Workers tab, the organization's workers list, the Workers CSV ---------------------------------


def _text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)).split())


@pytest.fixture
def waiting_and_rejected(app, campaign):
    """The campaign with an MTurk worker whose only work waits for MTurk (MWAITING, two assignments) and one whose only
    work MTurk rejected (MREJECTED)."""
    with app.app_context():
        _mturk(campaign, campaign.hits[0], "MWAITING")
        _mturk(campaign, campaign.hits[1], "MWAITING", page=False)
        _mturk(campaign, campaign.hits[1], "MREJECTED", "Rejected")
        _mturk(campaign, campaign.hits[1], "=1+1", page=False)  # spreadsheet formula: neutralised in the CSV
    return campaign


def _rows(html: str) -> dict[str, list[str]]:
    """The workers table's rows: worker -> its cells' text."""
    out = {}
    for row in re.findall(r"<tr>(.*?)</tr>", html, re.S):
        cells = [" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        if cells:
            out[cells[0].split()[0]] = cells
    return out


def test_the_workers_lists_show_a_worker_whose_only_work_waits_or_was_rejected(client, waiting_and_rejected):
    batch = waiting_and_rejected.batch
    for url in (f"/review/batches/{batch.id}/workers", "/review/workers"):
        html = client.get(url).get_data(as_text=True)
        rows = _rows(html)
        assert set(rows) == {"MWAITING", "MREJECTED", "=1+1", "W1AAAAAAAA", "W2BBBBBBBB", "W3CCCCCCCC"}, url
        headers = re.findall(r"<th[^>]*>(.*?)</th>", html, re.S)
        names = [" ".join(re.sub(r"<[^>]+>", " ", h).split()) for h in headers]
        waiting, rejected = names.index("Waiting for MTurk"), names.index("Rejected")
        assert rows["MWAITING"][waiting] == "2" and rows["MWAITING"][rejected] == "—"
        assert rows["MREJECTED"][rejected] == "1" and rows["MREJECTED"][waiting] == "—"
        assert rows["W1AAAAAAAA"][waiting] == rows["W1AAAAAAAA"][rejected] == "—"
        assert rows["MWAITING"][1] == "0 /0 done"  # nothing of theirs counts yet
        shown = _text(client.get(url))
        assert "3 MTurk assignments waiting for MTurk to confirm them" in shown and "1 rejected assignment" in shown
        assert "mturk_status" not in shown and "batch_worker" not in shown

    # Sorted by the new columns, and paged as before.
    html = client.get(f"/review/batches/{batch.id}/workers?sort=-rejected").get_data(as_text=True)
    assert list(_rows(html))[0] == "MREJECTED"
    html = client.get("/review/workers?sort=-waiting").get_data(as_text=True)
    assert list(_rows(html))[0] == "MWAITING"
    html = client.get(f"/review/batches/{batch.id}/workers?sort=waiting").get_data(as_text=True)
    assert list(_rows(html))[-1] == "MWAITING"


def test_the_workers_list_pages_every_worker(app, client, campaign):
    with app.app_context():
        for n in range(52):
            _mturk(campaign, campaign.hits[n % 2], f"M{n:03d}", ("Rejected", None)[n % 2], page=False)
    url = f"/review/batches/{campaign.batch.id}/workers"
    first, second = (
        _rows(client.get(url).get_data(as_text=True)),
        _rows(client.get(f"{url}?page=2").get_data(as_text=True)),
    )
    assert len(first) == 50 and len(second) == 5 and not set(first) & set(second)


def test_the_workers_csv_holds_a_worker_whose_only_work_waits_or_was_rejected(app, waiting_and_rejected):
    out = io.StringIO()
    with app.app_context():
        written = writers.write_workers_csv(waiting_and_rejected.batch, out, {}, lambda *a, **k: None)
    rows = {r["worker_id"]: r for r in csv.DictReader(io.StringIO(out.getvalue()))}
    assert written == 6 and set(rows) == {"MWAITING", "MREJECTED", "'=1+1", "W1AAAAAAAA", "W2BBBBBBBB", "W3CCCCCCCC"}
    assert (rows["MWAITING"]["assignments"], rows["MWAITING"]["assignments_waiting"]) == ("0", "2")
    assert (rows["MREJECTED"]["assignments_rejected"], rows["MREJECTED"]["assignments_waiting"]) == ("1", "0")
    assert rows["MREJECTED"]["pages"] == "0"  # a rejected page's figures do not count
    assert rows["W3CCCCCCCC"]["assignments"] == "2" and rows["W3CCCCCCCC"]["assignments_rejected"] == "0"


def test_the_workers_tab_reloads_when_a_job_changes_its_figures(app, client, waiting_and_rejected):
    """The list reloads itself when a job that changes the work that counts (MTurk's reconciliation, decisions) or the
    label model ends, and follows such a job another page started until it ends."""
    batch = waiting_and_rejected.batch
    tab = f"/review/batches/{batch.id}/workers"
    html = client.get(tab).get_data(as_text=True)
    assert 'id="worker-list"' in html and "assignments-changed from:body" in html and "labels-changed from:body" in html
    assert "every 1s" not in html
    with app.app_context():
        jobs.enqueue(
            jobs.MTURK_DECIDE,
            batch.id,
            batch.organization_id,
            organization_id=batch.organization_id,
            scope=jobs.batch_scope(batch.id),
            title="Reject 1 MTurk assignment",
        )
    html = client.get(tab).get_data(as_text=True)
    assert 'data-testid="workers-following"' in html and "Reject 1 MTurk assignment" in html
    reloaded = client.get(tab, headers={**HTMX, "HX-Target": "worker-list"}).get_data(as_text=True)
    assert reloaded.startswith('<div id="worker-list"') or 'id="worker-list"' in reloaded.split(">")[0]
    assert "MWAITING" in reloaded


def test_another_organizations_batch_workers_are_a_404(client, make_account, app, waiting_and_rejected):
    _, other = make_account("other@example.org", "Other lab")
    with app.app_context():
        theirs = make_campaign(other, "Theirs")
    assert client.get(f"/review/batches/{theirs.batch.id}/workers").status_code == 404
    assert "MWAITING" in client.get("/review/workers").get_data(as_text=True)
