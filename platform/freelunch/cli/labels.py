"""``freelunch labels``: aggregate any vote file, or say which images the next round must ask again.

File in, file out, no database: so votes from anywhere (an old campaign, another
platform) can be aggregated the way the dashboard does (docs/review.md).
"""

from __future__ import annotations

import click
import numpy as np
from flask.cli import AppGroup

from ..services.review import aggregation, rounds
from ..services.review.vote_files import VoteFileError, read_scored_items, read_scores, read_votes, write_csv
from .common import batch_or_fail

LABEL_COLUMNS = ("image", "class", "n_votes", "p_yes", "decision")
OPEN_COLUMNS = ("image", "class", "more_votes")
FIRST_COLUMNS = ("image", "class", "votes")
WORKER_COLUMNS = ("worker", "votes", "control_votes", "sensitivity", "specificity", "flag")

labels = AppGroup("labels", help="Labels from vote files: Dawid–Skene or selection frequency, and dynamic consensus.")

share = click.FloatRange(0.5, 1.0, min_open=True, max_open=True)


def _read(votes_path: str, gold_path: str | None):
    try:
        table = read_votes(votes_path, gold_path)
    except VoteFileError as error:
        raise click.ClickException(str(error)) from error
    for warning in table.warnings:
        click.echo(f"Warning: {warning}", err=True)
    return table


def _scores(scores_path: str | None, table):
    """The model's score per item (nan where none), or None without --scores."""
    if not scores_path:
        return None
    try:
        scores, unmatched = read_scores(scores_path, table.items)
    except VoteFileError as error:
        raise click.ClickException(str(error)) from error
    candidates = table.votes.gold == aggregation.UNKNOWN
    scored = int((candidates & ~np.isnan(scores)).sum())
    click.echo(
        f"Scores for {scored} of {int(candidates.sum())} images to label"
        + (f"; {unmatched} rows name images nobody voted on (ignored)." if unmatched else "."),
        err=True,
    )
    return scores


def _untestable(scores: np.ndarray, item_class: np.ndarray, among: np.ndarray, none: str, equal: str) -> str | None:
    """Why the scores of the items ``among`` cannot be set against their labels, if they cannot: ``none``
    when none of them has a score, ``equal`` when their scores are all equal within each class (only their
    order in the class counts). Said in words: a slope of "0.00 ± inf" tells the user nothing."""
    scored = among & ~np.isnan(scores)
    if not scored.any():
        return none
    if all(len(np.unique(scores[scored & (item_class == c)])) < 2 for c in np.unique(item_class[scored])):
        return equal
    return None


def _slope(calibration) -> str:
    if not np.isfinite(calibration.pooled_se):
        return "the labels cannot test them"
    return f"slope {calibration.pooled_slope:.2f} ± {calibration.pooled_se:.2f} per logit of rank"


def _say_calibration(fitted, scores, table) -> None:
    calibration = fitted.calibration
    if calibration is None:
        return
    candidates = table.votes.gold == aggregation.UNKNOWN
    why = _untestable(
        scores, table.votes.item_class, candidates, "no image to label has a score", "the scores are all equal"
    )
    if why:
        click.echo(f"Model scores not used: {why}; every image keeps its class's prior.", err=True)
    elif calibration.trusted:
        click.echo(f"Model scores used as each image's prior ({_slope(calibration)}).", err=True)
    else:
        click.echo(
            f"Model scores not used: the votes do not show them to predict the labels ({_slope(calibration)}); "
            "every image keeps its class's prior.",
            err=True,
        )


def _write(path: str, header, rows) -> int:
    try:
        return write_csv(path, header, rows)
    except OSError as error:
        raise click.ClickException(f"{path}: cannot be written ({error.strerror or error}).") from error


VOTES = click.option(
    "--votes",
    "votes_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="CSV with a header image,class,worker,selected (0/1), one vote a line.",
)
GOLD = click.option(
    "--gold",
    "gold_path",
    type=click.Path(dir_okay=False),
    help="CSV image,class,label (0/1): the controls, known labels that calibrate the workers.",
)
SCORES = click.option(
    "--scores",
    "scores_path",
    type=click.Path(dir_okay=False),
    help="CSV image,class,score: a model's scores (any number, higher = more likely shows the class), "
    "calibrated on the votes and used as each image's prior (Dawid–Skene only).",
)
OUTPUT = click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="File to write.")


@labels.command("aggregate", with_appcontext=False)
@VOTES
@GOLD
@click.option(
    "--model",
    type=click.Choice(aggregation.MODELS),
    default="ds",
    show_default=True,
    help="ds: Dawid–Skene (per-worker sensitivity and specificity); mv: selection frequency.",
)
@click.option(
    "--target-precision",
    type=share,
    default=rounds.DEFAULT_TARGET,
    show_default=True,
    help="ds: yes once P(yes) reaches it; no once P(no) reaches it or 0.95, whichever is lower.",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1),
    default=0.7,
    show_default=True,
    help="mv: yes once this share of the votes selected the image.",
)
@SCORES
@OUTPUT
@click.option(
    "--workers",
    "workers_path",
    type=click.Path(dir_okay=False),
    help="Also write workers.csv: worker,votes,control_votes,sensitivity,specificity,flag (always-yes, random "
    "or empty), what the fit makes of each worker.",
)
def aggregate(votes_path, gold_path, model, target_precision, threshold, scores_path, output, workers_path):
    """Write labels.csv: image,class,n_votes,p_yes,decision (yes, no or open) per image and class.

    Images of known label (in --gold) are listed with that label.
    """
    table = _read(votes_path, gold_path)
    if scores_path and model != "ds":
        raise click.ClickException("--scores is read by Dawid–Skene (--model ds) only.")
    scores = _scores(scores_path, table)
    fitted = aggregation.fit(table.votes, model, scores=scores)
    _say_calibration(fitted, scores, table)
    if model == "mv":
        decisions = aggregation.decide_frequency(fitted.n_selected, fitted.n_votes, threshold)
    else:
        decisions = aggregation.decide(fitted.p_yes, target_precision)
    known = table.votes.gold != aggregation.UNKNOWN
    decisions[known] = ["yes" if g == 1 else "no" for g in table.votes.gold[known]]
    rows = (
        (image, class_, int(n), f"{p:.6f}", d)
        for (image, class_), n, p, d in zip(table.items, fitted.n_votes, fitted.p_yes, decisions)
    )
    n = _write(output, LABEL_COLUMNS, rows)
    if workers_path:
        _write(
            workers_path,
            WORKER_COLUMNS,
            zip(
                table.workers,
                fitted.worker_votes.astype(int),
                fitted.worker_gold.astype(int),
                (f"{r:.4f}" for r in fitted.sensitivity),
                (f"{r:.4f}" for r in fitted.specificity),
                fitted.flags(),
            ),
        )
    counts = {d: int((decisions == d).sum()) for d in ("yes", "no", "open")}
    click.echo(
        f"Wrote {n} labels ({counts['yes']} yes, {counts['no']} no, {counts['open']} open) from "
        f"{len(table.votes.item)} votes of {len(table.workers)} workers ({model}).",
        err=True,
    )


@labels.command("next-round", with_appcontext=False)
@VOTES
@GOLD
@click.option("--target-precision", type=share, required=True, help="The precision the yes labels must reach.")
@click.option(
    "--max-votes",
    type=click.IntRange(1, 1000),
    default=rounds.DEFAULT_MAX_VOTES,
    show_default=True,
    help="The cap: an image with this many votes is not asked again.",
)
@click.option(
    "--step",
    type=click.IntRange(1, 100),
    help=f"At most this many more votes per image in one round [default: {rounds.STEP_WITH_PRIOR} when the "
    f"--scores are used, else {rounds.DEFAULT_STEP}].",
)
@SCORES
@OUTPUT
def next_round(votes_path, gold_path, target_precision, max_votes, step, scores_path, output):
    """Write open.csv: image,class,more_votes for every image not yet at the target and under the cap.

    With --scores, an image whose prior and votes together reach the target is not asked again."""
    table = _read(votes_path, gold_path)
    scores = _scores(scores_path, table)
    fitted = aggregation.fit(table.votes, "ds", scores=scores)
    _say_calibration(fitted, scores, table)
    more = rounds.next_round(fitted, table.votes.gold, target_precision, max_votes, step)
    rows = ((image, class_, int(m)) for (image, class_), m in zip(table.items, more) if m > 0)
    n = _write(output, OPEN_COLUMNS, rows)
    click.echo(
        f"{n} of {table.votes.n_items} images need {int(more.sum())} more votes "
        f"(target precision {target_precision}, cap {max_votes}).",
        err=True,
    )
    if scores is not None:
        without = rounds.next_round(
            aggregation.fit(table.votes, "ds"), table.votes.gold, target_precision, max_votes, step
        )
        click.echo(f"Without the scores: {int((without > 0).sum())} images, {int(without.sum())} more votes.", err=True)


@labels.command("first-round", with_appcontext=False)
@click.option(
    "--scores",
    "scores_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="CSV image,class,score: every image to label, and the controls, with a model's score.",
)
@GOLD
@click.option("--target-precision", type=share, required=True, help="The precision the yes labels must reach.")
@click.option(
    "--votes-each",
    "first",
    type=click.IntRange(1, 100),
    default=rounds.DEFAULT_FIRST_ROUND,
    show_default=True,
    help="Round 1's votes per image; images the model is sure about get fewer.",
)
@OUTPUT
def first_round(scores_path, gold_path, target_precision, first, output):
    """Write first.csv: image,class,votes for round 1, fewer votes where the model is sure.

    The model is calibrated on the controls (--gold, scored in --scores too); a model they do not show to
    be better than chance leaves every image at --votes-each.
    """
    try:
        scored = read_scored_items(scores_path, gold_path)
    except VoteFileError as error:
        raise click.ClickException(str(error)) from error
    asked, calibration = rounds.first_round(scored.scores, scored.item_class, scored.gold, target_precision, first)
    candidates = scored.gold == aggregation.UNKNOWN
    rows = ((image, class_, int(n)) for (image, class_), n, c in zip(scored.items, asked, candidates) if c)
    n = _write(output, FIRST_COLUMNS, rows)
    full = first * n
    known = scored.gold != aggregation.UNKNOWN
    why = _untestable(
        scored.scores,
        scored.item_class,
        known,
        "no control in --gold has a score in --scores",
        "the controls' scores are all equal",
    )
    if why:
        model = f"the model cannot be checked: {why}"
    else:
        model = (
            f"the model on the controls: {_slope(calibration)}, {'trusted' if calibration.trusted else 'not trusted'}"
        )
    click.echo(
        f"Round 1 asks {int(asked.sum())} votes of {n} images ({full - int(asked.sum())} fewer than "
        f"{first} each); {model}.",
        err=True,
    )


@labels.command("flags")
@click.option("--batch", "batch_id", type=int, required=True, help="The batch id.")
def flags(batch_id):
    """How often each byproduct flag marks a control answer, and the error rate with and without it."""
    from ..services.review import byproduct_flags

    batch_or_fail(batch_id)
    found = byproduct_flags.votes(batch_id)
    click.echo(f"{len(found)} records; control answers: {sum(v.wrong is not None for v in found)}")
    for selected_only in (False, True):
        click.echo("selections on controls only:" if selected_only else "all control answers:")
        click.echo(f"  {'flag':<12} {'flagged':>8} {'error':>7} {'unflagged':>9} {'error':>7} {'ratio':>6}")
        for row in byproduct_flags.report(found, selected_only):

            def rate(value):
                return "—" if value is None else f"{value:.3f}"

            click.echo(
                f"  {row.flag:<12} {row.flagged:>8} {rate(row.error_flagged):>7} {row.unflagged:>9} "
                f"{rate(row.error_unflagged):>7} {rate(row.risk_ratio):>6}"
            )
