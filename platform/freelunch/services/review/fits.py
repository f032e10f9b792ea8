"""A batch's votes as arrays for services/review/aggregation.py, read from the review read model.

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
from ...models import Assignment, Candidate, Hit, Vote
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
