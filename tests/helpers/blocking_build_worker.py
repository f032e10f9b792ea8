"""The production RQ worker class (workers/app_worker.AppWorker) whose HIT builds never end: the build reports that it
started, then waits, so a test can fault the worker mid-build (tests/services/batches/test_batches_stuck.py). The work
horse is forked from this process, so it builds with the builder set here.

Run as ``rq worker --worker-class blocking_build_worker.BlockingBuildWorker`` with tests/helpers on PYTHONPATH.
"""

from __future__ import annotations

import time

import tasks.batches
from workers.app_worker import AppWorker

STARTED = "Reading the candidates…"


def _never_ends(batch, class_ids=None, progress=None, job_id=None):
    if progress:
        progress(0.1, STARTED)
    time.sleep(600)  # the test kills the process long before
    return 0


class BlockingBuildWorker(AppWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        tasks.batches.build_hits = _never_ends
