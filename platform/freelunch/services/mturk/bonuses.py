"""Bonuses, paid exactly once: a row with its own UniqueRequestToken first, then SendBonus, then the result.

Asking again for the same bonus (same assignment, amount and reason: the row's
``key``) finds the row instead of writing a second one, so a retried job or
command cannot pay twice. A row that may have reached MTurk before (an earlier
attempt) is first looked for in ListBonusPayments: MTurk forgets a token after
24 h, and after that only the list can tell; a repeated token is refused with no
documented TurkErrorCode, so a refused resend is confirmed by the list too. SendBonus needs the raw WorkerId:
it is read from GetAssignment at call time, checked against the hash we keep,
and forgotten.

An assignment's bonuses are bounded: together at most ``MTURK_BONUS_MAX_MULTIPLE``
times the batch's reward and never above ``MTURK_BONUS_MAX`` (``ceiling``; each
new reason would otherwise be another full bonus), and each reserves its cost with
MTurk's fee against the organization's daily limit before SendBonus (budget.py).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from flask import current_app
from peewee import fn

from ...db import database
from ...formatting import counted
from ...models import Batch, Bonus, Hit, MTurkAssignment, User, utcnow
from ..accounts import identity
from ..errors import RequesterError
from ..jobs import ReportProgress
from . import access, budget, cost, gateway, tracking, workers
from .errors import MTurkError

AMOUNT_PATTERN = re.compile(r"^[0-9]{1,9}(\.)?[0-9]{0,2}$")  # MTurk's CurrencyAmount (the cap refuses the large)
REASON_MAX = 1024
BONUSABLE = ("Approved", "Rejected")  # MTurk bonuses an assignment once it has been decided


class BonusError(RequesterError, ValueError):
    """A bonus we refuse before asking MTurk; the message is for the requester."""


def parse_amount(text: str | Decimal) -> Decimal:
    """Dollars as MTurk takes them: more than zero, whole cents, nothing rounded away."""
    raw = str(text).strip().lstrip("$")
    if not AMOUNT_PATTERN.match(raw):
        raise BonusError(f"The bonus {text!r} is not an amount in dollars and cents, such as 0.25.")
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        raise BonusError(f"The bonus {text!r} is not an amount in dollars and cents, such as 0.25.") from None
    if amount <= 0:
        raise BonusError("A bonus must be more than $0.00.")
    return amount.quantize(Decimal("0.01"))


def ceiling(batch: Batch) -> Decimal:
    """The largest bonus an assignment of the batch may get: a multiple of its reward, within the absolute cap."""
    config = current_app.config
    multiple = Decimal(config["MTURK_BONUS_MAX_MULTIPLE"]) * Decimal(batch.reward)
    return min(multiple, Decimal(config["MTURK_BONUS_MAX"])).quantize(Decimal("0.01"))


def check_amount(batch: Batch, text: str | Decimal) -> Decimal:
    """The bonus in dollars, or BonusError when it is not an amount or is above the batch's ceiling."""
    amount = parse_amount(text)
    top = ceiling(batch)
    if amount > top:
        config = current_app.config
        raise BonusError(
            f"A bonus of ${amount:.2f} is more than this batch allows: at most ${top:.2f} an assignment "
            f"({config['MTURK_BONUS_MAX_MULTIPLE']} times the ${Decimal(batch.reward):.2f} reward, and never more "
            f"than ${Decimal(config['MTURK_BONUS_MAX']):.2f}; the operator sets both). Pay a smaller bonus."
        )
    return amount


def given(row: MTurkAssignment, besides: Bonus | None = None) -> Decimal:
    """What the assignment's bonuses add up to: paid, or asked for and not failed (``besides`` left out)."""
    query = Bonus.select(fn.SUM(Bonus.amount)).where(Bonus.mturk_assignment == row, Bonus.state != "failed")
    if besides is not None:
        query = query.where(Bonus.id != besides.id)
    return Decimal(query.scalar() or 0).quantize(Decimal("0.01"))


def check_total(row: MTurkAssignment, amount: Decimal, besides: Bonus | None = None) -> None:
    """BonusError when ``amount`` more would take the assignment's bonuses past the batch's ceiling."""
    so_far, top = given(row, besides), ceiling(row.hit.batch)
    if so_far + amount > top:
        raise BonusError(
            f"Assignment {row.mturk_assignment_id} has ${so_far:.2f} in bonuses already: a ${amount:.2f} bonus would "
            f"take it past ${top:.2f}, the most an assignment of this batch may get in all. "
            f"Pay at most ${max(top - so_far, Decimal('0')):.2f}."
        )


def price(amount: Decimal) -> Decimal:
    """What a bonus costs with MTurk's fee."""
    return amount + cost.fee(amount)


def _key(amount: Decimal, reason: str) -> str:
    return hashlib.sha256(f"{amount:.2f}\n{reason}".encode()).hexdigest()[:32]


def request(row: MTurkAssignment, amount: str | Decimal, reason: str, user: User | None = None) -> Bonus:
    """The bonus's row, written once: asking for the same bonus again returns the same row (and token)."""
    amount = parse_amount(amount)
    reason = " ".join((reason or "").split())
    if not reason:
        raise BonusError("Say why you pay the bonus: MTurk shows the reason to the worker.")
    if len(reason) > REASON_MAX:
        raise BonusError(f"The reason is {len(reason)} characters long; keep it under {REASON_MAX}.")
    if row.status not in BONUSABLE:
        raise BonusError(
            f"Assignment {row.mturk_assignment_id} is {row.status} on MTurk: approve (or reject) it "
            "before paying a bonus."
        )
    check_amount(row.hit.batch, amount)
    with database.atomic():
        # A no-op write first: it locks the assignment's row (PostgreSQL) or the database (SQLite), so two bonuses
        # asked at once add up one after the other instead of both fitting under the ceiling.
        MTurkAssignment.update(status=MTurkAssignment.status).where(MTurkAssignment.id == row.id).execute()
        bonus = Bonus.get_or_none(Bonus.mturk_assignment == row, Bonus.key == _key(amount, reason))
        if bonus is not None and bonus.state != "failed":
            return bonus
        check_total(row, amount, besides=bonus)  # a failed one asked again counts anew
        if bonus is None:
            bonus = Bonus.create(
                mturk_assignment=row,
                key=_key(amount, reason),
                organization=row.organization_id,
                amount=amount,
                reason=reason,
                user=user,
            )
    return bonus


def _already_paid(bonus: Bonus, mturk) -> bool:
    """Whether MTurk lists this bonus among the assignment's payments (the only proof once the token is forgotten)."""
    params: dict = {"AssignmentId": bonus.mturk_assignment.mturk_assignment_id, "MaxResults": 100}
    while True:
        page = gateway.call(mturk, "list_bonus_payments", "list the assignment's bonuses", **params)
        for payment in page.get("BonusPayments", []):
            if (
                Decimal(payment["BonusAmount"]) == bonus.amount
                and " ".join(payment.get("Reason", "").split()) == bonus.reason
            ):
                return True
        if not page.get("NextToken") or not page.get("BonusPayments"):
            return False
        params["NextToken"] = page["NextToken"]


def _finish(bonus: Bonus, state: str, code: str = "", error: str = "") -> Bonus:
    bonus.state, bonus.error_code, bonus.error = state, code, error
    if state in ("done", "adopted"):
        bonus.paid_at = utcnow()
    bonus.save()
    return bonus


def pay(bonus: Bonus, mturk) -> Bonus:
    """Send a bonus that is not known to be paid; safe to call again whatever happened before."""
    if bonus.state in ("done", "adopted"):
        return bonus
    worker = None
    org = bonus.organization_id
    spend = [budget.Reservation(bonus.token, "bonus", price(bonus.amount))]
    try:
        access.require(org)
        if bonus.attempts and _already_paid(bonus, mturk):
            budget.reserve(org, spend, "this bonus", enforce=False)  # paid before: it counts, whatever the limit
            return _finish(bonus, "adopted")
        budget.reserve(org, spend, "this bonus")
        worker = workers.raw_worker_id(bonus.mturk_assignment, mturk)
        bonus.attempts += 1
        bonus.first_sent_at = bonus.first_sent_at or utcnow()
        bonus.save()  # committed before the call: a crash after it is a retry, found by the token or the list
        gateway.call(
            mturk,
            "send_bonus",
            "pay the bonus",
            WorkerId=worker,
            BonusAmount=f"{bonus.amount:.2f}",
            AssignmentId=bonus.mturk_assignment.mturk_assignment_id,
            Reason=bonus.reason,
            UniqueRequestToken=bonus.token,
        )
    except MTurkError as error:
        # A token MTurk has seen is refused with no documented code: only the list can say the bonus went through.
        if bonus.attempts > 1 and _listed_quietly(bonus, mturk):
            return _finish(bonus, "adopted")
        budget.release([bonus.token])  # not paid: MTurk took nothing
        return _finish(
            bonus,
            "failed",
            error.code,
            identity.without_worker_id(str(error), worker, bonus.mturk_assignment.worker_id),
        )
    return _finish(bonus, "done")


def _listed_quietly(bonus: Bonus, mturk) -> bool:
    try:
        return _already_paid(bonus, mturk)
    except MTurkError:
        return False


def bonus_one(row: MTurkAssignment, amount, reason: str, mturk=None, user: User | None = None) -> Bonus:
    bonus = request(row, amount, reason, user)
    return pay(bonus, mturk or tracking.client_for(row.hit.batch))


@dataclass
class BonusSummary:
    paid: int = 0  # paid now
    already: int = 0  # paid before
    failed: int = 0

    def as_dict(self) -> dict:
        return dict(
            self.__dict__,
            summary=f"{counted(self.paid, 'bonus')} paid now, {self.already} paid before, {self.failed} failed.",
        )


def already_paid(rows: list[MTurkAssignment], amount: Decimal, reason: str) -> set[int]:
    """Ids of the rows that got this very bonus (same amount and reason) already: asking again pays them nothing."""
    key = _key(amount, " ".join((reason or "").split()))
    return {
        b.mturk_assignment_id
        for b in Bonus.select(Bonus.mturk_assignment).where(
            Bonus.mturk_assignment.in_([r.id for r in rows]), Bonus.key == key, Bonus.state.in_(("done", "adopted"))
        )
    }


def approved(batch: Batch) -> Iterator[MTurkAssignment]:
    return (
        MTurkAssignment.select()
        .join(Hit)
        .where(Hit.batch == batch, MTurkAssignment.status == "Approved")
        .order_by(MTurkAssignment.id)
    )


def bonus_approved(
    batch: Batch,
    amount,
    reason: str,
    mturk=None,
    user: User | None = None,
    progress: ReportProgress | None = None,
) -> BonusSummary:
    """The same bonus for every approved assignment of the batch; run again, it pays only those still unpaid."""
    amount = check_amount(batch, amount)
    return pay_each(batch, [(row, amount) for row in approved(batch)], reason, mturk, user, progress)


def pay_each(
    batch: Batch,
    pairs: list[tuple[MTurkAssignment, Decimal]],
    reason: str,
    mturk=None,
    user: User | None = None,
    progress: ReportProgress | None = None,
) -> BonusSummary:
    """A bonus of its own amount for each assignment, each paid once; the whole lot is checked against the
    daily limit before the first is sent."""
    access.require(batch.organization_id)
    reason = " ".join((reason or "").split())
    unpaid = [
        amount
        for row, amount in pairs
        if not Bonus.select()
        .where(Bonus.mturk_assignment == row, Bonus.key == _key(amount, reason), Bonus.state.in_(("done", "adopted")))
        .exists()
    ]
    total = sum((price(a) for a in unpaid), Decimal("0"))
    budget.check(batch.organization_id, total, f"bonuses for {len(unpaid)} assignments")
    mturk = mturk or tracking.client_for(batch)
    summary = BonusSummary()
    for done, (row, amount) in enumerate(pairs, 1):
        try:
            bonus = request(row, amount, reason, user)
        except BonusError:  # past the assignment's ceiling with its earlier bonuses: this one is not paid
            summary.failed += 1
            continue
        if bonus.state in ("done", "adopted"):
            summary.already += 1
        else:
            summary.paid += pay(bonus, mturk).state in ("done", "adopted")
            summary.failed += bonus.state == "failed"
        if progress:
            progress(done / len(pairs), f"{done} of {len(pairs)} assignments")
    return summary
