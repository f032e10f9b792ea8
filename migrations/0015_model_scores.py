# A requester's model scores per image and class (the label model's prior), and what a fit made of them.
from peewee import *


def up(migrator, db):
    class Organization(Model):
        class Meta:
            database = db
            table_name = "organization"

    class Dataset(Model):
        class Meta:
            database = db
            table_name = "dataset"

    class ImageClass(Model):
        class Meta:
            database = db
            table_name = "image_class"

    class Image(Model):
        class Meta:
            database = db
            table_name = "image"

    class ModelScore(Model):
        organization = ForeignKeyField(Organization, field=Organization.id, on_delete="CASCADE")
        dataset = ForeignKeyField(Dataset, on_delete="CASCADE")
        image_class = ForeignKeyField(ImageClass, on_delete="CASCADE")
        image = ForeignKeyField(Image, on_delete="CASCADE")
        score = FloatField()

        class Meta:
            database = db
            table_name = "model_score"
            indexes = ((("image_class", "image"), True),)

    db.create_tables([ModelScore])
    # Added nullable, filled, then made NOT NULL: the migrator cannot bind a JSON default itself.
    migrator.migrate(migrator.add_column("label_fit", "prior", JSONField(null=True)))
    db.execute_sql("UPDATE label_fit SET prior = '{}'")
    migrator.migrate(migrator.add_not_null("label_fit", "prior"))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("label_fit", "prior"))
    db.execute_sql("DROP TABLE model_score")
