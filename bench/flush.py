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
Every run checks that each batch is stored exactly once. The last line is
machine-readable: ``sqlite_flush_events_per_s= pg_flush_events_per_s= ...``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import psycopg2
import psycopg2.extras
import redis
from peewee import fn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from databases import POSTGRES_ADMIN_URL, fresh_postgres  # noqa: E402
from ingest import cpu_seconds, free_port, start_redis  # noqa: E402
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


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--batches", type=int, default=10_000, help="batches of 60 events per flush")
    options.add_argument("--bulk", type=int, default=200, help="INGEST_BULK")
    options.add_argument("--rounds", type=int, default=2, help="flushes per strategy; the best counts")
    options.add_argument(
        "--postgres",
        default=POSTGRES_ADMIN_URL,
        help="a PostgreSQL server where the benchmark may create and drop database bench_flush",
    )
    options.add_argument(
        "--alternatives",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time execute_values and executemany on PostgreSQL",
    )
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
        sqlite = run(
            f"sqlite:///{tmp / 'flush.db'}", redis_url, tmp, args.batches, args.bulk, args.rounds, ["production"]
        )
        pg_url = fresh_postgres("bench_flush", args.postgres)
        strategies = ["production", "execute_values", "executemany"] if args.alternatives else ["production"]
        pg = run(pg_url, redis_url, tmp, args.batches, args.bulk, args.rounds, strategies)
        print(f"load average after: {os.getloadavg()[0]:.2f}", flush=True)
        print(
            f"sqlite_flush_events_per_s={sqlite['production']:.0f} pg_flush_events_per_s={pg['production']:.0f} "
            + " ".join(f"pg_{name}_events_per_s={rate:.0f}" for name, rate in pg.items() if name != "production"),
            flush=True,
        )


if __name__ == "__main__":
    main()
