"""A dataset's near-duplicate groups: found by a real RQ job, shown on the dataset's page, decided by the requester
(CSRF-checked, tenancy-checked), and the dropped images left out of the HITs the builder makes."""

import io
import random
import zipfile

import numpy as np
from factories import PICTURE, make_dataset, picture
from PIL import Image as PILImage
from support import csrf_token, login

from freelunch import storage
from freelunch.models import Batch, Dataset, DuplicateMember, HitPage, Image, ImageClass
from freelunch.services.batches import builder
from freelunch.services.batches.hits import build_hits
from freelunch.services.datasets.deletion import delete_dataset
from freelunch.services.duplicates import groups, search
from freelunch.services.imports import hashing
from freelunch.services.imports import images as image_imports


def plant(dataset):
    """Distinct random hashes, then: n01/1 3 bits from n01/0 (one class), n02/0 1 bit from n01/5 (across
    classes), n01/3 12 bits from n01/2 (too far). Returns the images by key."""
    rng = random.Random(7)
    images = {i.key: i for i in Image.select().where(Image.dataset == dataset)}
    bits = {key: rng.getrandbits(64) for key in images}
    bits["n01/1"] = bits["n01/0"] ^ 0b10101
    bits["n02/0"] = bits["n01/5"] ^ (1 << 63)
    bits["n01/3"] = bits["n01/2"] ^ 0xFFF
    for key, image in images.items():
        image.phash = hashing.to_signed(bits[key])
        image.save()
    return images


def test_groups_within_and_across_classes_and_the_builder_leaves_dropped_out(app, org):
    dataset = make_dataset(org, candidates=10, positives=0, negatives=0)
    images = plant(dataset)
    Image.update(phash=None).where(Image.id == images["n02/9"].id).execute()
    found = groups.find(dataset)
    assert found == {"groups": 2, "images": 4, "compared": 19, "unhashed": 1}
    listed = groups.listing(dataset)
    members = [[(m["image"].key, m["distance"], m["decision"]) for m in g["members"]] for g in listed]
    assert members == [[("n01/0", 0, None), ("n01/1", 3, None)], [("n01/5", 0, None), ("n02/0", 1, None)]]
    assert [g["across"] for g in listed] == [False, True]

    assert groups.decide(dataset, 1, "keep-one", images["n01/1"].id)
    assert groups.decide(dataset, 2, "keep-all")
    assert not groups.decide(dataset, 1, "keep-one", images["n02/3"].id)  # not a member: refused
    assert not groups.decide(dataset, 9, "drop-all")
    assert groups.counts(dataset) == {
        "groups": 2,
        "images": 4,
        "dropped": 1,
        "undecided": 0,
        "unhashed": 1,
        "edgeless": 20,
    }
    groups.find(dataset)  # searching again keeps what was decided
    assert dict(DuplicateMember.select(DuplicateMember.image, DuplicateMember.decision).tuples()) == {
        images["n01/0"].id: "drop",
        images["n01/1"].id: "keep",
        images["n01/5"].id: "keep",
        images["n02/0"].id: "keep",
    }

    counts = builder.class_role_counts(dataset, None)
    assert [counts[c]["candidate"] for c in sorted(counts)] == [9, 10]
    assert builder.dropped_candidates(dataset, None) == 1
    batch = Batch.create(organization=org, dataset=dataset, name="b", images_per_page=5, pages_per_hit=2)
    build_hits(batch)
    shown = [i for page in HitPage.select() for i in page.image_ids + page.spare_image_ids]
    assert images["n01/0"].id not in shown and images["n01/1"].id in shown
    assert len({i for page in HitPage.select() for i in page.image_ids}) == 19

    with app.app_context():  # storage: the dataset's files go too
        delete_dataset(Dataset.get_by_id(dataset.id))  # the groups go with their dataset
    assert not DuplicateMember.select().exists()


def post(client, url, **data):
    return client.post(url, data={"csrf_token": csrf_token(client), **data})


def test_the_page_runs_the_search_shows_the_groups_and_takes_decisions(app, client, org, make_account, run_jobs):
    dataset = make_dataset(org, candidates=10, positives=0, negatives=0)
    images = plant(dataset)
    page = client.get(f"/datasets/{dataset.id}").get_data(as_text=True)
    assert "No near-duplicates found yet" in page
    assert client.post(f"/datasets/{dataset.id}/duplicates/find").status_code == 400  # no CSRF token
    assert post(client, f"/datasets/{dataset.id}/duplicates/find").status_code == 302
    run_jobs()
    page = client.get(f"/datasets/{dataset.id}").get_data(as_text=True)
    assert "2 groups of near-duplicates (4 images)" in page and "2 groups to decide" in page
    assert "across classes: n01, n02" in page and "3 bits from the first" in page
    assert f"/datasets/images/{images['n01/1'].id}/thumbnail" in page

    keep = post(client, f"/datasets/{dataset.id}/duplicates/1", decision="keep-one", keep=images["n01/1"].id)
    assert keep.status_code == 302 and keep.headers["Location"].endswith("#duplicates")
    assert DuplicateMember.get(DuplicateMember.image == images["n01/0"].id).decision == "drop"
    builder_page = client.get(f"/batches/new?dataset_id={dataset.id}").get_data(as_text=True)
    assert "1 candidate dropped as near-duplicates" in builder_page
    assert post(client, f"/datasets/{dataset.id}/duplicates/2", decision="explode").status_code == 404

    _, other = make_account("other@example.org", "Other lab")
    foreign = make_dataset(other, candidates=10, positives=0, negatives=0, name="Theirs")
    plant(foreign)
    groups.find(foreign)
    other_client = app.test_client()
    login(other_client, "other@example.org")
    assert post(other_client, f"/datasets/{dataset.id}/duplicates/2", decision="drop-all").status_code == 404
    assert post(other_client, f"/datasets/{dataset.id}/duplicates/find").status_code == 404
    assert post(other_client, f"/datasets/{foreign.id}/duplicates/2", decision="drop-all").status_code == 302
    assert DuplicateMember.get(DuplicateMember.image == images["n02/0"].id).decision is None


def scene(seed: int, crop_right: float = 0.0) -> bytes:
    """A picture of coloured blocks (one for each seed), optionally with a share of its width cut off the right."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)
    image = PILImage.fromarray(blocks).resize((400, 300), PILImage.BICUBIC)
    image = image.crop((0, 0, round(400 * (1 - crop_right)), 300))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def test_a_copy_cropped_at_one_edge_is_grouped_with_its_original_after_a_zip_import(app, org, tmp_path):
    """Through the import (which stores the edge hashes) and the search: the crop, which the whole-picture hash
    alone misses (asserted, so this test keeps testing the edge hashes), is grouped 0-2 bits from its original."""
    dataset = Dataset.create(organization=org, name="Crops")
    ImageClass.create(organization=org, dataset=dataset, key="n01", names=["thing"])
    pictures = {"original": scene(3), "cropped": scene(3, crop_right=0.05), "other": scene(4)}
    whole = {name: hashing.hashes_of_bytes(data).phash for name, data in pictures.items()}
    assert hashing.distance(whole["original"], whole["cropped"]) > search.DISTANCE
    archive = tmp_path / "images.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for name, data in pictures.items():
            zipped.writestr(f"n01/{name}.jpg", data)
    with app.app_context():
        image_imports.import_image_zip(dataset, archive)
    assert groups.find(dataset) == {"groups": 1, "images": 2, "compared": 3, "unhashed": 0}
    (group,) = groups.listing(dataset)
    assert [(m["image"].key, m["distance"] <= 2) for m in group["members"]] == [
        ("n01/original", True),
        ("n01/cropped", True),
    ]


def test_images_without_a_hash_are_fetched_and_hashed_when_asked(app, client, org, run_jobs, local_server):
    """A manifest that gave sizes left its images unhashed: the search offers to fetch them first (through the
    import's safe fetcher, here allowed the test server), and counts what it could not read."""
    app.config["IMPORT_ALLOW_PRIVATE_URLS"] = True
    dataset = make_dataset(org, classes=("n01",), candidates=3, positives=0, negatives=0)
    first, second, third = Image.select().order_by(Image.id)
    Image.update(url=f"{local_server}/a.png").where(Image.id == first.id).execute()
    Image.update(url=f"{local_server}/nothing.png").where(Image.id == second.id).execute()
    with app.app_context():
        stored = storage.save(f"datasets/{dataset.id}/stored.png", picture(size=(320, 240)), "image/png")
    # the third has a manifest's pHash but no edge hashes: hashed again, so that its cropped copies are found
    Image.update(url=None, storage_path=stored, phash=1).where(Image.id == third.id).execute()
    page = client.get(f"/datasets/{dataset.id}").get_data(as_text=True)
    assert "First fetch and hash the 3 images without a hash or edge hashes" in page
    assert post(client, f"/datasets/{dataset.id}/duplicates/find", hash_missing="y").status_code == 302
    run_jobs()
    query = Image.select(Image.id, Image.phash, Image.edge_phashes)
    hashes = {i: (phash, edges and bytes(edges)) for i, phash, edges in query.tuples()}
    assert hashes[first.id] == hashing.hashes_of_bytes(PICTURE) and hashes[second.id] == (None, None)
    assert hashes[third.id] == hashing.hashes_of_bytes(picture(size=(320, 240)))
    page = client.get(f"/datasets/{dataset.id}").get_data(as_text=True)
    assert "First fetch and hash the 1 image without a hash or edge hashes" in page
    # the two flat red pictures are one picture to pHash: a group, found in the same job
    assert "1 group of near-duplicates (2 images)" in page


def test_a_reference_set_is_searched_with_and_keeping_it_drops_the_candidate(app, client, org, make_account, run_jobs):
    """A test set imported as a dataset of its own: its images join the search; a group shows which are the
    reference's, and keeping the reference image drops the dataset's copy. Another organization's dataset, or the
    dataset itself, is no reference (404)."""
    dataset = make_dataset(org, candidates=10, positives=0, negatives=0)
    images = plant(dataset)
    reference = make_dataset(org, classes=("t01",), candidates=2, positives=0, negatives=0, name="Test set")
    test_image, other = Image.select().where(Image.dataset == reference).order_by(Image.id)
    Image.update(phash=images["n01/7"].phash ^ 0b11).where(Image.id == test_image.id).execute()  # 2 bits
    Image.update(phash=images["n01/2"].phash ^ 0x0F0F0F0F0F).where(Image.id == other.id).execute()  # 16+ bits: far
    assert post(client, f"/datasets/{dataset.id}/duplicates/find", reference_id=reference.id).status_code == 302
    run_jobs()
    page = client.get(f"/datasets/{dataset.id}").get_data(as_text=True)
    assert "3 groups of near-duplicates (6 images)" in page and "matches the reference set" in page
    assert f"{test_image.key} (reference set)" in page
    group = DuplicateMember.get(DuplicateMember.image == test_image.id).group
    kept = post(client, f"/datasets/{dataset.id}/duplicates/{group}", decision="keep-one", keep=test_image.id)
    assert kept.status_code == 302
    assert DuplicateMember.get(DuplicateMember.image == images["n01/7"].id).decision == "drop"
    assert builder.dropped_candidates(dataset, None) == 1
    assert not DuplicateMember.select().where(DuplicateMember.image == other.id).exists()

    _, stranger = make_account("other@example.org", "Other lab")
    theirs = make_dataset(stranger, classes=("x",), candidates=1, positives=0, negatives=0, name="Theirs")
    assert post(client, f"/datasets/{dataset.id}/duplicates/find", reference_id=theirs.id).status_code == 404
    assert post(client, f"/datasets/{dataset.id}/duplicates/find", reference_id=dataset.id).status_code == 404
