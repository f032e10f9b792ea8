"""The export writers, one per kind: ``(batch, out, params, report) -> rows written``.

Every writer streams: rows are read in bounded slices and written as they
come, so memory stays flat however large the batch.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator
from operator import itemgetter
from typing import IO

from ...models import Assignment, Batch, Candidate, Image, ImageClass, ImageRecord, PageSubmission
from .. import spreadsheet
from ..annotation import record
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


def _utf8_writer(out: IO[str]) -> Callable[[bytes], object]:
    """How to write UTF-8 bytes to ``out``: into a UTF-8 text file's byte buffer (the text layer flushed first, so
    nothing is overtaken), else decoded. Decoding a slice's megabytes for the text layer to encode them again took
    a tenth of a seed export's CPU."""
    buffer, encoding = getattr(out, "buffer", None), getattr(out, "encoding", None)
    if buffer is None or encoding is None or codecs.lookup(encoding).name != "utf-8":
        return lambda data: out.write(data.decode())
    out.flush()
    return buffer.write


def write_seed_jsonl(batch: Batch, out: IO[str], params: dict, report: ReportProgress) -> int:
    total, written = _record_count(batch), 0
    write = _utf8_writer(out)
    for records, lines in seed_format.seed_lines(batch):  # a slice at a time: one write, not two a record
        write(lines)
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


# A page's records share its first columns: they are made into CSV once per page, the rest once per record.
PAGE_COLUMNS = RECORD_COLUMNS[: RECORD_COLUMNS.index("gridIndex")]
# The record fields the CSV reads (hoveredRecord only as its count, which has a column of its own).
CSV_FIELDS = tuple(field for field in record.FIELDS if field.key != "hoveredRecord")


class _Lines(list):
    """A csv writer's file that keeps each row's line (the writer writes a row in one call)."""

    write = list.append


def _csv_prefix(cells: tuple) -> str:
    """Cells as the start of a CSV line: what the writer makes of them, with a comma instead of the line's end (a
    cell's quoting depends on that cell alone, so the line is the same as if written whole)."""
    line = _Lines()
    spreadsheet.Writer(line).writerow(cells)
    return line[0].removesuffix("\r\n") + ","


def _page_cells(page: seed_format.Page) -> tuple:
    """A page's cells, PAGE_COLUMNS in order: the seed record's context."""
    return (
        page.batch_id,
        page.hit_key,
        page.assignment_hit_id or page.hit_mturk_id,
        page.assignment_id,
        page.mturk_assignment_id,
        page.worker_id,
        page.source,
        page.version,
        page.pageno,
        page.started_at,
        page.ended_at,
        int(page.none_confirmed),
    )


def _own_cells(part: seed_format.Slice, role: _Roles) -> Iterator[tuple]:
    """Each record's cells from gridIndex on, made straight from the slice's raw rows: as the seed record's fields
    summarised (clickPoints and mousePoints counted, imagePosition's x and y), without making the record."""
    names = part.names
    page_at, grid_at, key_at, status_at, replaces_at = (names.index(name) for name in seed_format.OWN_COLUMNS[:5])
    column = {name: names.index(name) for name in names}
    selected, clicks = (record.BY_KEY[key].reader(names) for key in ("selected", "selectedRecord"))
    count_at, hovered_at, estimate_at = column["selected_count"], column["hovered_count"], column["estimate_time"]
    boxes = itemgetter(column["width"], column["height"], column["original_width"], column["original_height"])
    x_at, y_at = column["position_x"], column["position_y"]
    classes = {page.id: page.class_key for page in part.pages}
    for row in part.rows:
        page_id, grid, key = row[page_at], row[grid_at], row[key_at]
        class_key = classes[page_id]
        x, y = row[x_at], row[y_at]
        if x is None or y is None:  # imagePosition is null unless both are known
            x = y = None
        yield (
            grid,
            class_key,
            key,
            role(class_key, key),
            row[status_at],
            row[replaces_at],
            int(selected(row)),
            row[count_at],
            len(clicks(row)),
            row[hovered_at],
            row[estimate_at],
            part.moves[page_id].get(grid, 0),
            *boxes(row),
            x,
            y,
        )


def write_records_csv(batch: Batch, out: IO[str], params: dict, report: ReportProgress) -> int:
    writer = spreadsheet.Writer(out)
    writer.writerow(RECORD_COLUMNS)
    role = _Roles(batch)
    lines = _Lines()
    own_writer = spreadsheet.Writer(lines)
    total, written = _record_count(batch), 0
    for part in seed_format.slices(batch, CSV_FIELDS, count_moves=True):  # mousePoints counts them
        prefixes = {page.id: _csv_prefix(_page_cells(page)) for page in part.pages}
        page_at = part.names.index("page_id")
        lines.clear()
        own_writer.writerows(_own_cells(part, role))
        out.write("".join([prefixes[row[page_at]] + line for row, line in zip(part.rows, lines)]))
        written += len(part.rows)
        report(written / max(total, 1), f"{written:,} of {total:,} records")
    report(1.0, f"{written:,} records")
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
    "assignments_waiting",
    "assignments_rejected",
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
    workers = quality.batch_workers_query(batch.id)
    total = workers.count()
    estimates = fits.worker_estimates(fits.latest(batch))
    n = 0
    for number in range(1, total // WORKERS_PER_QUERY + 2):
        # A file's medians are exact: an export reads every page of the batch anyway.
        rows = quality.worker_rows(workers.paginate(number, WORKERS_PER_QUERY), [batch.id], scope, exact_speed=True)
        for w in rows:
            f = w.figures
            e = estimates.get(w.worker_id)
            writer.writerow(
                (
                    w.worker_id,
                    w.assignments,
                    w.done,
                    w.waiting,
                    w.rejected,
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
