"""The ``freelunch`` command: Flask's CLI over the app factory, plus the project's commands."""
from __future__ import annotations

import json

import click
from flask.cli import FlaskGroup

from . import create_app
from .db import database
from .labels_cli import labels
from .models import Batch
from .mturk import publish_commands  # noqa: F401 (adds balance, publish, expire, ... to the mturk group)
from .mturk.commands import mturk as mturk_commands
from .services import demo as demo_service
from .services.exports import seed as export_service
from .services.accounts.users import AccountError, create_user
from .services.schema import make_migration, upgrade


@click.group(cls=FlaskGroup, create_app=lambda: create_app())
def cli():
    """Freelunch: crowdsourced image labelling that keeps the annotation byproducts."""


cli.add_command(labels)


@cli.group()
def db():
    """Database schema migrations."""


@db.command("upgrade")
def db_upgrade():
    """Apply the migrations that have not run yet."""
    applied = upgrade(database)
    click.echo("Applied: " + ", ".join(applied) if applied else "The database is up to date.")


@db.command("makemigration")
@click.argument("name")
def db_makemigration(name):
    """Write a migration for the difference between the models and the database."""
    path = make_migration(database, name)
    click.echo(f"Wrote {path}" if path else "The models and the database agree; nothing to write.")


@cli.group()
def user():
    """User accounts."""


@user.command("create")
@click.option("--email", prompt=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", default="")
@click.option("--admin", is_flag=True, help="Make the user a site admin.")
def user_create(email, password, name, admin):
    """Create a user; --admin for a site admin."""
    if len(password) < 8:
        raise click.ClickException("The password needs at least 8 characters.")
    try:
        created = create_user(email, password, name, is_admin=admin)
    except AccountError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Created {'site admin' if admin else 'user'} {created.email}.")


@cli.command("demo")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
def demo(as_json):
    """Create (once) a demo organization, dataset and batch, and print how to use them."""
    summary = demo_service.ensure_demo()
    if as_json:
        click.echo(json.dumps(summary))
        return
    click.echo("Worker links (each opens a HIT as an MTurk worker would):")
    for link in summary["worker_links"]:
        click.echo(f"  {link}")
    click.echo(f"Batch:      {summary['batch_id']}")
    click.echo(f"Dashboard:  {summary['dashboard_url']}")
    click.echo(f"Login:      {summary['login']['email']} / {summary['login']['password']}")
    click.echo(f"Site admin: {summary['admin']['email']} / {summary['admin']['password']}")


@cli.command("export")
@click.option("--batch", "batch_id", type=int, required=True, help="The batch id.")
@click.option("--format", "kind", type=click.Choice(["seed-jsonl"]), default="seed-jsonl", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="File to write; stdout if omitted.")
def export(batch_id, kind, output):
    """Write a batch's byproduct records, one JSON object per image per submitted page (docs/export.md)."""
    batch = Batch.get_or_none(Batch.id == batch_id)
    if batch is None:
        raise click.ClickException(f"There is no batch {batch_id}.")
    with click.open_file(output or "-", "w", encoding="utf-8") as out:
        count = export_service.write_seed_jsonl(batch, out)
    click.echo(f"Wrote {count} records.", err=True)


cli.add_command(mturk_commands)
