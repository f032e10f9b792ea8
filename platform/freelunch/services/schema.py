"""Schema migrations with peewee's own runner (playhouse.migrations) and differ."""

from __future__ import annotations

from playhouse.migrations import Runner, template
from playhouse.schema_diff import diff_models

from ..config import ROOT
from ..models import MODELS

MIGRATIONS = ROOT / "migrations"


def upgrade(database) -> list[str]:
    return Runner(database, str(MIGRATIONS)).up()


def drift(database):
    """What the database lacks or has extra compared with the models (falsy when none)."""
    return diff_models(database, MODELS)


def make_migration(database, name: str) -> str | None:
    difference = drift(database)
    if not difference:
        return None
    return Runner(database, str(MIGRATIONS)).create(name, body=template(difference))
