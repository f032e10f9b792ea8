"""Labels from votes: selection frequency, or two-coin Dawid–Skene with the controls as known labels.

Everything works on flat vote arrays (one entry per vote: item, worker,
selected), where an *item* is one (image, class) pair. Every step is an
``np.bincount`` over those arrays, so a refit of 144,000 items × 10 votes is a
few tens of milliseconds per EM iteration and memory is a handful of arrays of
the votes' length: no Python loop ever runs per vote.

Dawid–Skene (two-coin): every worker has a sensitivity (P(selected | yes)) and
a specificity (P(not selected | no)); every class has a prior P(yes). EM
alternates the posterior P(yes) of every item (E) and the rates and priors
that make those posteriors most likely (M). Control images are known labels:
their posterior is fixed, so they anchor the rates (and keep EM from the
mirror solution where every label is flipped); they do not count towards the
class prior, since pages hold as many positive as negative controls whatever
the class's share of positives. The class priors get Beta(1, 1) pseudo-counts.

A worker's rates are pulled towards the crowd's pooled rates (empirical Bayes,
``_pooled``): each worker's counts get Beta(m κ, (1 − m) κ) pseudo-counts,
where m is the crowd's pooled rate and κ is read off how far the workers'
rates spread beyond what their numbers of votes explain (the beta-binomial
method of moments), within ``POOLING``. A crowd of workers who differ (good
ones, spammers) keeps κ small and each worker nearly their own rates; a crowd
of workers alike, each with few votes, gets a large κ and nearly the pooled
rates, where the noise of a worker's own estimate would otherwise weigh their
votes at random and lose to counting votes (docs/review.md).

Selection frequency (``model="mv"``) is the share of an item's votes that
selected it, the rule ImageNetV2 used; the worker rates are still estimated
(on the controls alone) so the two models can be compared on the same workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import prior as model_prior

MODELS = ("ds", "mv")
UNKNOWN = -1  # gold value of an item whose label is not known
RATE_FLOOR = 1e-3  # no worker is certain: keeps every log finite
# Beta pseudo-counts of the crowd's pooled rates: a crowd starts as somewhat better than a coin (2/3)
RATE_PRIOR = (2.0, 1.0)
# The least and most pseudo-counts (κ) a worker's rate takes from the crowd's pooled rate: at least as many
# as the fixed Beta(2, 1) of before, at most as many as a worker's 1,000 votes
POOLING = (3.0, 1000.0)
CLASS_PRIOR = (1.0, 1.0)
NO_CONFIDENCE = 0.95


@dataclass
class Votes:
    """Votes as parallel arrays; items and workers are 0-based indices."""

    item: np.ndarray  # int, per vote
    worker: np.ndarray  # int, per vote
    selected: np.ndarray  # bool, per vote
    item_class: np.ndarray  # int, per item
    gold: np.ndarray  # int8, per item: 1, 0 or UNKNOWN
    n_workers: int

    @property
    def n_items(self) -> int:
        return len(self.item_class)

    @property
    def n_classes(self) -> int:
        return int(self.item_class.max()) + 1 if len(self.item_class) else 0

    def __post_init__(self):
        self.item = np.asarray(self.item, dtype=np.int64)
        self.worker = np.asarray(self.worker, dtype=np.int64)
        self.selected = np.asarray(self.selected, dtype=bool)
        self.item_class = np.asarray(self.item_class, dtype=np.int64)
        self.gold = np.asarray(self.gold, dtype=np.int8)


@dataclass
class Fit:
    """A model's answer: per item the posterior P(yes), per worker the estimated rates."""

    model: str
    p_yes: np.ndarray  # per item
    n_votes: np.ndarray  # per item
    n_selected: np.ndarray  # per item
    sensitivity: np.ndarray  # per worker (nan where nothing tells)
    specificity: np.ndarray  # per worker
    worker_votes: np.ndarray  # per worker
    worker_gold: np.ndarray  # per worker: votes on items of known label
    worker_selected: np.ndarray  # per worker
    class_prior: np.ndarray  # per class
    iterations: int = 0
    calibration: model_prior.Calibration | None = None  # how the model's scores were read, when given

    def decisions(self, target: float) -> np.ndarray:
        """'yes' / 'no' / 'open' per item: decided once P(yes) or P(no) reaches the target."""
        return decide(self.p_yes, target)

    def flags(self, min_gold: int = 6) -> np.ndarray:
        """Per worker: 'always-yes', 'random' or '' (see ``worker_flags``)."""
        return worker_flags(
            self.sensitivity, self.specificity, self.worker_gold, self.worker_votes, self.worker_selected, min_gold
        )


def no_confidence(target: float) -> float:
    """How sure a "no" must be: the target precision, but at most NO_CONFIDENCE.

    The target precision is the yes labels' (the images that go into the
    dataset); a wrong "no" only leaves an image out, which costs recall, so
    a "no" is not worth the votes that P(no) >= 0.99 would take.
    """
    return min(target, NO_CONFIDENCE)


def decide(p_yes: np.ndarray, target: float) -> np.ndarray:
    """'yes' where P(yes) >= target, 'no' where P(no) >= no_confidence(target), 'open' in between."""
    out = np.full(len(p_yes), "open", dtype=object)
    out[p_yes >= target] = "yes"
    out[1 - p_yes >= no_confidence(target)] = "no"
    return out


def fit(
    votes: Votes,
    model: str = "ds",
    max_iterations: int = 100,
    tolerance: float = 1e-5,
    rate_prior: tuple[float, float] | None = None,
    scores: np.ndarray | None = None,
) -> Fit:
    """Fit ``model`` ("ds" or "mv") to the votes. ``rate_prior`` None: each worker's rates are pulled towards
    the crowd's pooled rates (``_pooled``); a pair: fixed Beta pseudo-counts instead ((0, 0): plain Dawid–Skene).

    ``scores`` (per item, nan where none) are a model's: Dawid–Skene then takes each scored candidate's
    prior from them, calibrated inside EM (services/review/prior.py); selection frequency ignores them."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; one of {', '.join(MODELS)}")
    n_votes = np.bincount(votes.item, minlength=votes.n_items)
    n_selected = np.bincount(votes.item, weights=votes.selected, minlength=votes.n_items)
    known = votes.gold != UNKNOWN
    sens: np.ndarray | None
    spec: np.ndarray | None
    prior: np.ndarray | None
    with np.errstate(invalid="ignore", divide="ignore"):
        frequency = np.where(n_votes > 0, n_selected / np.maximum(n_votes, 1), np.nan)
    if model == "mv":
        p_yes = np.where(known, votes.gold, np.nan_to_num(frequency, nan=0.0)).astype(float)
        # Rates on the controls alone: a worker's answers against the known labels.
        q = np.where(known, votes.gold, np.nan).astype(float)
        sens, spec = _rates(votes, q, prior=(0.0, 0.0))
        prior = _class_prior(votes, p_yes, known)
        return _result("mv", votes, p_yes, n_votes, n_selected, sens, spec, prior, 0)
    if known[votes.item].any():
        # Start from what the controls say of each worker, not from the majority: where most workers
        # answer backwards, the majority would start EM on (and keep it at) the mirror solution.
        sens, spec = _rates(votes, np.where(known, votes.gold, np.nan).astype(float), rate_prior)
        q = posterior(votes, sens, spec, _class_prior(votes, np.nan_to_num(frequency, nan=0.5), known), known)
    else:
        q = np.nan_to_num(frequency, nan=0.5).astype(float)
    z = None if scores is None else model_prior.standardize(scores, votes.item_class, known)
    iterations, sens, spec, prior, calibration, item_prior = 0, None, None, None, None, None
    while iterations < max_iterations:
        iterations += 1
        sens, spec = _rates(votes, q, rate_prior)
        prior = _class_prior(votes, q, known)
        if z is not None:
            calibration = model_prior.calibrate(z, q, votes.item_class, votes.n_classes, ~known, calibration)
            item_prior = calibration.log_odds(z, votes.item_class)
        new_q = posterior(votes, sens, spec, prior, known, item_prior)
        change = float(np.max(np.abs(new_q - q))) if len(q) else 0.0
        q = new_q
        if change < tolerance:
            break
    # the rates and priors that gave these posteriors (at convergence, those the posteriors give)
    result = _result("ds", votes, q, n_votes, n_selected, sens, spec, prior, iterations)
    result.calibration = calibration
    return result


def _rates(votes: Votes, q: np.ndarray, prior: tuple[float, float] | None) -> tuple[np.ndarray, np.ndarray]:
    """Sensitivity and specificity per worker, weighting each vote by its item's P(yes) and P(no).

    Items whose q is nan (unknown, for the controls-only estimate) weigh nothing. ``prior``: Beta
    pseudo-counts, or None for pseudo-counts from the crowd's pooled rates (``_pooled``).
    """
    q_vote = q[votes.item]
    weight_yes = np.nan_to_num(q_vote, nan=0.0)
    weight_no = np.nan_to_num(1 - q_vote, nan=0.0)
    sel = votes.selected
    n = votes.n_workers
    yes_total = np.bincount(votes.worker, weights=weight_yes, minlength=n)
    yes_selected = np.bincount(votes.worker, weights=weight_yes * sel, minlength=n)
    no_total = np.bincount(votes.worker, weights=weight_no, minlength=n)
    no_unselected = np.bincount(votes.worker, weights=weight_no * ~sel, minlength=n)
    if prior is None:
        return _pooled(yes_selected, yes_total), _pooled(no_unselected, no_total)
    a, b = prior
    with np.errstate(invalid="ignore", divide="ignore"):
        sens = (yes_selected + a) / (yes_total + a + b)
        spec = (no_unselected + a) / (no_total + a + b)
    return sens, spec


def _pooled(right: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Per worker (``right`` of ``total``, soft counts) the rate with Beta(m κ, (1 − m) κ) pseudo-counts: m the
    crowd's pooled rate (itself with ``RATE_PRIOR``'s pseudo-counts), κ from the workers' spread
    (``_concentration``)."""
    a, b = RATE_PRIOR
    pooled = (right.sum() + a) / (total.sum() + a + b)
    kappa = _concentration(right, total)
    return (right + pooled * kappa) / (total + kappa)


def _concentration(right: np.ndarray, total: np.ndarray) -> float:
    """κ of the Beta the workers' true rates are drawn from, by the beta-binomial method of moments for
    unequal numbers of votes (Kleinman 1973): the spread of the workers' observed rates, less what binomial
    noise of their numbers of votes explains, is the spread of their true rates; κ = 1 / ρ − 1, ρ the
    intra-worker correlation. Clipped to ``POOLING``; its least where nothing measures the spread (one worker,
    or every answer the same), its most where the workers' counts are too thin to tell spread from noise (about
    one vote's weight or less a worker: the weights are EM's soft counts): then a worker's own rate is that one
    vote, and the crowd's pooled rate is the better guess (a weak crowd of 3,000 workers at ~2 votes each, where
    κ = 3 let EM drift the class's share from 0.30 to 0.48, docs/performance.md)."""
    least, most = POOLING
    active = total > 0
    n = total[active]
    workers, votes = len(n), float(n.sum())
    if workers < 2 or votes <= 0:
        return least
    m = float(right[active].sum()) / votes
    if not 0 < m < 1:
        return least
    noise = votes - float((n**2).sum()) / votes - (workers - 1)
    if noise <= 0:
        return most
    spread = float((n * (right[active] / n - m) ** 2).sum())
    rho = (spread / (m * (1 - m)) - (workers - 1)) / noise
    return 1 / float(np.clip(rho, 1 / (most + 1), 1 / (least + 1))) - 1


def _class_prior(votes: Votes, q: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Share of yes per class over the items to be labelled (controls excluded), with pseudo-counts."""
    a, b = CLASS_PRIOR
    unknown = ~known
    k = votes.n_classes
    yes = np.bincount(votes.item_class[unknown], weights=q[unknown], minlength=k)
    total = np.bincount(votes.item_class[unknown], minlength=k)
    return (yes + a) / (total + a + b)


def posterior(
    votes: Votes,
    sens: np.ndarray,
    spec: np.ndarray,
    prior: np.ndarray,
    known: np.ndarray,
    item_prior: np.ndarray | None = None,
) -> np.ndarray:
    """P(yes) per item (the E-step): the prior's log-odds plus each vote's log-likelihood ratio; items of
    known label keep it. The prior is the class's, or ``item_prior``'s log-odds where that is not nan."""
    sens = np.clip(sens, RATE_FLOOR, 1 - RATE_FLOOR)
    spec = np.clip(spec, RATE_FLOOR, 1 - RATE_FLOOR)
    llr_selected = np.log(sens) - np.log1p(-spec)
    llr_unselected = np.log1p(-sens) - np.log(spec)
    per_vote = np.where(votes.selected, llr_selected[votes.worker], llr_unselected[votes.worker])
    prior = np.clip(prior, RATE_FLOOR, 1 - RATE_FLOOR)
    log_odds = np.log(prior / (1 - prior))[votes.item_class]
    if item_prior is not None:
        log_odds = np.where(np.isnan(item_prior), log_odds, item_prior)
    log_odds = log_odds + np.bincount(votes.item, weights=per_vote, minlength=votes.n_items)
    q = 1 / (1 + np.exp(-np.clip(log_odds, -700, 700)))
    return np.where(known, votes.gold, q).astype(float)


def _result(model, votes, p_yes, n_votes, n_selected, sens, spec, prior, iterations) -> Fit:
    n = votes.n_workers
    known = (votes.gold != UNKNOWN)[votes.item]
    return Fit(
        model=model,
        p_yes=p_yes,
        n_votes=n_votes,
        n_selected=n_selected.astype(np.int64),
        sensitivity=sens,
        specificity=spec,
        worker_votes=np.bincount(votes.worker, minlength=n),
        worker_gold=np.bincount(votes.worker, weights=known, minlength=n).astype(np.int64),
        worker_selected=np.bincount(votes.worker, weights=votes.selected, minlength=n).astype(np.int64),
        class_prior=prior,
        iterations=iterations,
    )


def log_likelihood_ratios(sensitivity: np.ndarray, specificity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per worker, how far one selected / unselected vote moves an item's log-odds (unknown rates: none)."""
    sens = np.clip(np.nan_to_num(np.asarray(sensitivity, float), nan=0.5), RATE_FLOOR, 1 - RATE_FLOOR)
    spec = np.clip(np.nan_to_num(np.asarray(specificity, float), nan=0.5), RATE_FLOOR, 1 - RATE_FLOOR)
    return np.log(sens) - np.log1p(-spec), np.log1p(-sens) - np.log(spec)


ALWAYS_YES_SHARE = 0.95
RANDOM_MARGIN = 0.2  # sensitivity + specificity within this of 1: answers unrelated to the image


def worker_flags(sensitivity, specificity, gold, votes, selected, min_gold: int = 6) -> np.ndarray:
    """'always-yes' for a worker who selects (nearly) everything, 'random' for one whose answers carry
    no information (sensitivity + specificity close to 1), '' otherwise or without enough known labels."""
    out = np.full(len(votes), "", dtype=object)
    judged = gold >= min_gold
    with np.errstate(invalid="ignore", divide="ignore"):
        share = selected / np.maximum(votes, 1)
        informative = np.nan_to_num(sensitivity + specificity - 1, nan=0.0)
    out[judged & (np.abs(informative) < RANDOM_MARGIN)] = "random"
    out[judged & (share >= ALWAYS_YES_SHARE)] = "always-yes"
    return out


def decide_frequency(n_selected: np.ndarray, n_votes: np.ndarray, threshold: float, min_votes: int = 1) -> np.ndarray:
    """Selection frequency's decision, in integers as services/review/labels.py does (3 of 10 reaches 0.3):
    'yes' at or above the threshold, 'no' below, 'open' with fewer than ``min_votes`` votes."""
    reached = n_selected * 1000 >= n_votes * round(threshold * 1000)
    out = np.where(reached, "yes", "no").astype(object)
    out[n_votes < min_votes] = "open"
    return out
