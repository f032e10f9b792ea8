"""Dynamic consensus (Deng et al. 2009): ask only about the images that are not yet sure, in rounds.

After each round the model is refitted; an image is *open* while neither
P(yes) has reached the target precision nor P(no) its (lower) bar
(``aggregation.no_confidence``) and it has fewer votes than the cap. Each open image is asked again, ``step`` votes at
most per round,
as many as a typical worker's votes would take to reach the target if they
all agreed with the current leaning (at least one). Open images are pooled by
class into pages; a page's images all get its number of assignments, so
images needing one vote share pages with those needing two only where that
saves a page.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import prior as model_prior
from .aggregation import UNKNOWN, Fit, log_likelihood_ratios, no_confidence

DEFAULT_FIRST_ROUND = 2  # k0: votes every image gets in round 1
DEFAULT_STEP = 2  # at most this many more votes per image per round
# with a trusted model's prior most open images are within a vote of the target: one at a time stops each as
# soon as it is decided (docs/performance.md: 2.83 votes per image against 3.09 with two)
STEP_WITH_PRIOR = 1
DEFAULT_MAX_VOTES = 10
DEFAULT_TARGET = 0.99  # the target precision of the yes labels
# how far one vote moves an image's log-odds before any vote tells the crowd's rates: a worker right 85 % of
# the time, each way (log(0.85 / 0.15))
FIRST_ROUND_STRENGTH = 1.73


def typical_strength(sensitivity: np.ndarray, specificity: np.ndarray, weights: np.ndarray) -> float:
    """How far a typical vote moves an item's log-odds: the weighted median over workers (weights: their
    votes) of (llr_selected - llr_unselected) / 2."""
    selected, unselected = log_likelihood_ratios(sensitivity, specificity)
    strength = (selected - unselected) / 2
    weights = np.asarray(weights, float)
    if not weights.sum():
        return 1.0
    order = np.argsort(strength)
    cumulative = np.cumsum(weights[order])
    return float(strength[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def more_votes(
    p_yes: np.ndarray,
    n_votes: np.ndarray,
    known: np.ndarray,
    target: float,
    max_votes: int = DEFAULT_MAX_VOTES,
    step: int = DEFAULT_STEP,
    strength: float = 1.0,
) -> np.ndarray:
    """Per item, how many more votes to ask for in the next round (0: decided, known, or at the cap)."""
    gap = _gap(p_yes, target)
    room = max_votes - n_votes
    need = np.ceil(gap / max(strength, 1e-6))
    # Two votes only where even two agreeing ones would not reach the goal: no vote is spent past it
    # when they agree, and a disagreement is answered in the next round, with the refit's knowledge.
    more = np.clip(need - 1, 1, step)
    more = np.minimum(more, room)
    is_open = (gap > 0) & ~known & (room > 0)
    return np.where(is_open, more, 0).astype(np.int64)


def _gap(p_yes: np.ndarray, target: float) -> np.ndarray:
    """Per item, the log-odds still missing to the nearer of the two goals, in the direction it leans."""
    p = np.clip(p_yes, 1e-12, 1 - 1e-12)
    log_odds = np.log(p) - np.log1p(-p)
    target_no = no_confidence(target)
    goal_yes = np.log(target) - np.log1p(-target)
    goal_no = np.log(target_no) - np.log1p(-target_no)
    return np.where(log_odds >= 0, goal_yes - log_odds, goal_no + log_odds)


def default_step(fit: Fit) -> int:
    """The most votes per image one round asks: one where a trusted model's prior is in the fit, else two."""
    return STEP_WITH_PRIOR if fit.calibration is not None and fit.calibration.trusted else DEFAULT_STEP


def next_round(
    fit: Fit, gold: np.ndarray, target: float, max_votes: int = DEFAULT_MAX_VOTES, step: int | None = None
) -> np.ndarray:
    """``more_votes`` straight from a fit: the typical strength from its workers' rates and votes; ``step``
    by default as ``default_step`` says."""
    step = default_step(fit) if step is None else step
    strength = typical_strength(fit.sensitivity, fit.specificity, fit.worker_votes)
    return more_votes(fit.p_yes, fit.n_votes, gold != UNKNOWN, target, max_votes, step, strength)


@dataclass
class Page:
    """One page of a follow-up round: a class, its open items, how many workers see it, and what fills it."""

    item_class: int
    items: list[int]
    assignments: int
    fill: int = 0  # slots left for fresh candidates of the class, else controls


@dataclass
class Plan:
    pages: list[Page] = field(default_factory=list)

    @property
    def open_items(self) -> int:
        return sum(len(p.items) for p in self.pages)

    @property
    def paid_pages(self) -> int:
        """Pages times the workers who see them: what the round costs, in page-assignments."""
        return sum(p.assignments for p in self.pages)

    @property
    def votes(self) -> int:
        return sum(len(p.items) * p.assignments for p in self.pages)


def plan(item_class: np.ndarray, more: np.ndarray, page_size: int) -> Plan:
    """Pool the open items (``more`` > 0) by class into pages of ``page_size`` items.

    Within a class, items needing the most votes come first; a page gets the
    votes of its neediest item, so the last, short page of one need is filled
    with items of the next need instead of standing half empty.
    """
    out = Plan()
    open_items = np.flatnonzero(more > 0)
    if not len(open_items):
        return out
    order = np.lexsort((-more[open_items], item_class[open_items]))
    open_items = open_items[order]
    classes = item_class[open_items]
    starts = np.flatnonzero(np.r_[True, classes[1:] != classes[:-1]])
    ends = np.r_[starts[1:], len(open_items)]
    for start, end in zip(starts, ends):
        members = open_items[start:end]
        for at in range(0, len(members), page_size):
            chunk = members[at : at + page_size]
            out.pages.append(
                Page(int(classes[start]), [int(i) for i in chunk], int(more[chunk].max()), page_size - len(chunk))
            )
    return out


def first_round(
    scores: np.ndarray,
    item_class: np.ndarray,
    gold: np.ndarray,
    target: float,
    first: int = DEFAULT_FIRST_ROUND,
    strength: float = FIRST_ROUND_STRENGTH,
) -> tuple[np.ndarray, model_prior.Calibration]:
    """Votes per candidate in round 1 when a model's scores are at hand: ``first`` each, but fewer for an
    image whose prior (the model calibrated on the controls) needs fewer agreeing votes to reach the target.

    Never none: a label always rests on at least one vote. A model the controls do not show to be better
    than chance (random, inverted) leaves every image at ``first``.
    """
    n_classes = int(item_class.max()) + 1 if len(item_class) else 0
    calibration = model_prior.on_controls(scores, item_class, gold, n_classes)
    z = model_prior.standardize(scores, item_class, gold != UNKNOWN)
    log_odds = calibration.log_odds(z, item_class)
    p = 1 / (1 + np.exp(-np.nan_to_num(log_odds, nan=0.0)))
    # as in every later round: one vote fewer than the agreeing votes the goal needs, the refit telling the rest
    asked = np.maximum(more_votes(p, np.zeros(len(p), np.int64), gold != UNKNOWN, target, first, first, strength), 1)
    return np.where(gold != UNKNOWN, 0, asked).astype(np.int64), calibration
