"""Label fits of a batch: its votes (and its earlier rounds') as arrays, the fit job, and what it stores.

The votes are read through their covering index (batch, class, image,
assignment, selected), a slice of classes at a time, straight into numpy
arrays: no Python object per vote outlives its slice, so a refit of 144,000
images × 10 votes holds a few arrays of 1.44 M entries, not 1.44 M tuples
(psycopg2 would otherwise hold a whole result set in memory). Workers are
anonymised worker ids (one worker's votes pool across the HITs and rounds
read); items are (class, image) pairs; the control candidates of those
classes are the known labels.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...db import database
from ...models import Assignment, Batch, Candidate, Hit, ImageLabel, LabelFit, Vote, WorkerEstimate, utcnow
from .. import jobs
from . import aggregation
from .aggregation import UNKNOWN, Votes
from .tallies import refresh

CLASSES_PER_QUERY = 50
VOTE_DTYPE = np.dtype([("image_class", np.int64), ("image", np.int64), ("assignment", np.int64), ("selected", bool)])


@dataclass
class Loaded:
    """The arrays, and what their indices stand for."""

    votes: Votes
    class_ids: np.ndarray  # per item: ImageClass id
    image_ids: np.ndarray  # per item: Image id
    worker_ids: list[str]  # per worker index: anonymised worker id


def _item_keys(class_ids: np.ndarray, image_ids: np.ndarray) -> np.ndarray:
    return (class_ids.astype(np.int64) << 32) | image_ids.astype(np.int64)


def load_votes(batch_ids: list[int]) -> Loaded:
    """Every vote of the batches (a batch and the rounds before it), brought up to date first."""
    refresh(Assignment.hit.in_(Hit.select(Hit.id).where(Hit.batch.in_(batch_ids))))
    mine = Vote.batch.in_(batch_ids)
    class_ids = [c for (c,) in Vote.select(Vote.image_class).distinct().where(mine).order_by(Vote.image_class).tuples()]
    total = Vote.select().where(mine).count()
    keys = np.empty(total, np.int64)
    assignment = np.empty(total, np.int64)
    selected = np.empty(total, bool)
    filled = 0
    for batch_id in batch_ids:
        for start in range(0, len(class_ids), CLASSES_PER_QUERY):
            chunk = class_ids[start:start + CLASSES_PER_QUERY]
            query = (Vote.select(Vote.image_class, Vote.image, Vote.assignment, Vote.selected)
                     .where(Vote.batch == batch_id, Vote.image_class.between(chunk[0], chunk[-1])))
            # the driver's own cursor: peewee's row wrappers would cost more than the fit
            part = np.fromiter(database.execute(query), dtype=VOTE_DTYPE)
            end = min(total, filled + len(part))  # votes added since the count wait for the next fit
            part = part[:end - filled]
            keys[filled:end] = _item_keys(part["image_class"], part["image"])
            assignment[filled:end] = part["assignment"]
            selected[filled:end] = part["selected"]
            filled = end
            del part
    keys, assignment, selected = keys[:filled], assignment[:filled], selected[:filled]
    items, item = np.unique(keys, return_inverse=True)
    del keys
    item_class_ids = items >> 32
    worker, worker_ids = _workers(assignment, batch_ids)
    del assignment
    _, item_class = np.unique(item_class_ids, return_inverse=True)
    votes = Votes(item, worker, selected, item_class, _gold(items, class_ids), len(worker_ids))
    return Loaded(votes, item_class_ids, items & 0xFFFFFFFF, worker_ids)


def _workers(assignments: np.ndarray, batch_ids: list[int]) -> tuple[np.ndarray, list[str]]:
    """Per vote, the index of its assignment's worker; and the worker ids, sorted."""
    rows = list(Assignment.select(Assignment.id, Assignment.worker_id).join(Hit)
                .where(Hit.batch.in_(batch_ids)).tuples())
    worker_ids = sorted({w for _, w in rows})
    index = {w: i for i, w in enumerate(worker_ids)}
    ids = np.array([a for a, _ in rows], dtype=np.int64)
    of_assignment = np.array([index[w] for _, w in rows], dtype=np.int64)
    order = np.argsort(ids)
    ids, of_assignment = ids[order], of_assignment[order]
    return of_assignment[np.searchsorted(ids, assignments)], worker_ids


def _gold(keys: np.ndarray, class_ids: list[int]) -> np.ndarray:
    """Per item, 1 for a positive control, 0 for a negative one, UNKNOWN otherwise (roles read now)."""
    gold = np.full(len(keys), UNKNOWN, dtype=np.int8)
    if not class_ids:
        return gold
    controls = list(Candidate.select(Candidate.image_class, Candidate.image, Candidate.role)
                    .where(Candidate.image_class.in_(class_ids), Candidate.role != "candidate").tuples())
    if not controls:
        return gold
    control_keys = _item_keys(np.array([c for c, _, _ in controls]), np.array([i for _, i, _ in controls]))
    where = np.searchsorted(keys, control_keys)
    where = np.minimum(where, len(keys) - 1)
    hit = keys[where] == control_keys
    gold[where[hit]] = np.array([role == "positive" for _, _, role in controls], dtype=np.int8)[hit]
    return gold


# --- fitting a batch in the background, and what the dashboard reads -------------

INSERT_ROWS = 1000


def rounds_of(batch: Batch) -> list[int]:
    """The batch's id and those of the rounds it follows, first round first (a cycle is cut)."""
    chain, current = [], batch
    while current is not None and current.id not in chain:
        chain.append(current.id)
        current = Batch.get_or_none(Batch.id == current.follows_id) if current.follows_id else None
    return chain[::-1]


def start(batch: Batch, model: str, target_precision: float, threshold: float = 0.7) -> LabelFit:
    """Record a fit and queue the job that makes it."""
    fit = LabelFit.create(organization=batch.organization_id, batch=batch, model=model,
                          target_precision=target_precision, threshold=threshold, batch_ids=rounds_of(batch))
    name = "Dawid–Skene" if model == "ds" else "Selection frequency"
    job = jobs.enqueue(jobs.FIT_LABELS, fit.id, organization_id=batch.organization_id,
                       scope=f"labels:{batch.id}", title=f"{name} labels of {batch.name}")
    fit.job_id = job.id
    fit.save(only=[LabelFit.job_id])
    return fit


def latest(batch: Batch) -> LabelFit | None:
    """The batch's newest finished fit."""
    return (LabelFit.select().where(LabelFit.batch == batch, LabelFit.state == "done")
            .order_by(LabelFit.id.desc()).first())


def pending(batch: Batch) -> LabelFit | None:
    """A fit of the batch still queued or running, if any."""
    return (LabelFit.select().where(LabelFit.batch == batch, LabelFit.state.in_(("queued", "running")))
            .order_by(LabelFit.id.desc()).first())


def worker_estimates(batch: Batch) -> dict[str, WorkerEstimate]:
    """The latest fit's estimate per worker id (empty without a fit)."""
    fit = latest(batch)
    if fit is None:
        return {}
    return {e.worker_id: e for e in WorkerEstimate.select().where(WorkerEstimate.fit == fit.id)}


def run(fit_id: int, progress=None) -> dict:
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
            LabelFit.id == fit.id).execute()
        raise
    if "error" in result:
        LabelFit.update(state="failed", error=result["error"], finished_at=utcnow()).where(
            LabelFit.id == fit.id).execute()
    return result


def _fit_and_store(fit: LabelFit, report) -> dict:
    report(0.05, "Reading the votes…")
    loaded = load_votes(fit.batch_ids)
    if not len(loaded.votes.item):
        return {"error": "No votes yet: labels need submitted pages."}
    report(0.5, f"Fitting {len(loaded.votes.item):,} votes…")
    fitted = aggregation.fit(loaded.votes, fit.model)
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
        rows = zip(loaded.class_ids.tolist(), loaded.image_ids.tolist(), fitted.n_votes.tolist(),
                   fitted.n_selected.tolist(), fitted.p_yes.tolist(), decisions.tolist(), known.tolist())
        fields = [ImageLabel.fit, ImageLabel.image_class, ImageLabel.image, ImageLabel.votes, ImageLabel.selected,
                  ImageLabel.p_yes, ImageLabel.decision, ImageLabel.known]
        _insert(ImageLabel, fields, ((fit.id, *row) for row in rows))
        report(0.9, "Storing the worker estimates…")
        workers = zip(loaded.worker_ids, _nullable(fitted.sensitivity), _nullable(fitted.specificity),
                      fitted.worker_votes.tolist(), fitted.worker_gold.tolist(), fitted.worker_selected.tolist(),
                      flags.tolist())
        fields = [WorkerEstimate.fit, WorkerEstimate.worker_id, WorkerEstimate.sensitivity,
                  WorkerEstimate.specificity, WorkerEstimate.votes, WorkerEstimate.gold_votes,
                  WorkerEstimate.selected, WorkerEstimate.flag]
        _insert(WorkerEstimate, fields, ((fit.id, *row) for row in workers))
        LabelFit.update(state="done", images=loaded.votes.n_items, votes=len(loaded.votes.item),
                        iterations=fitted.iterations, finished_at=utcnow(), **counts).where(
            LabelFit.id == fit.id).execute()
        # One finished fit per batch is kept: the labels of older ones are what this one replaces.
        LabelFit.delete().where(LabelFit.batch == fit.batch_id, LabelFit.id < fit.id,
                                LabelFit.state.in_(("done", "failed"))).execute()
    report(1.0, "Done")
    return {"summary": f"{loaded.votes.n_items:,} images labelled: {counts['yes']:,} yes, {counts['no']:,} no, "
                       f"{counts['open']:,} open ({len(loaded.worker_ids):,} workers, {fitted.iterations} iterations)."}


def _nullable(rates: np.ndarray) -> list[float | None]:
    return [None if np.isnan(r) else float(r) for r in rates]


def _insert(model, fields, rows) -> None:
    batch: list[tuple] = []
    for row in rows:
        batch.append(row)
        if len(batch) == INSERT_ROWS:
            model.insert_many(batch, fields=fields).execute()
            batch = []
    if batch:
        model.insert_many(batch, fields=fields).execute()
