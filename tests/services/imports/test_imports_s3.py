"""Media on S3 (moto): a ZIP import stores its images in the bucket, browsers get pre-signed URLs."""

import re
import zipfile
from html import unescape
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from factories import make_batch, picture
from moto import mock_aws
from support import csrf_token, login, open_assignment

from freelunch import create_app, storage
from freelunch.models import Dataset, HitPage, Image, ImageClass
from freelunch.services.imports import images as image_imports

BUCKET = "freelunch-media-test"


@pytest.fixture
def s3_app(app_config, redis_client, monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        from freelunch.db import database
        from freelunch.services.schema import upgrade

        application = create_app({**app_config, "S3_BUCKET": BUCKET, "AWS_REGION": "us-east-1"})
        upgrade(database)
        yield application


def keys():
    listing = boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket=BUCKET)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def test_zip_import_stores_in_s3_and_serves_presigned_urls(s3_app, make_account, tmp_path):
    _, org = make_account("req@example.org", "Lab")
    dataset = Dataset.create(organization=org, name="D")
    ImageClass.create(organization=org, dataset=dataset, key="cat", names=["cat"])
    archive = tmp_path / "cats.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("cat/a.png", picture(size=(400, 300)))
    with s3_app.app_context():
        report = image_imports.import_image_zip(dataset, archive)
        assert report.counts["images created"] == 1
        image = Image.get()
        assert keys() == sorted([image.storage_path, f"thumbs/{image.storage_path}.jpg"])  # the job made it
        assert storage.read(image.storage_path) == picture(size=(400, 300))
        url = urlsplit(storage.url_for_path(image.storage_path))
        assert url.path.endswith(image.storage_path) and BUCKET in url.netloc + url.path
        assert "X-Amz-Signature" in parse_qs(url.query) and parse_qs(url.query)["X-Amz-Expires"] == ["43200"]

    client = s3_app.test_client()
    login(client, "req@example.org")
    thumbnail = client.get(f"/datasets/images/{image.id}/thumbnail")
    assert thumbnail.status_code == 302 and "X-Amz-Signature" in thumbnail.headers["Location"]
    assert keys() == sorted([image.storage_path, f"thumbs/{image.storage_path}.jpg"])

    response = client.post(f"/datasets/{dataset.id}/delete", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 302
    assert keys() == []


def test_delete_prefix_only_touches_its_dataset(s3_app):
    with s3_app.app_context():
        storage.save("datasets/1/a.png", b"1")
        storage.save("datasets/10/b.png", b"2")
        storage.delete_prefix("datasets/1")
        assert keys() == ["datasets/10/b.png"]


def test_a_workers_page_loads_s3_images_through_the_image_route(s3_app, make_account):
    """On S3 too the page names no object key: the image route reads the object (docs/annotation.md says why)."""
    _, org = make_account("req@example.org", "Lab")
    batch = make_batch(s3_app, org, pages=1, per_page=3)
    hit = batch.hits.get()
    client = s3_app.test_client()
    token, _ = open_assignment(client, hit)
    html = client.get(f"/annotate?token={token}").get_data(as_text=True)
    assert BUCKET not in html and "X-Amz" not in html
    srcs = [unescape(src) for src in re.findall(r'<img src="([^"]+)"', html)]
    page = HitPage.get(HitPage.hit == hit, HitPage.pageno == 1)
    images = [Image.get_by_id(i) for i in page.image_ids]
    with s3_app.app_context():
        stored = [storage.read(image.storage_path) for image in images]
    for src, image, data in zip(srcs, images, stored, strict=True):
        assert image.storage_path not in html and image.key not in html
        response = client.get(src)
        assert response.status_code == 200 and response.data == data
    boto3.client("s3", region_name="us-east-1").delete_object(Bucket=BUCKET, Key=images[-1].storage_path)
    assert client.get(srcs[-1]).status_code == 404  # a missing object: the page replaces it by a spare
