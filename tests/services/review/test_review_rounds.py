"""Dynamic consensus (services/review/rounds.py): who is asked again, how often, on which pages."""

import numpy as np

from freelunch.services.review import aggregation, rounds
from freelunch.services.review.aggregation import UNKNOWN, Fit


def fit_of(p_yes, n_votes):
    n = len(p_yes)
    return Fit(
        "ds",
        np.array(p_yes, float),
        np.array(n_votes),
        np.zeros(n, int),
        np.array([0.9]),
        np.array([0.9]),
        np.array([10]),
        np.array([0]),
        np.array([5]),
        np.array([0.5]),
    )


def test_more_votes_for_the_open_ones_only():
    # strength of one vote: log(0.9 / 0.1) ~ 2.2; the 0.99 goal is a log-odds of 4.6
    p = np.array([0.995, 0.5, 0.9, 0.97, 0.3, 0.5, 0.5])
    n_votes = np.array([3, 2, 3, 3, 2, 10, 9])
    known = np.array([False] * 6 + [True])
    more = rounds.more_votes(p, n_votes, known, 0.99, max_votes=10, step=2, strength=2.2)
    assert list(more) == [
        0,  # decided yes
        2,  # a coin toss: three agreeing votes are needed, two are asked now
        1,  # 0.9 (log-odds 2.2): two would be needed at most, one is asked, then the refit tells
        1,  # 0.97: one more
        1,  # leaning no: P(no) 0.7 needs one vote to reach the 0.95 a no needs
        0,  # at the cap
        0,  # a control
    ]
    assert rounds.more_votes(p, n_votes, known, 0.99, max_votes=10, step=1, strength=2.2).max() == 1


def test_a_lower_bar_for_no():
    p = np.array([0.04, 0.06])
    more = rounds.more_votes(p, np.array([3, 3]), np.array([False, False]), 0.99, strength=2.0)
    assert list(more) == [0, 1]  # P(no) 0.96 >= 0.95 is a no; 0.94 is not yet
    assert list(aggregation.decide(p, 0.99)) == ["no", "open"]


def test_typical_strength_is_the_median_voters():
    rates = np.array([0.9, 0.5])
    assert rounds.typical_strength(rates, rates, np.array([3, 1])) == np.log(9)
    assert rounds.typical_strength(rates, rates, np.array([1, 3])) == 0.0


def test_next_round_reads_a_fit():
    fitted = fit_of([0.5, 0.999], [2, 2])
    gold = np.array([UNKNOWN, UNKNOWN])
    assert list(rounds.next_round(fitted, gold, 0.99)) == [2, 0]


def test_plan_pools_by_class_neediest_first_and_counts_the_cost():
    item_class = np.array([0] * 50 + [1] * 5)
    more = np.zeros(55, int)
    more[:45] = 2
    more[45:48] = 1  # three more of class 0 need one vote; two need none
    more[50:53] = 1
    planned = rounds.plan(item_class, more, page_size=42)
    assert [(p.item_class, len(p.items), p.assignments, p.fill) for p in planned.pages] == [
        (0, 42, 2, 0),
        (0, 6, 2, 36),
        (1, 3, 1, 39),
    ]
    assert set(planned.pages[0].items) <= set(range(45))  # the neediest first
    assert sorted(i for p in planned.pages for i in p.items) == list(np.flatnonzero(more))
    assert planned.open_items == 51 and planned.paid_pages == 5 and planned.votes == 42 * 2 + 6 * 2 + 3
    assert rounds.plan(item_class, np.zeros(55, int), 42).pages == []
