# Generated from a schema diff on 2026-11-25 23:05.
from peewee import *


def up(migrator, db):
    migrator.migrate(migrator.drop_index("pointer_chunk", "pointerchunk_assignment_id_pageno_seq"))
    migrator.migrate(migrator.add_column("page_submission", "tab", IntegerField(default=0)))
    migrator.migrate(migrator.add_column("pointer_chunk", "tab", IntegerField(default=0)))
    migrator.migrate(migrator.add_index("pointer_chunk", ("assignment_id", "pageno", "tab", "seq"), unique=True))


def down(migrator, db):
    migrator.migrate(migrator.drop_index("pointer_chunk", "pointer_chunk_assignment_id_pageno_tab_seq"))
    migrator.migrate(migrator.drop_column("pointer_chunk", "tab"))
    migrator.migrate(migrator.drop_column("page_submission", "tab"))
    migrator.migrate(
        migrator.add_index(
            "pointer_chunk",
            ("assignment_id", "pageno", "seq"),
            unique=True,
            name="pointerchunk_assignment_id_pageno_seq",
        )
    )
