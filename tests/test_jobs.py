"""Every job is named once (services/jobs.py) and queued through services/jobs."""

import importlib
import inspect
import pkgutil

import tasks
from freelunch.services import jobs


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
