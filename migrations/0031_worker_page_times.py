# Each worker's time per image, kept per batch as a histogram, and 0030's page_tally triggers cheap when nothing changed
# (issue 21).
#
# batch_worker_time: per batch, worker and bucket, the pages (of assignments whose votes count, with images) whose time
# per image (page_ms / images) falls in the bucket. The workers list's median time per image read every page of its 50
# workers (15,000 page tallies at SCALE=0.1 and at full size, scattered over a table ten times larger: 3.9x from
# SCALE=0.01 to 1); it now reads their buckets. Keeping the exact median would read a worker's every page on each
# page submitted (a lab worker may do thousands in a batch); a bucket is one row added to or taken from, like 0030's
# sums. Buckets: below 1 ms; then each power of two of milliseconds cut into 32 equal steps, so a bucket's middle is
# within 1/64 (1.6 %) of any time in it (services/review/quality.py reads the middles). Integer arithmetic and
# comparisons only: SQLite's math functions are a compile option.
#
# The contributions follow 0030's batch_worker exactly (same statements, same cascades): a page tally's own (its
# batch_id), an assignment's pages when it changes or goes (its HIT's batch), a HIT's assignments' pages when it goes.
# On PostgreSQL they are added to 0030's trigger functions (one trigger call, not two), which are also given an early
# return when their statement changed no row: 0027's tally update on the pointer-chunk path usually updates none, and
# statement triggers fire all the same (0.20 -> 0.40 ms a chunk statement with 0030).
import importlib.util
from pathlib import Path

from peewee import *

_spec = importlib.util.spec_from_file_location("m0030", Path(__file__).with_name("0030_hit_and_worker_counts.py"))
m0030 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(m0030)  # 0030's trigger bodies, extended below and restored by down()

STEPS = 32  # buckets a power of two
OCTAVES = 30  # 2^30 ms (12 days) per image: every time above is in the top bucket
COUNTS = m0030.COUNTS


def bucket(x: str, postgres: bool) -> str:
    """The bucket of time per image ``x`` (ms, a float expression): 0 below 1 ms, else 1 + STEPS * e + step, for
    2^e <= x < 2^(e+1) and step the 1/STEPS of that octave x is in."""
    e = " + ".join(f"(x >= {2**j})" + ("::int" if postgres else "") for j in range(1, OCTAVES + 1))
    step = f"floor((x / (1 << e) - 1) * {STEPS})::int" if postgres else f"CAST((x / (1 << e) - 1) * {STEPS} AS INTEGER)"
    top = "least" if postgres else "min"
    return (
        f"(SELECT CASE WHEN x < 1 THEN 0 ELSE 1 + {STEPS} * e + {top}({STEPS - 1}, {step}) END"
        f" FROM (SELECT x, {e} AS e FROM (SELECT {x} AS x) v) w)"
    )


def _per_image(row: str, postgres: bool) -> str:
    return f"{row}.page_ms::float8 / {row}.images" if postgres else f"{row}.page_ms * 1.0 / {row}.images"


# --- PostgreSQL ----------------------------------------------------------------------------------------------------


def _times_upsert_pg(rows: str) -> str:
    """Add (batch_id, worker_id, bucket, pages) deltas to batch_worker_time, in key order."""
    return f"""INSERT INTO batch_worker_time AS w (batch_id, worker_id, bucket, pages)
    SELECT batch_id, worker_id, bucket, sum(pages) FROM ({rows}) d (batch_id, worker_id, bucket, pages)
    GROUP BY 1, 2, 3 HAVING sum(pages) <> 0 ORDER BY 1, 2, 3
    ON CONFLICT (batch_id, worker_id, bucket) DO UPDATE SET pages = w.pages + excluded.pages;"""


def _tally_times_pg(table: str, sign: str) -> str:
    """A page tally's bucket, as 0030's _tally_rows_pg: when its assignment counts and it, its HIT and the batch are
    there."""
    return (
        f"SELECT t.batch_id, a.worker_id, {bucket(_per_image('t', True), True)}, {sign}1"
        f" FROM {table} t JOIN assignment a ON a.id = t.assignment_id JOIN hit h ON h.id = a.hit_id"
        f" JOIN batch b ON b.id = t.batch_id WHERE t.images > 0 AND {COUNTS.format('a')}"
    )


def _assignment_times_pg(table: str, sign: str) -> str:
    """An assignment's pages' buckets, when it counts, under its HIT's batch (as 0030's assignment rows)."""
    return (
        f"SELECT h.batch_id, {table}.worker_id, {bucket(_per_image('t', True), True)}, {sign}1"
        f" FROM {table} JOIN hit h ON h.id = {table}.hit_id JOIN page_tally t ON t.assignment_id = {table}.id"
        f" WHERE t.images > 0 AND {COUNTS.format(table)}"
    )


_OLD_TIMES = (
    f"SELECT h.batch_id, OLD.worker_id, {bucket(_per_image('t', True), True)}, -1"
    " FROM hit h JOIN page_tally t ON t.assignment_id = OLD.id"
    f" WHERE h.id = OLD.hit_id AND t.images > 0 AND {COUNTS.format('OLD')}"
)
_HIT_TIMES = (
    f"SELECT OLD.batch_id, a.worker_id, {bucket(_per_image('t', True), True)}, -1"
    " FROM assignment a JOIN page_tally t ON t.assignment_id = a.id"
    f" WHERE a.hit_id = OLD.id AND t.images > 0 AND {COUNTS.format('a')}"
)
NOTHING_ADDED = "IF NOT EXISTS (SELECT FROM added) THEN\n        RETURN NULL;\n    END IF;"
NOTHING_REMOVED = NOTHING_ADDED.replace("added", "removed")


def _function(name: str, body: str, returns: str = "NULL") -> str:
    return m0030._function(name, body, returns).replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


_TALLY_ADDED, _TALLY_REMOVED = m0030._tally_rows_pg("added", ""), m0030._tally_rows_pg("removed", "-")
_ASSIGNMENTS = {k: f"{m0030._ADDED[k]} UNION ALL {m0030._REMOVED[k]}" for k in m0030._ADDED}
POSTGRES = [
    _function(
        "batch_worker_tally_add",
        NOTHING_ADDED
        + "\n    "
        + m0030._worker_upsert_pg(_TALLY_ADDED)
        + "\n    "
        + _times_upsert_pg(_tally_times_pg("added", "")),
    ),
    _function(
        "batch_worker_tally_change",
        NOTHING_ADDED
        + "\n    "
        + m0030._worker_upsert_pg(f"{_TALLY_ADDED} UNION ALL {_TALLY_REMOVED}")
        + "\n    "
        + _times_upsert_pg(f"{_tally_times_pg('added', '')} UNION ALL {_tally_times_pg('removed', '-')}"),
    ),
    _function(
        "batch_worker_tally_remove",
        NOTHING_REMOVED
        + "\n    "
        + m0030._worker_upsert_pg(_TALLY_REMOVED)
        + "\n    "
        + _times_upsert_pg(_tally_times_pg("removed", "-")),
    ),
    _function(
        "batch_period_change",
        NOTHING_ADDED
        + "\n    "
        + m0030._periods_add_pg(
            m0030._period_rows_pg("added", "") + " UNION ALL " + m0030._period_rows_pg("removed", "-")
        ),
    ),
    # An inserted assignment has no pages yet (page_tally's key to it): 0030's function stays as it is.
    _function(
        "hit_worker_counts_assignments_change",
        m0030._upserts_pg(_ASSIGNMENTS)
        + "\n    "
        + _times_upsert_pg(f"{_assignment_times_pg('added', '')} UNION ALL {_assignment_times_pg('removed', '-')}"),
    ),
    _function(
        "hit_worker_counts_assignment_remove",
        "IF EXISTS (SELECT 1 FROM hit WHERE id = OLD.hit_id) THEN\n    "
        + m0030._upserts_pg(m0030._OLD)
        + "\n    "
        + _times_upsert_pg(_OLD_TIMES)
        + "\n    END IF;",
        returns="OLD",
    ),
    _function(
        "hit_worker_counts_hit_remove",
        m0030._HIT_GONE_PG.replace("    END IF;", "    " + _times_upsert_pg(_HIT_TIMES) + "\n    END IF;"),
        returns="OLD",
    ),
]
CHANGED = (
    "batch_worker_tally_add",
    "batch_worker_tally_change",
    "batch_worker_tally_remove",
    "batch_period_change",
    "hit_worker_counts_assignments_change",
    "hit_worker_counts_assignment_remove",
    "hit_worker_counts_hit_remove",
)
# 0030's own definitions of the functions above, for down().
POSTGRES_DOWN = [
    s.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
    for s in m0030.POSTGRES
    if any(s.startswith(f"CREATE FUNCTION {name}()") for name in CHANGED)
]

# --- SQLite: row triggers of their own -----------------------------------------------------------------------------


def _upsert_sqlite(batch: str, worker: str, bucket_sql: str, pages: str, where: str = "") -> str:
    return f"""INSERT INTO batch_worker_time (batch_id, worker_id, bucket, pages)
    SELECT {batch}, {worker}, {bucket_sql}, {pages} WHERE {batch} IS NOT NULL{where}
    ON CONFLICT (batch_id, worker_id, bucket) DO UPDATE SET pages = pages + excluded.pages;"""


def _tally_sqlite(row: str, sign: str) -> str:
    """As 0030's _tally_sqlite: when the tally has images, its assignment counts and it, its HIT and the batch are
    there."""
    batch = (
        f"(SELECT b.id FROM assignment a JOIN hit h ON h.id = a.hit_id JOIN batch b ON b.id = {row}.batch_id"
        f" WHERE a.id = {row}.assignment_id AND {COUNTS.format('a')})"
    )
    return _upsert_sqlite(
        batch,
        f"(SELECT worker_id FROM assignment WHERE id = {row}.assignment_id)",
        bucket(_per_image(row, False), False),
        f"{sign}1",
        f" AND {row}.images > 0",
    )


def _assignment_sqlite(row: str, sign: str) -> str:
    """An assignment's pages' buckets, when it counts, under its HIT's batch; nothing when its HIT is gone."""
    return f"""INSERT INTO batch_worker_time (batch_id, worker_id, bucket, pages)
    SELECT h.batch_id, {row}.worker_id, b, {sign}count(*) FROM (
        SELECT {bucket(_per_image("t", False), False)} AS b FROM page_tally t
        WHERE t.assignment_id = {row}.id AND t.images > 0
    ) JOIN hit h ON h.id = {row}.hit_id WHERE {COUNTS.format(row)} GROUP BY b
    ON CONFLICT (batch_id, worker_id, bucket) DO UPDATE SET pages = pages + excluded.pages;"""


_HIT_GONE_SQLITE = f"""INSERT INTO batch_worker_time (batch_id, worker_id, bucket, pages)
    SELECT OLD.batch_id, worker_id, b, -count(*) FROM (
        SELECT a.worker_id, {bucket(_per_image("t", False), False)} AS b FROM assignment a
        JOIN page_tally t ON t.assignment_id = a.id WHERE a.hit_id = OLD.id AND t.images > 0 AND {COUNTS.format("a")}
    ) WHERE EXISTS (SELECT 1 FROM batch WHERE id = OLD.batch_id) GROUP BY worker_id, b
    ON CONFLICT (batch_id, worker_id, bucket) DO UPDATE SET pages = pages + excluded.pages;"""

_MOVED = (
    "NEW.hit_id IS NOT OLD.hit_id OR NEW.worker_id IS NOT OLD.worker_id"
    f" OR {COUNTS.format('NEW')} IS NOT {COUNTS.format('OLD')}"
)
SQLITE = [
    f"CREATE TRIGGER worker_time_tally_add AFTER INSERT ON page_tally BEGIN {_tally_sqlite('NEW', '')} END",
    "CREATE TRIGGER worker_time_tally_change AFTER UPDATE OF assignment_id, batch_id, page_ms, images ON page_tally"
    " WHEN NEW.assignment_id IS NOT OLD.assignment_id OR NEW.batch_id IS NOT OLD.batch_id"
    " OR NEW.page_ms IS NOT OLD.page_ms OR NEW.images IS NOT OLD.images"
    f" BEGIN {_tally_sqlite('OLD', '-')} {_tally_sqlite('NEW', '')} END",
    f"CREATE TRIGGER worker_time_tally_remove AFTER DELETE ON page_tally BEGIN {_tally_sqlite('OLD', '-')} END",
    "CREATE TRIGGER worker_time_assignment_change AFTER UPDATE OF hit_id, worker_id, source, mturk_status"
    f" ON assignment WHEN {_MOVED} BEGIN {_assignment_sqlite('OLD', '-')} {_assignment_sqlite('NEW', '')} END",
    "CREATE TRIGGER worker_time_assignment_remove BEFORE DELETE ON assignment BEGIN"
    f" {_assignment_sqlite('OLD', '-')} END",
    f"CREATE TRIGGER worker_time_hit_remove BEFORE DELETE ON hit BEGIN {_HIT_GONE_SQLITE} END",
]
SQLITE_TRIGGERS = (
    "worker_time_tally_add",
    "worker_time_tally_change",
    "worker_time_tally_remove",
    "worker_time_assignment_change",
    "worker_time_assignment_remove",
    "worker_time_hit_remove",
)


def up(migrator, db):
    class Batch(Model):
        class Meta:
            database = db
            table_name = "batch"

    class BatchWorkerTime(Model):
        batch = ForeignKeyField(Batch, on_delete="CASCADE", index=False)  # the unique index leads with it
        worker_id = CharField(max_length=16)
        bucket = SmallIntegerField()
        pages = IntegerField()

        class Meta:
            database = db
            table_name = "batch_worker_time"
            indexes = ((("batch", "worker_id", "bucket"), True),)

    db.create_tables([BatchWorkerTime])
    postgres = m0030._postgres(db)
    db.execute_sql(
        "INSERT INTO batch_worker_time (batch_id, worker_id, bucket, pages)"
        f" SELECT h.batch_id, a.worker_id, {bucket(_per_image('t', postgres), postgres)} AS b, COUNT(*)"
        " FROM page_tally t JOIN assignment a ON a.id = t.assignment_id JOIN hit h ON h.id = a.hit_id"
        f" WHERE t.images > 0 AND {COUNTS.format('a')} GROUP BY h.batch_id, a.worker_id, b"
    )
    for statement in POSTGRES if postgres else SQLITE:
        db.execute_sql(statement)


def down(migrator, db):
    if m0030._postgres(db):
        for statement in POSTGRES_DOWN:
            db.execute_sql(statement)
    else:
        for trigger in SQLITE_TRIGGERS:
            db.execute_sql(f"DROP TRIGGER {trigger}")
    db.execute_sql("DROP TABLE batch_worker_time")
