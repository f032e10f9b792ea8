"""The ``freelunch`` command: Flask's CLI over the app factory, plus the project's commands.

Every command of the project is in this package and joins the group here, by name: ``labels`` (labels.py),
``mturk`` (mturk.py, with mturk_publish.py); ``db``, ``user``, ``demo``, ``classes`` and ``export`` below.
"""

from __future__ import annotations

import json

import click
from flask.cli import FlaskGroup

from .. import create_app
from ..db import database
from ..presets import PRESETS
from ..services import demo as demo_service
from ..services.accounts import passwords
from ..services.accounts.users import create_user
from ..services.errors import RequesterError
from ..services.exports import files as export_files
from ..services.exports.kinds import KINDS
from ..services.imports.classes import import_preset
from ..services.review.of_record import RecordError
from ..services.schema import make_migration, upgrade
from .common import batch_or_fail, dataset_or_fail
from .labels import labels
from .mturk import mturk as mturk_commands


class Commands(FlaskGroup):
    """Flask's CLI group, where a RequesterError from any command is its one-line error (exit code 1), never a
    traceback: so a command calls a service and lets what the requester can fix speak for itself."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except RequesterError as error:
            raise click.ClickException(str(error)) from error


@click.group(cls=Commands, create_app=lambda: create_app())
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
    problem = passwords.problem(password, email)
    if problem:
        raise click.ClickException(f"That password is refused: {problem}")
    created = create_user(email, password, name, is_admin=admin)
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


@cli.group()
def classes():
    """A dataset's classes."""


@classes.command("import")
@click.option(
    "--preset",
    type=click.Choice(list(PRESETS)),
    required=True,
    help="A class list that ships with Freelunch (no file needed).",
)
@click.option("--dataset", "dataset_id", type=int, required=True, help="The dataset id.")
def classes_import(preset, dataset_id):
    """Import a built-in class list into a dataset, as the dataset page's button does."""
    report = import_preset(dataset_or_fail(dataset_id), PRESETS[preset])
    click.echo(report.summary())


@cli.command("export")
@click.option("--batch", "batch_id", type=int, required=True, help="The batch id.")
@click.option(
    "--format",
    "kind",
    type=click.Choice(list(KINDS)),
    default="seed-jsonl",
    show_default=True,
    help="Any kind the Exports tab offers (docs/review.md).",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, writable=True), help="File to write; stdout if omitted."
)
def export(batch_id, kind, output):
    """Write one of a batch's exports: the file the Exports tab makes, by the same writer.

    A kind that carries labels writes the batch's labels of record (chosen on its Results tab) and names them.
    """
    batch = batch_or_fail(batch_id)
    chosen = KINDS[kind]
    mode = {"mode": "wb"} if chosen.binary else {"mode": "w", "encoding": "utf-8"}
    try:
        with click.open_file(output or "-", **mode) as out:
            rows = chosen.write(batch, out, export_files.params(chosen, batch), lambda *report: None)
    except RecordError as error:
        raise click.ClickException(str(error)) from error
    except OSError as error:  # a folder that does not exist, no room left, ...
        raise click.ClickException(f"{output}: cannot be written ({error.strerror or error}).") from error
    click.echo(f"Wrote {rows} {chosen.rows}.", err=True)


cli.add_command(mturk_commands)
