"""Approve, reject, override a rejection: an intent row first, then the MTurk call, then the result.

No MTurk call runs inside a database transaction: the ``Decision`` row is
committed before the call, so a crash leaves an "intended" row to retry, never a
payment nobody recorded. When MTurk says the assignment is not in a state that
allows the decision (``InvalidAssignmentState``: auto-approved meanwhile,
decided by someone on MTurk's site), we adopt MTurk's state from GetAssignment
instead of failing.
"""

from __future__ import annotations

import datetime as dt

from ...models import Assignment, Decision, MTurkAssignment, User, utcnow
from ..errors import RequesterError
from . import gateway, tracking
from .errors import INVALID_ASSIGNMENT_STATE, MTurkError

FEEDBACK_MAX = 1024  # RequesterFeedback, as MTurk's API reference documents it
OVERRIDE_WINDOW = dt.timedelta(days=30)  # MTurk accepts OverrideRejection this long after the rejection
# What each decision needs MTurk's status to be, and leaves it as.
ALLOWED_FROM = {"approve": "Submitted", "reject": "Submitted", "override": "Rejected"}
RESULT = {"approve": "Approved", "reject": "Rejected", "override": "Approved"}
DONE = {"approve": "approved", "reject": "rejected", "override": "approved after its rejection"}


class DecisionError(RequesterError, ValueError):
    """A decision we refuse before asking MTurk; the message says why, for the requester."""


def check(row: MTurkAssignment, action: str, feedback: str, now: dt.datetime | None = None) -> str:
    """The cleaned feedback, or DecisionError: nothing that MTurk would refuse (or a worker would not understand) is
    sent."""
    feedback = " ".join((feedback or "").split())
    if action not in ALLOWED_FROM:
        raise DecisionError("Choose approve, reject or override.")
    if action == "reject" and not feedback:
        raise DecisionError("Say why you reject: MTurk shows the reason to the worker.")
    if len(feedback) > FEEDBACK_MAX:
        raise DecisionError(f"The feedback is {len(feedback)} characters long; MTurk takes at most {FEEDBACK_MAX}.")
    if row.status != ALLOWED_FROM[action]:
        raise DecisionError(
            f"Assignment {row.mturk_assignment_id} is {row.status} on MTurk: it cannot be {DONE[action]} now."
        )
    if action == "override" and row.decided_at and (now or utcnow()) - row.decided_at > OVERRIDE_WINDOW:
        raise DecisionError("MTurk lets a rejection be overridden for 30 days only; this one is older.")
    return feedback


def in_flight(row: MTurkAssignment) -> Decision | None:
    """A decision sent (or about to be) whose result is not known: it is retried, never doubled."""
    return row.decisions.where(Decision.state == "intended").order_by(Decision.id).first()


def intend(
    row: MTurkAssignment,
    action: str,
    feedback: str = "",
    source: str = "dashboard",
    user: User | None = None,
    rules: dict | None = None,
) -> Decision:
    """Write the decision before anything is sent; a decision already in flight for the assignment is returned
    instead."""
    pending = in_flight(row)
    if pending is not None:
        return pending
    feedback = check(row, action, feedback)
    return Decision.create(
        organization=row.organization_id,
        mturk_assignment=row,
        action=action,
        feedback=feedback,
        source=source,
        user=user,
        rules=rules,
    )


def _request(decision: Decision) -> tuple[str, dict]:
    row = decision.mturk_assignment
    params: dict = {"AssignmentId": row.mturk_assignment_id}
    if decision.feedback:
        params["RequesterFeedback"] = decision.feedback
    if decision.action == "reject":
        return "reject_assignment", params
    if decision.action == "override":
        params["OverrideRejection"] = True
    return "approve_assignment", params


def _adopt(decision: Decision, mturk) -> None:
    """MTurk refused for the assignment's state: take that state as the truth and say so on the decision."""
    row = decision.mturk_assignment
    remote = gateway.call(
        mturk, "get_assignment", f"read assignment {row.mturk_assignment_id}", AssignmentId=row.mturk_assignment_id
    )["Assignment"]
    tracking.record(row.hit, remote)
    decision.state = "adopted"
    decision.error_code = INVALID_ASSIGNMENT_STATE
    decision.error = f"MTurk had it {remote['AssignmentStatus']} already; that state is kept."


def send(decision: Decision, mturk) -> Decision:
    """Make the MTurk call of an intended decision and record what came of it."""
    if decision.state != "intended":
        return decision
    row = decision.mturk_assignment
    operation, params = _request(decision)
    try:
        gateway.call(mturk, operation, f"{decision.action} assignment {row.mturk_assignment_id}", **params)
    except MTurkError as error:
        if error.code == INVALID_ASSIGNMENT_STATE:
            _adopt(decision, mturk)
        else:
            decision.state, decision.error_code, decision.error = "failed", error.code, str(error)
    else:
        decision.state = "done"
        now = utcnow()
        MTurkAssignment.update(
            status=RESULT[decision.action], decided_at=now, flag="", requester_feedback=decision.feedback
        ).where(MTurkAssignment.id == row.id).execute()
        if row.assignment_id:
            Assignment.update(mturk_status=RESULT[decision.action]).where(Assignment.id == row.assignment_id).execute()
    decision.finished_at = utcnow()
    decision.save()
    return decision


def decide(row: MTurkAssignment, action: str, feedback: str = "", mturk=None, **intent) -> Decision:
    """Decide one assignment now: intent row, call, result."""
    decision = intend(row, action, feedback, **intent)
    return send(decision, mturk or tracking.client_for(row.hit.batch))
