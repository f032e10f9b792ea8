"""The flush alone: how fast a backlog of pointer batches moves from the Redis stream into each database.

Fills its own redis-server's stream with ``--batches`` batches of 60 pointer
moves (as bench/ingest.py's clients send them), then times the production flush
(services/ingest/flush.py, in this process, as an RQ job would run it) from its
start until its last bulk is acknowledged, on SQLite and on PostgreSQL in the
same run, and on PostgreSQL once more with each alternative way of writing a
bulk (only the fastest is production's):
- ``production``: COPY into a temporary staging table + one INSERT ... SELECT ... ON CONFLICT DO NOTHING (production);
- ``execute_values``: psycopg2's one multi-row INSERT ... VALUES per bulk;
- ``executemany``: one prepared INSERT per row (what the flush did before).
First, at low load on PostgreSQL: ``--annotators`` batches a second through the
production append (its flush guard and jobs) for ``--low-seconds``, flushed by
``--flushers`` real ``rq worker`` processes: batches per commit and the flush lag
(the age of the oldest unflushed batch, sampled every 10 ms; the mean from the
flush's own statistics). Every run checks that each batch is stored exactly once.
The last line is machine-readable: ``sqlite_flush_events_per_s= pg_flush_events_per_s= ... low_...=``.
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

import psycopg2
import psycopg2.extras
import redis
from peewee import fn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from databases import POSTGRES_ADMIN_URL, drop_postgres, fresh_postgres, run_name  # noqa: E402
from ingest import BIN, cpu_seconds, free_port, start, start_redis  # noqa: E402
from ingest_load import events_json  # noqa: E402

N_ASSIGNMENTS = 500
EVENTS_PER_BATCH = 60


def fill(r: redis.Redis, stream: str, assignment_ids: list[int], batches: int, seq_base: int) -> None:
    """Append ``batches`` entries as the ingest endpoint would (the fields its Lua script writes)."""
    events = events_json(int(time.time() * 1000))
    with r.pipeline(transaction=False) as pipe:
        for k in range(batches):
            pipe.xadd(
                stream,
                {
                    "a": assignment_ids[k % len(assignment_ids)],
                    "p": 1,
                    "t": 0,
                    "s": seq_base + k // len(assignment_ids),
                    "n": EVENTS_PER_BATCH,
                    "e": events,
                },
            )
            if k % 1000 == 999:
                pipe.execute()
        pipe.execute()


def execute_values(rows) -> None:
    from freelunch.db import database
    from freelunch.services.ingest.insert import COLUMNS

    psycopg2.extras.execute_values(
        database.cursor(),
        f"INSERT INTO pointer_chunk ({COLUMNS}) VALUES %s ON CONFLICT DO NOTHING",
        rows,
        page_size=len(rows),
    )


def executemany(rows) -> None:
    from freelunch.db import database
    from freelunch.services.ingest.insert import INSERT

    database.cursor().executemany(INSERT.replace("?", "%s"), rows)


def backend_pid() -> int | None:
    """The PostgreSQL server process serving this connection (same host), for its CPU time; None on SQLite."""
    from freelunch.db import database, is_sqlite

    return None if is_sqlite() else database.execute_sql("SELECT pg_backend_pid()").fetchone()[0]


def run(
    database_url: str, redis_url: str, tmp: Path, batches: int, bulk: int, rounds: int, strategies: list[str]
) -> dict[str, float]:
    """Best events/s of ``rounds`` flushes per strategy, on one database."""
    from freelunch import create_app
    from freelunch.db import database, is_sqlite
    from freelunch.models import Assignment, Batch, Dataset, Hit, Organization, PointerChunk
    from freelunch.services.ingest import flush as flush_service
    from freelunch.services.ingest import insert
    from freelunch.services.ingest.stream import stream_key
    from freelunch.services.schema import upgrade

    app = create_app(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": "bench",
            "INSTANCE_PATH": str(tmp),
            "INGEST_BULK": bulk,
            "INGEST_STREAM_MAX": 10**7,
        }
    )
    r = redis.Redis.from_url(redis_url)
    production = insert.insert_chunks
    alternatives = {"production": production, "execute_values": execute_values, "executemany": executemany}
    best: dict[str, float] = {}
    with app.app_context(), database.connection_context():
        upgrade(database)
        if os.environ.get("BENCH_COMPRESSION") and not is_sqlite():
            database.execute_sql(
                f"ALTER TABLE pointer_chunk ALTER COLUMN events SET COMPRESSION {os.environ['BENCH_COMPRESSION']}"
            )
        with database.atomic():
            org = Organization.create(name="Bench")
            dataset = Dataset.create(organization=org, name="Bench")
            batch = Batch.create(organization=org, dataset=dataset, name="Bench")
            ids = [
                Assignment.create(
                    organization=org,
                    hit=Hit.create(organization=org, batch=batch),
                    worker_id=f"W{k:09d}",
                    source="lab",
                    version="POINTER_ORIGINAL",
                ).id
                for k in range(N_ASSIGNMENTS)
            ]
        last_store = [0.0]
        real_store = flush_service.store

        def timed_store(*args):
            stored = real_store(*args)
            last_store[0] = time.perf_counter()
            return stored

        flush_service.store = timed_store
        try:
            for round_ in range(rounds):
                for name in strategies:
                    PointerChunk.truncate_table() if not is_sqlite() else PointerChunk.delete().execute()
                    fill(r, stream_key(0), ids, batches, seq_base=round_ * 10**6)
                    flush_service.insert_chunks = alternatives[name]
                    server = backend_pid()
                    cpu_before = (time.process_time(), cpu_seconds(server) if server else 0.0)
                    started = time.perf_counter()
                    stored = flush_service.flush("bench", 0)
                    seconds = last_store[0] - started  # without the flush's linger for new batches
                    cpu = (
                        time.process_time() - cpu_before[0],
                        (cpu_seconds(server) if server else 0.0) - cpu_before[1],
                    )
                    chunks, events = PointerChunk.select(
                        fn.COUNT(PointerChunk.id), fn.SUM(PointerChunk.n_events)
                    ).scalar(as_tuple=True)
                    distinct = PointerChunk.select(PointerChunk.assignment, PointerChunk.seq).distinct().count()
                    if (stored, events, chunks, distinct) != (batches * EVENTS_PER_BATCH,) * 2 + (batches,) * 2:
                        raise SystemExit(
                            f"{name}: stored {chunks} chunks ({distinct} distinct, {events} events) "
                            f"of {batches}; the flush reported {stored} events"
                        )
                    rate = stored / seconds
                    best[name] = max(best.get(name, 0.0), rate)
                    print(
                        f"  {database_url.split(':')[0]} {name}: {batches} batches, {stored} events in "
                        f"{seconds:.2f} s = {rate:,.0f} events/s (round {round_ + 1}); CPU: flusher {cpu[0]:.2f} s, "
                        f"database server {cpu[1]:.2f} s",
                        flush=True,
                    )
        finally:
            flush_service.store, flush_service.insert_chunks = real_store, production
    database.obj.close_all()
    return best


def low_load(database_url: str, redis_url: str, tmp: Path, annotators: int, seconds: int, flushers: int) -> dict:
    """``annotators`` each appending a batch a second through the production append (guard, flush jobs) for
    ``seconds``, flushed by ``flushers`` real `rq worker` processes: batches per commit and the flush lag."""
    from freelunch import create_app
    from freelunch.db import database
    from freelunch.models import Assignment, Batch, Dataset, Hit, Organization, PointerChunk
    from freelunch.services.ingest import stream
    from freelunch.services.schema import upgrade

    config = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "SECRET_KEY": "bench", "INSTANCE_PATH": str(tmp)}
    app = create_app(config)
    r = redis.Redis.from_url(redis_url)
    r.flushdb()
    with app.app_context(), database.connection_context():
        upgrade(database)
        PointerChunk.delete().execute()
        with database.atomic():
            org = Organization.create(name="Bench")
            dataset = Dataset.create(organization=org, name="Bench")
            batch = Batch.create(organization=org, dataset=dataset, name="Bench")
            ids = [
                Assignment.create(
                    organization=org,
                    hit=Hit.create(organization=org, batch=batch),
                    worker_id=f"L{k:09d}",
                    source="lab",
                    version="POINTER_ORIGINAL",
                ).id
                for k in range(annotators)
            ]
    env = {
        **os.environ,
        "FREELUNCH_ENV": "production",
        "SECRET_KEY": "bench",
        "FREELUNCH_INSTANCE": str(tmp),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
    }
    worker = [str(BIN / "rq"), "worker", "--worker-class", "workers.app_worker.AppWorker", "--url", redis_url, "ingest"]
    with ExitStack() as stack:  # the workers stop with the phase
        for k in range(flushers):
            start(stack, worker, env, tmp / f"flusher{k}.log")
        lags = _feed(app, r, ids, annotators, seconds)
    stats = [r.hgetall(key) for key in r.keys(stream.stats_key(0, "*"))]
    commits, chunks, lag_ms = (sum(int(h.get(name, 0)) for h in stats) for name in (b"commits", b"chunks", b"lag_ms"))
    with app.app_context(), database.connection_context():
        stored = PointerChunk.select().count()
    if stored != annotators * seconds:
        raise SystemExit(f"low load: {stored} chunks stored of {annotators * seconds}")
    lags.sort()
    return {
        "batches_per_commit": chunks / max(commits, 1),
        "commits_per_s": commits / seconds,
        "lag_mean_s": lag_ms / 1000 / max(chunks, 1),
        "lag_p99_s": lags[int(0.99 * len(lags))],
        "lag_max_s": lags[-1],
    }


def _feed(app, r: redis.Redis, ids: list[int], annotators: int, seconds: int) -> list[float]:
    """Each assignment appends a batch a second through the production append, until every batch is flushed;
    returns the age of the oldest unflushed batch, sampled every 10 ms."""
    from freelunch.services.ingest import stream

    lags: list[float] = []
    done = threading.Event()

    def sample() -> None:  # the age of the oldest unflushed batch, every 10 ms
        while not done.is_set():
            oldest = r.xrange(stream.stream_key(0), count=1)
            lags.append(time.time() - int(oldest[0][0].split(b"-")[0]) / 1000 if oldest else 0.0)
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    events = events_json(int(time.time() * 1000))
    with app.app_context():
        time.sleep(3)  # the workers' start-up
        sampler.start()
        begin = time.monotonic()
        for tick in range(annotators * seconds):
            second, who = divmod(tick, annotators)
            delay = begin + second + who / annotators - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if stream.append(app.config, ids[who], 1, 0, second, EVENTS_PER_BATCH, events) == stream.FLUSH_NEEDED:
                stream.enqueue_flush(app.config["REDIS_URL"], 0)
        while r.xlen(stream.stream_key(0)):
            time.sleep(0.01)
        done.set()
        sampler.join()
    return lags


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--batches", type=int, default=10_000, help="batches of 60 events per flush")
    options.add_argument("--bulk", type=int, default=200, help="INGEST_BULK")
    options.add_argument("--rounds", type=int, default=2, help="flushes per strategy; the best counts")
    options.add_argument(
        "--postgres",
        default=POSTGRES_ADMIN_URL,
        help="a PostgreSQL server where the benchmark may create and drop databases bench_flush_<run> and "
        "bench_flush_low_<run> (bench/databases.py)",
    )
    options.add_argument(
        "--alternatives",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time execute_values and executemany on PostgreSQL",
    )
    options.add_argument("--annotators", type=int, default=50, help="the low-load phase: batches a second")
    options.add_argument("--low-seconds", type=int, default=20, help="the low-load phase's length")
    # Two: more workers than busy shards, where two flushers of one shard used to split its batches.
    options.add_argument("--flushers", type=int, default=2, help="the low-load phase's ingest workers")
    options.add_argument("--low-load-only", action="store_true", help="only the low-load phase")
    args = options.parse_args()
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-flush-")))
        port = free_port()
        start_redis(stack, port, tmp, dict(os.environ))
        redis_url = f"redis://127.0.0.1:{port}/0"
        print(
            f"load average before: {os.getloadavg()[0]:.2f} (other processes share these {os.cpu_count()} cores); "
            f"{args.batches} batches of {EVENTS_PER_BATCH} events, bulks of {args.bulk}",
            flush=True,
        )
        pg_low_url = fresh_postgres(run_name("flush_low"), args.postgres)
        stack.callback(drop_postgres, run_name("flush_low"), args.postgres)
        low = low_load(pg_low_url, redis_url, tmp, args.annotators, args.low_seconds, args.flushers)
        print(
            f"low load, PostgreSQL: {args.annotators} batches a second for {args.low_seconds} s, "
            f"{args.flushers} ingest workers: {low['batches_per_commit']:.1f} batches a commit, "
            f"{low['commits_per_s']:.1f} commits a second; flush lag mean {low['lag_mean_s']:.3f} s, "
            f"p99 {low['lag_p99_s']:.3f} s, max {low['lag_max_s']:.3f} s",
            flush=True,
        )
        low_figures = " ".join(f"low_{name}={value:.3f}" for name, value in low.items())
        if args.low_load_only:
            print(f"load average after: {os.getloadavg()[0]:.2f}", flush=True)
            print(low_figures, flush=True)
            return
        sqlite = run(
            f"sqlite:///{tmp / 'flush.db'}", redis_url, tmp, args.batches, args.bulk, args.rounds, ["production"]
        )
        pg_url = fresh_postgres(run_name("flush"), args.postgres)
        stack.callback(drop_postgres, run_name("flush"), args.postgres)
        strategies = ["production", "execute_values", "executemany"] if args.alternatives else ["production"]
        pg = run(pg_url, redis_url, tmp, args.batches, args.bulk, args.rounds, strategies)
        print(f"load average after: {os.getloadavg()[0]:.2f}", flush=True)
        print(
            f"sqlite_flush_events_per_s={sqlite['production']:.0f} pg_flush_events_per_s={pg['production']:.0f} "
            + " ".join(f"pg_{name}_events_per_s={rate:.0f}" for name, rate in pg.items() if name != "production")
            + f" {low_figures}",
            flush=True,
        )


if __name__ == "__main__":
    main()
