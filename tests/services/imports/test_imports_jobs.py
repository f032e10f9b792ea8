"""Imports from the dataset page: uploads become RQ jobs (run by a real worker) whose progress the page polls."""

import io
import json
import zipfile
from pathlib import Path

from factories import PICTURE, picture
from rq import get_current_job
from rq.job import Job
from support import csrf_token, job_id, login, upload

from freelunch.models import Image, ImageClass
from freelunch.presets import IMAGENET_1K
from freelunch.services.imports import images as image_imports

HTMX = {"HX-Request": "true"}


def test_class_import_job_reports_progress_and_finishes(app, client, requester, run_jobs):
    response = upload(
        client,
        requester,
        "classes",
        {
            "classes": ("class_info.json", IMAGENET_1K.classes()),
            "wikipedia": ("wikipedia_pages.json", IMAGENET_1K.wikipedia()),
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'hx-trigger="every 1s"' in html and "Import classes from class_info.json" in html
    uploads = list((Path(app.config["INSTANCE_PATH"]) / "uploads").iterdir())
    assert len(uploads) == 2

    run_jobs()
    assert ImageClass.select().where(ImageClass.dataset == requester).count() == 1000
    assert not any(p.exists() for p in uploads), "the job deletes the uploads it read"
    done = client.get(f"/jobs/{job_id(html)}", headers=HTMX)
    body = done.get_data(as_text=True)
    assert "every 1s" not in body and "done" in body and "1,000 classes created" in body
    assert "job-finished" in done.headers["HX-Trigger"]
    # The dataset page lists the finished import, and the classes.
    page = client.get(f"/datasets/{requester.id}").get_data(as_text=True)
    assert "1,000 classes created" in page and "n01440764" in page


def test_a_bad_class_file_fails_with_its_reason(client, requester, run_jobs):
    html = upload(client, requester, "classes", {"classes": ("c.json", b'{"not": "a list"}')}).get_data(as_text=True)
    run_jobs()
    body = client.get(f"/jobs/{job_id(html)}", headers=HTMX).get_data(as_text=True)
    assert "failed" in body and "must be a JSON list" in body


def test_import_form_errors_are_clear(client, requester):
    response = upload(client, requester, "classes", {})
    assert response.status_code == 422 and "Choose a class_info.json or CSV file." in response.get_data(as_text=True)
    page = upload(client, requester, "images", {}, htmx=False)
    assert page.status_code == 422 and "Choose a manifest" in page.get_data(as_text=True)


def test_manifest_job_probes_sizes_from_a_local_server_with_the_test_allowance(
    app, client, requester, run_jobs, local_server
):
    app.config["IMPORT_ALLOW_PRIVATE_URLS"] = True
    manifest = "\n".join(
        json.dumps({"image_id": f"fish/{n}", "url": f"{local_server}/{path}", "class": "fish"})
        for n, path in enumerate(["a.png", "hop", "nothing.png"])
    )
    html = upload(client, requester, "images", {"images": ("m.jsonl", manifest.encode())}, create_classes="y").get_data(
        as_text=True
    )
    run_jobs()
    assert {(i.key, i.width, i.height) for i in Image.select()} == {("fish/0", 320, 240), ("fish/1", 320, 240)}
    body = client.get(f"/jobs/{job_id(html)}", headers=HTMX).get_data(as_text=True)
    assert "2 images created" in body and "HTTP 404" in body


def test_without_the_allowance_local_urls_are_refused_row_by_row(client, requester, run_jobs, local_server):
    ImageClass.create(organization=requester.organization_id, dataset=requester, key="fish", names=["fish"])
    manifest = (
        f"image_id,url,class\nfish/0,{local_server}/a.png,fish\n"
        "fish/1,http://169.254.169.254/latest/meta-data/,fish\nfish/2,http://[::1]:80/2.jpg,fish\n"
    )
    html = upload(client, requester, "images", {"images": ("m.csv", manifest.encode())}).get_data(as_text=True)
    run_jobs()
    assert Image.select().count() == 0
    body = client.get(f"/jobs/{job_id(html)}", headers=HTMX).get_data(as_text=True)
    assert body.count("private, loopback or reserved") == 3


def test_progress_is_saved_to_job_meta_while_the_job_runs(app, client, requester, run_jobs, monkeypatch):
    seen = []

    def fetcher_for_this_job():
        job = get_current_job()  # fetches run in a thread pool, outside RQ's job context

        def fetcher(url):
            seen.append(Job.fetch(job.id, connection=job.connection).meta.get("progress"))
            return PICTURE

        return fetcher

    monkeypatch.setattr(image_imports, "MANIFEST_CHUNK", 2)
    monkeypatch.setattr(image_imports, "default_fetcher", fetcher_for_this_job)
    manifest = "image_id,url,class\n" + "".join(f"c/{n},https://img.example/{n}.png,c\n" for n in range(6))
    upload(client, requester, "images", {"images": ("m.csv", manifest.encode())}, create_classes="y")
    run_jobs()
    assert seen[0] == 0.0 and 0 < max(seen) < 1, seen
    assert Image.select().count() == 6


def test_unsafe_zip_is_refused_at_upload_and_nothing_is_queued(app, client, requester, redis_client):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("cat/ok.png", picture())
        z.writestr("../../../tmp/evil.png", picture())
    response = upload(client, requester, "images", {"images": ("evil.zip", archive.getvalue())})
    assert response.status_code == 422
    assert "climbs out of the folder" in response.get_data(as_text=True)
    assert redis_client.llen("rq:queue:default") == 0
    assert not list((Path(app.config["INSTANCE_PATH"]) / "uploads").iterdir())


def test_zip_import_then_browse_thumbnails(app, client, requester, run_jobs):
    ImageClass.create(organization=requester.organization_id, dataset=requester, key="cat", names=["cat"])
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("cat/big.png", picture(size=(1200, 900)))
        z.writestr("cat/readme.txt", b"hello")
    upload(client, requester, "images", {"images": ("cats.zip", archive.getvalue())}, htmx=False)
    run_jobs()
    image = Image.get(Image.key == "cat/big")
    assert (image.width, image.height) == (1200, 900)
    grid = client.get(f"/datasets/{requester.id}/images").get_data(as_text=True)
    assert f"/datasets/images/{image.id}/thumbnail" in grid and "1200×900" in grid
    redirect = client.get(f"/datasets/images/{image.id}/thumbnail")
    assert redirect.status_code == 302
    thumb = client.get(redirect.headers["Location"])
    from PIL import Image as PILImage

    with PILImage.open(io.BytesIO(thumb.data)) as small:
        assert small.format == "JPEG" and max(small.size) == 240


def test_jobs_answer_only_their_organization(app, client, requester, make_account):
    html = upload(client, requester, "classes", {"classes": ("c.csv", b"key,names\nn01,fish\n")}).get_data(as_text=True)
    mine = job_id(html)
    assert client.get(f"/jobs/{mine}").status_code == 200  # a full page without htmx
    assert client.get("/jobs/no-such-job").status_code == 404
    make_account("other@example.org", "Other")
    other = app.test_client()
    login(other, "other@example.org")
    assert other.get(f"/jobs/{mine}", headers=HTMX).status_code == 404


def test_an_oversized_class_file_is_refused_before_it_is_read(client, requester):
    response = upload(client, requester, "classes", {"classes": ("huge.json", b"[" + b" " * (22 * 1024 * 1024) + b"]")})
    assert response.status_code == 413 and "at most 20 MB" in response.get_data(as_text=True)


def test_the_imagenet_1k_preset_imports_as_a_job_without_an_upload(app, client, requester, run_jobs):
    page = client.get(f"/datasets/{requester.id}").get_data(as_text=True)
    assert "Import the ImageNet-1k classes" in page
    refused = client.post(f"/datasets/{requester.id}/imports/preset", data={"preset": "imagenet-1k"}, headers=HTMX)
    assert refused.status_code == 400 and "CSRF" in refused.get_data(as_text=True)
    unknown = client.post(
        f"/datasets/{requester.id}/imports/preset",
        data={"csrf_token": csrf_token(client), "preset": "imagenet-22k"},
        headers=HTMX,
    )
    assert unknown.status_code == 422 and "Choose one of the built-in class lists shown." in unknown.get_data(
        as_text=True
    )

    response = client.post(
        f"/datasets/{requester.id}/imports/preset",
        data={"csrf_token": csrf_token(client), "preset": "imagenet-1k"},
        headers=HTMX,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'hx-trigger="every 1s"' in html and "Import the ImageNet-1k classes" in html
    assert not (Path(app.config["INSTANCE_PATH"]) / "uploads").exists()
    run_jobs()
    done = client.get(f"/jobs/{job_id(html)}", headers=HTMX).get_data(as_text=True)
    assert "done" in done and "1,000 classes created" in done
    tench = ImageClass.get(ImageClass.dataset == requester, ImageClass.key == "n01440764")
    assert tench.names == ["tench", "Tinca tinca"] and tench.wikipedia == ["https://en.wikipedia.org/wiki/Tench"]
    assert IMAGENET_1K.classes_file.is_file(), "the packaged list stays where it is"


def test_the_preset_import_reports_its_progress_like_an_upload(app, client, requester, run_jobs, redis_client):
    response = client.post(
        f"/datasets/{requester.id}/imports/preset",
        data={"csrf_token": csrf_token(client), "preset": "imagenet-1k"},
        headers=HTMX,
    )
    job = Job.fetch(job_id(response.get_data(as_text=True)), connection=redis_client)
    assert job.meta["message"] == "In the queue…"
    run_jobs()
    job.refresh()
    assert job.meta["message"] == "Read 1,000 classes" and job.meta["progress"] > 0, job.meta
