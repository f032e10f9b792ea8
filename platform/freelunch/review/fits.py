"""Label models on the results page: fit one (an RQ job), see its counts, page through its labels."""

from flask import flash, redirect, render_template, request, url_for

from ..models import Batch, Image, ImageClass, ImageLabel, LabelFit
from ..services import jobs
from ..services.review import fits, of_record
from ..services.review import round_plan as round_plan_service
from ..tenancy import current_org, owned_or_404
from ..web import partials
from ..web.batch_tabs import render_tab
from ..web.forms import Form
from ..web.pagination import paginate
from . import bp
from .forms import FitForm

DECISIONS = ("yes", "no", "open")


def panel_context(batch: Batch, form: FitForm | None = None) -> dict:
    """What ``review/_fit.html`` needs: the latest fit (and whether the votes changed since), one still running,
    and the form."""
    running = fits.pending(batch)
    job = jobs.status(running.job_id, current_org().id) if running and running.job_id else None
    fit = fits.latest(batch)
    return dict(
        fit=fit,
        fit_stale=fit is not None and fits.is_stale(fit),
        fit_record=of_record.of(batch),
        running=running,
        running_job=job,
        fit_form=form or FitForm(formdata=None),
        rounds=fits.rounds_of(batch),
    )


@bp.get("/batches/<int:batch_id>/fit")
def fit_panel(batch_id):
    batch = owned_or_404(Batch, batch_id)
    return render_template("review/_fit.html", batch=batch, **panel_context(batch))


@bp.post("/batches/<int:batch_id>/fit")
def start_fit(batch_id):
    batch = owned_or_404(Batch, batch_id)
    form = FitForm()
    if not form.validate_on_submit():
        if partials.wanted():
            return render_template("review/_fit.html", batch=batch, **panel_context(batch, form)), 422
        for errors in form.errors.values():
            for error in errors:
                flash(error, "error")
        return redirect(url_for("review.results", batch_id=batch.id))
    try:
        fits.start(batch, form.model.data, form.target_precision.data, form.threshold.data)
    except fits.FitPending as refusal:
        if partials.wanted():
            return render_template("review/_fit.html", batch=batch, refusal=str(refusal), **panel_context(batch)), 422
        flash(str(refusal), "error")
        return redirect(url_for("review.results", batch_id=batch.id))
    if partials.wanted():
        return render_template("review/_fit.html", batch=batch, **panel_context(batch))
    flash("Fitting the labels; the counts appear here when the job is done.", "success")
    return redirect(url_for("review.results", batch_id=batch.id))


@bp.get("/fits/<int:fit_id>/labels")
def fit_labels(fit_id):
    """One fit's labels, optionally of one decision, least certain first among the open ones."""
    fit = owned_or_404(LabelFit, fit_id)
    decision = request.args.get("decision", "")
    query = (
        ImageLabel.select(ImageLabel, Image, ImageClass)
        .join(Image)
        .switch(ImageLabel)
        .join(ImageClass)
        .where(ImageLabel.fit == fit.id)
    )
    if decision in DECISIONS:
        query = query.where(ImageLabel.decision == decision)
    page = paginate(query.order_by(ImageLabel.image_class, ImageLabel.image))
    return render_tab(
        "results",
        "review/fit_labels.html",
        fit.batch,
        partial="review/_fit_labels.html",
        fit=fit,
        page=page,
        decision=decision,
        decisions=DECISIONS,
    )


@bp.get("/batches/<int:batch_id>/next-round")
def plan_round(batch_id):
    """Open images -> pages -> cost of the next round, before anything is made or published."""
    batch = owned_or_404(Batch, batch_id)
    fit = fits.latest(batch)
    round_plan, error = None, None
    if fit is None:
        error = "Fit the labels with Dawid–Skene first: the plan asks again about the images it leaves open."
    else:
        try:
            round_plan = round_plan_service.plan(batch, fit)
        except round_plan_service.PlanError as failure:
            error = str(failure)
    return render_tab(
        "results",
        "review/round_plan.html",
        batch,
        fit=fit,
        plan=round_plan,
        error=error,
        form=Form(),
        # What the plan must say before it is made: it reads a fit the votes have moved past, or the round exists.
        fit_stale=fit is not None and fits.is_stale(fit),
        made=list(Batch.select(Batch.id, Batch.name).where(Batch.follows == batch).order_by(Batch.id)),
    )


@bp.post("/batches/<int:batch_id>/next-round")
def create_round(batch_id):
    batch = owned_or_404(Batch, batch_id)
    form = Form()
    fit = fits.latest(batch)
    if not form.validate_on_submit() or fit is None:
        flash("The plan is out of date or the form expired; here it is again.", "error")
        return redirect(url_for("review.plan_round", batch_id=batch.id))
    try:
        follow_up = round_plan_service.create_follow_up(batch, round_plan_service.plan(batch, fit))
    except round_plan_service.PlanError as failure:
        flash(str(failure), "error")
        return redirect(url_for("review.plan_round", batch_id=batch.id))
    flash(f"Round {follow_up.round} is ready: hand out lab links or publish it to MTurk.", "success")
    return redirect(url_for("batches.show", batch_id=follow_up.id))
