"""RQ job functions, thin wrappers over services; each is named once as a ``Task`` in services/jobs.py.

A job over one of an organization's batches (or MTurk assignments) is written once, by ``batch_job`` (or
``assignment_job``): it loads the row for the organization the job was queued for, and turns what the requester can
fix (a row deleted meanwhile, any ``RequesterError``) into ``{"error": ...}``, so RQ's failed registry keeps only
real faults. (Helpers live here, not in a module of their own: every public function of a module of tasks/ is a job,
tests/services/test_jobs.py.)
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from freelunch.models import Batch, MTurkAssignment
from freelunch.services.errors import RequesterError


def batch_job(gone: str = "The batch was deleted.") -> Callable:
    """``job(batch, *args)`` as the job ``(batch_id, organization_id, *args)``; ``gone`` when the batch is not there."""

    def wrap(job: Callable[..., dict]) -> Callable[..., dict]:
        @functools.wraps(job)
        def run(batch_id: int, organization_id: int, *args, **kwargs) -> dict:
            batch = Batch.get_or_none(Batch.id == batch_id, Batch.organization == organization_id)
            if batch is None:
                return {"error": gone}
            return _answer(job, batch, *args, **kwargs)

        return run

    return wrap


def assignment_job(job: Callable[..., dict]) -> Callable[..., dict]:
    """``job(row, *args)`` as the job ``(batch_id, organization_id, row_id, *args)`` over one MTurk assignment."""

    @functools.wraps(job)
    def run(batch_id: int, organization_id: int, row_id: int, *args, **kwargs) -> dict:
        row = MTurkAssignment.get_or_none(MTurkAssignment.id == row_id, MTurkAssignment.organization == organization_id)
        if row is None:
            return {"error": "The assignment was deleted."}
        return _answer(job, row, *args, **kwargs)

    return run


def _answer(job: Callable[..., dict], *args, **kwargs) -> dict:
    try:
        return job(*args, **kwargs)
    except RequesterError as error:
        return {"error": str(error)}
