"""RQ jobs for MTurk publishing and a batch's HIT lifecycle: thin wrappers over services/mturk.

Each is a ``batch_job`` (tasks/__init__.py): what the requester can fix comes back as ``{"error": ...}``. Each is safe
to run again: the intent rows make a rerun finish the work instead of repeating it.
"""

from __future__ import annotations

from freelunch.formatting import counted
from freelunch.models import Batch
from freelunch.services.jobs import JobProgress
from freelunch.services.mturk import lifecycle, publish

from . import batch_job


@batch_job(gone="The batch was deleted before it was published.")
def publish_batch(batch: Batch, confirm_production: bool = False) -> dict:
    result = publish.publish(batch, confirm_production=confirm_production, progress=JobProgress())
    return {"summary": result.summary(publish.where(publish.plan(batch).settings.sandbox))}


def _outcome(outcome: lifecycle.Outcome, did: str) -> dict:
    summary = (
        f"{counted(outcome.done, 'MTurk HIT')} {did}"
        + (f", {outcome.skipped} left as they were" if outcome.skipped else "")
        + "."
    )
    errors = [["MTurk", e] for e in outcome.errors or []]
    return {"summary": summary, "errors": errors, "error_count": len(errors)}


@batch_job()
def expire_batch(batch: Batch) -> dict:
    return _outcome(lifecycle.expire(batch, progress=JobProgress()), "expired")


@batch_job()
def extend_batch(batch: Batch, more: int, confirm_production: bool = False) -> dict:
    return _outcome(lifecycle.extend(batch, more, confirm_production=confirm_production), "extended or created")


@batch_job()
def delete_finished(batch: Batch) -> dict:
    return _outcome(lifecycle.delete_finished(batch), "deleted (finished)")
