"""The results page: the labels of record, and selection frequency and decision per image and class under a rule."""

from flask import flash, redirect, render_template, request, url_for
from peewee import fn

from ..models import Batch, Hit, HitPage, ImageClass
from ..services import jobs
from ..services.review import counted, fits, labels, of_record
from ..tenancy import owned_or_404
from ..web.batch_tabs import render_tab
from ..web.forms import Form
from ..web.pagination import requested_page
from . import bp
from .fits import panel_context
from .forms import ExportForm, ResultsForm, RuleForm


@bp.get("/batches/<int:batch_id>/results")
def results(batch_id):
    batch = owned_or_404(Batch, batch_id)
    record = of_record.of(batch)
    form = ResultsForm(request.args, data=(record.rule or labels.default_rule(batch)).as_dict())
    # The class filter picks from the batch's own classes (a <datalist>: type to narrow, or pick).
    # A probe of the class's HIT pages per class of the dataset (it finds one of the batch's at once), not a read of
    # every HIT page of the batch (30,500 at ImageNet's size).
    in_batch = HitPage.select(HitPage.id).join(Hit).where(HitPage.image_class == ImageClass.id, Hit.batch == batch)
    class_choices = (
        ImageClass.select(ImageClass.key, ImageClass.names)
        .where(ImageClass.dataset == batch.dataset_id, fn.EXISTS(in_batch))
        .order_by(ImageClass.key)
        .tuples()
    )
    context = dict(batch=batch, form=form, page=None, summary=None, class_choices=list(class_choices))
    valid = form.validate()
    image_class = None
    if valid and form.class_key.data:
        image_class = ImageClass.get_or_none(
            ImageClass.dataset == batch.dataset_id, ImageClass.key == form.class_key.data.strip()
        )
        if image_class is None:
            form.class_key.errors.append(
                f"This batch's dataset has no class with the key {form.class_key.data.strip()!r}."
            )
            valid = False
    if valid:
        rule = form.rule()
        try:
            page, summary = labels.page(
                batch,
                rule,
                requested_page(),
                class_id=image_class.id if image_class else None,
                decision=form.decision.data or None,
                wait=False,
            )
        except labels.Counting as counting:
            # Its end reloads this panel (COUNT_LABELS changes "labels"), which then reads the counts it made.
            context.update(counting=jobs.status(counting.job_id, batch.organization_id), rule=rule)
        else:
            context.update(
                page=page, summary=summary, rule=rule, export_form=ExportForm(), is_record=record.rule == rule
            )
    context.update(panel_context(batch))
    context.update(record_context(batch, record))
    return render_tab(
        "results",
        "review/results.html",
        context.pop("batch"),
        partial="review/_results.html",
        status=200 if valid else 422,
        **context,
    )


def record_context(batch: Batch, record: of_record.Record) -> dict:
    """What ``review/_record.html`` needs: the labels of record, their counts, and the votes still waiting."""
    waiting_votes, waiting_assignments = counted.waiting([batch.id])
    try:
        record_counts, record_counting = of_record.decisions(batch, record, wait=False), None
    except labels.Counting as counting:
        # As on Results: the job's end reloads this panel (COUNT_LABELS changes "labels"), which reads its counts.
        record_counts, record_counting = None, jobs.status(counting.job_id, batch.organization_id)
    return dict(
        fit=fits.latest(batch),
        record=record,
        record_counts=record_counts,
        record_counting=record_counting,
        record_stale=record.fit is not None and fits.is_stale(record.fit),
        waiting_votes=waiting_votes,
        waiting_assignments=waiting_assignments,
    )


@bp.get("/batches/<int:batch_id>/labels-of-record")
def record_panel(batch_id):
    """The labels of record panel alone: it reloads itself when a job of the page (a fit, a reconcile) ends."""
    batch = owned_or_404(Batch, batch_id)
    return render_template("review/_record.html", batch=batch, **record_context(batch, of_record.of(batch)))


@bp.post("/batches/<int:batch_id>/labels-of-record/rule")
def choose_rule(batch_id):
    """Make the rule on screen the batch's labels of record."""
    batch = owned_or_404(Batch, batch_id)
    form = RuleForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(error, "error")
        return redirect(url_for("review.results", batch_id=batch.id))
    of_record.choose_rule(batch, form.rule())
    flash(
        f"The labels of record are now the {of_record.of(batch).describe()}: Results and every export use them.",
        "success",
    )
    return redirect(url_for("review.results", batch_id=batch.id, **form.rule().as_dict()))


@bp.post("/batches/<int:batch_id>/labels-of-record/fit")
def choose_fit(batch_id):
    """Make the latest label fit (and each later one) the batch's labels of record."""
    batch = owned_or_404(Batch, batch_id)
    if not Form().validate_on_submit():
        flash("The form expired; here it is again.", "error")
        return redirect(url_for("review.results", batch_id=batch.id))
    try:
        of_record.choose_fit(batch)
    except of_record.RecordError as error:
        flash(str(error), "error")
    else:
        flash(
            f"The labels of record are now the {of_record.of(batch).describe()}: Results and every export use "
            "them, and each later fit.",
            "success",
        )
    return redirect(url_for("review.results", batch_id=batch.id))
