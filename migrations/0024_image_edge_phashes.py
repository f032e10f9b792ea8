# The pHashes of each image with 5 % cut off each edge, so a copy cropped at one edge is found (hashing.py).
# Images imported before have none until the duplicates panel's fetch-and-hash job computes them.
from peewee import *


def up(migrator, db):
    migrator.migrate(migrator.add_column("image", "edge_phashes", BlobField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("image", "edge_phashes"))
