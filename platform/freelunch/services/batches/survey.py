"""The MTurk survey-link kit: run a batch from MTurk's web interface without the API.

As in the seed: the requester uploads a batch CSV (toolLink, version,
hitDatasetName, imageNetHitId) to a "Survey Link" project whose landing page
builds the link to /annotate; a worker finishes the HIT, gets a completion code
and pastes it into MTurk. ``check_results`` reads MTurk's results CSV back and
says, row by row, whether the code belongs to that worker's assignment, and
``decisions_csv`` returns the same CSV with Approve/Reject filled in, ready to
upload to MTurk.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from flask import current_app

from ...models import VERSIONS, Assignment, Batch, Hit
from .. import spreadsheet
from ..accounts import identity
from ..errors import RequesterError

KIT_COLUMNS = ("toolLink", "version", "hitDatasetName", "imageNetHitId")
CODE_COLUMNS = ("Answer.surveycode", "Answer.surveyCode", "Answer.survey_code")
STATUSES = {
    "match": "Code matches the worker's finished assignment",
    "wrong code": "The code is not the one this worker's assignment got",
    "unfinished": "The worker opened the task but did not finish it",
    "no annotation": "No assignment by this worker for this HIT",
    "unknown HIT": "This imageNetHitId is not a HIT of this batch",
    "no code": "The worker gave no code",
}
MAX_ROWS = 100_000


class ResultsError(RequesterError, ValueError):
    """The pasted results cannot be read; the message says what is missing."""


def batch_rows(batch: Batch) -> Iterator[dict]:
    """One row per HIT for MTurk's batch CSV; HITs take the batch's interface versions in turn."""
    versions = [v for v in batch.versions if v in VERSIONS] or [VERSIONS[0]]
    tool_link = f"{current_app.config['PUBLIC_URL']}/annotate"
    for n, hit in enumerate(Hit.select(Hit.key).where(Hit.batch == batch).order_by(Hit.id)):
        yield {
            "toolLink": tool_link,
            "version": versions[n % len(versions)],
            "hitDatasetName": str(batch.id),
            "imageNetHitId": hit.key,
        }


def batch_csv(batch: Batch) -> str:
    out = io.StringIO()
    writer = spreadsheet.DictWriter(out, KIT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(batch_rows(batch))
    return out.getvalue()


@dataclass
class Checked:
    line: int
    mturk_assignment_id: str
    hit_key: str
    code: str
    status: str
    assignment: Assignment | None = None

    @property
    def explanation(self) -> str:
        return STATUSES[self.status]


def _read(text: str) -> tuple[list[str], list[dict]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    header = list(reader.fieldnames or [])
    missing = [c for c in ("WorkerId", "Input.imageNetHitId") if c not in header]
    if not any(c in header for c in CODE_COLUMNS):
        missing.append("Answer.surveycode")
    if missing:
        raise ResultsError(
            "This is not MTurk's results CSV for a survey-link batch: it lacks the column(s) "
            f"{', '.join(missing)}. Download it from MTurk's Manage > Results page."
        )
    try:
        rows = []
        for row in reader:
            rows.append(row)
            if len(rows) > MAX_ROWS:
                raise ResultsError(f"More than {MAX_ROWS} rows; check the results in parts.")
    except csv.Error as error:
        raise ResultsError(f"The CSV cannot be read past line {reader.line_num}: {error}.") from error
    return header, rows


def _expected_code(assignment: Assignment, hit_key: str) -> str:
    return assignment.completion_code or identity.completion_code(hit_key, assignment.worker_id, assignment.id)


def check_results(batch: Batch, text: str) -> tuple[list[str], list[dict], list[Checked]]:
    """(header, rows, verdicts) for MTurk's results CSV; raw WorkerIds are hashed, never stored."""
    header, rows = _read(text)
    code_column = next(c for c in CODE_COLUMNS if c in header)
    hits = {h.key: h for h in Hit.select().where(Hit.batch == batch)}
    assignments = list(Assignment.select().join(Hit).where(Hit.batch == batch))
    by_mturk = {a.mturk_assignment_id: a for a in assignments if a.mturk_assignment_id}
    by_worker = {(a.hit_id, a.worker_id): a for a in assignments}
    verdicts = []
    for line, row in enumerate(rows, 2):
        hit_key = (row.get("Input.imageNetHitId") or "").strip()
        code = (row.get(code_column) or "").strip().upper()
        mturk_id = (row.get("AssignmentId") or "").strip()
        hit = hits.get(hit_key)
        assignment = None
        if hit is None:
            status = "unknown HIT"
        else:
            assignment = by_mturk.get(mturk_id) if mturk_id else None
            if assignment is None or assignment.hit_id != hit.id:
                worker = identity.anonymous_worker_id(batch.organization_id, row.get("WorkerId") or "")
                assignment = by_worker.get((hit.id, worker))
            if not code:
                status = "no code"
            elif assignment is None:
                status = "no annotation"
            elif not assignment.done:
                status = "unfinished"
            else:
                status = "match" if code == _expected_code(assignment, hit.key) else "wrong code"
        verdicts.append(Checked(line, mturk_id, hit_key, code, status, assignment))
    return header, rows, verdicts


def summary(verdicts: list[Checked]) -> Counter:
    return Counter(v.status for v in verdicts)


def decisions_csv(header: list[str], rows: list[dict], verdicts: list[Checked]) -> str:
    """The results CSV with MTurk's Approve ("x") and Reject (a reason) columns filled in."""
    columns = header + [c for c in ("Approve", "Reject") if c not in header]
    out = io.StringIO()
    writer = spreadsheet.DictWriter(out, columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row, verdict in zip(rows, verdicts):
        approve = verdict.status == "match"
        writer.writerow(
            {**row, "Approve": "x" if approve else "", "Reject": "" if approve else verdict.explanation + "."}
        )
    return out.getvalue()
