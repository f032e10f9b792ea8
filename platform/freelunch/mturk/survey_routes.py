"""The MTurk tab's survey-link kit: the batch CSV and landing page for MTurk's survey-link projects, and the check
of MTurk's results file against the completion codes workers were given."""

from flask import Response, render_template, request

from ..models import Batch
from ..services.batches import survey
from ..services.imports.classes import ImportFailure, decode
from ..tenancy import owned_or_404
from . import bp
from .forms import SurveyCheckForm

SURVEY_UPLOAD_MAX = 50 * 1024 * 1024


def _download(body: str, filename: str, mimetype: str) -> Response:
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get("/batches/<int:batch_id>/survey.csv")
def survey_csv(batch_id):
    batch = owned_or_404(Batch, batch_id)
    return _download(survey.batch_csv(batch), f"freelunch-batch-{batch.id}.csv", "text/csv")


@bp.get("/batches/<int:batch_id>/survey.html")
def survey_html(batch_id):
    batch = owned_or_404(Batch, batch_id)
    html = render_template("batches/survey_landing.html", batch=batch)
    return _download(html, f"freelunch-batch-{batch.id}-landing.html", "text/html")


@bp.post("/batches/<int:batch_id>/survey/check")
def survey_check(batch_id):
    batch = owned_or_404(Batch, batch_id)
    request.max_content_length = SURVEY_UPLOAD_MAX
    form = SurveyCheckForm()
    error, text = None, ""
    if form.validate_on_submit():
        try:
            text = decode(form.results.data.read(), "The results file") if form.results.data else form.pasted.data or ""
        except ImportFailure as failure:
            error = str(failure)
    else:
        error = " ".join(e for field in form for e in field.errors)
    if not error and not text.strip():
        error = "Upload MTurk's results CSV or paste its content."
    if not error:
        try:
            header, rows, verdicts = survey.check_results(batch, text)
        except survey.ResultsError as failure:
            error = str(failure)
    if error:
        return render_template("batches/_survey_check.html", error=error), 422
    if request.form.get("action") == "download":
        return _download(
            survey.decisions_csv(header, rows, verdicts), f"freelunch-batch-{batch.id}-decisions.csv", "text/csv"
        )
    return render_template(
        "batches/_survey_check.html",
        verdicts=verdicts,
        counts=survey.summary(verdicts),
        statuses=survey.STATUSES,
        text=text,
    )
