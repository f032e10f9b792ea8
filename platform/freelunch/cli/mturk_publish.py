"""``freelunch mturk balance/publish/expire/extend/delete-finished/rotate-credentials``: ``PUBLISHING``, added to
the ``mturk`` group by mturk.py.

They run in the foreground with progress on stderr, print a summary, and
exit non-zero on failure. They honour MTURK_ENDPOINT_URL, MTURK_SANDBOX and
boto3's credential chain (an organization's stored key pair wins).
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from ..formatting import counted
from ..services.mturk import credentials, gateway, lifecycle, publish
from ..services.mturk.errors import MTurkError
from .common import batch_or_fail, echo_progress, organization_or_fail


def _fail_on(outcome: lifecycle.Outcome) -> None:
    for error in outcome.errors or []:
        click.echo(f"  failed: {error}", err=True)
    if outcome.failed:
        raise click.ClickException(f"{outcome.failed} MTurk HITs failed; run the command again to retry them.")


@click.command("balance")
@with_appcontext
@click.option(
    "--org", "org_ref", help="Use this organization's stored key pair (its id or name); default: boto3's chain."
)
@click.option("--production", is_flag=True, help="Ask production instead of the MTURK_SANDBOX default.")
def balance(org_ref, production):
    """Show the MTurk account balance, or why it cannot be read."""
    org = organization_or_fail(org_ref) if org_ref else None
    ok, sentence = gateway.check_connection(org.id if org else None, False if production else None)
    if not ok:
        raise click.ClickException(sentence)
    click.echo(sentence)


@click.command("publish")
@with_appcontext
@click.option("--batch", "batch_id", type=int, required=True, help="The batch id.")
@click.option("--yes", is_flag=True, help="Publish without asking (production included).")
def publish_batch(batch_id, yes):
    """Show the cost, then publish every MTurk HIT of the batch not yet created (a second run creates nothing)."""
    batch = batch_or_fail(batch_id)
    the_plan = publish.plan(batch, confirm_production=True)
    whole, remaining = the_plan.whole, the_plan.remaining
    click.echo(
        f"Batch {batch.id} ({batch.name}) to {the_plan.where}: {whole.hits} HITs x {batch.assignments_per_hit} "
        f"assignments x ${batch.reward:.2f} = ${whole.rewards:.2f} + ${whole.fees:.2f} MTurk fee "
        f"= ${whole.total:.2f} for {counted(whole.mturk_hits, 'MTurk HIT')}."
    )
    if the_plan.split_reason:
        click.echo(
            f"Each HIT becomes {len(the_plan.split)} MTurk HITs ({' + '.join(map(str, the_plan.split))} "
            f"assignments). {the_plan.split_reason}"
        )
    if the_plan.problems:
        raise click.ClickException(" ".join(the_plan.problems))
    if not remaining.mturk_hits:
        click.echo("Every MTurk HIT of the batch exists already: nothing to publish.")
        return
    click.echo(f"Still to publish: {remaining.mturk_hits} MTurk HITs, ${remaining.total:.2f}.")
    if not yes:
        real = "" if the_plan.settings.sandbox else " This spends real money."
        click.confirm(f"Publish them to {the_plan.where}?{real}", abort=True)
    try:
        result = publish.publish(batch, confirm_production=True, progress=echo_progress)
    except MTurkError as error:
        raise click.ClickException(
            f"{error} Run the command again to resume: HITs already created are kept."
        ) from error
    click.echo(result.summary(the_plan.where))


@click.command("expire")
@with_appcontext
@click.option("--batch", "batch_id", type=int, required=True, help="The batch id.")
def expire(batch_id):
    """Expire every live MTurk HIT of the batch now (accepted assignments may still be submitted)."""
    batch = batch_or_fail(batch_id)
    outcome = lifecycle.expire(batch, progress=echo_progress)
    click.echo(f"{counted(outcome.done, 'MTurk HIT')} expired, {outcome.skipped} had expired already.")
    _fail_on(outcome)


@click.command("extend")
@with_appcontext
@click.option("--batch", "batch_id", type=int, required=True, help="The batch id.")
@click.option(
    "--assignments", "more", type=click.IntRange(1, 100), required=True, help="Assignments to add to every HIT."
)
@click.option("--yes", is_flag=True, help="Do not ask (production included).")
def extend(batch_id, more, yes):
    """Add assignments to every HIT: onto its MTurk HITs up to 9 each, the rest as new MTurk HITs."""
    batch = batch_or_fail(batch_id)
    if not yes:
        price = lifecycle.extension_cost(batch, lifecycle.check_extension(batch, more, confirm_production=True))
        click.echo(
            f"{more} more assignments for each of the batch's {batch.hits.count()} HITs: ${price.rewards:.2f} + "
            f"${price.fees:.2f} MTurk fee = ${price.total:.2f}."
        )
        click.confirm("Add them? This spends money on the MTurk account.", abort=True)
    outcome = lifecycle.extend(batch, more, confirm_production=True)
    click.echo(f"{counted(outcome.done, 'MTurk HIT')} extended or created.")
    _fail_on(outcome)


@click.command("delete-finished")
@with_appcontext
@click.option("--batch", "batch_id", type=int, required=True, help="The batch id.")
def delete_finished(batch_id):
    """Delete the batch's MTurk HITs that are finished (Reviewable, every assignment decided)."""
    batch = batch_or_fail(batch_id)
    outcome = lifecycle.delete_finished(batch)
    click.echo(f"{outcome.done} MTurk HITs deleted, {outcome.skipped} not finished yet.")
    _fail_on(outcome)


@click.command("rotate-credentials")
@with_appcontext
def rotate_credentials():
    """Re-encrypt every stored AWS secret with the first key of MTURK_CREDENTIALS_KEY (docs/configuration.md)."""
    rotated, unreadable = credentials.rotate()
    click.echo(f"{rotated} key pairs re-encrypted with the first key.")
    if unreadable:
        raise click.ClickException(
            f"{unreadable} key pairs no listed key can read: their organizations must enter them again."
        )


# The publishing commands, in the order ``freelunch mturk --help`` lists them (alphabetical, by click).
PUBLISHING = (balance, publish_batch, expire, extend, delete_finished, rotate_credentials)
