# Generated from a schema diff on 2026-12-01 08:45.
from peewee import *

# Callable defaults (timestamps, tokens) are applied by the models, not the database.


def up(migrator, db):
    class Assignment(Model):
        class Meta:
            database = db
            table_name = "assignment"

    class Batch(Model):
        class Meta:
            database = db
            table_name = "batch"

    class Hit(Model):
        class Meta:
            database = db
            table_name = "hit"

    class Organization(Model):
        class Meta:
            database = db
            table_name = "organization"

    class User(Model):
        class Meta:
            database = db
            table_name = "user"

    class MTurkAssignment(Model):
        organization = ForeignKeyField(Organization, field=Organization.id, on_delete="CASCADE")
        hit = ForeignKeyField(Hit, on_delete="CASCADE")
        mturk_hit_id = CharField(index=True, max_length=64)
        mturk_assignment_id = CharField(max_length=64)
        worker_id = CharField(index=True, max_length=16)
        assignment = ForeignKeyField(Assignment, null=True, on_delete="SET NULL")
        status = CharField(max_length=16)
        accepted_at = DateTimeField(null=True)
        submitted_at = DateTimeField(null=True)
        auto_approval_at = DateTimeField(null=True)
        deadline = DateTimeField(null=True)
        decided_at = DateTimeField(null=True)
        answer = TextField(default="")
        requester_feedback = TextField(default="")
        flag = CharField(max_length=200, default="")
        qualified_at = DateTimeField(null=True)
        synced_at = DateTimeField()

        class Meta:
            database = db
            table_name = "mturk_assignment"
            indexes = ((("mturk_assignment_id", "worker_id"), True),)

    db.create_tables([MTurkAssignment])

    class Bonus(Model):
        organization = ForeignKeyField(Organization, field=Organization.id, on_delete="CASCADE")
        mturk_assignment = ForeignKeyField(MTurkAssignment, on_delete="CASCADE")
        amount = DecimalField(max_digits=8, decimal_places=2)
        reason = TextField()
        key = CharField(max_length=64)
        token = CharField(unique=True, max_length=64)
        state = CharField(max_length=16, default="intended")
        attempts = IntegerField(default=0)
        first_sent_at = DateTimeField(null=True)
        error_code = CharField(max_length=120, default="")
        error = TextField(default="")
        user = ForeignKeyField(User, null=True, on_delete="SET NULL")
        created_at = DateTimeField()
        paid_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "bonus"
            indexes = ((("mturk_assignment", "key"), True),)

    db.create_tables([Bonus])

    class Decision(Model):
        organization = ForeignKeyField(Organization, field=Organization.id, on_delete="CASCADE")
        mturk_assignment = ForeignKeyField(MTurkAssignment, on_delete="CASCADE")
        action = CharField(max_length=16)
        feedback = TextField(default="")
        rules = JSONField(null=True)
        source = CharField(max_length=16)
        user = ForeignKeyField(User, null=True, on_delete="SET NULL")
        state = CharField(max_length=16, default="intended")
        error_code = CharField(max_length=120, default="")
        error = TextField(default="")
        created_at = DateTimeField()
        finished_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "decision"

    db.create_tables([Decision])

    class ReviewRules(Model):
        organization = ForeignKeyField(Organization, field=Organization.id, on_delete="CASCADE")
        batch = ForeignKeyField(Batch, unique=True, on_delete="CASCADE")
        min_control_accuracy = DecimalField(null=True, max_digits=4, decimal_places=3)
        min_seconds_per_page = IntegerField(null=True)
        require_completion_code = BooleanField(default=True)
        min_completeness = DecimalField(null=True, max_digits=4, decimal_places=3)
        reject_failures = BooleanField(default=False)
        approve_feedback = TextField(default="")
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "review_rules"

    db.create_tables([ReviewRules])

    class WorkerAction(Model):
        organization = ForeignKeyField(Organization, field=Organization.id, on_delete="CASCADE")
        mturk_assignment = ForeignKeyField(MTurkAssignment, on_delete="CASCADE")
        kind = CharField(max_length=16)
        worker_id = CharField(index=True, max_length=16)
        subject = CharField(max_length=200, default="")
        text = TextField(default="")
        state = CharField(max_length=16, default="intended")
        error_code = CharField(max_length=120, default="")
        error = TextField(default="")
        user = ForeignKeyField(User, null=True, on_delete="SET NULL")
        created_at = DateTimeField()
        finished_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "worker_action"

    db.create_tables([WorkerAction])

    migrator.migrate(migrator.drop_index("assignment", "assignment_mturk_assignment_id"))
    migrator.migrate(migrator.add_index("assignment", ("mturk_assignment_id", "worker_id"), unique=True))


def down(migrator, db):
    migrator.migrate(migrator.drop_index("assignment", "assignment_mturk_assignment_id_worker_id"))
    migrator.migrate(migrator.add_index("assignment", ("mturk_assignment_id",), unique=True))
    migrator.migrate(migrator.drop_table("worker_action"))
    migrator.migrate(migrator.drop_table("review_rules"))
    migrator.migrate(migrator.drop_table("decision"))
    migrator.migrate(migrator.drop_table("bonus"))
    migrator.migrate(migrator.drop_table("mturk_assignment"))
