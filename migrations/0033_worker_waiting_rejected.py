# Each worker's MTurk assignments that do not count, kept per batch beside 0030's counted ones, so the workers lists
# show every worker who did work in a batch: batch_worker.waiting (MTurk has not confirmed them yet, nor rejected
# them) and batch_worker.rejected (MTurk rejected them), by services/review/counted.py's rule, as 0030 keeps
# batch_count's. Every assignment of a batch is then in exactly one of a worker's assignments (counted), waiting and
# rejected; a worker with none of the three keeps a row of zeros, which the lists leave out (as 0030's rows of zeros).
#
# 0030's triggers that move an assignment in or out of batch_worker (an assignment inserted, changed or deleted, a
# HIT deleted) add the two columns in the same statement, as they add the others: the same rows, the same order, the
# existing columns' expressions unchanged (each new body is the old one with its batch_worker statement widened; the
# build asserts the old statement is there once). On PostgreSQL that is the functions (0030's, as 0031 extended them),
# replaced in place; on SQLite the four row triggers, dropped and made again. 0030's triggers on page_tally and
# assignment_controls write only the counted sums: they insert the new columns' default (0) and need no change.
import importlib.util
from pathlib import Path

from peewee import *


def _load(name: str, file: str):
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(file))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


m0030 = _load("m0030", "0030_hit_and_worker_counts.py")
m0031 = _load("m0031", "0031_worker_page_times.py")

COUNTS, WAITING, _int = m0030.COUNTS, m0030.WAITING, m0030._int
REJECTED = "({0}.source = 'mturk' AND coalesce({0}.mturk_status = 'Rejected', false))"
NEW_COLUMNS = ("waiting", "rejected")
WORKER_COLUMNS = (*m0030.WORKER_SUMS, *NEW_COLUMNS)


def _once(text: str, old: str, new: str) -> str:
    """``text`` with ``old`` (there exactly once) replaced by ``new``."""
    assert text.count(old) == 1, old
    return text.replace(old, new)


def _widen(rows: str, table: str, sign: str, anchor: str, postgres: bool) -> str:
    """0030's rows of an assignment's contributions to its worker, with its waiting and rejected (signed) added
    before ``anchor`` (the rows' FROM)."""
    extra = f", {sign}{_int(WAITING.format(table), postgres)}, {sign}{_int(REJECTED.format(table), postgres)}"
    return _once(rows, anchor, extra + anchor)


# --- PostgreSQL: 0030's functions (as 0031 left them) with their batch_worker upserts widened ------------------------


def _worker_upsert_pg(rows: str) -> str:
    """0030's batch_worker upsert (``_upserts_pg``'s last statement) over WORKER_COLUMNS."""
    columns, sums = ", ".join(WORKER_COLUMNS), ", ".join(f"sum({c})" for c in WORKER_COLUMNS)
    sets = ", ".join(f"{c} = w.{c} + excluded.{c}" for c in WORKER_COLUMNS)
    return f"""INSERT INTO batch_worker AS w (batch_id, worker_id, {columns})
    SELECT batch_id, worker_id, {sums} FROM ({rows}) d (batch_id, worker_id, {columns})
    GROUP BY 1, 2 HAVING {" OR ".join(f"sum({c}) <> 0" for c in WORKER_COLUMNS)} ORDER BY 1, 2
    ON CONFLICT (batch_id, worker_id) DO UPDATE SET {sets};"""


def _old_worker_upsert_pg(added: dict[str, str]) -> str:
    full = m0030._upserts_pg(added)
    return full[full.index("INSERT INTO batch_worker") :]


def _assignment_worker_rows_pg(table: str, sign: str) -> str:
    return _widen(m0030._assignment_rows_pg(table, sign)["worker"], table, sign, f" FROM {table} JOIN hit h", True)


_OLD_WORKER_ROWS = _widen(m0030._OLD["worker"], "OLD", "-", " FROM hit h", True)
# 0030's rows of a HIT's assignments about to go (in _HIT_GONE_PG).
_HIT_WORKER_ROWS = (
    f"SELECT OLD.batch_id, a.worker_id, -{_int(COUNTS.format('a'), True)},"
    f" -{_int(COUNTS.format('a') + ' AND a.done', True)}, "
    + m0030._answer_columns("-", COUNTS.format("a"))
    + " FROM assignment a"
    + m0030._answers_pg("a")
    + " WHERE a.hit_id = OLD.id"
)
_ADDED_WORKER, _REMOVED_WORKER = _assignment_worker_rows_pg("added", ""), _assignment_worker_rows_pg("removed", "-")
_ASSIGNMENTS = {k: f"{m0030._ADDED[k]} UNION ALL {m0030._REMOVED[k]}" for k in m0030._ADDED}
# (function, its batch_worker statement as 0030 wrote it, the same widened)
_PG_CHANGES = (
    ("hit_worker_counts_assignments_add", _old_worker_upsert_pg(m0030._ADDED), _worker_upsert_pg(_ADDED_WORKER)),
    (
        "hit_worker_counts_assignments_change",
        _old_worker_upsert_pg(_ASSIGNMENTS),
        _worker_upsert_pg(f"{_ADDED_WORKER} UNION ALL {_REMOVED_WORKER}"),
    ),
    ("hit_worker_counts_assignment_remove", _old_worker_upsert_pg(m0030._OLD), _worker_upsert_pg(_OLD_WORKER_ROWS)),
    (
        "hit_worker_counts_hit_remove",
        m0030._worker_upsert_pg(_HIT_WORKER_ROWS),
        _worker_upsert_pg(_widen(_HIT_WORKER_ROWS, "a", "-", " FROM assignment a", True)),
    ),
)


def _definition(name: str) -> str:
    """The function as it is before this migration (0031's, else 0030's), as a CREATE OR REPLACE."""
    for statement in (*m0031.POSTGRES, *m0030.POSTGRES):
        for create in ("CREATE OR REPLACE FUNCTION", "CREATE FUNCTION"):
            if statement.startswith(f"{create} {name}()"):
                return statement.replace(create, "CREATE OR REPLACE FUNCTION", 1)
    raise LookupError(name)


POSTGRES_DOWN = [_definition(name) for name, _, _ in _PG_CHANGES]
POSTGRES = [_once(_definition(name), old, new) for name, old, new in _PG_CHANGES]

# --- SQLite: 0030's four row triggers on assignment and hit, made again ---------------------------------------------


def _worker_sqlite(batch: str, worker: str, values: list[str]) -> str:
    """0030's ``_worker_sqlite`` over WORKER_COLUMNS."""
    sets = ", ".join(f"{c} = {c} + excluded.{c}" for c in WORKER_COLUMNS)
    return f"""INSERT INTO batch_worker (batch_id, worker_id, {", ".join(WORKER_COLUMNS)})
    SELECT {batch}, {worker}, {", ".join(values)} WHERE {batch} IS NOT NULL
    ON CONFLICT (batch_id, worker_id) DO UPDATE SET {sets};"""


def _assignment_sqlite(row: str, sign: str) -> str:
    """0030's ``_assignment_sqlite`` with its batch_worker statement widened."""
    counts = COUNTS.format(row)
    controls = f"(SELECT {{0}} FROM assignment_controls WHERE assignment_id = {row}.id)"
    tallies = f"(SELECT sum({{0}}) FROM page_tally WHERE assignment_id = {row}.id)"
    values = (
        [f"{sign}{counts}", f"{sign}({counts} AND {row}.done)"]
        + [f"{sign}{counts} * coalesce({controls.format(c)}, 0)" for c in m0030.CONTROL_SUMS]
        + [f"{sign}{counts} * coalesce({tallies.format(m0030._tally_value(c))}, 0)" for c in m0030.TALLY_SUMS]
    )
    batch, worker = m0030.OF_HIT.format(row), f"{row}.worker_id"
    return _once(
        m0030._assignment_sqlite(row, sign),
        m0030._worker_sqlite(batch, worker, values),
        _worker_sqlite(batch, worker, values + [f"{sign}{WAITING.format(row)}", f"{sign}{REJECTED.format(row)}"]),
    )


# 0030's statement takes out only the HIT's assignments that count: a second one takes out the others.
_HIT_GONE_SQLITE = (
    m0030._HIT_GONE_SQLITE
    + f"""
    INSERT INTO batch_worker (batch_id, worker_id, {", ".join(WORKER_COLUMNS)})
    SELECT OLD.batch_id, a.worker_id, {", ".join("0" for _ in m0030.WORKER_SUMS)},
        -sum({WAITING.format("a")}), -sum({REJECTED.format("a")})
    FROM assignment a
    WHERE a.hit_id = OLD.id AND NOT {COUNTS.format("a")} AND EXISTS (SELECT 1 FROM batch WHERE id = OLD.batch_id)
    GROUP BY a.worker_id
    ON CONFLICT (batch_id, worker_id) DO UPDATE SET {", ".join(f"{c} = {c} + excluded.{c}" for c in NEW_COLUMNS)};"""
)


def _sqlite_triggers(assignment, hit_gone: str) -> list[str]:
    """0030's definitions of the four triggers, with ``assignment`` (row, sign) -> its statements."""
    return [
        "CREATE TRIGGER hit_worker_counts_assignments_add AFTER INSERT ON assignment BEGIN"
        f" {assignment('NEW', '')} END",
        "CREATE TRIGGER hit_worker_counts_assignments_change AFTER UPDATE OF hit_id, worker_id, source, mturk_status,"
        " done ON assignment BEGIN"
        f" {assignment('OLD', '-')} {assignment('NEW', '')} END",
        "CREATE TRIGGER hit_worker_counts_assignment_remove BEFORE DELETE ON assignment BEGIN"
        f" {assignment('OLD', '-')} END",
        f"CREATE TRIGGER hit_worker_counts_hit_remove BEFORE DELETE ON hit BEGIN {hit_gone} END",
    ]


SQLITE_TRIGGERS = (
    "hit_worker_counts_assignments_add",
    "hit_worker_counts_assignments_change",
    "hit_worker_counts_assignment_remove",
    "hit_worker_counts_hit_remove",
)
SQLITE = _sqlite_triggers(_assignment_sqlite, _HIT_GONE_SQLITE)
SQLITE_DOWN = [s for s in m0030.SQLITE if any(s.startswith(f"CREATE TRIGGER {name} ") for name in SQLITE_TRIGGERS)]
assert len(SQLITE_DOWN) == len(SQLITE_TRIGGERS)


def _backfill(db) -> None:
    """Every (batch, worker)'s waiting and rejected assignments now, into its row (made when it has none)."""

    def count(condition: str) -> str:
        return f"SUM(CASE WHEN {condition.format('a')} THEN 1 ELSE 0 END)"

    db.execute_sql(
        f"INSERT INTO batch_worker (batch_id, worker_id, {', '.join(WORKER_COLUMNS)})"
        f" SELECT h.batch_id, a.worker_id, {', '.join('0' for _ in m0030.WORKER_SUMS)},"
        f" {count(WAITING)}, {count(REJECTED)}"
        f" FROM assignment a JOIN hit h ON h.id = a.hit_id WHERE NOT {COUNTS.format('a')}"
        " GROUP BY h.batch_id, a.worker_id"
        " ON CONFLICT (batch_id, worker_id) DO UPDATE SET waiting = excluded.waiting, rejected = excluded.rejected"
    )


def up(migrator, db):
    # Added in place (peewee's migrator would rebuild the table on SQLite, under the triggers that name it).
    for column in NEW_COLUMNS:
        db.execute_sql(f"ALTER TABLE batch_worker ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0")
    _backfill(db)
    if m0030._postgres(db):
        for statement in POSTGRES:
            db.execute_sql(statement)
    else:
        for trigger in SQLITE_TRIGGERS:
            db.execute_sql(f"DROP TRIGGER {trigger}")
        for statement in SQLITE:
            db.execute_sql(statement)


def down(migrator, db):
    if m0030._postgres(db):
        for statement in POSTGRES_DOWN:
            db.execute_sql(statement)
    else:
        for trigger in SQLITE_TRIGGERS:
            db.execute_sql(f"DROP TRIGGER {trigger}")
        for statement in SQLITE_DOWN:
            db.execute_sql(statement)
    for column in NEW_COLUMNS:
        db.execute_sql(f"ALTER TABLE batch_worker DROP COLUMN {column}")
