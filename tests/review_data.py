"""A small, fully known campaign for the review, labels and exports tests, built directly with the models.

Classes A ("n01", fish) and B ("n02", dog), each with candidates 1-4, a positive
control "p" and a negative control "n". Two HITs of two pages (A then B), two
assignments per HIT:

    HIT 1  W1 (careful)  A: selects 1, p      B: selects 1, p        done
           W3 (careless) A: selects 2, n      B: selects n           done
    HIT 2  W2 (careful)  A: selects 3, p      B: selects 3, 4, p     done
           W3            A: selects 4, n      (page B not submitted)

So W1 and W2 answer every control right, W3 every control wrong. Each page
lasts 4 s (1 s per image); W1's first page stored 2 of the 3 pointer batches
its tracker reported, every other page all of them.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from freelunch.models import (Assignment, Batch, Candidate, Dataset, Hit, HitPage, Image, ImageClass, ImageRecord,
                              PageSubmission, PointerChunk)

T0 = 1_700_000_000_000  # epoch ms of the first page


@dataclass
class Campaign:
    batch: Batch
    images: dict[str, Image]  # "a1", "ap", "an", "b1", ...
    classes: dict[str, ImageClass]
    hits: list[Hit]
    assignments: dict[str, Assignment]  # "h1w1", "h1w3", "h2w2", "h2w3"
    pages: dict[str, PageSubmission] = field(default_factory=dict)  # "h1w1a" ...


def make_image(org, dataset, image_class, key: str, role: str) -> Image:
    image = Image.create(organization=org, dataset=dataset, key=key, url=f"https://example.org/{key}.jpg",
                         width=500, height=375)
    Candidate.create(organization=org, image=image, image_class=image_class, role=role)
    return image


def submit_page(assignment: Assignment, hit_page: HitPage, selected: set[int], start: int, *,
                chunks: int = 1, reported: int | None = None, estimate: int = 500) -> PageSubmission:
    """Store a submitted page: one record per image (1 s each), ``selected`` image ids selected, with moves."""
    end = start + 1000 * len(hit_page.image_ids)
    page = PageSubmission.create(
        assignment=assignment, hit_page=hit_page, pageno=hit_page.pageno, started_at=start, ended_at=end,
        chunks_reported=chunks if reported is None else reported,
        submitted_at=dt.datetime.fromtimestamp(end / 1000, dt.timezone.utc).replace(tzinfo=None),
    )
    events = []
    for i, image_id in enumerate(hit_page.image_ids):
        enter = start + 1000 * i
        is_selected = image_id in selected
        ImageRecord.create(
            page=page, image=image_id, grid_index=i, original_width=500, original_height=375, width=240, height=180,
            position_x=10 + 250 * i, position_y=300,
            hovered_record=[{"action": "enter", "time": enter + 10}, {"action": "leave", "time": enter + 900}],
            hovered_count=1, selected=is_selected, selected_count=int(is_selected),
            selected_record=[{"x": 0.5, "y": 0.5, "time": enter + 500}] if is_selected else [],
            estimate_time=estimate,
        )
        events += [{"type": "enter", "i": i, "time": enter + 10},
                   {"type": "move", "i": i, "x": 0.1, "y": 0.2, "time": enter + 100},
                   {"type": "move", "i": i, "x": 0.4, "y": 0.5, "time": enter + 300}]
        if is_selected:
            events.append({"type": "click", "i": i, "x": 0.5, "y": 0.5, "time": enter + 500, "selected": True})
        events.append({"type": "leave", "i": i, "time": enter + 900})
    size = -(-len(events) // chunks)
    for seq in range(chunks):
        part = events[seq * size:(seq + 1) * size]
        PointerChunk.create(assignment=assignment, pageno=hit_page.pageno, seq=seq, n_events=len(part),
                            events=json.dumps(part), received_at=start + seq)
    return page


def make_campaign(org, name: str = "Review batch") -> Campaign:
    dataset = Dataset.create(organization=org, name=f"{name} data")
    classes = {
        "A": ImageClass.create(organization=org, dataset=dataset, key="n01", names=["fish", "tench"], description="a fish"),
        "B": ImageClass.create(organization=org, dataset=dataset, key="n02", names=["dog"], description="a dog"),
    }
    images = {}
    for letter, image_class in (("a", classes["A"]), ("b", classes["B"])):
        for n in range(1, 5):
            images[f"{letter}{n}"] = make_image(org, dataset, image_class, f"{image_class.key}/{letter}{n}", "candidate")
        images[f"{letter}p"] = make_image(org, dataset, image_class, f"{image_class.key}/{letter}p", "positive")
        images[f"{letter}n"] = make_image(org, dataset, image_class, f"{image_class.key}/{letter}n", "negative")
    batch = Batch.create(organization=org, dataset=dataset, name=name, pages_per_hit=2, images_per_page=4,
                         positives_per_page=1, negatives_per_page=1, assignments_per_hit=2, state="ready")
    i = {k: v.id for k, v in images.items()}
    hits, hit_pages = [], {}
    for h, (a, b) in enumerate(((("a1", "a2"), ("b1", "b2")), (("a3", "a4"), ("b3", "b4"))), 1):
        hit = Hit.create(organization=org, batch=batch)
        hits.append(hit)
        hit_pages[(h, "A")] = HitPage.create(organization=org, hit=hit, pageno=1, image_class=classes["A"],
                                             image_ids=[i[a[0]], i["ap"], i[a[1]], i["an"]])
        hit_pages[(h, "B")] = HitPage.create(organization=org, hit=hit, pageno=2, image_class=classes["B"],
                                             image_ids=[i[b[0]], i["bn"], i["bp"], i[b[1]]])

    def assign(hit: Hit, worker: str, done: bool) -> Assignment:
        return Assignment.create(organization=org, hit=hit, worker_id=worker, source="lab", version="POINTER_ORIGINAL",
                                 done=done, completion_code="C0FFEE" if done else None)

    c = Campaign(batch, images, classes, hits, {
        "h1w1": assign(hits[0], "W1AAAAAAAA", True),
        "h1w3": assign(hits[0], "W3CCCCCCCC", True),
        "h2w2": assign(hits[1], "W2BBBBBBBB", True),
        "h2w3": assign(hits[1], "W3CCCCCCCC", False),
    })
    plan = [
        ("h1w1a", "h1w1", (1, "A"), {"a1", "ap"}, dict(chunks=2, reported=3)),
        ("h1w1b", "h1w1", (1, "B"), {"b1", "bp"}, {}),
        ("h1w3a", "h1w3", (1, "A"), {"a2", "an"}, {}),
        ("h1w3b", "h1w3", (1, "B"), {"bn"}, {}),
        ("h2w2a", "h2w2", (2, "A"), {"a3", "ap"}, {}),
        ("h2w2b", "h2w2", (2, "B"), {"b3", "b4", "bp"}, {}),
        ("h2w3a", "h2w3", (2, "A"), {"a4", "an"}, {}),
    ]
    for n, (key, assignment, hit_page, chosen, options) in enumerate(plan):
        c.pages[key] = submit_page(c.assignments[assignment], hit_pages[hit_page], {i[k] for k in chosen},
                                   T0 + 60_000 * n, **options)
    return c
