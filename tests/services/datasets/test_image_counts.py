"""A dataset's image count: kept by the database as images are written and deleted (migration 0022), read by the
dataset page, the datasets list and the delete confirmation without reading the images."""

from __future__ import annotations

from factories import make_dataset

from freelunch.models import Dataset, DatasetImageCount, Image
from freelunch.services.datasets import deletion
from freelunch.services.imports import images as image_imports


def test_image_counts_follow_imports_and_deletes(app, client, org, tmp_path):
    dataset = make_dataset(org, classes=("n01", "n02"), candidates=3, positives=1, negatives=1)  # 10 images
    other = make_dataset(org, classes=("z01",), candidates=1, positives=0, negatives=0, name="Other")
    empty = Dataset.create(organization=org, name="Empty")
    assert DatasetImageCount.of([dataset.id, other.id, empty.id]) == {dataset.id: 10, other.id: 1, empty.id: 0}

    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "image_id,url,class,role,width,height\n"
        "n01/0,https://img.example/n01/0.jpg,n01,positive,500,375\n"  # already there: updated, not counted again
        "n01/new,https://img.example/new.jpg,n01,candidate,500,375\n"
        "n01/new,https://img.example/new.jpg,n02,negative,500,375\n"  # one image offered to two classes
    )
    image_imports.import_image_manifest(dataset, manifest, fetcher=lambda url: b"")
    Image.delete().where(Image.dataset == dataset, Image.key == "n01/1").execute()
    assert (
        DatasetImageCount.of([dataset.id])[dataset.id] == 10 == Image.select().where(Image.dataset == dataset).count()
    )

    assert "10 images" in client.get(f"/datasets/{dataset.id}").get_data(as_text=True)
    listing = client.get("/datasets/").get_data(as_text=True)
    assert "<td>10</td>" in listing and "<td>1</td>" in listing
    assert deletion.impact(dataset).images == 10

    with app.app_context():  # it removes the dataset's stored media too
        deletion.delete_dataset(other)
    assert DatasetImageCount.select().where(DatasetImageCount.dataset == other.id).count() == 0
