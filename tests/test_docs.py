"""The docs cannot drift: every repository path they name exists, and the processes they list are the Procfile's.

A path is a word with a slash that ends in a file extension (``services/jobs.py``) or in a slash
(``tests/browser/``), outside fenced code blocks (those are examples of a user's files). It may be written from
the repository's root, from ``platform/`` or ``platform/freelunch/`` (as the docs name modules), or from the
document's own folder (a markdown link).
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
BASES = (ROOT, ROOT / "platform", ROOT / "platform" / "freelunch")

# Paths the docs name on purpose that are not files of the repository.
NOT_IN_REPOSITORY = {
    "platform/__init__.py": "named to say it must never exist (it would shadow Python's platform module)",
    "src/": "the usual name of what platform/ is",
    "cat/readme.txt": "inside an example ZIP a requester uploads",
    "a/b/c/d.jpg": "inside an example ZIP a requester uploads",
    "__MACOSX/": "inside an example ZIP a requester uploads",
}
MADE_AT_RUN_TIME = "instance/"  # the instance folder (SQLite, uploads, media), not in git

EXTENSIONS = "py|md|js|css|html|toml|txt|json|png|jpg|csv|sh|cfg|ini|yml|yaml"
PATH = re.compile(
    r"(?<![\w/.:~<>-])((?:\.\./)*[\w.-]+(?:/[\w.-]+)*/(?:[\w-]+\.(?:" + EXTENSIONS + r")\b|(?=[\s`)|,;]|$)))"
)
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def named_paths(doc: Path) -> set[str]:
    return set(PATH.findall(FENCE.sub("", doc.read_text(encoding="utf-8"))))


def exists(path: str, doc: Path) -> bool:
    if path.startswith("../"):
        return False  # outside the repository: a clone has nothing beside it
    if path.startswith(MADE_AT_RUN_TIME):
        return True
    return any((base / path).exists() for base in (*BASES, doc.parent))


@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.name)
def test_every_path_a_doc_names_exists(doc):
    missing = sorted(p for p in named_paths(doc) - NOT_IN_REPOSITORY.keys() if not exists(p, doc))
    assert not missing, f"{doc.relative_to(ROOT)} names paths that are not in the repository: {missing}"


def test_the_path_finder_finds_paths_and_only_paths(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text(
        "See `services/jobs.py`, tests/browser/ and [a](docs/ops.md); ../outside/notes.md; `services/jobs.enqueue`.\n"
        "Not paths: /help/imports, https://example.org/a/b.png, s3://bucket/key.png, and/or, `<area>/`.\n"
        "```\nn01440764/positive/ctrl_1.png\n```\n"
    )
    assert named_paths(doc) == {"services/jobs.py", "tests/browser/", "docs/ops.md", "../outside/notes.md"}
    assert not exists("../outside/notes.md", doc) and exists("services/jobs.py", doc)


def procfile_processes() -> list[str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return [line.split(":", 1)[0] for line in lines if line.strip() and not line.startswith("#")]


def documented_processes() -> list[str]:
    """The first column of the table in architecture.md's "Processes" section."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = text.split("\n## Processes\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [re.match(r"\| `([\w-]+)`", row).group(1) for row in rows]


def test_architecture_lists_exactly_the_procfiles_processes():
    assert procfile_processes(), "the Procfile has no processes"
    assert documented_processes() == procfile_processes()
