# The dataset's images list sorted by width, height or file size reads its page from an index (issue 21).
from peewee import *

COLUMNS = ("width", "height", "stored_bytes")


def up(migrator, db):
    for column in COLUMNS:
        migrator.migrate(migrator.add_index("image", ("dataset_id", column, "id")))


def down(migrator, db):
    for column in COLUMNS:
        migrator.migrate(migrator.drop_index("image", f"image_dataset_id_{column}_id"))
