# A count of the pointer chunks stored per page and tab, kept by a trigger on pointer_chunk: the batch pages'
# "chunks received" read every chunk of the batch (550 ms of each batch tab at SCALE=0.1; seconds at full size) and
# now add up one row per page (issue 21). A trigger, so every writer keeps it (the flush, bulk loads, tests) and a
# chunk the flush skips as already stored (ON CONFLICT DO NOTHING) adds nothing.
from peewee import *

# PostgreSQL: once per statement, from the rows it stored (a flush's bulk is one statement), in key order so two
# flushes that meet on a page take its row in the same order.
POSTGRES = [
    """CREATE FUNCTION page_chunk_count_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO page_chunk_count (assignment_id, pageno, tab, received)
    SELECT assignment_id, pageno, tab, count(*) FROM stored GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (assignment_id, pageno, tab) DO UPDATE SET received = page_chunk_count.received + excluded.received;
    RETURN NULL;
END $$""",
    "CREATE TRIGGER pointer_chunk_counted AFTER INSERT ON pointer_chunk REFERENCING NEW TABLE AS stored"
    " FOR EACH STATEMENT EXECUTE FUNCTION page_chunk_count_add()",
    # A chunk deleted (a purge, a test that takes some away) is no longer received.
    """CREATE FUNCTION page_chunk_count_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE page_chunk_count c SET received = c.received - gone.n
    FROM (SELECT assignment_id, pageno, tab, count(*) AS n FROM removed GROUP BY 1, 2, 3) gone
    WHERE (c.assignment_id, c.pageno, c.tab) = (gone.assignment_id, gone.pageno, gone.tab);
    RETURN NULL;
END $$""",
    "CREATE TRIGGER pointer_chunk_uncounted AFTER DELETE ON pointer_chunk REFERENCING OLD TABLE AS removed"
    " FOR EACH STATEMENT EXECUTE FUNCTION page_chunk_count_remove()",
]
# SQLite has row triggers only; in process, one upsert a row is cheap. INSERT OR IGNORE fires none for a skipped row.
SQLITE = [
    """CREATE TRIGGER pointer_chunk_counted AFTER INSERT ON pointer_chunk BEGIN
    INSERT INTO page_chunk_count (assignment_id, pageno, tab, received)
    VALUES (NEW.assignment_id, NEW.pageno, NEW.tab, 1)
    ON CONFLICT (assignment_id, pageno, tab) DO UPDATE SET received = received + 1;
END""",
    """CREATE TRIGGER pointer_chunk_uncounted AFTER DELETE ON pointer_chunk BEGIN
    UPDATE page_chunk_count SET received = received - 1
    WHERE assignment_id = OLD.assignment_id AND pageno = OLD.pageno AND tab = OLD.tab;
END""",
]


def _postgres(db) -> bool:
    return isinstance(getattr(db, "obj", db), PostgresqlDatabase)  # db may be the app's proxy


def up(migrator, db):
    class Assignment(Model):
        class Meta:
            database = db
            table_name = "assignment"

    class PageChunkCount(Model):
        assignment = ForeignKeyField(Assignment, on_delete="CASCADE", index=False)
        pageno = SmallIntegerField()
        tab = IntegerField()
        received = IntegerField()

        class Meta:
            database = db
            table_name = "page_chunk_count"
            indexes = ((("assignment", "pageno", "tab"), True),)

    db.create_tables([PageChunkCount])
    db.execute_sql(
        "INSERT INTO page_chunk_count (assignment_id, pageno, tab, received)"
        " SELECT assignment_id, pageno, tab, COUNT(*) FROM pointer_chunk GROUP BY assignment_id, pageno, tab"
    )
    for statement in POSTGRES if _postgres(db) else SQLITE:
        db.execute_sql(statement)


def down(migrator, db):
    for trigger in ("pointer_chunk_counted", "pointer_chunk_uncounted"):
        db.execute_sql(f"DROP TRIGGER {trigger}" + (" ON pointer_chunk" if _postgres(db) else ""))
    if _postgres(db):
        db.execute_sql("DROP FUNCTION page_chunk_count_add()")
        db.execute_sql("DROP FUNCTION page_chunk_count_remove()")
    db.execute_sql("DROP TABLE page_chunk_count")
