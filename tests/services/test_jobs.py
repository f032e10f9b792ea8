"""Every job is named once (services/jobs.py) and queued through services/jobs."""

import importlib
import inspect
import pkgutil
import re
import time
from pathlib import Path

import pytest
from factories import make_batch
from rq.job import JobStatus

import tasks
from freelunch.models import Export
from freelunch.queues import queue
from freelunch.services import jobs
from freelunch.services.mturk.errors import MTurkError


def declared() -> dict[str, jobs.Task]:
    return {task.path: task for task in vars(jobs).values() if isinstance(task, jobs.Task)}


def test_every_task_names_a_job_function_and_every_job_function_has_a_task():
    functions = set()
    for module in pkgutil.iter_modules(tasks.__path__):
        loaded = importlib.import_module(f"tasks.{module.name}")
        functions |= {
            f"tasks.{module.name}.{name}"
            for name, f in inspect.getmembers(loaded, inspect.isfunction)
            if f.__module__ == loaded.__name__ and not name.startswith("_")
        }
    assert set(declared()) == functions
    assert all(callable(task.function()) for task in declared().values())


def test_a_watched_job_carries_its_owner_and_title_and_the_task_limits(app, redis_client):
    with app.app_context():
        job = jobs.enqueue(jobs.BUILD_BATCH, 1, 2, organization_id=2, scope="batch:1", title="Build HITs of B")
        assert (job.func_name, job.origin, job.timeout, job.result_ttl) == (
            "tasks.batches.build_batch",
            "default",
            3600,
            jobs.RESULT_TTL,
        )
        assert job.meta["organization_id"] == 2 and "title" not in job.meta, "user text stays out of the monitor"
        assert job.description == "tasks.batches.build_batch(1, 2)"
        assert [(view.id, view.title) for view in jobs.recent(2, "batch:1")] == [(job.id, "Build HITs of B")]
        assert jobs.status(job.id, 3) is None  # another organization's job does not exist for it


def test_an_unwatched_job_has_no_owner(redis_client):
    job = jobs.enqueue_unwatched(jobs.INGEST_FLUSH, 3, connection=redis_client)
    assert (job.func_name, job.origin, job.args, job.result_ttl) == ("tasks.ingest.flush", "ingest", (3,), 60)
    assert "organization_id" not in job.meta


def test_an_organization_has_a_few_places_per_queue_and_others_are_not_held_up(app, redis_client, run_jobs):
    app.config["JOBS_PENDING_PER_ORGANIZATION"] = 3
    with app.app_context():
        queued = [jobs.enqueue(jobs.BUILD_BATCH, n, 1, organization_id=1, scope="batch:1", title="B") for n in range(3)]
        with pytest.raises(
            jobs.QueueFull, match="3 jobs waiting or running among its HIT builds, label fits and MTurk calls"
        ):
            jobs.enqueue(jobs.BUILD_BATCH, 9, 1, organization_id=1, scope="batch:1", title="B")
        assert len(queue("default")) == 3  # the refused job was not queued
        jobs.enqueue(jobs.BUILD_BATCH, 9, 2, organization_id=2, scope="batch:9", title="B")  # another organization
        jobs.enqueue(jobs.RUN_EXPORT, 9, organization_id=1, scope="exports:1", title="E")  # another queue
        queued[0].cancel()  # a job that ended frees its place
        jobs.enqueue(jobs.BUILD_BATCH, 10, 1, organization_id=1, scope="batch:1", title="B")


def test_a_job_abandoned_by_its_killed_worker_frees_its_place(app, redis_client, monkeypatch):
    """A job whose worker was killed hard stays "started" in RQ until a worker's cleanup, up to ten minutes on: it held
    its organization's place until then, and so locked it out of building and exporting. Once its heartbeat to RQ is
    overdue (jobs.abandoned: a real worker killed mid-build, tests/services/batches/test_batches_stuck.py) it counts
    no more; one whose worker is alive, however slow, still does."""
    app.config["JOBS_PENDING_PER_ORGANIZATION"] = 1
    with app.app_context():
        job = jobs.enqueue(jobs.BUILD_BATCH, 1, 1, organization_id=1, scope="batch:1", title="B")
        job.set_status(JobStatus.STARTED)
        registry = queue("default").started_job_registry
        heartbeat = time.time() + 90
        redis_client.zadd(registry.key, {f"{job.id}:execution": heartbeat})  # as a live worker renews it
        with pytest.raises(jobs.QueueFull, match="already has 1 job waiting or running among its HIT builds"):
            jobs.enqueue(jobs.BUILD_BATCH, 2, 1, organization_id=1, scope="batch:2", title="B")
        monkeypatch.setattr(jobs, "_clock", lambda: heartbeat + 1)  # the worker's heartbeat is overdue: it is gone
        assert job.get_status() == JobStatus.STARTED  # RQ has not failed it yet
        jobs.enqueue(jobs.BUILD_BATCH, 2, 1, organization_id=1, scope="batch:2", title="B")
        with pytest.raises(jobs.QueueFull):  # the new job holds the one place
            jobs.enqueue(jobs.BUILD_BATCH, 3, 1, organization_id=1, scope="batch:3", title="B")


def test_a_refused_job_is_a_clear_answer_on_the_page(app, client, make_account, redis_client):
    from factories import make_batch
    from support import RULE_FORM, csrf_token, login

    _, org = make_account("me@example.org")
    batch = make_batch(app, org)
    login(client, "me@example.org")
    app.config["JOBS_PENDING_PER_ORGANIZATION"] = 1
    with app.app_context():
        jobs.enqueue(jobs.RUN_EXPORT, 1, organization_id=org.id, scope="exports:1", title="E")
    url, form = (
        f"/review/batches/{batch.id}/exports/records-csv",
        {"csrf_token": csrf_token(client), "force": "y", **RULE_FORM},
    )
    response = client.post(url, data=form)
    assert response.status_code == 429 and "waiting or running among its imports and exports" in response.get_data(
        as_text=True
    )
    swapped = client.post(url, data=form, headers={"HX-Request": "true"})
    assert swapped.status_code == 422 and swapped.headers["HX-Retarget"] == "#flashes"
    assert "waiting or running among its imports and exports" in swapped.get_data(as_text=True)
    assert Export.select().count() == 0  # a refused export leaves no row behind


def test_a_batch_job_answers_a_missing_batch_and_what_the_requester_can_fix_as_an_error(app, make_account):
    """tasks.batch_job: the one way a job loads its batch (for its organization only) and reports a RequesterError."""
    _, org = make_account("jobs@example.org", "Lab")
    _, other = make_account("other@example.org", "Other")
    batch = make_batch(app, org, name="Fish")

    @tasks.batch_job(gone="The batch was deleted before it ran.")
    def rename(batch, refusal: str = "") -> dict:
        if refusal:
            raise MTurkError(refusal)
        return {"summary": f"ran on {batch.name}"}

    with app.app_context():
        assert rename(batch.id, org.id) == {"summary": "ran on Fish"}
        assert rename(batch.id, org.id, "MTurk refused: top up the balance.") == {
            "error": "MTurk refused: top up the balance."
        }
        assert rename(batch.id, other.id) == {"error": "The batch was deleted before it ran."}  # another organization's
        assert rename(batch.id + 1000, org.id) == {"error": "The batch was deleted before it ran."}
        with pytest.raises(ZeroDivisionError):  # a fault is not the requester's to fix: RQ's failed registry keeps it
            tasks.batch_job()(lambda batch: 1 / 0)(batch.id, org.id)


def test_every_scope_of_a_batchs_jobs_is_one_a_page_can_follow():
    """jobs.running reads the batch's jobs by BATCH_SCOPES: a page listing a batch's jobs under a scope missing there
    would leave them unfollowed (the Exports tab's out-of-date marks)."""
    source = Path(jobs.__file__).resolve().parents[1]
    used = {
        scope
        for path in source.rglob("*.py")
        for scope in re.findall(r'f"([a-z]+):\{batch(?:\.id|_id)\}"', path.read_text(encoding="utf-8"))
    }
    assert used and used <= set(jobs.BATCH_SCOPES), used


@pytest.mark.parametrize("kind", ["batch", "dataset"])
def test_a_job_scope_is_written_once(kind):
    """jobs.batch_scope and jobs.dataset_scope are the one spelling of "batch:<id>" and "dataset:<id>": the pages that
    list the jobs, the jobs that announce to them and the overview all read it there, never a copy that could drift."""
    root = Path(jobs.__file__).resolve().parents[3]
    written = [
        f"{path.relative_to(root)}: {match}"
        for folder in ("platform", "tasks", "templates")
        for path in (root / folder).rglob("*")
        if path.suffix in {".py", ".html"}
        for match in re.findall(rf"""["']{kind}:(?:\{{|%d)[^"']*["']""", path.read_text(encoding="utf-8"))
    ]
    assert written == [f'platform/freelunch/services/jobs.py: "{kind}:{{{kind}_id}}"'], written


def test_running_lists_the_batchs_unfinished_jobs_that_change_the_panels_asked(app, redis_client, run_jobs):
    with app.app_context():
        fit = jobs.enqueue(jobs.FIT_LABELS, 1, organization_id=2, scope="labels:5", title="Fit")
        jobs.enqueue(jobs.MTURK_DECIDE, 5, 2, organization_id=2, scope="batch:5", title="Approve")
        jobs.enqueue(jobs.BUILD_BATCH, 5, 2, organization_id=2, scope="batch:5", title="Build")
        jobs.enqueue(jobs.FIT_LABELS, 1, organization_id=2, scope="labels:6", title="Another batch")
        jobs.enqueue(jobs.FIT_LABELS, 1, organization_id=3, scope="labels:5", title="Another organization")
        assert [j.title for j in jobs.running(2, 5, {"labels", "assignments"})] == ["Approve", "Fit"]
        assert [j.id for j in jobs.running(2, 5, {"labels"})] == [fit.id]


def test_gone_only_for_a_job_rq_will_never_run(app, redis_client):
    """jobs.gone: None for a job queued, started with a live worker, or no id; "lost" and "stopped" otherwise (a real
    worker killed mid-job: tests/services/exports/test_exports_stuck.py)."""
    with app.app_context():
        bulk = queue(jobs.BULK_QUEUE)
        job = bulk.enqueue("tasks.exports.run_export", 1)
        assert jobs.gone(job.id) is None and jobs.gone(None) is None
        registry = bulk.started_job_registry
        job.set_status(JobStatus.STARTED)
        redis_client.zadd(registry.key, {f"{job.id}:execution": time.time() + 90})  # as a live worker renews it
        assert jobs.gone(job.id) is None
        redis_client.zadd(registry.key, {f"{job.id}:execution": time.time() - 1})  # its heartbeat overdue
        assert jobs.gone(job.id) == "stopped"
        job.set_status(JobStatus.FAILED)
        assert jobs.gone(job.id) == "stopped"
        job.delete()
        assert jobs.gone(job.id) == "lost"
