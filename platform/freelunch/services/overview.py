"""The organization's overview: each batch's progress, pace and spend, and what needs the requester.

One grouped query per figure for all the batches shown (not one per batch), so
the home page costs the same with 5 batches or 50.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from peewee import fn

from ..models import (
    Assignment,
    Batch,
    BatchCount,
    BatchTally,
    Dataset,
    Hit,
    Image,
    ImageClass,
    ImageRecord,
    LabLink,
    MTurkAssignment,
    Organization,
    PageSubmission,
    PageTally,
    utcnow,
)
from . import jobs
from .batches import builder
from .mturk import lifecycle
from .review import progress

BATCHES_SHOWN = 50
PACE_WINDOW = dt.timedelta(hours=1)


@dataclass
class BatchLine:
    batch: Batch
    dataset_name: str
    hits: int = 0
    pages_target: int = 0
    pages_done: int = 0
    pages_last_hour: int = 0
    assignments_target: int = 0
    assignments_started: int = 0
    assignments_done: int = 0
    to_review: int = 0
    spend: Decimal = Decimal("0.00")
    failed_jobs: int = 0
    reachable: bool = True  # lab links or MTurk HITs lead workers to it
    unworkable_hits: int = 0  # HITs that showed a worker a page short of images (one failed to load, no spare left)

    @property
    def phase(self) -> str:
        return progress.phase(
            self.batch.state, self.assignments_target, self.assignments_started, self.assignments_done
        )

    @property
    def percent(self) -> int:
        return progress.percent(self.pages_done, self.pages_target)

    @property
    def stuck(self) -> str:
        """Why the batch waits for the requester rather than for workers ("" when it does not)."""
        # A next round is made ready and left for the requester to hand out; round 1 may run on survey links.
        if self.batch.round > 1 and self.batch.state == "ready" and self.hits and not self.assignments_started:
            if not self.reachable:
                return f"round {self.batch.round} is ready, and no lab link or MTurk HIT leads workers to it yet"
        return ""

    @property
    def pages_per_hour(self) -> int:
        """Pages submitted in the last hour: the pace now, not the average since the start."""
        return self.pages_last_hour

    @property
    def eta(self) -> dt.timedelta | None:
        """Time left at the current pace; None when nothing moves (or nothing is left)."""
        left = self.pages_target - self.pages_done
        if left <= 0 or not self.pages_last_hour:
            return None
        return dt.timedelta(hours=left / self.pages_last_hour)


@dataclass
class Overview:
    batches: list[BatchLine]
    to_review: int
    failed_jobs: list[jobs.JobView]
    import_errors: list[tuple[Dataset, jobs.JobView]]
    checklist: dict[str, bool] = field(default_factory=dict)

    @property
    def checklist_done(self) -> bool:
        return all(self.checklist.values())

    @property
    def stuck(self) -> list[BatchLine]:
        return [line for line in self.batches if line.stuck or line.unworkable_hits]

    @property
    def needs_attention(self) -> bool:
        return bool(self.to_review or self.failed_jobs or self.import_errors or self.stuck)


def _grouped(query, batch_column) -> dict[int, tuple]:
    return {row[0]: row[1:] for row in query.group_by(batch_column).tuples()}


def batch_lines(organization: Organization, batches: list[Batch]) -> list[BatchLine]:
    ids = [b.id for b in batches]
    if not ids:
        return []
    for batch in batches:  # a build whose job RQ will never run shows failed, not building forever
        builder.settle(batch)
    names = dict(
        Dataset.select(Dataset.id, Dataset.name).where(Dataset.id.in_({b.dataset_id for b in batches})).tuples()
    )
    counts = BatchCount.of(ids)  # kept by the database: not a count of every page and assignment of the batch
    extra = progress.extra_done(ids)  # lab work on top of MTurk's places, which completes no HIT
    # Pages submitted: the batch's kept sum (BatchTally, one row), less the extra work of the few batches that can
    # have any, and the last hour's from the tallies' (batch, submitted_at) index: none reads every page.
    tallied = dict(BatchTally.select(BatchTally.batch, BatchTally.pages).where(BatchTally.batch.in_(ids)).tuples())
    extra_pages = _grouped(
        PageSubmission.select(Hit.batch, fn.COUNT(PageSubmission.id))
        .join(Assignment)
        .join(Hit)
        .where(Hit.batch.in_(progress.mixed(ids)), progress.EXTRA),
        Hit.batch,
    )
    last_hour = _grouped(
        PageTally.select(PageTally.batch, fn.COUNT(PageTally.id)).where(
            PageTally.batch.in_(ids), PageTally.submitted_at >= utcnow() - PACE_WINDOW
        ),
        PageTally.batch,
    )
    to_review = _grouped(
        MTurkAssignment.select(Hit.batch, fn.COUNT(MTurkAssignment.id))
        .join(Hit)
        .where(Hit.batch.in_(ids), MTurkAssignment.status == "Submitted"),
        Hit.batch,
    )
    reachable = {
        batch_id
        for (batch_id,) in LabLink.select(LabLink.batch)
        .where(LabLink.batch.in_(ids), LabLink.revoked_at.is_null())
        .distinct()
        .tuples()
    } | {
        batch_id
        for (batch_id,) in Hit.select(Hit.batch)
        .where(Hit.batch.in_(ids), Hit.mturk_hit_id.is_null(False))
        .distinct()  # a batch once, not once per HIT published
        .tuples()
    }
    unworkable = _grouped(
        ImageRecord.select(Hit.batch, fn.COUNT(fn.DISTINCT(Hit.id)))
        .join(PageSubmission)
        .join(Assignment)
        .join(Hit)
        .where(Hit.batch.in_(ids), ImageRecord.load_status == "dropped"),
        Hit.batch,
    )
    lines = []
    for b in batches:
        line = BatchLine(b, names.get(b.dataset_id, ""))
        line.unworkable_hits = unworkable.get(b.id, (0,))[0]
        count = counts[b.id]
        line.hits = count.hits
        line.pages_target = count.hit_pages * b.assignments_per_hit
        line.assignments_target = line.hits * b.assignments_per_hit
        line.assignments_started = count.assignments
        line.assignments_done = count.assignments_done - extra.get(b.id, 0)
        line.pages_done = tallied.get(b.id, 0) - extra_pages.get(b.id, (0,))[0]
        line.pages_last_hour = last_hour.get(b.id, (0,))[0]
        line.to_review = to_review.get(b.id, (0,))[0]
        line.spend = lifecycle.spend(b).paid  # MTurk's money has one reckoning
        line.reachable = b.id in reachable
        lines.append(line)
    return lines


def _failed(organization: Organization, scope: str) -> list[jobs.JobView]:
    return [job for job in jobs.recent(organization.id, scope) if job.state == "failed"]


def overview(organization: Organization) -> Overview:
    batches = list(Batch.owned(organization).order_by(Batch.created_at.desc(), Batch.id.desc()).limit(BATCHES_SHOWN))
    lines = batch_lines(organization, batches)
    failed = []
    for line in lines:
        found = _failed(organization, jobs.batch_scope(line.batch.id))
        line.failed_jobs = len(found)
        failed += found
    import_errors = []
    for dataset in Dataset.owned(organization).order_by(Dataset.name):
        seen = set()
        for job in jobs.recent(organization.id, jobs.dataset_scope(dataset.id)):  # newest first
            # The same import run again says what its newest run left: one line, not one per run.
            if job.title not in seen and (job.state == "failed" or job.result.get("error_count")):
                import_errors.append((dataset, job))
            seen.add(job.title)
    checklist = {
        "classes": ImageClass.owned(organization).exists(),
        "images": Image.owned(organization).exists(),
        "batch": Hit.owned(organization).exists(),
        "workers": (
            LabLink.owned(organization).exists()
            or Hit.owned(organization).where(Hit.mturk_hit_id.is_null(False)).exists()
        ),
    }
    return Overview(lines, sum(line.to_review for line in lines), failed, import_errors, checklist)
