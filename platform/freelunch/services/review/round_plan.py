"""The next round of a batch, planned from its latest Dawid–Skene fit, and made into a follow-up batch.

The plan is what the requester sees before anything is published: the open
images, by class, the pages they fill, and what those pages cost. A page
holds the batch's candidates-per-page; a short page is filled with fresh
candidates of its class (never shown in any round), else with more controls.
Each page keeps the batch's positive and negative controls, so the follow-up
round calibrates its workers as the first did.

The follow-up batch copies the first round's settings and asks as many
assignments per HIT as its neediest page (a batch has one number); its
``follows`` links it to the round before. Workers who voted on an image in an
earlier round are kept off the HITs that show it again
(``services/annotation/pages.py``).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from ...db import database
from ...models import Batch, Candidate, Hit, HitPage, ImageClass, ImageLabel, LabelFit, WorkerEstimate
from ..errors import RequesterError
from . import rounds


class PlanError(RequesterError, ValueError):
    """No round can be planned; the message says why."""


@dataclass
class ClassRow:
    image_class: ImageClass
    open: int
    pages: int
    fresh: int  # fresh candidates that fill its short pages
    controls: int  # extra controls that fill the rest, as many as the class has


@dataclass
class RoundPlan:
    fit: LabelFit
    max_votes: int
    classes: list[ClassRow] = field(default_factory=list)
    pages: list[tuple[int, list[int], int]] = field(default_factory=list)  # (class id, image ids, assignments)
    sizes: list[int] = field(default_factory=list)  # each page's images as the follow-up will show them
    votes: int = 0  # more votes asked of open images

    @property
    def open(self) -> int:
        return sum(c.open for c in self.classes)

    @property
    def assignments_per_hit(self) -> int:
        return max((a for _, _, a in self.pages), default=0)

    def hits(self, pages_per_hit: int) -> int:
        return math.ceil(len(self.pages) / max(pages_per_hit, 1))

    def cost(self, batch: Batch) -> Decimal:
        """HITs × assignments × the reward per assignment (MTurk's fees not included)."""
        return self.hits(batch.pages_per_hit) * self.assignments_per_hit * Decimal(batch.reward or 0)

    def shape(self, pages_per_hit: int) -> tuple[str, str]:
        """(pages per HIT, images per page) of the follow-up as create_follow_up will build it, written as
        Batch.shape writes a built batch's ("3", "10–26"): a class short of images and controls makes pages
        smaller than the first round asked for, and the plan must not promise the asked shape."""
        n, per_hit = len(self.pages), max(pages_per_hit, 1)
        hits = [min(per_hit, n - start) for start in range(0, n, per_hit)]
        return tuple(  # type: ignore[return-value]
            f"{min(values)}–{max(values)}" if min(values) != max(values) else str(min(values))
            for values in (hits, self.sizes)
        )


def _labels(fit: LabelFit) -> np.ndarray:
    query = (
        ImageLabel.select(
            ImageLabel.image_class, ImageLabel.image, ImageLabel.p_yes, ImageLabel.votes, ImageLabel.known
        )
        .where(ImageLabel.fit == fit.id)
        .order_by(ImageLabel.image_class, ImageLabel.image)
    )
    dtype = [("image_class", np.int64), ("image", np.int64), ("p_yes", float), ("votes", np.int64), ("known", bool)]
    return np.fromiter(database.execute(query), dtype=dtype)


def plan(batch: Batch, fit: LabelFit, max_votes: int = rounds.DEFAULT_MAX_VOTES, step: int | None = None) -> RoundPlan:
    if fit.model != "ds":
        raise PlanError("Rounds are planned from a Dawid–Skene fit: fit one first.")
    if step is None:  # one vote a round where the fit trusted a model's scores (rounds.default_step)
        step = rounds.STEP_WITH_PRIOR if (fit.prior or {}).get("used") else rounds.DEFAULT_STEP
    labels = _labels(fit)
    estimates = list(
        WorkerEstimate.select(WorkerEstimate.sensitivity, WorkerEstimate.specificity, WorkerEstimate.votes)
        .where(WorkerEstimate.fit == fit.id)
        .tuples()
    )
    sens = np.array([np.nan if s is None else s for s, _, _ in estimates], float)
    spec = np.array([np.nan if s is None else s for _, s, _ in estimates], float)
    strength = rounds.typical_strength(sens, spec, np.array([v for _, _, v in estimates], float))
    more = rounds.more_votes(
        labels["p_yes"], labels["votes"], labels["known"], fit.target_precision, max_votes, step, strength
    )
    per_page = batch.images_per_page - batch.positives_per_page - batch.negatives_per_page
    out = RoundPlan(fit, max_votes, votes=int(more.sum()))
    if not more.any():
        return out
    planned = rounds.plan(labels["image_class"], more, per_page)
    classes = {
        c.id: c for c in ImageClass.select().where(ImageClass.id.in_(sorted({p.item_class for p in planned.pages})))
    }
    shown = set(zip(labels["image_class"].tolist(), labels["image"].tolist()))
    pool = _control_pool(list(classes))
    rows: dict[int, ClassRow] = {}
    for page in planned.pages:
        class_id = page.item_class
        images = labels["image"][page.items].tolist()
        row = rows.setdefault(class_id, ClassRow(classes[class_id], 0, 0, 0, 0))
        row.open += len(images)
        row.pages += 1
        if page.fill:
            fresh = [
                i
                for (i,) in Candidate.select(Candidate.image)
                .where(Candidate.image_class == class_id, Candidate.role == "candidate")
                .order_by(Candidate.image)
                .tuples()
                if (class_id, i) not in shown
            ][: page.fill]
            shown.update((class_id, i) for i in fresh)
            row.fresh += len(fresh)
            images += fresh
        # The controls this page will get, counted by the very function that picks them (any order gives the count).
        controls = len(_controls(batch, pool[class_id], batch.images_per_page - len(images), random.Random(0)))
        row.controls += controls - _standard_controls(batch, pool[class_id])
        out.pages.append((class_id, images, page.assignments))
        out.sizes.append(len(images) + controls)
    out.classes = sorted(rows.values(), key=lambda r: r.image_class.key)
    return out


def create_follow_up(batch: Batch, round_plan: RoundPlan) -> Batch:
    """A new batch (ready, not published) with the plan's pages, following ``batch``."""
    if not round_plan.pages:
        raise PlanError("No image is open: there is no next round to make.")
    rng = random.Random(random.SystemRandom().randrange(2**53))
    seed = rng.randrange(2**53)
    with database.atomic():
        follow_up = Batch.create(
            organization=batch.organization_id,
            dataset=batch.dataset_id,
            name=f"{batch.name} · round {batch.round + 1}"[:120],
            state="ready",
            pages_per_hit=batch.pages_per_hit,
            images_per_page=batch.images_per_page,
            positives_per_page=batch.positives_per_page,
            negatives_per_page=batch.negatives_per_page,
            assignments_per_hit=round_plan.assignments_per_hit,
            versions=batch.versions,
            one_hit_per_worker=batch.one_hit_per_worker,
            reward=batch.reward,
            title=batch.title,
            description=batch.description,
            shuffle_seed=seed,
            class_ids=batch.class_ids,
            # The MTurk settings, not the record of the last reconcile (services/mturk/settings.RECONCILED).
            mturk={k: v for k, v in (batch.mturk or {}).items() if k != "reconciled_at"},
            follows=batch,
            round=batch.round + 1,
        )
        pages = []
        pool = _control_pool(sorted({class_id for class_id, _, _ in round_plan.pages}))
        for class_id, images, _ in round_plan.pages:
            controls = _controls(batch, pool[class_id], batch.images_per_page - len(images), rng)
            grid = images + controls
            rng.shuffle(grid)
            pages.append((class_id, grid))
        rng.shuffle(pages)
        for start in range(0, len(pages), batch.pages_per_hit):
            hit = Hit.create(organization=batch.organization_id, batch=follow_up)
            HitPage.insert_many(
                [
                    dict(
                        organization=batch.organization_id,
                        hit=hit,
                        pageno=n,
                        image_class=class_id,
                        image_ids=grid,
                        spare_image_ids=[],
                    )
                    for n, (class_id, grid) in enumerate(pages[start : start + batch.pages_per_hit], 1)
                ]
            ).execute()
        follow_up.record_shape()
    return follow_up


def _control_pool(class_ids: list[int]) -> dict[int, dict[str, list[int]]]:
    """The controls of each class by role, in image order: {class id: {"positive": [...], "negative": [...]}}."""
    pool: dict[int, dict[str, list[int]]] = {c: {"positive": [], "negative": []} for c in class_ids}
    for class_id, image, role in (
        Candidate.select(Candidate.image_class, Candidate.image, Candidate.role)
        .where(Candidate.image_class.in_(class_ids), Candidate.role.in_(("positive", "negative")))
        .order_by(Candidate.image)
        .tuples()
    ):
        pool[class_id][role].append(image)
    return pool


def _standard_controls(batch: Batch, by_role: dict[str, list[int]]) -> int:
    """The controls every page of the class gets (the batch's positives and negatives per page, as it has them)."""
    return min(batch.positives_per_page, len(by_role["positive"])) + min(
        batch.negatives_per_page, len(by_role["negative"])
    )


def _controls(batch: Batch, by_role: dict[str, list[int]], slots: int, rng: random.Random) -> list[int]:
    """The page's positive and negative controls, then more of either to fill its remaining slots."""
    chosen = rng.sample(by_role["positive"], min(batch.positives_per_page, len(by_role["positive"])))
    chosen += rng.sample(by_role["negative"], min(batch.negatives_per_page, len(by_role["negative"])))
    rest = [i for i in by_role["positive"] + by_role["negative"] if i not in chosen]
    rng.shuffle(rest)
    return chosen + rest[: max(0, slots - len(chosen))]
