# Generated from a schema diff on 2026-11-25 19:31.
from peewee import *


def up(migrator, db):
    migrator.migrate(migrator.add_index("candidate", ("role", "image_class_id", "image_id")))


def down(migrator, db):
    migrator.migrate(migrator.drop_index("candidate", "candidate_role_image_class_id_image_id"))
