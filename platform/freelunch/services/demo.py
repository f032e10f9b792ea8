"""The demo: an organization, a dataset of shapes drawn at run time, and a ready batch.

Images are drawn with Pillow so the demo needs no download, yet a person can do
the task: each class is a shape, positives show it among clutter, negatives don't.
"""

from __future__ import annotations

import csv
import io
import math
import random
import zipfile
from functools import lru_cache

from flask import current_app
from PIL import Image as PILImage
from PIL import ImageDraw, ImageFilter

from .. import storage
from ..db import database
from ..models import Batch, Candidate, Dataset, Hit, Image, ImageClass, Membership, Organization, User
from .accounts.users import create_user, sign_up
from .batches.hits import build_hits
from .batches.links import survey_link
from .imports import hashing
from .mturk import access, gateway

EMAIL = "demo@example.com"
PASSWORD = "freelunch-demo"
# A site admin without a membership: opens the admin area (organizations, ingest buffer, RQ monitor).
ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "freelunch-admin"
ORGANIZATION = "Demo Lab"
DATASET = "Shapes (demo)"
BATCH = "Shapes, first round"

CLASSES = {
    "circle": (
        ["circle", "disc"],
        "a plane figure bounded by a closed curve every point of which is equidistant from the centre",
    ),
    "triangle": (["triangle", "trigon", "trilateral"], "a three-sided polygon"),
    "star": (
        ["star", "five-pointed star"],
        "a plane figure with five points radiating from a centre; often used as an emblem",
    ),
    "square": (["square", "foursquare"], "a plane rectangle with four equal sides and four right angles"),
}
CANDIDATES_PER_CLASS = 24
CONTROLS_PER_CLASS = 4
SIZES = [(320, 240), (300, 300), (360, 240), (240, 320)]


def _polygon(shape: str, cx: float, cy: float, r: float, turn: float) -> list[tuple[float, float]]:
    corners: list[tuple[float, int]]  # (radius as a share of r, angle in degrees)
    if shape == "triangle":
        corners = [(1, a) for a in (0, 120, 240)]
    elif shape == "square":
        corners = [(1, a) for a in (45, 135, 225, 315)]
    else:  # star
        corners = [(1 if i % 2 == 0 else 0.42, i * 36) for i in range(10)]
    return [
        (cx + k * r * math.cos(math.radians(a + turn)), cy + k * r * math.sin(math.radians(a + turn)))
        for k, a in corners
    ]


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, box: tuple[int, int], rng: random.Random) -> None:
    w, h = box
    r = rng.uniform(0.12, 0.22) * min(w, h)
    cx, cy = rng.uniform(r, w - r), rng.uniform(r, h - r)
    colour = tuple(rng.randrange(30, 230) for _ in range(3))
    if shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour, outline=(20, 20, 20), width=2)
    else:
        draw.polygon(_polygon(shape, cx, cy, r, rng.uniform(-90, 0)), fill=colour, outline=(20, 20, 20))


def draw_image(target: str, positive: bool, rng: random.Random) -> bytes:
    """A photo-like scene: a noisy gradient with 1-3 shapes, the target among them iff positive."""
    size = rng.choice(SIZES)
    top, bottom = (tuple(rng.randrange(120, 250) for _ in range(3)) for _ in range(2))
    image = PILImage.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for y in range(size[1]):
        t = y / size[1]
        draw.line([(0, y), (size[0], y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom)))
    others = [s for s in CLASSES if s != target]
    shapes = rng.sample(others, rng.randint(0 if positive else 1, 2))
    if positive:
        shapes.append(target)
    for shape in shapes:
        _draw_shape(draw, shape, size, rng)
    image = image.filter(ImageFilter.GaussianBlur(0.6))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=82)
    return out.getvalue()


SAMPLE_CANDIDATES = 6  # per class in the sample ZIP, with 2 positive and 2 negative controls


def sample_classes_csv() -> str:
    """The demo's classes as a class import CSV (docs/import-formats.md), for a first import."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["key", "names", "description", "wikipedia"])
    for key, (names, gloss) in CLASSES.items():
        writer.writerow([key, "; ".join(names), gloss, f"https://en.wikipedia.org/wiki/{names[0].capitalize()}"])
    return out.getvalue()


@lru_cache(maxsize=1)
def sample_images_zip() -> bytes:
    """A ZIP of class folders (candidates, positive/ and negative/ controls) drawn like the demo's images."""
    rng = random.Random(7)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:  # JPEGs do not compress further
        for key in CLASSES:
            plan = [("", rng.random() < 0.5) for _ in range(SAMPLE_CANDIDATES)]
            plan += [("positive/", True)] * 2 + [("negative/", False)] * 2
            for n, (folder, positive) in enumerate(plan):
                archive.writestr(f"{key}/{folder}{key}_{n:02d}.jpg", draw_image(key, positive, rng))
    return out.getvalue()


def _make_dataset(organization: Organization) -> Dataset:
    rng = random.Random(2023)
    dataset = Dataset.create(
        organization=organization, name=DATASET, description="Shapes drawn at run time for trying Freelunch."
    )
    for key, (names, gloss) in CLASSES.items():
        image_class = ImageClass.create(
            organization=organization,
            dataset=dataset,
            key=key,
            names=names,
            description=gloss,
            wikipedia=[f"https://en.wikipedia.org/wiki/{names[0].capitalize()}"],
        )
        plan = [("candidate", rng.random() < 0.5) for _ in range(CANDIDATES_PER_CLASS)]
        plan += [("positive", True)] * CONTROLS_PER_CLASS + [("negative", False)] * CONTROLS_PER_CLASS
        for n, (role, positive) in enumerate(plan):
            data = draw_image(key, positive, rng)
            path = storage.save(f"datasets/{dataset.id}/{key}/{key}_{n:03d}.jpg", data)
            with PILImage.open(io.BytesIO(data)) as probe:
                width, height = probe.size
            hashes = hashing.hashes_of_bytes(data)
            image = Image.create(
                organization=organization,
                dataset=dataset,
                key=f"{key}/{key}_{n:03d}",
                storage_path=path,
                width=width,
                height=height,
                phash=hashes.phash,  # as an import would: the duplicates panel can search them
                edge_phashes=hashes.edges,
            )
            Candidate.create(organization=organization, image=image, image_class=image_class, role=role)
    return dataset


def ensure_demo() -> dict:
    """Create what is missing of the demo, then describe it. Safe to run again."""
    with database.atomic():
        user = User.get_or_none(User.email == EMAIL) or sign_up(EMAIL, PASSWORD, ORGANIZATION, "Demo Requester")
        if not User.select().where(User.email == ADMIN_EMAIL).exists():
            create_user(ADMIN_EMAIL, ADMIN_PASSWORD, "Demo Admin", is_admin=True)
        organization = Membership.get(Membership.user == user).organization
        dataset = Dataset.get_or_none(Dataset.organization == organization, Dataset.name == DATASET)
        dataset = dataset or _make_dataset(organization)
        batch = Batch.get_or_none(Batch.organization == organization, Batch.name == BATCH)
        if batch is None:
            batch = Batch.create(
                organization=organization,
                dataset=dataset,
                name=BATCH,
                pages_per_hit=4,
                images_per_page=16,
                positives_per_page=2,
                negatives_per_page=2,
                assignments_per_hit=3,
                versions=["POINTER_ORIGINAL", "NO_POINTER_ORIGINAL", "POINTER_NO_ORIGINAL", "NO_POINTER_NO_ORIGINAL"],
                title="Click every image that shows the shape",
                description="Demo batch",
                reward="0.50",
            )
            build_hits(batch)
        if current_app.config.get("MTURK_ENDPOINT_URL") and gateway.is_local_endpoint():
            # Only the local stand-in: the demo rehearses MTurk on the server's (fake) account, never real money.
            access.grant(organization, "freelunch demo (local MTurk stand-in)", "demo organization")
    hits = batch.hits.order_by(Hit.id)
    base = current_app.config["PUBLIC_URL"]
    return {
        "dashboard_url": f"{base}/",
        "login": {"email": EMAIL, "password": PASSWORD},
        "admin": {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
        "batch_id": batch.id,
        # MTurk-shaped worker ids: survey links accept no others.
        "worker_links": [survey_link(hit, f"DEMOWORKER{n}") for n, hit in enumerate(hits, 1)],
    }
