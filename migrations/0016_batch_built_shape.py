# The shape a batch's HITs were built in (pages per HIT, images per page), which the dataset may have made smaller
# than the one asked for; filled for batches built before from their pages.
import json

from peewee import *


def up(migrator, db):
    migrator.migrate(migrator.add_column("batch", "built_shape", JSONField(null=True)))
    pages, sizes = {}, {}
    rows = db.execute_sql(
        "SELECT hit.batch_id, hit.id, hit_page.image_ids FROM hit_page JOIN hit ON hit_page.hit_id = hit.id"
    )
    for batch_id, hit_id, image_ids in rows:
        ids = json.loads(image_ids) if isinstance(image_ids, str) else image_ids
        pages.setdefault(batch_id, {}).setdefault(hit_id, 0)
        pages[batch_id][hit_id] += 1
        sizes.setdefault(batch_id, []).append(len(ids))
    for batch_id, per_hit in pages.items():
        shape = {
            "pages_per_hit": [min(per_hit.values()), max(per_hit.values())],
            "images_per_page": [min(sizes[batch_id]), max(sizes[batch_id])],
        }
        db.execute_sql(
            f"UPDATE batch SET built_shape = {db.param} WHERE id = {db.param}", (json.dumps(shape), batch_id)
        )


def down(migrator, db):
    migrator.migrate(migrator.drop_column("batch", "built_shape"))
