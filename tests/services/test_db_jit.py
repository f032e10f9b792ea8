"""PostgreSQL connections run without JIT (db.POSTGRES_OPTIONS): short queries planned on stale statistics
compiled for longer than they ran."""

from __future__ import annotations

import pytest

from freelunch.db import database


@pytest.mark.postgres_only
def test_postgres_connections_do_not_jit(app):
    with app.app_context(), database.connection_context():
        assert database.execute_sql("SHOW jit").fetchone()[0] == "off"
