"""What a decision, auto-review, bonus or top-up will do and cost, shown for the requester to confirm before anything
is queued.

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
from . import access, autoreview, bonuses, budget, cost, fairpay, tracking
from .bonuses import BonusError
from .decisions import ALLOWED_FROM, DONE


@dataclass
class Preview:
    """One confirmation step: what happens, to how many, for how much."""

    action: str  # approve, reject, override, bonus, top_up, auto_review
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
    amount, fees = _rewards(batch, applies)
    preview = Preview(action, len(applies), len(rows) - len(applies), amount, fees)
    n = len(applies)
    money = f"${preview.amount:.2f} in rewards + ${preview.fees:.2f} MTurk fee = ${preview.total:.2f}"
    workers = "the workers are" if n != 1 else "the worker is"
    if action == "approve":
        preview.sentences.append(
            f"Approve {n} assignment{'s' * (n != 1)}: {workers} paid {money}, "
            "which MTurk took from the balance when the HITs were created (no new charge)."
        )
    elif action == "reject":
        preview.sentences.append(
            f"Reject {n} assignment{'s' * (n != 1)}: {workers} not paid, MTurk returns {money} to the "
            "balance, and each rejection lowers the worker's approval rate. The feedback is shown to them."
        )
    else:
        preview.sentences.append(
            f"Approve {n} assignment{'s' * (n != 1)} after their rejection: {workers} paid {money}, "
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


def _rewards(batch: Batch, rows: list[MTurkAssignment]) -> tuple[Decimal, Decimal]:
    """The rewards of ``rows`` and MTurk's fee on them (the fee rate of each one's HIT)."""
    reward = Decimal(batch.reward)
    sizes = _sizes(rows)
    return reward * len(rows), sum((cost.fee(reward, sizes.get(r.mturk_hit_id, 1)) for r in rows), Decimal("0"))


def auto_review(batch: Batch) -> tuple[Preview, list[int]]:
    """What the rules would do now to each assignment they may decide, and those rows (the job decides only them)."""
    piles = tracking.sort_out(batch)
    judged = autoreview.plan(batch, piles)
    approve = [row for row, verdict in judged if verdict.action == "approve"]
    reject = [row for row, verdict in judged if verdict.action == "reject"]
    left = len(judged) - len(approve) - len(reject)
    amount, fees = _rewards(batch, approve)
    preview = Preview("auto_review", len(judged), len(piles.no_data), amount, fees)
    preview.sentences.append(
        f"The rules judge {len(judged)} submitted assignment{'s' * (len(judged) != 1)} as MTurk listed them at the "
        "last reconciliation (the job reconciles first and decides only these):"
    )
    if approve:
        paid = "the workers are" if len(approve) != 1 else "the worker is"
        preview.sentences.append(
            f"approve {len(approve)}: {paid} paid ${amount:.2f} in rewards + ${fees:.2f} MTurk fee = "
            f"${amount + fees:.2f}, which MTurk took from the balance when the HITs were created (no new charge);"
        )
    if reject:
        back, back_fees = _rewards(batch, reject)
        workers = len({row.worker_id for row in reject})
        unpaid = "the workers are" if len(reject) != 1 else "the worker is"
        preview.sentences.append(
            f"reject {len(reject)}: {unpaid} not paid, MTurk returns ${back + back_fees:.2f} (fee included) to "
            f"the balance, and each rejection lowers the approval rate of the worker ({workers} "
            f"worker{'s' * (workers != 1)}); they read why they failed;"
        )
    preview.sentences.append(f"leave {left} for you, flagged with why." if left else "leave none for you.")
    if piles.no_data:
        n = len(piles.no_data)
        preview.sentences.append(
            f"{n} submitted assignment{'s are' if n != 1 else ' is'} without data here: the rules never decide "
            f"{'them' if n != 1 else 'it'}, you do."
        )
    if not judged:
        preview.problems.append("No submitted assignment with data here is waiting for a decision.")
    return preview, [row.id for row, _ in judged]


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
            f"{plan.capped} top-up{'s are' if plan.capped != 1 else ' is'} cut to what the largest bonus allowed, "
            f"${bonuses.ceiling(batch):.2f} an assignment in all, leaves."
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
        if not bonuses.already_paid([row], amount, reason):
            bonuses.check_total(row, amount)
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
