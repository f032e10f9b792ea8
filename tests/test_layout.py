"""The repository stands alone and its tests share builders, not each other."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE = [path for folder in ("platform", "tasks", "workers", "tests", "bench", "migrations")
        for path in (ROOT / folder).rglob("*.py")]


def test_test_modules_never_import_each_other():
    """Builders live in factories.py, client helpers in support.py, fixtures in conftest.py."""
    importing = [str(path.relative_to(ROOT)) for path in CODE
                 if re.search(r"^\s*(from|import) test_\w+", path.read_text(), re.M)]
    assert importing == []


def test_nothing_reads_beside_the_repository():
    """A fresh clone has nothing beside it: the ImageNet-1k classes ship in freelunch/presets/."""
    reading = [str(path.relative_to(ROOT)) for path in CODE
               if re.search(r"""["'/]shared["'/]""", path.read_text())]
    assert reading == []
