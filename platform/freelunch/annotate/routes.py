import json
import mimetypes
import time

from flask import Response, abort, current_app, redirect, render_template, request, url_for

from .. import storage
from ..models import Assignment
from ..services.accounts import identity
from ..services.annotation import image_refs, places
from ..services.annotation import pages as annotation
from ..services.annotation.pages import AnnotationError
from ..web import partials
from ..web.task_page import render_task
from . import bp

MAX_SUMMARY_BYTES = 4 * 1024 * 1024  # a 48-image page summary is ~50 KB even after long work
PREVIEW_IMAGE_SECONDS = 3600  # a preview has no assignment whose time would bound its images' caching


@bp.errorhandler(AnnotationError)
def _refused(error: AnnotationError):
    return partials.render(
        "annotate/message.html", "annotate/_message.html", error.status, message=error.message, status=error.status
    )


def _done(assignment: Assignment, partial: bool):
    template = "annotate/_done.html" if partial else "annotate/page.html"
    return render_template(template, done=assignment)


def _show(assignment: Assignment, token: str, partial: bool = False, state: annotation.HitPages | None = None):
    """The assignment's first unsubmitted page (carrying the token it was opened with), or the completion view."""
    state = state or annotation.hit_pages(assignment.hit_id, assignment.id)
    if state.current is None:
        annotation.finish_if_done(assignment)
        return _done(assignment, partial)
    return render_task(state, assignment.version, token, partial, assignment_id=assignment.id)


@bp.get("/annotate")
def annotate():
    """Every worker link lands here; the first real open redirects to the token URL."""
    if "token" in request.args:
        assignment, state = annotation.opened_by_token(request.args["token"])
        return _show(assignment, request.args["token"], state=state)
    try:
        opening = annotation.open_link(request.args, request.cookies)
    except annotation.DeviceUnchecked:
        return render_template("annotate/device_check.html", mturk=bool(request.args.get("turkSubmitTo")))
    if opening.assignment is None:
        version = (opening.hit.batch.versions or ["POINTER_ORIGINAL"])[0]
        return render_task(annotation.hit_pages(opening.hit.id), version, "", partial=False)
    response = redirect(url_for(".annotate", token=annotation.token_for(opening.assignment, opening.hit)), 303)
    _remember_browser(response, opening.assignment)
    return response


def _remember_browser(response, assignment: Assignment) -> None:
    """The cookie by which this browser, and only this one, may reopen the assignment from its link.

    MTurk shows the page in a third-party iframe: over HTTPS the cookie is SameSite=None; Secure so it is
    sent there where the browser allows third-party cookies. Where it does not, the signed token in the
    page's URL and forms and the MTurk AssignmentId still carry the worker on.
    """
    secure = request.is_secure or current_app.config["PUBLIC_URL"].startswith("https://")
    response.set_cookie(
        identity.browser_cookie(assignment.id),
        identity.browser_key(assignment.id),
        max_age=places.assignment_seconds(assignment.hit.batch),
        path=url_for(".annotate"),
        secure=secure,
        httponly=True,
        samesite="None" if secure else "Lax",
    )


@bp.post("/annotate/submit")
def submit():
    """Store a page's summary (once, however often it is posted) and answer with the next page."""
    if (request.content_length or 0) > MAX_SUMMARY_BYTES:
        raise AnnotationError(413, "This page's data is too large to store.")
    # Flask caps a multipart form field at 500 KB, below what hours of hovering on one page can produce.
    request.max_form_memory_size = MAX_SUMMARY_BYTES
    token = request.form.get("token")
    assignment = annotation.assignment_from_token(token)
    try:
        pageno = int(request.form.get("pageno", ""))
        summary = json.loads(request.form.get("summary", ""))
    except (ValueError, RecursionError):  # RecursionError: JSON nested deeper than Python's stack
        raise AnnotationError(400, "The page was sent without its data. Please press Submit again.") from None
    annotation.submit_page(assignment, pageno, summary)
    if partials.wanted():
        return _show(assignment, token, partial=True)
    return redirect(url_for(".annotate", token=token), 303)


@bp.get("/lab/<token>")
def lab(token):
    """A lab link asks the annotator who they are, then /annotate hands out their HIT."""
    return render_template("annotate/lab.html", link=annotation.lab_link_or_error(token))


@bp.get("/annotate/image/<int:pageno>/<ref>")
def image(pageno: int, ref: str):
    """An image of a worker's page by its ref (services/annotation/image_refs.py), so that its URL names neither
    its key nor its file: only among the pages of the assignment whose token comes with it (a preview's: the HIT
    its signed ``preview`` names). Anything else, an expired token included, is a 404."""
    token = request.args.get("token")
    if token:
        claims = identity.token_claims(token)
        max_age = claims.expires_at - int(time.time()) if claims else 0
        if claims is None or max_age <= 0:
            abort(404)
        path = image_refs.stored_path(pageno, ref, assignment_id=claims.assignment_id)
    else:
        hit_id = image_refs.previewed_hit(request.args.get("preview"))
        if hit_id is None:
            abort(404)
        path = image_refs.stored_path(pageno, ref, hit_id=hit_id)
        max_age = PREVIEW_IMAGE_SECONDS
    data = storage.read_or_none(path) if path else None
    if data is None:
        abort(404)
    # No Last-Modified, ETag or file name: a control imported on another day must not say so.
    response = Response(data, mimetype=mimetypes.guess_type(path)[0] or "application/octet-stream")
    response.headers["Cache-Control"] = f"private, max-age={max_age}, immutable"
    return response
