"""Migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from freelunch.db import database
from freelunch.models import MODELS
from freelunch.services.schema import MIGRATIONS, drift, upgrade


def test_migrations_leave_no_drift(app):
    assert not drift(database), drift(database)
    for model in MODELS:
        assert model.table_exists(), model


def test_upgrade_is_idempotent(app):
    assert upgrade(database) == []


def test_unique_page_submission_per_assignment_and_page(app):
    indexes = {tuple(i.columns): i.unique for i in database.get_indexes("page_submission")}
    assert indexes[("assignment_id", "pageno")] is True


def test_migrations_are_numbered_one_after_another():
    """Two engineers landing migrations the same day must not both take the next number: order would be by name."""
    numbers = [int(path.name[:4]) for path in sorted(MIGRATIONS.glob("[0-9]*.py"))]
    assert numbers == list(range(1, len(numbers) + 1)), numbers
