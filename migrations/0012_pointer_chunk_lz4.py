# Written by hand: PostgreSQL only, and no model change (peewee does not describe column compression).
# The pointer events (~4.4 KB of JSON a chunk) are TOAST-compressed on insert; lz4 costs the
# server about a third less CPU per flushed bulk than the default pglz (docs/performance.md).
# Needs PostgreSQL >= 14 built with lz4; elsewhere this does nothing. Existing rows keep pglz.
from peewee import *


def _lz4_available(db) -> bool:
    if not isinstance(getattr(db, "obj", db), PostgresqlDatabase):  # db may be the app's proxy
        return False
    row = db.execute_sql("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'").fetchone()
    return bool(row) and "lz4" in row[0]


def up(migrator, db):
    if _lz4_available(db):
        db.execute_sql("ALTER TABLE pointer_chunk ALTER COLUMN events SET COMPRESSION lz4")


def down(migrator, db):
    if _lz4_available(db):
        db.execute_sql("ALTER TABLE pointer_chunk ALTER COLUMN events SET COMPRESSION pglz")
