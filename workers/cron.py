"""Periodic jobs for ``rq cron workers.cron`` (run exactly one cron process)."""

import os

from rq import cron

from freelunch.services import jobs


def _every(seconds: int, task: jobs.Task) -> None:
    cron.register(
        task.function(), queue_name=task.queue, interval=seconds, job_timeout=task.timeout, result_ttl=task.result_ttl
    )


# The ingest safety net: batches whose flush job was lost or failed, and entries
# held by a crashed worker (reclaimed once idle for INGEST_CLAIM_IDLE_MS).
_every(30, jobs.INGEST_SWEEP)

# Pages are tallied as they are stored; this derives any stored otherwise (before that rule, or by a bulk load).
_every(300, jobs.DERIVE_MISSING_TALLIES)

# Reconciliation is the truth about MTurk assignments: every batch with a live MTurk HIT, every 10 minutes.
_every(600, jobs.MTURK_SYNC_LIVE)
# MTurk's events, when MTURK_SQS_QUEUE_URL names a queue: each only triggers a reconcile of its HIT.
# Without one the poll has nothing to do, and would log that twice a minute.
if os.environ.get("MTURK_SQS_QUEUE_URL"):
    _every(30, jobs.MTURK_POLL_NOTIFICATIONS)
