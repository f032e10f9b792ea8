"""A model's scores as each image's prior in Dawid–Skene, calibrated on the votes and trusted only as far as earned.

A requester's model gives every (image, class) a score: any real number, higher
meaning "more likely shows the class" (a probability, a logit, a CLIP
similarity). Its scale says nothing we can rely on, so only its order within a
class is kept: each candidate's score becomes the logit of its mid-rank among
the class's scored candidates (``standardize``), so any monotone transform of
the scores gives the same prior.

Inside Dawid–Skene's EM the prior of a scored candidate is then
``intercept[class] + slope[class] * z``: a logistic (Platt) calibration fitted in
the M-step to the current posteriors of the candidates, which the votes decide
(``calibrate``). It is EM on the joint model: the votes tell which images are
yes, the calibration learns how the scores relate to that. Controls are left
out of the fit: they were picked because they are clear, and each class holds
as many positive as negative, so they would flatter the model and skew the base
rate.

How much the model is trusted is the slope. Each class has its own, pulled
towards the pooled slope (a ridge of ``SLOPE_SHRINK``), so a class of 100 images
cannot overfit; a class whose slope comes out negative gets none. The model is
used at all only if the pooled slope is positive with confidence (its lower
bound, ``CONFIDENCE`` standard errors down, above zero): random scores fail that
test and leave every prior at the class's base rate, the model of today; an
inverted (adversarial) model has a negative slope and is ignored the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SLOPE_SHRINK = 30.0  # the ridge pulling a class's slope towards the pooled one, in units of Fisher information
POOLED_SHRINK = 1.0  # the ridge pulling the pooled slope towards 0: keeps it finite when the labels are separable
INTERCEPT_SHRINK = 0.01  # keeps a class whose candidates all lean one way finite
CONFIDENCE = 2.0  # standard errors the pooled slope must clear above zero for the model to be used
START_MISTRUST = 0.1  # EM starts by taking one label in ten for unexplained by the model
MISTRUST_FLOOR = 0.02  # the model alone never makes an image more than ~99 % sure
NEWTON_STEPS = 5  # per EM iteration, warm-started from the last: together they converge


@dataclass
class Calibration:
    """The fitted relation between the scores and P(yes), per class; ``trusted`` False means unused."""

    intercept: np.ndarray  # per class: the prior log-odds of a candidate of median score
    slope: np.ndarray  # per class (0 where the model is not used)
    pooled_slope: float
    pooled_se: float
    trusted: bool
    scored: int  # candidates with a score
    raw_slope: np.ndarray  # per class, before the clamp at zero: where the next EM iteration starts
    base: np.ndarray  # per class: the share of yes among its scored candidates
    mistrust: float  # the share of labels the model does not explain (they follow the base rate)

    @property
    def lower_bound(self) -> float:
        return self.pooled_slope - CONFIDENCE * self.pooled_se

    def log_odds(self, z: np.ndarray, item_class: np.ndarray) -> np.ndarray:
        """Per item the prior log-odds (nan where the item has no score or the model is not trusted)."""
        if not self.trusted:
            return np.full(len(z), np.nan)
        s = 1 / (1 + np.exp(-np.clip(self.intercept[item_class] + self.slope[item_class] * z, -30, 30)))
        p = np.clip(self.mistrust * self.base[item_class] + (1 - self.mistrust) * s, 1e-12, 1 - 1e-12)
        return np.log(p) - np.log1p(-p)


def standardize(scores: np.ndarray, item_class: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Per scored item, the logit of its score's mid-rank among its class's scored candidates, as a share
    of their number + 1 (ties share their mean rank; a control is placed among the candidates); nan for
    unscored items and in classes with no scored candidate."""
    scores = np.asarray(scores, float)
    z = np.full(len(scores), np.nan)
    scored = np.isfinite(scores)
    reference = np.flatnonzero(scored & ~known)
    reference = reference[np.lexsort((scores[reference], item_class[reference]))]
    classes = item_class[reference]
    starts = np.flatnonzero(np.r_[True, classes[1:] != classes[:-1]]) if len(reference) else np.zeros(0, int)
    ends = np.r_[starts[1:], len(reference)]
    for start, end in zip(starts, ends):
        ranked = scores[reference[start:end]]
        members = np.flatnonzero(scored & (item_class == classes[start]))
        below = np.searchsorted(ranked, scores[members], "left")
        at_or_below = np.searchsorted(ranked, scores[members], "right")
        share = (below + at_or_below + 1) / 2 / (len(ranked) + 1)
        z[members] = np.log(share) - np.log1p(-share)
    return z


def calibrate(
    z: np.ndarray, q: np.ndarray, item_class: np.ndarray, n_classes: int, use: np.ndarray, start=None
) -> Calibration:
    """Fit P(yes) = mistrust * base[c] + (1 - mistrust) * sigmoid(intercept[c] + slope[c] * z) to the
    posteriors ``q`` of the items ``use`` picks (those without a ``z`` aside): Fisher-scoring steps on the
    penalised log-likelihood for the logistic part and an EM step for the mixture weight, warm-started
    from ``start``."""
    use = use & ~np.isnan(z)
    zc, qc, cc = z[use], q[use], item_class[use]
    counts = np.bincount(cc, minlength=n_classes)
    base = (np.bincount(cc, qc, n_classes) + 1) / (counts + 2)
    if start is None:
        a, b, pooled, mistrust = np.zeros(n_classes), np.zeros(n_classes), 0.0, START_MISTRUST
    else:
        a, b, pooled, mistrust = start.intercept.copy(), start.raw_slope.copy(), start.pooled_slope, start.mistrust
    info = np.zeros(n_classes)
    pi = base[cc]
    for _ in range(NEWTON_STEPS):
        s = 1 / (1 + np.exp(-np.clip(a[cc] + b[cc] * zc, -30, 30)))
        p = np.clip(mistrust * pi + (1 - mistrust) * s, 1e-12, 1 - 1e-12)
        slope_of_p = (1 - mistrust) * s * (1 - s)  # dp / d(intercept + slope * z)
        r = (qc - p) / (p * (1 - p)) * slope_of_p
        w = slope_of_p**2 / (p * (1 - p))
        g_a = np.bincount(cc, r, n_classes) - INTERCEPT_SHRINK * a
        g_b = np.bincount(cc, r * zc, n_classes) - SLOPE_SHRINK * (b - pooled)
        h_aa = np.bincount(cc, w, n_classes) + INTERCEPT_SHRINK
        h_ab = np.bincount(cc, w * zc, n_classes)
        h_bb_data = np.bincount(cc, w * zc * zc, n_classes)
        h_bb = h_bb_data + SLOPE_SHRINK
        det = h_aa * h_bb - h_ab**2
        a = a + (h_bb * g_a - h_ab * g_b) / det
        b = b + (h_aa * g_b - h_ab * g_a) / det
        # what each class's data say of its slope once its intercept is fitted: the weights of the pooled slope
        info = np.maximum(h_bb_data - h_ab**2 / h_aa, 0.0)
        pooled = float((info * b).sum() / (info.sum() + POOLED_SHRINK))
    if len(qc):
        # EM for the mixture weight: the share of each label that the base rate, not the model, explains
        s = 1 / (1 + np.exp(-np.clip(a[cc] + b[cc] * zc, -30, 30)))
        p = np.clip(mistrust * pi + (1 - mistrust) * s, 1e-12, 1 - 1e-12)
        explained = mistrust * (qc * pi / p + (1 - qc) * (1 - pi) / (1 - p))
        mistrust = float(np.clip(explained.mean(), MISTRUST_FLOOR, 1.0))
    se = float(1 / np.sqrt(info.sum())) if info.sum() > 0 else np.inf
    trusted = bool(pooled - CONFIDENCE * se > 0)
    slope = np.maximum(b, 0.0) if trusted else np.zeros(n_classes)
    return Calibration(a, slope, pooled, se, trusted, int(use.sum()), b, base, mistrust)


def on_controls(scores: np.ndarray, item_class: np.ndarray, gold: np.ndarray, n_classes: int) -> Calibration:
    """The calibration the controls alone give, before any candidate has a vote (for the first round).

    Controls are clearer than the candidates, so this flatters the model: it only decides who gets fewer
    votes in round 1, and every later fit calibrates on the candidates' own votes."""
    known = gold >= 0
    z = standardize(scores, item_class, known)
    calibration = calibrate(z, gold.astype(float), item_class, n_classes, known)
    for _ in range(9):
        calibration = calibrate(z, gold.astype(float), item_class, n_classes, known, calibration)
    return calibration
