"""The one database handle, bound at start-up to whatever DATABASE_URL names."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
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


# Requests and jobs open and close a connection each; a pool makes "close" a
# return to the pool, so a page view does not pay for a new connection and
# its PRAGMAs (about 0.75 ms of a 5 ms render on SQLite).
POOL = {"max_connections": 32, "stale_timeout": 300}
# No JIT: our queries are short, and a plan costed on stale statistics (a bulk load before autovacuum's ANALYZE)
# crosses jit_above_cost and compiles for longer than it runs. Deriving a submitted page's votes spent 182 of its
# 245 ms compiling at ImageNet's size (EXPLAIN ANALYZE; 40 ms without): 65 pages a second instead of 1,000.
POSTGRES_OPTIONS = "-c jit=off"


def _private_file(path: Path) -> None:
    """Create the SQLite file readable by its owner only (SQLite gives its -wal and -shm files the same mode)."""
    if str(path) in ("", ":memory:"):
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    path.chmod(0o600)


def open_database(url: str) -> peewee.Database:
    """Create the (pooled) peewee database for a URL and bind the proxy to it."""
    if url.startswith("sqlite:///"):
        _private_file(Path(url.removeprefix("sqlite:///")))
        # Pooled connections move between threads (one at a time), so sqlite3 must allow it.
        db = connect(
            url.replace("sqlite://", "sqlite+pool://", 1), pragmas=SQLITE_PRAGMAS, check_same_thread=False, **POOL
        )
    else:
        db = connect(
            url.replace("postgresql://", "postgres://", 1).replace("postgres://", "postgres+pool://", 1),
            options=POSTGRES_OPTIONS,
            **POOL,
        )
    database.initialize(db)
    return db


def is_sqlite() -> bool:
    return isinstance(database.obj, peewee.SqliteDatabase)


def write_transaction():
    """A transaction that takes the write lock at its start on SQLite (BEGIN IMMEDIATE).

    A plain SQLite transaction that reads, then writes, fails at once with
    "database is locked" when another writer committed in between (busy_timeout
    cannot help: its snapshot is stale); one that locks first just waits.
    PostgreSQL's row locks need nothing of the kind.
    """
    return database.atomic("IMMEDIATE") if is_sqlite() else database.atomic()


def insert_rows(statement: str, rows: list[tuple]) -> None:
    """Run ``INSERT INTO t (cols) VALUES {values} ...`` for many rows, each engine at its fastest.

    peewee's insert_many spends more time writing SQL for a bulk than either engine
    spends storing it (a 1.3 M-row manifest: 4 of every 10 seconds). SQLite, in
    process, runs one prepared single-row statement per row; PostgreSQL gets one
    multi-row VALUES list (psycopg2's execute_values), one round trip a bulk.
    ``{values}`` stands where the VALUES list goes; runs in the caller's transaction.
    """
    if not rows:
        return
    with peewee.__exception_wrapper__:  # peewee's error classes, as for its own queries
        cursor = database.cursor()
        if is_sqlite():
            cursor.executemany(statement.format(values="VALUES (" + ", ".join("?" * len(rows[0])) + ")"), rows)
        else:
            from psycopg2.extras import execute_values

            execute_values(cursor, statement.format(values="VALUES %s"), rows, page_size=len(rows))


class CopyText(str):
    """Rows in COPY's text format (``copy_text``), made before they are written: a caller can make them away from
    the database, e.g. in a thread while the database stores the rows before them. PostgreSQL only."""


def copy_text(rows: list[tuple]) -> CopyText:
    """``rows`` in COPY's text format, for ``copy_rows`` and ``staged_rows`` on PostgreSQL."""
    return CopyText("".join("\t".join(map(_copy_value, row)) + "\n" for row in rows))


def _copy(cursor, statement: str, text: str) -> None:
    """COPY ``text`` in one piece: psycopg2 reads the file 8 KB at a time by default and takes the GIL back after
    each piece, which waits up to the interpreter's switch interval (5 ms) while another thread computes."""
    cursor.copy_expert(statement, io.StringIO(text), size=max(len(text), 8192))


def copy_rows(table: str, columns: list[str], rows: list[tuple] | CopyText) -> None:
    """Append plain rows (no conflict handling) to ``table``, each engine at its fastest: PostgreSQL's COPY, whose
    text format the server parses faster than VALUES lists and psycopg2 writes faster than it quotes them (a fit's
    130,000 labels: 5.2 s through ``insert_rows``); SQLite's prepared insert. ``rows`` may be ``copy_text``'s on
    PostgreSQL. Runs in the caller's transaction."""
    if not rows:
        return
    if is_sqlite():
        insert_rows(f'INSERT INTO "{table}" ({", ".join(columns)}) {{values}}', _tuples(rows))
        return
    text = rows if isinstance(rows, CopyText) else copy_text(rows)
    with peewee.__exception_wrapper__:
        _copy(database.cursor(), f'COPY "{table}" ({", ".join(columns)}) FROM STDIN', text)


def _tuples(rows: list[tuple] | CopyText) -> list[tuple]:
    if isinstance(rows, CopyText):
        raise TypeError("rows in COPY's text format are for PostgreSQL; SQLite takes the tuples")
    return rows


def upsert_rows(table: str, columns: list[str], rows: list[tuple] | CopyText, conflict: str) -> None:
    """``INSERT INTO table (columns) VALUES … conflict`` for many rows (``conflict``: the ON CONFLICT clause), each
    engine at its fastest. On PostgreSQL the rows go by COPY into a temporary table that the INSERT reads in their
    order: psycopg2 quoting a VALUES list and the server parsing it took twice as long (a manifest import's images
    and candidacies). SQLite takes ``insert_rows``' prepared statement. Runs in the caller's transaction."""
    names = ", ".join(columns)
    statement = f'INSERT INTO "{table}" ({names}) {{values}} {conflict}'
    if not rows:
        return
    if is_sqlite():
        insert_rows(statement, _tuples(rows))
        return
    with staged_rows(table, columns, rows) as staged, peewee.__exception_wrapper__:
        database.cursor().execute(statement.format(values=f"SELECT {names} FROM {staged} ORDER BY ctid"))  # as given


@contextlib.contextmanager
def staged_rows(table: str, columns: list[str], rows: list[tuple] | CopyText) -> Iterator[str]:
    """PostgreSQL only: ``rows`` (or ``copy_text``'s) copied (COPY) into a temporary table of ``table``'s
    ``columns``, whose name the context gives and which it drops at its end; ``ORDER BY ctid`` reads the rows in
    their order. In the caller's transaction (in one of its own outside one)."""
    names = ", ".join(columns)
    staged = f"{table}_staged"
    text = rows if isinstance(rows, CopyText) else copy_text(rows)
    if not database.in_transaction():
        with database.atomic(), staged_rows(table, columns, text) as made:
            yield made
        return
    with peewee.__exception_wrapper__:
        cursor = database.cursor()
        # Under a savepoint, so that a failure takes the table's creation back; each pair of statements is one round
        # trip (a manifest import makes a table a chunk, and its connection waits out every trip).
        cursor.execute(
            f'SAVEPOINT {staged}; CREATE TEMPORARY TABLE {staged} AS SELECT {names} FROM "{table}" WITH NO DATA'
        )
        try:
            _copy(cursor, f"COPY {staged} ({names}) FROM STDIN", text)
            yield staged
        except BaseException:
            cursor.execute(f"ROLLBACK TO SAVEPOINT {staged}; RELEASE SAVEPOINT {staged}")
            raise
        cursor.execute(f"DROP TABLE {staged}; RELEASE SAVEPOINT {staged}")


def _copy_value(value) -> str:
    if value is None:
        return "\\N"
    if type(value) is int:  # most values (ids, sizes), with nothing to escape; a bool is not one
        return str(value)
    if isinstance(value, (bytes, memoryview)):  # bytea's hex input, its backslash escaped for COPY
        return "\\\\x" + bytes(value).hex()
    text = str(value)  # True/False, nan and inf are what PostgreSQL's boolean and float input read
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text
