"""Fair pay: what a reward pays an hour, estimated before publishing and measured from what the server saw.

Times are the server's own: an assignment runs from when we opened it
(``Assignment.started_at``) to its last page's submission (``completed_at``),
never what a browser claims. The estimate uses the organization's measured
seconds per page (the median over its finished assignments) once it has any,
else ``FAIR_PAY_SECONDS_PER_PAGE``. The floor is the organization's own, else
``FAIR_PAY_FLOOR`` ($7.25, the US federal minimum wage: docs/mturk-publish.md
says why). A top-up bonus brings each approved assignment up to a chosen
hourly rate, less top-ups paid before; it is paid through bonuses.py (each bonus
once, within the bonus ceiling and the daily limit) after the requester confirms
the total (confirm.py).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from flask import current_app
from peewee import fn

from ...models import Assignment, Batch, BatchCount, Bonus, Hit, HitPage, MTurkAssignment, Organization
from . import bonuses

CENT = Decimal("0.01")
SAMPLE = 500  # the organization's latest finished assignments that measure its seconds per page
MIN_SECONDS = 1  # an assignment finished in under a second is not a measurement


def default_floor() -> Decimal:
    return Decimal(current_app.config["FAIR_PAY_FLOOR"]).quantize(CENT)


def floor(organization_id: int) -> Decimal:
    own = Organization.select(Organization.hourly_pay_floor).where(Organization.id == organization_id).scalar()
    return default_floor() if own is None else Decimal(own).quantize(CENT)


def hourly(reward: Decimal, seconds: float) -> Decimal:
    """What ``reward`` for ``seconds`` of work pays an hour."""
    return (Decimal(reward) * Decimal(3600) / Decimal(max(seconds, MIN_SECONDS))).quantize(CENT)


def _seconds(query) -> list[float]:
    return [
        (completed - started).total_seconds()
        for started, completed in query.tuples()
        if completed is not None and (completed - started).total_seconds() >= MIN_SECONDS
    ]


@dataclass(frozen=True)
class Estimate:
    """The hourly pay a reward would give, and where the time per page came from."""

    reward: Decimal
    pages: int  # pages a HIT
    seconds_per_page: float
    measured: int  # finished assignments it was measured on; 0: the stated default
    seconds_per_assignment: float
    hourly: Decimal
    floor: Decimal

    @property
    def below_floor(self) -> bool:
        return self.hourly < self.floor

    @property
    def fair_reward(self) -> Decimal:
        """The smallest reward that pays the floor for the estimated time."""
        owed = self.floor * Decimal(self.seconds_per_assignment) / Decimal(3600)
        return owed.quantize(CENT, ROUND_CEILING)


def estimate(batch: Batch, reward: Decimal | None = None) -> Estimate:
    """The hourly pay of the batch's reward (or ``reward``) for a HIT of its pages."""
    reward = Decimal(batch.reward if reward is None else reward)
    return estimate_for(batch.organization_id, batch.pages_per_hit_built, reward)


def estimate_for(organization_id: int, pages_per_hit: int, reward: Decimal) -> Estimate:
    """The hourly pay of ``reward`` for a HIT of ``pages_per_hit`` pages, at the organization's measured pace."""
    rows = list(
        Assignment.select(Assignment.started_at, Assignment.completed_at, Assignment.hit)
        .where(Assignment.organization == organization_id, Assignment.done == True)  # noqa: E712
        .order_by(Assignment.id.desc())
        .limit(SAMPLE)
        .tuples()
    )
    # Each by the pages its HIT has: a batch the dataset filled less than asked has fewer than its pages_per_hit.
    pages_of = dict(
        HitPage.select(HitPage.hit, fn.COUNT(HitPage.id))
        .where(HitPage.hit.in_(sorted({hit for _, _, hit in rows})))
        .group_by(HitPage.hit)
        .tuples()
    )
    per_page = [
        (completed - started).total_seconds() / max(pages_of.get(hit, 1), 1)
        for started, completed, hit in rows
        if completed is not None and (completed - started).total_seconds() >= MIN_SECONDS
    ]
    seconds = statistics.median(per_page) if per_page else float(current_app.config["FAIR_PAY_SECONDS_PER_PAGE"])
    pages = max(pages_per_hit, 1)
    per_assignment = seconds * pages
    return Estimate(
        Decimal(reward),
        pages,
        seconds,
        len(per_page),
        per_assignment,
        hourly(reward, per_assignment),
        floor(organization_id),
    )


@dataclass(frozen=True)
class Effective:
    """The hourly pay the batch's finished assignments actually got, by the server's clock."""

    assignments: int
    median_seconds: float
    slow_quarter_seconds: float  # the time the slowest quarter of workers take at least
    median_hourly: Decimal
    slow_quarter_hourly: Decimal
    floor: Decimal

    @property
    def below_floor(self) -> bool:
        return self.slow_quarter_hourly < self.floor


def durations(batch: Batch) -> list[float]:
    """The batch's finished MTurk assignments' times: what the reward paid for (lab annotators are not paid it)."""
    if not BatchCount.of([batch.id])[batch.id].mturk:
        return []  # none came through MTurk (kept by the database: no scan of the batch's assignments)
    query = (
        Assignment.select(Assignment.started_at, Assignment.completed_at)
        .join(Hit)
        .where(Hit.batch == batch, Assignment.done == True, Assignment.source == "mturk")  # noqa: E712
    )
    return _seconds(query)


def effective(batch: Batch) -> Effective | None:
    """The median and slowest-quarter hourly pay so far; None before any assignment is finished."""
    seconds = sorted(durations(batch))
    if not seconds:
        return None
    median = statistics.median(seconds)
    slow = seconds[min(len(seconds) - 1, math.ceil(0.75 * len(seconds)) - 1)] if len(seconds) > 1 else seconds[0]
    reward = Decimal(batch.reward)
    return Effective(
        len(seconds), median, slow, hourly(reward, median), hourly(reward, slow), floor(batch.organization_id)
    )


TOP_UP_PREFIX = "Top-up to $"  # how a top-up is told from other bonuses (bonus reasons are ours, shown to workers)
TOP_UP_REASON = TOP_UP_PREFIX + "{rate:.2f} an hour for the time this HIT took you, by our server's clock."


def top_up_reason(rate: Decimal) -> str:
    return TOP_UP_REASON.format(rate=Decimal(rate))


def _topped_up(row: MTurkAssignment) -> Decimal:
    """Top-ups already paid on the assignment (at any rate): a higher rate later pays only the difference."""
    return sum(
        (
            b.amount
            for b in Bonus.select(Bonus.amount, Bonus.reason).where(
                Bonus.mturk_assignment == row, Bonus.state.in_(("done", "adopted"))
            )
            if b.reason.startswith(TOP_UP_PREFIX)
        ),
        Decimal("0"),
    )


def owed(row: MTurkAssignment, rate: Decimal) -> Decimal:
    """The bonus bringing an approved assignment to ``rate`` an hour for the time the server saw, less top-ups."""
    assignment = row.assignment
    if assignment is None or assignment.completed_at is None:
        return Decimal("0.00")
    seconds = max((assignment.completed_at - assignment.started_at).total_seconds(), MIN_SECONDS)
    due = Decimal(rate) * Decimal(seconds) / Decimal(3600) - Decimal(row.hit.batch.reward) - _topped_up(row)
    return max(Decimal("0.00"), due.quantize(CENT, ROUND_CEILING))


@dataclass
class TopUp:
    """Each approved assignment's top-up to ``rate`` an hour, within the bonus ceiling."""

    rate: Decimal
    pay: list[tuple[MTurkAssignment, Decimal]]  # the assignments that get one, and how much
    enough: int  # approved assignments already paid at least the rate
    unmeasured: int  # approved assignments with no finished work here to time
    capped: int  # top-ups cut to the bonus ceiling

    @property
    def amount(self) -> Decimal:
        return sum((a for _, a in self.pay), Decimal("0"))


def top_up(batch: Batch, rate: Decimal) -> TopUp:
    """The top-ups of the batch's approved assignments to ``rate`` an hour, within what the bonus ceiling leaves."""
    ceiling = bonuses.ceiling(batch)
    plan = TopUp(Decimal(rate).quantize(CENT), [], 0, 0, 0)
    for row in bonuses.approved(batch):
        if row.assignment is None or row.assignment.completed_at is None:
            plan.unmeasured += 1
            continue
        amount = owed(row, plan.rate)
        if amount <= 0:
            plan.enough += 1
            continue
        room = ceiling - bonuses.given(row)  # the ceiling bounds all of an assignment's bonuses together
        if amount > room:
            if room <= 0:
                plan.capped += 1
                continue
            amount, plan.capped = room, plan.capped + 1
        plan.pay.append((row, amount))
    return plan
