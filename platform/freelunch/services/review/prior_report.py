"""What the requester sees of a model's scores after a fit: how far they were trusted, how they agree with the
votes, and what they saved (the Results tab's "Model scores" panel, stored in ``LabelFit.prior``).

Agreement is measured against the fit *without* the scores, so the votes alone judge the model: per decile of
the scores' within-class rank, the share of yes the votes give (a reliability table), and per class the AUC of
the scores against the way the votes lean (P(yes) of the votes alone at least 0.5 or not).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...db import database
from ...models import Candidate, ModelScore
from . import prior, rounds
from .aggregation import UNKNOWN, Fit, Votes

DECILES = 10


def _auc(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """The chance a positive outranks a negative (ties half); None without both."""
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if not n_pos or not n_neg:
        return None
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    mid_rank = (np.cumsum(counts) - (counts - 1) / 2)[inverse]
    return float((mid_rank[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def summarize(
    votes: Votes,
    scores: np.ndarray,
    with_scores: Fit,
    without: Fit,
    target: float,
    class_keys: list[str],
    max_votes: int = rounds.DEFAULT_MAX_VOTES,
) -> dict:
    """A JSON-able account of the scores in one fit (``class_keys``: per class index, its key)."""
    calibration = with_scores.calibration
    if calibration is None:
        raise ValueError("with_scores must be a Dawid–Skene fit given the scores")
    known = votes.gold != UNKNOWN
    z = prior.standardize(scores, votes.item_class, known)
    scored = ~known & ~np.isnan(z)
    share = 1 / (1 + np.exp(-z))  # the within-class rank, 0..1
    decile = np.minimum((share * DECILES).astype(int), DECILES - 1)
    believed = 1 / (1 + np.exp(-calibration.log_odds(z, votes.item_class)))  # nan where not trusted
    votes_say = without.p_yes
    reliability = []
    for d in range(DECILES):
        members = scored & (decile == d)
        if members.any():
            reliability.append(
                {
                    "decile": d + 1,
                    "images": int(members.sum()),
                    "prior": None if not calibration.trusted else float(np.mean(believed[members])),
                    "votes_yes": float(np.mean(votes_say[members])),
                }
            )
    decided = without.decisions(target)
    leaning = votes_say >= 0.5
    classes = []
    for c, key in enumerate(class_keys):
        members = scored & (votes.item_class == c)
        classes.append(
            {
                "key": key,
                "scored": int(members.sum()),
                "slope": float(calibration.slope[c]),
                "auc": _auc(scores[members], leaning[members]),
            }
        )
    ask_with = rounds.next_round(with_scores, votes.gold, target, max_votes)
    ask_without = rounds.next_round(without, votes.gold, target, max_votes)
    return {
        "used": calibration.trusted,
        "slope": calibration.pooled_slope,
        "slope_se": calibration.pooled_se,
        "mistrust": calibration.mistrust,
        "scored": int(scored.sum()),
        "candidates": int((~known).sum()),
        "decided": {
            "with": int((with_scores.decisions(target)[~known] != "open").sum()),
            "without": int((decided[~known] != "open").sum()),
        },
        "next_round": {
            "with": {"images": int((ask_with > 0).sum()), "votes": int(ask_with.sum())},
            "without": {"images": int((ask_without > 0).sum()), "votes": int(ask_without.sum())},
        },
        "reliability": reliability,
        "classes": classes,
    }


@dataclass
class SureImages:
    """The dataset's scored candidates a lean first round asks one vote of (``rounds.first_round``: the prior, the
    model calibrated on the scored controls, leaves one agreeing vote short of the target), by class id."""

    trusted: bool  # the scored controls show the model better than chance (else no image is sure)
    controls: int  # scored controls
    candidates: int  # scored candidates
    votes_saved: int  # against DEFAULT_FIRST_ROUND votes each
    by_class: dict[int, set[int]] = field(default_factory=dict)

    def count(self, class_id: int | None = None) -> int:
        if class_id is not None:
            return len(self.by_class.get(class_id, ()))
        return sum(len(ids) for ids in self.by_class.values())


def sure_images(dataset_id: int, target: float = rounds.DEFAULT_TARGET) -> SureImages:
    """Which scored candidates the model is sure about, by its controls; counts for what the requester sees."""
    query = (
        Candidate.select(Candidate.image_class, Candidate.image, Candidate.role, ModelScore.score)
        .join(ModelScore, on=(ModelScore.image == Candidate.image) & (ModelScore.image_class == Candidate.image_class))
        .where(ModelScore.dataset == dataset_id)
    )
    rows = database.execute(query).fetchall()  # the cursor's rows: peewee's row objects took 3/4 of the time
    if not rows:
        return SureImages(False, 0, 0, 0)
    classes, images, roles, scores = zip(*rows)
    class_ids, item_class = np.unique(np.array(classes), return_inverse=True)
    roles_array = np.array(roles)
    gold = np.where(roles_array == "positive", 1, np.where(roles_array == "negative", 0, UNKNOWN)).astype(np.int8)
    asked, calibration = rounds.first_round(np.array(scores, float), item_class, gold, target)
    candidate = gold == UNKNOWN
    out = SureImages(
        bool(calibration.trusted),
        int((~candidate).sum()),
        int(candidate.sum()),
        int(rounds.DEFAULT_FIRST_ROUND * candidate.sum() - asked.sum()),
    )
    if calibration.trusted:
        sure = np.flatnonzero(candidate & (asked == 1))
        sure = sure[np.argsort(item_class[sure], kind="stable")]
        image_ids = np.array(images)[sure]
        starts = np.flatnonzero(np.r_[True, np.diff(item_class[sure]) != 0]) if len(sure) else np.zeros(0, int)
        for start, end in zip(starts, np.r_[starts[1:], len(sure)]):
            out.by_class[int(class_ids[item_class[sure[start]]])] = set(image_ids[start:end].tolist())
    return out


def first_round_savings(dataset_id: int, target: float = rounds.DEFAULT_TARGET) -> str:
    """What a first round could save with the dataset's scores: ``rounds.first_round`` over its scored
    candidates, the scored controls vouching for the model (one sentence for the import's summary)."""
    sure = sure_images(dataset_id, target)
    if not sure.candidates:
        return "No candidate of the dataset has a score yet."
    if not sure.trusted:
        return (
            f"The {sure.controls} scored controls do not show the model to be better than chance: "
            "a first round would ask every image as many votes as without it."
        )
    return (
        f"With these scores a first round of {rounds.DEFAULT_FIRST_ROUND} votes per image could ask "
        f"{sure.votes_saved:,} fewer votes of the {sure.candidates:,} scored candidates "
        f"({sure.count():,} images the model is sure about, by its controls)."
    )
