# A batch's HITs, HIT pages, assignments and assignments done, kept by triggers: the overview, the batches list and
# the phase of each batch (the batch list's filter, the dataset page) counted every HIT page and assignment of each
# batch shown per request (31,000 of each at ImageNet's size; issue 21). Triggers, so every writer keeps them: the
# builder and the next round's plan (HITs and pages), the annotation page (an assignment started, replaced, done),
# bulk loads, and deletes. A cascade from the batch takes the row with it.
from peewee import *

# PostgreSQL: once per statement, from its transition tables, in key order so two statements that meet on a batch
# take its row in the same order. Deletes only subtract (never insert): the batch may be going in the same cascade.
# A page's or assignment's batch is read from its HIT; a HIT deleted subtracts its pages and assignments itself
# (row by row, before it goes), and in that cascade their own triggers find no HIT.
ADD_PG = """
    INSERT INTO batch_count AS c (batch_id, hits, hit_pages, assignments, assignments_done)
    SELECT batch_id, sum(hits), sum(hit_pages), sum(assignments), sum(assignments_done) FROM ({rows}) d
    GROUP BY batch_id ORDER BY batch_id
    ON CONFLICT (batch_id) DO UPDATE SET hits = c.hits + excluded.hits, hit_pages = c.hit_pages + excluded.hit_pages,
        assignments = c.assignments + excluded.assignments,
        assignments_done = c.assignments_done + excluded.assignments_done;"""
SUBTRACT_PG = """
    UPDATE batch_count c SET hits = c.hits - d.hits, hit_pages = c.hit_pages - d.hit_pages,
        assignments = c.assignments - d.assignments, assignments_done = c.assignments_done - d.assignments_done
    FROM (
        SELECT batch_id, sum(hits) AS hits, sum(hit_pages) AS hit_pages, sum(assignments) AS assignments,
            sum(assignments_done) AS assignments_done
        FROM ({rows}) r GROUP BY batch_id
    ) d
    WHERE c.batch_id = d.batch_id;"""
HITS = "SELECT batch_id, count(*) AS hits, 0 AS hit_pages, 0 AS assignments, 0 AS assignments_done FROM {t} GROUP BY 1"
PAGES = (
    "SELECT h.batch_id, 0 AS hits, count(*) AS hit_pages, 0 AS assignments, 0 AS assignments_done"
    " FROM {t} JOIN hit h ON h.id = {t}.hit_id GROUP BY 1"
)
ASSIGNMENTS = (
    "SELECT h.batch_id, 0 AS hits, 0 AS hit_pages, count(*) AS assignments,"
    " count(*) FILTER (WHERE {t}.done) AS assignments_done FROM {t} JOIN hit h ON h.id = {t}.hit_id GROUP BY 1"
)
# An assignment done (or, in tests, undone): the difference, by batch.
DONE_CHANGED = (
    "SELECT h.batch_id, 0 AS hits, 0 AS hit_pages, 0 AS assignments,"
    " sum(added.done::int - removed.done::int) AS assignments_done"
    " FROM added JOIN removed ON removed.id = added.id JOIN hit h ON h.id = added.hit_id"
    " WHERE added.done <> removed.done GROUP BY 1"
)


def _function(name: str, body: str) -> str:
    return f"""CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN {body}
    RETURN NULL;
END $$"""


POSTGRES = [
    _function("batch_count_hits_add", ADD_PG.format(rows=HITS.format(t="added"))),
    # A HIT deleted: itself, its pages and its assignments, before they go (their own triggers, after, find no HIT).
    """CREATE FUNCTION batch_count_hit_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE batch_count c SET hits = c.hits - 1, hit_pages = c.hit_pages - pages.n,
        assignments = c.assignments - workers.n, assignments_done = c.assignments_done - workers.done
    FROM (SELECT count(*) AS n FROM hit_page WHERE hit_id = OLD.id) pages,
        (SELECT count(*) AS n, count(*) FILTER (WHERE done) AS done FROM assignment WHERE hit_id = OLD.id) workers
    -- In a cascade from the batch, the batch is gone: its row goes too, and updating it would fail its foreign key.
    WHERE c.batch_id = OLD.batch_id AND EXISTS (SELECT 1 FROM batch WHERE batch.id = OLD.batch_id);
    RETURN OLD;
END $$""",
    _function("batch_count_pages_add", ADD_PG.format(rows=PAGES.format(t="added"))),
    _function("batch_count_pages_remove", SUBTRACT_PG.format(rows=PAGES.format(t="removed"))),
    _function("batch_count_assignments_add", ADD_PG.format(rows=ASSIGNMENTS.format(t="added"))),
    _function("batch_count_assignments_remove", SUBTRACT_PG.format(rows=ASSIGNMENTS.format(t="removed"))),
    _function("batch_count_assignments_change", ADD_PG.format(rows=DONE_CHANGED)),
    "CREATE TRIGGER hit_counted AFTER INSERT ON hit REFERENCING NEW TABLE AS added"
    " FOR EACH STATEMENT EXECUTE FUNCTION batch_count_hits_add()",
    "CREATE TRIGGER hit_uncounted BEFORE DELETE ON hit FOR EACH ROW EXECUTE FUNCTION batch_count_hit_remove()",
    "CREATE TRIGGER hit_page_counted AFTER INSERT ON hit_page REFERENCING NEW TABLE AS added"
    " FOR EACH STATEMENT EXECUTE FUNCTION batch_count_pages_add()",
    "CREATE TRIGGER hit_page_uncounted AFTER DELETE ON hit_page REFERENCING OLD TABLE AS removed"
    " FOR EACH STATEMENT EXECUTE FUNCTION batch_count_pages_remove()",
    "CREATE TRIGGER assignment_counted AFTER INSERT ON assignment REFERENCING NEW TABLE AS added"
    " FOR EACH STATEMENT EXECUTE FUNCTION batch_count_assignments_add()",
    "CREATE TRIGGER assignment_uncounted AFTER DELETE ON assignment REFERENCING OLD TABLE AS removed"
    " FOR EACH STATEMENT EXECUTE FUNCTION batch_count_assignments_remove()",
    "CREATE TRIGGER assignment_recounted AFTER UPDATE ON assignment REFERENCING OLD TABLE AS removed"
    " NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION batch_count_assignments_change()",
]
TRIGGERS_PG = {
    "hit": ("hit_counted", "hit_uncounted"),
    "hit_page": ("hit_page_counted", "hit_page_uncounted"),
    "assignment": ("assignment_counted", "assignment_uncounted", "assignment_recounted"),
}
FUNCTIONS_PG = [
    "batch_count_hits_add",
    "batch_count_hit_remove",
    "batch_count_pages_add",
    "batch_count_pages_remove",
    "batch_count_assignments_add",
    "batch_count_assignments_remove",
    "batch_count_assignments_change",
]


# SQLite has row triggers only; one small write a row, in process. A page's or assignment's batch is read from its
# HIT: in a cascade from the HIT that is gone, and the HIT's own trigger has subtracted them before.
def _add_sqlite(batch: str, hits: str, pages: str, assignments: str, done: str) -> str:
    return f"""INSERT INTO batch_count (batch_id, hits, hit_pages, assignments, assignments_done)
    SELECT {batch}, {hits}, {pages}, {assignments}, {done} WHERE {batch} IS NOT NULL
    ON CONFLICT (batch_id) DO UPDATE SET hits = hits + excluded.hits, hit_pages = hit_pages + excluded.hit_pages,
        assignments = assignments + excluded.assignments,
        assignments_done = assignments_done + excluded.assignments_done;"""


def _subtract_sqlite(batch: str, hits: str, pages: str, assignments: str, done: str) -> str:
    return f"""UPDATE batch_count SET hits = hits - {hits}, hit_pages = hit_pages - {pages},
        assignments = assignments - {assignments}, assignments_done = assignments_done - {done}
    WHERE batch_id = {batch};"""


OF_HIT = "(SELECT batch_id FROM hit WHERE id = {0}.hit_id)"
SQLITE = [
    f"CREATE TRIGGER hit_counted AFTER INSERT ON hit BEGIN {_add_sqlite('NEW.batch_id', '1', '0', '0', '0')} END",
    "CREATE TRIGGER hit_uncounted BEFORE DELETE ON hit BEGIN "
    + _subtract_sqlite(
        "OLD.batch_id",
        "1",
        "(SELECT count(*) FROM hit_page WHERE hit_id = OLD.id)",
        "(SELECT count(*) FROM assignment WHERE hit_id = OLD.id)",
        "(SELECT count(*) FROM assignment WHERE hit_id = OLD.id AND done)",
    )
    + " END",
    f"CREATE TRIGGER hit_page_counted AFTER INSERT ON hit_page BEGIN"
    f" {_add_sqlite(OF_HIT.format('NEW'), '0', '1', '0', '0')} END",
    f"CREATE TRIGGER hit_page_uncounted AFTER DELETE ON hit_page BEGIN"
    f" {_subtract_sqlite(OF_HIT.format('OLD'), '0', '1', '0', '0')} END",
    f"CREATE TRIGGER assignment_counted AFTER INSERT ON assignment BEGIN"
    f" {_add_sqlite(OF_HIT.format('NEW'), '0', '0', '1', 'NEW.done')} END",
    f"CREATE TRIGGER assignment_uncounted AFTER DELETE ON assignment BEGIN"
    f" {_subtract_sqlite(OF_HIT.format('OLD'), '0', '0', '1', 'OLD.done')} END",
    "CREATE TRIGGER assignment_recounted AFTER UPDATE OF done ON assignment WHEN NEW.done IS NOT OLD.done BEGIN"
    f" {_add_sqlite(OF_HIT.format('NEW'), '0', '0', '0', 'NEW.done - OLD.done')} END",
]
TRIGGERS_SQLITE = [t for names in TRIGGERS_PG.values() for t in names]


def _postgres(db) -> bool:
    return isinstance(getattr(db, "obj", db), PostgresqlDatabase)  # db may be the app's proxy


def up(migrator, db):
    class Batch(Model):
        class Meta:
            database = db
            table_name = "batch"

    class BatchCount(Model):
        batch = ForeignKeyField(Batch, on_delete="CASCADE", unique=True)
        hits = IntegerField()
        hit_pages = IntegerField()
        assignments = IntegerField()
        assignments_done = IntegerField()

        class Meta:
            database = db
            table_name = "batch_count"

    db.create_tables([BatchCount])
    db.execute_sql(
        "INSERT INTO batch_count (batch_id, hits, hit_pages, assignments, assignments_done)"
        " SELECT batch.id,"
        " (SELECT COUNT(*) FROM hit WHERE hit.batch_id = batch.id),"
        " (SELECT COUNT(*) FROM hit_page JOIN hit ON hit.id = hit_page.hit_id WHERE hit.batch_id = batch.id),"
        " (SELECT COUNT(*) FROM assignment JOIN hit ON hit.id = assignment.hit_id WHERE hit.batch_id = batch.id),"
        " (SELECT COUNT(*) FROM assignment JOIN hit ON hit.id = assignment.hit_id"
        " WHERE hit.batch_id = batch.id AND assignment.done)"
        " FROM batch WHERE EXISTS (SELECT 1 FROM hit WHERE hit.batch_id = batch.id)"
    )
    for statement in POSTGRES if _postgres(db) else SQLITE:
        db.execute_sql(statement)


def down(migrator, db):
    if _postgres(db):
        for table, triggers in TRIGGERS_PG.items():
            for trigger in triggers:
                db.execute_sql(f"DROP TRIGGER {trigger} ON {table}")
        for function in FUNCTIONS_PG:
            db.execute_sql(f"DROP FUNCTION {function}()")
    else:
        for trigger in TRIGGERS_SQLITE:
            db.execute_sql(f"DROP TRIGGER {trigger}")
    db.execute_sql("DROP TABLE batch_count")
