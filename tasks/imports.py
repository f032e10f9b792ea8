"""RQ jobs for dataset imports: read the uploaded file, call the import service, delete the upload.

The web request saves the upload under instance/uploads/ and passes its path;
the job owns the file from then on and removes it however the import ends.
"""

from __future__ import annotations

from pathlib import Path

from freelunch import storage
from freelunch.models import Dataset, Image
from freelunch.presets import PRESETS
from freelunch.services.imports import classes as imports
from freelunch.services.imports import images as image_imports
from freelunch.services.imports import scores as score_imports
from freelunch.services.jobs import JobProgress
from freelunch.services.review import prior_report


def _run(dataset_id: int, organization_id: int, uploads: list[str | None], work) -> dict:
    try:
        dataset = Dataset.get_or_none(Dataset.id == dataset_id, Dataset.organization == organization_id)
        if dataset is None:
            return {"error": "The dataset was deleted before the import ran."}
        try:
            report = work(dataset, JobProgress())
        except imports.ImportFailure as failure:
            return {"error": str(failure)}
        return report.as_result(report.summary())
    finally:
        for upload in uploads:
            if upload:
                Path(upload).unlink(missing_ok=True)


def import_classes(dataset_id: int, organization_id: int, kind: str, upload: str, wikipedia: str | None = None) -> dict:
    """kind: "json" (class_info.json, optional wikipedia_pages.json) or "csv"."""

    def work(dataset, progress):
        data = Path(upload).read_bytes()
        if kind == "json":
            links = Path(wikipedia).read_bytes() if wikipedia else None
            return imports.import_classes_json(dataset, data, links, progress=progress)
        return imports.import_classes_csv(dataset, data, progress=progress)

    return _run(dataset_id, organization_id, [upload, wikipedia], work)


def import_preset_classes(dataset_id: int, organization_id: int, preset: str) -> dict:
    """A built-in class list (freelunch/presets/): nothing was uploaded, nothing to delete."""
    return _run(
        dataset_id,
        organization_id,
        [],
        lambda dataset, progress: imports.import_preset(dataset, PRESETS[preset], progress=progress),
    )


def import_images(dataset_id: int, organization_id: int, kind: str, upload: str, create_classes: bool = False) -> dict:
    """kind: "manifest" (CSV or JSON Lines of URLs) or "zip" (<class>/<file> folders)."""

    def work(dataset, progress):
        if kind == "zip":
            return image_imports.import_image_zip(dataset, Path(upload), create_classes, progress=progress)
        return image_imports.import_image_manifest(dataset, Path(upload), create_classes, progress=progress)

    return _run(dataset_id, organization_id, [upload], work)


def import_scores(dataset_id: int, organization_id: int, upload: str) -> dict:
    """A model's scores (CSV image,class,score): the label model's prior; the summary says what a first round
    could save with them."""
    savings = []

    def work(dataset, progress):
        report = score_imports.import_scores(dataset, Path(upload).read_bytes(), progress=progress)
        savings.append(prior_report.first_round_savings(dataset.id))
        return report

    result = _run(dataset_id, organization_id, [upload], work)
    if savings and "summary" in result:
        result["summary"] += ". " + savings[0]
    return result


def make_thumbnail(image_id: int) -> None:
    """The thumbnail of an image stored before imports made them (datasets' thumbnail view asks for it)."""
    image = Image.get_or_none(Image.id == image_id)
    if image is not None and image.storage_path:
        storage.ensure_thumbnail(image.storage_path)
