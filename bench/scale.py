"""make bench-scale: the scaled-out path measured, with every acknowledged event accounted for.

1. The flush into PostgreSQL beside SQLite's, in one run (bench/flush.py, production's COPY).
2. A real Redis Cluster (3 masters + 3 replicas, tests/helpers/redis_cluster.py) holding
   ``--shards`` ingest shards, and the Procfile's processes as a deployment
   (tests/helpers/deployment.py: two web processes, the ingest worker, the other worker,
   cron) on a fresh PostgreSQL database, RQ on its own plain Redis. Three phases
   of open-loop load over both web processes, each on its own page number:
   - steady: nothing killed (``cluster_lost``, ``cluster_duplicated``);
   - failover: the master of shard 0 SIGKILLed mid-run, its replica promoted
     (``failover_lost``: events answered 202 and not stored);
   - processes: one web process and the ingest worker SIGKILLed mid-run, the
     worker started again as a process manager would (``multi_process_lost``).
   Batches not answered 202 (a dead web process, a master failing over) are
   sent again afterwards, as the tracker does, and must then be stored too.
3. ``ingest_vs_bare``: bench/ingest.py's saturation runs with the same number of
   shards on one Redis (the endpoint's cost against the bare endpoint's).
The last line is machine-readable.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT / "tests" / "helpers")]

import databases  # noqa: E402
import flush as flush_bench  # noqa: E402
from deployment import Deployment, resend, results, start_load  # noqa: E402
from ingest import cpu_seconds, free_port, start, wait_for_port  # noqa: E402
from redis_cluster import LocalCluster  # noqa: E402

EVENTS_PER_BATCH = 60


# The benchmarks send one batch a second to one page for as long as they run (a soak, 30 minutes and more):
# their tokens carry pointer-data bounds for a day of that (services/ingest/budget.py), not a real page's.
DAY_OF_BATCHES = 24 * 3600 * 5_000


def make_tokens(app, n: int) -> list[str]:
    from freelunch.db import database
    from freelunch.models import Assignment, Batch, Dataset, Hit, Organization
    from freelunch.services.accounts.identity import assignment_token

    with app.app_context(), database.connection_context(), database.atomic():
        org = Organization.create(name="Scale")
        dataset = Dataset.create(organization=org, name="Scale")
        batch = Batch.create(organization=org, dataset=dataset, name="Scale")
        return [
            assignment_token(
                Assignment.create(
                    organization=org,
                    hit=Hit.create(organization=org, batch=batch),
                    worker_id=f"W{k:09d}",
                    source="lab",
                    version="POINTER_ORIGINAL",
                ).id,
                page_bytes=DAY_OF_BATCHES,
                hit_bytes=DAY_OF_BATCHES,
            )
            for k in range(n)
        ]


class Phase:
    """One page's worth of load over both web processes, with what happened at given seconds into it."""

    def __init__(self, deployment: Deployment, files: list[Path], tokens: list[str], annotators: int, page: int):
        self.deployment, self.files, self.tokens, self.annotators, self.page = (
            deployment,
            files,
            tokens,
            annotators,
            page,
        )
        self.accepted: set[tuple[int, int]] = set()  # (token index, seq)
        self.sent: set[tuple[int, int]] = set()
        self.refused_after_resend = 0
        self.retried = 0

    def run(self, seconds: int, events: list[tuple[float, callable]]) -> Phase:
        started = time.monotonic()
        loads = [
            start_load(port, file, self.annotators, seconds, self.page, 0)
            for port, file in zip(self.deployment.web_ports, self.files)
        ]
        for at, action in events:
            time.sleep(max(0.0, started + at - time.monotonic()))
            action()
        failed = []
        for k, load in enumerate(loads):
            for who, seq, status, *_ in results(load):
                index = who + k * self.annotators
                self.sent.add((index, seq))
                if status == 202:
                    self.accepted.add((index, seq))
                else:
                    failed.append((index, self.page, seq))
        live = next(
            port
            for name, port in zip(("web0", "web1"), self.deployment.web_ports)
            if self.deployment.processes[name].poll() is None
        )
        still = resend(live, self.tokens, failed)
        self.retried, self.refused_after_resend = len(failed), len(still)
        self.accepted |= {(who, seq) for who, _, seq in failed} - {(who, seq) for who, _, seq in still}
        return self

    def account(self, database_url: str, ids: list[int]) -> tuple[int, int]:
        """(lost, duplicated) events of this page."""
        stored: dict[tuple[int, int], int] = {}
        duplicated = 0
        for assignment, seq, n in databases.rows(
            database_url, f"SELECT assignment_id, seq, n_events FROM pointer_chunk WHERE pageno = {self.page}"
        ):
            duplicated += n if (assignment, seq) in stored else 0
            stored[(assignment, seq)] = n
        lost = sum(EVENTS_PER_BATCH for who, seq in self.accepted if stored.get((ids[who], seq)) != EVENTS_PER_BATCH)
        return lost, duplicated


def drain(cluster_client, shards: int, seconds: float = 120) -> None:
    from freelunch.services.ingest.stream import GROUP, stream_key

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if all(
            cluster_client.xlen(stream_key(s)) == 0 and cluster_client.xpending(stream_key(s), GROUP)["pending"] == 0
            for s in range(shards)
            if cluster_client.exists(stream_key(s))
        ):
            return
        time.sleep(0.2)
    raise SystemExit("the deployment did not flush every shard in time")


def ingest_ratio(shards: int) -> float:
    out = subprocess.run(
        [sys.executable, str(HERE / "ingest.py"), "--saturation-only", "--shards", str(shards)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    print("  " + "\n  ".join(out.strip().splitlines()), flush=True)
    return float(re.search(r"ingest_vs_bare=([\d.]+)", out).group(1))


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--shards", type=int, default=6)
    options.add_argument("--annotators", type=int, default=150, help="per web process, one batch a second each")
    options.add_argument("--seconds", type=int, default=12, help="per phase")
    options.add_argument("--flush-batches", type=int, default=10_000)
    options.add_argument("--ratio-shards", type=int, default=0, help="shards for ingest_vs_bare (default: --shards)")
    args = options.parse_args()

    print(
        f"load average before: {os.getloadavg()[0]:.2f} (other processes share these {os.cpu_count()} cores)",
        flush=True,
    )
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-scale-")))
        # 1. The flush.
        rq_port = free_port()
        start(
            stack,
            [
                "redis-server",
                "--port",
                str(rq_port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(tmp),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            dict(os.environ),
            tmp / "rq-redis.log",
        )
        wait_for_port(rq_port)
        rq_url = f"redis://127.0.0.1:{rq_port}/0"
        print("flush (bench/flush.py):", flush=True)
        sqlite = flush_bench.run(
            f"sqlite:///{tmp / 'flush.db'}", rq_url, tmp, args.flush_batches, 200, 2, ["production"]
        )
        flush_url = databases.fresh_postgres(databases.run_name("scale_flush"))
        stack.callback(databases.drop_postgres, databases.run_name("scale_flush"))
        pg = flush_bench.run(flush_url, rq_url, tmp, args.flush_batches, 200, 2, ["production"])
        pg_flush = pg["production"]
        print(f"flush: SQLite {sqlite['production']:,.0f} events/s, PostgreSQL {pg_flush:,.0f} events/s", flush=True)

        # 2. The cluster and the deployment.
        cluster = LocalCluster(tmp / "cluster").start()
        stack.callback(cluster.stop)
        from freelunch import create_app
        from freelunch.db import database
        from freelunch.services.ingest.stream import ingest_client, stream_key
        from freelunch.services.schema import upgrade

        database_url = databases.fresh_postgres(databases.run_name("scale"))
        stack.callback(databases.drop_postgres, databases.run_name("scale"))
        settings = {
            "DATABASE_URL": database_url,
            "REDIS_URL": rq_url,
            "SECRET_KEY": "bench-scale",
            "INGEST_REDIS_URL": cluster.url,
            "INGEST_REDIS_CLUSTER": True,
            "INGEST_SHARDS": args.shards,
            "INSTANCE_PATH": str(tmp),
        }
        app = create_app(settings)
        with app.app_context(), database.connection_context():
            upgrade(database)
        tokens = make_tokens(app, 2 * args.annotators)
        ids = [row[0] for row in databases.rows(database_url, "SELECT id FROM assignment ORDER BY id")]
        files = []
        for k in range(2):
            files.append(tmp / f"tokens{k}.txt")
            files[-1].write_text("\n".join(tokens[k * args.annotators : (k + 1) * args.annotators]))
        masters = {cluster.master_of(stream_key(s)) for s in range(args.shards)}
        print(f"cluster: {len(cluster.ports)} nodes, {args.shards} shards on {len(masters)} masters", flush=True)

        env = {key: str(value) for key, value in settings.items() if key != "INSTANCE_PATH"}
        env.update(INGEST_REDIS_CLUSTER="true", FREELUNCH_INSTANCE=str(tmp), INGEST_CLAIM_IDLE_MS="3000")
        deployment = Deployment(env, tmp, web_concurrency=2).start()
        stack.callback(deployment.stop)
        with app.app_context():
            cluster_client = ingest_client(app.config)

        def phase(page: int, events: list) -> Phase:
            done = Phase(deployment, files, tokens, args.annotators, page).run(args.seconds, events)
            print(
                f"  page {page}: {len(done.sent)} batches sent, {len(done.accepted)} answered 202 "
                f"({done.retried} sent again after a failure, {done.refused_after_resend} still refused)",
                flush=True,
            )
            return done

        print("steady (nothing killed):", flush=True)
        watched = {
            "web": [pid for name in ("web0", "web1") for pid in deployment.pids()[name]],
            "redis masters": [cluster.processes[port].pid for port in cluster.masters()],
        }
        cpu_before = {
            name: sum(cpu_seconds(pid, with_children=False) for pid in pids) for name, pids in watched.items()
        }
        steady = phase(1, [])
        cpu_ms = {
            name: (sum(cpu_seconds(pid, with_children=False) for pid in pids) - cpu_before[name]) * 1000
            for name, pids in watched.items()
        }
        print(
            "  CPU per batch answered: "
            + ", ".join(f"{name} {ms / len(steady.accepted):.3f} ms" for name, ms in cpu_ms.items())
            + " (the flush's own: bench/flush.py above)",
            flush=True,
        )
        print("failover (the master of shard 0 SIGKILLed after a third of the phase):", flush=True)
        dead = cluster.master_of(stream_key(0))
        failover_s: list[float] = []

        def fail_over():
            started = time.monotonic()
            cluster.kill_master_and_wait_for_failover(dead)
            failover_s.append(time.monotonic() - started)

        killer = threading.Thread(target=fail_over)
        failover = phase(2, [(args.seconds / 3, killer.start)])
        killer.join()
        print(f"  the replica took over in {failover_s[0]:.1f} s", flush=True)
        cluster.restart(dead)  # back as a replica

        print("processes (web1 SIGKILLed, then the ingest worker, which is started again):", flush=True)
        processes = phase(
            3,
            [
                (args.seconds / 4, lambda: deployment.kill("web1")),
                (args.seconds / 3, lambda: deployment.kill("ingest")),
                (args.seconds / 2, lambda: deployment.restart("ingest")),
            ],
        )
        started = time.monotonic()
        drain(cluster_client, args.shards)
        print(
            f"drained {time.monotonic() - started:.1f} s after the last phase (a dead consumer's entries wait "
            f"INGEST_CLAIM_IDLE_MS, then the next flush or cron's sweep reclaims them)",
            flush=True,
        )
        cluster_lost, cluster_duplicated = steady.account(database_url, ids)
        failover_lost, failover_duplicated = failover.account(database_url, ids)
        multi_lost, multi_duplicated = processes.account(database_url, ids)
        print(
            f"duplicated events: steady {cluster_duplicated}, failover {failover_duplicated}, "
            f"processes {multi_duplicated}",
            flush=True,
        )
        deployment.stop()
        cluster.stop()

        # 3. The endpoint's cost, sharded.
        print("ingest_vs_bare (bench/ingest.py --saturation-only):", flush=True)
        ratio = ingest_ratio(args.ratio_shards or args.shards)
        print(f"load average after: {os.getloadavg()[0]:.2f}", flush=True)
        print(
            f"pg_flush_events_per_s={pg_flush:.0f} cluster_masters={len(masters)} cluster_lost={cluster_lost} "
            f"cluster_duplicated={cluster_duplicated + failover_duplicated + multi_duplicated} "
            f"failover_lost={failover_lost} multi_process_lost={multi_lost} ingest_vs_bare={ratio:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
