"""RQ job that finds a dataset's near-duplicate images (services/duplicates/groups.find) and says what it found."""

from __future__ import annotations

from freelunch.formatting import counted
from freelunch.models import Dataset
from freelunch.services.duplicates import groups
from freelunch.services.jobs import JobProgress


def find_duplicates(dataset_id: int, organization_id: int) -> dict:
    dataset = Dataset.get_or_none(Dataset.id == dataset_id, Dataset.organization == organization_id)
    if dataset is None:
        return {"error": "The dataset was deleted before the search ran."}
    found = groups.find(dataset, progress=JobProgress())
    summary = f"{counted(found['groups'], 'group')} of near-duplicates among {counted(found['compared'], 'image')}."
    if found["unhashed"]:
        summary += f" {counted(found['unhashed'], 'image')} without a hash (a manifest's size, no phash) not compared."
    return {"summary": summary}
