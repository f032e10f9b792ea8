"""Each HIT's assignments started and done, a batch's HITs published, started and done and its assignments whose votes
do not count or wait, and each worker's counted assignments, control answers and pages in a batch (0030), with their
pages per bucket of time per image (0031): kept by the database, equal to a recount after every writer (the annotation
page, derive, bulk loads, reconcile's status changes, publishing, control roles changed, deletions and their
cascades)."""

from __future__ import annotations

import random
import re

from factories import make_batch, make_campaign, summary_for, worked_for
from peewee import Case, fn
from playhouse.migrate import SchemaMigrator
from playhouse.migrations import Migration
from support import open_assignment, post_page

from freelunch.db import database
from freelunch.models import (
    Assignment,
    AssignmentControls,
    Batch,
    BatchCount,
    BatchWorker,
    BatchWorkerTime,
    Candidate,
    Hit,
    HitCount,
    ImageRecord,
    PageSubmission,
    PageTally,
    PointerChunk,
)
from freelunch.services.datasets import deletion
from freelunch.services.review import counted, quality, tallies
from freelunch.services.schema import MIGRATIONS

# What a worker's pages add up to, as page_tally holds it (pages: one a tally).
TALLY_SUMS = (
    "pages",
    "page_ms",
    "chunks_reported",
    "chunks_received",
    "images",
    "selected",
    "estimate_zero",
    "estimate_250",
    "estimate_500",
    "estimate_1000",
    "estimate_2000",
    "estimate_4000",
    "estimate_over",
)


def _bucket(page_ms: int, images: int) -> int:
    """Migration 0031's bucket of a page's time per image: 0 below 1 ms, else 32 steps a power of two of ms."""
    x = page_ms / images
    if x < 1:
        return 0
    octave = sum(x >= 2**j for j in range(1, 31))
    return 1 + 32 * octave + min(31, int((x / 2**octave - 1) * 32))


def _recount() -> tuple[dict, dict, dict, dict]:
    """(per HIT, per batch, per (batch, worker), per (batch, worker, bucket of time per image)), from the assignments,
    HITs, control answers and page tallies themselves. A worker's row: their counted assignments' figures, then their
    assignments waiting for MTurk and rejected (0033)."""
    hits: dict[int, tuple[int, int]] = {}
    workers: dict[tuple[int, str], list[int]] = {}
    times: dict[tuple[int, str, int], int] = {}
    batches: dict[int, list[int]] = {b.id: [0, 0, 0, 0, 0, 0] for b in Batch.select()}
    controls = {c.assignment_id: c for c in AssignmentControls.select()}
    tallied: dict[int, list[int]] = {}
    buckets: dict[int, list[int]] = {}
    for t in PageTally.select():
        if t.images:
            buckets.setdefault(t.assignment_id, []).append(_bucket(t.page_ms, t.images))
        sums = tallied.setdefault(t.assignment_id, [0] * len(TALLY_SUMS))
        for i, column in enumerate(TALLY_SUMS):
            sums[i] += 1 if column == "pages" else getattr(t, column)
    for a in Assignment.select(Assignment, Hit).join(Hit):
        assert a.batch_id == a.hit.batch_id  # set by the database from the HIT
        n, done = hits.get(a.hit_id, (0, 0))
        hits[a.hit_id] = (n + 1, done + a.done)
        state = counted.state(a)
        batches[a.hit.batch_id][3] += state != "counts"
        batches[a.hit.batch_id][4] += state == "waiting"
        batches[a.hit.batch_id][5] += a.source == "mturk"
        row = workers.setdefault((a.hit.batch_id, a.worker_id), [0] * (8 + len(TALLY_SUMS)))
        row[-2] += state == "waiting"
        row[-1] += state == "rejected"
        if state == "counts":
            c = controls.get(a.id)
            answers = (c.positive, c.positive_selected, c.negative, c.negative_selected) if c else (0, 0, 0, 0)
            for i, value in enumerate((1, int(a.done), *answers, *tallied.get(a.id, [0] * len(TALLY_SUMS)))):
                row[i] += value
            for b in buckets.get(a.id, []):
                key = (a.hit.batch_id, a.worker_id, b)
                times[key] = times.get(key, 0) + 1
    per_hit = {b.id: b.assignments_per_hit for b in Batch.select()}
    for hit in Hit.select():
        n, done = hits.get(hit.id, (0, 0))
        row = batches[hit.batch_id]
        row[0] += hit.mturk_hit_id is not None
        row[1] += n > 0
        row[2] += done >= per_hit[hit.batch_id]
    return (
        {h: v for h, v in hits.items() if v != (0, 0)},
        {b: tuple(v) for b, v in batches.items() if any(v)},
        {k: tuple(v) for k, v in workers.items() if any(v)},
        times,
    )


def _kept() -> tuple[dict, dict, dict, dict]:
    hits = {c.hit_id: (c.assignments, c.done) for c in HitCount.select() if c.assignments or c.done}
    batches = {
        c.batch_id: (c.hits_published, c.hits_started, c.hits_done, c.not_counted, c.waiting, c.mturk)
        for c in BatchCount.select()
        if any((c.hits_published, c.hits_started, c.hits_done, c.not_counted, c.waiting, c.mturk))
    }
    columns = (
        "assignments",
        "done",
        "positive",
        "positive_selected",
        "negative",
        "negative_selected",
        *TALLY_SUMS,
        "waiting",
        "rejected",
    )
    workers = {
        (w.batch_id, w.worker_id): tuple(getattr(w, c) for c in columns)
        for w in BatchWorker.select()
        if any(getattr(w, c) for c in columns)
    }
    times = {(t.batch_id, t.worker_id, t.bucket): t.pages for t in BatchWorkerTime.select() if t.pages}
    return hits, batches, workers, times


def test_kept_counts_equal_a_recount_after_every_writer(app, campaign):
    with app.app_context():
        assert _kept() == _recount()
        batch = campaign.batch
        hits, batches, workers, times = _kept()
        assert batches[batch.id] == (0, 2, 1, 0, 0, 0)  # HIT 1 has its 2 assignments done, HIT 2 one of 2
        assert workers[(batch.id, "W3CCCCCCCC")][:2] == (2, 1)
        assert sum(n for (_, w, _), n in times.items() if w == "W3CCCCCCCC") == 3  # W3's pages

        # A bulk load of MTurk work in every state, on both HITs.
        first, second = campaign.hits
        Assignment.insert_many(
            [
                dict(
                    organization=batch.organization_id,
                    hit=hit,
                    worker_id=w,
                    source="mturk",
                    version="V",
                    done=d,
                    mturk_status=s,
                )
                for hit, w, d, s in (
                    (first, "M1", True, None),
                    (first, "M2", True, "Submitted"),
                    (second, "M3", True, "Rejected"),
                    (second, "M4", False, "Approved"),
                    (second, "M5", True, "Returned"),
                )
            ]
        ).execute()
        assert _kept() == _recount()
        assert _kept()[1][batch.id][3:] == (3, 2, 5)  # M1, M3, M5 do not count; M1 and M5 wait

        # Reconcile's word, done set and unset, a worker id changed, another assignment's lab name (no count moves).
        Assignment.update(mturk_status="Submitted").where(Assignment.worker_id == "M1").execute()
        Assignment.update(mturk_status="Rejected").where(Assignment.worker_id == "M2").execute()
        Assignment.update(done=True).where(Assignment.worker_id.in_(["M4", "W3CCCCCCCC"])).execute()
        Assignment.update(done=False).where(Assignment.worker_id == "M3").execute()
        Assignment.update(worker_id="W9").where(Assignment.id == campaign.assignments["h2w2"].id).execute()
        Assignment.update(lab_name="Ann").where(Assignment.worker_id == "W1AAAAAAAA").execute()
        stale = campaign.assignments["h2w3"]  # in memory since before: save() writes every column back
        stale.batch_id = None
        stale.save()
        assert _kept() == _recount()

        # Published on MTurk and taken back.
        Hit.update(mturk_hit_id="REMOTE1").where(Hit.id == first.id).execute()
        Hit.update(mturk_hit_id="REMOTE2").where(Hit.id == second.id).execute()
        assert _kept() == _recount() and _kept()[1][batch.id][0] == 2
        Hit.update(mturk_hit_id=None).where(Hit.id == second.id).execute()
        assert _kept() == _recount()

        # Control answers: a selection ORed in by a page derived again, roles changed, a control deleted.
        page = campaign.pages["h1w3a"]
        ImageRecord.update(selected=True).where(
            ImageRecord.page == page, ImageRecord.image == campaign.images["ap"]
        ).execute()
        PageTally.delete().where(PageTally.page == page).execute()
        tallies.derive([page.id])
        assert _kept() == _recount()
        Candidate.update(role="candidate").where(Candidate.image == campaign.images["bp"]).execute()
        Candidate.update(role="negative").where(Candidate.image == campaign.images["a1"]).execute()
        Candidate.delete().where(Candidate.image == campaign.images["an"]).execute()
        assert _kept() == _recount()

        # Pages: their times set again (copied to their tallies), chunks arriving late, tallies gone and derived again.
        worked_for(campaign.assignments.values(), seconds_per_page=90)
        PageSubmission.update(chunks_reported=5).where(PageSubmission.id == campaign.pages["h2w2a"].id).execute()
        assert _kept() == _recount()
        done = campaign.assignments["h1w3"]
        chunks = [dict(assignment=done, pageno=1, seq=seq, n_events=1, events="[]", received_at=0) for seq in (7, 8)]
        PointerChunk.insert_many(chunks).execute()  # as the flush stores them, after the page
        assert _kept() == _recount()
        PageTally.delete().where(PageTally.assignment == done).execute()
        assert _kept() == _recount()
        assert tallies.refresh(tallies.in_batch(batch.id)) == 2
        assert _kept() == _recount()
        PageSubmission.delete().where(PageSubmission.id == campaign.pages["h2w2b"].id).execute()
        assert _kept() == _recount()

        # Deletions: assignments (one that counts with its votes, one waiting), an image with its votes, a HIT with
        # its assignments, then the dataset with the batch.
        campaign.assignments["h1w1"].delete_instance(recursive=False)
        Assignment.delete().where(Assignment.worker_id == "M5").execute()
        assert _kept() == _recount()
        campaign.images["ap"].delete_instance(recursive=False)
        assert _kept() == _recount()
        Hit.delete().where(Hit.id == second.id).execute()
        assert _kept() == _recount()
        deletion.delete_dataset(batch.dataset)
        assert _kept() == _recount() == ({}, {}, {}, {})


def test_kept_counts_follow_the_annotation_page(app, client, org):
    batch = make_batch(app, org, pages=2, per_page=6, hits=2, assignments_per_hit=1)
    first, _ = Hit.select().where(Hit.batch == batch).order_by(Hit.id)
    token, _ = open_assignment(client, first, "W1")
    with app.app_context():
        assert _kept() == _recount() and _kept()[1][batch.id] == (0, 1, 0, 0, 0, 0)
    for pageno in (1, 2):
        assert post_page(client, token, pageno, summary_for(first, pageno)).status_code in (200, 303)
    with app.app_context():
        assert _kept() == _recount() and _kept()[1][batch.id] == (0, 1, 1, 0, 0, 0)
        (worker,) = BatchWorker.select().where(BatchWorker.batch == batch.id)
        assert (worker.assignments, worker.done) == (1, 1)


def test_kept_median_time_per_image_is_within_its_bound(app, campaign):
    """The workers list's median time per image, read from the kept buckets, against the exact median of the pages:
    within quality.KEPT_SPEED_WITHIN (1/64), for odd and even counts of pages, over times from 1 ms to hours."""
    rng = random.Random(21)
    scope = tallies.in_batch(campaign.batch.id)
    with app.app_context():
        pages = list(PageTally.select(PageTally.id, PageTally.images))
        workers = quality.batch_workers_query(campaign.batch.id)
        checked, worst = 0, 0.0
        for _ in range(150):
            times = {t.id: round(t.images * 10 ** rng.uniform(0, 7)) for t in pages}  # 1 ms to 3 h an image
            PageTally.update(page_ms=Case(PageTally.id, list(times.items()))).execute()
            kept = quality.worker_rows(workers, [campaign.batch.id])
            exact = quality.worker_rows(workers, [campaign.batch.id], scope, exact_speed=True)
            for k, e in zip(kept, exact, strict=True):
                if e.figures.seconds_per_image is None:
                    assert k.figures.seconds_per_image is None
                    continue
                error = abs(k.figures.seconds_per_image - e.figures.seconds_per_image) / e.figures.seconds_per_image
                assert error <= quality.KEPT_SPEED_WITHIN * (1 + 1e-9)
                checked, worst = checked + 1, max(worst, error)
        assert checked == 450  # 3 workers with pages (2, 2 and 3 of them) each time
        assert worst > quality.KEPT_SPEED_WITHIN * 0.8  # the bound is nearly reached: it is the right one
        assert _kept() == _recount()


def test_organization_workers_list_adds_up_its_batches_kept_rows(app, client, campaign, make_account):
    """The organization's workers list (/review/workers) from the kept rows of its batches added up: the workers, their
    assignments and every figure equal to what the list counted from the assignments and pages themselves, the median
    time per image within its bound (the page says so), and another organization's batch with the same worker ids in
    nothing."""
    rng = random.Random(7)
    org = campaign.batch.organization_id
    _, other = make_account("other@example.org", "Other lab")
    with app.app_context():
        second = make_campaign(org, "Second batch")  # the same three workers in a second batch
        make_campaign(other, "Theirs")  # and in another organization's
        Assignment.insert_many(
            [
                dict(organization=org, hit=hit, worker_id=w, source="mturk", version="V", done=True, mturk_status=s)
                for hit, w, s in ((second.hits[0], "M1", None), (second.hits[1], "M2", "Submitted"))
            ]
        ).execute()  # M1 waits for MTurk (listed, nothing counted), M2 counts (listed, no pages)
        times = {p.id: p.started_at + rng.randint(1, 10**6) for p in PageSubmission.select()}
        PageSubmission.update(ended_at=Case(PageSubmission.id, list(times.items()))).execute()

        batches = Batch.owned(org, Batch.id)
        listed = quality.worker_rows(quality.workers_query(batches), batches)
        # What the list counted before from the organization's assignments and pages.
        mine = (Assignment.organization == org, counted.COUNTS)
        exact = quality.figures(Assignment.worker_id, *mine)
        quality._speed(exact, Assignment.worker_id, mine)
        recount = (
            Assignment.select(
                Assignment.worker_id, fn.COUNT(Assignment.id), fn.SUM(Case(None, [(Assignment.done, 1)], 0))
            )
            .where(*mine)
            .group_by(Assignment.worker_id)
            .order_by(Assignment.worker_id)
            .tuples()
        )
        waiting = [("M1", 0, 0)]  # listed with nothing counted: 0033's waiting column
        assert [(w.worker_id, w.assignments, w.done) for w in listed] == waiting + [
            (w, n, int(d)) for w, n, d in recount
        ]
        assert [(w.worker_id, w.waiting, w.rejected) for w in listed][:2] == [("M1", 1, 0), ("M2", 0, 0)]
        listed = listed[1:]
        assert [w.worker_id for w in listed] == ["M2", "W1AAAAAAAA", "W2BBBBBBBB", "W3CCCCCCCC"]
        for w in listed:
            kept, counted_before = w.figures, exact.get(w.worker_id, quality.Figures())
            assert (kept.seconds_per_image is None) == (counted_before.seconds_per_image is None)
            if kept.seconds_per_image is not None:
                error = abs(kept.seconds_per_image / counted_before.seconds_per_image - 1)
                assert error <= quality.KEPT_SPEED_WITHIN * (1 + 1e-9)
                kept.seconds_per_image = counted_before.seconds_per_image
            assert kept == counted_before
        assert listed[1].figures.pages == 4  # W1's two pages in each batch

    page = " ".join(client.get("/review/workers?sort=-assignments").get_data(as_text=True).split())
    listed = re.findall(r"<td><code>(\w+)</code>", page)
    # 4, 2, 2, 1 and 0 assignments counted (M1's waits); not T1AAAAAAAA
    assert listed == ["W3CCCCCCCC", "W1AAAAAAAA", "W2BBBBBBBB", "M2", "M1"]
    assert 'Median time per image <small class="muted">±1.6 %</small>' in page
    assert "within 1.6 % of the exact one" in page


def test_migration_0031_backfills_the_buckets_and_goes_back(app, campaign):
    """0031 on a database with pages: its buckets are the recount's; down() and up() again leave the triggers
    working."""
    migrations = {m.name[:4]: m for m in Migration.load_directory(str(MIGRATIONS))}
    migration, later = migrations["0031"].load(), migrations["0033"].load()  # 0033 changes 0031's functions again
    migrator = SchemaMigrator.from_database(database.obj)
    with app.app_context():
        worked_for(campaign.assignments.values(), seconds_per_page=90)
        later.down(migrator, database.obj)
        migration.down(migrator, database.obj)
        assert not BatchWorkerTime.table_exists()
        PageTally.update(page_ms=PageTally.page_ms + 7).execute()  # 0030's triggers alone: no buckets to keep
        migration.up(migrator, database.obj)
        later.up(migrator, database.obj)
        assert _kept() == _recount() and _kept()[3]
        Assignment.update(mturk_status="Rejected", source="mturk").where(Assignment.worker_id == "W3CCCCCCCC").execute()
        assert _kept() == _recount()
