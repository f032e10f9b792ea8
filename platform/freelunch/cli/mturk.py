"""``freelunch mturk``: sync, review and bonus here; publishing in mturk_publish.py, the server account's grants in
mturk_accounts.py. The dashboard's services, in the foreground.

Each prints its progress and a summary, and exits non-zero when anything
failed. Review and bonus reconcile the batch first: they act on what MTurk
says now. Run twice, each does nothing new the second time (intent rows).
"""

from __future__ import annotations

import click
from flask.cli import AppGroup

from ..models import Batch, Hit, MTurkAssignment
from ..services.mturk import autoreview, bonuses, decisions, tracking
from .common import batch_or_fail, echo_progress
from .mturk_accounts import ACCOUNTS
from .mturk_publish import PUBLISHING


@click.group("mturk", cls=AppGroup)
def mturk():
    """Amazon Mechanical Turk: publish, reconcile, review, pay."""


def _sync(batch: Batch, mturk) -> tracking.SyncSummary:
    summary = tracking.sync_batch(batch, mturk, progress=echo_progress)
    click.echo(summary.as_dict()["summary"])
    return summary


def _row(batch: Batch, assignment_id: str) -> MTurkAssignment:
    row = (
        MTurkAssignment.select()
        .join(Hit)
        .where(Hit.batch == batch, MTurkAssignment.mturk_assignment_id == assignment_id.strip())
        .order_by(MTurkAssignment.synced_at.desc())
        .first()
    )
    if row is None:
        raise click.ClickException(f"MTurk lists no submitted assignment {assignment_id} for batch {batch.id}.")
    return row


@mturk.command("sync")
@click.option("--batch", "batch_id", type=int, required=True, help="The batch id.")
def sync(batch_id):
    """Reconcile the batch's assignments with what MTurk lists."""
    batch = batch_or_fail(batch_id)
    _sync(batch, tracking.client_for(batch))


@mturk.command("review")
@click.option("--batch", "batch_id", type=int, required=True, help="The batch id.")
@click.option("--auto", is_flag=True, help="Apply the batch's auto-review rules.")
@click.option("--assignment", "assignment_id", help="One MTurk AssignmentId to decide.")
@click.option("--approve", "action", flag_value="approve", help="Approve (pay) the assignment.")
@click.option("--reject", "action", flag_value="reject", help="Reject the assignment (needs --feedback).")
@click.option("--override", "action", flag_value="override", help="Approve a rejected assignment (within 30 days).")
@click.option("--feedback", default="", help="What MTurk shows the worker.")
def review(batch_id, auto, assignment_id, action, feedback):
    """Decide assignments: --auto by the batch's rules, or one --assignment by hand."""
    if auto == bool(assignment_id):
        raise click.UsageError("Give either --auto or --assignment ASSIGNMENT_ID.")
    if assignment_id and not action:
        raise click.UsageError("Say --approve, --reject or --override.")
    batch = batch_or_fail(batch_id)
    mturk = tracking.client_for(batch)
    _sync(batch, mturk)
    if auto:
        rules = autoreview.rules_for(batch)
        click.echo("Rules: " + ("; ".join(autoreview.describe(rules)) or "none (every judged assignment is approved)"))
        summary = autoreview.auto_review(batch, mturk, progress=echo_progress, source="cli")
        click.echo(summary.as_dict()["summary"])
        if summary.failed:
            raise click.ClickException(f"{summary.failed} decisions failed; run the command again to retry them.")
        return
    row = _row(batch, assignment_id)
    decision = decisions.decide(row, action, feedback, mturk, source="cli")
    if decision.state == "failed":
        raise click.ClickException(decision.error)
    click.echo(
        f"Assignment {row.mturk_assignment_id}: {decisions.DONE[decision.action]}"
        + (f" ({decision.error})" if decision.state == "adopted" else ".")
    )


@mturk.command("bonus")
@click.option("--batch", "batch_id", type=int, required=True, help="The batch id.")
@click.option("--assignment", "assignment_id", required=True, help="The MTurk AssignmentId.")
@click.option("--amount", required=True, help="Dollars, e.g. 0.25.")
@click.option("--reason", required=True, help="What MTurk shows the worker.")
@click.option("--yes", is_flag=True, help="Pay without asking.")
def bonus(batch_id, assignment_id, amount, reason, yes):
    """Show the bonus with MTurk's fee, then pay it once: the same command run again finds it paid and pays nothing."""
    dollars = bonuses.parse_amount(amount)
    batch = batch_or_fail(batch_id)
    mturk = tracking.client_for(batch)
    _sync(batch, mturk)
    row = _row(batch, assignment_id)
    bonuses.check_amount(batch, dollars)
    if not yes:  # before the intent row: a bonus declined here leaves nothing behind
        click.echo(
            f"Bonus for assignment {row.mturk_assignment_id}: ${dollars:.2f} + ${bonuses.price(dollars) - dollars:.2f}"
            f" MTurk fee = ${bonuses.price(dollars):.2f} (a bonus already paid is not paid again)."
        )
        click.confirm("Pay it? This spends money on the MTurk account.", abort=True)
    request = bonuses.request(row, amount, reason)
    paid_before = request.state in ("done", "adopted")
    result = bonuses.pay(request, mturk)
    if result.state == "failed":
        raise click.ClickException(f"The bonus was not paid: {result.error} Run the command again to retry.")
    click.echo(
        f"Bonus ${result.amount:.2f} for assignment {row.mturk_assignment_id}: "
        + ("paid before, nothing sent." if paid_before else "paid.")
    )


for command in PUBLISHING + ACCOUNTS:
    mturk.add_command(command)
