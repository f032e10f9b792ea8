# A lean first round: a batch of the candidates a model's scores make sure (asked one vote each), and one of the
# rest (services/batches/builder.py).
from peewee import *


def up(migrator, db):
    migrator.migrate(migrator.add_column("batch", "sure_images", CharField(max_length=8, null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("batch", "sure_images"))
