"""RQ jobs of the labels: fitting a label model to a batch's votes (services/review/fits.py), with progress,
counting the results under a rule when the request would not wait (services/review/labels.py), and deriving
the review read model of pages that were stored without it (services/review/tallies.py)."""

from __future__ import annotations

from freelunch.models import Assignment, Batch
from freelunch.services import jobs
from freelunch.services.jobs import JobProgress
from freelunch.services.review import fits, labels, tallies


def fit_labels(fit_id: int) -> dict:
    return fits.run(fit_id, JobProgress())


def count_labels(
    batch_id: int, threshold: float, min_annotations: int, min_accuracy: float, class_id: int | None
) -> dict:
    batch = Batch.get_or_none(Batch.id == batch_id)
    if batch is None:
        return {"error": "The batch was deleted."}
    totals = labels.summary(batch, labels.Rule(threshold, min_annotations, min_accuracy), class_id)
    return {"summary": f"{totals.total:,} image–class pairs counted"}


def derive_missing() -> dict:
    """The cron job: derive the pages stored without their tallies (a bulk load), a batch at a time. No page started
    it, so it announces to the open pages of each batch it derived pages of (the votes that count changed, and the
    workers' figures: Results, Workers, the Exports tab's out-of-date marks), as the reconciliation does."""
    pending = (
        tallies.pending_pages()
        .select(Assignment.organization, Assignment.batch_id)
        .distinct()
        .order_by(Assignment.batch_id)
        .tuples()
    )
    pages = 0
    for organization_id, batch_id in list(pending):
        derived = tallies.refresh(tallies.in_batch(batch_id))
        if derived:
            jobs.announce(jobs.DERIVE_MISSING_TALLIES, organization_id, batch_id)
        pages += derived
    return {"pages": pages}
