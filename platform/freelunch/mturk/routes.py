"""Requester actions on MTurk from the batch's MTurk tab: settings, check connection, publish, extend, expire, delete.

Long actions are RQ jobs (tasks/mturk.py) listed on the tab; what cannot go
ahead (a bad setting, production without confirmation, a low balance) is
said before anything is queued or sent.
"""

from decimal import Decimal, InvalidOperation

from flask import flash, redirect, render_template, request, url_for

from ..formatting import counted
from ..models import Batch, MTurkAccount, MTurkHit, Organization
from ..services import jobs
from ..services.mturk import access, budget, credentials, fairpay, gateway, lifecycle, publish
from ..services.mturk import settings as batch_settings
from ..services.mturk.errors import MTurkError
from ..tenancy import current_org, owned_or_404, role_required
from ..web import partials
from . import bp
from .forms import CredentialsForm, ExtendForm, MoneyForm, PublishForm, SettingsForm, settings_seconds
from .panel import job_scope, published, render, shown


def _tab(batch: Batch):
    return redirect(url_for("mturk.tab", batch_id=batch.id))


@bp.get("/batches/<int:batch_id>/mturk")
def tab(batch_id):
    """The MTurk tab: publishing through the API and the survey-link kit."""
    return render(owned_or_404(Batch, batch_id))


def _enqueue(batch: Batch, task: jobs.Task, title: str, *args) -> None:
    jobs.enqueue(
        task,
        batch.id,
        batch.organization_id,
        *args,
        organization_id=batch.organization_id,
        scope=job_scope(batch),
        title=title,
    )


@bp.post("/batches/<int:batch_id>/mturk/settings")
def save_settings(batch_id):
    batch = owned_or_404(Batch, batch_id)
    form = SettingsForm()
    if published(batch):
        flash(
            "These settings are fixed once HITs are on MTurk (they make the HIT type): copy the batch to change them.",
            "error",
        )
        return _tab(batch)
    if not form.validate_on_submit():
        return render(batch, status=422, settings_form=form)
    chosen = batch_settings.of(batch)
    chosen.sandbox = form.environment.data != "production"
    chosen.keywords = (form.keywords.data or "").strip()
    for name, seconds in settings_seconds(form).items():
        setattr(chosen, name, seconds)
    chosen.min_approval_rate, chosen.min_approved_hits = form.min_approval_rate.data, form.min_approved_hits.data
    chosen.locales, chosen.soft_block = form.countries(), form.soft_block.data
    batch.title, batch.description = (form.title.data or "").strip(), (form.description.data or "").strip()
    batch.reward = form.reward.data
    batch.save(only=[Batch.title, Batch.description, Batch.reward])
    batch_settings.save(batch, chosen)
    flash("MTurk settings saved.", "success")
    return _tab(batch)


@bp.get("/batches/<int:batch_id>/mturk/fair-pay")
def fair_pay(batch_id):
    """What the reward being typed would pay an hour (the settings form asks as it changes)."""
    batch = owned_or_404(Batch, batch_id)
    reward = _typed("reward", Decimal(batch.reward), Decimal("100"))
    return render_template("mturk/_fair_pay.html", estimate=fairpay.estimate(batch, reward))


@bp.get("/mturk/fair-pay")
def fair_pay_estimate():
    """The same for the batch builder, before the batch exists: its reward and pages a HIT, as typed."""
    reward = _typed("reward", Decimal("0"), Decimal("100"))
    pages = int(_typed("pages_per_hit", Decimal("1"), Decimal("100")))
    return render_template("mturk/_fair_pay.html", estimate=fairpay.estimate_for(current_org().id, pages, reward))


def _typed(name: str, default: Decimal, top: Decimal) -> Decimal:
    """A number from the query string, or ``default`` when it is not one from 0 to ``top``."""
    try:
        value = Decimal(request.args.get(name, "").strip())
    except InvalidOperation:
        return default
    return value if value.is_finite() and Decimal("0") <= value <= top else default


@bp.post("/batches/<int:batch_id>/mturk/check")
def check_connection(batch_id):
    batch = owned_or_404(Batch, batch_id)
    ok, sentence = gateway.check_connection(batch.organization_id, batch_settings.of(batch).sandbox)
    if partials.wanted():
        return render_template("mturk/_connection.html", ok=ok, sentence=sentence)
    flash(sentence, "success" if ok else "error")
    return _tab(batch)


@bp.get("/batches/<int:batch_id>/mturk/publish")
def review_publish(batch_id):
    """The review step: what publishing sends to MTurk (the saved settings) and its total, then the Publish button."""
    return render(owned_or_404(Batch, batch_id), reviewing=True)


@bp.post("/batches/<int:batch_id>/mturk/publish")
def publish_batch(batch_id):
    batch = owned_or_404(Batch, batch_id)
    form = PublishForm()
    if not form.validate_on_submit():
        flash("The form expired: reload the page and publish again.", "error")
        return _tab(batch)
    the_plan = publish.plan(batch, confirm_production=form.confirm_production.data)
    if the_plan.problems:
        for problem in the_plan.problems:
            flash(problem, "error")
        return _tab(batch)
    if form.shown.data != shown(batch):
        flash("The MTurk settings changed since you reviewed them: nothing was published. Review them again.", "error")
        return redirect(url_for("mturk.review_publish", batch_id=batch.id))
    remaining = the_plan.remaining
    # No flash: the job's card on the tab says what it does, follows it, and says how it ended.
    title = (
        f"Publish {counted(remaining.mturk_hits, 'MTurk HIT')} (${remaining.total:.2f} with MTurk's fee) to "
        f"{the_plan.where}"
    )
    _enqueue(batch, jobs.MTURK_PUBLISH, title, bool(form.confirm_production.data))
    return _tab(batch)


@bp.post("/batches/<int:batch_id>/mturk/extend")
def extend(batch_id):
    batch = owned_or_404(Batch, batch_id)
    form = ExtendForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(error, "error")
        return _tab(batch)
    try:
        steps = lifecycle.check_extension(batch, form.more.data, form.confirm_production.data)
    except MTurkError as error:
        flash(str(error), "error")
        return _tab(batch)
    new = sum(1 for target, _ in steps if not isinstance(target, MTurkHit))
    if request.form.get("confirmed") != "1":  # money moves: what it adds and costs with MTurk's fee, then Confirm
        review = {
            "more": form.more.data,
            "confirm_production": bool(form.confirm_production.data),
            "hits": len({target.hit_id if isinstance(target, MTurkHit) else target.id for target, _ in steps}),
            "new": new,
            "cost": lifecycle.extension_cost(batch, steps),
        }
        return render(batch, extend_review=review)
    title = f"Add {counted(form.more.data, 'assignment')} to every HIT on MTurk" + (
        f" ({new} of our HITs get new MTurk HITs: one MTurk HIT never exceeds 9)" if new else ""
    )
    _enqueue(batch, jobs.MTURK_EXTEND, title, form.more.data, bool(form.confirm_production.data))
    return _tab(batch)


@bp.post("/batches/<int:batch_id>/mturk/expire")
def expire(batch_id):
    batch = owned_or_404(Batch, batch_id)
    _enqueue(batch, jobs.MTURK_EXPIRE, "Expire the batch's MTurk HITs (workers who accepted one may still submit it)")
    return _tab(batch)


@bp.post("/batches/<int:batch_id>/mturk/delete-finished")
def delete_finished(batch_id):
    batch = owned_or_404(Batch, batch_id)
    _enqueue(batch, jobs.MTURK_DELETE_FINISHED, "Delete the finished MTurk HITs (every assignment decided)")
    return _tab(batch)


# --- the organization's AWS key pair ----------------------------------------------


@bp.route("/mturk/credentials", methods=["GET", "POST"])
@role_required("owner")
def credentials_view():
    form = CredentialsForm()
    org = current_org()
    if form.validate_on_submit():
        try:
            credentials.store(org.id, form.access_key_id.data, form.secret_access_key.data)
        except MTurkError as error:
            flash(str(error), "error")
        else:
            flash(
                "AWS key pair saved (the secret is encrypted). Check the connection from a batch's MTurk tab.",
                "success",
            )
            return redirect(url_for("mturk.credentials_view"))
    status = 422 if form.is_submitted() and form.errors else 200
    return _account_page(form, MoneyForm(formdata=None, data=_money_data(org)), status)


def _money_data(org: Organization) -> dict:
    return {"daily_limit": org.mturk_daily_limit, "hourly_pay_floor": org.hourly_pay_floor}


def _account_page(form: CredentialsForm, money_form: MoneyForm, status: int = 200):
    org = current_org()
    return render_template(
        "mturk/credentials.html",
        form=form,
        money_form=money_form,
        account=MTurkAccount.get_or_none(MTurkAccount.organization == org.id),
        source=access.source(org.id),
        today=budget.today(org.id),
        owners_set_limit=budget.set_by_owners(org.id),
        default_floor=fairpay.default_floor(),
    ), status


@bp.post("/mturk/account/money")
@role_required("owner")
def save_money():
    """The owner's daily limit (budget.set_by_owners: else a site admin sets it) and pay floor."""
    org = current_org()
    form = MoneyForm()
    if not form.validate_on_submit():
        return _account_page(CredentialsForm(formdata=None), form, 422)
    fields = [Organization.hourly_pay_floor]
    org.hourly_pay_floor = form.hourly_pay_floor.data
    if budget.set_by_owners(org.id):
        org.mturk_daily_limit = form.daily_limit.data
        fields.append(Organization.mturk_daily_limit)
    org.save(only=fields)
    flash("Money settings saved.", "success")
    return redirect(url_for("mturk.credentials_view"))


@bp.post("/mturk/credentials/delete")
@role_required("owner")
def delete_credentials():
    if credentials.remove(current_org().id):
        if access.source(current_org().id) == access.SERVER:
            flash("AWS key pair removed: MTurk calls now use the server's account, as a site admin granted.", "success")
        else:
            flash("AWS key pair removed: this organization cannot use MTurk until it adds one again.", "success")
    return redirect(url_for("mturk.credentials_view"))
