"""An export whose RQ job is gone for good (its worker killed hard, Redis emptied) is failed, not running forever:
the Exports tab says why, it can be deleted and made again (files.settle, jobs.gone). One whose worker is alive stays
running, however slow."""

from __future__ import annotations

import os
import signal
from dataclasses import replace
from pathlib import Path

import pytest
from processes import horses, kill_worker, rq_worker, wait_until, worker_env
from rq import Queue
from rq.job import Job, JobStatus
from support import csrf_token, start_export

from freelunch.models import Export
from freelunch.services import jobs
from freelunch.services.exports.kinds import KINDS

HTMX = {"HX-Request": "true"}
STOPPED = "The export failed: it stopped before it finished: its worker was stopped"


def _delete(client, export):
    return client.post(f"/review/exports/{export.id}/delete", data={"csrf_token": csrf_token(client)}, headers=HTMX)


@pytest.mark.parametrize("killed", ["work horse", "worker and work horse"])
def test_an_export_whose_worker_is_killed_mid_file_fails_and_can_be_made_again(
    app, app_config, client, campaign, redis_client, redis_url, run_jobs, tmp_path, monkeypatch, killed
):
    """A real `rq worker` (the production class, its writer made to wait) is SIGKILLed while it writes an export: the
    work horse alone (the kernel's OOM killer), or the worker with it (a machine restart; the row then fails once the
    worker's heartbeat to RQ is overdue, which a test clock moves on to)."""
    assert start_export(client, campaign.batch, "workers-csv").status_code == 302
    export = Export.get()
    worker = rq_worker(
        redis_url,
        worker_env(app_config, redis_url, tmp_path),
        jobs.BULK_QUEUE,
        worker_class="blocking_export_worker.BlockingExportWorker",
    )
    try:
        wait_until(lambda: Export.get_by_id(export.id).state == "running", 60, "the worker to start writing the file")
        wait_until(lambda: horses(worker), what="the work horse")
        # Merely slow, its worker alive: running, and not to be deleted.
        row = client.get(f"/review/exports/{export.id}", headers=HTMX).get_data(as_text=True)
        assert 'hx-trigger="job-finished from:body"' in row and "The export failed" not in row
        assert _delete(client, export).status_code == 409
        if killed == "work horse":
            for horse in horses(worker):
                os.killpg(horse, signal.SIGKILL)
            job = Job.fetch(export.job_id, connection=redis_client)
            # The worker fails it at once; it may then take up to a minute to exit (its pubsub thread), so it is
            # killed below rather than waited for.
            wait_until(lambda: job.get_status() == JobStatus.FAILED, 60, "the worker to fail the job")
        else:
            kill_worker(worker)
            worker.wait(60)
            assert Export.get_by_id(export.id).state == "running"  # what stayed so forever
            # RQ's clock for the job: when the worker's last heartbeat runs out (30 + 60 s after it was sent).
            registry = Queue(jobs.BULK_QUEUE, connection=redis_client).started_job_registry
            (due,) = [
                score
                for entry, score in redis_client.zrange(registry.key, 0, -1, withscores=True)
                if entry.decode().startswith(export.job_id)
            ]
            monkeypatch.setattr(jobs, "_clock", lambda: due - 1)
            tab = client.get(f"/review/batches/{campaign.batch.id}/exports").get_data(as_text=True)
            assert "The export failed" not in tab  # not overdue yet: as if merely slow
            monkeypatch.setattr(jobs, "_clock", lambda: due + 1)
            # The job's card ends (its page reloads the row), though RQ still lists the job as started.
            card = client.get(f"/jobs/{export.job_id}", headers=HTMX)
            assert "job-finished" in card.headers.get("HX-Trigger", "")
            assert "its worker was stopped" in card.get_data(as_text=True)
    finally:
        if worker.poll() is None:
            kill_worker(worker)
            worker.wait(60)

    tab = client.get(f"/review/batches/{campaign.batch.id}/exports").get_data(as_text=True)
    assert STOPPED in tab and "Make it again" in tab
    failed = Export.get_by_id(export.id)
    assert failed.state == "failed" and failed.finished_at is not None

    # Made again: a new file, not the failed one offered back.
    response = client.post(
        f"/review/batches/{campaign.batch.id}/exports/workers-csv",
        data={"csrf_token": csrf_token(client), "decision": ""},
    )
    assert response.status_code == 302
    again = Export.select().order_by(Export.id.desc()).get()
    assert again.id != export.id and again.state == "queued"
    run_jobs()
    assert Export.get_by_id(again.id).state == "done"
    assert client.get(f"/review/exports/{again.id}/download").get_data(as_text=True).startswith("worker_id")

    assert _delete(client, failed).status_code == 200
    assert [e.id for e in Export.select()] == [again.id]


def test_a_queued_export_whose_job_left_redis_fails_and_can_be_deleted(client, campaign, redis_client):
    assert start_export(client, campaign.batch, "records-csv").status_code == 302
    export = Export.get()
    assert export.state == "queued" and _delete(client, export).status_code == 409  # its job waits in the queue
    redis_client.flushdb()  # Redis restarted without its data
    row = client.get(f"/review/exports/{export.id}", headers=HTMX).get_data(as_text=True)
    assert "The export failed: its job was lost from the queue before it ran" in row
    assert "job-finished" not in row
    assert _delete(client, export).status_code == 200 and Export.select().count() == 0


def test_an_export_deleted_while_its_file_is_written_leaves_no_file(
    client, run_jobs, campaign, monkeypatch, app_config
):
    """Deleted while a worker still wrote it (settled failed as its worker seemed gone, then deleted): the worker
    finishing after all keeps no file without a row."""

    def deleted_meanwhile(batch, out, params, report):
        Export.delete().execute()
        out.write("worker_id\n")
        return 0

    monkeypatch.setitem(KINDS, "workers-csv", replace(KINDS["workers-csv"], write=deleted_meanwhile))
    start_export(client, campaign.batch, "workers-csv")
    run_jobs()
    folder = Path(app_config["INSTANCE_PATH"]) / "exports" / str(campaign.batch.organization_id)
    assert list(folder.iterdir()) == [] and Export.select().count() == 0


class _Died(BaseException):
    """The process stopping where it stands (SIGKILL, the machine restarted): no handler runs."""


def test_an_export_whose_process_died_before_its_job_id_was_saved_fails_once_the_grace_has_passed(
    app, client, campaign, monkeypatch
):
    """The review: ``start`` writes the row, queues its job, then saves the job's id; a process that died in between
    left a row with no job id, which ``settle`` could not judge (jobs.gone(None) is None): "queued" for ever, never
    to be deleted, and offered again instead of a new file. Past jobs.UNSAVED_JOB_GRACE (far longer than ``start``
    takes) such a row is failed as lost; before it, it is left waiting."""
    import datetime as dt

    from freelunch.models import utcnow
    from freelunch.services.exports import files

    def dies(*args, **kwargs):
        raise _Died()

    monkeypatch.setattr(jobs, "enqueue", dies)
    with app.app_context(), pytest.raises(_Died):
        files.start(campaign.batch, "records-csv")
    export = Export.get()
    assert export.job_id is None and export.state == "queued"
    row = client.get(f"/review/exports/{export.id}", headers=HTMX).get_data(as_text=True)
    assert "The export failed" not in row and _delete(client, export).status_code == 409  # within the grace
    Export.update(created_at=utcnow() - dt.timedelta(hours=1)).execute()  # past the grace, whatever it is
    tab = client.get(f"/review/batches/{campaign.batch.id}/exports").get_data(as_text=True)
    assert "The export failed: its job was lost from the queue before it ran" in tab and "Make it again" in tab
    assert _delete(client, export).status_code == 200 and Export.select().count() == 0


def test_an_export_whose_job_could_not_be_queued_leaves_no_row(app, campaign, monkeypatch):
    """Redis unreachable as the job is queued: the error goes to the caller, and no row waits for a job that was
    never queued (only a full queue took its row away before)."""
    from redis.exceptions import ConnectionError as RedisDown

    from freelunch.services.exports import files

    def down(*args, **kwargs):
        raise RedisDown("Connection refused")

    monkeypatch.setattr(jobs, "enqueue", down)
    with app.app_context(), pytest.raises(RedisDown):
        files.start(campaign.batch, "records-csv")
    assert Export.select().count() == 0
