"""Dawid–Skene and selection frequency (services/review/aggregation.py): by hand, on simulated workers, and
against crowd-kit's implementation."""

import numpy as np
import pytest

from freelunch.services.review import aggregation
from freelunch.services.review.aggregation import UNKNOWN, Votes


def simulate(rates, n_items=3000, votes_per_item=7, share=0.4, seed=1, gold_every=0):
    """Items of one class, each voted on by distinct workers of the given (sensitivity, specificity)."""
    rng = np.random.default_rng(seed)
    truth = rng.random(n_items) < share
    item = np.repeat(np.arange(n_items), votes_per_item)
    worker = np.concatenate([rng.choice(len(rates), votes_per_item, replace=False) for _ in range(n_items)])
    sens = np.array([r[0] for r in rates])
    spec = np.array([r[1] for r in rates])
    p_select = np.where(truth[item], sens[worker], 1 - spec[worker])
    selected = rng.random(len(item)) < p_select
    gold = np.full(n_items, UNKNOWN, np.int8)
    if gold_every:
        gold[::gold_every] = truth[::gold_every]
    return Votes(item, worker, selected, np.zeros(n_items, int), gold, len(rates)), truth


def test_the_posterior_is_the_prior_odds_times_each_votes_likelihood_ratio():
    # Worker 0 (sensitivity 0.9, specificity 0.8) selected item 0, worker 1 (0.6, 0.7) did not:
    # odds = 1 * (0.9 / 0.2) * (0.4 / 0.7) = 18/7, P(yes) = 18/25.
    votes = Votes([0, 0, 1], [0, 1, 1], [True, False, True], [0, 0], [UNKNOWN, 1], 2)
    p = aggregation.posterior(votes, np.array([0.9, 0.6]), np.array([0.8, 0.7]), np.array([0.5]), votes.gold != UNKNOWN)
    assert p[0] == pytest.approx(18 / 25)
    assert p[1] == 1.0  # a known label stays what it is


def test_selection_frequency_counts_shares_and_decides_in_integers():
    # item 0: 3 of 10 selected; item 1: 7 of 10; item 2: one vote
    item = np.r_[np.zeros(10, int), np.ones(10, int), [2]]
    selected = np.r_[np.arange(10) < 3, np.arange(10) < 7, [True]]
    votes = Votes(item, np.r_[np.arange(10), np.arange(10), [0]], selected, [0, 0, 0], [UNKNOWN] * 3, 10)
    fit = aggregation.fit(votes, "mv")
    assert list(fit.n_votes) == [10, 10, 1] and list(fit.n_selected) == [3, 7, 1]
    assert fit.p_yes == pytest.approx([0.3, 0.7, 1.0])
    assert list(aggregation.decide_frequency(fit.n_selected, fit.n_votes, 0.3)) == ["yes", "yes", "yes"]
    assert list(aggregation.decide_frequency(fit.n_selected, fit.n_votes, 0.7, min_votes=3)) == ["no", "yes", "open"]


def test_decisions_need_the_target_for_yes_and_at_most_095_for_no():
    p = np.array([0.995, 0.985, 0.5, 0.12, 0.04])
    assert list(aggregation.decide(p, 0.99)) == ["yes", "open", "open", "open", "no"]  # a no needs P(no) >= 0.95
    assert list(aggregation.decide(p, 0.9)) == ["yes", "yes", "open", "open", "no"]  # ... or the target, if lower


GOOD, MEDIOCRE, RANDOM, ALWAYS_YES = (0.9, 0.88), (0.72, 0.7), (0.5, 0.5), (1.0, 0.0)


def test_dawid_skene_recovers_worker_rates_and_beats_the_majority():
    rates = [GOOD] * 14 + [MEDIOCRE] * 6 + [RANDOM] * 3 + [ALWAYS_YES] * 3
    votes, truth = simulate(rates, gold_every=20)
    ds = aggregation.fit(votes, "ds")
    mv = aggregation.fit(votes, "mv")
    assert ds.iterations < 100  # converged
    # ~800 votes per worker: sampling error alone is ~0.015 on a rate
    errors = np.abs(np.r_[ds.sensitivity - [r[0] for r in rates], ds.specificity - [r[1] for r in rates]])
    assert errors.mean() < 0.03 and errors.max() < 0.1
    unknown = votes.gold == UNKNOWN
    ds_accuracy = ((ds.p_yes >= 0.5) == truth)[unknown].mean()
    mv_accuracy = ((mv.p_yes > 0.5) == truth)[unknown].mean()
    assert ds_accuracy > 0.97 and ds_accuracy > mv_accuracy + 0.02
    assert ds.class_prior[0] == pytest.approx(truth[unknown].mean(), abs=0.02)
    flags = ds.flags()
    assert list(flags[:20]) == [""] * 20
    assert list(flags[20:23]) == ["random"] * 3 and list(flags[23:]) == ["always-yes"] * 3


def fitted_weak_crowd(workers: int, rates_seed: int, **simulated):
    """Votes of ``workers`` each right 55-70 % of the time (``simulate``'s ``simulated``), their truth, the
    Dawid-Skene fit, and its accuracy and selection frequency's on the candidates."""
    rng = np.random.default_rng(rates_seed)
    votes, truth = simulate(list(zip(*rng.uniform(0.55, 0.70, size=(2, workers)))), **simulated)
    unknown = votes.gold == UNKNOWN
    ds, mv = aggregation.fit(votes, "ds"), aggregation.fit(votes, "mv")
    return votes, truth, ds, ((ds.p_yes >= 0.5) == truth)[unknown].mean(), ((mv.p_yes > 0.5) == truth)[unknown].mean()


def test_a_weak_crowd_of_alike_workers_with_few_votes_each_is_not_worse_than_counting_votes():
    # 1,000 workers each right 55-70 % of the time, 7 votes an image, ~21 votes a worker (3 on controls):
    # each worker's own rates are mostly noise, and weighing votes by them lost 0.04-0.06 of accuracy
    # to selection frequency (seed 3: 0.0549). Pulled towards the crowd's pooled rates, they no longer do.
    votes, truth, ds, ds_accuracy, mv_accuracy = fitted_weak_crowd(
        1000, 103, n_items=3000, votes_per_item=7, seed=3, gold_every=8
    )
    unknown = votes.gold == UNKNOWN
    assert ds_accuracy >= mv_accuracy - 0.005, (ds_accuracy, mv_accuracy)
    # the workers' rates are nearly the crowd's: their true spread (sd ~0.04) is less than one worker's noise
    active = ds.worker_votes > 0
    assert ds.sensitivity[active].std() < 0.01 and ds.specificity[active].std() < 0.01
    # each worker's own rates (the model before) spread with the noise of ~10 votes each way
    own = aggregation.fit(votes, "ds", rate_prior=aggregation.RATE_PRIOR)
    assert own.sensitivity[active].std() > 0.05
    assert ((own.p_yes >= 0.5) == truth)[unknown].mean() < mv_accuracy - 0.03


def test_workers_too_thin_to_measure_their_spread_get_the_crowds_rates():
    # 3,000 weak workers, 1,000 images of one class at 5 votes (~2 votes a worker, every 8th image a control):
    # each worker's soft counts are under one vote's weight, where the method of moments cannot tell spread
    # from noise. It took the least pooling (κ = 3): each worker's rates were their one or two votes, EM drifted
    # the class's share from 0.30 to 0.48, and DS was 0.119 under selection frequency
    # (bench-quality --crowd one-class's worst run). The crowd's rates keep the share near the votes' 0.36.
    _, _, ds, ds_accuracy, mv_accuracy = fitted_weak_crowd(
        3000, 4001, n_items=1000, votes_per_item=5, share=0.3, seed=1, gold_every=8
    )
    assert ds_accuracy >= mv_accuracy - 0.005, (ds_accuracy, mv_accuracy)
    assert ds.class_prior[0] < 0.40, ds.class_prior[0]
    # half a vote's weight a worker: nothing tells spread from noise, so the most pooling
    assert aggregation._concentration(np.full(3000, 0.3), np.full(3000, 0.5)) == aggregation.POOLING[1]
    # one worker, or every answer the same: nothing to pool towards, the least
    assert aggregation._concentration(np.array([3.0]), np.array([5.0])) == aggregation.POOLING[0]
    assert aggregation._concentration(np.full(10, 5.0), np.full(10, 5.0)) == aggregation.POOLING[0]


def test_the_controls_hold_the_labels_when_most_workers_answer_backwards():
    # Three quarters of the workers say the opposite of the truth: without known labels EM takes them
    # at their word; with controls it learns that their "yes" means no.
    rates = [(0.15, 0.15)] * 15 + [GOOD] * 5
    votes, truth = simulate(rates, n_items=2000, votes_per_item=5, gold_every=10)
    fitted = aggregation.fit(votes, "ds")
    unknown = votes.gold == UNKNOWN
    assert ((fitted.p_yes >= 0.5) == truth)[unknown].mean() > 0.97
    assert fitted.sensitivity[0] < 0.25 and fitted.sensitivity[-1] > 0.8
    blind = Votes(
        votes.item,
        votes.worker,
        votes.selected,
        votes.item_class,
        np.full(votes.n_items, UNKNOWN, np.int8),
        votes.n_workers,
    )
    assert ((aggregation.fit(blind, "ds").p_yes >= 0.5) == truth).mean() < 0.1


def test_per_class_priors_and_items_without_votes():
    # class 0 mostly yes, class 1 mostly no; item 4 (class 1) has no vote and gets its class's prior
    votes = Votes([0, 1, 2, 3], [0, 0, 0, 0], [True, True, False, False], [0, 0, 1, 1, 1], [UNKNOWN] * 5, 1)
    fitted = aggregation.fit(votes, "ds")
    assert fitted.n_votes[4] == 0
    assert fitted.p_yes[4] == pytest.approx(fitted.class_prior[1])
    assert fitted.class_prior[0] > 0.5 > fitted.class_prior[1]


def test_the_fit_is_vectorised_over_many_votes():
    votes, _ = simulate([GOOD] * 40, n_items=50_000, votes_per_item=10, gold_every=8)
    fitted = aggregation.fit(votes, "ds")
    assert len(fitted.p_yes) == 50_000 and fitted.worker_votes.sum() == 500_000


def test_an_unknown_model_is_refused():
    votes, _ = simulate([GOOD] * 3, n_items=5, votes_per_item=2)
    with pytest.raises(ValueError, match="unknown model"):
        aggregation.fit(votes, "glad")


def test_agrees_with_crowd_kit():
    """crowd-kit's DawidSkene (full confusion matrices: for two labels, the two-coin model) on the same votes,
    without controls and without pseudo-counts, gives the same labels and worker rates."""
    import pandas as pd  # with crowd-kit, a dev dependency
    from crowdkit import aggregation as crowdkit

    rates = [GOOD] * 10 + [MEDIOCRE] * 5 + [(0.8, 0.6)] * 3
    votes, truth = simulate(rates, n_items=1500, votes_per_item=5, seed=4)
    ours = aggregation.fit(votes, "ds", rate_prior=(0.0, 0.0), tolerance=1e-8)
    frame = pd.DataFrame({"task": votes.item, "worker": votes.worker, "label": votes.selected.astype(int)})
    theirs = crowdkit.DawidSkene(n_iter=200, tol=1e-8).fit(frame)
    proba = theirs.probas_.sort_index()[1].to_numpy()
    assert ((proba >= 0.5) == (ours.p_yes >= 0.5)).mean() > 0.995
    assert np.abs(proba - ours.p_yes).max() < 0.05
    errors = theirs.errors_  # P(label | true) per worker
    for w in range(len(rates)):
        assert errors.loc[(w, 1), 1] == pytest.approx(ours.sensitivity[w], abs=0.02)
        assert errors.loc[(w, 0), 0] == pytest.approx(ours.specificity[w], abs=0.02)
