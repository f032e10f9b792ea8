# Generated from a schema diff on 2026-11-25 18:44.
from peewee import *


def up(migrator, db):
    migrator.migrate(migrator.add_column("assignment", "mturk_status", CharField(null=True, max_length=16)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("assignment", "mturk_status"))
