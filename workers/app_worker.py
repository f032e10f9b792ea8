"""The RQ worker class: ``rq worker -w workers.app_worker.AppWorker``.

Jobs call into freelunch services, which need the Flask app's config and the
database binding; this worker builds the app once and runs every job inside
its app context, with a database connection opened and closed around each job.

Run with ``--quiet``, RQ's own four lines per job are dropped; this worker
then says one line for each job that did something (a non-empty result), so an
idle platform, whose cron sweep finds nothing every 30 s, stays silent.
"""

from __future__ import annotations

import logging
import sys
import time

from rq import Worker

from freelunch import create_app
from freelunch.db import database

log = logging.getLogger("freelunch.jobs")


def _job_log() -> None:
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))  # the process manager or log router adds the time
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(logging.INFO)


def describe(result) -> str:
    """A job's result in a few words: the summary or error it returned, else the result itself."""
    if isinstance(result, dict):
        return str(result.get("summary") or result.get("error") or ", ".join(f"{k}={v}" for k, v in result.items()))
    return str(result)


class AppWorker(Worker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.app = create_app()
        _job_log()

    def perform_job(self, job, queue):
        started = time.monotonic()
        with self.app.app_context(), database.connection_context():
            done = super().perform_job(job, queue)
        result = job.return_value()
        if done and result:
            # By its function: the title a requester gave is user text, kept out of job.meta
            # (tests/services/test_jobs.py).
            log.info("%s: %s (%.1f s)", job.func_name, describe(result), time.monotonic() - started)
        return done
