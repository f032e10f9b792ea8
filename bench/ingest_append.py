"""The ingest endpoint in-process, against bare: CPU and context switches a call, without gunicorn or a client.

`bench/ingest.py` measures the whole stack, whose figures swing with the machine's load; this
measures only what the endpoint adds, so that two versions of the code can be compared back to
back on a loaded machine. It starts its own redis-server (AOF, everysec, as production), creates
production's app, and has THREADS threads call its WSGI app in a loop with realistic batches
(60 pointer moves), alternating rounds of /bench/bare and /api/ingest. Per call it prints the
process's CPU, its context switches (all threads, voluntary and not), Redis's CPU and the batches a
round trip carried; the last line is the medians over the rounds and the ratio by CPU.

    python bench/ingest_append.py [--threads 8] [--calls 20000] [--rounds 3]

The code measured is whatever `freelunch` imports (PYTHONPATH=<tree>/platform for another tree).
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import orjson
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import free_port, start_redis, stop_cleanly_on_sigterm  # noqa: E402


def body(token: str, seq: int) -> bytes:
    now = int(time.time() * 1000)
    moves = [
        {"type": "move", "i": k % 48, "x": (k * 0.0151) % 1, "y": (k * 0.0234 + 0.1) % 1, "time": now + k * 17}
        for k in range(60)
    ]
    return orjson.dumps({"token": token, "page": 1, "tab": 0, "seq": seq, "events": moves})


def switches() -> int:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_nvcsw + usage.ru_nivcsw


def redis_cpu(r: redis.Redis) -> float:
    cpu = r.info("cpu")
    return cpu["used_cpu_sys"] + cpu["used_cpu_user"]


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--threads", type=int, default=8)
    options.add_argument("--calls", type=int, default=20_000, help="calls a round, over all threads")
    options.add_argument("--rounds", type=int, default=3)
    options.add_argument("--only", choices=("/bench/bare", "/api/ingest"), help="measure one endpoint (to profile it)")
    args = options.parse_args()
    stop_cleanly_on_sigterm()

    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-ingest-append-")))
        port = free_port()
        url = f"redis://127.0.0.1:{port}/0"
        os.environ.update(
            {
                "FREELUNCH_ENV": "production",
                "SECRET_KEY": "bench-secret",
                "FREELUNCH_INSTANCE": str(tmp),
                "DATABASE_URL": f"sqlite:///{tmp / 'unused.db'}",  # the endpoint never touches it
                "REDIS_URL": url,
                "INGEST_STREAM_MAX": "100000000",
                "INGEST_RATE_LIMIT": "100000000",
            }
        )
        start_redis(stack, port, tmp, dict(os.environ))
        r = redis.Redis.from_url(url)

        from ingest_app import create_app

        from freelunch.services.accounts.identity import assignment_token

        app = create_app()
        wsgi = app.wsgi_app
        print(f"code: {sys.modules['freelunch'].__file__}; load average {os.getloadavg()[0]:.2f}", flush=True)

        refused: list[str] = []

        def start_response(status, headers):
            if not status.startswith("202"):
                refused.append(status)  # an exception here would end only its thread, without a word

        def run(path: str, calls: int, seq_base: int) -> None:
            per_thread = calls // args.threads
            # Fresh assignments each round: an assignment's byte budget would refuse a long run's later calls.
            with app.app_context():
                tokens = [assignment_token(seq_base + k + 1, pages=10) for k in range(64)]

            def work(t: int) -> None:
                # A body per call (distinct seq), built before the clock starts.
                environs = []
                for k in range(per_thread):
                    data = body(tokens[(t * per_thread + k) % len(tokens)], seq_base + t * per_thread + k)
                    environs.append(
                        {
                            "PATH_INFO": path,
                            "REQUEST_METHOD": "POST",
                            "CONTENT_LENGTH": str(len(data)),
                            "wsgi.input": io.BytesIO(data),
                        }
                    )
                barrier.wait()
                for environ in environs:
                    wsgi(environ, start_response)

            barrier = threading.Barrier(args.threads + 1)
            threads = [threading.Thread(target=work, args=(t,)) for t in range(args.threads)]
            for thread in threads:
                thread.start()
            barrier.wait()
            for thread in threads:
                thread.join()
            if refused:
                raise SystemExit(f"{path}: {len(refused)} calls answered {refused[0]}, not 202")

        seq = 0
        for path in ("/bench/bare", "/api/ingest"):  # warm-up: token cache, connection, script cache
            run(path, args.threads * 200, seq)
            seq += 1_000_000
        results: dict[str, list[tuple[float, float, float, float]]] = {"/bench/bare": [], "/api/ingest": []}
        for _ in range(args.rounds):
            for path in [args.only] if args.only else results:
                cpu, ctx, rcpu = time.process_time(), switches(), redis_cpu(r)
                trips = r.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)
                started = time.perf_counter()
                run(path, args.calls, seq)
                seq += 1_000_000
                wall = time.perf_counter() - started
                n = args.calls // args.threads * args.threads
                trips = r.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0) - trips
                row = (
                    (time.process_time() - cpu) * 1e6 / n,
                    (switches() - ctx) / n,
                    (redis_cpu(r) - rcpu) * 1e6 / n,
                    n / trips if trips else 0.0,
                )
                results[path].append(row)
                print(
                    f"{path}: {n / wall:.0f} calls/s; a call: {row[0]:.1f} us CPU, {row[1]:.2f} context switches, "
                    f"Redis {row[2]:.1f} us; {row[3]:.2f} batches a round trip (load {os.getloadavg()[0]:.2f})",
                    flush=True,
                )
        if args.only:
            return
        bare, ingest = ({k: statistics.median(v[k] for v in results[p]) for k in range(4)} for p in results)
        print(
            f"medians: bare {bare[0]:.1f} us {bare[1]:.2f} switches; ingest {ingest[0]:.1f} us "
            f"{ingest[1]:.2f} switches + Redis {ingest[2]:.1f} us, {ingest[3]:.2f} a trip; "
            f"append_extra_us={ingest[0] + ingest[2] - bare[0] - bare[2]:.1f} "
            f"append_extra_switches={ingest[1] - bare[1]:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
