"""Label fits of a batch: its votes (and its earlier rounds') as arrays, the fit job, and what it stores.

The votes are read through their covering index (batch, class, image,
assignment, selected), a slice of classes at a time, one row per image with
its votes packed into one string by the database (``assignment << 1 |
selected``, comma-separated) and parsed by numpy: a tenth of the rows and no
Python object per vote, which took reading 1.44 M votes from ~7 s to ~2 s on
SQLite, and memory stays a few arrays of the votes' length. Workers are
anonymised worker ids (one worker's votes pool across the HITs and rounds
read); items are (class, image) pairs; the control candidates of those
classes are the known labels. Only the votes that count are read
(services/review/counted.py): not an MTurk assignment's until MTurk confirmed
it, never a rejected one's, and none of the workers left out of any round.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from peewee import Case, Cast, fn

from ... import formatting
from ...db import copy_rows, database, is_sqlite
from ...models import (
    Assignment,
    Batch,
    Candidate,
    Hit,
    ImageClass,
    ImageLabel,
    LabelFit,
    ModelScore,
    Vote,
    WorkerEstimate,
    utcnow,
)
from .. import jobs
from ..jobs import ReportProgress
from . import aggregation, counted, prior_report
from .aggregation import UNKNOWN, Votes
from .quality import VOTE_SELECTED
from .tallies import refresh

CLASSES_PER_QUERY = 50
ITEM_SHIFT = 1 << 32  # an item is class << 32 | image
ANSWER = Vote.assignment * 2 + VOTE_SELECTED  # a vote is assignment << 1 | selected


def _joined(expression):
    """The group's values as one comma-separated string (SQLite's group_concat, PostgreSQL's string_agg)."""
    if is_sqlite():
        return fn.GROUP_CONCAT(expression)
    return fn.STRING_AGG(Cast(expression, "text"), ",")


@dataclass
class Loaded:
    """The arrays, and what their indices stand for."""

    votes: Votes
    class_ids: np.ndarray  # per item: ImageClass id
    image_ids: np.ndarray  # per item: Image id
    worker_ids: list[str]  # per worker index: anonymised worker id


def left_out_workers(batch_ids: list[int]) -> list[str]:
    """The workers the requester left out of any of the rounds: a fit reads none of their votes."""
    chosen = Batch.select(Batch.excluded_workers).where(Batch.id.in_(batch_ids)).tuples()
    return sorted({worker for (workers,) in chosen for worker in workers or []})


def votes_version(batch_ids: list[int]) -> str:
    """What a fit of these rounds would read now (``counted.version``). Not brought up to date here: a page view
    asks it, and finding underived pages reads the batch (the fit job derives them before it asks)."""
    return counted.version(batch_ids, left_out_workers(batch_ids))


def load_votes(batch_ids: list[int]) -> Loaded:
    """Every vote that counts of the batches (a batch and the rounds before it), brought up to date first."""
    refresh(Assignment.hit.in_(Hit.select(Hit.id).where(Hit.batch.in_(batch_ids))))
    left_out = counted.votes_where(batch_ids, left_out_workers(batch_ids))
    key_parts: list[np.ndarray] = []
    count_parts: list[np.ndarray] = []
    answer_parts: list[np.ndarray] = []
    for batch_id in batch_ids:
        for low, high in _class_ranges(batch_id):
            query = (
                Vote.select(Vote.image_class * ITEM_SHIFT + Vote.image, fn.COUNT(Vote.id), _joined(ANSWER))
                .where(Vote.batch == batch_id, Vote.image_class.between(low, high), *left_out)
                .group_by(Vote.image_class, Vote.image)
            )
            # the driver's own cursor: peewee's row wrappers would cost more than the fit
            rows = database.execute(query).fetchall()
            key_parts.append(np.fromiter((r[0] for r in rows), np.int64, len(rows)))
            count_parts.append(np.fromiter((r[1] for r in rows), np.int64, len(rows)))
            answer_parts.append(np.fromstring(",".join(r[2] for r in rows), dtype=np.int64, sep=","))
            del rows
    keys = np.repeat(np.concatenate(key_parts), np.concatenate(count_parts)) if key_parts else np.zeros(0, np.int64)
    answers = np.concatenate(answer_parts) if answer_parts else np.zeros(0, np.int64)
    assignment, selected = answers >> 1, (answers & 1).astype(bool)
    del answers
    items, item = np.unique(keys, return_inverse=True)
    del keys
    item_class_ids = items >> 32
    worker, worker_ids = _workers(assignment, batch_ids)
    del assignment
    _, item_class = np.unique(item_class_ids, return_inverse=True)
    votes = Votes(item, worker, selected, item_class, _gold(items, item_class_ids), len(worker_ids))
    return Loaded(votes, item_class_ids, items & 0xFFFFFFFF, worker_ids)


def _class_ranges(batch_id: int) -> list[tuple[int, int]]:
    """Ranges of CLASSES_PER_QUERY class ids between the batch's first and last (two index lookups:
    MIN and MAX in one query would make SQLite scan the batch)."""
    mine = Vote.select(Vote.image_class).where(Vote.batch == batch_id).limit(1)
    low = mine.order_by(Vote.image_class).scalar()
    if low is None:
        return []
    high = mine.order_by(Vote.image_class.desc()).scalar()
    return [(start, min(start + CLASSES_PER_QUERY - 1, high)) for start in range(low, high + 1, CLASSES_PER_QUERY)]


def _workers(assignments: np.ndarray, batch_ids: list[int]) -> tuple[np.ndarray, list[str]]:
    """Per vote, the index of its assignment's worker; and the worker ids, sorted."""
    rows = database.execute(
        Assignment.select(Assignment.id, Assignment.worker_id).join(Hit).where(Hit.batch.in_(batch_ids))
    ).fetchall()
    worker_ids = sorted({w for _, w in rows})
    index = {w: i for i, w in enumerate(worker_ids)}
    ids = np.array([a for a, _ in rows], dtype=np.int64)
    of_assignment = np.array([index[w] for _, w in rows], dtype=np.int64)
    order = np.argsort(ids)
    ids, of_assignment = ids[order], of_assignment[order]
    return of_assignment[np.searchsorted(ids, assignments)], worker_ids


def _gold(keys: np.ndarray, item_class_ids: np.ndarray) -> np.ndarray:
    """Per item, 1 for a positive control, 0 for a negative one, UNKNOWN otherwise (roles read now).

    The controls are found by the (role, class, image) index, a range of classes at a time."""
    gold = np.full(len(keys), UNKNOWN, dtype=np.int8)
    if not len(keys):
        return gold
    classes = np.unique(item_class_ids)
    for start in range(0, len(classes), CLASSES_PER_QUERY * 20):
        chunk = classes[start : start + CLASSES_PER_QUERY * 20]
        query = Candidate.select(
            Candidate.image_class * ITEM_SHIFT + Candidate.image, Case(None, [(Candidate.role == "positive", 1)], 0)
        ).where(
            Candidate.role.in_(("positive", "negative")), Candidate.image_class.between(int(chunk[0]), int(chunk[-1]))
        )
        controls = np.array(database.execute(query).fetchall(), dtype=np.int64).reshape(-1, 2)
        where = np.minimum(np.searchsorted(keys, controls[:, 0]), len(keys) - 1)
        hit = keys[where] == controls[:, 0]
        gold[where[hit]] = controls[hit, 1]
    return gold


def load_scores(loaded: Loaded) -> np.ndarray | None:
    """Per item, the model's score imported for its image and class (nan where none); None if no item has one."""
    keys = loaded.class_ids * ITEM_SHIFT + loaded.image_ids  # sorted: items come from np.unique
    scores = np.full(len(keys), np.nan)
    classes = np.unique(loaded.class_ids)
    for start in range(0, len(classes), CLASSES_PER_QUERY):
        chunk = classes[start : start + CLASSES_PER_QUERY]
        query = ModelScore.select(ModelScore.image_class * ITEM_SHIFT + ModelScore.image, ModelScore.score).where(
            ModelScore.image_class.in_(chunk.tolist())
        )
        rows = database.execute(query).fetchall()
        if not rows:
            continue
        found = np.array([r[0] for r in rows], np.int64)
        where = np.minimum(np.searchsorted(keys, found), len(keys) - 1)
        hit = keys[where] == found
        scores[where[hit]] = np.array([r[1] for r in rows], float)[hit]
    return scores if np.isfinite(scores).any() else None


def _class_keys(loaded: Loaded) -> list[str]:
    """Per class index of the votes, its key."""
    ids = np.unique(loaded.class_ids).tolist()
    keys = dict(ImageClass.select(ImageClass.id, ImageClass.key).where(ImageClass.id.in_(ids)).tuples())
    return [keys.get(i, str(i)) for i in ids]


# --- fitting a batch in the background, and what the dashboard reads -------------

INSERT_ROWS = 5000


def rounds_of(batch: Batch) -> list[int]:
    """The batch's id and those of the rounds it follows, first round first (a cycle is cut)."""
    chain: list[int] = []
    current: Batch | None = batch
    while current is not None and current.id not in chain:
        chain.append(current.id)
        current = Batch.get_or_none(Batch.id == current.follows_id) if current.follows_id else None
    return chain[::-1]


class FitPending(Exception):
    """The batch has a fit queued or running: a second would only wait for it and read the same votes."""

    def __init__(self):
        super().__init__("A fit of this batch is still running: wait for it to finish before fitting again.")


def start(batch: Batch, model: str, target_precision: float, threshold: float = 0.7) -> LabelFit:
    """Record a fit and queue the job that makes it; FitPending while another fit of the batch is pending,
    jobs.QueueFull (and no fit recorded) when the organization has too many jobs pending."""
    if pending(batch) is not None:
        raise FitPending()
    fit = LabelFit.create(
        organization=batch.organization_id,
        batch=batch,
        model=model,
        target_precision=target_precision,
        threshold=threshold,
        batch_ids=rounds_of(batch),
    )
    name = "Dawid–Skene" if model == "ds" else "Selection frequency"
    try:
        job = jobs.enqueue(
            jobs.FIT_LABELS,
            fit.id,
            organization_id=batch.organization_id,
            scope=f"labels:{batch.id}",
            title=f"{name} labels of {batch.name}",
        )
    except Exception:  # the queue full, or Redis unreachable: no fit waiting for a job that was never queued
        fit.delete_instance()
        raise
    fit.job_id = job.id
    fit.save(only=[LabelFit.job_id])
    return fit


def latest(batch: Batch) -> LabelFit | None:
    """The batch's newest finished fit."""
    return (
        LabelFit.select().where(LabelFit.batch == batch, LabelFit.state == "done").order_by(LabelFit.id.desc()).first()
    )


WAITING = ("queued", "running")
GONE = {  # why a fit whose job RQ will never run (jobs.gone) failed
    "stopped": "It stopped before it finished: its worker was stopped (a restart, or it ran out of memory).",
    "lost": "Its job was lost from the queue before it ran (the queue was emptied or restarted).",
}


def pending(batch: Batch) -> LabelFit | None:
    """A fit of the batch still queued or running, if any. One whose job RQ will never run (jobs.gone: its worker
    killed hard, or the job lost from Redis, or never named by a process that died as it queued it) is recorded failed
    here first: pending for ever, it refused every later fit of the batch (FitPending)."""
    while True:
        fit = (
            LabelFit.select()
            .where(LabelFit.batch == batch, LabelFit.state.in_(WAITING))
            .order_by(LabelFit.id.desc())
            .first()
        )
        reason = jobs.gone_since(fit.job_id, fit.created_at) if fit is not None else None
        if reason is None:
            return fit
        # Only if still waiting: a job that ended as it was read has already recorded done or failed itself.
        LabelFit.update(state="failed", error=GONE[reason], finished_at=utcnow()).where(
            LabelFit.id == fit.id, LabelFit.state.in_(WAITING)
        ).execute()


def is_stale(fit: LabelFit) -> bool:
    """Whether the votes that count changed since the fit read them (new pages, MTurk's word, a worker left out)."""
    return fit.votes_version != votes_version(fit.batch_ids)


def worker_estimates(fit: LabelFit | None, worker_ids: list[str] | None = None) -> dict[str, WorkerEstimate]:
    """The fit's estimate per worker id (of ``worker_ids``, if given: a page of the workers list reads its own, not
    every worker's; empty without a fit)."""
    if fit is None:
        return {}
    query = WorkerEstimate.select().where(WorkerEstimate.fit == fit.id)
    if worker_ids is not None:
        query = query.where(WorkerEstimate.worker_id.in_(worker_ids))
    return {e.worker_id: e for e in query}


def flagged_workers(fit: LabelFit):
    """The ids of the workers the fit flagged (a subquery)."""
    flagged = WorkerEstimate.flag != ""
    return WorkerEstimate.select(WorkerEstimate.worker_id).where(WorkerEstimate.fit == fit.id, flagged)


def run(fit_id: int, progress: ReportProgress | None = None) -> dict:
    """The job's body: refresh the rounds' votes, fit, store labels and worker estimates."""
    report = progress or (lambda fraction, message="": None)
    fit = LabelFit.get_or_none(LabelFit.id == fit_id)
    if fit is None:
        return {"error": "The fit was deleted before it ran."}
    LabelFit.update(state="running").where(LabelFit.id == fit.id).execute()
    try:
        result = _fit_and_store(fit, report)
    except Exception as error:
        LabelFit.update(state="failed", error=f"{type(error).__name__}: {error}"[:1000], finished_at=utcnow()).where(
            LabelFit.id == fit.id
        ).execute()
        raise
    if "error" in result:
        LabelFit.update(state="failed", error=result["error"], finished_at=utcnow()).where(
            LabelFit.id == fit.id
        ).execute()
    return result


def _fit_and_store(fit: LabelFit, report) -> dict:
    report(0.05, "Reading the votes…")
    refresh(Assignment.hit.in_(Hit.select(Hit.id).where(Hit.batch.in_(fit.batch_ids))))
    version = votes_version(fit.batch_ids)  # before reading: a page arriving meanwhile makes the fit stale, not wrong
    loaded = load_votes(fit.batch_ids)
    if not len(loaded.votes.item):
        return {"error": "No votes yet: labels need submitted pages."}
    report(0.5, f"Fitting {len(loaded.votes.item):,} votes…")
    scores = load_scores(loaded) if fit.model == "ds" else None
    fitted = aggregation.fit(loaded.votes, fit.model, scores=scores)
    prior = {}
    if scores is not None:
        report(0.55, "Measuring the model's scores against the votes…")
        without = aggregation.fit(loaded.votes, fit.model)
        prior = prior_report.summarize(loaded.votes, scores, fitted, without, fit.target_precision, _class_keys(loaded))
    if fit.model == "mv":
        decisions = aggregation.decide_frequency(fitted.n_selected, fitted.n_votes, fit.threshold)
    else:
        decisions = aggregation.decide(fitted.p_yes, fit.target_precision)
    known = loaded.votes.gold != UNKNOWN
    decisions[known] = np.where(loaded.votes.gold[known] == 1, "yes", "no")
    flags = fitted.flags()
    counts = {d: int((decisions == d).sum()) for d in ("yes", "no", "open")}
    report(0.6, "Storing the labels…")
    with database.atomic():
        rows = zip(
            loaded.class_ids.tolist(),
            loaded.image_ids.tolist(),
            fitted.n_votes.tolist(),
            fitted.n_selected.tolist(),
            fitted.p_yes.tolist(),
            decisions.tolist(),
            known.tolist(),
        )
        fields = [
            ImageLabel.fit,
            ImageLabel.image_class,
            ImageLabel.image,
            ImageLabel.votes,
            ImageLabel.selected,
            ImageLabel.p_yes,
            ImageLabel.decision,
            ImageLabel.known,
        ]
        _insert(ImageLabel, fields, ((fit.id, *row) for row in rows))
        report(0.9, "Storing the worker estimates…")
        workers = zip(
            loaded.worker_ids,
            _nullable(fitted.sensitivity),
            _nullable(fitted.specificity),
            fitted.worker_votes.tolist(),
            fitted.worker_gold.tolist(),
            fitted.worker_selected.tolist(),
            flags.tolist(),
        )
        fields = [
            WorkerEstimate.fit,
            WorkerEstimate.worker_id,
            WorkerEstimate.sensitivity,
            WorkerEstimate.specificity,
            WorkerEstimate.votes,
            WorkerEstimate.gold_votes,
            WorkerEstimate.selected,
            WorkerEstimate.flag,
        ]
        _insert(WorkerEstimate, fields, ((fit.id, *row) for row in workers))
        LabelFit.update(
            state="done",
            images=loaded.votes.n_items,
            votes=len(loaded.votes.item),
            votes_version=version,
            iterations=fitted.iterations,
            prior=prior,
            finished_at=utcnow(),
            **counts,
        ).where(LabelFit.id == fit.id).execute()
        # One finished fit per batch is kept: the labels of older ones are what this one replaces.
        LabelFit.delete().where(
            LabelFit.batch == fit.batch_id, LabelFit.id < fit.id, LabelFit.state.in_(("done", "failed"))
        ).execute()
    report(1.0, "Done")
    return {
        "summary": f"{loaded.votes.n_items:,} images labelled: {counts['yes']:,} yes, {counts['no']:,} no, "
        f"{counts['open']:,} open ({formatting.counted(len(loaded.worker_ids), 'worker')}, "
        f"{formatting.counted(fitted.iterations, 'iteration')})."
    }


def _nullable(rates: np.ndarray) -> list[float | None]:
    return [None if np.isnan(r) else float(r) for r in rates]


def _insert(model, fields, rows) -> None:
    """Append plain rows (in ``fields``' order) INSERT_ROWS at a time through ``db.copy_rows``: peewee's insert_many
    spent 14.8 of a 17.9 s fit writing the SQL for 130,000 labels."""
    columns = [f.column_name for f in fields]
    batch: list[tuple] = []
    for row in rows:
        batch.append(row)
        if len(batch) == INSERT_ROWS:
            copy_rows(model._meta.table_name, columns, batch)
            batch = []
    if batch:
        copy_rows(model._meta.table_name, columns, batch)
