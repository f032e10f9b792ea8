"""The one database handle, bound at start-up to whatever DATABASE_URL names."""
from __future__ import annotations

from pathlib import Path

import peewee
from playhouse.db_url import connect

database = peewee.DatabaseProxy()

# WAL lets the dashboard read while a flush writes; busy_timeout makes a
# writer wait for the lock instead of failing at once.
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "synchronous": "normal",
    "busy_timeout": 10_000,
    "cache_size": -64_000,
}


def open_database(url: str) -> peewee.Database:
    """Create the peewee database for a URL and bind the proxy to it."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        db = connect(url, pragmas=SQLITE_PRAGMAS)
    else:
        db = connect(url.replace("postgresql://", "postgres://", 1))
    database.initialize(db)
    return db


def is_sqlite() -> bool:
    return isinstance(database.obj, peewee.SqliteDatabase)
