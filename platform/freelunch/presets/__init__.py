"""Built-in class lists a requester can import without uploading anything.

Each preset is a folder of this package holding the files the class import
reads (``class_info.json``, optionally ``wikipedia_pages.json``) and the
licence they came under; pyproject.toml ships them as package data, so an
installed Freelunch needs nothing beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable


@dataclass(frozen=True)
class Preset:
    name: str
    title: str
    source: str  # where the files came from, shown beside the import button

    @property
    def folder(self) -> Traversable:
        return files(__name__) / self.name

    @property
    def classes_file(self) -> Traversable:
        return self.folder / "class_info.json"

    @property
    def wikipedia_file(self) -> Traversable:
        return self.folder / "wikipedia_pages.json"

    def classes(self) -> bytes:
        return self.classes_file.read_bytes()

    def wikipedia(self) -> bytes:
        return self.wikipedia_file.read_bytes()


IMAGENET_1K = Preset(
    name="imagenet-1k",
    title="ImageNet-1k classes",
    source="the 1,000 ILSVRC-2012 classes with WordNet ids, names, glosses and Wikipedia links, from ImageNetV2 (MIT)",
)

PRESETS: dict[str, Preset] = {preset.name: preset for preset in (IMAGENET_1K,)}
