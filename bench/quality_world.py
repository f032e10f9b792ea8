"""The simulated labelling world of ``make bench-quality`` (docs/performance.md describes it).

200 classes of ~125 candidates; a class's share of positives uniform in 0.3-0.7;
every image has a clarity in 0..1 that pulls every worker towards a coin toss
(clarity 1: the worker's own rates; clarity 0: a fair coin); 600 workers of
uneven activity (log-normal), 70 % good (sensitivity 0.87, specificity 0.86),
20 % mediocre (0.73 / 0.70), 5 % random, 5 % always-yes. Controls are clear
images of known label, 25 positive and 25 negative per class. A page is one
class: 42 candidates + 3 positive + 3 negative controls, seen by distinct
workers, none of whom has voted on any of its images before.

The *weak* crowd (``crowd="weak"``) is the same world with every worker weak
(sensitivity and specificity each uniform in 0.55-0.70, no spammers) and
3,000 of them, so that most workers see only a few pages: the half who do
least cast under ~20 votes on controls each.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CLASSES = 200
CANDIDATES_PER_CLASS = (100, 150)  # uniform, inclusive-exclusive: ~25,000 in all
CONTROLS_PER_CLASS = 25  # of each sign
WORKERS = 600
KINDS = (  # share, sensitivity, specificity
    ("good", 0.70, 0.87, 0.86),
    ("mediocre", 0.20, 0.73, 0.70),
    ("random", 0.05, 0.5, 0.5),
    ("always-yes", 0.05, 1.0, 0.0),
)
WEAK_RATES = (0.55, 0.70)  # the weak crowd: each worker's sensitivity and specificity, uniform in this range
WEAK_WORKERS = 3000
CROWDS = ("standard", "weak")
CLARITY = (15.0, 1.0)  # Beta(a, b): mean 0.94; 3.5 % of images below 0.8, 0.1 % below 0.6
ACTIVITY_SIGMA = 1.0
PAGE_CANDIDATES = 42
PAGE_CONTROLS = 3  # of each sign


@dataclass
class World:
    rng: np.random.Generator
    item_class: np.ndarray  # per item (candidates first, then controls)
    truth: np.ndarray  # per item, bool
    clarity: np.ndarray
    gold: np.ndarray  # per item: -1 candidate, 1/0 control
    n_candidates: int
    worker_sens: np.ndarray
    worker_spec: np.ndarray
    worker_kind: np.ndarray
    activity: np.ndarray  # probability of being the next worker
    controls: dict  # class -> (positive item ids, negative item ids)
    # the votes cast so far
    v_item: list = field(default_factory=list)
    v_worker: list = field(default_factory=list)
    v_selected: list = field(default_factory=list)
    paid_pages: int = 0
    seen: dict = field(default_factory=dict)  # item -> set of workers

    @property
    def n_items(self) -> int:
        return len(self.item_class)

    def candidates_of(self, c: int) -> np.ndarray:
        return np.flatnonzero((self.item_class == c) & (self.gold < 0))

    def arrays(self):
        return (
            np.concatenate(self.v_item) if self.v_item else np.zeros(0, np.int64),
            np.concatenate(self.v_worker) if self.v_worker else np.zeros(0, np.int64),
            np.concatenate(self.v_selected) if self.v_selected else np.zeros(0, bool),
        )

    def show(self, c: int, items: np.ndarray, assignments: int, fill: int = 0) -> None:
        """Show a page of class ``c`` (``items`` + 3 + 3 controls + ``fill`` more controls) to distinct
        workers who have not voted on any of its images."""
        positives, negatives = self.controls[c]
        extra = self.rng.choice(np.r_[positives, negatives], size=min(fill, len(positives) * 2), replace=False)
        page = np.r_[
            items,
            self.rng.choice(positives, PAGE_CONTROLS, replace=False),
            self.rng.choice(negatives, PAGE_CONTROLS, replace=False),
        ]
        page = np.unique(np.r_[page, extra])
        excluded = set().union(*(self.seen.get(int(i), set()) for i in items)) if len(items) else set()
        weights = self.activity.copy()
        if excluded:
            weights[list(excluded)] = 0
        weights /= weights.sum()
        workers = self.rng.choice(len(weights), size=assignments, replace=False, p=weights)
        for w in workers:
            self.vote(page, int(w))
        self.paid_pages += assignments

    def vote(self, page: np.ndarray, w: int) -> None:
        truth, clarity = self.truth[page], self.clarity[page]
        p_right_yes = 0.5 + clarity * (self.worker_sens[w] - 0.5)
        p_wrong_no = 1 - (0.5 + clarity * (self.worker_spec[w] - 0.5))
        p_select = np.where(truth, p_right_yes, p_wrong_no)
        if self.worker_kind[w] == "always-yes":
            p_select = np.ones(len(page))
        elif self.worker_kind[w] == "random":
            p_select = np.full(len(page), 0.5)
        self.v_item.append(page)
        self.v_worker.append(np.full(len(page), w))
        self.v_selected.append(self.rng.random(len(page)) < p_select)
        for i in page:
            self.seen.setdefault(int(i), set()).add(w)


def make_world(seed: int = 2009, classes: int = CLASSES, crowd: str = "standard", workers: int | None = None) -> World:
    """The world of ``seed``; ``workers`` None: the crowd's own number (600, weak 3,000)."""
    if crowd not in CROWDS:
        raise ValueError(f"unknown crowd {crowd!r}; one of {', '.join(CROWDS)}")
    if workers is None:
        workers = WEAK_WORKERS if crowd == "weak" else WORKERS
    rng = np.random.default_rng(seed)
    item_class, truth, clarity, gold = [], [], [], []
    for c in range(classes):
        n = int(rng.integers(*CANDIDATES_PER_CLASS))
        share = rng.uniform(0.3, 0.7)
        item_class.append(np.full(n, c))
        truth.append(rng.random(n) < share)
        clarity.append(rng.beta(*CLARITY, size=n))
        gold.append(np.full(n, -1))
    n_candidates = sum(len(x) for x in item_class)
    controls = {}
    next_id = n_candidates
    for c in range(classes):
        positives = np.arange(next_id, next_id + CONTROLS_PER_CLASS)
        negatives = np.arange(next_id + CONTROLS_PER_CLASS, next_id + 2 * CONTROLS_PER_CLASS)
        next_id += 2 * CONTROLS_PER_CLASS
        controls[c] = (positives, negatives)
        item_class.append(np.full(2 * CONTROLS_PER_CLASS, c))
        labels = np.r_[np.ones(CONTROLS_PER_CLASS, bool), np.zeros(CONTROLS_PER_CLASS, bool)]
        truth.append(labels)
        clarity.append(np.ones(2 * CONTROLS_PER_CLASS))  # controls are chosen because they are clear
        gold.append(labels.astype(int))
    if crowd == "weak":
        kinds = np.full(workers, "weak")
        sens, spec = rng.uniform(*WEAK_RATES, size=(2, workers))
    else:
        kinds = rng.choice([k[0] for k in KINDS], size=workers, p=[k[1] for k in KINDS])
        rates = {k[0]: (k[2], k[3]) for k in KINDS}
        sens = np.array([rates[k][0] for k in kinds])
        spec = np.array([rates[k][1] for k in kinds])
    activity = rng.lognormal(0, ACTIVITY_SIGMA, workers)
    return World(
        rng=rng,
        item_class=np.concatenate(item_class),
        truth=np.concatenate(truth),
        clarity=np.concatenate(clarity),
        gold=np.concatenate(gold).astype(np.int8),
        n_candidates=n_candidates,
        worker_sens=sens,
        worker_spec=spec,
        worker_kind=kinds,
        activity=activity / activity.sum(),
        controls=controls,
    )


def first_pages(world: World, c: int) -> list[np.ndarray]:
    """A class's candidates cut into pages of 42 (the last one may be short)."""
    items = world.candidates_of(c)
    return [items[i : i + PAGE_CANDIDATES] for i in range(0, len(items), PAGE_CANDIDATES)]


def auc(scores: np.ndarray, truth: np.ndarray) -> float:
    """The chance a random positive scores above a random negative (ties count half)."""
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ranks = np.bincount(inverse, ranks)[inverse] / counts[inverse]  # ties share their mean rank
    n_pos, n_neg = truth.sum(), (~truth).sum()
    return float((ranks[truth].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def model_scores(world: World, target_auc: float, seed: int = 1) -> tuple[np.ndarray, float]:
    """A model's scores for every item, a clarity-dependent signal of the truth: score = ±d/2 × clarity
    + N(0, 1) (+ for positives), so the images that puzzle workers puzzle the model too. ``d`` is found by
    bisection so that the candidates' AUC is ``target_auc`` (0.5: random scores). Returns the scores and
    the AUC they reach. Drawn from their own generator, so the world's votes are the same with or without.
    """
    noise = np.random.default_rng(seed).standard_normal(world.n_items)
    sign = np.where(world.truth, 0.5, -0.5) * world.clarity
    candidates = slice(0, world.n_candidates)
    truth = world.truth[candidates]
    low, high = 0.0, 20.0
    for _ in range(50):
        d = (low + high) / 2
        if auc((d * sign + noise)[candidates], truth) < target_auc:
            low = d
        else:
            high = d
    scores = d * sign + noise
    return scores, auc(scores[candidates], truth)


def random_scores(world: World, seed: int = 2) -> np.ndarray:
    """A model with no signal: N(0, 1) scores that know nothing of the truth."""
    return np.random.default_rng(seed).standard_normal(world.n_items)


# --- one class, the weak crowd's workers ---------------------------------------------

# workers, images, votes an image, share of yes, seed: the grid of ``make bench-quality ARGS="--crowd one-class"``
ONE_CLASS_GRID = ((30, 100, 300, 600, 1000, 3000), (1000, 3000), (5, 7), (0.3, 0.4, 0.5), (1, 2))
ONE_CLASS_CONTROLS_EVERY = 8  # every 8th image is a control of known label


def one_class_votes(workers: int, images: int, votes: int, share: float, seed: int):
    """One class of ``images`` (every 8th a control), each voted on by ``votes`` distinct workers drawn
    uniformly from ``workers`` weak ones (rates uniform in WEAK_RATES); no clarity, no pages. Returns
    (item, worker, selected, gold, truth), gold -1 where unknown. The workers' rates depend on (workers, seed)
    only, the votes on seed: the same draws as tests/services/review/test_review_aggregation.py's ``simulate``."""
    rates = np.random.default_rng(1000 + seed + workers).uniform(*WEAK_RATES, size=(2, workers))
    rng = np.random.default_rng(seed)
    truth = rng.random(images) < share
    item = np.repeat(np.arange(images), votes)
    worker = np.concatenate([rng.choice(workers, votes, replace=False) for _ in range(images)])
    p_select = np.where(truth[item], rates[0][worker], 1 - rates[1][worker])
    selected = rng.random(len(item)) < p_select
    gold = np.full(images, -1, np.int8)
    gold[::ONE_CLASS_CONTROLS_EVERY] = truth[::ONE_CLASS_CONTROLS_EVERY]
    return item, worker, selected, gold, truth
