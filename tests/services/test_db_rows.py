"""db.copy_rows: plain rows appended at each engine's fastest (COPY on PostgreSQL), values as they were given."""

from __future__ import annotations

from freelunch.db import copy_rows, database


def test_copy_rows_keeps_nulls_booleans_and_awkward_text(app):
    with app.app_context(), database.connection_context():
        database.execute_sql("CREATE TEMPORARY TABLE copied (n integer, x double precision, ok boolean, note text)")
        rows = [
            (1, 0.25, True, "plain"),
            (2, None, False, "tab\there, new\nline, back\\slash and \\N"),
            (3, -1e-9, None, None),
        ]
        with database.atomic():
            copy_rows("copied", ["n", "x", "ok", "note"], rows)
        stored = database.execute_sql("SELECT n, x, ok, note FROM copied ORDER BY n").fetchall()
        database.execute_sql("DROP TABLE copied")
    assert [(n, x, None if ok is None else bool(ok), note) for n, x, ok, note in stored] == rows
