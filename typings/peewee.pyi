# mypy reads peewee as Any (pyproject.toml's [tool.mypy] puts this folder first): peewee 4.5's bundled stubs type a
# query's rows as models even after .tuples() or .dicts(), and cannot see what a model class gains when peewee creates
# it (the primary key, each foreign key's <name>_id, backrefs); every use of a model would need an ignore.
from typing import Any

def __getattr__(name: str) -> Any: ...
