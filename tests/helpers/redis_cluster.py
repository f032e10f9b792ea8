"""A real local Redis Cluster for tests and benchmarks: 3 masters + 3 replicas on loopback ports.

Started with Redis's own tools (``redis-server --cluster-enabled yes`` and
``redis-cli --cluster create ... --cluster-replicas 1``), torn down by ``stop``.
Nodes can be killed (SIGKILL, as a crashed host) to exercise a failover.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

NODE_TIMEOUT_MS = 1000  # how long a master may be silent before its replica takes over


def free_ports(n: int) -> list[int]:
    """n free loopback ports; a cluster node also listens on port + 10000 (its bus), so that must be free too, and
    neither may be another chosen node's port or bus (35265's bus is 45265: both were once picked, and the second
    node could not bind)."""
    ports: list[int] = []
    taken: set[int] = set()  # the chosen ports and their buses
    while len(ports) < n:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 > 65535 or port in taken or port + 10000 in taken:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        ports.append(port)
        taken.update((port, port + 10000))
    return ports


def available() -> bool:
    return bool(shutil.which("redis-server") and shutil.which("redis-cli"))


class LocalCluster:
    def __init__(self, directory: Path, masters: int = 3, replicas: int = 1):
        self.directory = directory
        self.ports = free_ports(masters * (1 + replicas))
        self.replicas = replicas
        self.processes: dict[int, subprocess.Popen] = {}

    @property
    def url(self) -> str:
        """Any node's URL: redis-py's RedisCluster discovers the others."""
        return f"redis://127.0.0.1:{self.ports[0]}"

    def start(self) -> LocalCluster:
        for port in self.ports:
            self._start_node(port)
        for port in self.ports:
            self._wait_ping(port)
        subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *(f"127.0.0.1:{p}" for p in self.ports),
                "--cluster-replicas",
                str(self.replicas),
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        self.wait_healthy()
        return self

    def replicas_in_sync(self) -> bool:
        """Every live replica has finished its sync with its master (else it could not take over)."""
        roles = [redis.Redis(port=p).info("replication") for p in self.live_ports()]
        replicas = [info for info in roles if info["role"] == "slave"]
        return len(replicas) == len(self.ports) // (1 + self.replicas) * self.replicas and all(
            info["master_link_status"] == "up" and not info.get("master_sync_in_progress") for info in replicas
        )

    def _start_node(self, port: int) -> None:
        node_dir = self.directory / str(port)
        node_dir.mkdir(parents=True, exist_ok=True)
        # AOF as production runs the ingest Redis (docs/ingest.md); fsync every second.
        self.processes[port] = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(node_dir),
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                str(NODE_TIMEOUT_MS),
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
                "--auto-aof-rewrite-min-size",
                "1gb",
                "--repl-diskless-sync-delay",
                "0",
            ],
            stdout=(node_dir / "redis.log").open("w"),
            stderr=subprocess.STDOUT,
        )

    @staticmethod
    def _wait_ping(port: int, seconds: float = 20) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                if redis.Redis(port=port, socket_connect_timeout=0.5).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {port} did not start")

    def live_ports(self) -> list[int]:
        return [port for port, process in self.processes.items() if process.poll() is None]

    def wait_healthy(self, seconds: float = 30, replicated: bool = True) -> None:
        """Every live node reports cluster_state:ok (every slot served) and, if asked, every replica is in sync."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                if all(redis.Redis(port=p).cluster("info")["cluster_state"] == "ok" for p in self.live_ports()) and (
                    not replicated or self.replicas_in_sync()
                ):
                    return
            except redis.RedisError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the cluster did not become healthy")

    def masters(self) -> dict[int, list[tuple[int, int]]]:
        """Live master port -> its slot ranges, as a live node sees the cluster."""
        port = self.live_ports()[0]
        result: dict[int, list[tuple[int, int]]] = {}
        for start, end, master, *_ in redis.Redis(port=port).execute_command("CLUSTER", "SLOTS"):
            master_port = int(master[1])
            if master_port in self.live_ports():
                result.setdefault(master_port, []).append((int(start), int(end)))
        return result

    def master_of(self, key: str) -> int:
        slot = redis.Redis(port=self.live_ports()[0]).cluster("keyslot", key)
        return next(port for port, ranges in self.masters().items() if any(a <= slot <= b for a, b in ranges))

    def kill(self, port: int) -> None:
        """SIGKILL a node, as a crashed host: no goodbye to the cluster, no final AOF write."""
        self.processes[port].kill()
        self.processes[port].wait(10)

    def kill_master_and_wait_for_failover(self, port: int, after_kill=None, seconds: float = 30) -> int:
        """SIGKILL a master (then call ``after_kill``); returns the port of the replica that took over its slots."""
        slots = self.masters()[port]
        self.kill(port)
        if after_kill:
            after_kill()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                for master, ranges in self.masters().items():
                    if master != port and slots[0] in ranges:
                        self.wait_healthy(replicated=False)  # the promoted replica has no replica of its own now
                        return master
            except redis.RedisError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"no replica took over from the master on port {port}")

    def restart(self, port: int) -> None:
        """Start a killed node again: it rejoins the cluster (as a replica of whoever took over)."""
        self._start_node(port)
        self._wait_ping(port)
        self.wait_healthy()

    def replica_of(self, master: int) -> int:
        for port in self.live_ports():
            info = redis.Redis(port=port).info("replication")
            if info["role"] == "slave" and int(info["master_port"]) == master:
                return port
        raise RuntimeError(f"the master on port {master} has no live replica")

    def flushall(self) -> None:
        for port in self.masters():
            redis.Redis(port=port).flushall()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
