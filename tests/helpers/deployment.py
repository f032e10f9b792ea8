"""A production-shaped deployment on this machine, from the Procfile: for the deployment test and ``make bench-scale``.

Two ``web`` processes (gunicorn) on two ports, the ``ingest`` worker, the
``worker`` for every other queue and one ``cron``, all with the same settings:
PostgreSQL (or SQLite), RQ's plain Redis and the ingest Redis Cluster. Load comes
from bench/ingest_load.py (open loop, one batch a second per annotator), split
over the two web processes as a load balancer would; any process can be SIGKILLed
and started again, as a process manager would.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from processes import BIN, ROOT, kill_worker

LOAD = ROOT / "bench" / "ingest_load.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def procfile(name: str, values: dict[str, str]) -> list[str]:
    """A Procfile line as argv, its ${VAR:-default} filled from ``values``, then the environment."""
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith(f"{name}:"))
    line = re.sub(
        r"\$\{(\w+)(?::-([^}]*))?\}",
        lambda m: values.get(m.group(1)) or os.environ.get(m.group(1)) or (m.group(2) or ""),
        line.removeprefix(f"{name}:"),
    )
    command = shlex.split(line)
    command[0] = str(BIN / command[0])
    return command


class Deployment:
    """The Procfile's processes; ``env`` holds DATABASE_URL, REDIS_URL, INGEST_* and SECRET_KEY."""

    def __init__(self, env: dict[str, str], logs: Path, web_concurrency: int = 1):
        self.env = {**os.environ, "FREELUNCH_ENV": "production", **env}
        self.logs = logs
        self.web_concurrency = web_concurrency
        self.web_ports = [free_port(), free_port()]
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self) -> Deployment:
        for k, port in enumerate(self.web_ports):
            self._start(f"web{k}", procfile("web", {"PORT": str(port), "WEB_CONCURRENCY": str(self.web_concurrency)}))
        for name in ("ingest", "worker", "cron"):
            self._start(name, procfile(name, {"REDIS_URL": self.env["REDIS_URL"]}))
        for port in self.web_ports:
            wait_for_port(port)
        return self

    def _start(self, name: str, command: list[str]) -> None:
        log = (self.logs / f"{name}.log").open("a")
        self.processes[name] = subprocess.Popen(
            command, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes[name].command = command

    def kill(self, name: str) -> None:
        """SIGKILL a process with its children (an RQ work horse has a process group of its own)."""
        process = self.processes[name]
        kill_worker(process)
        process.wait(10)

    def restart(self, name: str) -> None:
        self._start(name, self.processes[name].command)

    def pids(self) -> dict[str, list[int]]:
        """Every live process of the deployment and its children (gunicorn's workers, a work horse)."""
        result = {}
        for name, process in self.processes.items():
            if process.poll() is None:
                children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
                result[name] = (
                    [process.pid, *(int(c) for c in children.read_text().split())]
                    if children.exists()
                    else [process.pid]
                )
        return result

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for process in self.processes.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                kill_worker(process)


def wait_for_port(port: int, seconds: float = 30) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {seconds} s")


def start_load(
    port: int, tokens_file: Path, annotators: int, seconds: int, page: int, seq_base: int
) -> subprocess.Popen:
    """bench/ingest_load.py against one web process; its stdout is the JSON list of results."""
    return subprocess.Popen(
        [
            sys.executable,
            str(LOAD),
            str(port),
            "/api/ingest",
            str(tokens_file),
            str(annotators),
            str(seconds),
            str(page),
            str(seq_base),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )


def results(load: subprocess.Popen) -> list[list]:
    """[annotator index, seq, status, latency ms, client lag ms] for every batch the load sent."""
    out, _ = load.communicate(timeout=120)
    return json.loads(out)


def resend(port: int, tokens: list[str], failed: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """What the tracker does with a batch that was not answered 202: send it again (here, to a live web process).

    ``failed`` holds (annotator index, page, seq); returns those still not accepted.
    """
    import http.client

    sys.path.insert(0, str(LOAD.parent))
    from ingest_load import events_json

    events = events_json(int(time.time() * 1000))
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    refused = []
    for who, page, seq in failed:
        body = b'{"token":"%s","page":%d,"tab":0,"seq":%d,"events":%s}' % (tokens[who].encode(), page, seq, events)
        try:
            connection.request("POST", "/api/ingest", body, {"Content-Type": "text/plain;charset=UTF-8"})
            response = connection.getresponse()
            response.read()
            if response.status != 202:
                refused.append((who, page, seq))
        except OSError:
            connection.close()
            refused.append((who, page, seq))
    connection.close()
    return refused
