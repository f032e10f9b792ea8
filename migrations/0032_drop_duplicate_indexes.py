# Two foreign-key indexes that a unique index already leads with: image (dataset_id) beside (dataset_id, key), and
# candidate (image_class_id) beside (image_class_id, image_id). Every import and build kept both for nothing; the
# planner uses the unique ones (issue 21).
from peewee import *

INDEXES = (("image", "dataset_id"), ("candidate", "image_class_id"))


def up(migrator, db):
    for table, column in INDEXES:
        migrator.migrate(migrator.drop_index(table, f"{table}_{column}"))


def down(migrator, db):
    for table, column in INDEXES:
        migrator.migrate(migrator.add_index(table, (column,)))
