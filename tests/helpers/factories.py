"""Builders of test data, shared by every test module (test modules never import each other).

Rows are built directly with the models; where a test needs what a worker's
browser would send, the builders return it as the tracker would. Helpers that
drive the test client (logging in, posting a page) are in ``support.py``.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import time
from dataclasses import dataclass, field

from PIL import Image as PILImage

from freelunch import storage
from freelunch.models import (
    Assignment,
    Batch,
    Candidate,
    Dataset,
    Hit,
    HitPage,
    Image,
    ImageClass,
    ImageRecord,
    ModelScore,
    MTurkAssignment,
    MTurkHit,
    Organization,
    PageSubmission,
    PointerChunk,
    ServerAccountGrant,
    Vote,
    utcnow,
)
from freelunch.services.accounts.identity import assignment_token
from freelunch.services.batches.hits import build_hits
from freelunch.services.review import tallies


def picture(kind: str = "PNG", size=(64, 48)) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", size, (200, 30, 30)).save(out, kind)
    return out.getvalue()


PICTURE = picture(size=(320, 240))  # what the test web server (conftest.local_server) serves as /a.png


# --- a dataset and a built batch ------------------------------------------


def make_dataset(org, classes=("n01", "n02"), candidates=50, positives=4, negatives=4, name="ImageNet"):
    dataset = Dataset.create(organization=org, name=name)
    for key in classes:
        image_class = ImageClass.create(organization=org, dataset=dataset, key=key, names=[f"{key} thing", "other"])
        plan = ["candidate"] * candidates + ["positive"] * positives + ["negative"] * negatives
        for n, role in enumerate(plan):
            image = Image.create(
                organization=org,
                dataset=dataset,
                key=f"{key}/{n}",
                url=f"https://img.example/{key}/{n}.jpg",
                width=500,
                height=375,
            )
            Candidate.create(organization=org, image=image, image_class=image_class, role=role)
    return dataset


SIZES = [(500, 375), (375, 500), (400, 300)]


def grant_server_account(org) -> ServerAccountGrant:
    """Let an organization with no key pair use the server's MTurk account, as a site admin would."""
    return ServerAccountGrant.create(organization=org, granted_by="tests")


def make_batch(
    app,
    organization,
    *,
    pages=2,
    per_page=6,
    hits=1,
    versions=("POINTER_ORIGINAL",),
    one_hit_per_worker=False,
    assignments_per_hit=3,
    name="Fish",
    reward="0.00",
):
    """A one-class dataset with real image files and a ready batch of ``hits`` HITs of ``pages`` pages.

    A page's spare images are those of the class's other pages (services/batches/hits.py).
    """
    with app.app_context():
        dataset = Dataset.create(organization=organization, name=f"{name} data")
        image_class = ImageClass.create(
            organization=organization,
            dataset=dataset,
            key="n01440764",
            names=["tench", "Tinca tinca"],
            description="freshwater dace-like game fish",
            wikipedia=["https://en.wikipedia.org/wiki/Tench"],
        )
        for n in range(pages * hits * per_page):
            width, height = SIZES[n % len(SIZES)]
            out = io.BytesIO()
            PILImage.new("RGB", (width, height), ((n * 37) % 255, 90, 160)).save(out, "PNG")
            path = storage.save(f"datasets/{dataset.id}/n01440764_{n}.png", out.getvalue())
            image = Image.create(
                organization=organization,
                dataset=dataset,
                key=f"n01440764/n01440764_{n}",
                storage_path=path,
                width=width,
                height=height,
            )
            Candidate.create(organization=organization, image=image, image_class=image_class)
        batch = Batch.create(
            organization=organization,
            dataset=dataset,
            name=name,
            pages_per_hit=pages,
            images_per_page=per_page,
            versions=list(versions),
            one_hit_per_worker=one_hit_per_worker,
            assignments_per_hit=assignments_per_hit,
            reward=reward,
        )
        build_hits(batch)
        return batch


def summary_for(hit, pageno, chunks=0, **overrides):
    """A plausible page summary for the page as the server would show it."""
    page = HitPage.get(HitPage.hit == hit, HitPage.pageno == pageno)
    keys = {i.id: i.key for i in Image.select().where(Image.id.in_(page.image_ids))}
    images = []
    for n, image_id in enumerate(page.image_ids):
        images.append(
            {
                "i": n,
                "imageID": keys[image_id],
                "loadStatus": "ok",
                "originalImageWidth": 500,
                "originalImageHeight": 375,
                "imageWidth": 324,
                "imageHeight": 243,
                "imagePosition": {"x": 100 + 344 * (n % 3), "y": 400 + 350 * (n // 3)},
                "hoveredRecord": [
                    {"action": "enter", "time": 1_700_000_000_100},
                    {"action": "leave", "time": 1_700_000_000_900},
                ],
                "hoveredCount": 1,
                "selected": n == 0,
                "selectedCount": 1 if n == 0 else 0,
                "selectedRecord": [{"x": 0.5, "y": 0.25, "time": 1_700_000_000_500}] if n == 0 else [],
                "estimateTime": 400 if n == 0 else 800,
            }
        )
    return {
        "startedAt": 1_700_000_000_000,
        "endedAt": 1_700_000_010_000,
        "chunks": chunks,
        "images": images,
        **overrides,
    }


def worked_for(assignments, seconds_per_page: int = 60) -> None:
    """Make the server's clock agree that the assignments' pages took time: opened ``seconds_per_page`` per page
    ago, each page submitted ``seconds_per_page`` after the one before (auto-review bounds a page's claimed time by
    the server's)."""
    now = utcnow()
    for assignment in assignments:
        pages = list(
            PageSubmission.select().where(PageSubmission.assignment == assignment).order_by(PageSubmission.pageno)
        )
        opened = now - dt.timedelta(seconds=seconds_per_page * (len(pages) + 1))
        Assignment.update(started_at=opened).where(Assignment.id == assignment).execute()
        for n, page in enumerate(pages, 1):
            submitted = opened + dt.timedelta(seconds=seconds_per_page * n)
            PageSubmission.update(submitted_at=submitted).where(PageSubmission.id == page.id).execute()


# --- ingest: an assignment and the pointer batches its tracker posts -----


def make_assignment(app, worker: str = "W000000001") -> tuple[Assignment, str]:
    """An assignment on a fresh HIT, and its token (what the annotation page sends)."""
    org = Organization.get_or_none(Organization.name == "Ingest") or Organization.create(name="Ingest")
    dataset = Dataset.get_or_none(Dataset.name == "D") or Dataset.create(organization=org, name="D")
    batch = Batch.create(organization=org, dataset=dataset, name="B")
    hit = Hit.create(organization=org, batch=batch)
    assignment = Assignment.create(
        organization=org, hit=hit, worker_id=worker, source="lab", version="POINTER_ORIGINAL"
    )
    with app.app_context():
        return assignment, assignment_token(assignment.id)


def events(n: int = 60, start: int | None = None) -> list[dict]:
    start = start or int(time.time() * 1000)
    moves = [{"type": "move", "i": 3, "x": k / n, "y": 1 - k / n, "time": start + 17 * k} for k in range(n - 3)]
    return [
        {"type": "enter", "i": 3, "time": start - 1},
        *moves,
        {"type": "click", "i": 3, "x": 0.5, "y": 0.5, "time": start + 17 * n, "selected": True},
        {"type": "leave", "i": 3, "time": start + 17 * n + 5},
    ]


def pointer_batch(token: str, seq: int = 0, page: int = 1, n: int = 60, tab: int = 0) -> dict:
    """One batch of pointer events as the tracker posts it to /api/ingest."""
    return {"token": token, "page": page, "tab": tab, "seq": seq, "events": events(n)}


# --- MTurk ------------------------------------------------------------------

# CreateHITType's parameters for a plain HIT type.
HIT_TYPE = {
    "Title": "Find fish",
    "Description": "Click every fish",
    "Reward": "0.50",
    "AssignmentDurationInSeconds": 600,
    "AutoApprovalDelayInSeconds": 3600,
}


# --- a small, fully known reviewed campaign -------------------------------

# A small, fully known campaign for the review, labels and exports tests, built directly with the models.
#
# Classes A ("n01", fish) and B ("n02", dog), each with candidates 1-4, a positive
# control "p" and a negative control "n". Two HITs of two pages (A then B), two
# assignments per HIT:
#
#     HIT 1  W1 (careful)  A: selects 1, p      B: selects 1, p        done
#            W3 (careless) A: selects 2, n      B: selects n           done
#     HIT 2  W2 (careful)  A: selects 3, p      B: selects 3, 4, p     done
#            W3            A: selects 4, n      (page B not submitted)
#
# So W1 and W2 answer every control right, W3 every control wrong. Each page
# lasts 4 s (1 s per image); W1's first page stored 2 of the 3 pointer batches
# its tracker reported, every other page all of them.

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
    image = Image.create(
        organization=org, dataset=dataset, key=key, url=f"https://example.org/{key}.jpg", width=500, height=375
    )
    Candidate.create(organization=org, image=image, image_class=image_class, role=role)
    return image


def submit_page(
    assignment: Assignment,
    hit_page: HitPage,
    selected: set[int],
    start: int,
    *,
    chunks: int = 1,
    reported: int | None = None,
    estimate: int = 500,
) -> PageSubmission:
    """Store a submitted page: one record per image (1 s each), ``selected`` image ids selected, with moves."""
    end = start + 1000 * len(hit_page.image_ids)
    page = PageSubmission.create(
        assignment=assignment,
        hit_page=hit_page,
        pageno=hit_page.pageno,
        started_at=start,
        ended_at=end,
        chunks_reported=chunks if reported is None else reported,
        submitted_at=dt.datetime.fromtimestamp(end / 1000, dt.UTC).replace(tzinfo=None),
    )
    events = []
    for i, image_id in enumerate(hit_page.image_ids):
        enter = start + 1000 * i
        is_selected = image_id in selected
        ImageRecord.create(
            page=page,
            image=image_id,
            grid_index=i,
            original_width=500,
            original_height=375,
            width=240,
            height=180,
            position_x=10 + 250 * i,
            position_y=300,
            hovered_record=[{"action": "enter", "time": enter + 10}, {"action": "leave", "time": enter + 900}],
            hovered_count=1,
            selected=is_selected,
            selected_count=int(is_selected),
            selected_record=[{"x": 0.5, "y": 0.5, "time": enter + 500}] if is_selected else [],
            estimate_time=estimate,
        )
        events += [
            {"type": "enter", "i": i, "time": enter + 10},
            {"type": "move", "i": i, "x": 0.1, "y": 0.2, "time": enter + 100},
            {"type": "move", "i": i, "x": 0.4, "y": 0.5, "time": enter + 300},
        ]
        if is_selected:
            events.append({"type": "click", "i": i, "x": 0.5, "y": 0.5, "time": enter + 500, "selected": True})
        events.append({"type": "leave", "i": i, "time": enter + 900})
    size = -(-len(events) // chunks)
    for seq in range(chunks):
        part = events[seq * size : (seq + 1) * size]
        PointerChunk.create(
            assignment=assignment,
            pageno=hit_page.pageno,
            seq=seq,
            n_events=len(part),
            events=json.dumps(part),
            received_at=start + seq,
        )
    tallies.derive([page.id])  # as the platform does when it stores a submitted page
    return page


def make_campaign(org, name: str = "Review batch") -> Campaign:
    dataset = Dataset.create(organization=org, name=f"{name} data")
    classes = {
        "A": ImageClass.create(
            organization=org, dataset=dataset, key="n01", names=["fish", "tench"], description="a fish"
        ),
        "B": ImageClass.create(organization=org, dataset=dataset, key="n02", names=["dog"], description="a dog"),
    }
    images = {}
    for letter, image_class in (("a", classes["A"]), ("b", classes["B"])):
        for n in range(1, 5):
            images[f"{letter}{n}"] = make_image(
                org, dataset, image_class, f"{image_class.key}/{letter}{n}", "candidate"
            )
        images[f"{letter}p"] = make_image(org, dataset, image_class, f"{image_class.key}/{letter}p", "positive")
        images[f"{letter}n"] = make_image(org, dataset, image_class, f"{image_class.key}/{letter}n", "negative")
    batch = Batch.create(
        organization=org,
        dataset=dataset,
        name=name,
        pages_per_hit=2,
        images_per_page=4,
        positives_per_page=1,
        negatives_per_page=1,
        assignments_per_hit=2,
        state="ready",
    )
    i = {k: v.id for k, v in images.items()}
    hits, hit_pages = [], {}
    for h, (a, b) in enumerate(((("a1", "a2"), ("b1", "b2")), (("a3", "a4"), ("b3", "b4"))), 1):
        hit = Hit.create(organization=org, batch=batch)
        hits.append(hit)
        hit_pages[(h, "A")] = HitPage.create(
            organization=org,
            hit=hit,
            pageno=1,
            image_class=classes["A"],
            image_ids=[i[a[0]], i["ap"], i[a[1]], i["an"]],
        )
        hit_pages[(h, "B")] = HitPage.create(
            organization=org,
            hit=hit,
            pageno=2,
            image_class=classes["B"],
            image_ids=[i[b[0]], i["bn"], i["bp"], i[b[1]]],
        )

    def assign(hit: Hit, worker: str, done: bool) -> Assignment:
        return Assignment.create(
            organization=org,
            hit=hit,
            worker_id=worker,
            source="lab",
            version="POINTER_ORIGINAL",
            done=done,
            completion_code="C0FFEE" if done else None,
        )

    c = Campaign(
        batch,
        images,
        classes,
        hits,
        {
            "h1w1": assign(hits[0], "W1AAAAAAAA", True),
            "h1w3": assign(hits[0], "W3CCCCCCCC", True),
            "h2w2": assign(hits[1], "W2BBBBBBBB", True),
            "h2w3": assign(hits[1], "W3CCCCCCCC", False),
        },
    )
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
        c.pages[key] = submit_page(
            c.assignments[assignment], hit_pages[hit_page], {i[k] for k in chosen}, T0 + 60_000 * n, **options
        )
    return c


def make_voted_batch(org, candidates=150, controls=10, workers=12, seed=4):
    """A batch over two classes (n01, n02) of ``candidates`` candidates and ``controls`` + ``controls`` controls,
    two votes per candidate and four per control from workers right 85 % of the time, written straight into
    the Vote table (what a label fit reads). Returns the batch and the truth per (class id, image id)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    dataset = make_dataset(org, ("n01", "n02"), candidates, controls, controls, name="Scored")
    batch = Batch.create(organization=org, dataset=dataset, name="Scored", state="published")
    hit = Hit.create(organization=org, batch=batch)
    assignments = [
        Assignment.create(
            organization=org,
            hit=hit,
            worker_id=f"W{w:09d}",
            source="survey",
            version="POINTER_ORIGINAL",
            started_at=dt.datetime(2026, 1, 1),
            done=True,
        ).id
        for w in range(workers)
    ]
    truth, rows = {}, []
    for candidate in Candidate.select().join(Image).where(Image.dataset == dataset).order_by(Candidate.id):
        key = (candidate.image_class_id, candidate.image_id)
        truth[key] = candidate.role == "positive" or (candidate.role == "candidate" and bool(rng.random() < 0.5))
        for a in rng.choice(assignments, 2 if candidate.role == "candidate" else 4, replace=False):
            right = rng.random() < 0.85
            rows.append(
                dict(batch=batch.id, image_class=key[0], image=key[1], assignment=int(a), selected=truth[key] == right)
            )
    Vote.insert_many(rows).execute()
    return batch, truth


def scored_dataset(org, sign: float = 1.0):
    """Each class: 20 candidates scored surely yes, 10 surely no, 20 spread over the middle, and 30 + 30 controls
    the model mostly ranks right (``sign`` -1: an inverted model, always wrong)."""
    dataset = make_dataset(org, candidates=50, positives=30, negatives=30)
    for image_class in ImageClass.select().where(ImageClass.dataset == dataset):
        rows = list(Candidate.select().where(Candidate.image_class == image_class).order_by(Candidate.image))
        candidates = [c for c in rows if c.role == "candidate"]
        controls = {"positive": 0, "negative": 0}
        for c in rows:
            if c.role == "candidate":
                at = candidates.index(c)
                value = 10.0 + 0.1 * at if at < 20 else -10.0 - 0.1 * at if at < 30 else -6.0 + 0.6 * (at - 30)
            else:
                spread = -3.0 + 0.4 * controls[c.role]  # -3 .. 8.6: wrong about a few controls
                controls[c.role] += 1
                value = spread if c.role == "positive" else -spread
            ModelScore.create(
                organization=org, dataset=dataset, image_class=image_class, image=c.image_id, score=sign * value
            )
    return dataset


def published_on_mturk(hit, places: int = 3, mturk_hit_id: str = "3MTURKHIT") -> MTurkHit:
    """The HIT as publishing leaves it: live on (the sandbox of) MTurk, with ``places`` assignments."""
    return MTurkHit.create(
        organization=hit.organization_id,
        batch=hit.batch_id,
        hit=hit,
        sandbox=True,
        max_assignments=places,
        unique_request_token=f"token-{hit.id}",
        state="created",
        mturk_hit_id=mturk_hit_id,
    )


def mturk_assignment(org, hit, status: str, assignment_id="A1", worker_id="W1AAAAAAAA") -> MTurkAssignment:
    """An MTurk assignment of ``hit`` as reconcile records it (``worker_id``: the anonymised id)."""
    return MTurkAssignment.create(
        organization=org,
        hit=hit,
        mturk_hit_id="H1",
        mturk_assignment_id=assignment_id,
        worker_id=worker_id,
        status=status,
    )
