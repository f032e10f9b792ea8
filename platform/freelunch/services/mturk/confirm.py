"""What a bulk decision or bonus will do and cost, shown for the requester to confirm before anything is queued.

Money is stated with MTurk's fee (cost.py): approving pays out what MTurk took
when the HITs were created, rejecting returns it to the balance, a bonus is new
money (and counts against the daily limit, budget.py). Assignments the action
cannot apply to (not in the state it needs, paid this bonus before) are
counted apart, so the total is what will really move.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from ...models import Batch, MTurkAssignment, MTurkHit
from . import access, bonuses, budget, cost, fairpay
from .bonuses import BonusError
from .decisions import ALLOWED_FROM, DONE


@dataclass
class Preview:
    """One confirmation step: what happens, to how many, for how much."""

    action: str  # approve, reject, override, bonus
    count: int  # assignments it applies to
    skipped: int  # ticked or approved, but it does not apply to them
    amount: Decimal  # rewards (or bonuses) that move
    fees: Decimal  # MTurk's fee on them
    sentences: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # reasons it cannot be confirmed

    @property
    def total(self) -> Decimal:
        return self.amount + self.fees

    @property
    def can_confirm(self) -> bool:
        return self.count > 0 and not self.problems


def _sizes(rows: list[MTurkAssignment]) -> dict[str, int]:
    """Each MTurk HIT's assignments: its fee rate depends on them."""
    ids = list({r.mturk_hit_id for r in rows})
    query = MTurkHit.select(MTurkHit.mturk_hit_id, MTurkHit.max_assignments).where(MTurkHit.mturk_hit_id.in_(ids))
    return dict(query.tuples()) if ids else {}


def decision(batch: Batch, rows: list[MTurkAssignment], action: str) -> Preview:
    """Approve, reject or override the ticked rows: the money each moves and what the workers see."""
    applies = [r for r in rows if r.status == ALLOWED_FROM.get(action)]
    reward = Decimal(batch.reward)
    sizes = _sizes(applies)
    fees = sum((cost.fee(reward, sizes.get(r.mturk_hit_id, 1)) for r in applies), Decimal("0"))
    preview = Preview(action, len(applies), len(rows) - len(applies), reward * len(applies), fees)
    n = len(applies)
    money = f"${preview.amount:.2f} in rewards + ${preview.fees:.2f} MTurk fee = ${preview.total:.2f}"
    if action == "approve":
        preview.sentences.append(
            f"Approve {n} assignment{'s' * (n != 1)}: the workers are paid {money}, "
            "which MTurk took from the balance when the HITs were created (no new charge)."
        )
    elif action == "reject":
        preview.sentences.append(
            f"Reject {n} assignment{'s' * (n != 1)}: the workers are not paid, MTurk returns {money} to the "
            "balance, and each rejection lowers the worker's approval rate. The feedback is shown to them."
        )
    else:
        preview.sentences.append(
            f"Approve {n} assignment{'s' * (n != 1)} after their rejection: the workers are paid {money}, "
            "charged to the balance again."
        )
    if preview.skipped:
        they = "assignments are" if preview.skipped != 1 else "assignment is"
        preview.sentences.append(
            f"{preview.skipped} ticked {they} not {ALLOWED_FROM.get(action, '')} on MTurk, so cannot be "
            f"{DONE.get(action, action)} now: left as on MTurk."
        )
    if not n:
        preview.problems.append(f"None of the ticked assignments can be {DONE.get(action, action)} now.")
    return preview


def bonus(batch: Batch, amount_text: str, reason: str) -> Preview:
    """The same bonus for every approved assignment: how many get it, the total with the fee, the daily limit."""
    rows = list(bonuses.approved(batch))
    try:
        amount = bonuses.check_amount(batch, amount_text)
    except BonusError as error:
        preview = Preview("bonus", 0, len(rows), Decimal("0"), Decimal("0"))
        preview.problems.append(str(error))
        return preview
    paid = bonuses.already_paid(rows, amount, reason)
    n = len(rows) - len(paid)
    preview = Preview("bonus", n, len(paid), amount * n, cost.fee(amount) * n)
    preview.sentences.append(
        f"Pay a ${amount:.2f} bonus to {n} approved assignment{'s' * (n != 1)}: ${preview.amount:.2f} + "
        f"${preview.fees:.2f} MTurk fee (20 %) = ${preview.total:.2f}, new money from the balance."
    )
    if paid:
        preview.sentences.append(f"{len(paid)} got this bonus (same amount and reason) before and will not again.")
    _spend_checks(preview, batch.organization_id, "this bonus")
    if not n:
        preview.problems.append("No approved assignment is left to pay this bonus.")
    return preview


def top_up(batch: Batch, rate: Decimal) -> Preview:
    """Top-ups bringing approved assignments to ``rate`` an hour (fairpay.py): who gets how much, with the fee."""
    plan = fairpay.top_up(batch, rate)
    fees = sum((cost.fee(a) for _, a in plan.pay), Decimal("0"))
    n = len(plan.pay)
    preview = Preview("top_up", n, plan.enough + plan.unmeasured, plan.amount, fees)
    preview.sentences.append(
        f"Top up {n} approved assignment{'s' * (n != 1)} to ${plan.rate:.2f} an hour for the time our server saw "
        f"each take: ${preview.amount:.2f} in bonuses + ${preview.fees:.2f} MTurk fee (20 %) = ${preview.total:.2f}."
    )
    amounts = sorted(a for _, a in plan.pay)
    if amounts and amounts[0] != amounts[-1]:
        preview.sentences.append(f"From ${amounts[0]:.2f} to ${amounts[-1]:.2f} an assignment.")
    if plan.enough:
        preview.sentences.append(f"{plan.enough} already got at least that (reward and earlier top-ups).")
    if plan.unmeasured:
        preview.sentences.append(f"{plan.unmeasured} have no finished work here to time and get nothing.")
    if plan.capped:
        preview.sentences.append(
            f"{plan.capped} top-up{'s are' if plan.capped != 1 else ' is'} cut to the largest bonus allowed, "
            f"${bonuses.ceiling(batch):.2f}."
        )
    _spend_checks(preview, batch.organization_id, "this top-up")
    if not n:
        preview.problems.append("No approved assignment is paid less than that: there is nothing to top up.")
    return preview


def _spend_checks(preview: Preview, organization_id: int, what: str) -> None:
    """Today's spend beside the total, and why it cannot be paid: no MTurk account, or over the daily limit."""
    today = budget.today(organization_id)
    preview.sentences.append(f"Spent on MTurk today: ${today.spent:.2f} of ${today.limit:.2f}.")
    if access.source(organization_id) is None:
        preview.problems.append(access.NO_ACCOUNT_SENTENCE)
    elif preview.total > today.left:
        preview.problems.append(str(budget.refusal(organization_id, preview.total, what)))


def bonus_one(row: MTurkAssignment, amount_text: str, reason: str) -> Preview:
    """One assignment's bonus: its total with the fee, today's spend, and whether it was paid before."""
    batch = row.hit.batch
    try:
        amount = bonuses.check_amount(batch, amount_text)
    except BonusError as error:
        preview = Preview("bonus", 0, 0, Decimal("0"), Decimal("0"))
        preview.problems.append(str(error))
        return preview
    if bonuses.already_paid([row], amount, reason):
        preview = Preview("bonus", 0, 1, Decimal("0"), Decimal("0"))
        preview.problems.append("This assignment got this bonus (same amount and reason) before: it is paid once.")
        return preview
    preview = Preview("bonus", 1, 0, amount, cost.fee(amount))
    preview.sentences.append(
        f"Pay a ${amount:.2f} bonus for assignment {row.mturk_assignment_id}: ${preview.amount:.2f} + "
        f"${preview.fees:.2f} MTurk fee (20 %) = ${preview.total:.2f}, new money from the balance."
    )
    _spend_checks(preview, batch.organization_id, "this bonus")
    return preview
