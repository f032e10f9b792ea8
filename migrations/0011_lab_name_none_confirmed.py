# Lab annotators' typed names beside their anonymised ids; pages submitted with no selection, confirmed.
from peewee import *


def up(migrator, db):
    migrator.migrate(migrator.add_column("assignment", "lab_name", CharField(max_length=128, null=True)))
    migrator.migrate(migrator.add_column("page_submission", "none_confirmed", BooleanField(default=False)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("page_submission", "none_confirmed"))
    migrator.migrate(migrator.drop_column("assignment", "lab_name"))
