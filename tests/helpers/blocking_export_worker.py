"""The production RQ worker class (workers/app_worker.AppWorker) whose exports of the Workers CSV never end: the
writer waits, so a test can fault the worker mid-export (tests/services/exports/test_exports_stuck.py). The work horse
is forked from this process, so it writes with the writer set here.

Run as ``rq worker --worker-class blocking_export_worker.BlockingExportWorker`` with tests/helpers on PYTHONPATH.
"""

from __future__ import annotations

import time
from dataclasses import replace

from freelunch.services.exports.kinds import KINDS
from workers.app_worker import AppWorker

BLOCKED_KIND = "workers-csv"


def _never_ends(batch, out, params, report):
    out.write("half a file")
    out.flush()
    time.sleep(600)  # the test kills the process long before
    return 0


class BlockingExportWorker(AppWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        KINDS[BLOCKED_KIND] = replace(KINDS[BLOCKED_KIND], write=_never_ends)
