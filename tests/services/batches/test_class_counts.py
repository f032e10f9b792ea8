"""The builder's per-class counts of candidates and controls: kept by the database as candidates are written,
changed and deleted (migration 0021), read without reading the candidates."""

from __future__ import annotations

from factories import make_dataset
from peewee import fn

from freelunch.models import Candidate, DuplicateMember, Image, ImageClass
from freelunch.services.batches.builder import class_role_counts
from freelunch.services.imports import images as image_imports


def _by_reading_every_candidate(dataset) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = {c.id: {} for c in ImageClass.select().where(ImageClass.dataset == dataset)}
    dropped = DuplicateMember.select(DuplicateMember.image).where(
        DuplicateMember.dataset == dataset, DuplicateMember.decision == "drop"
    )
    for class_id, role, n in (
        Candidate.select(Candidate.image_class, Candidate.role, fn.COUNT(Candidate.id))
        .join(ImageClass)
        .where(ImageClass.dataset == dataset, ~((Candidate.role == "candidate") & Candidate.image.in_(dropped)))
        .group_by(Candidate.image_class, Candidate.role)
        .tuples()
    ):
        counts[class_id][role] = n
    return counts


def test_counts_follow_imports_role_changes_drops_and_deletes(app, org, tmp_path):
    dataset = make_dataset(org, classes=("n01", "n02"), candidates=5, positives=2, negatives=1)
    n01, n02 = (ImageClass.get(ImageClass.dataset == dataset, ImageClass.key == k).id for k in ("n01", "n02"))
    assert class_role_counts(dataset, None) == {
        n01: {"candidate": 5, "positive": 2, "negative": 1},
        n02: {"candidate": 5, "positive": 2, "negative": 1},
    }

    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "image_id,url,class,role,width,height\n"
        "n01/0,https://img.example/n01/0.jpg,n01,positive,500,375\n"  # a candidate becomes a control
        "n01/new,https://img.example/new.jpg,n01,candidate,500,375\n"
        "n01/new,https://img.example/new.jpg,n02,negative,500,375\n"  # the same image offered to another class
    )
    image_imports.import_image_manifest(dataset, manifest, fetcher=lambda url: b"")
    assert class_role_counts(dataset, None) == {
        n01: {"candidate": 5, "positive": 3, "negative": 1},
        n02: {"candidate": 5, "positive": 2, "negative": 2},
    }

    images = {i.key: i.id for i in Image.select().where(Image.dataset == dataset)}
    DuplicateMember.create(
        organization=org, dataset=dataset, group=1, image=images["n02/1"], distance=0, decision="drop"
    )
    Image.delete().where(Image.id == images["n01/2"]).execute()  # its candidacy goes with it
    expected = {
        n01: {"candidate": 4, "positive": 3, "negative": 1},
        n02: {"candidate": 4, "positive": 2, "negative": 2},
    }
    assert class_role_counts(dataset, None) == expected == _by_reading_every_candidate(dataset)
    assert class_role_counts(dataset, [n02]) == {n02: expected[n02]}

    ImageClass.delete().where(ImageClass.id == n02).execute()
    assert class_role_counts(dataset, None) == {n01: expected[n01]} == _by_reading_every_candidate(dataset)
