"""Migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from playhouse.migrate import SchemaMigrator
from playhouse.migrations import Migration

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


def test_migration_0032_drops_the_indexes_a_unique_one_leads_with_and_goes_back(app):
    migration = next(m for m in Migration.load_directory(str(MIGRATIONS)) if m.name.startswith("0032_")).load()
    migrator = SchemaMigrator.from_database(database.obj)

    def single_column(table):
        return {tuple(i.columns) for i in database.get_indexes(table) if len(i.columns) == 1}

    migration.down(migrator, database.obj)
    assert ("dataset_id",) in single_column("image") and ("image_class_id",) in single_column("candidate")
    assert drift(database)
    migration.up(migrator, database.obj)
    assert ("dataset_id",) not in single_column("image") and ("image_class_id",) not in single_column("candidate")
    assert not drift(database)
