"""``freelunch mturk balance/publish/expire/extend/delete-finished/rotate-credentials``, on the ``mturk`` group of
commands.py.

They run in the foreground with progress on stderr, print a summary, and
exit non-zero on failure. They honour MTURK_ENDPOINT_URL, MTURK_SANDBOX and
boto3's credential chain (an organization's stored key pair wins).
"""

from __future__ import annotations

import click

from ..models import Organization
from ..parsing import whole_number
from ..services.mturk import credentials, gateway, lifecycle, publish
from ..services.mturk.errors import MTurkError
from .commands import _batch, _progress, mturk


def _organization(ref: str) -> Organization:
    """An organization by id or exact name (organizations have no slug)."""
    number = whole_number(ref)
    found = Organization.get_or_none(Organization.id == number) if number is not None else None
    found = found or Organization.get_or_none(Organization.name == ref)
    if found is None:
        raise click.ClickException(f"There is no organization {ref!r} (give its id or its exact name).")
    return found


def _fail_on(outcome: lifecycle.Outcome) -> None:
    for error in outcome.errors or []:
        click.echo(f"  failed: {error}", err=True)
    if outcome.failed:
        raise click.ClickException(f"{outcome.failed} MTurk HITs failed; run the command again to retry them.")


@mturk.command("balance")
@click.option(
    "--org", "org_ref", help="Use this organization's stored key pair (its id or name); default: boto3's chain."
)
@click.option("--production", is_flag=True, help="Ask production instead of the MTURK_SANDBOX default.")
def balance(org_ref, production):
    """Show the MTurk account balance, or why it cannot be read."""
    org = _organization(org_ref) if org_ref else None
    ok, sentence = gateway.check_connection(org.id if org else None, False if production else None)
    if not ok:
        raise click.ClickException(sentence)
    click.echo(sentence)


@mturk.command("publish")
@click.option("--batch", "batch_id", type=int, required=True, help="The batch id.")
@click.option("--yes", is_flag=True, help="Publish without asking (production included).")
def publish_batch(batch_id, yes):
    """Show the cost, then publish every MTurk HIT of the batch not yet created (a second run creates nothing)."""
    batch = _batch(batch_id)
    the_plan = publish.plan(batch, confirm_production=True)
    whole, remaining = the_plan.whole, the_plan.remaining
    click.echo(
        f"Batch {batch.id} ({batch.name}) to {the_plan.where}: {whole.hits} HITs x {batch.assignments_per_hit} "
        f"assignments x ${batch.reward:.2f} = ${whole.rewards:.2f} + ${whole.fees:.2f} MTurk fee "
        f"= ${whole.total:.2f} for {whole.mturk_hits} MTurk HITs."
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
        result = publish.publish(batch, confirm_production=True, progress=_progress)
    except MTurkError as error:
        raise click.ClickException(
            f"{error} Run the command again to resume: HITs already created are kept."
        ) from error
    click.echo(result.summary(the_plan.where))


@mturk.command("expire")
@click.option("--batch", "batch_id", type=int, required=True, help="The batch id.")
def expire(batch_id):
    """Expire every live MTurk HIT of the batch now (accepted assignments may still be submitted)."""
    batch = _batch(batch_id)
    try:
        outcome = lifecycle.expire(batch, progress=_progress)
    except MTurkError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"{outcome.done} MTurk HITs expired, {outcome.skipped} had expired already.")
    _fail_on(outcome)


@mturk.command("extend")
@click.option("--batch", "batch_id", type=int, required=True, help="The batch id.")
@click.option(
    "--assignments", "more", type=click.IntRange(1, 100), required=True, help="Assignments to add to every HIT."
)
@click.option("--yes", is_flag=True, help="Do not ask (production included).")
def extend(batch_id, more, yes):
    """Add assignments to every HIT: onto its MTurk HITs up to 9 each, the rest as new MTurk HITs."""
    batch = _batch(batch_id)
    if not yes:
        click.confirm(f"Add {more} assignments to each of the batch's {batch.hits.count()} HITs?", abort=True)
    try:
        outcome = lifecycle.extend(batch, more, confirm_production=True)
    except MTurkError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"{outcome.done} MTurk HITs extended or created.")
    _fail_on(outcome)


@mturk.command("delete-finished")
@click.option("--batch", "batch_id", type=int, required=True, help="The batch id.")
def delete_finished(batch_id):
    """Delete the batch's MTurk HITs that are finished (Reviewable, every assignment decided)."""
    batch = _batch(batch_id)
    try:
        outcome = lifecycle.delete_finished(batch)
    except MTurkError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"{outcome.done} MTurk HITs deleted, {outcome.skipped} not finished yet.")
    _fail_on(outcome)


@mturk.command("rotate-credentials")
def rotate_credentials():
    """Re-encrypt every stored AWS secret with the first key of MTURK_CREDENTIALS_KEY (docs/configuration.md)."""
    try:
        rotated, unreadable = credentials.rotate()
    except MTurkError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"{rotated} key pairs re-encrypted with the first key.")
    if unreadable:
        raise click.ClickException(
            f"{unreadable} key pairs no listed key can read: their organizations must enter them again."
        )
