"""The MTurk review page of a batch (under its Review tab): reconcile, sort out, decide, pay, block.

Every MTurk call runs in an RQ job (services/jobs.enqueue, listed on the page),
never in the request: MTurk throttles, and the gateway retries with backoff.
"""

from __future__ import annotations

from decimal import Decimal

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..formatting import counted
from ..models import Batch, Hit, MTurkAssignment, ReviewRules, WorkerAction, utcnow
from ..parsing import whole_number
from ..services import jobs
from ..services.mturk import access, autoreview, bonuses, confirm, fairpay, tracking
from ..services.mturk import settings as batch_settings
from ..services.mturk.bonuses import BonusError
from ..services.review import labels
from ..tenancy import current_org, owned_or_404
from ..web import partials
from ..web.batch_tabs import render_tab
from . import bp
from .assignment_forms import BlockForm, BonusForm, DecisionForm, NotifyForm, RulesForm, TopUpForm

SHOWS = {
    "ready": "Ready for review",
    "flagged": "Flagged by the rules",
    "no_data": "Submitted, no data here",
    "not_submitted": "Done here, not submitted on MTurk",
    "decided": "Decided",
}


def _scope(batch: Batch) -> str:
    return jobs.batch_scope(batch.id)


def _enqueue(batch: Batch, task: jobs.Task, title: str, *args, **kwargs):
    return jobs.enqueue(
        task,
        batch.id,
        batch.organization_id,
        *args,
        organization_id=batch.organization_id,
        scope=_scope(batch),
        title=title,
        **kwargs,
    )


def _page(batch: Batch, show: str, status: int = 200, **forms):
    piles = tracking.sort_out(batch)
    flagged = [r for r in piles.ready if r.flag]
    lists = {
        "ready": [r for r in piles.ready if not r.flag],
        "flagged": flagged,
        "no_data": piles.no_data,
        "not_submitted": piles.not_submitted,
        "decided": piles.decided,
    }
    rules = autoreview.rules_for(batch)
    forms.setdefault("rules_form", _rules_form(rules))
    forms.setdefault("decision_form", DecisionForm(formdata=None))
    forms.setdefault("bonus_form", BonusForm(formdata=None))
    forms.setdefault("notify_form", NotifyForm(formdata=None))
    forms.setdefault("top_up_form", TopUpForm(formdata=None, data={"rate": fairpay.floor(batch.organization_id)}))
    return render_tab(
        "review",
        "mturk/review.html",
        batch,
        status=status,
        piles=piles,
        lists=lists,
        show=show,
        shows=SHOWS,
        rows=lists[show],
        rules=rules,
        rule_words=autoreview.describe(rules),
        synced_at=batch_settings.reconciled_at(batch),
        unreconciled=piles.unreconciled,
        now=utcnow(),
        pending=piles.pending,
        effective_pay=fairpay.effective(batch),
        recent_jobs=jobs.recent(current_org().id, _scope(batch)),
        **forms,
    )


def _rules_form(rules: ReviewRules) -> RulesForm:
    """The rules as the form shows them: shares as percentages."""

    def percent(value):
        return None if value is None else value * 100

    return RulesForm(
        formdata=None,
        data=dict(
            min_control_accuracy=percent(rules.min_control_accuracy),
            min_seconds_per_page=rules.min_seconds_per_page,
            require_completion_code=rules.require_completion_code,
            min_completeness=percent(rules.min_completeness),
            reject_failures=rules.reject_failures,
            approve_feedback=rules.approve_feedback,
        ),
    )


def _show() -> str:
    show = request.values.get("show", "ready")
    return show if show in SHOWS else "ready"


@bp.get("/batches/<int:batch_id>/mturk/review")
def assignments(batch_id):
    batch = owned_or_404(Batch, batch_id)
    return _page(batch, _show())


@bp.post("/batches/<int:batch_id>/mturk/sync")
def sync(batch_id):
    batch = owned_or_404(Batch, batch_id)
    _enqueue(batch, jobs.MTURK_SYNC, f"Reconcile {batch.name} with MTurk")
    return redirect(url_for(".assignments", batch_id=batch.id, show=_show()))


@bp.post("/batches/<int:batch_id>/mturk/rules")
def save_rules(batch_id):
    batch = owned_or_404(Batch, batch_id)
    form = RulesForm()
    if not form.validate():
        return _page(batch, _show(), 400, rules_form=form)
    rules = autoreview.rules_for(batch)
    rules.min_control_accuracy = (
        None if form.min_control_accuracy.data is None else form.min_control_accuracy.data / 100
    )
    rules.min_seconds_per_page = form.min_seconds_per_page.data
    rules.require_completion_code = form.require_completion_code.data
    rules.min_completeness = None if form.min_completeness.data is None else form.min_completeness.data / 100
    rules.reject_failures = form.reject_failures.data
    rules.approve_feedback = (form.approve_feedback.data or "").strip()
    rules.updated_at = utcnow()
    rules.save()
    flash("Auto-review rules saved: " + ("; ".join(autoreview.describe(rules)) or "none") + ".", "success")
    return redirect(url_for(".assignments", batch_id=batch.id))


@bp.post("/batches/<int:batch_id>/mturk/auto-review")
def run_auto_review(batch_id):
    """What the rules would approve (and pay) and reject now, then, confirmed, the job deciding those assignments."""
    batch = owned_or_404(Batch, batch_id)
    if request.form.get("confirmed") != "1":
        preview, rows = confirm.auto_review(batch)
        return _confirm_step(batch, "auto_review", preview=preview, fields=[("row", r) for r in rows])
    rows = [n for n in (whole_number(v) for v in request.form.getlist("row")) if n is not None]
    _enqueue(batch, jobs.MTURK_AUTO_REVIEW, f"Auto-review {batch.name}", rows)
    return redirect(url_for(".assignments", batch_id=batch.id))


def _selected_rows(batch: Batch) -> tuple[list[int], MTurkAssignment | None]:
    """The ticked assignments, only those of this batch (a foreign id is simply not found),
    and the one assignment when the form came from that assignment's own page."""
    wanted = [n for n in (whole_number(v) for v in request.form.getlist("row")) if n is not None][:1000]
    query = (
        MTurkAssignment.select(MTurkAssignment.id).join(Hit).where(Hit.batch == batch, MTurkAssignment.id.in_(wanted))
    )
    rows = [row.id for row in query]
    one = MTurkAssignment.get_by_id(rows[0]) if len(rows) == 1 and request.form.get("back") == "assignment" else None
    return rows, one


def _refused(batch: Batch, one: MTurkAssignment | None, **forms):
    """A form with errors, shown again where it was filled in."""
    return _assignment_page(one, 400, **forms) if one else _page(batch, _show(), 400, **forms)


def _done(batch: Batch, one: MTurkAssignment | None):
    if one:
        return redirect(url_for(".mturk_assignment", mturk_assignment_id=one.id))
    return redirect(url_for(".assignments", batch_id=batch.id, show=_show()))


@bp.post("/batches/<int:batch_id>/mturk/decisions")
def decide(batch_id):
    """Approve, reject or override the ticked assignments (one, from an assignment's own page), once confirmed."""
    batch = owned_or_404(Batch, batch_id)
    form = DecisionForm()
    rows, one = _selected_rows(batch)
    valid = form.validate()
    if not rows:
        form.action.errors = [*form.action.errors, "Tick the assignments to decide."]
    if not rows or not valid:
        if _wants_step("decide"):
            return _confirm_step(batch, "decide", _form_problems(form), one=one)
        return _refused(batch, one, decision_form=form)
    if request.form.get("confirmed") != "1":  # what it pays and does to the workers first
        chosen = list(MTurkAssignment.select().where(MTurkAssignment.id.in_(rows)).order_by(MTurkAssignment.id))
        fields = [("row", r) for r in rows] + [("action", form.action.data), ("feedback", form.feedback.data or "")]
        if one:
            fields.append(("back", "assignment"))
        preview = confirm.decision(batch, chosen, form.action.data)
        if form.action.data == "reject" and form.leave_out.data:
            fields.append(("leave_out", "y"))
            workers = len({row.worker_id for row in chosen})
            preview.sentences.append(
                f"{workers} worker{'' if workers == 1 else 's'} will be left out of this batch's labels at once."
            )
        return _confirm_step(batch, "decide", preview=preview, fields=fields, one=one)
    if form.action.data == "reject" and form.leave_out.data:
        _leave_out(batch, rows)
    _enqueue(
        batch,
        jobs.MTURK_DECIDE,
        f"{form.action.data.capitalize()} {counted(len(rows), 'assignment')}",
        rows,
        form.action.data,
        form.feedback.data or "",
        current_user.id,
    )
    return _done(batch, one)


def _leave_out(batch: Batch, rows: list[int]) -> None:
    """Rejecting, the requester also left the workers out of the labels: their votes count nowhere in the batch."""
    workers = sorted({row.worker_id for row in MTurkAssignment.select().where(MTurkAssignment.id.in_(rows))})
    for worker in workers:
        labels.set_excluded(batch, worker, True)
    flash(
        # (Not "Review › Workers counts them again": it lists the workers whose work counts, and a rejected
        # assignment never does, so a worker rejected on their only assignment is not there.)
        f"Left {len(workers)} worker{'' if len(workers) == 1 else 's'} out of this batch's labels: none of "
        f"{'their' if len(workers) > 1 else 'the worker’s'} votes in this batch count, rejected or not. "
        "A label fit made before is out of date: fit again on Results.",
        "success",
    )


CONFIRM_TARGETS = {
    "decide": "mturk-decide-confirm",
    "auto_review": "mturk-auto-review-confirm",
    "bonus": "mturk-bonus-confirm",
    "top_up": "mturk-top-up-confirm",
}
CONFIRM_ROUTES = {
    "decide": ".decide",
    "auto_review": ".run_auto_review",
    "bonus": ".bonus_approved",
    "top_up": ".top_up",
}
CONFIRM_LABELS = {
    "approve": "Approve them",
    "reject": "Reject them",
    "override": "Approve them after the rejection",
    "auto_review": "Run auto-review",
    "bonus": "Pay the bonuses",
    "top_up": "Pay the top-ups",
}
# The same for an action on one assignment (from its page, or one ticked).
CONFIRM_LABELS_ONE = {
    "approve": "Approve it",
    "reject": "Reject it",
    "override": "Approve it after the rejection",
    "bonus": "Pay the bonus",
    "top_up": "Pay the top-up",
}


def _form_problems(form) -> list[str]:
    return [error for errors in form.errors.values() for error in errors]


def _wants_step(kind: str) -> bool:
    """Whether htmx asked for the confirmation step alone, to show under the form."""
    return partials.wanted() and request.headers.get("HX-Target") == CONFIRM_TARGETS[kind]


def _confirm_step(batch: Batch, kind: str, problems: list[str] | None = None, preview=None, fields=(), one=None):
    """The confirmation step of an action, rendered here: the fragment for htmx, else the page showing it
    (the assignment's own page for ``one``)."""
    cancel = url_for(".mturk_assignment", mturk_assignment_id=one.id) if one else None
    step = {
        "kind": kind,
        "preview": preview,
        "problems": problems or [],
        "fields": list(fields),
        "label": CONFIRM_LABELS.get(preview.action if preview else "", "Confirm"),
        "action_url": url_for(CONFIRM_ROUTES[kind], batch_id=batch.id, show=_show()),
        "cancel_url": cancel or url_for(".assignments", batch_id=batch.id, show=_show()),
    }
    if preview and preview.count == 1:
        step["label"] = CONFIRM_LABELS_ONE.get(preview.action, step["label"])
    if _wants_step(kind):
        return render_template("mturk/_confirm.html", step=step)
    status = 200 if preview else 400
    if one:
        return _assignment_page(one, status, confirm_step=step)
    return _page(batch, _show(), status, confirm_step=step)


def _within_ceiling(batch: Batch, form: BonusForm) -> bool:
    """Whether the bonus is within the batch's ceiling (services/mturk/bonuses.py); else the form says why."""
    try:
        bonuses.check_amount(batch, form.amount.data)
    except BonusError as error:
        form.amount.errors = [*form.amount.errors, str(error)]
        return False
    return True


@bp.post("/batches/<int:batch_id>/mturk/bonuses")
def bonus_approved(batch_id):
    batch = owned_or_404(Batch, batch_id)
    form = BonusForm()
    if not form.validate() or not _within_ceiling(batch, form):
        if partials.wanted():
            return _confirm_step(batch, "bonus", _form_problems(form))
        return _page(batch, _show(), 400, bonus_form=form)
    if request.form.get("confirmed") != "1":  # show how many get it and the total with MTurk's fee first
        amount, reason = form.amount.data.strip(), form.reason.data.strip()
        preview = confirm.bonus(batch, amount, reason)
        return _confirm_step(batch, "bonus", preview=preview, fields=[("amount", amount), ("reason", reason)])
    _enqueue(
        batch,
        jobs.MTURK_BONUS_APPROVED,
        f"Bonus ${form.amount.data.strip()} for approved assignments",
        form.amount.data.strip(),
        form.reason.data.strip(),
        current_user.id,
    )
    return redirect(url_for(".assignments", batch_id=batch.id, show="decided"))


@bp.post("/batches/<int:batch_id>/mturk/top-up")
def top_up(batch_id):
    """Bonuses bringing approved assignments up to an hourly rate: the confirmation step, then the job."""
    batch = owned_or_404(Batch, batch_id)
    form = TopUpForm()
    if not form.validate():
        if partials.wanted():
            return _confirm_step(batch, "top_up", _form_problems(form))
        return _page(batch, _show(), 400, top_up_form=form)
    rate = form.rate.data.quantize(Decimal("0.01"))
    if request.form.get("confirmed") != "1":
        return _confirm_step(batch, "top_up", preview=confirm.top_up(batch, rate), fields=[("rate", f"{rate:.2f}")])
    _enqueue(
        batch, jobs.MTURK_TOP_UP, f"Top up approved assignments to ${rate:.2f} an hour", f"{rate:.2f}", current_user.id
    )
    return redirect(url_for(".assignments", batch_id=batch.id, show="decided"))


@bp.get("/mturk/assignments/<int:mturk_assignment_id>")
def mturk_assignment(mturk_assignment_id):
    """One MTurk assignment: its Answer, our data, its decisions and bonuses, and what can be done about it."""
    row = owned_or_404(MTurkAssignment, mturk_assignment_id)
    return _assignment_page(row)


def _assignment_page(row: MTurkAssignment, status: int = 200, **forms):
    forms.setdefault("decision_form", DecisionForm(formdata=None))
    forms.setdefault("bonus_form", BonusForm(formdata=None))
    forms.setdefault("block_form", BlockForm(formdata=None))
    shared = not access.owns_account(row.organization_id)
    if shared:  # a hard block would reach every organization on the server's account (services/mturk/workers.py)
        forms["block_form"].kind.choices = [c for c in forms["block_form"].kind.choices if c.value != "hard_block"]
    forms.setdefault("notify_form", NotifyForm(formdata=None))
    batch = row.hit.batch
    worker_actions = (
        WorkerAction.select()
        .where(WorkerAction.organization == row.organization_id, WorkerAction.worker_id == row.worker_id)
        .order_by(WorkerAction.id)
    )
    return render_template(
        "mturk/assignment.html",
        batch=batch,
        row=row,
        answer=tracking.answer_fields(row.answer),
        worker_actions=worker_actions,
        shared_account=shared,
        now=utcnow(),
        recent_jobs=jobs.recent(current_org().id, _scope(batch)),
        **forms,
    ), status


BONUS_ONE_TARGET = "mturk-bonus-one-confirm"


def _bonus_one_step(row: MTurkAssignment, problems: list[str], preview=None, fields=()) -> dict:
    page = url_for(".mturk_assignment", mturk_assignment_id=row.id)
    return {
        "kind": "bonus_one",
        "preview": preview,
        "problems": problems,
        "fields": list(fields),
        "label": "Pay the bonus",
        "action_url": url_for(".bonus_one", mturk_assignment_id=row.id),
        "cancel_url": page,
    }


@bp.post("/mturk/assignments/<int:mturk_assignment_id>/bonus")
def bonus_one(mturk_assignment_id):
    row = owned_or_404(MTurkAssignment, mturk_assignment_id)
    form = BonusForm()
    batch = row.hit.batch
    if not form.validate() or not _within_ceiling(batch, form):
        if partials.wanted() and request.headers.get("HX-Target") == BONUS_ONE_TARGET:
            return render_template("mturk/_confirm.html", step=_bonus_one_step(row, _form_problems(form)))
        return _assignment_page(row, 400, bonus_form=form)
    if request.form.get("confirmed") != "1":  # the total with MTurk's fee first
        amount, reason = form.amount.data.strip(), form.reason.data.strip()
        step = _bonus_one_step(
            row, [], confirm.bonus_one(row, amount, reason), [("amount", amount), ("reason", reason)]
        )
        if partials.wanted() and request.headers.get("HX-Target") == BONUS_ONE_TARGET:
            return render_template("mturk/_confirm.html", step=step)
        return _assignment_page(row, confirm_step=step)
    _enqueue(
        batch,
        jobs.MTURK_BONUS_ONE,
        f"Bonus ${form.amount.data.strip()} for {row.mturk_assignment_id}",
        row.id,
        form.amount.data.strip(),
        form.reason.data.strip(),
        current_user.id,
    )
    return redirect(url_for(".mturk_assignment", mturk_assignment_id=row.id))


@bp.post("/mturk/assignments/<int:mturk_assignment_id>/block")
def block(mturk_assignment_id):
    row = owned_or_404(MTurkAssignment, mturk_assignment_id)
    form = BlockForm()
    if not form.validate():
        return _assignment_page(row, 400, block_form=form)
    hard = form.kind.data == "hard_block"
    _enqueue(
        row.hit.batch,
        jobs.MTURK_BLOCK,
        f"{'Hard' if hard else 'Soft'}-block worker {row.worker_id}",
        row.id,
        form.reason.data.strip(),
        hard,
        current_user.id,
    )
    return redirect(url_for(".mturk_assignment", mturk_assignment_id=row.id))


@bp.post("/batches/<int:batch_id>/mturk/notify")
def notify(batch_id):
    """Message the workers of the ticked assignments (of an assignment's page: its worker)."""
    batch = owned_or_404(Batch, batch_id)
    form = NotifyForm()
    rows, one = _selected_rows(batch)
    valid = form.validate()
    if not rows:
        form.subject.errors = [*form.subject.errors, "Tick the assignments whose workers you write to."]
    if not rows or not valid:
        return _refused(batch, one, notify_form=form)
    _enqueue(
        batch,
        jobs.MTURK_NOTIFY,
        f"Message the workers of {counted(len(rows), 'assignment')}",
        rows,
        form.subject.data.strip(),
        form.text.data.strip(),
        current_user.id,
    )
    return _done(batch, one)
