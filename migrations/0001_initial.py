# Generated from a schema diff on 2026-11-25 18:39.
from peewee import *

# Callable defaults (timestamps, tokens) are applied by the models, not the database.


def up(migrator, db):
    class Organization(Model):
        name = CharField(max_length=120)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "organization"

    db.create_tables([Organization])

    class Dataset(Model):
        organization = ForeignKeyField(Organization, field=Organization.id, on_delete="CASCADE")
        name = CharField(max_length=120)
        description = TextField(default="")
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "dataset"
            indexes = ((("organization", "name"), True),)

    db.create_tables([Dataset])

    class Batch(Model):
        organization = ForeignKeyField(Organization, field=Organization.id, on_delete="CASCADE")
        dataset = ForeignKeyField(Dataset, on_delete="RESTRICT")
        name = CharField(max_length=120)
        state = CharField(max_length=16, default="draft")
        pages_per_hit = SmallIntegerField(default=10)
        images_per_page = SmallIntegerField(default=48)
        positives_per_page = SmallIntegerField(default=0)
        negatives_per_page = SmallIntegerField(default=0)
        assignments_per_hit = SmallIntegerField(default=3)
        versions = JSONField()
        one_hit_per_worker = BooleanField(default=False)
        reward = DecimalField(max_digits=8, decimal_places=2, default=0)
        title = CharField(max_length=200, default="")
        description = TextField(default="")
        shuffle_seed = BigIntegerField(null=True)
        mturk = JSONField(default=dict)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "batch"

    db.create_tables([Batch])

    class Hit(Model):
        organization = ForeignKeyField(Organization, field=Organization.id, on_delete="CASCADE")
        batch = ForeignKeyField(Batch, on_delete="CASCADE")
        key = CharField(unique=True, max_length=32)
        mturk_hit_id = CharField(unique=True, null=True, max_length=64)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "hit"

    db.create_tables([Hit])

    class LabLink(Model):
        organization = ForeignKeyField(Organization, field=Organization.id, on_delete="CASCADE")
        batch = ForeignKeyField(Batch, on_delete="CASCADE")
        token = CharField(unique=True, max_length=64)
        label = CharField(max_length=120, default="")
        created_at = DateTimeField()
        revoked_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "lab_link"

    db.create_tables([LabLink])

    class Assignment(Model):
        organization = ForeignKeyField(Organization, field=Organization.id, on_delete="CASCADE")
        hit = ForeignKeyField(Hit, on_delete="CASCADE")
        worker_id = CharField(index=True, max_length=16)
        source = CharField(max_length=16)
        lab_link = ForeignKeyField(LabLink, null=True, on_delete="SET NULL")
        version = CharField(max_length=32)
        mturk_assignment_id = CharField(unique=True, null=True, max_length=64)
        mturk_hit_id = CharField(null=True, max_length=64)
        turk_submit_to = CharField(null=True)
        started_at = DateTimeField()
        done = BooleanField(default=False)
        completed_at = DateTimeField(null=True)
        completion_code = CharField(null=True, max_length=6)

        class Meta:
            database = db
            table_name = "assignment"
            indexes = ((("hit", "worker_id"), True),)

    db.create_tables([Assignment])

    class Image(Model):
        organization = ForeignKeyField(Organization, field=Organization.id, on_delete="CASCADE")
        dataset = ForeignKeyField(Dataset, on_delete="CASCADE")
        key = CharField()
        url = TextField(null=True)
        storage_path = TextField(null=True)
        width = IntegerField(null=True)
        height = IntegerField(null=True)

        class Meta:
            database = db
            table_name = "image"
            indexes = ((("dataset", "key"), True),)

    db.create_tables([Image])

    class ImageClass(Model):
        organization = ForeignKeyField(Organization, field=Organization.id, on_delete="CASCADE")
        dataset = ForeignKeyField(Dataset, on_delete="CASCADE")
        key = CharField(max_length=120)
        names = JSONField(default=list)
        description = TextField(default="")
        wikipedia = JSONField(default=list)

        class Meta:
            database = db
            table_name = "image_class"
            indexes = ((("dataset", "key"), True),)

    db.create_tables([ImageClass])

    class Candidate(Model):
        organization = ForeignKeyField(Organization, field=Organization.id, on_delete="CASCADE")
        image = ForeignKeyField(Image, on_delete="CASCADE")
        image_class = ForeignKeyField(ImageClass, on_delete="CASCADE")
        role = CharField(max_length=16, default="candidate")

        class Meta:
            database = db
            table_name = "candidate"
            indexes = ((("image_class", "image"), True),)

    db.create_tables([Candidate])

    class Export(Model):
        organization = ForeignKeyField(Organization, field=Organization.id, on_delete="CASCADE")
        batch = ForeignKeyField(Batch, on_delete="CASCADE")
        kind = CharField(max_length=16)
        state = CharField(max_length=16, default="queued")
        job_id = CharField(null=True, max_length=64)
        path = TextField(null=True)
        rows = IntegerField(default=0)
        error = TextField(default="")
        created_at = DateTimeField()
        finished_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "export"

    db.create_tables([Export])

    class HitPage(Model):
        organization = ForeignKeyField(Organization, field=Organization.id, on_delete="CASCADE")
        hit = ForeignKeyField(Hit, on_delete="CASCADE")
        pageno = SmallIntegerField()
        image_class = ForeignKeyField(ImageClass, on_delete="RESTRICT")
        image_ids = JSONField(default=list)
        spare_image_ids = JSONField(default=list)

        class Meta:
            database = db
            table_name = "hit_page"
            indexes = ((("hit", "pageno"), True),)

    db.create_tables([HitPage])

    class PageSubmission(Model):
        assignment = ForeignKeyField(Assignment, on_delete="CASCADE")
        hit_page = ForeignKeyField(HitPage, on_delete="CASCADE")
        pageno = SmallIntegerField()
        started_at = BigIntegerField()
        ended_at = BigIntegerField()
        chunks_reported = IntegerField(default=0)
        submitted_at = DateTimeField()

        class Meta:
            database = db
            table_name = "page_submission"
            indexes = ((("assignment", "pageno"), True),)

    db.create_tables([PageSubmission])

    class ImageRecord(Model):
        page = ForeignKeyField(PageSubmission, on_delete="CASCADE")
        image = ForeignKeyField(Image, on_delete="CASCADE")
        grid_index = SmallIntegerField()
        original_width = IntegerField(null=True)
        original_height = IntegerField(null=True)
        width = IntegerField(null=True)
        height = IntegerField(null=True)
        position_x = IntegerField(null=True)
        position_y = IntegerField(null=True)
        hovered_record = JSONField(default=list)
        hovered_count = IntegerField(default=0)
        selected = BooleanField(default=False)
        selected_count = IntegerField(default=0)
        selected_record = JSONField(default=list)
        estimate_time = IntegerField(default=0)
        load_status = CharField(max_length=16, default="ok")
        replaces = ForeignKeyField(Image, null=True, on_delete="SET NULL")

        class Meta:
            database = db
            table_name = "image_record"
            indexes = ((("page", "grid_index"), True),)

    db.create_tables([ImageRecord])

    class User(Model):
        email = CharField(unique=True, max_length=254)
        name = CharField(max_length=120, default="")
        password_hash = CharField()
        is_admin = BooleanField(default=False)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "user"

    db.create_tables([User])

    class Invite(Model):
        organization = ForeignKeyField(Organization, on_delete="CASCADE")
        role = CharField(max_length=16)
        token = CharField(unique=True, max_length=64)
        created_by = ForeignKeyField(User, on_delete="CASCADE")
        created_at = DateTimeField()
        used_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
        used_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "invite"

    db.create_tables([Invite])

    class Membership(Model):
        user = ForeignKeyField(User, on_delete="CASCADE")
        organization = ForeignKeyField(Organization, on_delete="CASCADE")
        role = CharField(max_length=16)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "membership"
            indexes = ((("user", "organization"), True),)

    db.create_tables([Membership])

    class PointerChunk(Model):
        assignment = ForeignKeyField(Assignment, on_delete="CASCADE")
        pageno = SmallIntegerField()
        seq = IntegerField()
        n_events = IntegerField()
        events = TextField()
        received_at = BigIntegerField()

        class Meta:
            database = db
            table_name = "pointer_chunk"
            indexes = ((("assignment", "pageno", "seq"), True),)

    db.create_tables([PointerChunk])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("pointer_chunk"))
    migrator.migrate(migrator.drop_table("membership"))
    migrator.migrate(migrator.drop_table("invite"))
    migrator.migrate(migrator.drop_table("user"))
    migrator.migrate(migrator.drop_table("image_record"))
    migrator.migrate(migrator.drop_table("page_submission"))
    migrator.migrate(migrator.drop_table("hit_page"))
    migrator.migrate(migrator.drop_table("export"))
    migrator.migrate(migrator.drop_table("candidate"))
    migrator.migrate(migrator.drop_table("image_class"))
    migrator.migrate(migrator.drop_table("image"))
    migrator.migrate(migrator.drop_table("assignment"))
    migrator.migrate(migrator.drop_table("lab_link"))
    migrator.migrate(migrator.drop_table("hit"))
    migrator.migrate(migrator.drop_table("batch"))
    migrator.migrate(migrator.drop_table("dataset"))
    migrator.migrate(migrator.drop_table("organization"))
