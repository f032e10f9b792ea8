"""Background jobs: each named once (``Task``), queued here, the dashboard's with an owner, progress and status.

A job id reaches the browser, so every job carries its organization in
``job.meta`` and ``status`` answers only to that organization. Jobs report
progress through ``job.meta`` (RQ's own mechanism, saved with ``save_meta``).
A job that fails for a reason the user can fix returns ``{"error": ...}``
instead of raising, so RQ's failed-job registry (which admins watch) keeps
only the real faults.

The RQ monitor shows a job's description and meta as HTML, so neither may
carry user text: the description is built from the task name and its integer
arguments only, and the title (a file or batch name) is kept beside the job
in a key of its own, never in its meta.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from flask import current_app
from redis import Redis
from rq import Queue, get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from werkzeug.utils import import_string

from .. import formatting
from ..models import utcnow
from ..queues import queue, redis_connection
from .errors import RequesterError

RECENT_KEEP = 10
ORGANIZATION_KEEP = 30  # the organization's latest batch jobs, whichever batch (organization_running)
RECENT_TTL = 7 * 24 * 3600
RESULT_TTL = 7 * 24 * 3600
CRON_RESULT_TTL = 500  # periodic jobs (workers/cron.py) come back soon; their results need not stay


@dataclass
class JobView:
    """What a progress bar needs to know about one job."""

    id: str
    title: str
    state: str  # queued, running, done, failed
    progress: float  # 0..1
    message: str = ""
    error: str = ""
    result: dict = field(default_factory=dict)
    changes: tuple[str, ...] = ()  # the panels its end changes (Task.changes)

    @property
    def finished(self) -> bool:
        return self.state in {"done", "failed"}

    @property
    def percent(self) -> int:
        return round(100 * self.progress)


# Imports and exports read and write whole files: they run on a queue and worker
# process of their own, so a large upload never delays the ingest flusher.
BULK_QUEUE = "bulk"


def _recent_key(organization_id: int, scope: str) -> str:
    return f"freelunch:jobs:{organization_id}:{scope}"


# What a job can change, as the pages show it. When a watched job ends, its progress partial sends the
# event "<panel>-changed" for each panel its task names (jobs/routes.py), and every element that shows that
# data reloads itself from its own URL on hx-trigger="<panel>-changed from:body" (templates/_panels.html).
# tests/web/test_job_panels.py pins it: every watched task names its panels, every panel has listeners on the pages.
PANELS = {
    "dataset": "a dataset's counts, classes and images",
    "hits": "a batch's state, shape and HITs",
    "mturk": "a batch's MTurk HITs, publishing and spend",
    "assignments": "a batch's assignments, their MTurk decisions and bonuses",
    "labels": "a batch's labels and label fits",
    "exports": "a batch's export files",
}


@dataclass(frozen=True)
class Task:
    """A job function, named once: where the worker finds it (in ``tasks/``), its queue and its time limits,
    and (for a job a page watches) the panels its end changes (``PANELS``)."""

    path: str
    queue: str = "default"
    timeout: int = 3600
    result_ttl: int = RESULT_TTL
    changes: tuple[str, ...] = ()
    announces: tuple[str, ...] = ()  # a job no page watches (cron's): the panels it tells open pages it changed

    def function(self) -> Callable:
        return import_string(self.path)


# Every job there is. Callers name a task by its constant, never by its path; tests/services/test_jobs.py checks
# that each path is a function of tasks/ and that tasks/ has no job missing from here.
IMPORT_CLASSES = Task("tasks.imports.import_classes", queue=BULK_QUEUE, changes=("dataset",))
IMPORT_IMAGES = Task("tasks.imports.import_images", queue=BULK_QUEUE, changes=("dataset",))
IMPORT_PRESET = Task("tasks.imports.import_preset_classes", queue=BULK_QUEUE, changes=("dataset",))
IMPORT_SCORES = Task("tasks.imports.import_scores", queue=BULK_QUEUE, changes=("dataset",))
FIND_DUPLICATES = Task("tasks.duplicates.find_duplicates", queue=BULK_QUEUE, changes=("dataset",))
BUILD_BATCH = Task("tasks.batches.build_batch", changes=("hits",))
RUN_EXPORT = Task("tasks.exports.run_export", queue=BULK_QUEUE, changes=("exports",))
MAKE_THUMBNAIL = Task("tasks.imports.make_thumbnail", queue=BULK_QUEUE, result_ttl=60)
FIT_LABELS = Task("tasks.labels.fit_labels", changes=("labels",))
COUNT_LABELS = Task("tasks.labels.count_labels", changes=("labels",))
DERIVE_MISSING_TALLIES = Task(
    "tasks.labels.derive_missing", timeout=1800, result_ttl=CRON_RESULT_TTL, announces=("labels", "assignments")
)
MTURK_PUBLISH = Task("tasks.mturk.publish_batch", changes=("mturk",))
MTURK_EXTEND = Task("tasks.mturk.extend_batch", changes=("mturk",))
MTURK_EXPIRE = Task("tasks.mturk.expire_batch", changes=("mturk",))
MTURK_DELETE_FINISHED = Task("tasks.mturk.delete_finished", changes=("mturk",))
MTURK_SYNC = Task("tasks.mturk_review.sync_batch", changes=("mturk", "assignments"))
MTURK_SYNC_LIVE = Task(
    "tasks.mturk_review.sync_live_batches",
    timeout=1800,
    result_ttl=CRON_RESULT_TTL,
    announces=("mturk", "assignments"),
)
MTURK_AUTO_REVIEW = Task("tasks.mturk_review.auto_review", changes=("mturk", "assignments"))
MTURK_DECIDE = Task("tasks.mturk_review.decide_many", changes=("mturk", "assignments"))
MTURK_BONUS_APPROVED = Task("tasks.mturk_review.bonus_approved", changes=("mturk", "assignments"))
MTURK_TOP_UP = Task("tasks.mturk_review.top_up", changes=("mturk", "assignments"))
MTURK_BONUS_ONE = Task("tasks.mturk_review.bonus_one", changes=("mturk", "assignments"))
MTURK_BLOCK = Task("tasks.mturk_review.block_worker", changes=("assignments",))
MTURK_NOTIFY = Task("tasks.mturk_review.notify_workers", changes=("assignments",))
MTURK_POLL_NOTIFICATIONS = Task(
    "tasks.mturk_review.poll_notifications",
    timeout=300,
    result_ttl=CRON_RESULT_TTL,
    announces=("mturk", "assignments"),
)
# Ingest: nobody reads a flush's result, and the sweep is the safety net for lost flushes (cron).
INGEST_FLUSH = Task("tasks.ingest.flush", queue="ingest", timeout=300, result_ttl=60)
INGEST_SWEEP = Task("tasks.ingest.sweep", queue="ingest", timeout=300, result_ttl=CRON_RESULT_TTL)


def _title_key(job_id: str) -> str:
    return f"freelunch:jobs:title:{job_id}"


def description(task: Task, args: tuple) -> str:
    """What the RQ monitor shows for a job: the task and its id arguments, never user text."""
    ids = ", ".join(str(a) for a in args if isinstance(a, int) and not isinstance(a, bool))
    return f"{task.path}({ids})"


def _put(on: Queue, task: Task, args: tuple, kwargs: dict, meta: dict | None = None, job_id: str | None = None) -> Job:
    return on.enqueue(
        task.path,
        *args,
        **kwargs,
        job_timeout=task.timeout,
        result_ttl=task.result_ttl,
        failure_ttl=RESULT_TTL,
        meta=meta,
        job_id=job_id,
        description=description(task, args),
    )


# What a queue's jobs are, in the words of a refusal (users never see a queue's name).
QUEUE_WORK = {
    "default": "HIT builds, label fits and MTurk calls",
    BULK_QUEUE: "imports and exports",
}
PENDING_STATES = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}


class QueueFull(RequesterError):
    """The organization already has as many jobs waiting or running on the task's queue as it may."""

    def __init__(self, task: Task, limit: int):
        work = QUEUE_WORK.get(task.queue, "background jobs")
        super().__init__(
            f"Your organization already has {formatting.counted(limit, 'job')} waiting or running among its {work}. "
            "Wait for some of them to finish, then try again."
        )


def _pending_key(organization_id: int, queue_name: str) -> str:
    return f"freelunch:jobs:pending:{organization_id}:{queue_name}"


def _take_place(task: Task, organization_id: int, job_id: str) -> None:
    """Count ``job_id`` among the organization's pending jobs of the task's queue, or raise QueueFull.

    One organization's 80 jobs made another's HIT build wait three times as long: each organization
    has a few places per queue (``JOBS_PENDING_PER_ORGANIZATION``), so the others' jobs go on. The id
    is added before it is counted, so simultaneous requests never pass the limit together; ids of
    jobs that will never run (any more) are dropped when the set is full: ended, lost from Redis, or
    abandoned by a worker killed hard (``abandoned``), which RQ itself fails only at its next cleanup,
    up to ten minutes on, and which held the organization's places until then.
    """
    limit = current_app.config["JOBS_PENDING_PER_ORGANIZATION"]
    connection, key = redis_connection(), _pending_key(organization_id, task.queue)
    if connection.scard(key) >= limit:
        ids = [_text(i) for i in connection.smembers(key)]
        jobs = Job.fetch_many(ids, connection=connection)
        ended = [i for i, job in zip(ids, jobs) if not _may_run(job)]
        if ended:
            connection.srem(key, *ended)
    pipe = connection.pipeline()
    pipe.sadd(key, job_id)
    pipe.scard(key)
    pipe.expire(key, RESULT_TTL)
    _, count, _ = pipe.execute()
    if count > limit:
        connection.srem(key, job_id)
        raise QueueFull(task, limit)


def batch_scope(batch_id: int) -> str:
    """Where the batch's jobs are listed, and what announcements about it reach (its pages)."""
    return f"batch:{batch_id}"


def dataset_scope(dataset_id: int) -> str:
    """Where the dataset's jobs (imports, the near-duplicate search) are listed: its page, and the overview's errors."""
    return f"dataset:{dataset_id}"


def organization_scope(organization_id: int) -> str:
    """Where every batch job of the organization is listed too: the pages across its batches follow them."""
    return f"organization:{organization_id}"


def enqueue(
    task: Task,
    *args,
    organization_id: int,
    scope: str,
    title: str,
    record: Callable[[str], None] | None = None,
    **kwargs,
) -> Job:
    """Queue ``task(*args, **kwargs)`` for ``organization_id``; ``scope`` names the page listing it ("dataset:3").
    ``record(job_id)``, if given, is called once the job has its place and before it is queued: a row that names its
    job (a batch's build_job_id) is written before a worker can run the job, and not at all when it is refused."""
    if not task.changes:
        raise ValueError(f"{task.path} is watched by a page, so its Task must name the panels it changes")
    # Raises QueueFull (a message for the user) when the organization has too many pending.
    job_id = str(uuid.uuid4())
    _take_place(task, organization_id, job_id)
    if record is not None:
        try:
            record(job_id)
        except BaseException:
            redis_connection().srem(_pending_key(organization_id, task.queue), job_id)
            raise
    job = _put(
        queue(task.queue),
        task,
        args,
        kwargs,
        meta={"organization_id": organization_id, "progress": 0.0, "message": "In the queue…"},
        job_id=job_id,
    )
    key = _recent_key(organization_id, scope)
    pipe = redis_connection().pipeline()
    pipe.set(_title_key(job.id), title, ex=RESULT_TTL)
    pipe.lpush(key, job.id)
    pipe.ltrim(key, 0, RECENT_KEEP - 1)
    pipe.expire(key, RECENT_TTL)
    if scope.split(":")[0] in BATCH_SCOPES:
        across = _recent_key(organization_id, organization_scope(organization_id))
        pipe.lpush(across, job.id)
        pipe.ltrim(across, 0, ORGANIZATION_KEEP - 1)
        pipe.expire(across, RECENT_TTL)
    pipe.execute()
    return job


def enqueue_unwatched(task: Task, *args, connection: Redis, job_id: str | None = None) -> Job:
    """Queue a job no page watches and no organization owns (the ingest flush), on ``connection``:
    the ingest endpoint answers before Flask, without an app context. ``job_id``: RQ's own when None."""
    return _put(Queue(task.queue, connection=connection), task, args, {}, job_id=job_id)


class ReportProgress(Protocol):
    """The progress callback every long service takes: ``report(0.4, "400 of 1,000 images")``."""

    def __call__(self, fraction: float, message: str = "") -> None: ...


class JobProgress:
    """A ReportProgress that writes a running job's progress to its ``meta``; a no-op outside a job (services called
    directly)."""

    def __init__(self, min_interval: float = 0.3):
        self.job = get_current_job()
        self.min_interval = min_interval
        self._saved_at = 0.0

    def __call__(self, fraction: float, message: str = "") -> None:
        if self.job is None:
            return
        now = time.monotonic()
        if now - self._saved_at < self.min_interval and fraction < 1:
            return
        self._saved_at = now
        self.job.meta["progress"] = max(0.0, min(1.0, fraction))
        if message:
            self.job.meta["message"] = message
        self.job.save_meta()


def task_of(job: Job) -> Task | None:
    """The Task a job runs (by its function's path), None for a function the table does not name."""
    return next((t for t in globals().values() if isinstance(t, Task) and t.path == job.func_name), None)


def _text(reply: bytes | str) -> str:
    """A Redis reply as text: our connections answer bytes, redis-py's types allow either."""
    return reply.decode() if isinstance(reply, bytes) else reply


def _clock() -> float:
    """Now, as RQ's registries score it (seconds since the epoch); tests move it on, as the hours after a crash do."""
    return time.time()


def abandoned(job: Job) -> bool:
    """A started job whose worker is gone (killed hard, out of memory, the machine restarted), by RQ's own test: the
    worker watching a job's work horse renews its entry in the queue's StartedJobRegistry every
    ``job_monitoring_interval`` (30 s), 90 s ahead, however slow the job; an entry that expired has no worker behind it.
    RQ itself fails such a job (AbandonedJobError) only when a worker of the queue next cleans its registries, every ten
    minutes (rq 2.12, Worker.clean_registries); a work horse killed under a living worker is failed at once instead
    (status failed, "Work-horse terminated unexpectedly")."""
    if job.get_status(refresh=False) != JobStatus.STARTED:
        return False
    registry = StartedJobRegistry(job.origin, connection=job.connection)
    return job.id in registry.get_expired_job_ids(_clock())


ENDED_STATES = {JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}


def _may_run(job: Job | None) -> bool:
    """Whether RQ may still run the job, or is running it with its worker alive: ``gone``'s opposite, for a job
    fetched already (None: lost from Redis)."""
    return job is not None and job.get_status(refresh=False) in PENDING_STATES and not abandoned(job)


def gone(job_id: str | None) -> str | None:
    """Why RQ will never run the job (any more), for a record that still waits for it: "lost" when Redis no longer
    holds it (emptied, restarted without its data, or its result expired), "stopped" when it ended (failed, stopped,
    canceled, or finished) or was abandoned (``abandoned``). None while it may still run or is running: queued,
    deferred, scheduled, or started with its worker alive, however long it takes; and for no id at all."""
    if not job_id:
        return None
    try:
        job = Job.fetch(job_id, connection=redis_connection())
    except NoSuchJobError:
        return "lost"
    if job.get_status(refresh=False) in ENDED_STATES or abandoned(job):
        return "stopped"
    return None


UNSAVED_JOB_GRACE = dt.timedelta(minutes=2)  # far longer than a record takes from being written to naming its job


def gone_since(job_id: str | None, written_at: dt.datetime) -> str | None:
    """``gone`` for a record written (UTC) at ``written_at`` that names its job once it is queued (an export, a label
    fit): one still naming none UNSAVED_JOB_GRACE later was left by a process that died in between, and its job, if
    it was queued, is lost to it ("lost"); within the grace it is still being queued (None)."""
    if job_id:
        return gone(job_id)
    return "lost" if written_at < utcnow() - UNSAVED_JOB_GRACE else None


def listed(organization_id: int, scope: str, task: Task) -> list[str]:
    """The ids of the scope's listed jobs of ``task`` that Redis still holds, newest first."""
    ids = [_text(i) for i in redis_connection().lrange(_recent_key(organization_id, scope), 0, -1)]
    found = Job.fetch_many(ids, connection=redis_connection()) if ids else []
    return [job.id for job in found if job is not None and job.func_name == task.path]


def _view(job: Job, title: bytes | str | None) -> JobView:
    meta = job.meta
    state = {
        JobStatus.FINISHED: "done",
        JobStatus.FAILED: "failed",
        JobStatus.STOPPED: "failed",
        JobStatus.CANCELED: "failed",
        JobStatus.STARTED: "running",
    }.get(job.get_status(refresh=False), "queued")
    lost_worker = state == "running" and abandoned(job)
    if lost_worker:  # its card ends, and the page reloads what it was writing (exports: files.settle)
        state = "failed"
    result = job.return_value() if state == "done" else None
    result = result if isinstance(result, dict) else {}
    error = ""
    if state == "done" and result.get("error"):
        state, error = "failed", result["error"]
    elif lost_worker:
        error = "The job stopped before it finished: its worker was stopped (a restart, or it ran out of memory)."
    elif state == "failed":
        error = "The job stopped unexpectedly. An admin can see why in the RQ monitor (job " + job.id + ")."
    return JobView(
        id=job.id,
        title=_text(title) if title else "Job",
        state=state,
        progress=1.0 if state == "done" else float(meta.get("progress", 0.0)),
        message=meta.get("message", ""),
        error=error,
        result=result,
        changes=task.changes if (task := task_of(job)) else (),
    )


def status(job_id: str, organization_id: int) -> JobView | None:
    """The job's state, or None when it does not exist or belongs to another organization."""
    if not job_id or len(job_id) > 64:
        return None
    try:
        job = Job.fetch(job_id, connection=redis_connection())
    except (NoSuchJobError, ValueError):
        return None
    if job.meta.get("organization_id") != organization_id:
        return None
    return _view(job, redis_connection().get(_title_key(job.id)))


def recent(organization_id: int, scope: str) -> list[JobView]:
    """The scope's latest jobs that Redis still holds, newest first."""
    ids = [_text(i) for i in redis_connection().lrange(_recent_key(organization_id, scope), 0, -1)]
    if not ids:
        return []
    jobs = Job.fetch_many(ids, connection=redis_connection())
    titles = redis_connection().mget([_title_key(i) for i in ids])
    return [
        _view(job, title)
        for job, title in zip(jobs, titles)
        if job is not None and job.meta.get("organization_id") == organization_id
    ]


# The scopes a batch's jobs are listed under, by the page that starts them: the Overview and MTurk review ("batch"),
# the MTurk tab ("mturk"), the label model ("labels"), the results' counts ("results"), the Exports tab ("exports").
# tests/services/test_jobs.py checks that every "<scope>:{batch.id}" of the code is one of them.
BATCH_SCOPES = ("batch", "mturk", "labels", "results", "exports")


def running(organization_id: int, batch_id: int, changes: set[str]) -> list[JobView]:
    """The batch's jobs still queued or running whose end changes one of the panels ``changes``, newest first
    within each scope: what a page follows to their end when another page started them."""
    return [
        job
        for scope in BATCH_SCOPES
        for job in recent(organization_id, f"{scope}:{batch_id}")
        if not job.finished and changes & set(job.changes)
    ]


def newest(organization_id: int, batch_id: int, changes: set[str]) -> str:
    """The batch's newest job per scope (queued, running or ended) whose end changes one of the panels ``changes``, as
    a mark: it moves when such a job starts, whichever page started it, and not when one ends. A page that follows
    ``running``'s jobs sends it with a poll it makes anyway, to hear of one started after it loaded. Two reads of
    Redis (the scopes' lists, then their jobs), not ``running``'s progress and results."""
    connection = redis_connection()
    pipe = connection.pipeline()
    for scope in BATCH_SCOPES:
        pipe.lrange(_recent_key(organization_id, f"{scope}:{batch_id}"), 0, -1)
    lists = [[_text(i) for i in ids] for ids in pipe.execute()]
    ids = [i for scope_ids in lists for i in scope_ids]
    found = dict(zip(ids, Job.fetch_many(ids, connection=connection))) if ids else {}

    def follows(job: Job | None) -> bool:
        task = task_of(job) if job is not None and job.meta.get("organization_id") == organization_id else None
        return task is not None and bool(changes & set(task.changes))

    return ",".join(next((i for i in scope_ids if follows(found[i])), "") for scope_ids in lists)


def organization_running(organization_id: int, changes: set[str]) -> list[JobView]:
    """``running`` across all the organization's batches (its latest ORGANIZATION_KEEP batch jobs): what a page over
    every batch (the organization's Workers) follows to their end."""
    return [
        job
        for job in recent(organization_id, organization_scope(organization_id))
        if not job.finished and changes & set(job.changes)
    ]


# A job no page started (cron's reconciliation) has no progress card to tell an open page it ended: it announces
# what it changed instead, for the batch and for the organization. Per organization, a hash holds the number of the
# latest announcement of each "<scope>:<panel>"; a page's poll sends the number it has seen (a batch page's status
# line; the organization's Workers, templates/jobs/_announced.html), and the answer sends the very events a finished
# job's card sends (web/job_events.py) for the panels announced since. Numbers only grow (one counter), so a page
# never misses nor repeats one.
ANNOUNCED_TTL = 24 * 3600
_ANNOUNCED_COUNTER = "freelunch:jobs:announced"


def _announced_key(organization_id: int) -> str:
    return f"freelunch:jobs:announced:{organization_id}"


def announced_scopes(organization_id: int, batch_id: int) -> tuple[str, str]:
    """The scopes an announcement about a batch reaches: the batch's pages and the organization's."""
    return batch_scope(batch_id), organization_scope(organization_id)


def announce(task: Task, organization_id: int, batch_id: int) -> int:
    """Tell the open pages of the batch (and of its organization) that a job of ``task`` changed its panels."""
    connection = redis_connection()
    number = connection.incr(_ANNOUNCED_COUNTER)
    key = _announced_key(organization_id)
    pipe = connection.pipeline()
    pipe.hset(
        key,
        mapping={
            f"{scope}:{panel}": number
            for scope in announced_scopes(organization_id, batch_id)
            for panel in task.announces
        },
    )
    pipe.expire(key, ANNOUNCED_TTL)
    pipe.execute()
    return number


@dataclass
class Announced:
    """What a page polling a scope hears: the latest announcement number, and the panels changed since its own."""

    number: int
    changes: tuple[str, ...]

    def job(self) -> JobView | None:
        """The announcement as the finished job the page's events name, None when nothing changed since."""
        if not self.changes:
            return None
        return JobView(id=f"announced-{self.number}", title="", state="done", progress=1.0, changes=self.changes)


def announced(organization_id: int, scope: str, since: int) -> Announced:
    """The announcements to ``scope`` of the organization newer than ``since`` (0: none seen yet)."""
    panels = list(PANELS)
    replies = redis_connection().hmget(_announced_key(organization_id), [f"{scope}:{panel}" for panel in panels])
    numbers = [int(n) if n else 0 for n in replies]
    changed = tuple(panel for panel, n in zip(panels, numbers) if n > since)
    return Announced(max([since, *numbers]), changed)
