# Generated from a schema diff on 2026-12-01 08:48.
from peewee import *


def up(migrator, db):
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

    class MTurkAccount(Model):
        organization = ForeignKeyField(Organization, unique=True, on_delete="CASCADE")
        access_key_id = CharField(max_length=128)
        secret_token = TextField()
        updated_at = DateTimeField()

        class Meta:
            database = db
            table_name = "mturk_account"

    db.create_tables([MTurkAccount])

    class MTurkHit(Model):
        organization = ForeignKeyField(Organization, field=Organization.id, on_delete="CASCADE")
        batch = ForeignKeyField(Batch, on_delete="CASCADE")
        hit = ForeignKeyField(Hit, on_delete="CASCADE")
        part = SmallIntegerField(default=0)
        round = SmallIntegerField(default=1)
        sandbox = BooleanField()
        max_assignments = SmallIntegerField()
        unique_request_token = CharField(unique=True, max_length=64)
        state = CharField(max_length=16, default="intended")
        hit_type_id = CharField(null=True, max_length=64)
        mturk_hit_id = CharField(unique=True, null=True, max_length=64)
        hit_status = CharField(null=True, max_length=16)
        expires_at = DateTimeField(null=True)
        intended_at = DateTimeField()
        sent_at = DateTimeField(null=True)
        created_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "mturk_hit"
            indexes = ((("hit", "round", "part"), True),)

    db.create_tables([MTurkHit])

    class MTurkExtension(Model):
        organization = ForeignKeyField(Organization, field=Organization.id, on_delete="CASCADE")
        mturk_hit = ForeignKeyField(MTurkHit, on_delete="CASCADE")
        assignments = SmallIntegerField()
        unique_request_token = CharField(unique=True, max_length=64)
        state = CharField(max_length=16, default="intended")
        intended_at = DateTimeField()
        done_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "mturk_extension"

    db.create_tables([MTurkExtension])

    class MTurkQualificationType(Model):
        organization = ForeignKeyField(Organization, field=Organization.id, on_delete="CASCADE")
        sandbox = BooleanField()
        purpose = CharField(max_length=64)
        name = CharField(max_length=200)
        qualification_type_id = CharField(null=True, max_length=64)
        created_at = DateTimeField()

        class Meta:
            database = db
            table_name = "mturk_qualification_type"
            indexes = ((("organization", "sandbox", "purpose"), True),)

    db.create_tables([MTurkQualificationType])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("mturk_qualification_type"))
    migrator.migrate(migrator.drop_table("mturk_extension"))
    migrator.migrate(migrator.drop_table("mturk_hit"))
    migrator.migrate(migrator.drop_table("mturk_account"))
