# How many images each dataset has, kept by triggers on image: the dataset page, the datasets list and the delete
# confirmation counted every image of the dataset (1.3 M at ImageNet's size) and now read one row (issue 21).
# Triggers, so every writer keeps it: imports, the demo, and the cascade that deletes images with their dataset.
from peewee import *

POSTGRES = [
    # Once per statement, from its transition table: an import's 5,000-row upsert is one small statement here.
    """CREATE FUNCTION dataset_image_count_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO dataset_image_count (dataset_id, n)
    SELECT dataset_id, count(*) FROM added GROUP BY 1 ORDER BY 1
    ON CONFLICT (dataset_id) DO UPDATE SET n = dataset_image_count.n + excluded.n;
    RETURN NULL;
END $$""",
    """CREATE FUNCTION dataset_image_count_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE dataset_image_count SET n = dataset_image_count.n - removed_n.n
    FROM (SELECT dataset_id, count(*) AS n FROM removed GROUP BY 1) AS removed_n
    WHERE dataset_image_count.dataset_id = removed_n.dataset_id;
    RETURN NULL;
END $$""",
    "CREATE TRIGGER image_counted AFTER INSERT ON image REFERENCING NEW TABLE AS added"
    " FOR EACH STATEMENT EXECUTE FUNCTION dataset_image_count_add()",
    "CREATE TRIGGER image_uncounted AFTER DELETE ON image REFERENCING OLD TABLE AS removed"
    " FOR EACH STATEMENT EXECUTE FUNCTION dataset_image_count_remove()",
]
# SQLite has row triggers only; in process, one small write a row is cheap. An image never changes dataset.
SQLITE = [
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
    class Dataset(Model):
        class Meta:
            database = db
            table_name = "dataset"

    class DatasetImageCount(Model):
        dataset = ForeignKeyField(Dataset, on_delete="CASCADE", unique=True)
        n = IntegerField()

        class Meta:
            database = db
            table_name = "dataset_image_count"

    db.create_tables([DatasetImageCount])
    db.execute_sql(
        "INSERT INTO dataset_image_count (dataset_id, n) SELECT dataset_id, COUNT(*) FROM image GROUP BY dataset_id"
    )
    for statement in POSTGRES if _postgres(db) else SQLITE:
        db.execute_sql(statement)


def down(migrator, db):
    for trigger in ("image_counted", "image_uncounted"):
        db.execute_sql(f"DROP TRIGGER {trigger}" + (" ON image" if _postgres(db) else ""))
    if _postgres(db):
        db.execute_sql("DROP FUNCTION dataset_image_count_add()")
        db.execute_sql("DROP FUNCTION dataset_image_count_remove()")
    db.execute_sql("DROP TABLE dataset_image_count")
