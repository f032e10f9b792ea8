"""A worker's way through a HIT: opening or resuming an assignment, showing a page, storing a submitted page.

The rules of record-format.md live here, not in the routes: preview records
nothing, one HIT per worker when the batch asks for it, the interface version
limited to the batch's versions, resume at the first unsubmitted page, and a
submitted page stored once, in one transaction, however often it is posted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app
from peewee import JOIN, IntegrityError, fn
from redis.exceptions import RedisError

from ...db import database, is_sqlite, write_transaction
from ...models import (
    VERSIONS,
    Assignment,
    Batch,
    Candidate,
    Hit,
    HitPage,
    Image,
    ImageClass,
    ImageRecord,
    LabLink,
    MTurkHit,
    PageSubmission,
    Vote,
    utcnow,
)
from ..accounts import identity
from ..ingest import budget, closing
from ..ingest.validate import MAX_TAB
from ..mturk.gateway import local_stand_in_origin
from ..review import tallies
from ..review.fits import rounds_of
from . import image_refs, places, record
from .record import bounded_list, number

PREVIEW_ASSIGNMENT = "ASSIGNMENT_ID_NOT_AVAILABLE"
# The completion form posts to turkSubmitTo: only MTurk's own hosts, or a crafted
# link could send a worker's completed assignment to somebody else's server.
TURK_SUBMIT_HOSTS = ("https://www.mturk.com", "https://workersandbox.mturk.com")
# MTurk's ids are upper-case letters and digits; anything else in these parameters is not from MTurk
# (and would reach our CSVs and pages).
MTURK_ID = re.compile(r"[A-Z0-9]{1,64}")
FULL_MESSAGE = "This HIT has all the workers it needs. Please return it and pick another one."
ALREADY_DONE_MESSAGE = (
    "You have already done these pages in another copy of this HIT (it is offered more than once). "
    "Please return this copy."
)
ONE_HIT_MESSAGE = "You have already completed one of our HITs. We do not accept more than 1 HIT per worker."
ANOTHER_BROWSER_MESSAGE = (
    "This HIT is already in progress in another browser. Please go on with it there, "
    "or open it from the MTurk assignment you accepted."
)
RETURNED_MESSAGE = (
    "You started this HIT under another MTurk assignment, which you returned. "
    "Please return this one too: a HIT cannot be done twice."
)
FOREIGN_ASSIGNMENT_MESSAGE = "This link's assignmentId belongs to another HIT. Open the HIT from MTurk again."
ON_MTURK_MESSAGE = "This HIT is on Amazon Mechanical Turk: please accept it there and work on it from MTurk's page."
EARLIER_ROUND_MESSAGE = (
    "You have already answered about some of these images in an earlier round of this task. "
    "Please return this HIT: we need a fresh pair of eyes on them."
)


class AnnotationError(Exception):
    """A link or submission we refuse; ``status`` is the HTTP code, the message is shown to the worker."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class DeviceUnchecked(Exception):
    """A link would open a new assignment before the browser said it has a mouse or trackpad (``pointer=fine``).

    The page that asks it (templates/annotate/device_check.html) opens nothing: a phone holds no place.
    """


@dataclass
class Opening:
    """What a worker's link leads to: an assignment to work on, or a preview of a HIT."""

    hit: Hit
    assignment: Assignment | None = None


# --- opening a HIT ------------------------------------------------------------


def _hit_from_params(params) -> Hit:
    key = (params.get("imageNetHitId") or "").strip()
    mturk_hit_id = (params.get("hitId") or "").strip()
    hit = None
    if key:
        hit = Hit.get_or_none(Hit.key == key)
    elif mturk_hit_id:
        hit = Hit.get_or_none(Hit.mturk_hit_id == mturk_hit_id)
    dataset_name = (params.get("hitDatasetName") or "").strip()
    if hit is None or (dataset_name and dataset_name != str(hit.batch_id)):
        raise AnnotationError(404, "This link does not lead to a HIT we know. Please return the HIT.")
    return hit


def _version(batch: Batch, hit: Hit, params) -> str:
    """The link's version if the batch allows it; without one, the batch's versions in turn."""
    asked = (params.get("version") or params.get("VERSION") or "").strip().upper()
    allowed = [v for v in batch.versions if v in VERSIONS] or [VERSIONS[0]]
    if asked:
        if asked not in allowed:
            raise AnnotationError(
                400, f"This link asks for the interface version {asked}, which this task does not use."
            )
        return asked
    return allowed[hit.assignments.count() % len(allowed)]


def turk_submit_hosts() -> tuple[str, ...]:
    """MTurk's hosts and, outside production, the local MTurk stand-in (docs/local-mturk.md)."""
    local = local_stand_in_origin()
    return (*TURK_SUBMIT_HOSTS, local) if local else TURK_SUBMIT_HOSTS


def _turk_submit_to(params) -> str | None:
    value = (params.get("turkSubmitTo") or "").strip().rstrip("/")
    if not value:
        return None
    parts = urlsplit(value)
    if f"{parts.scheme}://{parts.netloc}" not in turk_submit_hosts() or parts.path:
        raise AnnotationError(
            400, "This link does not send the work back to Amazon Mechanical Turk: open the HIT from MTurk again."
        )
    return value


def _check_one_hit_per_worker(batch: Batch, hit: Hit, worker_id: str) -> None:
    """The seed's rule: a worker who has finished a HIT of the batch may not work on another one."""
    if not batch.one_hit_per_worker:
        return
    finished_elsewhere = (
        Assignment.select()
        .join(Hit)
        .where(Hit.batch == batch, Assignment.worker_id == worker_id, Assignment.hit != hit, Assignment.done == True)  # noqa: E712 (peewee builds SQL from ==)
        .exists()
    )
    if finished_elsewhere:
        raise AnnotationError(403, ONE_HIT_MESSAGE)


def _voted_before(batch: Batch, worker_id: str) -> set[tuple[int, int]]:
    """(class, image) pairs the worker voted on in the rounds before this batch (none for a first round).

    Controls are left out: every page of every round shows them, as ImageNetV2 did within a batch.
    """
    earlier = rounds_of(batch)[:-1]
    if not earlier:
        return set()
    scope = (Assignment.hit.in_(Hit.select(Hit.id).where(Hit.batch.in_(earlier))), Assignment.worker_id == worker_id)
    candidate = (
        (Candidate.image_class == Vote.image_class) & (Candidate.image == Vote.image) & (Candidate.role == "candidate")
    )
    return set(
        Vote.select(Vote.image_class, Vote.image)
        .join(Assignment, on=(Vote.assignment == Assignment.id))
        .switch(Vote)
        .join(Candidate, on=candidate)
        .where(*scope)
        .tuples()
    )


def _shows_again(hit: Hit, seen: set[tuple[int, int]]) -> bool:
    """Whether the HIT shows the worker an image they voted on for its class in an earlier round."""
    if not seen:
        return False
    return any((page.image_class_id, image) in seen for page in hit.pages for image in page.image_ids)


def _check_earlier_rounds(batch: Batch, hit: Hit, worker_id: str) -> None:
    """Rounds ask fresh workers: nobody votes twice on one image (services/review/round_plan.py)."""
    if (
        batch.follows_id is None
        or Assignment.select().where(Assignment.hit == hit, Assignment.worker_id == worker_id).exists()
    ):
        return
    if _shows_again(hit, _voted_before(batch, worker_id)):
        raise AnnotationError(403, EARLIER_ROUND_MESSAGE)


def _may_continue(existing: Assignment, mturk_assignment: str | None, cookies) -> None:
    """Only the browser that started an assignment, or its own MTurk AssignmentId, goes on with it.

    WorkerIds are no secret (requesters and forums see them): a link with someone's workerId and
    another AssignmentId must neither continue their HIT nor rewrite the AssignmentId their Submit posts.
    """
    if mturk_assignment is not None and mturk_assignment == existing.mturk_assignment_id:
        return
    if not identity.holds_browser_key(cookies or {}, existing.id):
        raise AnnotationError(409, ANOTHER_BROWSER_MESSAGE)
    if mturk_assignment is not None and existing.source == "mturk" and not existing.done:
        raise AnnotationError(409, RETURNED_MESSAGE)


def _left_empty(existing: Assignment, mturk_assignment: str | None, batch: Batch) -> bool:
    """Whether an MTurk assignment arriving under another AssignmentId may replace ``existing``: MTurk's,
    unfinished, without a submitted page, and idle long enough to have lost its place.

    Then nobody's work is lost, and a link opened with someone's WorkerId ahead of them (or a HIT they
    returned and accepted again) does not keep them out of the HIT. An active one is never replaced.
    """
    return (
        mturk_assignment is not None
        and existing.source == "mturk"
        and mturk_assignment != existing.mturk_assignment_id
        and not existing.done
        and not PageSubmission.select().where(PageSubmission.assignment == existing).exists()
        and not places.holds_place(existing, batch)
    )


def _check_mturk_assignment(hit: Hit, mturk_assignment: str | None) -> None:
    """An MTurk AssignmentId belongs to one MTurk HIT, so to one of our HITs: elsewhere it was made up."""
    if mturk_assignment is not None and (
        Assignment.select()
        .where(Assignment.mturk_assignment_id == mturk_assignment, Assignment.hit != hit, Assignment.source == "mturk")
        .exists()
    ):
        raise AnnotationError(409, FOREIGN_ASSIGNMENT_MESSAGE)


def _get_or_create(hit: Hit, worker_id: str, fields: dict, params, cookies=None) -> Assignment:
    """The worker's assignment on the HIT, or a new one if the HIT has a free place in its pool (else 409).

    Places are counted by services/annotation/places.py: made-up worker ids cannot take more places than
    the HIT asks for, an idle assignment frees its place, and its worker may go on only while the HIT is
    not full without them.
    """
    batch = hit.batch
    source, mturk_id = fields["source"], fields.get("mturk_assignment_id")
    existing = Assignment.get_or_none(Assignment.hit == hit, Assignment.worker_id == worker_id)
    replaced = existing if existing is not None and _left_empty(existing, mturk_id, batch) else None
    if replaced is not None:
        existing = None
    if existing is not None:
        _may_continue(existing, mturk_id, cookies)
        if (
            not existing.done
            and not places.holds_place(existing, batch)
            and places.full(hit, batch, existing.source, besides=existing, mturk_id=existing.mturk_assignment_id)
        ):
            raise AnnotationError(409, FULL_MESSAGE)
        return existing
    if source == "mturk":
        _check_mturk_assignment(hit, mturk_id)
    if params.get("pointer") != "fine":
        raise DeviceUnchecked()
    try:
        with write_transaction():
            if not is_sqlite():  # one opening at a time per HIT; SQLite's write lock already serialises
                Hit.select(Hit.id).where(Hit.id == hit.id).for_update().get()
            if replaced is not None:  # (its pointer batches go with it: no page of it was ever stored)
                Assignment.delete().where(Assignment.id == replaced.id, Assignment.done == False).execute()  # noqa: E712
            if places.full(hit, batch, source, mturk_id=mturk_id if source == "mturk" else None):
                raise AnnotationError(409, FULL_MESSAGE)
            return Assignment.create(organization=hit.organization_id, hit=hit, worker_id=worker_id, **fields)
    except IntegrityError:  # the same worker opened the link twice at once
        return Assignment.get(Assignment.hit == hit, Assignment.worker_id == worker_id)


def _on_mturk(hit: Hit) -> bool:
    """Whether the HIT was published through MTurk's API. Then MTurk is the truth about who worked on it
    (services/review/counted.py), so a survey or plain link, whose workerId anyone can make up and whose
    votes would count at once, opens nothing: the HIT key is in every MTurk preview's URL. Lab links
    (a token the requester handed out) still do."""
    return MTurkHit.select().where(MTurkHit.hit == hit, MTurkHit.state != "intended").exists()


def _mturk_param(params, name: str) -> str | None:
    value = (params.get(name) or "").strip()
    if value and not MTURK_ID.fullmatch(value):
        raise AnnotationError(400, f"This link's {name} is not one MTurk gives. Open the HIT from MTurk again.")
    return value or None


def open_link(params, cookies=None) -> Opening:
    """Resolve a worker link's query parameters (MTurk, the seed's survey link, or a lab link).

    ``cookies``: the request's, where the browser that started an assignment keeps its key.
    """
    if params.get("lab"):
        return Opening(*_open_lab(params))
    hit = _hit_from_params(params)
    batch = hit.batch
    if params.get("assignmentId") == PREVIEW_ASSIGNMENT:
        return Opening(hit)  # MTurk preview: show the task, record nothing
    raw_worker = (params.get("workerId") or "").strip()
    if not raw_worker or len(raw_worker) > 128 or not raw_worker.isprintable():
        raise AnnotationError(400, "This link has no worker id. Open the HIT from the page that gave you the link.")
    turk_submit_to = _turk_submit_to(params)
    mturk_assignment, mturk_hit = _mturk_param(params, "assignmentId"), _mturk_param(params, "hitId")
    source = "mturk" if turk_submit_to else ("survey" if params.get("hitDatasetName") else "lab")
    if source == "mturk":  # (stored only as a keyed hash, but an MTurk link's ids are MTurk's)
        _mturk_param(params, "workerId")
    elif _on_mturk(hit):
        raise AnnotationError(403, ON_MTURK_MESSAGE)
    worker_id = identity.anonymous_worker_id(hit.organization_id, raw_worker)
    _check_one_hit_per_worker(batch, hit, worker_id)
    _check_earlier_rounds(batch, hit, worker_id)
    assignment = _get_or_create(
        hit,
        worker_id,
        dict(
            source=source,
            version=_version(batch, hit, params),
            mturk_assignment_id=mturk_assignment,
            mturk_hit_id=mturk_hit,
            turk_submit_to=turk_submit_to,
        ),
        params,
        cookies,
    )
    if (
        turk_submit_to
        and assignment.done
        and mturk_hit
        and assignment.mturk_hit_id
        and mturk_hit != assignment.mturk_hit_id
    ):
        # A HIT of more than 9 assignments is published as several MTurk HITs of the same pages
        # (services/mturk/cost.py).
        raise AnnotationError(409, ALREADY_DONE_MESSAGE)
    return Opening(hit, assignment)


def lab_link_or_error(token: str) -> LabLink:
    link = LabLink.get_or_none(LabLink.token == token)
    if link is None or link.revoked_at is not None:
        raise AnnotationError(404, "This link is not valid any more. Ask the person who sent it for a new one.")
    return link


def _open_lab(params) -> tuple[Hit, Assignment]:
    """A lab annotator: their unfinished HIT of the batch; after a finished one, that one's completion view
    (reopening the link must not start a HIT unasked) unless ``another`` asks for the next free HIT."""
    link = lab_link_or_error(params["lab"])
    raw_worker = (params.get("workerId") or "").strip()
    if not raw_worker or len(raw_worker) > 128:
        raise AnnotationError(400, "Please enter your name or id.")
    batch = link.batch
    worker_id = identity.anonymous_worker_id(batch.organization_id, raw_worker)
    mine = (
        Assignment.select()
        .join(Hit)
        .where(Hit.batch == batch, Assignment.worker_id == worker_id)
        .order_by(Assignment.id)
    )
    unfinished = next((a for a in mine if not a.done), None)
    if unfinished is not None:
        return unfinished.hit, unfinished
    finished = mine.order_by(Assignment.id.desc()).first()
    if finished is not None and (batch.one_hit_per_worker or not params.get("another")):
        return finished.hit, finished  # the completion view again, with the same code
    done_before = Assignment.select(Assignment.hit).where(Assignment.worker_id == worker_id)
    seen = _voted_before(batch, worker_id) if batch.follows_id else set()
    hit = next((h for h in places.with_a_free_lab_place(batch, done_before) if not _shows_again(h, seen)), None)
    if hit is None:
        raise AnnotationError(404, "Every HIT of this task has all the annotators it needs. Thank you!")
    assignment = _get_or_create(
        hit,
        worker_id,
        dict(source="lab", lab_link=link, lab_name=raw_worker, version=_version(batch, hit, params)),
        params,
    )
    return hit, assignment


def token_for(assignment: Assignment, hit: Hit) -> str:
    """The assignment's token: good for the HIT's pages, for as long as the batch gives a worker, with the
    pointer data a page and the HIT may store (services/ingest/budget.py)."""
    images = [len(ids) for (ids,) in HitPage.select(HitPage.image_ids).where(HitPage.hit == hit.id).tuples()]
    widest, pages = max(images, default=0), len(images)
    return identity.assignment_token(
        assignment.id,
        pages,
        places.assignment_seconds(hit.batch),
        hit_id=hit.id,
        page_bytes=budget.page_bytes(widest),
        hit_bytes=budget.hit_bytes(widest, pages, hit.batch.assignments_per_hit),
    )


def assignment_from_token(token: str | None) -> Assignment:
    claims = identity.token_claims(token)
    if claims is not None and identity.assignment_from_token(token) is None:
        raise AnnotationError(
            403,
            "This page was open longer than the HIT allows. "
            "Please open the HIT again from the page that gave you the link.",
        )
    assignment = Assignment.get_or_none(Assignment.id == claims.assignment_id) if claims else None
    if assignment is None:
        raise AnnotationError(
            403,
            "This link is not valid: it was changed or belongs to another site. "
            "Please open the HIT again from the page that gave you the link.",
        )
    return assignment


# --- pages ------------------------------------------------------------------


@dataclass
class HitPages:
    """Where an assignment stands: the HIT's pages, which are submitted, and the next one to do."""

    pages: list[HitPage]  # in page order, with their classes
    submitted: set[int]

    @property
    def current(self) -> HitPage | None:
        return next((p for p in self.pages if p.pageno not in self.submitted), None)


def hit_pages(hit_id: int, assignment_id: int | None = None) -> HitPages:
    """The pages of a HIT with, for an assignment, which are submitted: one query, so one consistent view."""
    submission = fn.COALESCE(PageSubmission.id, 0).alias("submission_id")  # an expression: lands on the HitPage
    rows = (
        HitPage.select(HitPage, ImageClass, submission)
        .join(ImageClass)
        .switch(HitPage)
        .join(
            PageSubmission,
            JOIN.LEFT_OUTER,
            on=(PageSubmission.assignment == assignment_id) & (PageSubmission.pageno == HitPage.pageno),
        )
        .where(HitPage.hit == hit_id)
        .order_by(HitPage.pageno)
    )
    pages = list(rows)
    return HitPages(pages, {p.pageno for p in pages if p.submission_id})


def opened_by_token(token: str | None) -> tuple[Assignment, HitPages]:
    """A page view's assignment and its HIT's pages in one query: the hot path of every page a worker opens."""
    assignment_id = identity.assignment_from_token(token)
    submission = fn.COALESCE(PageSubmission.id, 0).alias("submission_id")
    rows = (
        []
        if assignment_id is None
        else list(
            HitPage.select(HitPage, ImageClass, Assignment, submission)
            .join(ImageClass)
            .switch(HitPage)
            .join(Assignment, on=(Assignment.hit == HitPage.hit))
            .switch(HitPage)
            .join(
                PageSubmission,
                JOIN.LEFT_OUTER,
                on=(PageSubmission.assignment == Assignment.id) & (PageSubmission.pageno == HitPage.pageno),
            )
            .where(Assignment.id == assignment_id)
            .order_by(HitPage.pageno)
        )
    )
    if not rows:
        assignment_from_token(token)  # a bad token is refused there, with its own message
        raise AnnotationError(404, "This HIT has no pages. Please return the HIT.")
    return rows[0].assignment, HitPages(rows, {p.pageno for p in rows if p.submission_id})


def current_pageno(assignment: Assignment) -> int | None:
    """The first page not yet submitted, or None when all are."""
    current = hit_pages(assignment.hit_id, assignment.id).current
    return current.pageno if current else None


@dataclass
class PageView:
    hit_page: HitPage
    pageno: int
    pages: int
    images: list  # grid order; named tuples with Image's id, key, url, storage_path
    spares: list


def page_view(hit_page: HitPage, pages: int) -> PageView:
    ids = list(hit_page.image_ids) + list(hit_page.spare_image_ids)
    # Named tuples (id, key, url, storage_path), not model instances: ~50 images on every page view.
    images = Image.select(Image.id, Image.key, Image.url, Image.storage_path).where(Image.id.in_(ids))
    by_id = {i.id: i for i in images.namedtuples()}
    return PageView(
        hit_page=hit_page,
        pageno=hit_page.pageno,
        pages=pages,
        images=[by_id[i] for i in hit_page.image_ids if i in by_id],
        spares=[by_id[i] for i in hit_page.spare_image_ids if i in by_id],
    )


def finish_if_done(assignment: Assignment) -> None:
    """Mark the assignment done, with its completion code, once every page is in."""
    if assignment.done or current_pageno(assignment) is not None:
        return
    assignment.done = True
    assignment.completed_at = utcnow()
    assignment.completion_code = identity.completion_code(assignment.hit.key, assignment.worker_id, assignment.id)
    assignment.save()


# --- storing a submitted page -----------------------------------------------


def _image_record(raw, page: PageView, shown_as: dict[str, int]) -> dict:
    """One image's record; its ``imageID`` is the ref the page showed (image_refs.py), stored as the image."""
    if not isinstance(raw, dict):
        raise AnnotationError(400, "The page summary has a bad image record.")
    index = number(raw.get("i"), "grid index", 0, len(page.images) - 1)
    shown = page.images[index]
    status = raw.get("loadStatus", "ok")
    ref = raw.get("imageID")
    image_id = shown_as.get(ref) if isinstance(ref, str) else None
    if status in ("ok", "dropped"):
        if image_id != shown.id:
            raise AnnotationError(400, f"The page summary names the wrong image at place {index}.")
        replaces = None
    elif status == "replacement":
        if image_id is None or image_id not in page.hit_page.spare_image_ids:
            raise AnnotationError(400, f"The page summary names an unknown replacement at place {index}.")
        replaces = shown.id
    else:
        raise AnnotationError(400, "The page summary has a bad loadStatus.")
    return dict(image=image_id, grid_index=index, load_status=status, replaces=replaces, **record.checked(raw))


def parse_summary(summary, page: PageView, page_scope: str) -> tuple[dict, list[dict]]:
    """Check a page summary against the page that was shown (its images named by their refs in ``page_scope``,
    image_refs.py); returns (page fields, image record rows)."""
    if not isinstance(summary, dict):
        raise AnnotationError(400, "The page summary is missing.")
    try:
        return _parsed(summary, page, page_scope)
    except record.BadValue as bad:
        raise AnnotationError(400, str(bad)) from None


def _parsed(summary: dict, page: PageView, page_scope: str) -> tuple[dict, list[dict]]:
    started = number(summary.get("startedAt"), "startedAt")
    ended = number(summary.get("endedAt"), "endedAt")
    if ended < started:
        raise AnnotationError(400, "The page summary ends before it starts.")
    chunks = number(summary.get("chunks", 0), "chunk count", 0, 10_000_000)
    tab = number(summary.get("tab", 0), "tab", 0, MAX_TAB)
    # The one place a page's refs become its images again: what is stored keeps the dataset's key.
    shown_as = {ref: i for i, ref in image_refs.refs(page_scope, [i.id for i in page.images + page.spares]).items()}
    rows = [_image_record(raw, page, shown_as) for raw in bounded_list(summary.get("images"), "image list")]
    if sorted(r["grid_index"] for r in rows) != list(range(len(page.images))):
        raise AnnotationError(400, "The page summary must have one record for every image on the page.")
    none_confirmed = summary.get("noneConfirmed", False)
    if not isinstance(none_confirmed, bool):
        raise AnnotationError(400, "noneConfirmed must be true or false.")
    none_confirmed = none_confirmed and not any(r["selected"] for r in rows)  # a selection overrides the answer
    return dict(
        started_at=started, ended_at=ended, tab=tab, chunks_reported=chunks, none_confirmed=none_confirmed
    ), rows


def submit_page(assignment: Assignment, pageno: int, summary) -> bool:
    """Store one submitted page and its image records once; True if stored now, False if it was already."""
    state = hit_pages(assignment.hit_id, assignment.id)
    if assignment.done or pageno in state.submitted:
        return False
    if state.current is None or pageno != state.current.pageno:
        raise AnnotationError(409, "This page is not the one to submit next. Please reload the page.")
    page = page_view(state.current, len(state.pages))
    fields, rows = parse_summary(summary, page, image_refs.scope(pageno, assignment_id=assignment.id))
    try:
        with database.atomic():
            submission = PageSubmission.create(assignment=assignment, hit_page=page.hit_page, pageno=pageno, **fields)
            ImageRecord.insert_many([dict(row, page=submission) for row in rows]).execute()
            tallies.derive([submission.id])  # the review read model, once, with the page
    except IntegrityError:  # a concurrent retry of the same Submit won the race
        return False
    try:
        closing.close(current_app.config, assignment.id, pageno)
    except RedisError:  # the page is stored; while Redis is down no pointer batch arrives to refuse anyway
        current_app.logger.warning("could not close the pointer stream of assignment %s page %s", assignment.id, pageno)
    finish_if_done(assignment)
    return True
