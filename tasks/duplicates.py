"""RQ job that finds a dataset's near-duplicate images (services/duplicates/groups.find) and says what it found."""

from __future__ import annotations

from freelunch.formatting import counted
from freelunch.models import Dataset
from freelunch.services.duplicates import groups, missing
from freelunch.services.jobs import JobProgress


def find_duplicates(
    dataset_id: int, organization_id: int, hash_missing: bool = False, reference_id: int | None = None
) -> dict:
    """``hash_missing``: first fetch (or read) and hash the images without a hash; ``reference_id``: another dataset
    of the organization to compare with (images that must not be labelled again)."""
    dataset = Dataset.get_or_none(Dataset.id == dataset_id, Dataset.organization == organization_id)
    reference = (
        Dataset.get_or_none(Dataset.id == reference_id, Dataset.organization == organization_id)
        if reference_id
        else None
    )
    if dataset is None or (reference_id and reference is None):
        return {"error": "The dataset was deleted before the search ran."}
    progress = JobProgress()
    summary = ""
    if hash_missing:
        hashed = missing.hash_missing(dataset, progress=progress)
        summary = f"{counted(hashed['hashed'], 'image')} hashed"
        summary += f", {counted(hashed['failed'], 'image')} could not be read. " if hashed["failed"] else ". "
    found = groups.find(dataset, reference, progress=progress)
    summary += f"{counted(found['groups'], 'group')} of near-duplicates among {counted(found['compared'], 'image')}."
    if found["unhashed"]:
        summary += f" {counted(found['unhashed'], 'image')} without a hash not compared."
    return {"summary": summary}
