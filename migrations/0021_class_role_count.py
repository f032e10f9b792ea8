# How many candidates, positive and negative controls each class has, kept by triggers on candidate: the builder
# counted them by reading every candidate of the dataset (1.3 M at ImageNet's size) and now reads a row per class
# and role (issue 21). Triggers, so every writer keeps the count: imports (an upsert may change a role), the demo,
# and the cascades that delete candidates with their image, class or dataset.
from peewee import *

POSTGRES = [
    # Once per statement, from its transition tables: an import's 5,000-row upsert is one grouped statement here.
    """CREATE FUNCTION class_role_count_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO class_role_count (image_class_id, role, n)
    SELECT image_class_id, role, count(*) FROM added GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (image_class_id, role) DO UPDATE SET n = class_role_count.n + excluded.n;
    RETURN NULL;
END $$""",
    """CREATE FUNCTION class_role_count_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE class_role_count SET n = class_role_count.n - removed_n.n
    FROM (SELECT image_class_id, role, count(*) AS n FROM removed GROUP BY 1, 2) AS removed_n
    WHERE class_role_count.image_class_id = removed_n.image_class_id AND class_role_count.role = removed_n.role;
    RETURN NULL;
END $$""",
    """CREATE FUNCTION class_role_count_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE class_role_count SET n = class_role_count.n - moved.n
    FROM (
        SELECT removed.image_class_id, removed.role, count(*) AS n FROM removed JOIN added ON added.id = removed.id
        WHERE (added.image_class_id, added.role) IS DISTINCT FROM (removed.image_class_id, removed.role) GROUP BY 1, 2
    ) AS moved
    WHERE class_role_count.image_class_id = moved.image_class_id AND class_role_count.role = moved.role;
    INSERT INTO class_role_count (image_class_id, role, n)
    SELECT added.image_class_id, added.role, count(*) FROM removed JOIN added ON added.id = removed.id
    WHERE (added.image_class_id, added.role) IS DISTINCT FROM (removed.image_class_id, removed.role)
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (image_class_id, role) DO UPDATE SET n = class_role_count.n + excluded.n;
    RETURN NULL;
END $$""",
    "CREATE TRIGGER candidate_counted AFTER INSERT ON candidate REFERENCING NEW TABLE AS added"
    " FOR EACH STATEMENT EXECUTE FUNCTION class_role_count_add()",
    "CREATE TRIGGER candidate_uncounted AFTER DELETE ON candidate REFERENCING OLD TABLE AS removed"
    " FOR EACH STATEMENT EXECUTE FUNCTION class_role_count_remove()",
    "CREATE TRIGGER candidate_recounted AFTER UPDATE ON candidate REFERENCING OLD TABLE AS removed NEW TABLE AS added"
    " FOR EACH STATEMENT EXECUTE FUNCTION class_role_count_change()",
]
# SQLite has row triggers only; in process, one small write a row is cheap.
ADD = """INSERT INTO class_role_count (image_class_id, role, n) VALUES (NEW.image_class_id, NEW.role, 1)
    ON CONFLICT (image_class_id, role) DO UPDATE SET n = n + 1;"""
REMOVE = "UPDATE class_role_count SET n = n - 1 WHERE image_class_id = OLD.image_class_id AND role = OLD.role;"
SQLITE = [
    f"CREATE TRIGGER candidate_counted AFTER INSERT ON candidate BEGIN {ADD} END",
    f"CREATE TRIGGER candidate_uncounted AFTER DELETE ON candidate BEGIN {REMOVE} END",
    "CREATE TRIGGER candidate_recounted AFTER UPDATE OF image_class_id, role ON candidate"
    f" WHEN NEW.image_class_id IS NOT OLD.image_class_id OR NEW.role IS NOT OLD.role BEGIN {REMOVE} {ADD} END",
]
TRIGGERS = ("candidate_counted", "candidate_uncounted", "candidate_recounted")
FUNCTIONS = ("class_role_count_add", "class_role_count_remove", "class_role_count_change")


def _postgres(db) -> bool:
    return isinstance(getattr(db, "obj", db), PostgresqlDatabase)  # db may be the app's proxy


def up(migrator, db):
    class ImageClass(Model):
        class Meta:
            database = db
            table_name = "image_class"

    class ClassRoleCount(Model):
        image_class = ForeignKeyField(ImageClass, on_delete="CASCADE", index=False)
        role = CharField(max_length=16)
        n = IntegerField()

        class Meta:
            database = db
            table_name = "class_role_count"
            indexes = ((("image_class", "role"), True),)

    db.create_tables([ClassRoleCount])
    db.execute_sql(
        "INSERT INTO class_role_count (image_class_id, role, n)"
        " SELECT image_class_id, role, COUNT(*) FROM candidate GROUP BY image_class_id, role"
    )
    for statement in POSTGRES if _postgres(db) else SQLITE:
        db.execute_sql(statement)


def down(migrator, db):
    for trigger in TRIGGERS:
        db.execute_sql(f"DROP TRIGGER {trigger}" + (" ON candidate" if _postgres(db) else ""))
    if _postgres(db):
        for function in FUNCTIONS:
            db.execute_sql(f"DROP FUNCTION {function}()")
    db.execute_sql("DROP TABLE class_role_count")
