"""RQ jobs for tracking and paying MTurk work: reconcile, auto-review, bulk decisions and bonuses.

Each is a ``batch_job`` or ``assignment_job`` (tasks/__init__.py): what the requester can fix comes back as
``{"error": ...}``. Every one is safe to run twice: decisions and bonuses are intent rows that a rerun completes
instead of repeating.
"""

from __future__ import annotations

from decimal import Decimal

from freelunch.models import Batch, MTurkAssignment, MTurkHit, User
from freelunch.services import jobs
from freelunch.services.errors import RequesterError
from freelunch.services.jobs import JobProgress, ReportProgress
from freelunch.services.mturk import autoreview, bonuses, decisions, fairpay, notifications, tracking, workers

from . import assignment_job, batch_job


@batch_job()
def sync_batch(batch: Batch) -> dict:
    return _sync(batch, JobProgress()).as_dict()


def _sync(batch: Batch, progress: ReportProgress | None = None) -> tracking.SyncSummary:
    mturk = tracking.client_for(batch)
    notifications.subscribe(batch, mturk)  # when a queue is configured: events make the next reconcile sooner
    return tracking.sync_batch(batch, mturk, progress=progress)


def sync_live_batches() -> dict:
    """The cron job: reconcile every batch with a live MTurk HIT (one batch's refusal does not stop the others). No
    page started it, so it announces to each batch's open pages (and its organization's) that it changed them."""
    synced, errors = 0, []
    live = MTurkHit.select(MTurkHit.batch).where(MTurkHit.state == "created")
    for batch in Batch.select().where(Batch.id.in_(live)).order_by(Batch.id):
        try:
            if _sync(batch).changed:
                jobs.announce(jobs.MTURK_SYNC_LIVE, batch.organization_id, batch.id)
            synced += 1
        except RequesterError as error:
            errors.append([f"batch {batch.id}", str(error)])
    return {"summary": f"{synced} batches reconciled.", "errors": errors, "error_count": len(errors)}


def poll_notifications() -> dict:
    """The cron job that reads MTurk's SQS queue, when there is one. Like the reconciliation, no page started it, so it
    announces to the open pages of each batch it changed."""
    result = notifications.poll()
    for organization_id, batch_id in result.pop("changed", ()):
        jobs.announce(jobs.MTURK_POLL_NOTIFICATIONS, organization_id, batch_id)
    return result


@batch_job()
def auto_review(batch: Batch, row_ids: list[int] | None = None) -> dict:
    """The rules on the assignments the requester confirmed (``row_ids``; None: every one they may decide)."""
    tracking.sync_batch(batch)  # decide on what MTurk says now, not on the last reconciliation
    return autoreview.auto_review(batch, progress=JobProgress(), only=row_ids).as_dict()


@batch_job()
def decide_many(batch: Batch, row_ids: list[int], action: str, feedback: str, user_id: int | None = None) -> dict:
    """Bulk approve or reject: an intent row per assignment, then its call."""
    # In a set order (PostgreSQL returns updated rows in no particular one), so a run's progress and its calls
    # follow the rows as the requester saw them.
    rows = list(
        MTurkAssignment.select()
        .where(MTurkAssignment.id.in_(row_ids), MTurkAssignment.organization == batch.organization_id)
        .order_by(MTurkAssignment.id)
    )
    progress, counts, errors = JobProgress(), {"done": 0, "adopted": 0, "failed": 0}, []
    mturk = None
    for n, row in enumerate(rows, 1):
        try:
            decision = decisions.intend(
                row, action, feedback, source="dashboard", user=User.get_or_none(User.id == user_id)
            )
            mturk = mturk or tracking.client_for(batch)
            decision = decisions.send(decision, mturk)
            counts[decision.state] = counts.get(decision.state, 0) + 1
            if decision.state == "failed":
                errors.append([row.mturk_assignment_id, decision.error])
        except RequesterError as error:
            counts["failed"] += 1
            errors.append([row.mturk_assignment_id, str(error)])
        progress(n / len(rows), f"{n} of {len(rows)} assignments")
    verb = decisions.DONE[action]
    return {
        "summary": f"{counts['done']} {verb}, {counts['adopted']} already decided on MTurk, {counts['failed']} failed.",
        "errors": errors,
        "error_count": len(errors),
    }


@batch_job()
def bonus_approved(batch: Batch, amount: str, reason: str, user_id: int | None = None) -> dict:
    user = User.get_or_none(User.id == user_id)
    return bonuses.bonus_approved(batch, amount, reason, user=user, progress=JobProgress()).as_dict()


@batch_job()
def top_up(batch: Batch, rate: str, user_id: int | None = None) -> dict:
    """Bring every approved assignment up to ``rate`` dollars an hour with a bonus each (services/mturk/fairpay.py)."""
    plan = fairpay.top_up(batch, Decimal(rate))
    user = User.get_or_none(User.id == user_id)
    return bonuses.pay_each(
        batch, plan.pay, fairpay.top_up_reason(plan.rate), user=user, progress=JobProgress()
    ).as_dict()


@assignment_job
def bonus_one(row: MTurkAssignment, amount: str, reason: str, user_id: int | None = None) -> dict:
    bonus = bonuses.request(row, amount, reason, User.get_or_none(User.id == user_id))
    paid_before = bonus.state in ("done", "adopted")
    bonus = bonuses.pay(bonus, tracking.client_for(row.hit.batch))
    if bonus.state == "failed":
        return {"error": f"The bonus was not paid: {bonus.error} Ask again to retry it (it cannot be paid twice)."}
    return {
        "summary": f"${bonus.amount:.2f} for {row.mturk_assignment_id}: " + ("paid before." if paid_before else "paid.")
    }


@assignment_job
def block_worker(row: MTurkAssignment, reason: str, hard: bool, user_id: int | None = None) -> dict:
    action = workers.block(row, reason, hard=hard, user=User.get_or_none(User.id == user_id))
    if action.state == "failed":
        return {"error": f"The worker was not blocked: {action.error}"}
    if hard and action.kind == "soft_block":
        return {"summary": f"Worker {row.worker_id} soft-blocked: {workers.SHARED_ACCOUNT_BLOCK}"}
    return {"summary": f"Worker {row.worker_id} {'hard' if hard else 'soft'}-blocked."}


@batch_job()
def notify_workers(batch: Batch, row_ids: list[int], subject: str, text: str, user_id: int | None = None) -> dict:
    rows = MTurkAssignment.select().where(
        MTurkAssignment.id.in_(row_ids), MTurkAssignment.organization == batch.organization_id
    )
    return workers.notify(
        rows, subject, text, tracking.client_for(batch), User.get_or_none(User.id == user_id)
    ).as_dict()
