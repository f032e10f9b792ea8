# An assignment's answers on control images (votes on positive and negative controls, and how many it selected),
# kept by triggers: the workers page and a results rule with a control-accuracy bar summed every control vote of the
# batch per request (505 ms and 323 ms at SCALE=0.1, linear in the batch; issue 21) and now read a row per assignment.
#
# Whether a vote is on a control is its Candidate row's role, which an import may change. Each vote carries it
# (vote.control: 1 positive, -1 negative, 0 neither), written by derive and kept by triggers on candidate (a role
# added, changed or deleted); the triggers on vote then add, change and take away each vote's answer by its own row.
# So a cascade that deletes an image's candidates and votes in one statement (PostgreSQL fires both statements'
# triggers after it, each seeing the other's rows gone) still takes each control vote away, once, from the vote side.
from peewee import *

COLUMNS = "assignment_id, positive, positive_selected, negative, negative_selected"
ROLE = "CASE {0}.role WHEN 'positive' THEN 1 WHEN 'negative' THEN -1 ELSE 0 END"


def _sums(table: str, sign: str = "") -> str:
    """(assignment, positive, positive selected, negative, negative selected) of the control votes of ``table``."""
    return (
        f"SELECT assignment_id, {sign}count(*) FILTER (WHERE control = 1),"
        f" {sign}count(*) FILTER (WHERE control = 1 AND selected),"
        f" {sign}count(*) FILTER (WHERE control = -1),"
        f" {sign}count(*) FILTER (WHERE control = -1 AND selected)"
        f" FROM {table} WHERE control <> 0 GROUP BY 1"
    )


def _add(select: str) -> str:
    # Summed per assignment (an update brings its new and old rows), in key order, so two statements that meet on an
    # assignment take its row in the same order.
    return f"""INSERT INTO assignment_controls AS t ({COLUMNS})
    SELECT assignment_id, sum(p), sum(ps), sum(n), sum(ns) FROM ({select}) s (assignment_id, p, ps, n, ns)
    GROUP BY 1 ORDER BY 1
    ON CONFLICT (assignment_id) DO UPDATE SET positive = t.positive + excluded.positive,
        positive_selected = t.positive_selected + excluded.positive_selected,
        negative = t.negative + excluded.negative,
        negative_selected = t.negative_selected + excluded.negative_selected;"""


def _function(name: str, body: str) -> str:
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n    {body}\n    RETURN NULL;\nEND $$"
    )


# A candidate's votes: found by the image index (an image has a few votes a batch), then its class.
OF_CANDIDATE = "v.image_id = c.image_id AND v.image_class_id = c.image_class_id"
POSTGRES = [
    _function("assignment_controls_vote_add", _add(_sums("added"))),
    # UPDATE only: the assignment may be going in the same cascade.
    _function(
        "assignment_controls_vote_remove",
        f"""UPDATE assignment_controls t
    SET positive = t.positive - s.p, positive_selected = t.positive_selected - s.ps,
        negative = t.negative - s.n, negative_selected = t.negative_selected - s.ns
    FROM ({_sums("removed")}) s (assignment_id, p, ps, n, ns) WHERE t.assignment_id = s.assignment_id;""",
    ),
    # A selection ORed in, a role changed: the new rows in, the old ones out.
    _function("assignment_controls_vote_change", _add(f"{_sums('added')} UNION ALL {_sums('removed', '-')}")),
    # The votes of candidates whose role or (class, image) changed, or that went: first no control, then the role.
    _function(
        "vote_control_from_candidates",
        f"""IF TG_OP <> 'INSERT' THEN
        UPDATE vote v SET control = 0 FROM removed c WHERE {OF_CANDIDATE} AND v.control <> 0;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        UPDATE vote v SET control = {ROLE.format("c")} FROM added c
        WHERE {OF_CANDIDATE} AND v.control <> {ROLE.format("c")};
    END IF;""",
    ),
    "CREATE TRIGGER assignment_controls_vote_add AFTER INSERT ON vote REFERENCING NEW TABLE AS added"
    " FOR EACH STATEMENT EXECUTE FUNCTION assignment_controls_vote_add()",
    "CREATE TRIGGER assignment_controls_vote_remove AFTER DELETE ON vote REFERENCING OLD TABLE AS removed"
    " FOR EACH STATEMENT EXECUTE FUNCTION assignment_controls_vote_remove()",
    "CREATE TRIGGER assignment_controls_vote_change AFTER UPDATE ON vote"
    " REFERENCING OLD TABLE AS removed NEW TABLE AS added FOR EACH STATEMENT"
    " EXECUTE FUNCTION assignment_controls_vote_change()",
    "CREATE TRIGGER vote_control_candidate_added AFTER INSERT ON candidate REFERENCING NEW TABLE AS added"
    " FOR EACH STATEMENT EXECUTE FUNCTION vote_control_from_candidates()",
    "CREATE TRIGGER vote_control_candidate_removed AFTER DELETE ON candidate REFERENCING OLD TABLE AS removed"
    " FOR EACH STATEMENT EXECUTE FUNCTION vote_control_from_candidates()",
    "CREATE TRIGGER vote_control_candidate_changed AFTER UPDATE ON candidate"
    " REFERENCING OLD TABLE AS removed NEW TABLE AS added FOR EACH STATEMENT"
    " EXECUTE FUNCTION vote_control_from_candidates()",
]
PG_TRIGGERS = (
    ("assignment_controls_vote_add", "vote"),
    ("assignment_controls_vote_remove", "vote"),
    ("assignment_controls_vote_change", "vote"),
    ("vote_control_candidate_added", "candidate"),
    ("vote_control_candidate_removed", "candidate"),
    ("vote_control_candidate_changed", "candidate"),
)
PG_FUNCTIONS = (
    "assignment_controls_vote_add",
    "assignment_controls_vote_remove",
    "assignment_controls_vote_change",
    "vote_control_from_candidates",
)


# SQLite has row triggers only: a write a row.
def _sqlite_add(vote: str) -> str:
    return f"""INSERT INTO assignment_controls ({COLUMNS})
    SELECT {vote}.assignment_id, {vote}.control = 1, {vote}.control = 1 AND {vote}.selected, {vote}.control = -1,
        {vote}.control = -1 AND {vote}.selected WHERE {vote}.control <> 0
    ON CONFLICT (assignment_id) DO UPDATE SET positive = positive + excluded.positive,
        positive_selected = positive_selected + excluded.positive_selected, negative = negative + excluded.negative,
        negative_selected = negative_selected + excluded.negative_selected;"""


def _sqlite_take(vote: str) -> str:
    return f"""UPDATE assignment_controls SET positive = positive - ({vote}.control = 1),
        positive_selected = positive_selected - ({vote}.control = 1 AND {vote}.selected),
        negative = negative - ({vote}.control = -1),
        negative_selected = negative_selected - ({vote}.control = -1 AND {vote}.selected)
    WHERE assignment_id = {vote}.assignment_id AND {vote}.control <> 0;"""


def _sqlite_role(candidate: str, role: str) -> str:
    return (
        f"UPDATE vote SET control = {role} WHERE image_id = {candidate}.image_id"
        f" AND image_class_id = {candidate}.image_class_id AND control <> {role};"
    )


SQLITE = [
    f"CREATE TRIGGER assignment_controls_vote_add AFTER INSERT ON vote BEGIN {_sqlite_add('NEW')} END",
    f"CREATE TRIGGER assignment_controls_vote_remove AFTER DELETE ON vote BEGIN {_sqlite_take('OLD')} END",
    "CREATE TRIGGER assignment_controls_vote_change AFTER UPDATE OF selected, control ON vote BEGIN"
    f" {_sqlite_take('OLD')} {_sqlite_add('NEW')} END",
    "CREATE TRIGGER vote_control_candidate_added AFTER INSERT ON candidate BEGIN"
    f" {_sqlite_role('NEW', ROLE.format('NEW'))} END",
    f"CREATE TRIGGER vote_control_candidate_removed AFTER DELETE ON candidate BEGIN {_sqlite_role('OLD', '0')} END",
    "CREATE TRIGGER vote_control_candidate_changed AFTER UPDATE OF role, image_class_id, image_id ON candidate"
    " WHEN NEW.role IS NOT OLD.role OR NEW.image_class_id IS NOT OLD.image_class_id OR NEW.image_id IS NOT OLD.image_id"
    f" BEGIN {_sqlite_role('OLD', '0')} {_sqlite_role('NEW', ROLE.format('NEW'))} END",
]


def _postgres(db) -> bool:
    return isinstance(getattr(db, "obj", db), PostgresqlDatabase)  # db may be the app's proxy


def up(migrator, db):
    class Assignment(Model):
        class Meta:
            database = db
            table_name = "assignment"

    class AssignmentControls(Model):
        assignment = ForeignKeyField(Assignment, on_delete="CASCADE", unique=True)
        positive = IntegerField()
        positive_selected = IntegerField()
        negative = IntegerField()
        negative_selected = IntegerField()

        class Meta:
            database = db
            table_name = "assignment_controls"

    db.create_tables([AssignmentControls])
    migrator.migrate(migrator.add_column("vote", "control", SmallIntegerField(default=0)))
    postgres = _postgres(db)
    role = ROLE.format("c")
    if postgres:
        db.execute_sql(
            f"UPDATE vote v SET control = {role} FROM candidate c WHERE c.image_class_id = v.image_class_id"
            " AND c.image_id = v.image_id AND c.role IN ('positive', 'negative')"
        )
    else:
        db.execute_sql(
            f"UPDATE vote SET control = (SELECT {role} FROM candidate c WHERE c.image_class_id = vote.image_class_id"
            " AND c.image_id = vote.image_id) WHERE EXISTS (SELECT 1 FROM candidate c"
            " WHERE c.image_class_id = vote.image_class_id AND c.image_id = vote.image_id"
            " AND c.role IN ('positive', 'negative'))"
        )
    selected = "selected" if postgres else "selected = 1"
    db.execute_sql(
        f"INSERT INTO assignment_controls ({COLUMNS}) SELECT assignment_id,"
        " SUM(CASE WHEN control = 1 THEN 1 ELSE 0 END),"
        f" SUM(CASE WHEN control = 1 AND {selected} THEN 1 ELSE 0 END),"
        " SUM(CASE WHEN control = -1 THEN 1 ELSE 0 END),"
        f" SUM(CASE WHEN control = -1 AND {selected} THEN 1 ELSE 0 END)"
        " FROM vote WHERE control <> 0 GROUP BY assignment_id"
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
    migrator.migrate(migrator.drop_column("vote", "control"))
    db.execute_sql("DROP TABLE assignment_controls")
