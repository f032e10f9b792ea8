"""A published batch's MTurk HITs over time: extend, expire, delete when finished, and what it has cost so far.

Extending respects MTurk's 10-assignment rule: a HIT created with fewer than
10 assignments can never reach 10, and at 10 the fee would double anyway, so
each MTurk HIT grows to at most 9 and the rest become new MTurk HITs of the
same pages (new parts, published exactly once like the first). An
extension is an ``MTurkExtension`` intent row with its own
UniqueRequestToken; before one is sent again, GetHIT tells whether MTurk
already applied it (its MaxAssignments), which is read from MTurk's state,
not its wording.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from peewee import fn

from ...db import database
from ...models import Batch, Bonus, Hit, MTurkAssignment, MTurkExtension, MTurkHit, utcnow
from ..jobs import ReportProgress
from . import access, budget, cost, gateway, publish
from . import settings as batch_settings
from .errors import MTurkError

LIVE = ("created",)


def _client(batch: Batch, mturk=None):
    return mturk or gateway.client(batch.organization_id, batch_settings.of(batch).sandbox)


def _live(batch: Batch):
    return MTurkHit.select().where(MTurkHit.batch == batch, MTurkHit.state.in_(LIVE)).order_by(MTurkHit.id)


@dataclass
class Outcome:
    """What a lifecycle action did, for the page, the CLI and the job result."""

    done: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[str] | None = None

    def add_error(self, sentence: str) -> None:
        self.failed += 1
        self.errors = (self.errors or []) + [sentence]


# --- expire -------------------------------------------------------------------


def expire(batch: Batch, mturk=None, progress: ReportProgress | None = None) -> Outcome:
    """Stop every live MTurk HIT of the batch from being found or accepted (assignments in progress may finish)."""
    mturk = _client(batch, mturk)
    outcome = Outcome()
    rows = list(_live(batch))
    now = dt.datetime.now(dt.UTC)
    for n, row in enumerate(rows, 1):
        if row.expires_at is not None and row.expires_at <= now.replace(tzinfo=None):
            outcome.skipped += 1
            continue
        try:
            # A time in the past expires the HIT at once.
            gateway.call(
                mturk,
                "update_expiration_for_hit",
                f"expire MTurk HIT {row.mturk_hit_id}",
                HITId=row.mturk_hit_id,
                ExpireAt=now - dt.timedelta(seconds=1),
            )
        except MTurkError as error:
            outcome.add_error(str(error))
            continue
        row.expires_at = now.replace(tzinfo=None)
        row.save(only=[MTurkHit.expires_at])
        outcome.done += 1
        if progress:
            progress(n / len(rows), f"{n} of {len(rows)} MTurk HITs expired")
    return outcome


# --- delete finished HITs -------------------------------------------------------


def delete_finished(batch: Batch, mturk=None) -> Outcome:
    """DeleteHIT for each HIT MTurk calls Reviewable with nothing pending; the others are left, counted as skipped."""
    mturk = _client(batch, mturk)
    outcome = Outcome()
    for row in _live(batch):
        try:
            remote = gateway.call(mturk, "get_hit", f"read MTurk HIT {row.mturk_hit_id}", HITId=row.mturk_hit_id)["HIT"]
        except MTurkError as error:
            outcome.add_error(str(error))
            continue
        row.hit_status = remote.get("HITStatus")
        row.save(only=[MTurkHit.hit_status])
        if remote.get("HITStatus") != "Reviewable" or remote.get("NumberOfAssignmentsPending", 0):
            outcome.skipped += 1
            continue
        try:
            gateway.call(mturk, "delete_hit", f"delete MTurk HIT {row.mturk_hit_id}", HITId=row.mturk_hit_id)
        except MTurkError as error:  # e.g. a submitted assignment not yet approved or rejected
            outcome.add_error(str(error))
            continue
        row.state, row.hit_status = "deleted", "Disposed"
        row.save(only=[MTurkHit.state, MTurkHit.hit_status])
        outcome.done += 1
    return outcome


# --- extend ---------------------------------------------------------------------


def plan_extension(batch: Batch, more: int) -> list[tuple[Hit | MTurkHit, int]]:
    """For each of our HITs, where ``more`` assignments go: onto existing MTurk HITs up to 9, then new parts."""
    if more < 1:
        raise MTurkError("Add at least one assignment per HIT.", publish.NOT_READY)
    by_hit: dict[int, list[MTurkHit]] = {}
    for row in MTurkHit.select().where(MTurkHit.batch == batch, MTurkHit.round == 1).order_by(MTurkHit.part):
        by_hit.setdefault(row.hit_id, []).append(row)
    steps: list[tuple[Hit | MTurkHit, int]] = []
    for hit in Hit.select().where(Hit.batch == batch).order_by(Hit.id):
        left = more
        for row in by_hit.get(hit.id, []):
            pending = sum(e.assignments for e in row.extensions if e.state == "intended")
            room = cost.MAX_ASSIGNMENTS_PER_MTURK_HIT - row.max_assignments - pending
            if row.state == "created" and room > 0 and left:
                steps.append((row, min(room, left)))
                left -= min(room, left)
        if left:
            steps.append((hit, left))
    return steps


def check_extension(batch: Batch, more: int, confirm_production: bool) -> list[tuple[Hit | MTurkHit, int]]:
    """The extension's steps (plan_extension), or an MTurkError saying why it cannot go ahead; calls nothing."""
    access.require(batch.organization_id)
    if not MTurkHit.select().where(MTurkHit.batch == batch, MTurkHit.state == "created").exists():
        raise MTurkError("Publish the batch before extending it.", publish.NOT_READY)
    if not batch_settings.of(batch).sandbox and not confirm_production:
        raise MTurkError("Extending in production spends real money: confirm it first.", publish.NOT_READY)
    steps = plan_extension(batch, more)
    budget.check(batch.organization_id, extension_price(batch, steps), "extending the batch")
    return steps


def extension_cost(batch: Batch, steps: list[tuple[Hit | MTurkHit, int]]) -> cost.Estimate:
    """What the extension costs: assignments added to MTurk HITs, and the new MTurk HITs, with MTurk's fee."""
    sizes = [m for target, n in steps for m in ([n] if isinstance(target, MTurkHit) else cost.split(n))]
    return cost.of_sizes(sizes, Decimal(batch.reward), 0)


def extension_price(batch: Batch, steps: list[tuple[Hit | MTurkHit, int]]) -> Decimal:
    return extension_cost(batch, steps).total


def extend(batch: Batch, more: int, mturk=None, confirm_production: bool = False) -> Outcome:
    """Give every HIT of the batch ``more`` assignments, exactly once, within MTurk's 10-assignment rule."""
    steps = check_extension(batch, more, confirm_production)
    mturk = _client(batch, mturk)
    org = batch.organization_id
    price = extension_price(batch, steps)
    available = Decimal(gateway.balance(mturk))
    if available < price:
        raise MTurkError(
            f"Extending costs ${price:.2f} but the account has ${available:.2f}: add funds first.", publish.NOT_READY
        )
    with database.atomic():  # every intent first, then the calls
        for target, n in steps:
            if isinstance(target, MTurkHit):
                count = target.extensions.count() + 1
                MTurkExtension.create(
                    organization=org,
                    mturk_hit=target,
                    assignments=n,
                    unique_request_token=f"freelunch-o{org}-x{target.id}-{count}",
                )
            else:
                part = MTurkHit.select().where(MTurkHit.hit == target, MTurkHit.round == 1).count()
                for extra, size in enumerate(cost.split(n)):
                    MTurkHit.create(
                        organization=org,
                        batch=batch,
                        hit=target,
                        part=part + extra,
                        round=1,
                        sandbox=batch_settings.of(batch).sandbox,
                        max_assignments=size,
                        unique_request_token=publish.token(org, batch.id, target.id, 1, part + extra),
                    )
        Batch.update(assignments_per_hit=Batch.assignments_per_hit + more).where(Batch.id == batch.id).execute()
    outcome = apply_extensions(batch, mturk)
    if MTurkHit.select().where(MTurkHit.batch == batch, MTurkHit.state == "intended").exists():
        outcome.done += publish.publish(Batch.get_by_id(batch.id), mturk=mturk, confirm_production=True).created
    return outcome


def _max_assignments(mturk, row: MTurkHit) -> int:
    return gateway.call(mturk, "get_hit", f"read MTurk HIT {row.mturk_hit_id}", HITId=row.mturk_hit_id)["HIT"].get(
        "MaxAssignments", 0
    )


def apply_extensions(batch: Batch, mturk) -> Outcome:
    """Send every extension still intended; one already applied by MTurk (a lost response) is recognised by GetHIT."""
    outcome = Outcome()
    rows = (
        MTurkExtension.select(MTurkExtension, MTurkHit)
        .join(MTurkHit)
        .where(MTurkHit.batch == batch, MTurkExtension.state == "intended")
        .order_by(MTurkExtension.id)
    )
    reward = Decimal(batch.reward)
    for extension in rows:
        row = extension.mturk_hit
        target = row.max_assignments + extension.assignments
        try:
            price = cost.of_sizes([extension.assignments], reward, 0).total
            token = extension.unique_request_token
            budget.reserve(batch.organization_id, [budget.Reservation(token, "extension", price)], "extending a HIT")
            if _max_assignments(mturk, row) < target:
                try:
                    gateway.call(
                        mturk,
                        "create_additional_assignments_for_hit",
                        f"extend MTurk HIT {row.mturk_hit_id}",
                        HITId=row.mturk_hit_id,
                        NumberOfAdditionalAssignments=extension.assignments,
                        UniqueRequestToken=extension.unique_request_token,
                    )
                except MTurkError:
                    # A retry after a lost answer is refused (MTurk documents no code for it): its state tells.
                    if _max_assignments(mturk, row) < target:
                        raise
        except MTurkError as error:
            budget.release([extension.unique_request_token])  # nothing was added: MTurk took no money
            outcome.add_error(str(error))
            continue
        with database.atomic():
            MTurkHit.update(max_assignments=target).where(MTurkHit.id == row.id).execute()
            MTurkExtension.update(state="done", done_at=utcnow()).where(MTurkExtension.id == extension.id).execute()
        outcome.done += 1
    return outcome


# --- spend ----------------------------------------------------------------------


@dataclass(frozen=True)
class Spend:
    """Money the batch has moved on MTurk so far, in dollars."""

    charged: Decimal  # taken from the balance when HITs were created: every assignment's reward and fee
    held: Decimal  # of that, still held: assignments not yet done or decided (released on rejection and at expiry)
    approved: int  # assignments paid
    rewards_paid: Decimal
    fees_paid: Decimal
    bonuses: Decimal
    bonus_fees: Decimal

    @property
    def paid(self) -> Decimal:
        """Rewards, bonuses and their fees: money that has left the balance for good."""
        return self.rewards_paid + self.fees_paid + self.bonuses + self.bonus_fees


def _held(rows: list[MTurkHit], reward: Decimal) -> Decimal:
    """What MTurk still holds for the HITs: a live HIT's every undecided slot, an expired one's submitted work only."""
    listed: dict[tuple[str, str], int] = {}
    for hit_id, status, n in (
        MTurkAssignment.select(MTurkAssignment.mturk_hit_id, MTurkAssignment.status, fn.COUNT(MTurkAssignment.id))
        .where(MTurkAssignment.mturk_hit_id.in_([r.mturk_hit_id for r in rows]))
        .group_by(MTurkAssignment.mturk_hit_id, MTurkAssignment.status)
        .tuples()
    ):
        listed[(hit_id, status)] = n
    now = utcnow()
    held = Decimal("0")
    for row in rows:
        unit = reward + cost.fee(reward, row.max_assignments)
        submitted = listed.get((row.mturk_hit_id, "Submitted"), 0)
        over = row.state == "deleted" or (row.expires_at is not None and row.expires_at <= now)
        decided = listed.get((row.mturk_hit_id, "Approved"), 0) + listed.get((row.mturk_hit_id, "Rejected"), 0)
        held += unit * (submitted if over else max(0, row.max_assignments - decided))
    return held


def spend(batch: Batch) -> Spend:
    """What creation charged and still holds, and what approved assignments (as MTurk last listed them) and paid
    bonuses cost."""
    reward = Decimal(batch.reward)
    rows = list(MTurkHit.select().where(MTurkHit.batch == batch, MTurkHit.state != "intended"))
    sizes = [r.max_assignments for r in rows]
    approved = (
        MTurkAssignment.select().join(Hit).where(Hit.batch == batch, MTurkAssignment.status == "Approved").count()
    )
    paid_bonuses = [
        amount
        for (amount,) in Bonus.select(Bonus.amount)
        .join(MTurkAssignment)
        .join(Hit)
        .where(Hit.batch == batch, Bonus.state.in_(("done", "adopted")))
        .tuples()
    ]
    return Spend(
        charged=cost.of_sizes(sizes, reward, 0).total,
        held=_held(rows, reward) if rows else Decimal("0"),
        approved=approved,
        rewards_paid=reward * approved,
        fees_paid=cost.fee(reward, max(sizes, default=1)) * approved,
        bonuses=sum(paid_bonuses, Decimal("0")),
        bonus_fees=sum((cost.fee(b) for b in paid_bonuses), Decimal("0")),
    )
