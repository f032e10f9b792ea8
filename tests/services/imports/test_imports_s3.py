"""Media on S3 (moto): a ZIP import stores its images in the bucket, browsers get pre-signed URLs."""

import zipfile
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from factories import picture
from moto import mock_aws
from support import csrf_token, login

from freelunch import create_app, storage
from freelunch.models import Dataset, Image, ImageClass
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
