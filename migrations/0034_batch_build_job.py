# A batch keeps the RQ job that builds its HITs (build_job_id), so a build whose job RQ will never run (its worker
# killed hard, or the job lost from Redis: services/jobs.gone) is settled failed instead of building forever, and why
# it failed (build_error), shown beside "Build the HITs again" (services/batches/builder.py, settle).
# Added in place (peewee's migrator would rebuild the batch table on SQLite for the NOT NULL column, under the
# triggers that name it).
from peewee import *


def up(migrator, db):
    db.execute_sql("ALTER TABLE batch ADD COLUMN build_job_id VARCHAR(64)")
    db.execute_sql("ALTER TABLE batch ADD COLUMN build_error TEXT NOT NULL DEFAULT ''")


def down(migrator, db):
    for column in ("build_job_id", "build_error"):
        db.execute_sql(f"ALTER TABLE batch DROP COLUMN {column}")
