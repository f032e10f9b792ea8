"""Who a lab annotator is: the name they typed and the lab links they came by, beside their anonymised id.

The id (an HMAC of the name) stays the identity everywhere; the name is shown so a
lab lead can tell who did what. MTurk and survey workers have no name here: their
raw worker ids are never stored.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...models import Assignment, LabLink


@dataclass
class LabAnnotator:
    name: str
    links: list[str]  # the labels of the links they used, in first-use order


def lab_annotators(scope, worker_ids: list[str]) -> dict[str, LabAnnotator]:
    """The lab annotators among ``worker_ids`` whose assignments match ``scope`` (a where clause)."""
    if not worker_ids:
        return {}
    rows = (
        Assignment.select(Assignment.worker_id, Assignment.lab_name, LabLink.label)
        .join(LabLink, on=(Assignment.lab_link == LabLink.id))
        .where(scope, Assignment.worker_id.in_(worker_ids), Assignment.lab_name.is_null(False))
        .order_by(Assignment.id)
        .tuples()
    )
    found: dict[str, LabAnnotator] = {}
    for worker_id, name, label in rows:
        annotator = found.setdefault(worker_id, LabAnnotator(name, []))
        if label and label not in annotator.links:
            annotator.links.append(label)
    return found
