"""Auto-review: a batch's rules applied to its submitted assignments, each decision recording the rules and figures.

Only assignments MTurk lists as Submitted *and* whose every page we hold are
judged; one with no data here is never touched (the requester decides it, with
its Answer). A rule that cannot be judged (no controls on the pages, no pointer
data reported) leaves the assignment for the requester, flagged with why: the
rules approve what they can show is good, and reject only what they can show
is not, and only when the batch asks them to.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from peewee import JOIN, fn

from ...models import Assignment, Batch, MTurkAssignment, PageSubmission, PointerChunk, ReviewRules
from ..jobs import ReportProgress
from ..review import quality
from . import decisions, tracking

DEFAULT_REJECT_FEEDBACK = "Your work did not meet this task's quality checks: {reasons}."


def rules_for(batch: Batch) -> ReviewRules:
    """The batch's rules; a batch that has none gets the default (a valid completion code, nothing else)."""
    rules = ReviewRules.get_or_none(ReviewRules.batch == batch)
    return rules or ReviewRules(organization=batch.organization_id, batch=batch)


def describe(rules: ReviewRules) -> list[str]:
    """The rules in words, as the Review tab shows them before they run."""
    out = []
    if rules.min_control_accuracy is not None:
        out.append(f"control accuracy ≥ {Decimal(rules.min_control_accuracy) * 100:.0f} %")
    if rules.min_seconds_per_page is not None:
        out.append(f"every page took ≥ {rules.min_seconds_per_page} s")
    if rules.require_completion_code:
        out.append("the completion code posted to MTurk is the one we gave")
    if rules.min_completeness is not None:
        out.append(f"pointer data ≥ {Decimal(rules.min_completeness) * 100:.0f} % complete")
    return out


def as_dict(rules: ReviewRules) -> dict:
    """The rules as recorded on each decision they make."""

    def number(value):
        return None if value is None else float(value)

    return {
        "min_control_accuracy": number(rules.min_control_accuracy),
        "min_seconds_per_page": rules.min_seconds_per_page,
        "require_completion_code": rules.require_completion_code,
        "min_completeness": number(rules.min_completeness),
        "reject_failures": rules.reject_failures,
    }


@dataclass
class Verdict:
    action: str | None  # approve, reject, or None: left for the requester
    failed: list[str] = field(default_factory=list)
    unjudged: list[str] = field(default_factory=list)
    figures: dict = field(default_factory=dict)


def judge(rules: ReviewRules, row: MTurkAssignment, found: quality.Figures, fastest_ms: int | None) -> Verdict:
    """One assignment against the rules, from figures already read."""
    verdict = Verdict(None)
    accuracy = found.controls.accuracy
    verdict.figures = {
        "control_accuracy": accuracy,
        "fastest_page_seconds": None if fastest_ms is None else fastest_ms / 1000,
        "completeness": found.completeness,
        "pages": found.pages,
    }
    if rules.min_control_accuracy is not None:
        if accuracy is None:
            verdict.unjudged.append("no control images were answered")
        elif accuracy < float(rules.min_control_accuracy):
            verdict.failed.append(f"control accuracy {accuracy:.0%} is under {float(rules.min_control_accuracy):.0%}")
    if rules.min_seconds_per_page is not None:
        if fastest_ms is None:
            verdict.unjudged.append("no page times")
        elif fastest_ms < rules.min_seconds_per_page * 1000:
            verdict.failed.append(f"a page took {fastest_ms / 1000:.1f} s, under {rules.min_seconds_per_page} s")
    if rules.require_completion_code:
        posted = tracking.answer_fields(row.answer).get("completionCode", "").strip().upper()
        verdict.figures["completion_code_posted"] = posted
        if not posted:
            verdict.unjudged.append("MTurk's answer has no completion code")
        elif posted != (row.assignment.completion_code or ""):
            verdict.failed.append("the completion code is not the one this assignment was given")
    if rules.min_completeness is not None:
        if found.completeness is None:
            verdict.unjudged.append("no pointer data was reported")
        elif found.completeness < float(rules.min_completeness):
            verdict.failed.append(
                f"pointer data is {found.completeness:.0%} complete, under {float(rules.min_completeness):.0%}"
            )
    if verdict.failed:
        verdict.action = "reject" if rules.reject_failures else None
    elif not verdict.unjudged:
        verdict.action = "approve"
    return verdict


def _fastest_pages(assignment_ids: list[int]) -> dict[int, int]:
    """Each assignment's fastest page in ms: the time its browser claims, but never more than the server saw.

    A page was shown after the server served it (the assignment's start for the
    first page, the previous page's Submit for the others) and submitted before
    the server received it, so the claim is bounded by that window: a page
    posted 0.02 s after the previous one took 0.02 s, whatever it claims.
    """
    opened = dict(
        Assignment.select(Assignment.id, Assignment.started_at).where(Assignment.id.in_(assignment_ids)).tuples()
    )
    pages = (
        PageSubmission.select(
            PageSubmission.assignment, PageSubmission.started_at, PageSubmission.ended_at, PageSubmission.submitted_at
        )
        .where(PageSubmission.assignment.in_(assignment_ids))
        .order_by(PageSubmission.assignment, PageSubmission.pageno)
        .tuples()
    )
    fastest: dict[int, int] = {}
    shown_since: dict[int, dt.datetime] = {}
    for assignment_id, started, ended, submitted in pages:
        since = shown_since.get(assignment_id) or opened[assignment_id]
        seen_ms = max(0, int((submitted - since).total_seconds() * 1000))
        ms = min(ended - started, seen_ms)
        fastest[assignment_id] = min(fastest.get(assignment_id, ms), ms)
        shown_since[assignment_id] = submitted
    return fastest


def _bound_reported_chunks(found: dict[int, quality.Figures], assignment_ids: list[int]) -> None:
    """Count at least as many pointer batches sent as the server saw numbered, whatever the page reported.

    The tracker numbers its batches per page and tab from 0, so a page whose
    batch 40 arrived sent at least 41: a page that reports fewer (to look
    complete) is held to what the server saw.
    """
    pages = (
        PageSubmission.select(PageSubmission.assignment, PageSubmission.chunks_reported, fn.MAX(PointerChunk.seq))
        .join(PointerChunk, JOIN.LEFT_OUTER, on=PointerChunk.of_submission())
        .where(PageSubmission.assignment.in_(assignment_ids))
        .group_by(PageSubmission.id, PageSubmission.assignment, PageSubmission.chunks_reported)
        .tuples()
    )
    expected: dict[int, int] = {}
    for assignment_id, reported, highest in pages:
        seen = 0 if highest is None else highest + 1
        expected[assignment_id] = expected.get(assignment_id, 0) + max(reported, seen)
    for assignment_id, count in expected.items():
        if assignment_id in found:
            found[assignment_id].chunks_reported = count


@dataclass
class ReviewSummary:
    approved: int = 0
    rejected: int = 0
    flagged: int = 0  # left for the requester, with why
    adopted: int = 0  # MTurk had decided already
    failed: int = 0
    skipped_no_data: int = 0  # submitted on MTurk, nothing here: never auto-decided

    def as_dict(self) -> dict:
        return dict(
            self.__dict__,
            summary=(
                f"{self.approved} approved, {self.rejected} rejected, {self.flagged} left for you, "
                f"{self.skipped_no_data} without data here left alone"
                + (f", {self.failed} failed" if self.failed else "")
                + "."
            ),
        )


def plan(batch: Batch, piles: tracking.Piles, only: list[int] | None = None) -> list[tuple[MTurkAssignment, Verdict]]:
    """What the rules say of each assignment they may decide (``only``: of those rows alone), nothing sent yet."""
    rules = rules_for(batch)
    rows = piles.ready  # submitted on MTurk, complete here, no decision in flight
    if only is not None:
        rows = [row for row in rows if row.id in set(only)]
    if not rows:
        return []
    ids = [row.assignment_id for row in rows]
    found = quality.figures(Assignment.id, Assignment.id.in_(ids))
    _bound_reported_chunks(found, ids)
    fastest = _fastest_pages(ids)
    return [
        (row, judge(rules, row, found.get(row.assignment_id, quality.Figures()), fastest.get(row.assignment_id)))
        for row in rows
    ]


def feedback_for(rules: ReviewRules, verdict: Verdict) -> str:
    """What the worker reads with the decision."""
    if verdict.action == "approve":
        return rules.approve_feedback
    return DEFAULT_REJECT_FEEDBACK.format(reasons="; ".join(verdict.failed))


def auto_review(
    batch: Batch,
    mturk=None,
    progress: ReportProgress | None = None,
    source: str = "auto",
    only: list[int] | None = None,
) -> ReviewSummary:
    """Apply the batch's rules to every assignment they may decide (``only``: to those the requester confirmed)."""
    rules = rules_for(batch)
    recorded = as_dict(rules)
    piles = tracking.sort_out(batch)
    summary = ReviewSummary(skipped_no_data=len(piles.no_data))
    judged = plan(batch, piles, only)
    if not judged:
        return summary
    mturk = mturk or tracking.client_for(batch)
    for done, (row, verdict) in enumerate(judged, 1):
        if verdict.action is None:
            flag = "; ".join(verdict.failed + verdict.unjudged)
            MTurkAssignment.update(flag=flag[:200]).where(MTurkAssignment.id == row.id).execute()
            summary.flagged += 1
        else:
            decision = decisions.intend(
                row,
                verdict.action,
                feedback_for(rules, verdict),
                source=source,
                rules={"rules": recorded, "figures": verdict.figures, "failed": verdict.failed},
            )
            decision = decisions.send(decision, mturk)
            if decision.state == "done":
                summary.approved += decision.action == "approve"
                summary.rejected += decision.action == "reject"
            else:
                summary.adopted += decision.state == "adopted"
                summary.failed += decision.state == "failed"
        if progress:
            progress(done / len(judged), f"{done} of {len(judged)} assignments judged")
    return summary
