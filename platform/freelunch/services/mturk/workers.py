"""Blocks and messages for workers we know only by a hash: each an intent row, the raw WorkerId read at call time.

A soft block (the default) grants the organization's soft-block qualification,
which every HIT type we publish requires to be absent: the worker no longer
sees our HITs, and MTurk holds nothing against them. A hard block is MTurk's
CreateWorkerBlock, which counts against the worker's standing: for abuse.
NotifyWorkers takes at most 100 workers a call. The WorkerId comes from
GetAssignment of one of the worker's assignments, and is checked against the
hash we keep (an AssignmentId can change hands) before it is used.

A hard block reaches every requester of the MTurk account, so only an
organization that owns its account (its own key pair) makes one: on the
server's shared account a block is always the organization's own soft block.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ...formatting import counted
from ...models import MTurkAssignment, User, WorkerAction, utcnow
from ..accounts import identity
from ..errors import RequesterError
from . import access, gateway, qualifications, tracking
from . import settings as batch_settings
from .errors import MTurkError

NOTIFY_BATCH = 100  # NotifyWorkers' WorkerIds maximum
SUBJECT_MAX = 200
MESSAGE_MAX = 4096


SHARED_ACCOUNT_BLOCK = (
    "this organization uses the server's shared MTurk account, where a hard block would keep the worker from "
    "every organization on it, so the block is this organization's own (a soft block)."
)


class WorkerActionError(RequesterError, ValueError):
    """An action we refuse before asking MTurk; the message is for the requester."""


def raw_worker_id(row: MTurkAssignment, mturk) -> str:
    """The WorkerId of the worker we hashed, read from MTurk now and never stored."""
    remote = gateway.call(
        mturk, "get_assignment", f"read assignment {row.mturk_assignment_id}", AssignmentId=row.mturk_assignment_id
    )["Assignment"]
    if identity.anonymous_worker_id(row.organization_id, remote["WorkerId"]) != row.worker_id:
        raise MTurkError(
            "MTurk now has this assignment with another worker; nothing was sent.", "Freelunch.OtherWorker"
        )
    return remote["WorkerId"]


def _finish(action: WorkerAction, error: MTurkError | None = None, worker: str | None = None) -> WorkerAction:
    action.state = "failed" if error else "done"
    if error:
        action.error_code, action.error = error.code, identity.without_worker_id(str(error), worker, action.worker_id)
    action.finished_at = utcnow()
    action.save()
    return action


def block(row: MTurkAssignment, reason: str, hard: bool = False, mturk=None, user: User | None = None) -> WorkerAction:
    """Block the worker of ``row``: soft (our qualification) unless ``hard`` (CreateWorkerBlock) on an owned account."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise WorkerActionError("Say why you block the worker.")
    hard = hard and access.owns_account(row.organization_id)
    kind = "hard_block" if hard else "soft_block"
    done = WorkerAction.get_or_none(
        WorkerAction.organization == row.organization_id,
        WorkerAction.worker_id == row.worker_id,
        WorkerAction.kind == kind,
        WorkerAction.state == "done",
    )
    if done is not None:
        return done  # blocked already: a retried job or a second click sends nothing
    action = WorkerAction.create(
        organization=row.organization_id,
        mturk_assignment=row,
        kind=kind,
        worker_id=row.worker_id,
        text=reason,
        user=user,
    )
    batch = row.hit.batch
    worker = None
    try:
        mturk = mturk or tracking.client_for(batch)
        worker = raw_worker_id(row, mturk)
        if hard:
            gateway.call(mturk, "create_worker_block", "block the worker", WorkerId=worker, Reason=reason)
        else:
            qualification = qualifications.ensure(
                mturk, row.organization_id, batch_settings.of(batch).sandbox, qualifications.SOFT_BLOCK
            )
            gateway.call(
                mturk,
                "associate_qualification_with_worker",
                "block the worker from our HITs",
                QualificationTypeId=qualification,
                WorkerId=worker,
                IntegerValue=1,
                SendNotification=False,
            )
    except MTurkError as error:
        return _finish(action, error, worker)
    return _finish(action)


@dataclass
class NotifySummary:
    sent: int = 0
    failed: int = 0
    errors: list[list[str]] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "summary": f"Message sent to {counted(self.sent, 'worker')}, {self.failed} failed.",
            "errors": self.errors,
            "error_count": len(self.errors),
        }


def notify(rows: Iterable[MTurkAssignment], subject: str, text: str, mturk, user: User | None = None) -> NotifySummary:
    """Message the workers of ``rows`` (each once), at most 100 a NotifyWorkers call; a row per worker records it."""
    subject, text = (subject or "").strip(), (text or "").strip()
    if not subject or not text:
        raise WorkerActionError("A message needs a subject and a text.")
    if len(subject) > SUBJECT_MAX or len(text) > MESSAGE_MAX:
        raise WorkerActionError(f"Keep the subject under {SUBJECT_MAX} characters and the text under {MESSAGE_MAX}.")
    summary = NotifySummary()
    by_worker: dict[str, MTurkAssignment] = {}
    for row in rows:
        by_worker.setdefault(row.worker_id, row)
    pending: list[tuple[str, WorkerAction]] = []
    for row in by_worker.values():
        action = WorkerAction.create(
            organization=row.organization_id,
            mturk_assignment=row,
            kind="notify",
            worker_id=row.worker_id,
            subject=subject,
            text=text,
            user=user,
        )
        try:
            pending.append((raw_worker_id(row, mturk), action))
        except MTurkError as error:
            _finish(action, error)
            summary.failed += 1
            summary.errors.append([row.mturk_assignment_id, str(error)])
    for start in range(0, len(pending), NOTIFY_BATCH):
        chunk = pending[start : start + NOTIFY_BATCH]
        try:
            answer = gateway.call(
                mturk,
                "notify_workers",
                "message the workers",
                Subject=subject,
                MessageText=text,
                WorkerIds=[worker for worker, _ in chunk],
            )
        except MTurkError as error:
            for worker, action in chunk:
                _finish(action, error, worker)
            summary.failed += len(chunk)
            summary.errors.append(["NotifyWorkers", chunk[0][1].error])
            continue
        refused = {status["WorkerId"]: status for status in answer.get("NotifyWorkersFailureStatuses", [])}
        for worker, action in chunk:
            status = refused.get(worker)
            if status:
                _finish(
                    action,
                    MTurkError(
                        status.get("NotifyWorkersFailureMessage", "MTurk did not deliver it."),
                        status.get("NotifyWorkersFailureCode", ""),
                    ),
                    worker,
                )
                summary.failed += 1
                summary.errors.append([action.mturk_assignment.mturk_assignment_id, action.error])
            else:
                _finish(action)
                summary.sent += 1
    return summary
