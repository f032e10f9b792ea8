"""Exports of a batch: start one (an RQ job), watch it, download the file."""

import tempfile
import zipfile

from flask import abort, flash, make_response, redirect, render_template, request, send_file, url_for

from ..models import Batch, Export
from ..services import jobs
from ..services.exports import files as exports
from ..services.exports.kinds import KINDS
from ..services.review import of_record
from ..tenancy import current_org, owned_or_404
from ..web import partials, sorting
from ..web.batch_tabs import render_tab
from ..web.pagination import paginate
from . import bp
from .forms import ExportForm

EXPORT_SORTS = {"created": Export.created_at, "kind": Export.kind, "state": Export.state, "rows": Export.rows}
EXPORT_SORT_LABELS = {
    "-created": "newest first",
    "created": "oldest first",
    "kind": "kind",
    "state": "state",
    "-rows": "most rows first",
    "rows": "fewest rows first",
}  # rows, not a table: a choice in the form


# The panels whose jobs can make a finished export out of date (files.out_of_date): the list of rows reloads (one
# request) when one of them ends, and the Exports tab follows those another page started (review/_exports.html).
STALES_ON = exports.STALES_ON


def _exports_page(batch: Batch, form: ExportForm, status: int = 200):
    exports.settle_batch(batch)  # an export whose job is gone shows failed, not running forever
    sort = sorting.requested(EXPORT_SORTS, "-created")
    query = sorting.apply(Export.select().where(Export.batch == batch), sort, EXPORT_SORTS, Export.id.desc())
    kind = request.args.get("kind", "")
    if kind in KINDS:
        query = query.where(Export.kind == kind)
    stale = exports.out_of_date(batch)  # each input read once, for the rows and the marks the tab sends
    return render_tab(
        "exports",
        "review/exports.html",
        batch,
        partial="review/_exports.html",
        status=status,
        page=paginate(query),
        form=form,
        kinds=KINDS,
        job_status=_job_status,
        size=exports.size,
        out_of_date=stale,
        marks=exports.marks(batch, stale),
        following=jobs.running(current_org().id, batch.id, STALES_ON),
        stales_on=sorted(STALES_ON),
        sort=sort,
        kind=kind if kind in KINDS else "",
        sorts=EXPORT_SORT_LABELS,
        record=of_record.of(batch),
        exports_seen=exports.listed(batch),
        jobs_seen=exports.jobs_seen(batch),
    )


def _job_status(export: Export):
    """The RQ job's progress while the export is queued or running (None once RQ forgot it)."""
    return jobs.status(export.job_id, current_org().id) if export.job_id else None


@bp.get("/batches/<int:batch_id>/exports")
def exports_view(batch_id):
    batch = owned_or_404(Batch, batch_id)
    return _exports_page(batch, ExportForm())


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
    decision = form.decision.data or None
    same = None if form.force.data else exports.identical(batch, kind, decision)
    if same is not None:
        # Nothing changed since: offer that file instead of writing it again (with a way to insist).
        if partials.wanted():
            response = make_response(
                render_template(
                    "review/_export_same.html",
                    export=same,
                    batch=batch,
                    kinds=KINDS,
                    form=form,
                    kind=kind,
                    size=exports.size(same),
                )
            )
            response.headers.update({"HX-Retarget": "#export-errors", "HX-Reswap": "innerHTML"})
            return response
        flash(f"Nothing changed since export #{same.id}: download it below.", "success")
        return redirect(url_for("review.exports_view", batch_id=batch.id))
    try:
        export = exports.start(batch, kind, decision, forced=bool(form.force.data))
    except exports.ExportRefused as refused:
        if partials.wanted():
            response = make_response(render_template("errors/_flash.html", message=str(refused)), 422)
            response.headers.update({"HX-Retarget": "#export-errors", "HX-Reswap": "innerHTML"})
            return response
        flash(str(refused), "error")
        return redirect(url_for("review.exports_view", batch_id=batch.id))
    if partials.wanted():  # the row downloads itself once done, in this tab only (review/_export.html)
        return _row(export, started_here=True) + _seen(batch)
    flash(f"{KINDS[kind].title} started; the download link appears here when it is ready.", "success")
    return redirect(url_for("review.exports_view", batch_id=batch.id))


def _seen(batch: Batch) -> str:
    """The export list this tab now shows, out of band: its own change does not reload it (review/_exports.html)."""
    return render_template("review/_exports_seen.html", exports_seen=exports.listed(batch), oob=True)


def _row(export: Export, started_here: bool = False):
    return render_template(
        "review/_export.html",
        export=export,
        batch=export.batch,
        job_status=_job_status,
        kinds=KINDS,
        size=exports.size(export),
        out_of_date=exports.out_of_date(export.batch),
        started_here=started_here,
    )


@bp.get("/exports/<int:export_id>")
def export_view(export_id):
    """One export's row: progress while it runs (refreshed when its job finishes), then the download link and
    whether it is out of date (refreshed when a job changes the labels or the votes). Whether it downloads itself is
    the page's to know, not this answer's: the tab that started it does (review/_export.html)."""
    return _row(exports.settle(owned_or_404(Export, export_id)))


@bp.get("/batches/<int:batch_id>/exports.zip")
def download_all(batch_id):
    """Every finished export of the batch in one ZIP."""
    batch = owned_or_404(Batch, batch_id)
    done = [
        e
        for e in Export.select().where(Export.batch == batch, Export.state == "done").order_by(Export.id)
        if exports.file_path(e)
    ]
    if not done:
        abort(404, "This batch has no finished export yet.")
    archive = tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        for export in done:
            compress = zipfile.ZIP_STORED if KINDS[export.kind].binary else zipfile.ZIP_DEFLATED
            out.write(exports.file_path(export), exports.download_name(export), compress_type=compress)
    archive.seek(0)
    return send_file(archive, mimetype="application/zip", as_attachment=True, download_name=exports.archive_name(batch))


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
    """Remove a finished export and its file; one still being written is left to finish (one whose job is gone is
    failed, files.settle)."""
    export = exports.settle(owned_or_404(Export, export_id))
    if export.state in ("queued", "running"):
        abort(409, "This export is still being written; delete it once it has finished.")
    exports.delete(export)
    if partials.wanted():
        return _seen(export.batch)
    flash("Export deleted.", "success")
    return redirect(url_for("review.exports_view", batch_id=export.batch_id))
