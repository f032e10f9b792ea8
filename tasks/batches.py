"""RQ job that builds a batch's HITs (services/hits.build_hits) and reports progress."""

from __future__ import annotations

from freelunch.formatting import counted
from freelunch.models import Batch
from freelunch.services.batches.builder import dropped_candidates
from freelunch.services.batches.hits import BuildError, build_hits
from freelunch.services.jobs import JobProgress

UNEXPECTED = "It stopped unexpectedly: an admin can see why in the RQ monitor."


def build_batch(batch_id: int, organization_id: int) -> dict:
    """Build from the classes chosen in the builder (Batch.class_ids; none chosen: every class)."""
    batch = Batch.get_or_none(Batch.id == batch_id, Batch.organization == organization_id)
    if batch is None:
        return {"error": "The batch was deleted before its HITs were built."}
    try:
        count = build_hits(batch, batch.class_ids, progress=JobProgress())
    except BuildError as error:
        batch.state, batch.build_error = "failed", str(error)
        batch.save()  # with the image order number drawn, which building again keeps
        return {"error": str(error)}
    except Exception:
        Batch.update(state="failed", build_error=UNEXPECTED).where(Batch.id == batch.id).execute()
        raise
    summary = f"{counted(count, 'HIT')} built."
    left_out = dropped_candidates(batch.dataset, batch.class_ids)
    if left_out:
        summary += f" {counted(left_out, 'candidate')} dropped as near-duplicates left out."
    return {"summary": summary}
