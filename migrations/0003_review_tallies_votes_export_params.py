# Generated from a schema diff on 2026-11-25 18:54.
from peewee import *


def up(migrator, db):
    class Assignment(Model):
        class Meta:
            database = db
            table_name = "assignment"

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

    class PageSubmission(Model):
        class Meta:
            database = db
            table_name = "page_submission"

    class PageTally(Model):
        page = ForeignKeyField(PageSubmission, unique=True, on_delete="CASCADE")
        assignment = ForeignKeyField(Assignment, on_delete="CASCADE")
        images = IntegerField()
        selected = IntegerField()
        estimate_zero = IntegerField()
        estimate_250 = IntegerField()
        estimate_500 = IntegerField()
        estimate_1000 = IntegerField()
        estimate_2000 = IntegerField()
        estimate_4000 = IntegerField()
        estimate_over = IntegerField()

        class Meta:
            database = db
            table_name = "page_tally"

    db.create_tables([PageTally])

    class Vote(Model):
        batch = ForeignKeyField(Batch, on_delete="CASCADE", index=False)
        image_class = ForeignKeyField(ImageClass, on_delete="CASCADE")
        image = ForeignKeyField(Image, on_delete="CASCADE")
        assignment = ForeignKeyField(Assignment, on_delete="CASCADE", index=False)
        selected = BooleanField()

        class Meta:
            database = db
            table_name = "vote"
            indexes = (
                (("assignment", "image_class", "image"), True),
                (("batch", "image_class", "image", "assignment", "selected"), False),
            )

    db.create_tables([Vote])

    # Added nullable, filled, then made NOT NULL: the migrator cannot bind a JSON default itself.
    migrator.migrate(migrator.add_column("export", "params", JSONField(null=True)))
    db.execute_sql("UPDATE export SET params = '{}'")
    migrator.migrate(migrator.add_not_null("export", "params"))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("export", "params"))
    migrator.migrate(migrator.drop_table("vote"))
    migrator.migrate(migrator.drop_table("page_tally"))
