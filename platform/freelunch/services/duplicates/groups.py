"""A dataset's near-duplicate groups: found among its hashed images (search.py), stored, and decided by the requester.

A group is a connected set of images each near another: whole-picture hashes within ``search.DISTANCE`` bits, or
one's edge hash (the picture with 5 % cut off an edge, services/imports/hashing.py) within ``search.EDGE_DISTANCE``
bits of the other's whole-picture hash (a copy cropped at that edge). Its first image is the one imported first, and
every member's distance is counted from it: the closest of the two ways. Searching again keeps the decisions already
made for images still in a group. Dropped images are left out of the HITs the builder makes (``dropped``).
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ...db import database
from ...models import Candidate, Dataset, DatasetImageCount, DuplicateMember, Image, ImageClass
from ..imports import hashing
from . import search

INSERT_CHUNK = 5000


def _hashed(dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """The image ids of the dataset's hashed images, and their hashes: an (n, 5) uint64 array of the whole picture's
    and the four edge hashes. An image without edge hashes (a manifest gave only its pHash) has its whole picture's
    in their place: the search then finds what the whole-picture hash alone finds."""
    query = Image.select(Image.id, Image.phash, Image.edge_phashes).where(
        Image.dataset == dataset, Image.phash.is_null(False)
    )
    rows = list(query.tuples())
    ids = np.array([row[0] for row in rows], dtype=np.int64)
    whole = np.array([row[1] for row in rows], dtype=np.int64).view(np.uint64)
    blank = bytes(8 * len(hashing.EDGES))
    edges = hashing.edges_of([row[2] or blank for row in rows])
    edgeless = np.array([row[2] is None for row in rows], dtype=bool)
    edges[edgeless] = whole[edgeless, None]
    return ids, np.column_stack([whole, edges]) if len(rows) else np.empty((0, 1 + len(hashing.EDGES)), np.uint64)


def find(dataset: Dataset, reference: Dataset | None = None, progress=None) -> dict[str, int]:
    """Search the dataset's hashed images for near-duplicates and store the groups; counts for the summary.

    ``reference``: another dataset of the organization whose images must not be labelled again (a test set): its
    images join the search, and a group of the dataset's images with one of them shows it; the reference's own
    images are never labelled from here (they are no candidates of this dataset), so keeping one drops the rest."""
    ids, hashes = _hashed(dataset)
    own = len(ids)
    if reference is not None:
        reference_ids, reference_hashes = _hashed(reference)
        ids, hashes = np.concatenate([ids, reference_ids]), np.concatenate([hashes, reference_hashes])
    unhashed = Image.select().where(Image.dataset == dataset, Image.phash.is_null()).count()
    if progress:
        progress(0.5, f"Comparing {len(ids):,} images")
    component = components(hashes[:, 0], hashes[:, 1:])
    component[own:][~np.isin(component[own:], component[:own])] = -1  # the reference's own groups
    members: list[tuple[int, int, int]] = []  # (group, image id, distance to the group's first)
    grouped = np.flatnonzero(component >= 0)
    grouped = grouped[np.lexsort((ids[grouped], component[grouped]))]  # by group, then by import order
    for number, group in enumerate(np.split(grouped, np.flatnonzero(np.diff(component[grouped])) + 1), 1):
        if not len(group):
            continue
        for index, bits in zip(group, closest(hashes, group, group[0])):
            members.append((number, int(ids[index]), int(bits)))
    decided = dict(
        DuplicateMember.select(DuplicateMember.image, DuplicateMember.decision)
        .where(DuplicateMember.dataset == dataset, DuplicateMember.decision.is_null(False))
        .tuples()
    )
    with database.atomic():
        DuplicateMember.delete().where(DuplicateMember.dataset == dataset).execute()
        for start in range(0, len(members), INSERT_CHUNK):
            DuplicateMember.insert_many(
                [
                    dict(
                        organization=dataset.organization_id,
                        dataset=dataset.id,
                        group=group,
                        image=image_id,
                        distance=bits,
                        decision=decided.get(image_id),
                    )
                    for group, image_id, bits in members[start : start + INSERT_CHUNK]
                ]
            ).execute()
    groups = len({group for group, _, _ in members})
    return {"groups": groups, "images": len(members), "compared": own, "unhashed": unhashed}


def closest(hashes: np.ndarray, members: np.ndarray, first: int) -> np.ndarray:
    """Each member's distance in bits from the first: the closer of the whole pictures' hashes and of an edge hash
    of one against the whole picture's of the other (rows of ``hashes`` as ``_hashed`` gives them)."""
    whole = hashes[members, 0]
    return np.minimum.reduce(
        [
            np.bitwise_count(whole ^ hashes[first, 0]),
            np.bitwise_count(hashes[members, 1:] ^ hashes[first, 0]).min(axis=1),
            np.bitwise_count(hashes[first, 1:][None, :] ^ whole[:, None]).min(axis=1),
        ]
    )


def linked(whole: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(i, j) arrays, i < j, each pair once, of the images near each other: whole-picture hashes within
    ``search.DISTANCE`` bits, or an edge hash ((n, 4) ``edges``) within ``search.EDGE_DISTANCE`` bits of the other
    image's whole-picture hash."""
    n = len(whole)
    if n < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    i, j, _ = search.near_pairs(whole, search.DISTANCE)
    query, near, _ = search.near_pairs_between(edges.ravel(), whole, search.EDGE_DISTANCE)
    owner = query // edges.shape[1]
    other = owner != near  # an image's edge hash near its own whole-picture hash says nothing
    a, b = np.concatenate([i, owner[other]]), np.concatenate([j, near[other]])
    pairs = np.unique(np.minimum(a, b) * n + np.maximum(a, b))
    return pairs // n, pairs % n


def components(whole: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Each image's group (``linked`` pairs joined transitively), -1 for an image near no other. What the job runs;
    bench/duplicates.py times it on 1.28 M images."""
    n = len(whole)
    i, j = linked(whole, edges)
    if not len(i):
        return np.full(n, -1, np.int64)
    _, component = connected_components(coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n)), directed=False)
    return np.where(np.bincount(component)[component] > 1, component, -1)


def listing(dataset: Dataset, limit: int = 50) -> list[dict]:
    """The first ``limit`` groups, each with its members (image, distance, decision, of the reference set or not) in
    import order, the classes of its images and how many of them are the reference set's."""
    rows = list(
        DuplicateMember.select(DuplicateMember, Image)
        .join(Image)
        .where(DuplicateMember.dataset == dataset, DuplicateMember.group <= limit)
        .order_by(DuplicateMember.group, DuplicateMember.distance, Image.id)
    )
    classes: dict[int, list[str]] = {}
    query = (
        Candidate.select(Candidate.image, ImageClass.key)
        .join(ImageClass)
        .where(Candidate.image.in_([row.image_id for row in rows]))
        .tuples()
    )
    for image_id, key in query:
        classes.setdefault(image_id, []).append(key)
    groups: dict[int, dict] = {}
    for row in rows:
        group = groups.setdefault(row.group, {"number": row.group, "members": [], "classes": set(), "references": 0})
        keys = sorted(classes.get(row.image_id, []))
        reference = row.image.dataset_id != dataset.id  # an image of the reference set the search compared with
        group["members"].append(
            {"image": row.image, "distance": row.distance, "decision": row.decision, "reference": reference}
        )
        group["references"] += reference
        if not reference:  # the reference set's classes are its own, not this dataset's
            group["classes"].update(keys)
    return [{**g, "across": len(g["classes"]) > 1} for g in groups.values()]


def references(dataset: Dataset):
    """The organization's other datasets, which a search may compare with (a reference set)."""
    return (
        Dataset.select(Dataset.id, Dataset.name)
        .where(Dataset.organization == dataset.organization_id, Dataset.id != dataset.id)
        .order_by(Dataset.name)
    )


def counts(dataset: Dataset) -> dict[str, int]:
    """How many groups and images the last search found, how many are dropped, how many groups await a decision,
    how many of the dataset's images have no hash (the search cannot see them) and how many have no edge hashes
    (those and the ones a manifest gave only the pHash of: a copy cropped at one edge may be missed)."""
    members = DuplicateMember.select().where(DuplicateMember.dataset == dataset)
    return {
        **DatasetImageCount.hashes_of(dataset.id),  # kept by the database: not a count over every image
        "groups": members.select(DuplicateMember.group).distinct().count(),
        "images": members.count(),
        "dropped": members.where(DuplicateMember.decision == "drop").count(),
        "undecided": members.where(DuplicateMember.decision.is_null()).select(DuplicateMember.group).distinct().count(),
    }


DECISIONS = ("keep-one", "drop-all", "keep-all")


def decide(dataset: Dataset, group: int, decision: str, keep_image_id: int | None = None) -> bool:
    """Keep one image of the group and drop the rest, drop all or keep all; False when the group or image is not
    the dataset's (the caller answers 404)."""
    members = DuplicateMember.select().where(DuplicateMember.dataset == dataset, DuplicateMember.group == group)
    image_ids = [m.image_id for m in members]
    if not image_ids or decision not in DECISIONS or (decision == "keep-one" and keep_image_id not in image_ids):
        return False
    with database.atomic():
        where = (DuplicateMember.dataset == dataset) & (DuplicateMember.group == group)
        DuplicateMember.update(decision="keep" if decision == "keep-all" else "drop").where(where).execute()
        if decision == "keep-one":
            DuplicateMember.update(decision="keep").where(where & (DuplicateMember.image == keep_image_id)).execute()
    return True


def dropped(dataset_id: int):
    """The dataset's image ids the requester dropped as near-duplicates (a subquery)."""
    return DuplicateMember.select(DuplicateMember.image).where(
        DuplicateMember.dataset == dataset_id, DuplicateMember.decision == "drop"
    )
