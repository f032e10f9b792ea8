# Generated from a schema diff on 2026-11-25 22:03.
from peewee import *


def up(migrator, db):
    migrator.migrate(migrator.add_column("batch", "class_ids", JSONField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("batch", "class_ids"))
