"""What a batch costs on MTurk, before it is published and as it runs.

MTurk charges the reward plus a commission of 20 %, or 40 % for a HIT of 10
or more assignments (at least $0.01 an assignment, and 20 % of every bonus),
and takes it from the balance when the HIT is created. A HIT created with fewer
than 10 assignments can never be extended to 10 or more. So a batch asking for
more than 9 assignments per HIT is published as several MTurk HITs of at most
9 each, showing the same pages: the same assignments at half the commission.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

FEE_RATE = Decimal("0.20")
LARGE_HIT_FEE_RATE = Decimal("0.40")
FEE_STEP_ASSIGNMENTS = 10  # from this many assignments a HIT, the larger rate
MAX_ASSIGNMENTS_PER_MTURK_HIT = FEE_STEP_ASSIGNMENTS - 1
MIN_FEE = Decimal("0.01")
CENT = Decimal("0.01")

SPLIT_REASON = (
    f"MTurk charges a {LARGE_HIT_FEE_RATE:.0%} fee instead of {FEE_RATE:.0%} on a HIT of "
    f"{FEE_STEP_ASSIGNMENTS} or more assignments, so each of our HITs is published as several MTurk HITs "
    f"of at most {MAX_ASSIGNMENTS_PER_MTURK_HIT} assignments showing the same pages."
)


def split(assignments: int) -> list[int]:
    """The MTurk HITs for one of our HITs: as few as possible, each of at most 9 assignments, sizes as even as can be"""
    if assignments < 1:
        return []
    parts = -(-assignments // MAX_ASSIGNMENTS_PER_MTURK_HIT)
    size, extra = divmod(assignments, parts)
    return [size + 1] * extra + [size] * (parts - extra)


def fee(amount: Decimal, assignments_in_hit: int = 1) -> Decimal:
    """MTurk's commission on one assignment's reward (or one bonus: pass 1)."""
    rate = LARGE_HIT_FEE_RATE if assignments_in_hit >= FEE_STEP_ASSIGNMENTS else FEE_RATE
    return max(MIN_FEE, (Decimal(amount) * rate).quantize(CENT, ROUND_HALF_UP)) if amount > 0 else Decimal("0.00")


@dataclass(frozen=True)
class Estimate:
    """The cost of some MTurk HITs (a batch's plan, or what is still to be created of it)."""

    hits: int  # our HITs
    mturk_hits: int
    assignments: int
    rewards: Decimal
    fees: Decimal

    @property
    def total(self) -> Decimal:
        return self.rewards + self.fees


def estimate(hits: int, assignments_per_hit: int, reward: Decimal) -> Estimate:
    """HITs x assignments x reward, plus MTurk's fee on each MTurk HIT of the split."""
    parts = split(assignments_per_hit)
    reward = Decimal(reward)
    per_hit_fees = sum((fee(reward, size) * size for size in parts), Decimal("0"))
    return Estimate(
        hits=hits,
        mturk_hits=hits * len(parts),
        assignments=hits * assignments_per_hit,
        rewards=reward * hits * assignments_per_hit,
        fees=per_hit_fees * hits,
    )


def of_sizes(sizes: list[int], reward: Decimal, hits: int) -> Estimate:
    """The cost of MTurk HITs of the given assignment counts (e.g. those not yet created)."""
    reward = Decimal(reward)
    return Estimate(
        hits=hits,
        mturk_hits=len(sizes),
        assignments=sum(sizes),
        rewards=reward * sum(sizes),
        fees=sum((fee(reward, n) * n for n in sizes), Decimal("0")),
    )
