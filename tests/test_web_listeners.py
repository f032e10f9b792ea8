"""The Procfile's web process: each gunicorn worker accepts on a listening socket of its own (``--reuse-port``),
so the kernel spreads browsers' keep-alive connections over the workers instead of the fastest worker
taking most of a burst of them (docs/ingest.md, "Running it").

SQLite only: the database plays no part in who accepts a connection.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest
from deployment import free_port, procfile, wait_for_port
from processes import ROOT, wait_until

pytestmark = pytest.mark.sqlite_only
WORKERS = 2
CONNECTIONS = 40  # all to one of two workers by chance: once in 2**39 runs
LISTENING, ESTABLISHED = "0A", "01"  # /proc/net/tcp's states


def _sockets(port: int, state: str) -> set[str]:
    """Inodes of the TCP sockets whose local port is ``port``, in ``state``."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
                inodes.add(fields[9])
    return inodes


def _held_by(pid: int, inodes: set[str]) -> set[str]:
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            held.add(target[8:-1])
    return held


def test_each_web_worker_listens_on_its_own_socket_and_takes_a_share_of_the_connections(app_config, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "FREELUNCH_ENV": "production",
        "DATABASE_URL": app_config["DATABASE_URL"],
        "REDIS_URL": app_config["REDIS_URL"],
        "SECRET_KEY": app_config["SECRET_KEY"],
        "FREELUNCH_INSTANCE": str(tmp_path),
    }
    command = procfile("web", {"PORT": str(port), "WEB_CONCURRENCY": str(WORKERS)})
    with (tmp_path / "web.log").open("w") as log:
        web = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    clients: list[socket.socket] = []
    try:
        wait_for_port(port)
        children = Path(f"/proc/{web.pid}/task/{web.pid}/children")
        wait_until(lambda: len(children.read_text().split()) == WORKERS, what="gunicorn's workers")
        workers = [int(pid) for pid in children.read_text().split()]
        wait_until(lambda: len(_sockets(port, LISTENING)) == WORKERS, what="a listening socket per worker")

        for _ in range(CONNECTIONS):  # a burst, as browsers arriving together (or wrk) make
            clients.append(socket.create_connection(("127.0.0.1", port)))

        def shares() -> list[int]:
            established = _sockets(port, ESTABLISHED)
            return [len(_held_by(pid, established)) for pid in workers]

        wait_until(lambda: sum(shares()) == CONNECTIONS, what="the workers to accept every connection")
        assert all(shares()), f"connections per worker {shares()}: one worker took them all"
    finally:
        for client in clients:
            client.close()
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(15)
