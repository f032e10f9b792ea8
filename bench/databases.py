"""The benchmarks' ``--database`` choice: ``sqlite`` (a fresh file), ``postgres`` (a fresh database) or a URL.

``postgres`` creates database ``bench_<name>_<run>`` on the server at BENCH_POSTGRES_URL (default: the local
one, as `make test-postgres` uses); the benchmark drops it at the end (``drop_url``).

Every database a benchmark creates is named by ``run_name``: ``bench_<name>_<run>``, where ``<run>`` is this
process's id and a random suffix, or BENCH_DATABASE_TAG when set (the smoke tests, tests/test_benches.py, set it
to find what a run left behind). A fixed name let two runs at once (two engineers, two CI runs on one server,
the smoke tests' two test workers) drop each other's database midway.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

POSTGRES_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
RUN = os.environ.get("BENCH_DATABASE_TAG") or f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
if not re.fullmatch(r"[a-z0-9_]{1,30}", RUN):
    raise SystemExit(f"BENCH_DATABASE_TAG must be 1-30 of a-z, 0-9 and _, not {RUN!r}")


def run_name(name: str) -> str:
    """The name of this run's database ``name``: ``bench_<name>_<run>``."""
    return f"bench_{name}_{RUN}"


def database_url(choice: str, directory: Path, name: str) -> str:
    """The URL of a fresh database: a SQLite file in ``directory``, this run's PostgreSQL database ``name``
    (``postgres``; drop it with ``drop_url``) or ``choice`` itself, an empty database's URL (left as it is)."""
    if choice == "sqlite":
        return f"sqlite:///{directory / f'{name}.db'}"
    if choice == "postgres":
        return fresh_postgres(run_name(name))
    return choice


def drop_url(choice: str, url: str) -> None:
    """Drop the database ``database_url(choice, ...)`` created (``postgres``); a file or a given URL stays."""
    if choice == "postgres":
        drop_postgres(url.rsplit("/", 1)[1])


def fresh_postgres(name: str, admin_url: str = POSTGRES_ADMIN_URL) -> str:
    import psycopg2

    connection = psycopg2.connect(admin_url.replace("postgres://", "postgresql://", 1))
    connection.autocommit = True
    connection.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    connection.cursor().execute(f"CREATE DATABASE {name}")
    connection.close()
    return admin_url.rsplit("/", 1)[0] + "/" + name


def connect(url: str):
    """A plain DB-API connection (sqlite3 or psycopg2) for the benchmarks' own checks, in autocommit."""
    if url.startswith("sqlite:///"):
        import sqlite3

        return sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None, timeout=30)
    import psycopg2

    connection = psycopg2.connect(url.replace("postgres://", "postgresql://", 1))
    connection.autocommit = True
    return connection


def scalar(url: str, sql: str):
    connection = connect(url)
    try:
        cursor = connection.cursor()
        cursor.execute(sql)
        return cursor.fetchone()[0]
    finally:
        connection.close()


def rows(url: str, sql: str) -> list[tuple]:
    connection = connect(url)
    try:
        cursor = connection.cursor()
        cursor.execute(sql)
        return cursor.fetchall()
    finally:
        connection.close()


def drop_postgres(name: str, admin_url: str = POSTGRES_ADMIN_URL) -> None:
    """Drop a benchmark's database (the benchmarks clean up after themselves)."""
    import psycopg2

    connection = psycopg2.connect(admin_url.replace("postgres://", "postgresql://", 1))
    connection.autocommit = True
    connection.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    connection.close()
