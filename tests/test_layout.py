"""The repository stands alone and its tests share builders, not each other."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE = [
    path
    for folder in ("platform", "tasks", "workers", "tests", "bench", "migrations")
    for path in (ROOT / folder).rglob("*.py")
]


def test_test_modules_never_import_each_other():
    """Builders live in factories.py, client helpers in support.py, fixtures in conftest.py."""
    importing = [
        str(path.relative_to(ROOT)) for path in CODE if re.search(r"^\s*(from|import) test_\w+", path.read_text(), re.M)
    ]
    assert importing == []


def test_nothing_reads_beside_the_repository():
    """A fresh clone has nothing beside it: the ImageNet-1k classes ship in freelunch/presets/."""
    reading = [str(path.relative_to(ROOT)) for path in CODE if re.search(r"""["'/]shared["'/]""", path.read_text())]
    assert reading == []


def service_imports() -> dict[str, set[str]]:
    """{subpackage of services/: the other subpackages its modules import}."""
    services = ROOT / "platform" / "freelunch" / "services"
    subpackages = {path.name for path in services.iterdir() if (path / "__init__.py").exists()}
    found: dict[str, set[str]] = {name: set() for name in subpackages}
    for name in subpackages:
        for path in (services / name).rglob("*.py"):
            for match in re.finditer(r"^\s*from \.\.(?!\.)(\w*)[\w.]* import \(?([\w, ]+)", path.read_text(), re.M):
                names = (
                    [match.group(1)]
                    if match.group(1)
                    else [n.split(" as ")[0].strip() for n in match.group(2).split(",")]
                )
                found[name] |= {other for other in names if other in subpackages and other != name}
    return found


def test_services_subpackages_depend_on_each_other_one_way():
    """No cycle between services/ subpackages (docs/architecture.md draws the flow)."""
    graph, done, path = service_imports(), set(), []

    def visit(name):
        assert name not in path, " -> ".join(path + [name])
        if name in done:
            return
        path.append(name)
        for other in sorted(graph[name]):
            visit(other)
        path.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)
