# Each image's votes counted per (batch, class, image), and per (batch, class) how many images have each count, kept by
# triggers on vote: the first results page after new votes grouped every vote of the batch to decide each image
# under the requester's rule (1.1 s at SCALE=0.1, about 9 s at full size; issue 21). The rule is chosen per request,
# so no decision can be kept; but an image's decision depends only on its (seen, selected), so a class's (images, yes,
# undecided) under any rule is a sum over its few dozen histogram cells (services/review/labels.py).
#
# vote_count: seen (votes) and selected per image. vote_histogram: images per (seen, selected); an image moves from one
# cell to another as its votes come and go. Rows with no votes left are deleted. No foreign keys: the vote triggers
# alone write both tables, so a cascade that deletes votes (an assignment, an image, a class, the batch) takes each
# vote away once, from the vote side, and nothing else can remove a row under them.
from peewee import *

KEY = "batch_id, image_class_id, image_id"
ON_KEY = "v.batch_id = r.batch_id AND v.image_class_id = r.image_class_id AND v.image_id = r.image_id"


def _votes(table: str, sign: str = "") -> str:
    return f"SELECT {KEY}, {sign}1, {sign}selected::int FROM {table}"


def _move(deltas: str) -> str:
    """Add the votes' (seen, selected) to their images' counts, and move each image from its old cell to its new one.

    The old counts are the new ones less the change (an image without a row had none); cells are for images with
    votes (seen > 0). Rows are taken in key order, so two statements that meet on an image or a cell take them in the
    same order; the upsert reads the row another transaction committed while this one waited, so the old counts are
    true under concurrent submits."""
    return f"""WITH d AS (
        SELECT {KEY}, sum(n) AS n, sum(s) AS s FROM ({deltas}) x ({KEY}, n, s)
        GROUP BY 1, 2, 3 HAVING sum(n) <> 0 OR sum(s) <> 0
    ), kept AS (
        INSERT INTO vote_count AS v ({KEY}, seen, selected) SELECT {KEY}, n, s FROM d ORDER BY 1, 2, 3
        ON CONFLICT ({KEY}) DO UPDATE SET seen = v.seen + excluded.seen, selected = v.selected + excluded.selected
        RETURNING {KEY}, seen, selected
    )
    INSERT INTO vote_histogram AS h (batch_id, image_class_id, seen, selected, images)
    SELECT batch_id, image_class_id, seen, selected, sum(images) FROM (
        SELECT batch_id, image_class_id, seen, selected, 1 FROM kept
        UNION ALL
        SELECT k.batch_id, k.image_class_id, k.seen - d.n, k.selected - d.s, -1 FROM kept k JOIN d USING ({KEY})
    ) c (batch_id, image_class_id, seen, selected, images)
    WHERE seen > 0 GROUP BY 1, 2, 3, 4 HAVING sum(images) <> 0 ORDER BY 1, 2, 3, 4
    ON CONFLICT (batch_id, image_class_id, seen, selected) DO UPDATE SET images = h.images + excluded.images;"""


def _function(name: str, body: str) -> str:
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n    {body}\n    RETURN NULL;\nEND $$"
    )


# Images whose last vote went, and cells left empty by a deletion (a batch deleted leaves nothing behind).
_GONE_PG = f"""DELETE FROM vote_count v USING (SELECT DISTINCT {KEY} FROM removed) r WHERE {ON_KEY} AND v.seen = 0;
    DELETE FROM vote_histogram v USING (SELECT DISTINCT batch_id, image_class_id FROM removed) r
    WHERE v.batch_id = r.batch_id AND v.image_class_id = r.image_class_id AND v.images = 0;"""
POSTGRES = [
    _function("vote_count_add", _move(_votes("added"))),
    _function("vote_count_remove", _move(_votes("removed", "-")) + "\n    " + _GONE_PG),
    # A selection ORed in (a page derived again); also every control role kept by 0028's triggers, which changes
    # neither count and sums to nothing. Only a vote moved to another image can leave one without votes.
    _function(
        "vote_count_change",
        _move(f"{_votes('added')} UNION ALL {_votes('removed', '-')}")
        + f"""
    DELETE FROM vote_count v USING removed r JOIN added a ON a.id = r.id
    WHERE (a.batch_id, a.image_class_id, a.image_id) <> (r.batch_id, r.image_class_id, r.image_id)
        AND {ON_KEY} AND v.seen = 0;""",
    ),
    "CREATE TRIGGER vote_count_add AFTER INSERT ON vote REFERENCING NEW TABLE AS added"
    " FOR EACH STATEMENT EXECUTE FUNCTION vote_count_add()",
    "CREATE TRIGGER vote_count_remove AFTER DELETE ON vote REFERENCING OLD TABLE AS removed"
    " FOR EACH STATEMENT EXECUTE FUNCTION vote_count_remove()",
    "CREATE TRIGGER vote_count_change AFTER UPDATE ON vote REFERENCING OLD TABLE AS removed NEW TABLE AS added"
    " FOR EACH STATEMENT EXECUTE FUNCTION vote_count_change()",
]
TRIGGERS = ("vote_count_add", "vote_count_remove", "vote_count_change")


# SQLite has row triggers only: a vote a time.
def _of(vote: str) -> str:
    return f"batch_id = {vote}.batch_id AND image_class_id = {vote}.image_class_id AND image_id = {vote}.image_id"


def _cell(vote: str, seen: str, selected: str) -> str:
    """The vote's image's cell, given its (seen, selected) in terms of its kept counts."""
    return (
        f"batch_id = {vote}.batch_id AND image_class_id = {vote}.image_class_id"
        f" AND (seen, selected) = (SELECT {seen}, {selected} FROM vote_count WHERE {_of(vote)})"
    )


def _into_cell(vote: str) -> str:
    return f"""INSERT INTO vote_histogram (batch_id, image_class_id, seen, selected, images)
    SELECT batch_id, image_class_id, seen, selected, 1 FROM vote_count WHERE {_of(vote)} AND seen > 0
    ON CONFLICT (batch_id, image_class_id, seen, selected) DO UPDATE SET images = images + 1;"""


def _sqlite_add(vote: str) -> str:
    return f"""INSERT INTO vote_count ({KEY}, seen, selected)
    VALUES ({vote}.batch_id, {vote}.image_class_id, {vote}.image_id, 1, {vote}.selected)
    ON CONFLICT ({KEY}) DO UPDATE SET seen = seen + 1, selected = selected + excluded.selected;
    UPDATE vote_histogram SET images = images - 1 WHERE {_cell(vote, "seen - 1", f"selected - {vote}.selected")};
    {_into_cell(vote)}"""


def _sqlite_take(vote: str) -> str:
    return f"""UPDATE vote_count SET seen = seen - 1, selected = selected - {vote}.selected WHERE {_of(vote)};
    UPDATE vote_histogram SET images = images - 1 WHERE {_cell(vote, "seen + 1", f"selected + {vote}.selected")};
    {_into_cell(vote)}
    DELETE FROM vote_count WHERE {_of(vote)} AND seen = 0;"""


SQLITE = [
    f"CREATE TRIGGER vote_count_add AFTER INSERT ON vote BEGIN {_sqlite_add('NEW')} END",
    f"""CREATE TRIGGER vote_count_remove AFTER DELETE ON vote BEGIN {_sqlite_take("OLD")}
    DELETE FROM vote_histogram WHERE batch_id = OLD.batch_id AND image_class_id = OLD.image_class_id AND images = 0;
END""",
    "CREATE TRIGGER vote_count_change AFTER UPDATE OF batch_id, image_class_id, image_id, selected ON vote"
    " WHEN NEW.selected IS NOT OLD.selected OR NEW.batch_id IS NOT OLD.batch_id"
    " OR NEW.image_class_id IS NOT OLD.image_class_id OR NEW.image_id IS NOT OLD.image_id"
    f" BEGIN {_sqlite_take('OLD')} {_sqlite_add('NEW')} END",
]


def _postgres(db) -> bool:
    return isinstance(getattr(db, "obj", db), PostgresqlDatabase)  # db may be the app's proxy


def up(migrator, db):
    class VoteCount(Model):
        batch_id = IntegerField()
        image_class_id = IntegerField()
        image_id = IntegerField()
        seen = IntegerField()
        selected = IntegerField()

        class Meta:
            database = db
            table_name = "vote_count"
            primary_key = CompositeKey("batch_id", "image_class_id", "image_id")

    class VoteHistogram(Model):
        batch_id = IntegerField()
        image_class_id = IntegerField()
        seen = IntegerField()
        selected = IntegerField()
        images = IntegerField()

        class Meta:
            database = db
            table_name = "vote_histogram"
            primary_key = CompositeKey("batch_id", "image_class_id", "seen", "selected")

    db.create_tables([VoteCount, VoteHistogram])
    db.execute_sql(
        f"INSERT INTO vote_count ({KEY}, seen, selected) SELECT {KEY}, COUNT(*),"
        f" SUM(CASE WHEN selected THEN 1 ELSE 0 END) FROM vote GROUP BY {KEY}"
    )
    db.execute_sql(
        "INSERT INTO vote_histogram (batch_id, image_class_id, seen, selected, images)"
        " SELECT batch_id, image_class_id, seen, selected, COUNT(*) FROM vote_count GROUP BY 1, 2, 3, 4"
    )
    postgres = _postgres(db)
    for statement in POSTGRES if postgres else SQLITE:
        db.execute_sql(statement)


def down(migrator, db):
    postgres = _postgres(db)
    for trigger in TRIGGERS:
        db.execute_sql(f"DROP TRIGGER {trigger}" + (" ON vote" if postgres else ""))
        if postgres:
            db.execute_sql(f"DROP FUNCTION {trigger}()")
    db.execute_sql("DROP TABLE vote_histogram")
    db.execute_sql("DROP TABLE vote_count")
