"""RQ jobs for MTurk publishing (reconciling and paying: tasks/mturk_review.py)."""
from rq import get_current_job

from freelunch.models import Batch
from freelunch.services.mturk import campaign as mturk


def _report(fraction: float) -> None:
    job = get_current_job()
    if job:
        job.meta["progress"] = round(fraction, 3)
        job.save_meta()


def publish_batch(batch_id: int) -> int:
    return mturk.publish_batch(Batch.get_by_id(batch_id), progress=_report)
