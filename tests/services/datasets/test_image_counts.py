"""A dataset's image count, and how many of its images have no hashes: kept by the database as images are written,
hashed and deleted (migrations 0022 and 0025), read by the dataset page, the datasets list and the delete
confirmation without reading the images."""

from __future__ import annotations

import re
import zipfile

from factories import PICTURE, make_dataset

from freelunch.models import Candidate, Dataset, DatasetImageCount, Image
from freelunch.services.datasets import deletion
from freelunch.services.duplicates import missing
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


def _hashes(dataset) -> dict[str, int]:
    images = Image.select().where(Image.dataset == dataset)
    return {
        "unhashed": images.where(Image.phash.is_null()).count(),
        "edgeless": images.where(Image.edge_phashes.is_null()).count(),
    }


def test_hash_counts_follow_imports_the_hashing_job_and_deletes(app, client, org, tmp_path):
    """How many images have no pHash or no edge hashes, kept by the database (migration 0025) through every writer:
    images made without hashes, a manifest's upsert that gives a pHash and one that takes it away, a ZIP import
    (hashed as it stores), the fetch-and-hash job (what it could and could not read), a bulk update, deletes and the
    cascade from the dataset; each step against a recount, and the dataset page shows the kept figure."""
    dataset = make_dataset(org, classes=("n01",), candidates=4, positives=0, negatives=0)  # 4 images, no hashes
    other = make_dataset(org, classes=("z01",), candidates=2, positives=0, negatives=0, name="Other")
    assert DatasetImageCount.hashes_of(dataset.id) == {"unhashed": 4, "edgeless": 4}
    assert DatasetImageCount.hashes_of(Dataset.create(organization=org, name="Empty").id) == {
        "unhashed": 0,
        "edgeless": 0,
    }

    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "image_id,url,class,role,width,height,phash\n"
        "n01/0,https://img.example/n01/0.jpg,n01,candidate,500,375,00ff00ff00ff00ff\n"  # given a pHash
        "n01/new,https://img.example/new.jpg,n01,candidate,500,375,ff00ff00ff00ff00\n"  # new, with one
        "n01/bare,https://img.example/bare.jpg,n01,candidate,500,375,\n"  # new, without
    )
    image_imports.import_image_manifest(dataset, manifest, fetcher=lambda url: b"")
    assert DatasetImageCount.hashes_of(dataset.id) == {"unhashed": 4, "edgeless": 6} == _hashes(dataset)

    manifest.write_text(  # imported again without its pHash: the upsert takes it away
        "image_id,url,class,role,width,height\nn01/new,https://img.example/new.jpg,n01,candidate,500,375\n"
    )
    image_imports.import_image_manifest(dataset, manifest, fetcher=lambda url: b"")
    assert DatasetImageCount.hashes_of(dataset.id) == {"unhashed": 5, "edgeless": 6} == _hashes(dataset)

    archive = tmp_path / "images.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("n01/zipped.png", PICTURE)
    with app.app_context():
        image_imports.import_image_zip(dataset, archive)
    assert DatasetImageCount.hashes_of(dataset.id) == {"unhashed": 5, "edgeless": 6} == _hashes(dataset)

    unreadable = "https://img.example/n01/1.jpg"
    counts = missing.hash_missing(dataset, fetcher=lambda url: b"not an image" if url == unreadable else PICTURE)
    assert counts == {"hashed": 5, "failed": 1}
    assert DatasetImageCount.hashes_of(dataset.id) == {"unhashed": 1, "edgeless": 1} == _hashes(dataset)
    page = client.get(f"/datasets/{dataset.id}").get_data(as_text=True)
    assert "First fetch and hash the 1 image without a hash or edge hashes" in page

    Image.update(edge_phashes=None).where(Image.dataset == dataset, Image.key.in_(["n01/2", "n01/3"])).execute()
    Image.delete().where(Image.dataset == dataset, Image.key.in_(["n01/1", "n01/new"])).execute()
    assert DatasetImageCount.hashes_of(dataset.id) == {"unhashed": 0, "edgeless": 2} == _hashes(dataset)
    assert DatasetImageCount.hashes_of(other.id) == {"unhashed": 2, "edgeless": 2} == _hashes(other)

    with app.app_context():
        deletion.delete_dataset(dataset)
    assert DatasetImageCount.hashes_of(dataset.id) == {"unhashed": 0, "edgeless": 0}
    assert DatasetImageCount.hashes_of(other.id) == {"unhashed": 2, "edgeless": 2} == _hashes(other)


def test_the_images_list_counts_from_the_kept_figures(client, org):
    """The images list's "rows … of N", whole or of one class (and role), from the kept counts; its last page read
    from the end shows the rows that are there. A dropped candidacy and a deleted image change both."""
    dataset = make_dataset(org, classes=("n01", "n02"), candidates=50, positives=4, negatives=4)  # 58 a class
    Candidate.delete().where(Candidate.image == Image.get(Image.key == "n02/0").id).execute()  # an image of none
    Image.delete().where(Image.key == "n01/1").execute()

    def shown(query: str) -> str:
        page = client.get(f"/datasets/{dataset.id}/images?{query}").get_data(as_text=True)
        return re.search(r"rows (\d+)–(\d+) of (\d+)", page).group(0)

    assert shown("page=999999") == "rows 97–115 of 115"  # 115 images, one with no class
    assert shown("class=n01&page=2") == "rows 49–57 of 57"
    assert shown("class=n02&role=candidate&page=999999") == "rows 49–49 of 49"
    assert shown("role=candidate&page=999999") == "rows 97–98 of 98"  # a role alone is counted
