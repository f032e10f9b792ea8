"""A batch of ``images`` × ``votes`` votes, written straight into the review read model (the Vote table).

``make bench-quality`` times reading these back and fitting them. The votes
are what a refit reads (services/review/fits.py), so the image records they
would be derived from are not written: deriving them is the tallies' cost,
measured by ``make bench-dashboard``. 1,000 classes of 144 images (10 positive
and 10 negative controls each); HITs of 10 pages of 48 images, each HIT done
by ``votes`` distinct workers from a pool of 600, who answer right 85 % of the time.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

IMAGES_PER_CLASS = 144
PAGE = 48
PAGES_PER_HIT = 10
WORKERS = 600
# a vote's control (Vote.control) by the image's role: candidate 0, positive 1, negative -1
CONTROL = (0, 1, -1)


def seed(database_url: str, images: int, votes: int, seed_value: int = 7, instance: str | None = None) -> int:
    """Create the batch in the (fresh) database at ``database_url``; returns its id. ``instance``: the app's
    instance folder (default: a temporary one, removed once the batch is written)."""
    if instance is None:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="freelunch-seed-votes-") as folder:
            return seed(database_url, images, votes, seed_value, folder)

    from freelunch import create_app
    from freelunch.db import database
    from freelunch.models import Assignment, Batch, Candidate, Dataset, Hit, Image, ImageClass, Organization
    from freelunch.services.schema import upgrade

    rng = np.random.default_rng(seed_value)
    app = create_app(
        {
            "DATABASE_URL": database_url,
            "SECRET_KEY": "bench",
            "WORKER_ID_KEY": "bench",
            "INSTANCE_PATH": instance,
        }
    )
    n_classes = images // IMAGES_PER_CLASS

    def bulk(model, rows, size=1000):
        for start in range(0, len(rows), size):
            model.insert_many(rows[start : start + size]).execute()

    with app.app_context():
        upgrade(database)
        with database.atomic():
            org = Organization.create(name="Bench quality").id
            dataset = Dataset.create(organization=org, name="Bench quality").id
            bulk(ImageClass, [dict(organization=org, dataset=dataset, key=f"n{c:08d}") for c in range(n_classes)])
            classes = [
                c
                for (c,) in ImageClass.select(ImageClass.id)
                .where(ImageClass.dataset == dataset)
                .order_by(ImageClass.id)
                .tuples()
            ]
            bulk(
                Image,
                [
                    dict(organization=org, dataset=dataset, key=f"n{c:08d}/{k:05d}.JPEG")
                    for c in range(n_classes)
                    for k in range(IMAGES_PER_CLASS)
                ],
            )
            image_ids = np.array(
                [i for (i,) in Image.select(Image.id).where(Image.dataset == dataset).order_by(Image.id).tuples()]
            )
            image_class = np.repeat(np.array(classes), IMAGES_PER_CLASS)
            role = np.tile(np.r_[np.full(10, 1), np.full(10, 2), np.zeros(IMAGES_PER_CLASS - 20, int)], n_classes)
            names = ("candidate", "positive", "negative")
            bulk(
                Candidate,
                [
                    dict(organization=org, image=int(i), image_class=int(c), role=names[r])
                    for i, c, r in zip(image_ids, image_class, role)
                ],
            )
            truth = np.where(role == 1, True, np.where(role == 2, False, rng.random(len(image_ids)) < 0.5))
            batch = Batch.create(
                organization=org, dataset=dataset, name="Bench quality", state="published", assignments_per_hit=votes
            ).id
            workers = [f"{w:010X}" for w in rng.choice(2**40, WORKERS, replace=False)]
            per_hit = PAGE * PAGES_PER_HIT
            now = dt.datetime(2026, 1, 1)
            vote_rows: list[tuple] = []
            for start in range(0, len(image_ids), per_hit):
                hit = Hit.create(organization=org, batch=batch).id
                shown = slice(start, start + per_hit)
                for w in rng.choice(WORKERS, votes, replace=False):
                    assignment = Assignment.create(
                        organization=org,
                        hit=hit,
                        worker_id=workers[w],
                        source="survey",
                        version="POINTER_ORIGINAL",
                        started_at=now,
                        done=True,
                    ).id
                    right = rng.random(len(image_ids[shown])) < 0.85
                    selected = np.where(right, truth[shown], ~truth[shown])
                    rows = [
                        (batch, int(c), int(i), assignment, bool(s), CONTROL[r])
                        for c, i, s, r in zip(image_class[shown], image_ids[shown], selected, role[shown])
                    ]
                    vote_rows.extend(rows)
                if len(vote_rows) >= 100_000:
                    _insert_votes(database, vote_rows)
                    vote_rows.clear()
            _insert_votes(database, vote_rows)
    return batch


def _insert_votes(database, rows: list[tuple]) -> None:
    """Many rows per statement through the driver (peewee's insert_many would take minutes for 1.44 M)."""
    from freelunch.db import is_sqlite

    sql = "INSERT INTO vote (batch_id, image_class_id, image_id, assignment_id, selected, control) VALUES "
    for start in range(0, len(rows), 2000):
        part = rows[start : start + 2000]
        marks = "(?, ?, ?, ?, ?, ?)" if is_sqlite() else "(%s, %s, %s, %s, %s, %s)"
        database.execute_sql(sql + ",".join([marks] * len(part)), [v for row in part for v in row])
