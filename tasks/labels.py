"""RQ job that fits a label model to a batch's votes (services/review/fits.py), with progress."""

from __future__ import annotations

from freelunch.services.jobs import Progress
from freelunch.services.review import fits


def fit_labels(fit_id: int) -> dict:
    return fits.run(fit_id, Progress())
