"""make bench-soak MINUTES=30: 500 simulated annotators for a long while against the Procfile's processes.

The deployment of tests/helpers/deployment.py (two web processes, the ingest worker,
the other worker, cron) on a fresh PostgreSQL database and its own Redis (AOF
everysec, as docs/ingest.md says to run it), with ``--shards`` stream shards.
Each minute, every annotator sends one batch a second (bench/ingest_load.py,
open loop, half to each web process), and the benchmark prints: every
process's RSS, the streams' length and the flush lag (the age of the oldest
unflushed batch; both the worst of samples every 5 s), and that minute's
p50/p99. At the end every batch answered 202 must be stored, once.

``soak_rss_growth_pct`` is the largest growth of one process's RSS from minute 5
to the last minute (from minute 1 when the run is 5 minutes or shorter, which
the output says); the web processes count with their gunicorn workers, the RQ
workers without the work horses they fork per job.
"""

from __future__ import annotations

import argparse
import os
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
from deployment import Deployment, results, start_load  # noqa: E402
from ingest import free_port, start_redis  # noqa: E402
from scale import EVENTS_PER_BATCH, drain, make_tokens  # noqa: E402

REFERENCE_MINUTE = 5


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def process_rss(deployment: Deployment) -> dict[str, float]:
    """MB per process of the deployment: a web process with its gunicorn workers, an RQ worker alone."""
    rss = {}
    for name, pids in deployment.pids().items():
        counted = pids if name.startswith("web") else pids[:1]
        rss[name] = sum(rss_mb(pid) for pid in counted)
    return rss


class Sampler(threading.Thread):
    """The streams' length and the age of the oldest unflushed batch, every few seconds; keeps the worst."""

    def __init__(self, redis_client, shards: int, every_s: float = 5.0):
        super().__init__(daemon=True)
        self.redis, self.shards, self.every_s = redis_client, shards, every_s
        self.stop = threading.Event()
        self.length = 0
        self.lag_s = 0.0

    def run(self) -> None:
        from freelunch.services.ingest.stream import stream_key

        while not self.stop.wait(self.every_s):
            now_ms = time.time() * 1000
            length, oldest = 0, None
            for shard in range(self.shards):
                key = stream_key(shard)
                length += self.redis.xlen(key)
                first = self.redis.xrange(key, count=1)
                if first:
                    ms = int(first[0][0].split(b"-")[0])
                    oldest = ms if oldest is None else min(oldest, ms)
            self.length = max(self.length, length)
            self.lag_s = max(self.lag_s, (now_ms - oldest) / 1000 if oldest else 0.0)


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))] if values else float("nan")


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--minutes", type=int, default=int(os.environ.get("MINUTES", 30)))
    options.add_argument("--annotators", type=int, default=500)
    options.add_argument("--shards", type=int, default=1, help="INGEST_SHARDS (1: the default deployment)")
    options.add_argument("--web-concurrency", type=int, default=2, help="gunicorn workers per web process")
    args = options.parse_args()

    print(
        f"load average before: {os.getloadavg()[0]:.2f} (other processes share these {os.cpu_count()} cores)",
        flush=True,
    )
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-soak-")))
        port = free_port()
        start_redis(stack, port, tmp, dict(os.environ))
        redis_url = f"redis://127.0.0.1:{port}/0"
        from freelunch import create_app
        from freelunch.db import database
        from freelunch.services.ingest.stream import ingest_client
        from freelunch.services.schema import upgrade

        database_url = databases.fresh_postgres(databases.run_name("soak"))
        stack.callback(databases.drop_postgres, databases.run_name("soak"))
        settings = {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": "bench-soak",
            "INGEST_SHARDS": args.shards,
            "INSTANCE_PATH": str(tmp),
        }
        app = create_app(settings)
        with app.app_context(), database.connection_context():
            upgrade(database)
        half = args.annotators // 2
        tokens = make_tokens(app, 2 * half)
        ids = [row[0] for row in databases.rows(database_url, "SELECT id FROM assignment ORDER BY id")]
        files = []
        for k in range(2):
            files.append(tmp / f"tokens{k}.txt")
            files[-1].write_text("\n".join(tokens[k * half : (k + 1) * half]))
        env = {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": "bench-soak",
            "INGEST_SHARDS": str(args.shards),
            "FREELUNCH_INSTANCE": str(tmp),
        }
        deployment = Deployment(env, tmp, web_concurrency=args.web_concurrency).start()
        stack.callback(deployment.stop)
        with app.app_context():
            redis_client = ingest_client(app.config)
        print(
            f"{2 * half} annotators, one batch of {EVENTS_PER_BATCH} events a second each, over 2 web processes "
            f"({args.web_concurrency} gunicorn workers each); {args.shards} shards on one Redis; PostgreSQL",
            flush=True,
        )

        accepted: set[tuple[int, int]] = set()
        latencies: list[float] = []
        rss_by_minute: list[dict[str, float]] = []
        sent = errors = 0
        for minute in range(1, args.minutes + 1):
            sampler = Sampler(redis_client, args.shards)
            sampler.start()
            loads = [start_load(web, file, half, 60, 1, minute * 100) for web, file in zip(deployment.web_ports, files)]
            minute_latencies = []
            for k, load in enumerate(loads):
                for who, seq, status, ms, _ in results(load):
                    sent += 1
                    if status == 202:
                        accepted.add((who + k * half, seq))
                    else:
                        errors += 1
                    if minute > 1 or seq - minute * 100 >= 2:  # the very first connections are warm-up
                        minute_latencies.append(ms)
            sampler.stop.set()
            sampler.join()
            latencies += minute_latencies
            rss = process_rss(deployment)
            rss_by_minute.append(rss)
            print(
                f"minute {minute}: p50 {percentile(minute_latencies, 0.5):.1f} ms, p99 "
                f"{percentile(minute_latencies, 0.99):.1f} ms; stream length up to {sampler.length}, flush lag up to "
                f"{sampler.lag_s:.1f} s; RSS MB "
                + ", ".join(f"{name} {mb:.0f}" for name, mb in rss.items())
                + f"; errors so far {errors}; load average {os.getloadavg()[0]:.2f}",
                flush=True,
            )

        drain(redis_client, args.shards)
        stored = {
            (a, s): n
            for a, s, n in databases.rows(
                database_url, "SELECT assignment_id, seq, n_events FROM pointer_chunk WHERE pageno = 1"
            )
        }
        lost = sum(EVENTS_PER_BATCH for who, seq in accepted if stored.get((ids[who], seq)) != EVENTS_PER_BATCH)

        reference = REFERENCE_MINUTE if args.minutes > REFERENCE_MINUTE else 1
        first, last = rss_by_minute[reference - 1], rss_by_minute[-1]
        growth = {name: (last.get(name, 0) - mb) / mb * 100 for name, mb in first.items() if mb}
        print(
            f"RSS growth from minute {reference} to minute {args.minutes}"
            + (" (a run of 5 minutes or less compares with minute 1)" if reference == 1 else "")
            + ": "
            + ", ".join(f"{name} {pct:+.1f} %" for name, pct in growth.items()),
            flush=True,
        )
        print(
            f"{sent} batches sent, {len(accepted)} answered 202, {errors} not; load average after "
            f"{os.getloadavg()[0]:.2f}",
            flush=True,
        )
        print(
            f"soak_rss_growth_pct={max(growth.values()):.1f} soak_p99_ms={percentile(latencies, 0.99):.1f} "
            f"soak_lost={lost}",
            flush=True,
        )


if __name__ == "__main__":
    main()
