"""Periodic jobs for ``rq cron workers.cron`` (run exactly one cron process)."""
from rq import cron

from tasks import ingest, mturk_review

# The ingest safety net: batches whose flush job was lost or failed, and entries
# held by a crashed worker (reclaimed once idle for INGEST_CLAIM_IDLE_MS).
cron.register(ingest.sweep, queue_name="ingest", interval=30, job_timeout=300)

# Reconciliation is the truth about MTurk assignments: every published batch, every 10 minutes.
cron.register(mturk_review.sync_live_batches, queue_name="default", interval=600, job_timeout=1800)
