# A batch's submitted pages added up as they are derived, kept by triggers: every batch tab summed the batch's pages
# for its progress figures and throughput chart per request (50 ms at SCALE=0.1, 260 ms at full size; issue 21).
#
# Each page's tally (page_tally) now carries what those figures need of its page (batch, time on the page, chunks
# reported and received, when it was submitted), so the triggers read only the rows they are given, also when the
# page, its assignment and its batch are being deleted in one cascade. batch_tally holds a row per batch (with the
# highest tally id added, which the votes' version reads: services/review/counted.py), batch_minute
# a row per batch and minute (the throughput chart's buckets are whole minutes). The chunks received by a tallied page
# arrive after it too (the flush lags); the pointer_chunk triggers of 0020 now add them to its tally as well, and a
# change to a submitted page's times or counts (none in the product; tests set the clock) reaches its tally.
from peewee import *

MINUTE_PG = "floor(extract(epoch FROM {0}) / 60)::bigint"
MINUTE_SQLITE = "CAST(strftime('%s', {0}) AS INTEGER) / 60"
PAGE_MS = "ended_at - started_at"


def _signed(table: str, sign: str) -> str:
    minute = MINUTE_PG.format("submitted_at")
    return (
        f"SELECT id, batch_id, {minute} AS minute, {sign}1 AS pages, {sign}page_ms AS page_ms,"
        f" {sign}chunks_reported AS chunks_reported, {sign}chunks_received AS chunks_received FROM {table}"
    )


def _add_pg(source: str) -> str:
    # In key order, so two statements that meet on a batch take its rows in the same order.
    return f"""
    INSERT INTO batch_tally AS t (batch_id, pages, page_ms, chunks_reported, chunks_received, last_tally)
    SELECT batch_id, sum(pages), sum(page_ms), sum(chunks_reported), sum(chunks_received), max(id) FROM ({source}) d
    GROUP BY batch_id ORDER BY batch_id
    ON CONFLICT (batch_id) DO UPDATE SET pages = t.pages + excluded.pages, page_ms = t.page_ms + excluded.page_ms,
        chunks_reported = t.chunks_reported + excluded.chunks_reported,
        chunks_received = t.chunks_received + excluded.chunks_received,
        last_tally = greatest(t.last_tally, excluded.last_tally);
    INSERT INTO batch_minute AS m (batch_id, minute, pages)
    SELECT batch_id, minute, sum(pages) FROM ({source}) d GROUP BY 1, 2 HAVING sum(pages) <> 0 ORDER BY 1, 2
    ON CONFLICT (batch_id, minute) DO UPDATE SET pages = m.pages + excluded.pages;"""


POSTGRES = [
    f"""CREATE FUNCTION batch_tally_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN {_add_pg(_signed("added", ""))}
    RETURN NULL;
END $$""",
    # A change (the flush adding chunks, a page's times set again): the old row out, the new one in. The batch exists.
    f"""CREATE FUNCTION batch_tally_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN {_add_pg(_signed("added", "") + " UNION ALL " + _signed("removed", "-"))}
    RETURN NULL;
END $$""",
    # Deleted tallies: UPDATE only, never an insert, since the batch may be going in the same cascade.
    f"""CREATE FUNCTION batch_tally_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM batch_tally WHERE batch_id IN (SELECT batch_id FROM removed) ORDER BY batch_id FOR UPDATE;
    UPDATE batch_tally t SET pages = t.pages - g.pages, page_ms = t.page_ms - g.page_ms,
        chunks_reported = t.chunks_reported - g.chunks_reported, chunks_received = t.chunks_received - g.chunks_received
    FROM (SELECT batch_id, count(*) AS pages, sum(page_ms) AS page_ms, sum(chunks_reported) AS chunks_reported,
                 sum(chunks_received) AS chunks_received FROM removed GROUP BY 1) g
    WHERE t.batch_id = g.batch_id;
    UPDATE batch_minute m SET pages = m.pages - g.pages
    FROM (SELECT batch_id, {MINUTE_PG.format("submitted_at")} AS minute, count(*) AS pages FROM removed GROUP BY 1, 2) g
    WHERE m.batch_id = g.batch_id AND m.minute = g.minute;
    RETURN NULL;
END $$""",
    "CREATE TRIGGER page_tally_counted AFTER INSERT ON page_tally REFERENCING NEW TABLE AS added"
    " FOR EACH STATEMENT EXECUTE FUNCTION batch_tally_add()",
    "CREATE TRIGGER page_tally_recounted AFTER UPDATE ON page_tally REFERENCING OLD TABLE AS removed NEW TABLE AS added"
    " FOR EACH STATEMENT EXECUTE FUNCTION batch_tally_change()",
    "CREATE TRIGGER page_tally_uncounted AFTER DELETE ON page_tally REFERENCING OLD TABLE AS removed"
    " FOR EACH STATEMENT EXECUTE FUNCTION batch_tally_remove()",
    # A submitted page's own figures, copied to its tally when they change.
    """CREATE FUNCTION page_tally_copy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE page_tally t SET page_ms = p.ended_at - p.started_at, chunks_reported = p.chunks_reported,
        submitted_at = p.submitted_at, chunks_received = coalesce(c.received, 0)
    FROM added p LEFT JOIN page_chunk_count c ON (c.assignment_id, c.pageno, c.tab) = (p.assignment_id, p.pageno, p.tab)
    WHERE t.page_id = p.id AND (t.page_ms, t.chunks_reported, t.submitted_at, t.chunks_received)
        IS DISTINCT FROM (p.ended_at - p.started_at, p.chunks_reported, p.submitted_at, coalesce(c.received, 0));
    RETURN NULL;
END $$""",
    "CREATE TRIGGER page_submission_copied AFTER UPDATE ON page_submission REFERENCING NEW TABLE AS added"
    " FOR EACH STATEMENT EXECUTE FUNCTION page_tally_copy()",
    # 0020's functions, and the chunks of a tallied page (its submitting tab) added to its tally. Only a flush that
    # holds the page's page_chunk_count row reaches its tally (services/review/tallies.derive takes that row first).
    """CREATE OR REPLACE FUNCTION page_chunk_count_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO page_chunk_count (assignment_id, pageno, tab, received)
    SELECT assignment_id, pageno, tab, count(*) FROM stored GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (assignment_id, pageno, tab) DO UPDATE SET received = page_chunk_count.received + excluded.received;
    UPDATE page_tally t SET chunks_received = t.chunks_received + s.n
    FROM (SELECT assignment_id, pageno, tab, count(*) AS n FROM stored GROUP BY 1, 2, 3) s
    JOIN page_submission p ON (p.assignment_id, p.pageno, p.tab) = (s.assignment_id, s.pageno, s.tab)
    WHERE t.page_id = p.id;
    RETURN NULL;
END $$""",
    """CREATE OR REPLACE FUNCTION page_chunk_count_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE page_chunk_count c SET received = c.received - gone.n
    FROM (SELECT assignment_id, pageno, tab, count(*) AS n FROM removed GROUP BY 1, 2, 3) gone
    WHERE (c.assignment_id, c.pageno, c.tab) = (gone.assignment_id, gone.pageno, gone.tab);
    UPDATE page_tally t SET chunks_received = t.chunks_received - s.n
    FROM (SELECT assignment_id, pageno, tab, count(*) AS n FROM removed GROUP BY 1, 2, 3) s
    JOIN page_submission p ON (p.assignment_id, p.pageno, p.tab) = (s.assignment_id, s.pageno, s.tab)
    WHERE t.page_id = p.id;
    RETURN NULL;
END $$""",
]
POSTGRES_DOWN = [
    """CREATE OR REPLACE FUNCTION page_chunk_count_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO page_chunk_count (assignment_id, pageno, tab, received)
    SELECT assignment_id, pageno, tab, count(*) FROM stored GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (assignment_id, pageno, tab) DO UPDATE SET received = page_chunk_count.received + excluded.received;
    RETURN NULL;
END $$""",
    """CREATE OR REPLACE FUNCTION page_chunk_count_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE page_chunk_count c SET received = c.received - gone.n
    FROM (SELECT assignment_id, pageno, tab, count(*) AS n FROM removed GROUP BY 1, 2, 3) gone
    WHERE (c.assignment_id, c.pageno, c.tab) = (gone.assignment_id, gone.pageno, gone.tab);
    RETURN NULL;
END $$""",
]

# SQLite has row triggers only; one small write a row, in process.
_MINUTE_NEW, _MINUTE_OLD = MINUTE_SQLITE.format("NEW.submitted_at"), MINUTE_SQLITE.format("OLD.submitted_at")
_ADD = f"""INSERT INTO batch_tally (batch_id, pages, page_ms, chunks_reported, chunks_received, last_tally)
    VALUES (NEW.batch_id, 1, NEW.page_ms, NEW.chunks_reported, NEW.chunks_received, NEW.id)
    ON CONFLICT (batch_id) DO UPDATE SET pages = pages + 1, page_ms = page_ms + excluded.page_ms,
        chunks_reported = chunks_reported + excluded.chunks_reported,
        chunks_received = chunks_received + excluded.chunks_received, last_tally = max(last_tally, excluded.last_tally);
    INSERT INTO batch_minute (batch_id, minute, pages) VALUES (NEW.batch_id, {_MINUTE_NEW}, 1)
    ON CONFLICT (batch_id, minute) DO UPDATE SET pages = pages + 1;"""
_REMOVE = f"""UPDATE batch_tally SET pages = pages - 1, page_ms = page_ms - OLD.page_ms,
        chunks_reported = chunks_reported - OLD.chunks_reported, chunks_received = chunks_received - OLD.chunks_received
    WHERE batch_id = OLD.batch_id;
    UPDATE batch_minute SET pages = pages - 1 WHERE batch_id = OLD.batch_id AND minute = {_MINUTE_OLD};"""
_OF_CHUNK = (
    "(SELECT id FROM page_submission WHERE assignment_id = {0}.assignment_id AND pageno = {0}.pageno AND tab = {0}.tab)"
)
SQLITE = [
    f"CREATE TRIGGER page_tally_counted AFTER INSERT ON page_tally BEGIN {_ADD} END",
    f"CREATE TRIGGER page_tally_uncounted AFTER DELETE ON page_tally BEGIN {_REMOVE} END",
    f"CREATE TRIGGER page_tally_recounted AFTER UPDATE ON page_tally BEGIN {_REMOVE} {_ADD} END",
    """CREATE TRIGGER page_submission_copied AFTER UPDATE OF started_at, ended_at, chunks_reported, submitted_at, tab
    ON page_submission BEGIN
    UPDATE page_tally SET page_ms = NEW.ended_at - NEW.started_at, chunks_reported = NEW.chunks_reported,
        submitted_at = NEW.submitted_at, chunks_received = coalesce((SELECT received FROM page_chunk_count
            WHERE assignment_id = NEW.assignment_id AND pageno = NEW.pageno AND tab = NEW.tab), 0)
    WHERE page_id = NEW.id;
END""",
    f"""CREATE TRIGGER pointer_chunk_counted_page AFTER INSERT ON pointer_chunk BEGIN
    UPDATE page_tally SET chunks_received = chunks_received + 1 WHERE page_id = {_OF_CHUNK.format("NEW")};
END""",
    f"""CREATE TRIGGER pointer_chunk_uncounted_page AFTER DELETE ON pointer_chunk BEGIN
    UPDATE page_tally SET chunks_received = chunks_received - 1 WHERE page_id = {_OF_CHUNK.format("OLD")};
END""",
]
SQLITE_TRIGGERS = (
    ("page_tally_counted", "page_tally"),
    ("page_tally_uncounted", "page_tally"),
    ("page_tally_recounted", "page_tally"),
    ("page_submission_copied", "page_submission"),
    ("pointer_chunk_counted_page", "pointer_chunk"),
    ("pointer_chunk_uncounted_page", "pointer_chunk"),
)


def _postgres(db) -> bool:
    return isinstance(getattr(db, "obj", db), PostgresqlDatabase)  # db may be the app's proxy


def up(migrator, db):
    class Batch(Model):
        class Meta:
            database = db
            table_name = "batch"

    class BatchTally(Model):
        batch = ForeignKeyField(Batch, on_delete="CASCADE", unique=True)
        pages = IntegerField()
        page_ms = BigIntegerField()
        chunks_reported = BigIntegerField()
        chunks_received = BigIntegerField()
        last_tally = BigIntegerField()

        class Meta:
            database = db
            table_name = "batch_tally"

    class BatchMinute(Model):
        batch = ForeignKeyField(Batch, on_delete="CASCADE", index=False)
        minute = BigIntegerField()
        pages = IntegerField()

        class Meta:
            database = db
            table_name = "batch_minute"
            indexes = ((("batch", "minute"), True),)

    db.create_tables([BatchTally, BatchMinute])
    migrator.migrate(
        migrator.add_column(
            "page_tally", "batch_id", ForeignKeyField(Batch, Batch.id, null=True, on_delete="CASCADE", index=False)
        ),
        migrator.add_column("page_tally", "page_ms", BigIntegerField(default=0)),
        migrator.add_column("page_tally", "chunks_reported", IntegerField(default=0)),
        migrator.add_column("page_tally", "chunks_received", IntegerField(default=0)),
        migrator.add_column("page_tally", "submitted_at", DateTimeField(null=True)),
    )
    postgres = _postgres(db)
    # Tallies derived before: their figures from their pages, then the batch's sums from them.
    received = (
        "(SELECT received FROM page_chunk_count c WHERE c.assignment_id = p.assignment_id AND c.pageno = p.pageno"
        " AND c.tab = p.tab)"
    )
    batch = "(SELECT h.batch_id FROM assignment a JOIN hit h ON h.id = a.hit_id WHERE a.id = p.assignment_id)"
    if postgres:
        db.execute_sql(
            "UPDATE page_tally t SET batch_id = h.batch_id, page_ms = p.ended_at - p.started_at,"
            f" chunks_reported = p.chunks_reported, chunks_received = coalesce({received}, 0),"
            " submitted_at = p.submitted_at FROM page_submission p JOIN assignment a ON a.id = p.assignment_id"
            " JOIN hit h ON h.id = a.hit_id WHERE p.id = t.page_id"
        )
    else:
        db.execute_sql(
            f"UPDATE page_tally SET (batch_id, page_ms, chunks_reported, chunks_received, submitted_at) = ("
            f"SELECT {batch}, p.ended_at - p.started_at, p.chunks_reported, coalesce({received}, 0), p.submitted_at"
            " FROM page_submission p WHERE p.id = page_tally.page_id)"
        )
    migrator.migrate(
        migrator.add_not_null("page_tally", "batch_id"),
        migrator.add_not_null("page_tally", "submitted_at"),
        migrator.add_index("page_tally", ("batch_id", "submitted_at"), False),
    )
    db.execute_sql(
        "INSERT INTO batch_tally (batch_id, pages, page_ms, chunks_reported, chunks_received, last_tally)"
        " SELECT batch_id, COUNT(*), SUM(page_ms), SUM(chunks_reported), SUM(chunks_received), MAX(id) FROM page_tally"
        " GROUP BY batch_id"
    )
    minute = (MINUTE_PG if postgres else MINUTE_SQLITE).format("submitted_at")
    db.execute_sql(
        f"INSERT INTO batch_minute (batch_id, minute, pages) SELECT batch_id, {minute}, COUNT(*) FROM page_tally"
        " GROUP BY 1, 2"
    )
    for statement in POSTGRES if postgres else SQLITE:
        db.execute_sql(statement)


def down(migrator, db):
    if _postgres(db):
        for trigger, table in (
            ("page_tally_counted", "page_tally"),
            ("page_tally_recounted", "page_tally"),
            ("page_tally_uncounted", "page_tally"),
            ("page_submission_copied", "page_submission"),
        ):
            db.execute_sql(f"DROP TRIGGER {trigger} ON {table}")
        for function in ("batch_tally_add", "batch_tally_change", "batch_tally_remove", "page_tally_copy"):
            db.execute_sql(f"DROP FUNCTION {function}()")
        for statement in POSTGRES_DOWN:
            db.execute_sql(statement)
    else:
        for trigger, _ in SQLITE_TRIGGERS:
            db.execute_sql(f"DROP TRIGGER {trigger}")
    migrator.migrate(
        migrator.drop_index("page_tally", "page_tally_batch_id_submitted_at"),
        *(
            migrator.drop_column("page_tally", column)
            for column in ("batch_id", "page_ms", "chunks_reported", "chunks_received", "submitted_at")
        ),
    )
    db.execute_sql("DROP TABLE batch_minute")
    db.execute_sql("DROP TABLE batch_tally")
