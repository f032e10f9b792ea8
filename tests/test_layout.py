"""The repository stands alone and its tests share builders, not each other."""

import ast
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


PACKAGE = ROOT / "platform" / "freelunch"
# The dashboard's and the worker's blueprints: each a package of freelunch whose __init__.py makes the Blueprint.
BLUEPRINTS = sorted(path.parent.name for path in PACKAGE.glob("*/__init__.py") if "Blueprint(" in path.read_text())


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports (at the top or inside a function), as an absolute dotted name."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module) if part)
            # ``from .. import batches`` imports a module through its package: count the names too.
            modules |= {module} | {f"{module}.{alias.name}" for alias in node.names}
    return modules


# The WSGI app in front of Flask that takes pointer batches: the web layer, like a blueprint.
MIDDLEWARE = ("ingest_middleware",)


def imported_blueprints(folder: Path, layer: tuple = tuple(BLUEPRINTS)) -> dict[str, set[str]]:
    """{module of ``folder``: the packages of ``layer`` (the blueprints) it imports, other than its own}."""
    own = folder.relative_to(PACKAGE).parts[0]
    found = {}
    for path in sorted(folder.rglob("*.py")):
        blueprints = {
            parts[1]
            for module in imported_modules(path)
            if (parts := module.split("."))[0] == "freelunch" and len(parts) > 1 and parts[1] in layer
        } - {own}
        if blueprints:
            found[str(path.relative_to(ROOT))] = blueprints
    return found


def test_the_blueprints_are_found():
    """The rules below hold over these packages; the list failing to grow means the detection broke."""
    assert {"admin", "annotate", "auth", "batches", "mturk", "review"} <= set(BLUEPRINTS)


def test_no_blueprint_imports_another_blueprint():
    """What two blueprints share lives below them (freelunch/web/, services/), so each can change alone."""
    importing = {}
    for name in BLUEPRINTS:
        importing |= imported_blueprints(PACKAGE / name)
    assert importing == {}


def test_services_never_import_a_blueprint():
    """Services sit under the blueprints, the ingest middleware, tasks/ and the CLI: they are called, never call up."""
    assert imported_blueprints(PACKAGE / "services", tuple(BLUEPRINTS) + MIDDLEWARE) == {}


def test_every_form_reads_the_request_through_the_one_base():
    """web/forms.Form turns what a request holds into text and files for its fields (a JSON object or a file part
    sent as a text field was a 500): a form built on Flask-WTF's base directly would skip it."""
    direct = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "platform").rglob("*.py")
        if "FlaskForm" in path.read_text() and path != ROOT / "platform/freelunch/web/forms.py"
    ]
    assert direct == []
