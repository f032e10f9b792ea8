"""Upload bombs: archives that unpack to far more than they weigh, huge pictures, a full storage quota."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
from factories import picture
from PIL import Image as PILImage
from support import upload

from freelunch.models import Image, ImageClass, Organization
from freelunch.services import jobs
from freelunch.services.imports import images as image_imports
from freelunch.services.imports.quota import used_bytes

HTMX = {"HX-Request": "true"}


def _zip(entries: dict[str, bytes]) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return archive.getvalue()


def noise(size=(300, 300)) -> bytes:
    """A PNG that does not compress (random pixels), so it weighs what it says."""
    out = io.BytesIO()
    PILImage.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(out, "PNG")
    return out.getvalue()


def test_a_zip_bomb_is_refused_at_upload_without_unpacking(app, client, requester, redis_client, monkeypatch):
    # Bounded: 3 x 8 MB of zeros (24 MB unpacked, ~25 KB packed) against a 16 MB cap made small for the test.
    monkeypatch.setattr(image_imports, "ZIP_MAX_TOTAL", 16 * 1024 * 1024)
    monkeypatch.setattr(image_imports, "ZIP_MAX_RATIO", 10**9)  # the total alone refuses it
    bomb = _zip({f"cat/{n}.png": b"\0" * (8 * 1024 * 1024) for n in range(3)})
    assert len(bomb) < 100_000
    response = upload(client, requester, "images", {"images": ("bomb.zip", bomb)})
    assert response.status_code == 422 and "unpacks to" in response.get_data(as_text=True)
    assert not redis_client.keys("rq:job:*"), "nothing was queued"


def test_padded_pictures_are_refused_as_compression_bombs(app, client, requester, redis_client):
    padded = picture() + b"\0" * (4 * 1024 * 1024)  # a real PNG, then 4 MB of padding
    response = upload(client, requester, "images", {"images": ("padded.zip", _zip({"cat/p.png": padded}))})
    assert response.status_code == 422 and "compression bomb" in response.get_data(as_text=True)


def test_many_padded_pictures_under_the_per_file_floor_are_refused_by_the_archive_expansion(
    app, client, requester, redis_client
):
    padded = picture() + b"\0" * (900 * 1024)  # each under the 1 MiB floor of the per-file ratio check
    bomb = _zip({f"cat/{n}.png": padded for n in range(40)})  # 36 MB of files in a ZIP of ~40 KB
    assert len(bomb) < 100_000 and all(
        info.file_size < image_imports.ZIP_RATIO_FLOOR for info in zipfile.ZipFile(io.BytesIO(bomb)).infolist()
    )
    response = upload(client, requester, "images", {"images": ("padded.zip", bomb)})
    text = response.get_data(as_text=True)
    assert response.status_code == 422 and "times its size" in text and "Nothing was imported" in text
    assert not redis_client.keys("rq:job:*"), "nothing was queued"


def test_the_import_job_checks_the_expansion_and_the_quota_before_extracting(app, requester, tmp_path, monkeypatch):
    from freelunch.services.imports.classes import ImportFailure

    padded = picture() + b"\0" * (900 * 1024)
    path = tmp_path / "padded.zip"
    path.write_bytes(_zip({f"cat/{n}.png": padded for n in range(40)}))
    saved = []
    monkeypatch.setattr(image_imports.storage, "save", lambda *args: saved.append(args))
    with app.app_context(), pytest.raises(ImportFailure, match="times its size"):
        image_imports.import_image_zip(requester, path, create_classes=True)
    assert saved == [] and Image.select().count() == 0


def test_a_huge_picture_is_a_row_error_not_a_decoded_bitmap(app, client, requester, run_jobs):
    ImageClass.create(organization=requester.organization_id, dataset=requester, key="cat", names=["cat"])
    out = io.BytesIO()
    PILImage.new("1", (12_000, 12_000)).save(out, "PNG")  # 144 megapixels, a few KB on disk
    upload(
        client,
        requester,
        "images",
        {"images": ("huge.zip", _zip({"cat/huge.png": out.getvalue(), "cat/fine.png": picture()}))},
    )
    run_jobs()
    assert [i.key for i in Image.select()] == ["cat/fine"]
    page = client.get(f"/datasets/{requester.id}").get_data(as_text=True)
    assert "too many pixels" in page


def test_the_storage_quota_stops_an_import_and_keeps_what_it_stored(app, client, requester, run_jobs, monkeypatch):
    ImageClass.create(organization=requester.organization_id, dataset=requester, key="cat", names=["cat"])
    Organization.update(storage_quota_mb=1).where(Organization.id == requester.organization_id).execute()
    files = {f"cat/{n}.png": noise() for n in range(8)}  # ~270 KB each: about 3 fit in 1 MB
    # The archive's declared size is over the quota: refused at upload already.
    response = upload(client, requester, "images", {"images": ("many.zip", _zip(files))})
    assert response.status_code == 422 and "storage is full" in response.get_data(as_text=True)
    # Half of it fits; then a second import runs out of room part-way and says so.
    upload(client, requester, "images", {"images": ("half.zip", _zip(dict(list(files.items())[:3])))})
    run_jobs()
    with app.app_context():  # (export files count too: the instance folder)
        assert Image.select().count() == 3 and used_bytes(requester.organization_id) > 700_000
    # An archive that passed the check while another import filled the room: it stops part-way.
    Organization.update(storage_quota_mb=2).where(Organization.id == requester.organization_id).execute()
    real_check = image_imports.check_zip
    monkeypatch.setattr(image_imports, "check_zip", lambda path, room=None: real_check(path))
    with app.app_context():
        report = image_imports.import_image_zip(requester, _path(app, _zip(dict(list(files.items())[3:]))))
    assert Image.select().count() in (6, 7), "what fits is stored"
    assert report.errors[-1][0] == "storage quota" and "storage is full" in report.errors[-1][1]
    with app.app_context():
        assert used_bytes(requester.organization_id) <= 2 * 1024 * 1024


def _path(app, data: bytes) -> Path:
    path = Path(app.config["INSTANCE_PATH"]) / "direct.zip"
    path.write_bytes(data)
    return path


def test_imports_and_exports_run_on_their_own_queue_and_worker():
    assert jobs.IMPORT_CLASSES.queue == jobs.IMPORT_IMAGES.queue == jobs.RUN_EXPORT.queue == jobs.BULK_QUEUE
    assert jobs.INGEST_FLUSH.queue == "ingest" and jobs.BUILD_BATCH.queue == "default"
    procfile = (Path(__file__).resolve().parents[3] / "Procfile").read_text().splitlines()
    workers = {line.split(":")[0]: line.split()[-1] for line in procfile if " rq worker " in line}
    assert workers["bulk"] == jobs.BULK_QUEUE and all(
        q != jobs.BULK_QUEUE for name, q in workers.items() if name != "bulk"
    )
    dev = (Path(__file__).resolve().parents[3] / "workers" / "dev.py").read_text()
    assert f'--url {{redis_url}} {jobs.BULK_QUEUE}"' in dev


def test_thumbnails_are_made_by_jobs_not_by_the_web_process(app, client, requester, run_jobs, monkeypatch):
    ImageClass.create(organization=requester.organization_id, dataset=requester, key="cat", names=["cat"])
    upload(client, requester, "images", {"images": ("cats.zip", _zip({"cat/a.png": picture(size=(800, 600))}))})
    run_jobs()
    image = Image.get()
    from freelunch import storage

    with app.app_context():
        assert storage.has_thumbnail(image.storage_path), "the import made it"
        storage.delete_prefix("thumbs")  # as for images imported before thumbnails were made in jobs
    decoded = []
    monkeypatch.setattr(
        storage.PILImage, "open", lambda *a, **k: decoded.append(1) or (_ for _ in ()).throw(AssertionError)
    )
    response = client.get(f"/datasets/images/{image.id}/thumbnail")
    assert response.status_code == 302 and ".png?" in response.headers["Location"] and not decoded
    monkeypatch.undo()
    run_jobs()
    assert ".png.jpg?" in client.get(f"/datasets/images/{image.id}/thumbnail").headers["Location"]
