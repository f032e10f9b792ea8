"""Exports of a batch: start one (an RQ job), watch it, download the file."""
from flask import abort, flash, make_response, redirect, render_template, send_file, url_for

from .. import partials
from ..batches.tabs import render_tab
from ..models import Batch, Export
from ..pagination import paginate
from ..services.exports import files as exports
from ..services.exports.kinds import KINDS
from ..services import jobs
from ..services.review.labels import default_rule
from ..tenancy import current_org, owned_or_404
from . import bp
from .forms import ExportForm


def _exports_page(batch: Batch, form: ExportForm, status: int = 200):
    page = paginate(Export.select().where(Export.batch == batch).order_by(Export.id.desc()))
    return render_tab("exports", "review/exports.html", batch, status=status, page=page, form=form, kinds=KINDS,
                      job_status=_job_status)


def _job_status(export: Export):
    """The RQ job's progress while the export is queued or running (None once RQ forgot it)."""
    return jobs.status(export.job_id, current_org().id) if export.job_id else None


@bp.get("/batches/<int:batch_id>/exports")
def exports_view(batch_id):
    batch = owned_or_404(Batch, batch_id)
    return _exports_page(batch, ExportForm(data=default_rule(batch).as_dict()))


@bp.post("/batches/<int:batch_id>/exports/<kind>")
def start_export(batch_id, kind):
    batch = owned_or_404(Batch, batch_id)
    if kind not in KINDS:
        abort(404)
    form = ExportForm()
    if not form.validate_on_submit():
        if partials.wanted():  # shown above the forms, wherever the form was
            response = make_response(render_template("review/_export_errors.html", form=form), 422)
            response.headers.update({"HX-Retarget": "#export-errors", "HX-Reswap": "innerHTML"})
            return response
        return _exports_page(batch, form, 422)
    export = exports.start(batch, kind, form.rule())
    if partials.wanted():
        return render_template("review/_export.html", export=export, batch=batch, job_status=_job_status,
                               kinds=KINDS)
    flash(f"{KINDS[kind].title} started; the download link appears here when it is ready.", "success")
    return redirect(url_for("review.exports_view", batch_id=batch.id))


@bp.get("/exports/<int:export_id>")
def export_view(export_id):
    """One export's row: progress while it runs (refreshed when its job finishes), then the download link."""
    export = owned_or_404(Export, export_id)
    return render_template("review/_export.html", export=export, batch=export.batch, job_status=_job_status,
                           kinds=KINDS)


@bp.get("/exports/<int:export_id>/download")
def download(export_id):
    export = owned_or_404(Export, export_id)
    path = exports.file_path(export)
    if path is None:
        abort(404, "This export has no file (yet).")
    kind = KINDS[export.kind]
    return send_file(path, mimetype=kind.mimetype, as_attachment=True, download_name=exports.download_name(export))


@bp.post("/exports/<int:export_id>/delete")
def delete_export(export_id):
    """Remove a finished export and its file; one still being written is left to finish."""
    export = owned_or_404(Export, export_id)
    if export.state in ("queued", "running"):
        abort(409, "This export is still being written; delete it once it has finished.")
    exports.delete(export)
    if partials.wanted():
        return ""
    flash("Export deleted.", "success")
    return redirect(url_for("review.exports_view", batch_id=export.batch_id))
