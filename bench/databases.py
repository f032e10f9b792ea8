"""The benchmarks' ``--database`` choice: ``sqlite`` (a fresh file), ``postgres`` (a fresh database) or a URL.

``postgres`` creates (and first drops) database ``bench_<name>`` on the server at
BENCH_POSTGRES_URL (default: the local one, as `make test-postgres` uses).
"""

from __future__ import annotations

import os
from pathlib import Path

POSTGRES_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def database_url(choice: str, directory: Path, name: str) -> str:
    if choice == "sqlite":
        return f"sqlite:///{directory / f'{name}.db'}"
    if choice == "postgres":
        return fresh_postgres(f"bench_{name}")
    return choice


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
