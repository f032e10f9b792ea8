"""Fair pay: what a reward pays an hour, estimated before publishing and measured from what the server saw.

Times are the server's own: an assignment runs from when we opened it
(``Assignment.started_at``) to its last page's submission (``completed_at``),
never what a browser claims. The estimate uses the organization's measured
seconds per page (the median over its finished assignments) once it has any,
else ``FAIR_PAY_SECONDS_PER_PAGE``. The floor is the organization's own, else
``FAIR_PAY_FLOOR`` ($7.25, the US federal minimum wage: docs/mturk-publish.md
says why). A top-up bonus brings each approved assignment up to a chosen
hourly rate; it is paid through bonuses.py (once per assignment, capped, within
the daily limit).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from flask import current_app

from ...models import Assignment, Batch, Hit, MTurkAssignment, Organization

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

    seconds_per_page: float
    measured: int  # finished assignments it was measured on; 0: the stated default
    seconds_per_assignment: float
    hourly: Decimal
    floor: Decimal

    @property
    def below_floor(self) -> bool:
        return self.hourly < self.floor


def estimate(batch: Batch, reward: Decimal | None = None) -> Estimate:
    """The hourly pay of the batch's reward (or ``reward``) for a HIT of its pages."""
    rows = (
        Assignment.select(Assignment.started_at, Assignment.completed_at, Batch.pages_per_hit)
        .join(Hit)
        .join(Batch)
        .where(Assignment.organization == batch.organization_id, Assignment.done == True)  # noqa: E712
        .order_by(Assignment.id.desc())
        .limit(SAMPLE)
    )
    per_page = [
        (completed - started).total_seconds() / max(pages, 1)
        for started, completed, pages in rows.tuples()
        if completed is not None and (completed - started).total_seconds() >= MIN_SECONDS
    ]
    seconds = statistics.median(per_page) if per_page else float(current_app.config["FAIR_PAY_SECONDS_PER_PAGE"])
    per_assignment = seconds * max(batch.pages_per_hit, 1)
    reward = Decimal(batch.reward if reward is None else reward)
    return Estimate(
        seconds, len(per_page), per_assignment, hourly(reward, per_assignment), floor(batch.organization_id)
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
    query = (
        Assignment.select(Assignment.started_at, Assignment.completed_at)
        .join(Hit)
        .where(Hit.batch == batch, Assignment.done == True)  # noqa: E712
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


def top_up(row: MTurkAssignment, rate: Decimal) -> Decimal:
    """The bonus that brings an approved assignment's pay up to ``rate`` an hour for the time the server saw it take."""
    assignment = row.assignment
    if assignment is None or assignment.completed_at is None:
        return Decimal("0.00")
    seconds = max((assignment.completed_at - assignment.started_at).total_seconds(), MIN_SECONDS)
    owed = Decimal(rate) * Decimal(seconds) / Decimal(3600) - Decimal(row.hit.batch.reward)
    return max(Decimal("0.00"), owed.quantize(CENT, ROUND_CEILING))
