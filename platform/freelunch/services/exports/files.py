"""A batch's export files: made by RQ jobs, kept under instance/exports/<org id>/, downloaded by their organization.

The kinds and their writers are services/exports/kinds.py's table; what a kind
was asked for (the labels of record, for a kind that carries labels, and which
votes counted) is kept in ``Export.params``. A file is written as ``<name>.part`` and renamed when
complete, so a download never sees half a file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from peewee import Case, fn

from ... import formatting
from ...db import is_sqlite
from ...models import (
    Assignment,
    Batch,
    BatchWorker,
    Candidate,
    Export,
    ImageClass,
    PageSubmission,
    PageTally,
    utcnow,
)
from .. import jobs
from ..errors import RequesterError
from ..imports import quota
from ..jobs import ReportProgress
from ..review import counted, fits, of_record, quality
from ..review.tallies import in_batch, refresh
from . import imagenet_ab
from .kinds import KINDS, Kind


def export_root() -> Path:
    return Path(current_app.config["INSTANCE_PATH"]) / "exports"


def file_path(export: Export) -> Path | None:
    """The finished file of an export, or None while there is none."""
    if export.state != "done" or not export.path:
        return None
    path = export_root() / export.path
    return path if path.is_file() else None


def delete(export: Export) -> None:
    """Remove an export's row and its file."""
    remove_file(export)
    export.delete_instance()


def remove_file(export: Export) -> None:
    if export.path:
        (export_root() / export.path).unlink(missing_ok=True)


def _words(text: str, most: int = 60) -> str:
    """``text`` as a file name's part: ASCII letters (accents dropped) and digits, lowercase, joined by hyphens."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:most].strip("-")


def _batch_words(batch: Batch) -> str:
    return _words(batch.name) or f"batch-{batch.id}"


def download_name(export: Export) -> str:
    """The name a requester's browser saves an export under, in their words: the batch's name, what the file holds
    (the kind's title, and the decision kept), the day and time it was started (UTC), and its number, which keeps two
    exports of the same minute apart. Letters, digits and hyphens only, so it is a safe name on any system."""
    kind = KINDS[export.kind]
    parts = [_batch_words(export.batch), _words(kind.title)]
    if export.params and export.params.get("decision"):
        parts.append(_words(f"{export.params['decision']} only"))
    parts += [export.created_at.strftime("%Y-%m-%d-%H%M"), f"export-{export.id}"]
    return f"{'-'.join(parts)}.{kind.extension}"


def archive_name(batch: Batch) -> str:
    """The name of the ZIP of every finished export of the batch (download_name's words, the day of the download)."""
    return f"{_batch_words(batch)}-exports-{utcnow().strftime('%Y-%m-%d')}.zip"


def _wide(field):
    """``field`` as a 64-bit integer in arithmetic: PostgreSQL's integers are 32 bits, SQLite's 64."""
    return field if is_sqlite() else field.cast("bigint")


def _counted_pages(batch: Batch, workers: list[str]) -> str:
    """Which pages count, leaving out ``workers``' too (counted.left_out), from kept rows: each worker's pages that
    count (BatchWorker, a row per worker), and the assignments left out that have pages. Unlike counted.version (the
    fits'), an assignment left out without a page (an MTurk one just started, or rejected before its first page), or
    a page added to one already left out, changes nothing: no file holds them. Pages are the derived ones, as
    wherever the rows are read (``run`` derives the others first)."""
    of_batch = [BatchWorker.batch == batch.id]
    if workers:
        of_batch.append(BatchWorker.worker_id.not_in(workers))
    sums = (
        BatchWorker.select(fn.SUM(BatchWorker.pages), fn.SUM(_wide(BatchWorker.pages) * BatchWorker.id))
        .where(*of_batch)
        .scalar(as_tuple=True)
    )
    ids = ""
    if counted.anything_left_out([batch.id], workers):
        with_pages = fn.EXISTS(PageTally.select(PageTally.id).where(PageTally.assignment == Assignment.id))
        left_out = counted.left_out([batch.id], workers).where(with_pages).order_by(Assignment.id).tuples()
        ids = ",".join(str(a) for (a,) in left_out)
    return f"{int(sums[0] or 0)}.{int(sums[1] or 0)}.{hashlib.sha1(ids.encode()).hexdigest()[:16]}"


def _votes(batch: Batch) -> str:
    """The votes that count: the pages that count, less those of the workers left out of the labels."""
    return _counted_pages(batch, batch.excluded_workers or [])


def _pages(batch: Batch) -> str:
    """The pages that count, whoever the requester left out of the labels: what the record kinds write."""
    return _counted_pages(batch, [])


def _left_out_by_bar(batch: Batch) -> str:
    """The workers the labels of record's control-accuracy bar leaves out now (none for a fit or a rule without a
    bar): a corrected control moves a worker across it without a new vote. A row per worker below the bar."""
    record = of_record.of(batch)
    if record.fit is not None or record.rule_used().min_accuracy <= 0:
        return ""
    below = quality.workers_below(batch.id, record.rule_used().min_accuracy)
    return hashlib.sha1(",".join(sorted(below)).encode()).hexdigest()[:16]


_CONTROLS = ("positive", "negative")
_PRIME = 1_000_003  # image * _PRIME + class: one number per (class, image) while class ids stay under it; past it,
# two pairs may share a number, which a correction still moves (its role weighs 1 or 2): only exactly cancelling
# changes could go unseen


def _classes(batch: Batch):
    """The ids of the batch's classes: those chosen in the builder, or every class of its dataset."""
    if batch.class_ids is not None:
        return batch.class_ids
    return ImageClass.select(ImageClass.id).where(ImageClass.dataset == batch.dataset_id)


def _class_names(batch: Batch) -> str:
    """The names of the batch's classes (the seed's classNames, the labels CSV's class_names), which the Datasets
    page edits: a row per class."""
    digest = hashlib.sha1()
    query = ImageClass.select(ImageClass.id, ImageClass.names).where(ImageClass.id.in_(_classes(batch)))
    for class_id, names in query.order_by(ImageClass.id).tuples():
        digest.update(f"{class_id}:{names!r}\n".encode())
    return digest.hexdigest()[:16]


def _roles(batch: Batch) -> str:
    """The control roles of the batch's classes: every (class, image, role) that is not a plain candidate, which is
    what a role read from (class, image) can differ by. From the control rows alone, through their index (role,
    image_class, image): a count and two sums that move when a control is added, corrected or taken back."""
    role = Case(None, [(Candidate.role == "negative", 2)], 1)
    base = _wide(Candidate.image) * _PRIME + Candidate.image_class
    row = (
        Candidate.select(
            fn.COUNT(Candidate.id),
            fn.SUM(base * role),
            fn.SUM(quality.modulo(base) * quality.modulo(base) * role),
        )
        .where(Candidate.role.in_(_CONTROLS), Candidate.image_class.in_(_classes(batch)))
        .scalar(as_tuple=True)
    )
    return hashlib.sha1(",".join(str(int(v or 0)) for v in row).encode()).hexdigest()[:16]


def _pointer(batch: Batch) -> int:
    """Pointer chunks stored for the submitted pages that count (from their submitting tab): the database adds each
    chunk the flush stores to its page's tally and so to its worker's kept row (BatchWorker, migrations 0027, 0030),
    so a batch arriving after its page was submitted moves it. A row per worker, not the chunks."""
    received = BatchWorker.select(fn.SUM(BatchWorker.chunks_received)).where(BatchWorker.batch == batch.id)
    return int(received.scalar() or 0)


def _estimates(batch: Batch) -> int | None:
    fit = fits.latest(batch)
    return fit.id if fit else None


@dataclass(frozen=True)
class Input:
    """Something a kind's writer reads that can change under a finished file (kinds.Kind.reads): how to read what it
    is now (cheaply: the out-of-date mark reads it on every view of the Exports tab), and why a file is out of date
    when it is no longer what the file was written from."""

    now: Callable[[Batch], object]
    changed: str


INPUTS = {
    "votes": Input(
        _votes,
        "the votes that count changed since it was made (pages submitted, work MTurk confirmed or rejected, "
        "or a worker left out or counted again)",
    ),
    "workers": Input(
        lambda batch: quality.kept_workers_version(batch.id),
        "the workers' figures changed since it was made (pages submitted, assignments started, work MTurk "
        "confirmed or rejected, or a control's role corrected)",
    ),
    "estimates": Input(_estimates, "a newer label fit estimated the workers since it was made"),
    "pages": Input(
        _pages,
        "the pages that count changed since it was made (pages submitted, or work MTurk confirmed or rejected)",
    ),
    "roles": Input(_roles, "a control image's role was corrected since it was made"),
    "class_names": Input(_class_names, "a class's names were edited since it was made"),
    "bar": Input(
        _left_out_by_bar,
        "the workers below the control-accuracy bar changed since it was made (a control image's role corrected)",
    ),
    "pointer": Input(
        _pointer, "pointer data of submitted pages arrived since it was made (the tracker's late batches)"
    ),
}
# A file made before its kind recorded one of its inputs (kinds.Kind.reads grew): whether it is current is unknown.
UNRECORDED = "it was made before this kind of file recorded everything it is made from; make it again to be sure"
LABELS_CHANGED = "the batch's labels of record changed since it was made (another rule, or a new label fit)"


def _inputs(kind: Kind, batch: Batch) -> dict:
    return {name: INPUTS[name].now(batch) for name in kind.reads}


def params(kind: Kind, batch: Batch, decision: str | None = None) -> dict:
    """What the kind's writer reads, as ``Export.params`` records it: each of its inputs now (kinds.Kind.reads: the
    votes that count, which reconcile changes without a new page, or the kept rows per worker and the latest fit);
    for a kind that carries labels, the labels of record (and the decisions kept, when the results page filtered
    them)."""
    out = _inputs(kind, batch)
    if kind.labels:
        out.update(of_record.of(batch).params())
        if decision:
            out["decision"] = decision
    return out


def out_of_date(batch: Batch) -> Callable[[Export], str | None]:
    """For the batch's exports: why a finished one no longer holds what its kind would write now, in a requester's
    words (None while it still does): each input its kind reads (kinds.Kind.reads) and its labels of record, in its
    ``params`` against now, each read once for every row, and only if a row of a kind that reads it is finished.

    A page stored without its tally after the file was written (a bulk load) shows here only once it is derived
    (the periodic job, within five minutes): seeing it at once would take reading every page of the batch (the
    anti-join of ``tallies.pending_pages``) on each view, or a count of stored pages kept by the database (a
    migration). Pages without tallies when the file was written are no matter: ``run`` derives them first."""
    now: dict = {}

    def read(name: str):
        if name not in now:
            now[name] = of_record.of(batch).params() if name == "labels" else INPUTS[name].now(batch)
        return now[name]

    def why(export: Export) -> str | None:
        if export.state != "done":
            return None
        kind = KINDS[export.kind]
        made = export.params or {}
        if kind.labels:
            record = read("labels")
            if {k: made.get(k) for k in record} != record:
                return LABELS_CHANGED
        for name in kind.reads:
            if name not in made:
                return UNRECORDED
            if made[name] != read(name):
                return INPUTS[name].changed
        return None

    return why


def marks(batch: Batch, why: Callable[[Export], str | None] | None = None) -> str:
    """The out-of-date marks of the batch's finished exports (``out_of_date``, or ``why`` if the caller has it), as a
    mark: the Exports tab sends the one it shows with the batch's status poll and reloads its list when it differs, so
    a mark appears without a reload whatever changed the file's inputs (a page submitted, a control corrected by an
    import, pointer batches flushed after Submit). Only the rows out of date, so a file finishing current reloads
    nothing."""
    why = why or out_of_date(batch)
    stale = [
        f"{export.id}:{reason}"
        for export in Export.select(Export.id, Export.kind, Export.params, Export.state)
        .where(Export.batch == batch, Export.state == "done")
        .order_by(Export.id)
        if (reason := why(export))
    ]
    return hashlib.sha1("|".join(stale).encode()).hexdigest()[:12] if stale else "current"


# Why an export waiting for its job failed when the job is gone (jobs.gone), in a requester's words: the row shows
# "The export failed: " and this.
GONE = {
    "stopped": "it stopped before it finished: its worker was stopped (a restart, or it ran out of memory). "
    "Make it again.",
    "lost": "its job was lost from the queue before it ran (the queue was emptied or restarted). Make it again.",
}
WAITING = ("queued", "running")


def settle(export: Export) -> Export:
    """The export as it stands: one still queued or running whose RQ job is gone for good (jobs.gone: failed,
    stopped, abandoned by a worker killed hard, or no longer in Redis) is recorded failed, with why (``GONE``), so the
    Exports tab stops showing it running, it can be deleted, and an identical one is no longer offered instead of a
    new file. One whose job is queued, or running with its worker alive, however slow, is left as it is. Every reader
    of an unfinished export's state asks here first (review/exports.py, ``identical``)."""
    if export.state not in WAITING:
        return export
    reason = jobs.gone_since(export.job_id, export.created_at)  # the job id is saved a moment after the row (start)
    if reason is None:
        return export
    # Only if still waiting: a job that ended as it was read has already recorded done or failed itself.
    Export.update(state="failed", error=GONE[reason], finished_at=utcnow()).where(
        Export.id == export.id, Export.state.in_(WAITING)
    ).execute()
    return Export.get_or_none(Export.id == export.id) or export


def settle_batch(batch: Batch) -> None:
    """``settle`` the batch's unfinished exports (none, most of the time: one indexed query)."""
    for export in Export.select().where(Export.batch == batch, Export.state.in_(WAITING)):
        settle(export)


def listed(batch: Batch) -> str:
    """What the batch's export list holds, as a mark ("3-17": how many exports, the newest id): the Exports tab sends
    the mark it shows with the batch's status poll, and reloads its list when an export was started (another tab,
    not the freelunch command, which writes its file without a row) or deleted elsewhere (review/_exports.html)."""
    count, newest = (
        Export.select(fn.COUNT(Export.id), fn.MAX(Export.id)).where(Export.batch == batch).scalar(as_tuple=True)
    )
    return f"{count}-{newest or 0}"


# The panels whose jobs can make a finished export out of date: those that change the labels of record (a label fit)
# or what the files read (MTurk confirming or rejecting work: the votes that count, the workers' figures). The Exports
# tab's rows reload when one of them ends, and the tab follows those another page started (review/_exports.html).
STALES_ON = {"labels", "assignments"}


def jobs_seen(batch: Batch) -> str:
    """The batch's newest jobs that can put its exports out of date (``STALES_ON``), as a mark: the Exports tab sends
    the mark it shows with the batch's status poll and reloads its list, which then follows such a job, when one was
    started since it loaded (on the Results tab, on MTurk's review page, by another requester)."""
    return jobs.newest(batch.organization_id, batch.id, STALES_ON)


def size(export: Export) -> int | None:
    """The finished file's size in bytes."""
    path = file_path(export)
    return path.stat().st_size if path else None


def identical(batch: Batch, kind: str, decision: str | None = None) -> Export | None:
    """An export of the same kind and parameters that is still current: running, or done with its file and no
    page submitted since it started. Offered again instead of writing the same file twice."""
    wanted = params(KINDS[kind], batch, decision)
    last = (
        PageSubmission.select(PageSubmission.submitted_at)
        .join(Assignment)
        .where(in_batch(batch.id))
        .order_by(PageSubmission.submitted_at.desc())
        .first()
    )
    submitted = last.submitted_at if last else None
    for export in (
        Export.select()
        .where(Export.batch == batch, Export.kind == kind, Export.state.in_(("queued", "running", "done")))
        .order_by(Export.id.desc())
    ):
        if export.params != wanted:
            continue
        export = settle(export)  # its job gone, it is failed now: not offered, a new file is made
        if export.state == "failed":
            continue
        if export.state != "done" or (file_path(export) and (submitted is None or submitted < export.created_at)):
            return export
    return None


FORCED_PER_HOUR = 3  # exports of one kind of one batch that a requester may insist on writing again in an hour


class ExportRefused(RequesterError):
    """An export not started: the organization's storage is full, or the same file was written again too often."""


def _check_room(batch: Batch, kind: str) -> None:
    """Export files count in the organization's storage quota: refuse one that would not fit (judged by the size of
    the last file of the kind), so that re-exports cannot fill the disk."""
    last = (
        Export.select()
        .where(Export.batch == batch, Export.kind == kind, Export.state == "done")
        .order_by(Export.id.desc())
        .first()
    )
    try:
        quota.Room(batch.organization_id).check(max(size(last) or 0, 1) if last else 1)
    except quota.QuotaExceeded as error:
        raise ExportRefused(str(error)) from None


def start(batch: Batch, kind: str, decision: str | None = None, forced: bool = False) -> Export:
    """Record an export and queue the job that writes it; ExportRefused when the storage quota is full, or when
    ``forced`` (an identical file exists) and the kind was written FORCED_PER_HOUR times in the last hour."""
    _check_room(batch, kind)
    if forced:
        since = utcnow() - dt.timedelta(hours=1)
        recent = Export.select().where(Export.batch == batch, Export.kind == kind, Export.created_at >= since).count()
        if recent >= FORCED_PER_HOUR:
            raise ExportRefused(
                f"This export was written {recent} times in the last hour and nothing changed since: download the "
                "latest file, or write it again in an hour."
            )
    export = Export.create(
        organization=batch.organization_id, batch=batch, kind=kind, params=params(KINDS[kind], batch, decision)
    )
    try:
        job = jobs.enqueue(
            jobs.RUN_EXPORT,
            export.id,
            organization_id=batch.organization_id,
            scope=f"exports:{batch.id}",
            title=f"{KINDS[kind].title} of {batch.name}",
        )
    except Exception:  # the queue full, or Redis unreachable: no row waiting for a job that was never queued
        export.delete_instance()
        raise
    export.job_id = job.id
    export.save(only=[Export.job_id])
    return export


def run(export_id: int, progress: ReportProgress | None = None) -> dict:
    """Write an export's file (the job's body); returns the job's result."""
    export = Export.get_or_none(Export.id == export_id)
    if export is None:
        return {"error": "The export was deleted before it ran."}
    report = progress or (lambda fraction, message="": None)
    # Pages stored without their tallies (a bulk load) are in the file (the records kinds read every page) but not yet
    # in the votes the out-of-date mark compares: derive them first, as a label fit does, and record the votes the
    # file is written from, not those of when it was asked. Otherwise the periodic job deriving them later would mark
    # a file that holds them out of date, and a labels file would leave their votes out.
    refresh(in_batch(export.batch_id))
    export.params = {**export.params, **_inputs(KINDS[export.kind], export.batch)}
    Export.update(state="running", params=export.params).where(Export.id == export.id).execute()
    relative = f"{export.organization_id}/{export.id}-{export.kind}.{KINDS[export.kind].extension}"
    target = export_root() / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        kind = KINDS[export.kind]
        with partial.open("wb") if kind.binary else partial.open("w", newline="", encoding="utf-8") as out:
            rows = kind.write(export.batch, out, export.params, report)
        partial.replace(target)
    # The labels it was asked for are gone (the user can fix that), or the batch holds text the kind cannot carry.
    except (of_record.RecordError, imagenet_ab.Unwritable) as error:
        partial.unlink(missing_ok=True)
        Export.update(state="failed", error=str(error), finished_at=utcnow()).where(Export.id == export.id).execute()
        return {"error": str(error)}
    except Exception as error:
        partial.unlink(missing_ok=True)
        Export.update(state="failed", error=f"{type(error).__name__}: {error}"[:1000], finished_at=utcnow()).where(
            Export.id == export.id
        ).execute()
        raise
    finished = (
        Export.update(state="done", path=relative, rows=rows, finished_at=utcnow())
        .where(Export.id == export.id)
        .execute()
    )
    if not finished:  # deleted while it was written (settled failed as its worker seemed gone): no file without a row
        target.unlink(missing_ok=True)
        return {"error": "The export was deleted while it was written."}
    return {"summary": f"{formatting.counted(rows, 'row')} written.", "rows": rows}
