import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_standard_platform_module_is_not_shadowed_from_the_repository_root():
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import platform, freelunch, tasks, workers; print(platform.system(), platform.__file__)",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    system, path = out.split()
    assert system == "Linux"
    assert not path.startswith(str(ROOT)), path
    assert not (ROOT / "platform" / "__init__.py").exists()


def test_console_script_lists_project_commands():
    out = subprocess.run(
        [str(Path(sys.executable).parent / "freelunch"), "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("db", "demo", "user"):
        assert command in out
