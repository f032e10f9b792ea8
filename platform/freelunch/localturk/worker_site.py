"""The workers' side of the local MTurk: list HITs, preview, accept, work, return, and ``/mturk/externalSubmit``.

A worker is whoever the ``localturk_worker`` cookie says (chosen on the page, or
generated). The HIT's ExternalURL is shown in an iframe with the query MTurk
adds: ``assignmentId=ASSIGNMENT_ID_NOT_AVAILABLE&hitId=...`` in preview, and
``assignmentId``, ``hitId``, ``turkSubmitTo`` (the host only, as MTurk sends it)
and ``workerId`` once accepted. There is no CSRF protection: the stand-in only
runs in development, on loopback, with made-up workers and no money.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from flask import Blueprint, abort, make_response, redirect, render_template, request, url_for

from . import qualifications
from .questions import answer_xml
from .requester import hit_status, hit_view
from .store import FREED, Assignment, Hit, new_id, new_worker_id
from .wire import store

COOKIE = "localturk_worker"
WORKER_ID = re.compile(r"^A[A-Z0-9]{1,63}$")
NOT_AVAILABLE = "ASSIGNMENT_ID_NOT_AVAILABLE"

bp = Blueprint("localturk_worker", __name__)


def current_worker() -> str | None:
    worker_id = request.cookies.get(COOKIE, "")
    return worker_id if WORKER_ID.match(worker_id) else None


def _with_worker(response, worker_id: str):
    response = make_response(response)
    response.set_cookie(COOKIE, worker_id, samesite="Lax", httponly=True)
    return response


def frame_url(hit: Hit, **query: str) -> str:
    separator = "&" if "?" in hit.external_url else "?"
    return f"{hit.external_url}{separator}{urlencode(query)}"


def turk_submit_to() -> str:
    """What MTurk sends as turkSubmitTo: scheme and host, no path (the page appends /mturk/externalSubmit)."""
    return request.host_url.rstrip("/")


def _hit_or_404(hit_id: str) -> Hit:
    hit = store().hits.get(hit_id)
    if hit is None or hit.disposed:
        abort(404, "There is no such HIT.")
    return hit


def _assignment_of_worker(assignment_id: str) -> Assignment:
    assignment = store().assignments.get(assignment_id)
    if assignment is None or assignment.status != "Accepted" or assignment.worker_id != current_worker():
        abort(404, "This assignment is not yours to work on (returned, abandoned, submitted, or another worker's).")
    return assignment


@bp.get("/worker/")
def index():
    """Assignable HITs (of one HIT type with ``?hitTypeId=``) and the worker's assignments at work."""
    hit_type_id = request.args.get("hitTypeId")
    worker_id = current_worker()
    with store().lock:
        store().catch_up()
        rows = []
        for hit in sorted(store().hits.values(), key=lambda h: h.seq):
            if hit_type_id not in (None, hit.type_id) or hit_status(store(), hit) != "Assignable":
                continue
            requirements = store().hit_types[hit.type_id].qualification_requirements
            if worker_id and qualifications.refused(store(), worker_id, requirements, "discover"):
                continue
            rows.append(hit_view(store(), hit))
        mine = [a for a in store().assignments.values() if a.status == "Accepted" and a.worker_id == worker_id]
    return render_template("localturk/index.html", hits=rows, mine=mine, worker_id=worker_id, hit_type_id=hit_type_id)


@bp.post("/worker/identity")
def identity():
    worker_id = request.form.get("worker_id", "").strip().upper() or new_worker_id()
    if not WORKER_ID.match(worker_id):
        return render_template(
            "localturk/message.html",
            title="Not a worker id",
            text="A worker id is an A followed by capital letters and digits, e.g. A1B2C3D4E5F6G7.",
        ), 400
    back = request.form.get("next", "")
    if not back.startswith("/") or back.startswith("//"):  # only back to a page of this site
        back = url_for(".index")
    return _with_worker(redirect(back), worker_id)


@bp.get("/worker/hits/<hit_id>")
def preview(hit_id: str):
    worker_id = current_worker()
    with store().lock:
        store().catch_up()
        hit = _hit_or_404(hit_id)
        requirements = store().hit_types[hit.type_id].qualification_requirements
        hidden = worker_id and qualifications.refused(store(), worker_id, requirements, "preview")
        refusal = worker_id and qualifications.refused(store(), worker_id, requirements, "accept")
        view = hit_view(store(), hit)
    src = None if hidden or not hit.external_url else frame_url(hit, assignmentId=NOT_AVAILABLE, hitId=hit.id)
    return render_template(
        "localturk/preview.html",
        hit=view,
        frame=src,
        frame_height=hit.frame_height,
        hidden=hidden,
        refusal=refusal,
        worker_id=worker_id,
    )


@bp.post("/worker/hits/<hit_id>/accept")
def accept(hit_id: str):
    """A new assignment for the worker, reusing the id of a returned or abandoned one first, as MTurk does."""
    worker_id = request.form.get("worker_id", "").strip().upper() or current_worker() or new_worker_id()
    if not WORKER_ID.match(worker_id):
        abort(400, "A worker id is an A followed by capital letters and digits.")
    with store().lock:
        store().catch_up()
        hit = _hit_or_404(hit_id)
        hit_type = store().hit_types[hit.type_id]
        refusal = qualifications.refused(store(), worker_id, hit_type.qualification_requirements, "accept")
        if hit_status(store(), hit) != "Assignable":
            refusal = "This HIT is no longer available."
        elif any(a.worker_id == worker_id and a.status not in FREED for a in store().assignments_of(hit.id)):
            refusal = "You have already accepted this HIT."
        if refusal:
            page = render_template("localturk/message.html", title="You cannot accept this HIT", text=refusal)
            return _with_worker((page, 403), worker_id)
        now = store().now()
        assignment_id = hit.free_assignment_ids.pop(0) if hit.free_assignment_ids else None
        history = store().assignments[assignment_id].history if assignment_id else []
        assignment = Assignment(
            id=assignment_id or new_id(),
            hit_id=hit.id,
            worker_id=worker_id,
            status="Accepted",
            seq=store().next_seq(),
            accept_time=now,
            deadline=now + hit_type.assignment_duration,
            history=history,
        )
        store().add_assignment(assignment)
        store().event("AssignmentAccepted", hit, assignment)
        store().save()
    return _with_worker(redirect(url_for(".work", assignment_id=assignment.id)), worker_id)


@bp.get("/worker/assignments/<assignment_id>")
def work(assignment_id: str):
    with store().lock:
        store().catch_up()
        assignment = _assignment_of_worker(assignment_id)
        hit = store().hits[assignment.hit_id]
        view = hit_view(store(), hit)
    src = frame_url(
        hit, assignmentId=assignment.id, hitId=hit.id, turkSubmitTo=turk_submit_to(), workerId=assignment.worker_id
    )
    return render_template(
        "localturk/work.html", hit=view, assignment=assignment, frame=src, frame_height=hit.frame_height
    )


@bp.post("/worker/assignments/<assignment_id>/return")
def give_back(assignment_id: str):
    with store().lock:
        store().catch_up()
        assignment = _assignment_of_worker(assignment_id)
        store().free(assignment, "Returned", store().now())
        store().save()
    return redirect(url_for(".index"))


@bp.route("/mturk/externalSubmit", methods=["GET", "POST"])
def external_submit():
    """Record the posted form and mark the assignment Submitted, its Answer built from the fields.

    Only the worker who holds the assignment may submit it, as on MTurk, where the worker is
    signed in: a form posted without that worker's cookie (another worker's, or none) is refused.
    """
    fields = {name: request.values.getlist(name) for name in request.values}
    assignment_id = request.values.get("assignmentId", "")
    if not assignment_id or assignment_id == NOT_AVAILABLE:
        return render_template(
            "localturk/message.html",
            title="Nothing submitted",
            text="The form has no assignmentId: accept the HIT before submitting it.",
        ), 400
    with store().lock:
        store().catch_up()
        assignment = store().assignments.get(assignment_id)
        if assignment is None:
            return render_template(
                "localturk/message.html", title="Nothing submitted", text=f"There is no assignment {assignment_id}."
            ), 404
        if assignment.status != "Accepted":
            return render_template(
                "localturk/message.html",
                title="Nothing submitted",
                text=f"Assignment {assignment_id} is {assignment.status}, not at work.",
            ), 409
        # MTurk knows who is signed in: nobody submits for another worker's assignment (nor for the
        # next holder of a HIT they returned), and a form without a signed-in worker is nobody's.
        if current_worker() != assignment.worker_id:
            return render_template(
                "localturk/message.html",
                title="Nothing submitted",
                text=f"Assignment {assignment_id} is not yours: sign in as the worker who accepted it.",
            ), 403
        hit = store().hits[assignment.hit_id]
        now = store().now()
        store().submissions.append(
            {"assignmentId": assignment_id, "workerId": assignment.worker_id, "fields": fields, "time": now}
        )
        assignment.form = fields
        assignment.answer = answer_xml(fields)
        assignment.status = "Submitted"
        assignment.submit_time = now
        assignment.auto_approval_time = now + store().hit_types[hit.type_id].auto_approval_delay
        store().event("AssignmentSubmitted", hit, assignment)
        if hit_status(store(), hit) == "Reviewable":
            store().event("HITReviewable", hit)
        store().catch_up()
        store().save()
    return render_template("localturk/submitted.html", assignment_id=assignment_id)
