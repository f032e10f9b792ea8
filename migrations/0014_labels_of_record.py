# One labels of record per batch (the chosen rule or the latest fit), and what votes a fit read (stale or not).
from peewee import *


def up(migrator, db):
    # Added nullable, filled, then made NOT NULL: the migrator cannot bind a JSON default itself.
    migrator.migrate(migrator.add_column("batch", "labels_of_record", JSONField(null=True)))
    db.execute_sql("UPDATE batch SET labels_of_record = '{}'")
    migrator.migrate(migrator.add_not_null("batch", "labels_of_record"))
    migrator.migrate(migrator.add_column("label_fit", "votes_version", CharField(max_length=64, default="")))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("label_fit", "votes_version"))
    migrator.migrate(migrator.drop_column("batch", "labels_of_record"))
