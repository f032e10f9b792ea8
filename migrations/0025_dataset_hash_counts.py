# How many of a dataset's images have no pHash, and how many no edge hashes, kept beside its image count
# (dataset_image_count, migration 0022): the dataset page counted both over every image of the dataset (1.3 M at
# ImageNet's size: 164 ms of the page at SCALE=0.1) and now reads the one row (issue 21). Triggers, so every writer
# keeps them: imports (an upsert may give or take a hash), the fetch-and-hash job, the demo, deletes and cascades.
from peewee import *

# PostgreSQL: once per statement, from its transition tables, as 0022's triggers (which these replace) count images.
POSTGRES = [
    """CREATE OR REPLACE FUNCTION dataset_image_count_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO dataset_image_count (dataset_id, n, unhashed, edgeless)
    SELECT dataset_id, count(*), count(*) FILTER (WHERE phash IS NULL), count(*) FILTER (WHERE edge_phashes IS NULL)
    FROM added GROUP BY 1 ORDER BY 1
    ON CONFLICT (dataset_id) DO UPDATE SET n = dataset_image_count.n + excluded.n,
        unhashed = dataset_image_count.unhashed + excluded.unhashed,
        edgeless = dataset_image_count.edgeless + excluded.edgeless;
    RETURN NULL;
END $$""",
    """CREATE OR REPLACE FUNCTION dataset_image_count_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE dataset_image_count SET n = dataset_image_count.n - removed_n.n,
        unhashed = dataset_image_count.unhashed - removed_n.unhashed,
        edgeless = dataset_image_count.edgeless - removed_n.edgeless
    FROM (
        SELECT dataset_id, count(*) AS n, count(*) FILTER (WHERE phash IS NULL) AS unhashed,
            count(*) FILTER (WHERE edge_phashes IS NULL) AS edgeless
        FROM removed GROUP BY 1
    ) AS removed_n
    WHERE dataset_image_count.dataset_id = removed_n.dataset_id;
    RETURN NULL;
END $$""",
    # An image never changes dataset; an update (the import's upsert, the fetch-and-hash job) may give or take hashes.
    """CREATE FUNCTION dataset_hash_count_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE dataset_image_count SET unhashed = dataset_image_count.unhashed + changed.unhashed,
        edgeless = dataset_image_count.edgeless + changed.edgeless
    FROM (
        SELECT added.dataset_id,
            sum((added.phash IS NULL)::int - (removed.phash IS NULL)::int) AS unhashed,
            sum((added.edge_phashes IS NULL)::int - (removed.edge_phashes IS NULL)::int) AS edgeless
        FROM removed JOIN added ON added.id = removed.id
        WHERE (added.phash IS NULL) <> (removed.phash IS NULL)
            OR (added.edge_phashes IS NULL) <> (removed.edge_phashes IS NULL)
        GROUP BY 1
    ) AS changed
    WHERE dataset_image_count.dataset_id = changed.dataset_id;
    RETURN NULL;
END $$""",
    "CREATE TRIGGER image_rehashed AFTER UPDATE ON image REFERENCING OLD TABLE AS removed NEW TABLE AS added"
    " FOR EACH STATEMENT EXECUTE FUNCTION dataset_hash_count_change()",
]
# SQLite has row triggers only; in process, one small write a row is cheap. These replace 0022's.
SQLITE = [
    "DROP TRIGGER image_counted",
    "DROP TRIGGER image_uncounted",
    """CREATE TRIGGER image_counted AFTER INSERT ON image BEGIN
    INSERT INTO dataset_image_count (dataset_id, n, unhashed, edgeless)
    VALUES (NEW.dataset_id, 1, NEW.phash IS NULL, NEW.edge_phashes IS NULL)
    ON CONFLICT (dataset_id) DO UPDATE SET n = n + 1, unhashed = unhashed + excluded.unhashed,
        edgeless = edgeless + excluded.edgeless;
END""",
    """CREATE TRIGGER image_uncounted AFTER DELETE ON image BEGIN
    UPDATE dataset_image_count SET n = n - 1, unhashed = unhashed - (OLD.phash IS NULL),
        edgeless = edgeless - (OLD.edge_phashes IS NULL)
    WHERE dataset_id = OLD.dataset_id;
END""",
    """CREATE TRIGGER image_rehashed AFTER UPDATE OF phash, edge_phashes ON image
    WHEN (NEW.phash IS NULL) IS NOT (OLD.phash IS NULL) OR (NEW.edge_phashes IS NULL) IS NOT (OLD.edge_phashes IS NULL)
    BEGIN
    UPDATE dataset_image_count SET unhashed = unhashed + (NEW.phash IS NULL) - (OLD.phash IS NULL),
        edgeless = edgeless + (NEW.edge_phashes IS NULL) - (OLD.edge_phashes IS NULL)
    WHERE dataset_id = NEW.dataset_id;
END""",
]
# 0022's, put back by down().
POSTGRES_BEFORE = [
    """CREATE OR REPLACE FUNCTION dataset_image_count_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO dataset_image_count (dataset_id, n)
    SELECT dataset_id, count(*) FROM added GROUP BY 1 ORDER BY 1
    ON CONFLICT (dataset_id) DO UPDATE SET n = dataset_image_count.n + excluded.n;
    RETURN NULL;
END $$""",
    """CREATE OR REPLACE FUNCTION dataset_image_count_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE dataset_image_count SET n = dataset_image_count.n - removed_n.n
    FROM (SELECT dataset_id, count(*) AS n FROM removed GROUP BY 1) AS removed_n
    WHERE dataset_image_count.dataset_id = removed_n.dataset_id;
    RETURN NULL;
END $$""",
]
SQLITE_BEFORE = [
    "DROP TRIGGER image_counted",
    "DROP TRIGGER image_uncounted",
    """CREATE TRIGGER image_counted AFTER INSERT ON image BEGIN
    INSERT INTO dataset_image_count (dataset_id, n) VALUES (NEW.dataset_id, 1)
    ON CONFLICT (dataset_id) DO UPDATE SET n = n + 1;
END""",
    """CREATE TRIGGER image_uncounted AFTER DELETE ON image BEGIN
    UPDATE dataset_image_count SET n = n - 1 WHERE dataset_id = OLD.dataset_id;
END""",
]


def _postgres(db) -> bool:
    return isinstance(getattr(db, "obj", db), PostgresqlDatabase)  # db may be the app's proxy


def up(migrator, db):
    # Plain ALTER TABLE: peewee's SQLite migrator rebuilds a table to make a column NOT NULL.
    for column in ("unhashed", "edgeless"):
        db.execute_sql(f"ALTER TABLE dataset_image_count ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0")
    db.execute_sql(
        "UPDATE dataset_image_count SET"
        " unhashed = (SELECT COUNT(*) FROM image WHERE image.dataset_id = dataset_image_count.dataset_id"
        " AND image.phash IS NULL),"
        " edgeless = (SELECT COUNT(*) FROM image WHERE image.dataset_id = dataset_image_count.dataset_id"
        " AND image.edge_phashes IS NULL)"
    )
    for statement in POSTGRES if _postgres(db) else SQLITE:
        db.execute_sql(statement)


def down(migrator, db):
    if _postgres(db):
        db.execute_sql("DROP TRIGGER image_rehashed ON image")
        db.execute_sql("DROP FUNCTION dataset_hash_count_change()")
        for statement in POSTGRES_BEFORE:
            db.execute_sql(statement)
    else:
        db.execute_sql("DROP TRIGGER image_rehashed")
        for statement in SQLITE_BEFORE:
            db.execute_sql(statement)
    for column in ("unhashed", "edgeless"):
        db.execute_sql(f"ALTER TABLE dataset_image_count DROP COLUMN {column}")
