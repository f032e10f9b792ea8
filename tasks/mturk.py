"""RQ jobs for MTurk publishing and a batch's HIT lifecycle: thin wrappers over services/mturk.

Each takes its organization and answers ``{"error": ...}`` for what the
requester can fix (MTurk refused, a setting is wrong, the batch is gone), so
RQ's failed registry keeps only real faults. Each is safe to run again: the
intent rows make a rerun finish the work instead of repeating it.
"""

from __future__ import annotations

from freelunch.models import Batch
from freelunch.services.jobs import JobProgress
from freelunch.services.mturk import lifecycle, publish
from freelunch.services.mturk.errors import MTurkError


def _batch(batch_id: int, organization_id: int) -> Batch | None:
    return Batch.get_or_none(Batch.id == batch_id, Batch.organization == organization_id)


def publish_batch(batch_id: int, organization_id: int, confirm_production: bool = False) -> dict:
    batch = _batch(batch_id, organization_id)
    if batch is None:
        return {"error": "The batch was deleted before it was published."}
    try:
        result = publish.publish(batch, confirm_production=confirm_production, progress=JobProgress())
    except MTurkError as error:
        return {"error": str(error)}
    return {"summary": result.summary(publish.where(publish.plan(batch).settings.sandbox))}


def _outcome(outcome: lifecycle.Outcome, did: str) -> dict:
    summary = (
        f"{outcome.done} MTurk HITs {did}" + (f", {outcome.skipped} left as they were" if outcome.skipped else "") + "."
    )
    errors = [["MTurk", e] for e in outcome.errors or []]
    return {"summary": summary, "errors": errors, "error_count": len(errors)}


def expire_batch(batch_id: int, organization_id: int) -> dict:
    batch = _batch(batch_id, organization_id)
    if batch is None:
        return {"error": "The batch was deleted."}
    try:
        return _outcome(lifecycle.expire(batch, progress=JobProgress()), "expired")
    except MTurkError as error:
        return {"error": str(error)}


def extend_batch(batch_id: int, organization_id: int, more: int, confirm_production: bool = False) -> dict:
    batch = _batch(batch_id, organization_id)
    if batch is None:
        return {"error": "The batch was deleted."}
    try:
        return _outcome(lifecycle.extend(batch, more, confirm_production=confirm_production), "extended or created")
    except MTurkError as error:
        return {"error": str(error)}


def delete_finished(batch_id: int, organization_id: int) -> dict:
    batch = _batch(batch_id, organization_id)
    if batch is None:
        return {"error": "The batch was deleted."}
    try:
        return _outcome(lifecycle.delete_finished(batch), "deleted (finished)")
    except MTurkError as error:
        return {"error": str(error)}
