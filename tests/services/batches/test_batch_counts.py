"""A batch's HITs, HIT pages, assignments and assignments done: kept by the database as they are written and
deleted (migration 0026), read by the overview, the batches list and each batch's phase without reading the
batch's pages and assignments."""

from __future__ import annotations

from factories import make_batch, summary_for
from support import open_assignment, post_page

from freelunch.models import Assignment, BatchCount, Hit, HitPage
from freelunch.services.datasets.deletion import delete_dataset


def _recount(batch) -> tuple[int, int, int, int]:
    assignments = Assignment.select().join(Hit).where(Hit.batch == batch)
    return (
        Hit.select().where(Hit.batch == batch).count(),
        HitPage.select().join(Hit).where(Hit.batch == batch).count(),
        assignments.count(),
        assignments.where(Assignment.done == True).count(),  # noqa: E712
    )


def _kept(batch) -> tuple[int, int, int, int]:
    count = BatchCount.of([batch.id])[batch.id]
    return count.hits, count.hit_pages, count.assignments, count.assignments_done


def test_counts_follow_the_build_workers_bulk_writes_and_deletes(app, client, org):
    batch = make_batch(app, org, pages=2, per_page=6, hits=3, assignments_per_hit=2)  # built by build_hits
    other = make_batch(app, org, pages=1, per_page=6, hits=1, name="Other")
    assert _kept(batch) == (3, 6, 0, 0) == _recount(batch)
    assert _kept(other) == (1, 1, 0, 0) == _recount(other)

    first, second, third = Hit.select().where(Hit.batch == batch).order_by(Hit.id)
    token, _ = open_assignment(client, first, "W1")  # through the annotation page: started, then done
    open_assignment(client, first, "W2")
    for pageno in (1, 2):
        assert post_page(client, token, pageno, summary_for(first, pageno)).status_code in (200, 303)
    assert _kept(batch) == (3, 6, 2, 1) == _recount(batch)

    # A bulk load (one statement, several HITs and both states), then bulk changes of done.
    Assignment.insert_many(
        [
            dict(organization=org, hit=hit, worker_id=worker, source="survey", version="POINTER_ORIGINAL", done=done)
            for hit, worker, done in ((second, "W3", True), (third, "W4", False), (third, "W5", True))
        ]
    ).execute()
    assert _kept(batch) == (3, 6, 5, 3) == _recount(batch)
    Assignment.update(done=False).where(Assignment.worker_id == "W3").execute()
    Assignment.update(done=True).where(Assignment.worker_id == "W4").execute()
    Assignment.update(mturk_status="Submitted").where(Assignment.hit == third).execute()  # done unchanged
    assert _kept(batch) == (3, 6, 5, 3) == _recount(batch)

    Assignment.delete().where(Assignment.worker_id.in_(["W3", "W5"])).execute()
    Hit.delete().where(Hit.id == second.id).execute()  # its pages go with it
    assert _kept(batch) == (2, 4, 3, 2) == _recount(batch)
    assert _kept(other) == (1, 1, 0, 0) == _recount(other)

    assert "annotating" in client.get("/batches/").get_data(as_text=True)  # the phase, from the kept counts

    with app.app_context():
        delete_dataset(batch.dataset)  # the batch, its HITs, pages and assignments in one cascade
    assert not BatchCount.select().where(BatchCount.batch == batch.id).exists()
    assert _kept(other) == (1, 1, 0, 0) == _recount(other)
