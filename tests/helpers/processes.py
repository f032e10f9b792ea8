"""Helpers for tests that run real processes (RQ workers, servers) and fault them.

Imported as ``from processes import ...`` (test modules never import each other).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import pytest

from freelunch.db import is_sqlite

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def wait_until(condition, seconds: float = 20, what: str = "condition"):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


@contextlib.contextmanager
def write_lock(app):
    """Another connection holds the lock every writer of pointer_chunk needs."""
    url = app.config["DATABASE_URL"]
    if url.startswith("sqlite:///"):
        import sqlite3

        locker = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None, timeout=30)
        locker.execute("BEGIN IMMEDIATE")
    else:
        locker = psycopg2.connect(url.replace("postgres://", "postgresql://", 1))
        locker.cursor().execute("LOCK TABLE pointer_chunk IN EXCLUSIVE MODE")
    try:
        yield
    finally:
        locker.rollback() if not is_sqlite() else locker.execute("ROLLBACK")
        locker.close()


def worker_env(app_config, redis_url: str, instance) -> dict:
    """The environment of a real worker process of the test's app: its database, Redis and instance folder."""
    return {
        **os.environ,
        "FREELUNCH_ENV": "testing",
        "SECRET_KEY": app_config["SECRET_KEY"],
        "DATABASE_URL": app_config["DATABASE_URL"],
        "REDIS_URL": redis_url,
        "FREELUNCH_INSTANCE": str(instance),
    }


def ingest_worker(redis_url: str, env: dict, stderr=subprocess.DEVNULL) -> subprocess.Popen:
    """A real `rq worker --burst` on the ingest queue, as the Procfile runs it, in a process group of its own."""
    return rq_worker(redis_url, env, "ingest", stderr=stderr)


def rq_worker(
    redis_url: str, env: dict, queue: str, worker_class: str = "workers.app_worker.AppWorker", stderr=subprocess.DEVNULL
) -> subprocess.Popen:
    """A real `rq worker --burst` on ``queue`` in a process group of its own; ``worker_class`` importable from the
    repository or tests/helpers (on its PYTHONPATH)."""
    helpers = str(Path(__file__).resolve().parent)
    pythonpath = os.pathsep.join(p for p in (helpers, env.get("PYTHONPATH", "")) if p)
    return subprocess.Popen(
        [str(BIN / "rq"), "worker", "--burst", "--worker-class", worker_class, "--url", redis_url, queue],
        env={**env, "PYTHONPATH": pythonpath},
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )


def horses(worker: subprocess.Popen) -> list[int]:
    """The work horses an `rq worker` forked (its children)."""
    children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def kill_worker(worker: subprocess.Popen) -> None:
    """SIGKILL an `rq worker` and its work horse, which RQ puts in a process group of its own (os.setpgrp)."""
    forked = horses(worker)
    os.killpg(worker.pid, signal.SIGKILL)
    for horse in forked:
        try:
            os.killpg(horse, signal.SIGKILL)
        except ProcessLookupError:
            pass
