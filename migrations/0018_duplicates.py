# A perceptual hash per image, and the near-duplicate groups found among a dataset's images.
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

    class Image(Model):
        class Meta:
            database = db
            table_name = "image"

    class DuplicateMember(Model):
        organization = ForeignKeyField(Organization, field=Organization.id, on_delete="CASCADE")
        dataset = ForeignKeyField(Dataset, on_delete="CASCADE")
        group = IntegerField()
        image = ForeignKeyField(Image, on_delete="CASCADE")
        distance = SmallIntegerField()
        decision = CharField(max_length=8, null=True)

        class Meta:
            database = db
            table_name = "duplicate_member"
            indexes = ((("dataset", "group"), False), (("dataset", "image"), True))

    migrator.migrate(migrator.add_column("image", "phash", BigIntegerField(null=True)))
    db.create_tables([DuplicateMember])


def down(migrator, db):
    db.execute_sql("DROP TABLE duplicate_member")
    migrator.migrate(migrator.drop_column("image", "phash"))
