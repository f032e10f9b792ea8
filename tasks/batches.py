"""RQ job that builds a batch's HITs (services/hits.build_hits) and reports progress."""

from __future__ import annotations

from rq import get_current_job

from freelunch.formatting import counted
from freelunch.models import Batch
from freelunch.services.batches.builder import dropped_candidates
from freelunch.services.batches.hits import BuildError, Superseded, build_hits, still_building
from freelunch.services.jobs import JobProgress

UNEXPECTED = "It stopped unexpectedly: an admin can see why in the RQ monitor."
SUPERSEDED = "This build was given up while it ran (its job was lost from the queue); nothing was written."


def build_batch(batch_id: int, organization_id: int) -> dict:
    """Build from the classes chosen in the builder (Batch.class_ids; none chosen: every class)."""
    batch = Batch.get_or_none(Batch.id == batch_id, Batch.organization == organization_id)
    if batch is None:
        return {"error": "The batch was deleted before its HITs were built."}
    job = get_current_job()
    mine = still_building(batch.id, job.id if job else None) or [Batch.id == batch.id]
    try:
        count = build_hits(batch, batch.class_ids, progress=JobProgress(), job_id=job.id if job else None)
    except Superseded:
        return {"error": SUPERSEDED}
    except BuildError as error:
        # With the image order number drawn, which building again keeps; only while the batch is still this build's.
        Batch.update(state="failed", build_error=str(error), shuffle_seed=batch.shuffle_seed).where(*mine).execute()
        return {"error": str(error)}
    except Exception:
        Batch.update(state="failed", build_error=UNEXPECTED).where(*mine).execute()
        raise
    summary = f"{counted(count, 'HIT')} built."
    left_out = dropped_candidates(batch.dataset, batch.class_ids)
    if left_out:
        summary += f" {counted(left_out, 'candidate')} dropped as near-duplicates left out."
    return {"summary": summary}
