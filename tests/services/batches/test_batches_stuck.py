"""A build whose RQ job is gone for good (its worker killed hard, Redis emptied) is failed, not building forever: the
batch page says why, stops polling and offers "Build the HITs again", which builds with the same classes
(services/batches/builder.settle, jobs.gone). One whose worker is alive stays building, however slow."""

from __future__ import annotations

import json
import os
import signal

import pytest
from blocking_build_worker import STARTED
from factories import make_dataset
from processes import horses, kill_worker, rq_worker, wait_until, worker_env
from rq import Queue
from rq.job import Job, JobStatus
from support import builder_data, csrf_token

from freelunch.models import Batch, Hit, HitPage, ImageClass
from freelunch.services import jobs
from freelunch.services.batches import builder

HTMX = {"HX-Request": "true"}
FAILED = "The build failed. "


def _build(client, org, class_key: str = "n01") -> tuple[Batch, int]:
    """A batch built from one class of two (building again must keep to it), and that class's id."""
    dataset = make_dataset(org, candidates=5)
    chosen = ImageClass.get(ImageClass.key == class_key).id
    assert client.post("/batches/", data=builder_data(client, dataset, class_ids=[chosen])).status_code == 302
    batch = Batch.get(Batch.name == "Round 1")
    assert batch.state == "building" and batch.build_job_id
    return batch, chosen


def _status(client, batch):
    """The status line's poll as a page drawn while the HITs were built sends it."""
    return client.get(f"/batches/{batch.id}/status?announced=0&building=1", headers=HTMX)


def _events(response) -> dict:
    return json.loads(response.headers.get("HX-Trigger") or "{}")


def _still_building(client, batch) -> None:
    status = _status(client, batch)
    assert "building the HITs" in status.get_data(as_text=True) and "hits-changed" not in _events(status)
    overview = client.get(f"/batches/{batch.id}").get_data(as_text=True)
    assert FAILED not in overview and "Build the HITs again" not in overview
    assert Batch.get_by_id(batch.id).state == "building"


def _settled_failed(client, batch, why: str) -> None:
    """The page that showed the build hears it ended, and every view says it failed and why, polling no more."""
    status = _status(client, batch)
    line = status.get_data(as_text=True)
    assert "the build failed" in line and "building=1" not in line and "every 5s" in line
    assert {"job-finished", "hits-changed"} <= set(_events(status))  # the Overview, the HITs and the job list reload
    failed = Batch.get_by_id(batch.id)
    assert failed.state == "failed" and failed.build_error == why
    overview = client.get(f"/batches/{batch.id}").get_data(as_text=True)
    assert FAILED + why in overview and "Build the HITs again" in overview
    hits = client.get(f"/batches/{batch.id}/hits", headers=HTMX).get_data(as_text=True)
    assert "The build failed" in hits and "every 2s" not in hits
    listed = client.get("/batches/?state=failed").get_data(as_text=True)
    assert f'data-batch="{batch.id}"' in listed


def _built_again(client, batch, run_jobs, class_id: int) -> None:
    """Built again with the classes chosen in the builder."""
    old_job = Batch.get_by_id(batch.id).build_job_id
    assert client.post(f"/batches/{batch.id}/build", data={"csrf_token": csrf_token(client)}).status_code == 302
    again = Batch.get_by_id(batch.id)
    assert again.state == "building" and again.build_job_id != old_job and again.build_error == ""
    run_jobs()
    assert Batch.get_by_id(batch.id).state == "ready" and Hit.select().count() > 0
    assert {p.image_class_id for p in HitPage.select()} == {class_id}
    assert FAILED not in client.get(f"/batches/{batch.id}").get_data(as_text=True)


@pytest.mark.parametrize("killed", ["work horse", "worker and work horse"])
def test_a_build_whose_worker_is_killed_fails_and_can_be_built_again(
    app, app_config, client, org, redis_client, redis_url, run_jobs, tmp_path, monkeypatch, killed
):
    """A real `rq worker` (the production class, its builder made to wait) is SIGKILLed mid-build: the work horse alone
    (the kernel's OOM killer), or the worker with it (a machine restart: the batch then fails once the worker's
    heartbeat to RQ is overdue, which a test clock moves on to). The organization has one place on the queue: the job
    abandoned by the killed worker no longer holds it, so building again is not refused."""
    app.config["JOBS_PENDING_PER_ORGANIZATION"] = 1
    batch, chosen = _build(client, org, "n02")
    worker = rq_worker(
        redis_url,
        worker_env(app_config, redis_url, tmp_path),
        "default",
        worker_class="blocking_build_worker.BlockingBuildWorker",
    )
    job = Job.fetch(batch.build_job_id, connection=redis_client)
    try:
        wait_until(lambda: job.get_meta().get("message") == STARTED, 60, "the worker to start building")
        wait_until(lambda: horses(worker), what="the work horse")
        _still_building(client, batch)  # merely slow, its worker alive
        if killed == "work horse":
            for horse in horses(worker):
                os.killpg(horse, signal.SIGKILL)
            # The worker fails it at once; it may then take up to a minute to exit (its pubsub thread), so it is
            # killed below rather than waited for.
            wait_until(lambda: job.get_status() == JobStatus.FAILED, 60, "the worker to fail the job")
        else:
            kill_worker(worker)
            worker.wait(60)
            _still_building(client, batch)  # what stayed so forever
            # RQ's clock for the job: when the worker's last heartbeat runs out (30 + 60 s after it was sent).
            registry = Queue("default", connection=redis_client).started_job_registry
            (due,) = [
                score
                for entry, score in redis_client.zrange(registry.key, 0, -1, withscores=True)
                if entry.decode().startswith(job.id)
            ]
            monkeypatch.setattr(jobs, "_clock", lambda: due - 1)
            _still_building(client, batch)  # not overdue yet: as if merely slow
            monkeypatch.setattr(jobs, "_clock", lambda: due + 1)
            assert job.get_status() == JobStatus.STARTED  # RQ itself fails it only at a later cleanup
    finally:
        if worker.poll() is None:
            kill_worker(worker)
            worker.wait(60)

    _settled_failed(client, batch, builder.GONE["stopped"])
    _built_again(client, batch, run_jobs, chosen)


def test_a_build_whose_job_left_redis_fails_and_can_be_built_again(client, org, redis_client, run_jobs):
    batch, chosen = _build(client, org)
    _still_building(client, batch)  # its job waits in the queue
    redis_client.flushdb()  # Redis restarted without its data
    _settled_failed(client, batch, builder.GONE["lost"])
    _built_again(client, batch, run_jobs, chosen)


@pytest.mark.parametrize("first", ["the dataset page", "the batch list filtered on building"])
def test_the_lists_that_read_a_build_whose_job_left_redis_first_show_it_failed(client, org, redis_client, first):
    batch, _ = _build(client, org)
    redis_client.flushdb()  # Redis restarted without its data; no page of the batch itself is opened
    if first == "the dataset page":
        page = client.get(f"/datasets/{batch.dataset_id}").get_data(as_text=True)
        assert f"{batch.name}</a> (failed)" in page
    else:
        assert f'data-batch="{batch.id}"' not in client.get("/batches/?state=building").get_data(as_text=True)
    assert Batch.get_by_id(batch.id).build_error == builder.GONE["lost"]


def test_a_build_from_before_jobs_were_kept_is_settled_by_the_jobs_its_page_lists(app, client, org, redis_client):
    """A batch left building by a version that kept no build job id (migration 0034) stays building while a build job
    its page lists may still run, and fails once none is left that may."""
    batch, _ = _build(client, org)
    Batch.update(build_job_id=None).execute()
    _still_building(client, batch)  # its job, listed on its page, waits in the queue
    with app.app_context():
        assert jobs.listed(org.id, jobs.batch_scope(batch.id), jobs.BUILD_BATCH) == [batch.build_job_id]
    Job.fetch(batch.build_job_id, connection=redis_client).delete()  # its result expired, or Redis lost it
    _settled_failed(client, batch, builder.GONE["lost"])


@pytest.mark.parametrize("ends", ["with its HITs made", "refused (the batch has its HITs already)"])
def test_a_build_given_up_while_it_ran_writes_nothing_and_leaves_the_newer_build_alone(
    client, org, redis_client, run_jobs, monkeypatch, ends
):
    """Redis emptied while a worker still builds: the batch is settled failed, and the requester builds it again. The
    first build, when it ends, must neither add its HITs beside the newer build's (two sets of HITs) nor record the
    batch ready or failed under it (its early "has its HITs already" once the newer one was done)."""
    import tasks.batches
    from freelunch.services.batches import hits

    batch, chosen = _build(client, org)
    given_up = batch.build_job_id
    redis_client.flushdb()
    _settled_failed(client, batch, builder.GONE["lost"])
    assert client.post(f"/batches/{batch.id}/build", data={"csrf_token": csrf_token(client)}).status_code == 302
    newer = Batch.get_by_id(batch.id).build_job_id
    monkeypatch.setattr(tasks.batches, "get_current_job", lambda: Job(given_up, connection=redis_client))
    if ends != "with its HITs made":

        def refused(*args, **kwargs):
            raise hits.BuildError("no")

        monkeypatch.setattr(tasks.batches, "build_hits", refused)
    result = tasks.batches.build_batch(batch.id, org.id)
    assert result["error"] in (tasks.batches.SUPERSEDED, "no")
    now = Batch.get_by_id(batch.id)
    assert (now.state, now.build_job_id, now.build_error, Hit.select().count()) == ("building", newer, "", 0)
    monkeypatch.undo()
    run_jobs()  # the newer build
    assert Batch.get_by_id(batch.id).state == "ready" and Hit.select().count() > 0
    assert {p.image_class_id for p in HitPage.select()} == {chosen}
