"""Write one bulk of pointer chunks in the caller's transaction, skipping those already stored.

Each engine at its fastest (bench/flush.py measures the alternatives):
- SQLite: one prepared ``INSERT ... ON CONFLICT DO NOTHING`` run by ``executemany``
  (in-process, so a row costs no round trip; peewee's insert_many spends more
  time writing SQL for a bulk than SQLite spends storing it);
- PostgreSQL: ``COPY`` into a temporary staging table, then one
  ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``: two statements a bulk, and COPY's
  text format costs the server less to parse than VALUES lists
  (``execute_values`` was slower, see docs/performance.md).
Either way the unique key ``(assignment, pageno, tab, seq)`` makes a re-delivered
batch a no-op, which is what lets the flusher acknowledge only after the commit.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import peewee

from ...db import database, is_sqlite

COLUMNS = "assignment_id, pageno, tab, seq, n_events, events, received_at"
Row = tuple[int, int, int, int, int, str, int]  # in COLUMNS' order

INSERT = f"INSERT INTO pointer_chunk ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
# Per connection, emptied at every commit: nothing is left behind by a rolled-back or
# crashed flush, and no catalog churn (ON COMMIT DROP would create a table per bulk).
# The events are compressed as the target column is (lz4 since migration 0012 where the
# server has it), so that INSERT ... SELECT moves them as they are.
STAGING = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS pointer_chunk_staging (assignment_id integer, pageno smallint,"
    " tab integer, seq integer, n_events integer, events text{}, received_at bigint) ON COMMIT DELETE ROWS"
)
EVENTS_COMPRESSION = (
    "SELECT attcompression FROM pg_attribute WHERE attrelid = 'pointer_chunk'::regclass AND attname = 'events'"
)
COPY = f"COPY pointer_chunk_staging ({COLUMNS}) FROM STDIN"
MOVE = f"INSERT INTO pointer_chunk ({COLUMNS}) SELECT {COLUMNS} FROM pointer_chunk_staging ON CONFLICT DO NOTHING"


def insert_chunks(rows: Sequence[Row]) -> None:
    """Insert the rows inside the current transaction (the caller commits); peewee's error classes on failure."""
    if not rows:
        return
    with peewee.__exception_wrapper__:  # peewee's error classes, as for its own queries
        cursor = database.cursor()
        if is_sqlite():
            cursor.executemany(INSERT, rows)
        else:
            cursor.execute(_staging(cursor))
            cursor.copy_expert(COPY, io.StringIO(copy_text(rows)))
            cursor.execute(MOVE)


_staging_sql: list[str] = []  # per process: one look-up of the target column's compression


def _staging(cursor) -> str:
    if not _staging_sql:
        cursor.execute(EVENTS_COMPRESSION)
        _staging_sql.append(STAGING.format(" COMPRESSION lz4" if cursor.fetchone()[0] == "l" else ""))
    return _staging_sql[0]


def copy_text(rows: Sequence[Row]) -> str:
    """The rows in COPY's text format."""
    return "".join(f"{a}\t{p}\t{t}\t{s}\t{n}\t{_escaped(e)}\t{r}\n" for a, p, t, s, n, e, r in rows)


def _escaped(text: str) -> str:
    # COPY's text format: a backslash starts an escape, tab and newline delimit. The
    # events are orjson's output, which escapes control characters, so only a
    # backslash can occur; the rest is for safety. Tests with ``in`` first: str.replace
    # copies, and a 4 KB batch usually has nothing to escape.
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    if "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text
