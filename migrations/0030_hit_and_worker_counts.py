# What the batch tabs still counted over every assignment of the batch per request (issue 21: the tabs grew 3-7x
# from SCALE=0.01 to 1), kept by triggers like 0026-0029, so every writer keeps them (the annotation page, reconcile,
# bulk loads, deletes):
# - hit_count: each HIT's assignments started and done (all sources), so batch_count can keep
# - batch_count.hits_started, hits_done (done >= the batch's assignments_per_hit), hits_published (with an MTurk id),
#   not_counted and waiting (assignments whose votes do not count, or wait for MTurk: services/review/counted.py),
#   mturk (assignments that came through MTurk: the MTurk review page reads them only when there are some);
# - batch_worker: per batch and worker, over the assignments whose votes count: assignments, done, their control
#   answers (0028's assignment_controls added up) and their pages' tallies (page_tally added up), for the workers list
#   and the control-accuracy bar;
# - assignment.batch_id: its HIT's batch, set by the database on every insert and update, so the assignments list
#   reads a page of the batch's assignments newest first from an index, not a sort of all of them;
# - batch_period: a batch's pages submitted per hour and per day, beside 0027's batch_minute: the throughput chart read
#   every minute with pages (17,796 rows at SCALE=0.1, about 28,800 at full size) on every tab; with the hour and day
#   it reads at most 1,440 rows whatever the batch's span.
#
# An assignment's contribution goes in when it is inserted, is swapped (old out, new in) when it changes, and comes
# out before it is deleted (a row trigger before the delete, while its control answers and its HIT are still there;
# in a cascade from the HIT, the HIT's own trigger takes out all of its assignments before they go). Rows are taken in
# key order, so two statements that meet on a row take it in the same order.
from peewee import *

COUNTS = "({0}.source <> 'mturk' OR coalesce({0}.mturk_status IN ('Submitted', 'Approved'), false))"
WAITING = "({0}.source = 'mturk' AND coalesce({0}.mturk_status NOT IN ('Submitted', 'Approved', 'Rejected'), true))"
BATCH_COLUMNS = ("hits_published", "hits_started", "hits_done", "not_counted", "waiting", "mturk")
MTURK = "({0}.source = 'mturk')"
CONTROL_SUMS = ("positive", "positive_selected", "negative", "negative_selected")
TALLY_SUMS = (
    "pages",
    "page_ms",
    "chunks_reported",
    "chunks_received",
    "images",
    "selected",
    "estimate_zero",
    "estimate_250",
    "estimate_500",
    "estimate_1000",
    "estimate_2000",
    "estimate_4000",
    "estimate_over",
)
WORKER_SUMS = ("assignments", "done", *CONTROL_SUMS, *TALLY_SUMS)


def _tally_value(column: str, row: str = "") -> str:
    """A page tally's part of a worker's sum: 1 page, else its own column."""
    return "1" if column == "pages" else f"{row}{column}"


def _answers_pg(assignment: str) -> str:
    """Joins for an assignment's control answers (ac) and its pages' tallies added up (pt)."""
    sums = ", ".join(f"sum({_tally_value(c)}) AS {c}" for c in TALLY_SUMS)
    return (
        f" LEFT JOIN assignment_controls ac ON ac.assignment_id = {assignment}.id"
        f" LEFT JOIN LATERAL (SELECT {sums} FROM page_tally WHERE assignment_id = {assignment}.id) pt ON true"
    )


def _answer_columns(sign: str, counts: str) -> str:
    """What an assignment adds to its worker besides itself, when it counts: ``_answers_pg``'s sums, signed."""
    return ", ".join(
        [f"{sign}({counts})::int * coalesce(ac.{c}, 0)" for c in CONTROL_SUMS]
        + [f"{sign}({counts})::int * coalesce(pt.{c}, 0)" for c in TALLY_SUMS]
    )


def _int(condition: str, postgres: bool) -> str:
    return f"({condition})::int" if postgres else f"({condition})"


# --- PostgreSQL: statement triggers over transition tables, row triggers before deletes ---------------------------


def _add_batch_pg(rows: str) -> str:
    """Add (batch_id, hits_published, hits_started, hits_done, not_counted, waiting, mturk) deltas to batch_count."""
    columns = ", ".join(BATCH_COLUMNS)
    sums = ", ".join(f"sum({c})" for c in BATCH_COLUMNS)
    sets = ", ".join(f"{c} = b.{c} + excluded.{c}" for c in BATCH_COLUMNS)
    return f"""INSERT INTO batch_count AS b (batch_id, hits, hit_pages, assignments, assignments_done, {columns})
    SELECT batch_id, 0, 0, 0, 0, {sums} FROM ({rows}) d (batch_id, {columns})
    GROUP BY 1 HAVING {" OR ".join(f"sum({c}) <> 0" for c in BATCH_COLUMNS)} ORDER BY 1
    ON CONFLICT (batch_id) DO UPDATE SET {sets};"""


def _assignment_rows_pg(table: str, sign: str) -> dict[str, str]:
    """An assignment's contributions to hit_count, batch_count and batch_worker, signed."""
    counts, waiting = COUNTS.format(table), WAITING.format(table)
    controls = _answer_columns(sign, counts)
    return {
        "hit": f"SELECT hit_id, {sign}1, {sign}done::int FROM {table}",
        "batch": f"SELECT h.batch_id, 0, 0, 0, {sign}{_int(f'NOT {counts}', True)}, {sign}{_int(waiting, True)},"
        f" {sign}{_int(MTURK.format(table), True)}"
        f" FROM {table} JOIN hit h ON h.id = {table}.hit_id",
        "worker": f"SELECT h.batch_id, {table}.worker_id, {sign}{_int(counts, True)},"
        f" {sign}{_int(f'{counts} AND {table}.done', True)}, {controls}"
        f" FROM {table} JOIN hit h ON h.id = {table}.hit_id" + _answers_pg(table),
    }


def _upserts_pg(added: dict[str, str]) -> str:
    worker_sets = ", ".join(f"{c} = w.{c} + excluded.{c}" for c in WORKER_SUMS)
    worker_columns = ", ".join(WORKER_SUMS)
    worker_sums = ", ".join(f"sum({c})" for c in WORKER_SUMS)
    return f"""INSERT INTO hit_count AS c (hit_id, batch_id, assignments, done)
    SELECT d.hit_id, h.batch_id, sum(n), sum(done) FROM ({added["hit"]}) d (hit_id, n, done)
    JOIN hit h ON h.id = d.hit_id GROUP BY 1, 2 HAVING sum(n) <> 0 OR sum(done) <> 0 ORDER BY 1
    ON CONFLICT (hit_id) DO UPDATE SET assignments = c.assignments + excluded.assignments,
        done = c.done + excluded.done;
    {_add_batch_pg(added["batch"])}
    INSERT INTO batch_worker AS w (batch_id, worker_id, {worker_columns})
    SELECT batch_id, worker_id, {worker_sums} FROM ({added["worker"]}) d (batch_id, worker_id, {worker_columns})
    GROUP BY 1, 2 HAVING {" OR ".join(f"sum({c}) <> 0" for c in WORKER_SUMS)} ORDER BY 1, 2
    ON CONFLICT (batch_id, worker_id) DO UPDATE SET {worker_sets};"""


def _function(name: str, body: str, returns: str = "NULL") -> str:
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n    {body}\n"
        f"    RETURN {returns};\nEND $$"
    )


_ADDED, _REMOVED = _assignment_rows_pg("added", ""), _assignment_rows_pg("removed", "-")
# The assignment about to go (a row trigger, BEFORE DELETE): its HIT and control answers are still there.
_OLD = {
    "hit": "SELECT OLD.hit_id, -1, -OLD.done::int",
    "batch": f"SELECT h.batch_id, 0, 0, 0, -{_int('NOT ' + COUNTS.format('OLD'), True)},"
    f" -{_int(WAITING.format('OLD'), True)}, -{_int(MTURK.format('OLD'), True)} FROM hit h WHERE h.id = OLD.hit_id",
    "worker": f"SELECT h.batch_id, OLD.worker_id, -{_int(COUNTS.format('OLD'), True)},"
    f" -{_int(COUNTS.format('OLD') + ' AND OLD.done', True)}, "
    + _answer_columns("-", COUNTS.format("OLD"))
    + " FROM hit h"
    + _answers_pg("OLD")
    + " WHERE h.id = OLD.hit_id",
}
_CONTROL_DELTA = ", ".join(f"{{sign}}{_int(COUNTS.format('a'), True)} * t.{c}" for c in CONTROL_SUMS)
_NO_TALLY = ", ".join("0" for _ in TALLY_SUMS)
_TALLY_DELTA = ", ".join(f"{{sign}}{_int(COUNTS.format('a'), True)} * {_tally_value(c, 't.')}" for c in TALLY_SUMS)


def _controls_rows_pg(table: str, sign: str) -> str:
    """A control answers row's contribution to its assignment's worker, when the assignment counts (and is there)."""
    return (
        f"SELECT h.batch_id, a.worker_id, 0, 0, {_CONTROL_DELTA.format(sign=sign)}, {_NO_TALLY}"
        f" FROM {table} t JOIN assignment a ON a.id = t.assignment_id JOIN hit h ON h.id = a.hit_id"
        # Not for a batch going in this cascade (its votes may go before its HITs).
        " JOIN batch b ON b.id = h.batch_id"
    )


def _tally_rows_pg(table: str, sign: str) -> str:
    """A page tally's contribution to its assignment's worker, when the assignment counts (and it, its HIT and the
    batch are there: in a cascade from the assignment or the HIT, whose pages may go first, their own triggers took
    its tallies out before)."""
    return (
        f"SELECT t.batch_id, a.worker_id, 0, 0, 0, 0, 0, 0, {_TALLY_DELTA.format(sign=sign)}"
        f" FROM {table} t JOIN assignment a ON a.id = t.assignment_id JOIN hit h ON h.id = a.hit_id"
        " JOIN batch b ON b.id = t.batch_id"
    )


def _worker_upsert_pg(rows: str) -> str:
    columns = ", ".join(WORKER_SUMS)
    return f"""INSERT INTO batch_worker AS w (batch_id, worker_id, {columns})
    SELECT batch_id, worker_id, {", ".join(f"sum({c})" for c in WORKER_SUMS)}
    FROM ({rows}) d (batch_id, worker_id, {columns})
    GROUP BY 1, 2 HAVING {" OR ".join(f"sum({c}) <> 0" for c in WORKER_SUMS)} ORDER BY 1, 2
    ON CONFLICT (batch_id, worker_id) DO UPDATE SET {", ".join(f"{c} = w.{c} + excluded.{c}" for c in WORKER_SUMS)};"""


# A HIT's start and completion, from its counts before and after: into batch_count.
_HIT_STATE = (
    "SELECT b.id, 0, {sign}(t.assignments > 0)::int, {sign}(t.done >= b.assignments_per_hit)::int, 0, 0, 0"
    " FROM {table} t JOIN batch b ON b.id = t.batch_id"
)
_PUBLISHED = "SELECT batch_id, {sign}(mturk_hit_id IS NOT NULL)::int, 0, 0, 0, 0, 0 FROM {table}"

# A HIT about to go, in a row trigger: what it and its assignments added, unless its batch goes in the same cascade.
_HIT_GONE_PG = f"""IF EXISTS (SELECT 1 FROM batch WHERE id = OLD.batch_id) THEN
        {
    _add_batch_pg(
        "SELECT OLD.batch_id, -(OLD.mturk_hit_id IS NOT NULL)::int, -coalesce((c.assignments > 0)::int, 0),"
        " -coalesce((c.done >= b.assignments_per_hit)::int, 0), 0, 0, 0 FROM batch b"
        " LEFT JOIN hit_count c ON c.hit_id = OLD.id WHERE b.id = OLD.batch_id"
        " UNION ALL "
        f"SELECT OLD.batch_id, 0, 0, 0, -{_int('NOT ' + COUNTS.format('a'), True)}, -{_int(WAITING.format('a'), True)},"
        f" -{_int(MTURK.format('a'), True)} FROM assignment a WHERE a.hit_id = OLD.id"
    )
}
        {
    _worker_upsert_pg(
        f"SELECT OLD.batch_id, a.worker_id, -{_int(COUNTS.format('a'), True)},"
        f" -{_int(COUNTS.format('a') + ' AND a.done', True)}, "
        + _answer_columns("-", COUNTS.format("a"))
        + " FROM assignment a"
        + _answers_pg("a")
        + " WHERE a.hit_id = OLD.id"
    )
}
    END IF;"""

POSTGRES = [
    _function("hit_worker_counts_assignments_add", _upserts_pg(_ADDED)),
    _function(
        "hit_worker_counts_assignments_change",
        _upserts_pg({k: f"{_ADDED[k]} UNION ALL {_REMOVED[k]}" for k in _ADDED}),
    ),
    # Before the row goes; nothing when its HIT is gone (a cascade from the HIT, which took it out already).
    _function(
        "hit_worker_counts_assignment_remove",
        "IF EXISTS (SELECT 1 FROM hit WHERE id = OLD.hit_id) THEN\n    " + _upserts_pg(_OLD) + "\n    END IF;",
        returns="OLD",
    ),
    _function("hit_count_started", _add_batch_pg(_HIT_STATE.format(sign="", table="added"))),
    _function(
        "hit_count_changed",
        _add_batch_pg(
            _HIT_STATE.format(sign="", table="added") + " UNION ALL " + _HIT_STATE.format(sign="-", table="removed")
        ),
    ),
    _function("batch_worker_controls_add", _worker_upsert_pg(_controls_rows_pg("added", ""))),
    _function(
        "batch_worker_controls_change",
        _worker_upsert_pg(_controls_rows_pg("added", "") + " UNION ALL " + _controls_rows_pg("removed", "-")),
    ),
    _function("batch_worker_tally_add", _worker_upsert_pg(_tally_rows_pg("added", ""))),
    _function(
        "batch_worker_tally_change",
        _worker_upsert_pg(_tally_rows_pg("added", "") + " UNION ALL " + _tally_rows_pg("removed", "-")),
    ),
    _function("batch_worker_tally_remove", _worker_upsert_pg(_tally_rows_pg("removed", "-"))),
    "CREATE TRIGGER batch_worker_tally_add AFTER INSERT ON page_tally REFERENCING NEW TABLE AS added"
    " FOR EACH STATEMENT EXECUTE FUNCTION batch_worker_tally_add()",
    "CREATE TRIGGER batch_worker_tally_change AFTER UPDATE ON page_tally"
    " REFERENCING OLD TABLE AS removed NEW TABLE AS added FOR EACH STATEMENT"
    " EXECUTE FUNCTION batch_worker_tally_change()",
    "CREATE TRIGGER batch_worker_tally_remove AFTER DELETE ON page_tally REFERENCING OLD TABLE AS removed"
    " FOR EACH STATEMENT EXECUTE FUNCTION batch_worker_tally_remove()",
    _function("hits_published_add", _add_batch_pg(_PUBLISHED.format(sign="", table="added"))),
    _function(
        "hits_published_change",
        _add_batch_pg(
            _PUBLISHED.format(sign="", table="added") + " UNION ALL " + _PUBLISHED.format(sign="-", table="removed")
        ),
    ),
    _function("hit_worker_counts_hit_remove", _HIT_GONE_PG, returns="OLD"),
    "CREATE TRIGGER hit_worker_counts_assignments_add AFTER INSERT ON assignment REFERENCING NEW TABLE AS added"
    " FOR EACH STATEMENT EXECUTE FUNCTION hit_worker_counts_assignments_add()",
    "CREATE TRIGGER hit_worker_counts_assignments_change AFTER UPDATE ON assignment"
    " REFERENCING OLD TABLE AS removed NEW TABLE AS added FOR EACH STATEMENT"
    " EXECUTE FUNCTION hit_worker_counts_assignments_change()",
    "CREATE TRIGGER hit_worker_counts_assignment_remove BEFORE DELETE ON assignment FOR EACH ROW"
    " EXECUTE FUNCTION hit_worker_counts_assignment_remove()",
    "CREATE TRIGGER hit_count_started AFTER INSERT ON hit_count REFERENCING NEW TABLE AS added"
    " FOR EACH STATEMENT EXECUTE FUNCTION hit_count_started()",
    "CREATE TRIGGER hit_count_changed AFTER UPDATE ON hit_count REFERENCING OLD TABLE AS removed NEW TABLE AS added"
    " FOR EACH STATEMENT EXECUTE FUNCTION hit_count_changed()",
    "CREATE TRIGGER batch_worker_controls_add AFTER INSERT ON assignment_controls REFERENCING NEW TABLE AS added"
    " FOR EACH STATEMENT EXECUTE FUNCTION batch_worker_controls_add()",
    "CREATE TRIGGER batch_worker_controls_change AFTER UPDATE ON assignment_controls"
    " REFERENCING OLD TABLE AS removed NEW TABLE AS added FOR EACH STATEMENT"
    " EXECUTE FUNCTION batch_worker_controls_change()",
    "CREATE TRIGGER hits_published_add AFTER INSERT ON hit REFERENCING NEW TABLE AS added"
    " FOR EACH STATEMENT EXECUTE FUNCTION hits_published_add()",
    "CREATE TRIGGER hits_published_change AFTER UPDATE ON hit REFERENCING OLD TABLE AS removed NEW TABLE AS added"
    " FOR EACH STATEMENT EXECUTE FUNCTION hits_published_change()",
    "CREATE TRIGGER hit_worker_counts_hit_remove BEFORE DELETE ON hit FOR EACH ROW"
    " EXECUTE FUNCTION hit_worker_counts_hit_remove()",
]
# --- batch_period: pages per hour and per day, kept as 0027 keeps batch_minute (triggers on page_tally) -------------

PERIODS = (3600, 86400)  # seconds: an hour, a day
_PERIODS_PG = "(VALUES (3600), (86400)) s (seconds)"


def _period_rows_pg(table: str, sign: str) -> str:
    return (
        f"SELECT batch_id, s.seconds, floor(extract(epoch FROM submitted_at) / s.seconds)::bigint, {sign}1"
        f" FROM {table} CROSS JOIN {_PERIODS_PG}"
    )


def _periods_add_pg(rows: str) -> str:
    return f"""INSERT INTO batch_period AS m (batch_id, seconds, period, pages)
    SELECT batch_id, seconds, period, sum(pages) FROM ({rows}) d (batch_id, seconds, period, pages)
    GROUP BY 1, 2, 3 HAVING sum(pages) <> 0 ORDER BY 1, 2, 3
    ON CONFLICT (batch_id, seconds, period) DO UPDATE SET pages = m.pages + excluded.pages;"""


POSTGRES += [
    _function("batch_period_add", _periods_add_pg(_period_rows_pg("added", ""))),
    # Tallies change as their page's chunks arrive: only a new time or batch moves a page (the sums cancel otherwise).
    _function(
        "batch_period_change",
        _periods_add_pg(_period_rows_pg("added", "") + " UNION ALL " + _period_rows_pg("removed", "-")),
    ),
    # UPDATE only, never an insert: the batch may be going in the same cascade.
    _function(
        "batch_period_remove",
        f"""UPDATE batch_period m SET pages = m.pages - g.pages
    FROM (SELECT batch_id, seconds, period, count(*) AS pages FROM ({_period_rows_pg("removed", "")}) r
          (batch_id, seconds, period, one) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3) g
    WHERE (m.batch_id, m.seconds, m.period) = (g.batch_id, g.seconds, g.period);""",
    ),
    "CREATE TRIGGER batch_period_add AFTER INSERT ON page_tally REFERENCING NEW TABLE AS added"
    " FOR EACH STATEMENT EXECUTE FUNCTION batch_period_add()",
    "CREATE TRIGGER batch_period_change AFTER UPDATE ON page_tally REFERENCING OLD TABLE AS removed NEW TABLE AS added"
    " FOR EACH STATEMENT EXECUTE FUNCTION batch_period_change()",
    "CREATE TRIGGER batch_period_remove AFTER DELETE ON page_tally REFERENCING OLD TABLE AS removed"
    " FOR EACH STATEMENT EXECUTE FUNCTION batch_period_remove()",
]
# --- assignment.batch_id: its HIT's batch, whatever a writer sent (peewee's save() writes every column) ---------------

POSTGRES += [
    _function(
        "assignment_batch",
        "NEW.batch_id := (SELECT batch_id FROM hit WHERE id = NEW.hit_id);",
        returns="NEW",
    ),
    "CREATE TRIGGER assignment_batch BEFORE INSERT OR UPDATE ON assignment FOR EACH ROW"
    " EXECUTE FUNCTION assignment_batch()",
]
PG_TRIGGERS = (
    ("batch_worker_tally_add", "page_tally"),
    ("batch_worker_tally_change", "page_tally"),
    ("batch_worker_tally_remove", "page_tally"),
    ("assignment_batch", "assignment"),
    ("batch_period_add", "page_tally"),
    ("batch_period_change", "page_tally"),
    ("batch_period_remove", "page_tally"),
    ("hit_worker_counts_assignments_add", "assignment"),
    ("hit_worker_counts_assignments_change", "assignment"),
    ("hit_worker_counts_assignment_remove", "assignment"),
    ("hit_count_started", "hit_count"),
    ("hit_count_changed", "hit_count"),
    ("batch_worker_controls_add", "assignment_controls"),
    ("batch_worker_controls_change", "assignment_controls"),
    ("hits_published_add", "hit"),
    ("hits_published_change", "hit"),
    ("hit_worker_counts_hit_remove", "hit"),
)
PG_FUNCTIONS = (
    "batch_worker_tally_add",
    "batch_worker_tally_change",
    "batch_worker_tally_remove",
    "assignment_batch",
    "batch_period_add",
    "batch_period_change",
    "batch_period_remove",
    "hit_worker_counts_assignments_add",
    "hit_worker_counts_assignments_change",
    "hit_worker_counts_assignment_remove",
    "hit_count_started",
    "hit_count_changed",
    "batch_worker_controls_add",
    "batch_worker_controls_change",
    "hits_published_add",
    "hits_published_change",
    "hit_worker_counts_hit_remove",
)


# --- SQLite: row triggers ------------------------------------------------------------------------------------------


def _batch_sqlite(batch: str, deltas: dict[str, str]) -> str:
    values = [deltas.get(c, "0") for c in BATCH_COLUMNS]
    return f"""INSERT INTO batch_count (batch_id, hits, hit_pages, assignments, assignments_done,
        {", ".join(BATCH_COLUMNS)})
    SELECT {batch}, 0, 0, 0, 0, {", ".join(values)} WHERE {batch} IS NOT NULL
    ON CONFLICT (batch_id) DO UPDATE SET {", ".join(f"{c} = {c} + excluded.{c}" for c in BATCH_COLUMNS)};"""


def _worker_sqlite(batch: str, worker: str, values: list[str]) -> str:
    return f"""INSERT INTO batch_worker (batch_id, worker_id, {", ".join(WORKER_SUMS)})
    SELECT {batch}, {worker}, {", ".join(values)} WHERE {batch} IS NOT NULL
    ON CONFLICT (batch_id, worker_id) DO UPDATE SET {", ".join(f"{c} = {c} + excluded.{c}" for c in WORKER_SUMS)};"""


OF_HIT = "(SELECT batch_id FROM hit WHERE id = {0}.hit_id)"


def _assignment_sqlite(row: str, sign: str) -> str:
    """One assignment's contributions, signed; nothing when its HIT is gone."""
    counts = COUNTS.format(row)
    controls = f"(SELECT {{0}} FROM assignment_controls WHERE assignment_id = {row}.id)"
    tallies = f"(SELECT sum({{0}}) FROM page_tally WHERE assignment_id = {row}.id)"
    return f"""INSERT INTO hit_count (hit_id, batch_id, assignments, done)
    SELECT {row}.hit_id, {OF_HIT.format(row)}, {sign}1, {sign}{row}.done WHERE {OF_HIT.format(row)} IS NOT NULL
    ON CONFLICT (hit_id) DO UPDATE SET assignments = assignments + excluded.assignments, done = done + excluded.done;
    {
        _batch_sqlite(
            OF_HIT.format(row),
            {
                "not_counted": f"{sign}(NOT {counts})",
                "waiting": f"{sign}{WAITING.format(row)}",
                "mturk": f"{sign}{MTURK.format(row)}",
            },
        )
    }
    {
        _worker_sqlite(
            OF_HIT.format(row),
            f"{row}.worker_id",
            [f"{sign}{counts}", f"{sign}({counts} AND {row}.done)"]
            + [f"{sign}{counts} * coalesce({controls.format(c)}, 0)" for c in CONTROL_SUMS]
            + [f"{sign}{counts} * coalesce({tallies.format(_tally_value(c))}, 0)" for c in TALLY_SUMS],
        )
    }"""


def _hit_state_sqlite(row: str, sign: str) -> str:
    return _batch_sqlite(
        f"{row}.batch_id",
        {
            "hits_started": f"{sign}({row}.assignments > 0)",
            "hits_done": f"{sign}({row}.done >= (SELECT assignments_per_hit FROM batch WHERE id = {row}.batch_id))",
        },
    )


def _controls_sqlite(row: str, sign: str) -> str:
    a = f"(SELECT {{0}} FROM assignment WHERE id = {row}.assignment_id)"
    counts = a.format(COUNTS.format("assignment"))
    batch = (
        "(SELECT b.id FROM assignment a JOIN hit h ON h.id = a.hit_id JOIN batch b ON b.id = h.batch_id"
        f" WHERE a.id = {row}.assignment_id)"
    )
    return _worker_sqlite(
        batch,
        a.format("worker_id"),
        ["0", "0"] + [f"{sign}coalesce({counts}, 0) * {row}.{c}" for c in CONTROL_SUMS] + ["0" for _ in TALLY_SUMS],
    )


def _tally_sqlite(row: str, sign: str) -> str:
    """A page tally's part of its worker's sums, when its assignment counts and it, its HIT and the batch are there
    (a HIT's pages may go before its assignments in its cascade: its own trigger took them out before)."""
    a = f"(SELECT {{0}} FROM assignment WHERE id = {row}.assignment_id)"
    counts = a.format(COUNTS.format("assignment"))
    batch = (
        f"(SELECT b.id FROM assignment a JOIN hit h ON h.id = a.hit_id JOIN batch b ON b.id = {row}.batch_id"
        f" WHERE a.id = {row}.assignment_id)"
    )
    return _worker_sqlite(
        batch,
        a.format("worker_id"),
        ["0" for _ in ("assignments", "done", *CONTROL_SUMS)]
        + [f"{sign}coalesce({counts}, 0) * {_tally_value(c, row + '.')}" for c in TALLY_SUMS],
    )


_HIT_GONE_SQLITE = f"""{
    _batch_sqlite(
        "OLD.batch_id",
        {
            "hits_published": "-(OLD.mturk_hit_id IS NOT NULL)",
            "hits_started": "-coalesce((SELECT assignments > 0 FROM hit_count WHERE hit_id = OLD.id), 0)",
            "hits_done": "-coalesce((SELECT c.done >= b.assignments_per_hit FROM hit_count c JOIN batch b"
            " ON b.id = c.batch_id WHERE c.hit_id = OLD.id), 0)",
            "not_counted": f"-(SELECT count(*) FROM assignment a WHERE a.hit_id = OLD.id AND NOT {COUNTS.format('a')})",
            "waiting": f"-(SELECT count(*) FROM assignment a WHERE a.hit_id = OLD.id AND {WAITING.format('a')})",
            "mturk": f"-(SELECT count(*) FROM assignment a WHERE a.hit_id = OLD.id AND {MTURK.format('a')})",
        },
    ).replace("WHERE OLD.batch_id IS NOT NULL", "WHERE EXISTS (SELECT 1 FROM batch WHERE id = OLD.batch_id)")
}
    INSERT INTO batch_worker (batch_id, worker_id, {", ".join(WORKER_SUMS)})
    SELECT OLD.batch_id, a.worker_id, -count(*), -sum(a.done), {
    ", ".join(
        [f"-coalesce(sum(ac.{c}), 0)" for c in CONTROL_SUMS]
        + [
            f"-coalesce(sum((SELECT sum({_tally_value(c)}) FROM page_tally WHERE assignment_id = a.id)), 0)"
            for c in TALLY_SUMS
        ]
    )
}
    FROM assignment a LEFT JOIN assignment_controls ac ON ac.assignment_id = a.id
    WHERE a.hit_id = OLD.id AND {COUNTS.format("a")} AND EXISTS (SELECT 1 FROM batch WHERE id = OLD.batch_id)
    GROUP BY a.worker_id
    ON CONFLICT (batch_id, worker_id) DO UPDATE SET {", ".join(f"{c} = {c} + excluded.{c}" for c in WORKER_SUMS)};"""

SQLITE = [
    f"CREATE TRIGGER hit_worker_counts_assignments_add AFTER INSERT ON assignment BEGIN"
    f" {_assignment_sqlite('NEW', '')} END",
    "CREATE TRIGGER hit_worker_counts_assignments_change AFTER UPDATE OF hit_id, worker_id, source, mturk_status, done"
    " ON assignment BEGIN"
    f" {_assignment_sqlite('OLD', '-')} {_assignment_sqlite('NEW', '')} END",
    f"CREATE TRIGGER hit_worker_counts_assignment_remove BEFORE DELETE ON assignment BEGIN"
    f" {_assignment_sqlite('OLD', '-')} END",
    f"CREATE TRIGGER hit_count_started AFTER INSERT ON hit_count BEGIN {_hit_state_sqlite('NEW', '')} END",
    "CREATE TRIGGER hit_count_changed AFTER UPDATE ON hit_count BEGIN"
    f" {_hit_state_sqlite('OLD', '-')} {_hit_state_sqlite('NEW', '')} END",
    "CREATE TRIGGER batch_worker_controls_add AFTER INSERT ON assignment_controls BEGIN"
    f" {_controls_sqlite('NEW', '')} END",
    "CREATE TRIGGER batch_worker_controls_change AFTER UPDATE ON assignment_controls BEGIN"
    f" {_controls_sqlite('OLD', '-')} {_controls_sqlite('NEW', '')} END",
    f"CREATE TRIGGER batch_worker_tally_add AFTER INSERT ON page_tally BEGIN {_tally_sqlite('NEW', '')} END",
    "CREATE TRIGGER batch_worker_tally_change AFTER UPDATE ON page_tally BEGIN"
    f" {_tally_sqlite('OLD', '-')} {_tally_sqlite('NEW', '')} END",
    f"CREATE TRIGGER batch_worker_tally_remove AFTER DELETE ON page_tally BEGIN {_tally_sqlite('OLD', '-')} END",
    "CREATE TRIGGER hits_published_add AFTER INSERT ON hit WHEN NEW.mturk_hit_id IS NOT NULL BEGIN"
    f" {_batch_sqlite('NEW.batch_id', {'hits_published': '1'})} END",
    "CREATE TRIGGER hits_published_change AFTER UPDATE OF mturk_hit_id ON hit"
    " WHEN (NEW.mturk_hit_id IS NULL) <> (OLD.mturk_hit_id IS NULL) BEGIN"
    # Published (+1) or taken back (-1): the WHEN says it changed.
    f" {_batch_sqlite('NEW.batch_id', {'hits_published': '2 * (NEW.mturk_hit_id IS NOT NULL) - 1'})}"
    " END",
    f"CREATE TRIGGER hit_worker_counts_hit_remove BEFORE DELETE ON hit BEGIN {_HIT_GONE_SQLITE} END",
]


def _period_sqlite(row: str, sign: str) -> str:
    out = []
    for seconds in PERIODS:
        period = f"CAST(strftime('%s', {row}.submitted_at) AS INTEGER) / {seconds}"
        if sign == "-":  # UPDATE only: the batch may be going in the same cascade
            out.append(
                f"UPDATE batch_period SET pages = pages - 1 WHERE batch_id = {row}.batch_id AND seconds = {seconds}"
                f" AND period = {period};"
            )
        else:
            out.append(
                f"INSERT INTO batch_period (batch_id, seconds, period, pages) VALUES ({row}.batch_id, {seconds},"
                f" {period}, 1) ON CONFLICT (batch_id, seconds, period) DO UPDATE SET pages = pages + 1;"
            )
    return " ".join(out)


SQLITE += [
    f"CREATE TRIGGER batch_period_add AFTER INSERT ON page_tally BEGIN {_period_sqlite('NEW', '')} END",
    "CREATE TRIGGER batch_period_change AFTER UPDATE OF batch_id, submitted_at ON page_tally"
    " WHEN NEW.batch_id IS NOT OLD.batch_id OR NEW.submitted_at IS NOT OLD.submitted_at"
    f" BEGIN {_period_sqlite('OLD', '-')} {_period_sqlite('NEW', '')} END",
    f"CREATE TRIGGER batch_period_remove AFTER DELETE ON page_tally BEGIN {_period_sqlite('OLD', '-')} END",
]
# SQLite cannot set NEW's columns: the row is updated after (triggers do not fire themselves again).
_BATCH_OF_HIT = "(SELECT batch_id FROM hit WHERE id = NEW.hit_id)"
SQLITE += [
    f"CREATE TRIGGER assignment_batch AFTER INSERT ON assignment BEGIN"
    f" UPDATE assignment SET batch_id = {_BATCH_OF_HIT} WHERE id = NEW.id; END",
    f"CREATE TRIGGER assignment_batch_kept AFTER UPDATE OF batch_id, hit_id ON assignment"
    f" WHEN NEW.batch_id IS NOT {_BATCH_OF_HIT} BEGIN UPDATE assignment SET batch_id = {_BATCH_OF_HIT}"
    " WHERE id = NEW.id; END",
]
SQLITE_TRIGGERS = [name for name, _ in PG_TRIGGERS] + ["assignment_batch_kept"]


def _postgres(db) -> bool:
    return isinstance(getattr(db, "obj", db), PostgresqlDatabase)  # db may be the app's proxy


def up(migrator, db):
    class Batch(Model):
        class Meta:
            database = db
            table_name = "batch"

    class Hit(Model):
        class Meta:
            database = db
            table_name = "hit"

    class HitCount(Model):
        hit = ForeignKeyField(Hit, on_delete="CASCADE", unique=True)
        batch_id = IntegerField()
        assignments = IntegerField()
        done = IntegerField()

        class Meta:
            database = db
            table_name = "hit_count"

    class BatchWorker(Model):
        batch = ForeignKeyField(Batch, on_delete="CASCADE", index=False)  # the unique index leads with it
        worker_id = CharField(max_length=16)
        assignments = IntegerField()
        done = IntegerField()
        positive = IntegerField()
        positive_selected = IntegerField()
        negative = IntegerField()
        negative_selected = IntegerField()
        pages = IntegerField()
        page_ms = BigIntegerField()
        chunks_reported = IntegerField()
        chunks_received = IntegerField()
        images = IntegerField()
        selected = IntegerField()
        estimate_zero = IntegerField()
        estimate_250 = IntegerField()
        estimate_500 = IntegerField()
        estimate_1000 = IntegerField()
        estimate_2000 = IntegerField()
        estimate_4000 = IntegerField()
        estimate_over = IntegerField()

        class Meta:
            database = db
            table_name = "batch_worker"
            indexes = ((("batch", "worker_id"), True),)

    class BatchPeriod(Model):
        batch = ForeignKeyField(Batch, on_delete="CASCADE", index=False)  # the unique index leads with it
        seconds = IntegerField()
        period = BigIntegerField()
        pages = IntegerField()

        class Meta:
            database = db
            table_name = "batch_period"
            indexes = ((("batch", "seconds", "period"), True),)

    db.create_tables([HitCount, BatchWorker, BatchPeriod])
    migrator.migrate(
        migrator.add_column("assignment", "batch_id", IntegerField(null=True)),
        migrator.add_index("assignment", ("batch_id", "started_at"), False),
    )
    db.execute_sql("UPDATE assignment SET batch_id = (SELECT batch_id FROM hit WHERE hit.id = assignment.hit_id)")
    # Added in place (peewee's migrator would rebuild the table on SQLite, under 0026's triggers that name it).
    for column in BATCH_COLUMNS:
        db.execute_sql(f"ALTER TABLE batch_count ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0")
    postgres = _postgres(db)
    done = "a.done" if postgres else "a.done = 1"
    counts, waiting = COUNTS.format("a"), WAITING.format("a")

    def when(condition: str) -> str:
        return f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"

    db.execute_sql(
        "INSERT INTO hit_count (hit_id, batch_id, assignments, done)"
        f" SELECT a.hit_id, h.batch_id, COUNT(*), {when(done)} FROM assignment a JOIN hit h ON h.id = a.hit_id"
        " GROUP BY a.hit_id, h.batch_id"
    )
    db.execute_sql(
        "UPDATE batch_count SET"
        " hits_published = (SELECT COUNT(*) FROM hit WHERE hit.batch_id = batch_count.batch_id"
        " AND hit.mturk_hit_id IS NOT NULL),"
        " hits_started = (SELECT COUNT(*) FROM hit_count c WHERE c.batch_id = batch_count.batch_id"
        " AND c.assignments > 0),"
        " hits_done = (SELECT COUNT(*) FROM hit_count c JOIN batch b ON b.id = c.batch_id"
        " WHERE c.batch_id = batch_count.batch_id AND c.done >= b.assignments_per_hit),"
        f" not_counted = (SELECT COUNT(*) FROM assignment a JOIN hit h ON h.id = a.hit_id"
        f" WHERE h.batch_id = batch_count.batch_id AND NOT {counts}),"
        f" waiting = (SELECT COUNT(*) FROM assignment a JOIN hit h ON h.id = a.hit_id"
        f" WHERE h.batch_id = batch_count.batch_id AND {waiting}),"
        " mturk = (SELECT COUNT(*) FROM assignment a JOIN hit h ON h.id = a.hit_id"
        f" WHERE h.batch_id = batch_count.batch_id AND {MTURK.format('a')})"
    )
    db.execute_sql(
        f"INSERT INTO batch_worker (batch_id, worker_id, {', '.join(WORKER_SUMS)})"
        f" SELECT h.batch_id, a.worker_id, COUNT(*), {when(done)},"
        " COALESCE(SUM(ac.positive), 0), COALESCE(SUM(ac.positive_selected), 0),"
        " COALESCE(SUM(ac.negative), 0), COALESCE(SUM(ac.negative_selected), 0), "
        + ", ".join(f"COALESCE(SUM(pt.{c}), 0)" for c in TALLY_SUMS)
        + " FROM assignment a JOIN hit h ON h.id = a.hit_id LEFT JOIN assignment_controls ac ON ac.assignment_id = a.id"
        " LEFT JOIN (SELECT assignment_id, "
        + ", ".join(f"SUM({_tally_value(c)}) AS {c}" for c in TALLY_SUMS)
        + " FROM page_tally GROUP BY assignment_id) pt ON pt.assignment_id = a.id"
        f" WHERE {counts} GROUP BY h.batch_id, a.worker_id"
    )
    for seconds in PERIODS:
        epoch = "extract(epoch FROM submitted_at)" if postgres else "CAST(strftime('%s', submitted_at) AS INTEGER)"
        period = f"floor({epoch} / {seconds})::bigint" if postgres else f"{epoch} / {seconds}"
        db.execute_sql(
            "INSERT INTO batch_period (batch_id, seconds, period, pages)"
            f" SELECT batch_id, {seconds}, {period}, COUNT(*) FROM page_tally GROUP BY 1, 2, 3"
        )
    for statement in POSTGRES if postgres else SQLITE:
        db.execute_sql(statement)


def down(migrator, db):
    postgres = _postgres(db)
    for trigger, table in PG_TRIGGERS:
        db.execute_sql(f"DROP TRIGGER {trigger}" + (f" ON {table}" if postgres else ""))
    if postgres:
        for function in PG_FUNCTIONS:
            db.execute_sql(f"DROP FUNCTION {function}()")
    for column in BATCH_COLUMNS:
        db.execute_sql(f"ALTER TABLE batch_count DROP COLUMN {column}")
    migrator.migrate(
        migrator.drop_index("assignment", "assignment_batch_id_started_at"),
        migrator.drop_column("assignment", "batch_id"),
    )
    db.execute_sql("DROP TABLE batch_period")
    db.execute_sql("DROP TABLE batch_worker")
    db.execute_sql("DROP TABLE hit_count")
