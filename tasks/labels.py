"""RQ jobs of the labels: fitting a label model to a batch's votes (services/review/fits.py), with progress,
counting the results under a rule when the request would not wait (services/review/labels.py), and deriving
the review read model of pages that were stored without it (services/review/tallies.py)."""

from __future__ import annotations

from freelunch.models import Batch
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
    return {"pages": tallies.refresh()}
