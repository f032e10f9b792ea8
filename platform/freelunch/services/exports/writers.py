"""The export writers, one per kind: ``(batch, out, params, report) -> rows written``.

Every writer streams: rows are read in bounded slices and written as they
come, so memory stays flat however large the batch.
"""

from __future__ import annotations

from operator import itemgetter
from typing import IO

from ...models import Assignment, Batch, Candidate, Image, ImageClass, ImageRecord, PageSubmission
from .. import spreadsheet
from ..jobs import ReportProgress
from ..review import counted, fits, of_record, quality, tallies
from . import seed as seed_format

REPORT_EVERY = 2000  # rows between progress reports
WORKERS_PER_QUERY = 200


def _record_count(batch: Batch) -> int:
    return (
        ImageRecord.select()
        .join(PageSubmission)
        .join(Assignment)
        .where(tallies.in_batch(batch.id), counted.COUNTS)
        .count()
    )


def _counting(rows, total: int, report: ReportProgress, message: str):
    """Pass rows through, reporting the share done every REPORT_EVERY rows."""
    n = 0
    for n, row in enumerate(rows, 1):
        if n % REPORT_EVERY == 0:
            report(n / max(total, 1), f"{n:,} of {total:,} {message}")
        yield row
    report(1.0, f"{n:,} {message}")


def _counting_slices(slices, total: int, report: ReportProgress, message: str):
    """Pass slices (lists of rows) through, reporting the share done every REPORT_EVERY rows or so."""
    n = reported = 0
    for rows in slices:
        yield rows
        n += len(rows)
        if n - reported >= REPORT_EVERY:
            reported = n
            report(n / max(total, 1), f"{n:,} of {total:,} {message}")
    report(1.0, f"{n:,} {message}")


def write_seed_jsonl(batch: Batch, out: IO[str], params: dict, report: ReportProgress) -> int:
    total, written = _record_count(batch), 0
    for records, lines in seed_format.seed_lines(batch):  # a slice at a time: one write, not two a record
        out.write(lines.decode())
        written += records
        report(written / max(total, 1), f"{written:,} of {total:,} records")
    report(1.0, f"{written:,} records")
    return written


RECORD_COLUMNS = (
    "batchId",
    "hitId",
    "mturkHitId",
    "assignmentId",
    "mturkAssignmentId",
    "worker_id",
    "source",
    "version",
    "pageno",
    "pageStartedAt",
    "pageEndedAt",
    "pageNoneConfirmed",
    "gridIndex",
    "classKey",
    "imageID",
    "role",
    "loadStatus",
    "replacesImageID",
    "selected",
    "selectedCount",
    "clickPoints",
    "hoveredCount",
    "estimateTime",
    "mousePoints",
    "imageWidth",
    "imageHeight",
    "originalImageWidth",
    "originalImageHeight",
    "imageX",
    "imageY",
)


class _Roles:
    """The control role of (class key, image key) in the batch's dataset, read once per class."""

    def __init__(self, batch: Batch):
        self.dataset_id = batch.dataset_id
        self.by_class: dict[str, dict[str, str]] = {}

    def __call__(self, class_key: str, image_key: str) -> str:
        if class_key not in self.by_class:
            controls = (
                Candidate.select(Image.key, Candidate.role)
                .join(Image)
                .switch(Candidate)
                .join(ImageClass)
                .where(
                    ImageClass.dataset == self.dataset_id, ImageClass.key == class_key, Candidate.role != "candidate"
                )
            )
            self.by_class[class_key] = dict(controls.tuples())
        return self.by_class[class_key].get(image_key, "candidate")


# Columns that are not a seed-record field of the same name, and how they are read (by name) from the record.
SUMMARISED = {
    "selected": lambda r: int(r["selected"]),
    "pageNoneConfirmed": lambda r: int(r["pageNoneConfirmed"]),
    "clickPoints": lambda r: len(r["selectedRecord"]),
    "mousePoints": lambda r: len(r["mouseTracking"]),
    "imageX": lambda r: (r["imagePosition"] or {}).get("x"),
    "imageY": lambda r: (r["imagePosition"] or {}).get("y"),
}
# A page's records share its first columns: they are made into CSV once per page, the rest once per record.
PAGE_CELLS = itemgetter(*RECORD_COLUMNS[: RECORD_COLUMNS.index("gridIndex")])
OWN_CELLS = itemgetter(*RECORD_COLUMNS[RECORD_COLUMNS.index("gridIndex") :])  # of a record with SUMMARISED set


class _Lines(list):
    """A csv writer's file that keeps each row's line (the writer writes a row in one call)."""

    write = list.append


def _csv_prefix(cells: tuple) -> str:
    """Cells as the start of a CSV line: what the writer makes of them, with a comma instead of the line's end (a
    cell's quoting depends on that cell alone, so the line is the same as if written whole)."""
    line = _Lines()
    spreadsheet.Writer(line).writerow(cells)
    return line[0].removesuffix("\r\n") + ","


def write_records_csv(batch: Batch, out: IO[str], params: dict, report: ReportProgress) -> int:
    writer = spreadsheet.Writer(out)
    writer.writerow(RECORD_COLUMNS)
    role = _Roles(batch)
    summarised = tuple(SUMMARISED.items())
    lines = _Lines()
    own_writer = spreadsheet.Writer(lines)
    written = 0
    slices = seed_format.seed_slices(batch, points=False)  # mousePoints counts them
    for records in _counting_slices(slices, _record_count(batch), report, "records"):
        prefixes, page, prefix = [], None, ""
        for r in records:
            r.update([(column, cell(r)) for column, cell in summarised])
            r["role"] = role(r["classKey"], r["imageID"])
            cells = PAGE_CELLS(r)
            if cells != page:
                page, prefix = cells, _csv_prefix(cells)
            prefixes.append(prefix)
        lines.clear()
        own_writer.writerows(map(OWN_CELLS, records))
        out.write("".join(map(str.__add__, prefixes, lines)))
        written += len(records)
    return written


LABEL_COLUMNS = (
    "class_key",
    "class_names",
    "image_id",
    "role",
    "annotations",
    "selected",
    "selection_frequency",
    "label",
    "decision",
    "p_yes",
    "labels_of_record",
)


def write_labels_csv(batch: Batch, out: IO[str], params: dict, report: ReportProgress) -> int:
    """The batch's labels of record (as ``params`` recorded them), each row naming them: one set of labels."""
    record = of_record.from_params(batch, params)
    decision = params.get("decision")  # the results page's filter: only these decisions
    if decision == "undecided":
        decision = "open"
    described = record.describe()
    writer = spreadsheet.Writer(out)
    writer.writerow(LABEL_COLUMNS)
    label = {"yes": 1, "no": 0, "open": ""}
    rows = (row for row in of_record.rows(batch, record) if decision is None or row.decision == decision)
    written = 0
    for row in _counting(rows, of_record.count(batch, record), report, "labels"):
        written += 1
        writer.writerow(
            (
                row.image_class.key,
                "; ".join(row.image_class.names),
                row.image.key,
                row.role,
                row.votes,
                row.selected,
                f"{row.frequency:.4f}",
                label[row.decision],
                row.decision,
                "" if row.p_yes is None else f"{row.p_yes:.6f}",
                described,
            )
        )
    return written


WORKER_COLUMNS = (
    "worker_id",
    "assignments",
    "assignments_done",
    "pages",
    "images",
    "selected",
    "positive_controls",
    "positive_correct",
    "negative_controls",
    "negative_correct",
    "control_accuracy",
    "median_seconds_per_image",
    "seconds_per_page",
    "chunks_reported",
    "chunks_received",
    *(f"estimate_time_{name.removeprefix('estimate_')}" for name, _, _ in tallies.ESTIMATE_BUCKETS),
    "sensitivity",
    "specificity",
    "model_votes",
    "model_control_votes",
    "flag",
)


def _rate(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def write_workers_csv(batch: Batch, out: IO[str], params: dict, report: ReportProgress) -> int:
    scope = tallies.in_batch(batch.id)
    writer = spreadsheet.Writer(out)
    writer.writerow(WORKER_COLUMNS)
    workers = quality.workers_query(scope)
    total = workers.count()
    estimates = fits.worker_estimates(batch)
    n = 0
    for number in range(1, total // WORKERS_PER_QUERY + 2):
        for w in quality.worker_rows(workers.paginate(number, WORKERS_PER_QUERY), scope, batch_id=batch.id):
            f = w.figures
            e = estimates.get(w.worker_id)
            writer.writerow(
                (
                    w.worker_id,
                    w.assignments,
                    w.done,
                    f.pages,
                    f.images,
                    f.selected,
                    f.positive.n,
                    f.positive.correct,
                    f.negative.n,
                    f.negative.correct,
                    _rate(f.controls.accuracy),
                    _rate(f.seconds_per_image, 3),
                    _rate(f.seconds_per_page, 3),
                    f.chunks_reported,
                    f.chunks_received,
                    *f.estimate_histogram,
                    *((_rate(e.sensitivity), _rate(e.specificity), e.votes, e.gold_votes, e.flag) if e else ("",) * 5),
                )
            )
            n += 1
        report(n / max(total, 1), f"{n:,} of {total:,} workers")
    return n
