# Generated from a schema diff on 2026-12-06 19:22.
from peewee import *

# Server-account grants, MTurk spending reserved against a daily limit, and the organization's limit and pay floor.
# Callable defaults (timestamps) are applied by the models, not the database.


def up(migrator, db):
    class Organization(Model):
        class Meta:
            database = db
            table_name = "organization"

    class MTurkSpend(Model):
        organization = ForeignKeyField(Organization, field=Organization.id, on_delete="CASCADE")
        token = CharField(unique=True, max_length=128)
        kind = CharField(max_length=16)
        amount = DecimalField(max_digits=12, decimal_places=2)
        created_at = DateTimeField(index=True)

        class Meta:
            database = db
            table_name = "mturk_spend"

    db.create_tables([MTurkSpend])

    class ServerAccountGrant(Model):
        organization = ForeignKeyField(Organization, field=Organization.id, on_delete="CASCADE")
        granted_by = CharField(max_length=254)
        granted_at = DateTimeField()
        note = TextField(default="")
        revoked_by = CharField(max_length=254, default="")
        revoked_at = DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "server_account_grant"

    db.create_tables([ServerAccountGrant])

    migrator.migrate(
        migrator.add_column(
            "organization", "mturk_daily_limit", DecimalField(null=True, max_digits=10, decimal_places=2)
        )
    )
    migrator.migrate(
        migrator.add_column("organization", "hourly_pay_floor", DecimalField(null=True, max_digits=6, decimal_places=2))
    )


def down(migrator, db):
    migrator.migrate(migrator.drop_column("organization", "hourly_pay_floor"))
    migrator.migrate(migrator.drop_column("organization", "mturk_daily_limit"))
    migrator.migrate(migrator.drop_table("server_account_grant"))
    migrator.migrate(migrator.drop_table("mturk_spend"))
