"""RQ jobs of the labels: fitting a label model to a batch's votes (services/review/fits.py), with progress,
and deriving the review read model of pages that were stored without it (services/review/tallies.py)."""

from __future__ import annotations

from freelunch.services.jobs import JobProgress
from freelunch.services.review import fits, tallies


def fit_labels(fit_id: int) -> dict:
    return fits.run(fit_id, JobProgress())


def derive_missing() -> dict:
    return {"pages": tallies.refresh()}
