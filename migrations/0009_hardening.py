# Generated from a schema diff on 2026-12-01 08:55 (issue 11: storage quota, manual worker exclusion,
# stored bytes per image, revocable sessions, expiring invites).
import datetime as dt

from peewee import *


def _week_from_now():
    return dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=7)


def up(migrator, db):
    migrator.migrate(migrator.add_column("organization", "storage_quota_mb", IntegerField(null=True)))
    # Added nullable, filled, then made NOT NULL: the migrator cannot bind a JSON default itself.
    migrator.migrate(migrator.add_column("batch", "excluded_workers", JSONField(null=True)))
    db.execute_sql("UPDATE batch SET excluded_workers = '[]'")
    migrator.migrate(migrator.add_not_null("batch", "excluded_workers"))
    migrator.migrate(migrator.add_column("image", "stored_bytes", BigIntegerField(default=0)))
    migrator.migrate(migrator.add_column("user", "session_version", IntegerField(default=0)))
    migrator.migrate(
        migrator.add_column("invite", "expires_at", DateTimeField(default=_week_from_now))
    )  # open invites: a week from now


def down(migrator, db):
    migrator.migrate(migrator.drop_column("invite", "expires_at"))
    migrator.migrate(migrator.drop_column("user", "session_version"))
    migrator.migrate(migrator.drop_column("image", "stored_bytes"))
    migrator.migrate(migrator.drop_column("batch", "excluded_workers"))
    migrator.migrate(migrator.drop_column("organization", "storage_quota_mb"))
