# Generated from a schema diff on 2026-12-01 09:08.
from peewee import *

# Callable defaults (timestamps) are applied by the models, not the database.


def up(migrator, db):
    class Batch(Model):
        class Meta:
            database = db
            table_name = "batch"

    class Image(Model):
        class Meta:
            database = db
            table_name = "image"

    class ImageClass(Model):
        class Meta:
            database = db
            table_name = "image_class"

    class Organization(Model):
        class Meta:
            database = db
            table_name = "organization"

    class LabelFit(Model):
        organization = ForeignKeyField(Organization, field=Organization.id, on_delete="CASCADE")
        batch = ForeignKeyField(Batch, on_delete="CASCADE")
        model = CharField(max_length=8)
        target_precision = FloatField()
        threshold = FloatField(default=0.7)
        batch_ids = JSONField(default=list)
        state = CharField(max_length=16, default="queued")
        job_id = CharField(null=True, max_length=64)
        images = IntegerField(default=0)
        yes = IntegerField(default=0)
        no = IntegerField(default=0)
        open = IntegerField(default=0)
        votes = IntegerField(default=0)
        iterations = IntegerField(default=0)
        error = TextField(default="")
        created_at = DateTimeField()
        finished_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "label_fit"

    db.create_tables([LabelFit])

    class ImageLabel(Model):
        fit = ForeignKeyField(LabelFit, on_delete="CASCADE", index=False)
        image_class = ForeignKeyField(ImageClass, on_delete="CASCADE")
        image = ForeignKeyField(Image, on_delete="CASCADE")
        votes = IntegerField()
        selected = IntegerField()
        p_yes = FloatField()
        decision = CharField(max_length=8)
        known = BooleanField(default=False)

        class Meta:
            database = db
            table_name = "image_label"
            indexes = ((("fit", "image_class", "image"), True), (("fit", "decision", "image_class", "image"), False))

    db.create_tables([ImageLabel])

    class WorkerEstimate(Model):
        fit = ForeignKeyField(LabelFit, on_delete="CASCADE", index=False)
        worker_id = CharField(max_length=16)
        sensitivity = FloatField(null=True)
        specificity = FloatField(null=True)
        votes = IntegerField()
        gold_votes = IntegerField()
        selected = IntegerField()
        flag = CharField(max_length=16, default="")

        class Meta:
            database = db
            table_name = "worker_estimate"
            indexes = ((("fit", "worker_id"), True),)

    db.create_tables([WorkerEstimate])

    migrator.migrate(
        migrator.add_column(
            "batch", "follows_id", ForeignKeyField(Batch, field=Batch.id, null=True, on_delete="SET NULL")
        )
    )
    migrator.migrate(migrator.add_column("batch", "round", SmallIntegerField(default=1)))


def down(migrator, db):
    migrator.migrate(migrator.drop_index("batch", "batch_follows_id"))
    migrator.migrate(migrator.drop_column("batch", "round"))
    migrator.migrate(migrator.drop_column("batch", "follows_id"))
    migrator.migrate(migrator.drop_table("worker_estimate"))
    migrator.migrate(migrator.drop_table("image_label"))
    migrator.migrate(migrator.drop_table("label_fit"))
