"""A batch's export files: made by RQ jobs, kept under instance/exports/<org id>/, downloaded by their organization.

Five kinds. ``seed-jsonl`` is services/exports/seed.py's seed-format records;
``records-csv`` flattens those same records to one CSV row each, with the
image's role and the byproduct counts; ``labels-csv`` is the results page's
labels under the rule the requester chose (kept in ``Export.params``);
``workers-csv`` is the batch's workers table. Every writer streams: rows are
read in bounded slices and written as they come, so memory stays flat however
large the batch. A file is written as ``<name>.part`` and renamed when
complete, so a download never sees half a file.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import current_app

from ...models import Batch, Export, utcnow
from .. import jobs
from ..review import labels
from .writers import WRITERS, Progress


@dataclass(frozen=True)
class Kind:
    title: str
    extension: str
    mimetype: str
    description: str
    binary: bool = False  # the writer gets a bytes file


KINDS = {
    "seed-jsonl": Kind("Seed-format JSON Lines", "jsonl", "application/x-ndjson",
                       "Every image record with its pointer trajectory, hovers and clicks, in the original tool's format."),
    "records-csv": Kind("Image records CSV", "csv", "text/csv",
                        "One row per image record: selection, hovers, times, the image's role, byproduct counts."),
    "labels-csv": Kind("Labels CSV", "csv", "text/csv",
                       "Selection frequency and label decision per image and class, under the chosen rule."),
    "workers-csv": Kind("Workers CSV", "csv", "text/csv",
                        "Per worker: assignments, control accuracy, time per image, estimateTime distribution."),
    "imagenet-ab": Kind("ImageNet-AB ZIP", "zip", "application/zip",
                        "The NFL paper's ImageNet-AB layout: one XML per image decided yes, one metadata per worker.",
                        binary=True),
}


def export_root() -> Path:
    return Path(current_app.config["INSTANCE_PATH"]) / "exports"


def file_path(export: Export) -> Path | None:
    """The finished file of an export, or None while there is none."""
    if export.state != "done" or not export.path:
        return None
    path = export_root() / export.path
    return path if path.is_file() else None


def delete(export: Export) -> None:
    """Remove an export's row and its file."""
    remove_file(export)
    export.delete_instance()


def remove_file(export: Export) -> None:
    if export.path:
        (export_root() / export.path).unlink(missing_ok=True)


def download_name(export: Export) -> str:
    return f"batch-{export.batch_id}-{export.kind}-{export.id}.{KINDS[export.kind].extension}"


def start(batch: Batch, kind: str, rule: labels.Rule | None = None) -> Export:
    """Record an export and queue the job that writes it."""
    params = (rule or labels.default_rule(batch)).as_dict() if kind == "labels-csv" else {}
    export = Export.create(organization=batch.organization_id, batch=batch, kind=kind, params=params)
    job = jobs.enqueue(jobs.RUN_EXPORT, export.id, organization_id=batch.organization_id,
                       scope=f"exports:{batch.id}", title=f"{KINDS[kind].title} of {batch.name}")
    export.job_id = job.id
    export.save(only=[Export.job_id])
    return export


def run(export_id: int, progress: Progress | None = None) -> dict:
    """Write an export's file (the job's body); returns the job's result."""
    export = Export.get_or_none(Export.id == export_id)
    if export is None:
        return {"error": "The export was deleted before it ran."}
    report = progress or (lambda fraction, message="": None)
    Export.update(state="running").where(Export.id == export.id).execute()
    relative = f"{export.organization_id}/{export.id}-{export.kind}.{KINDS[export.kind].extension}"
    target = export_root() / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        opened = partial.open("wb") if KINDS[export.kind].binary else partial.open("w", newline="", encoding="utf-8")
        with opened as out:
            rows = WRITERS[export.kind](export.batch, out, export.params, report)
        partial.replace(target)
    except Exception as error:
        partial.unlink(missing_ok=True)
        Export.update(state="failed", error=f"{type(error).__name__}: {error}"[:1000], finished_at=utcnow()).where(
            Export.id == export.id).execute()
        raise
    Export.update(state="done", path=relative, rows=rows, finished_at=utcnow()).where(Export.id == export.id).execute()
    return {"summary": f"{rows:,} rows written.", "rows": rows}
