# The records of images that did not load, indexed alone: the overview and the batch list count a batch's HITs
# short of images from them without reading every record (issue 21).
from peewee import *


def up(migrator, db):
    db.execute_sql("CREATE INDEX imagerecord_dropped_page ON image_record (page_id) WHERE load_status = 'dropped'")


def down(migrator, db):
    db.execute_sql("DROP INDEX imagerecord_dropped_page")
