"""RQ job for a batch's export: writes the file, reporting progress through the job's meta."""

from __future__ import annotations

from freelunch.services.exports import files as exports
from freelunch.services.jobs import JobProgress


def run_export(export_id: int) -> dict:
    return exports.run(export_id, JobProgress())
