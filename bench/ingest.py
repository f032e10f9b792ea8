"""make bench-ingest: the ingest path under load, against the naive design, with nothing lost.

Starts what production runs (its own redis-server, gunicorn as in the Procfile,
an RQ worker with the AppWorker class) on a fresh database (`--database`: sqlite, the
default, or postgres) with `--shards` stream shards, then measures:
1. saturation throughput (wrk) of /api/ingest, of a bare endpoint that only
   parses and checks (the ceiling), and of a naive endpoint that INSERTs each batch;
2. flush throughput: the worker drains the backlog left by step 1;
3. latency at 1,000 annotators sending one batch a second (open loop);
4. the same for /api/ingest and the naive endpoint while another process holds
   the database's write lock 2 s of every 5 s;
5. latency at 250 and 2,500 annotators;
and checks every acknowledged event against the database. The last line is
machine-readable. Options: --workers N (gunicorn), --seconds N (per open-loop phase).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import databases
import redis

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
# The code measured is this tree's, also when the venv was installed from another tree (its editable
# install points there): a copy of main beside a branch, run with the branch's venv, measures main.
CODE_PATH = os.pathsep.join([str(HERE), str(ROOT / "platform")])
sys.path[:0] = [str(ROOT / "platform")]


def streams(shards: int) -> list[str]:
    """The shards' stream keys (services/ingest/stream.py's stream_key)."""
    return [f"ingest:{{{shard}}}:events" for shard in range(shards)]


N_ASSIGNMENTS = 2500
EVENTS_PER_BATCH = 60


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def procfile_web(port: int, workers: int) -> list[str]:
    """The Procfile's web command, as production runs it, serving the benchmark's app on ``port``."""
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    values = {"WEB_CONCURRENCY": str(workers), "PORT": str(port)}
    line = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: values.get(m.group(1), m.group(2)), line.removeprefix("web:"))
    command = shlex.split(line)
    command[0] = str(BIN / command[0])
    command[command.index("--bind") + 1] = f"127.0.0.1:{port}"
    return command[:-1] + ["--pythonpath", str(HERE), "ingest_app:create_app()"]


def stop_cleanly_on_sigterm() -> None:
    """Unwind on SIGTERM (and SIGHUP) as on Ctrl-C, so that the ExitStack stops what the run started.

    By default SIGTERM ends Python at once: its redis-server, gunicorn and worker, each in a session of
    its own, went on running after `kill` or a timeout."""

    def leave(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, leave)
    signal.signal(signal.SIGHUP, leave)


def wait_for_port(port: int, seconds: float = 20) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port} after {seconds} s")


def start(stack: ExitStack, command: list[str], env: dict, log: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True
    )

    def stop():
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)

    stack.callback(stop)
    return process


def start_redis(stack: ExitStack, port: int, directory: Path, env: dict, *extra: str) -> subprocess.Popen:
    """Redis as production should run it for pointer data (docs/operations.md): AOF, fsync once a second,
    and rewrites of the AOF rare, since each one's end blocks Redis on fsyncs. Ready when it returns."""
    process = start(
        stack,
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(directory),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--auto-aof-rewrite-min-size",
            "1gb",
            *extra,
        ],
        env,
        directory / "redis.log",
    )
    wait_for_port(port)
    return process


def wait_until_idle(port: int, seconds: float = 60) -> None:
    """Wait until the server answers at once: connections left over from a phase must not slow the next one."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.monotonic()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"GET /api/ingest HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                while s.recv(65536):
                    pass
        except OSError:
            pass
        if time.monotonic() - started < 0.05:
            return
        time.sleep(0.5)


def cpu_seconds(pid: int, with_children: bool = True) -> float:
    """CPU (user + system) a process and its live children have used, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    if with_children:
        children = Path(f"/proc/{pid}/task/{pid}/children")
        pids += [int(c) for c in children.read_text().split()] if children.exists() else []
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


BUSY, STEAL = (0, 1, 2, 5, 6), (7,)  # /proc/stat's cpu line: user nice system [idle iowait] irq softirq steal


def cpu_times() -> list[int]:
    return [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]


def share(before: list[int], after: list[int], fields: tuple[int, ...]) -> float:
    """The share of the machine's CPU time between two readings spent in ``fields``."""
    delta = [a - b for a, b in zip(after, before)]
    return sum(delta[f] for f in fields) / max(1, sum(delta))


def disk_busy_ms(path: Path) -> int:
    """Milliseconds the disk holding ``path`` has spent doing I/O (io_ticks), or -1 when unknown (overlay, tmpfs)."""
    device = os.stat(path).st_dev
    stat = Path(f"/sys/dev/block/{os.major(device)}:{os.minor(device)}/stat")
    return int(stat.read_text().split()[9]) if stat.exists() else -1


def context_switches(pid: int) -> int:
    """Context switches (voluntary and not) of a process's live children and all their threads, from /proc."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    total = 0
    for child in children.read_text().split() if children.exists() else []:
        for task in Path(f"/proc/{child}/task").glob("*"):
            try:
                status = (task / "status").read_text()
            except FileNotFoundError:
                continue
            total += sum(
                int(line.split()[1])
                for line in status.splitlines()
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"))
            )
    return total


def wait_for_workers(pid: int, workers: int, ready: Path, seconds: float = 120) -> None:
    """Wait until gunicorn's ``workers`` have loaded the app, as each marks in ``ready`` (bench/gunicorn_ready.py).

    The port listens as soon as the arbiter binds it, seconds before its workers have imported the app
    (more on a loaded machine), and a warm-up run meanwhile would measure the imports."""
    end = time.monotonic() + seconds
    children = Path(f"/proc/{pid}/task/{pid}/children")
    while time.monotonic() < end:
        pids = children.read_text().split() if children.exists() else []
        if len(pids) == workers and all((ready / p).exists() for p in pids):
            return
        time.sleep(0.2)
    raise SystemExit(f"gunicorn's {workers} workers were not ready after {seconds} s")


def make_assignments(n: int) -> list[str]:
    """n assignments on one HIT-per-assignment batch; returns their tokens."""
    from freelunch import create_app
    from freelunch.db import database
    from freelunch.models import Assignment, Batch, Dataset, Hit, Organization
    from freelunch.services.accounts.identity import assignment_token

    app = create_app()
    with app.app_context(), database.connection_context(), database.atomic():
        org = Organization.create(name="Bench")
        dataset = Dataset.create(organization=org, name="Bench")
        batch = Batch.create(organization=org, dataset=dataset, name="Bench")
        tokens = []
        for k in range(n):
            hit = Hit.create(organization=org, batch=batch)
            assignment = Assignment.create(
                organization=org, hit=hit, worker_id=f"W{k:09d}", source="lab", version="POINTER_ORIGINAL"
            )
            tokens.append(assignment_token(assignment.id))
    return tokens


def wrk(
    port: int,
    path: str,
    tokens_file: Path,
    page: int,
    seq_base: int,
    seconds: int,
    connections: int,
    watch: dict[str, int],
) -> dict:
    """Saturate ``path``; also returns the CPU each watched process spent per request (ms)."""
    before = {name: cpu_seconds(pid) for name, pid in watch.items()}
    load_before = os.times()
    env = {
        **os.environ,
        "BENCH_TOKENS": str(tokens_file),
        "BENCH_PATH": path,
        "BENCH_PAGE": str(page),
        "BENCH_SEQ_BASE": str(seq_base),
    }
    client = subprocess.Popen(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(HERE / "ingest_wrk.lua"),
            f"http://127.0.0.1:{port}{path}",
        ],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(min(1.0, seconds / 2))
    spread = connections_per_process(port)
    out, _ = client.communicate()
    if client.returncode:
        raise SystemExit(f"wrk failed: {out}")
    load_after = os.times()
    completed = int(re.search(r"(\d+) requests in", out).group(1))
    cpu_ms = {name: (cpu_seconds(pid) - before[name]) * 1000 / max(completed, 1) for name, pid in watch.items()}
    cpu_ms["wrk"] = (
        (
            load_after.children_user
            + load_after.children_system
            - load_before.children_user
            - load_before.children_system
        )
        * 1000
        / max(completed, 1)
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "path": path,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "completed": completed,
        "failed": (int(non_2xx.group(1)) if non_2xx else 0)
        + (sum(map(int, socket_errors.groups())) if socket_errors else 0),
        "seq_base": seq_base,
        "page": page,
        "cpu_ms": cpu_ms,
        "spread": spread,
    }


def round_trips(r: redis.Redis) -> tuple[int, int]:
    """(append round trips, batches appended) so far, from Redis's command statistics."""
    stats = r.info("commandstats")
    return stats.get("cmdstat_evalsha", {}).get("calls", 0), stats.get("cmdstat_xadd", {}).get("calls", 0)


def connections_per_process(port: int) -> list[int]:
    """How many of the client's connections each server process holds, most first (empty without iproute2's ss)."""
    if not shutil.which("ss"):
        return []
    out = subprocess.run(
        ["ss", "-Htnp", "state", "established", f"sport = :{port}"], capture_output=True, text=True
    ).stdout
    counts: dict[str, int] = {}
    for pid in re.findall(r"pid=(\d+)", out):
        counts[pid] = counts.get(pid, 0) + 1
    return sorted(counts.values(), reverse=True)


WARMUP_S = 2  # the first seconds of a phase: every annotator's first connection, each token's first check


def open_loop(port: int, path: str, tokens_file: Path, annotators: int, seconds: int, page: int, seq_base: int) -> dict:
    """Run the open-loop client for WARMUP_S + ``seconds``; percentiles are of the steady part after WARMUP_S.

    Every request counts: a failure at the time it failed, a timeout as the 15 s it waited.
    Errors and the accounting of lost batches include the warm-up.
    """
    out = subprocess.run(
        [
            sys.executable,
            str(HERE / "ingest_load.py"),
            str(port),
            path,
            str(tokens_file),
            str(annotators),
            str(seconds + WARMUP_S),
            str(page),
            str(seq_base),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    results = json.loads(out)

    def pct(rows: list, p: float) -> float:
        values = sorted(r[3] for r in rows)
        return values[min(len(values) - 1, int(p * len(values)))] if values else float("nan")

    steady = [r for r in results if r[1] - seq_base >= WARMUP_S]  # seq = seq_base + the second it was due
    return {
        "path": path,
        "annotators": annotators,
        "sent": len(results),
        "page": page,
        "errors": sum(1 for r in results if r[2] != 202),
        "client_lag_p99": sorted(r[4] for r in steady)[int(0.99 * len(steady))] if steady else float("nan"),
        "p50": pct(steady, 0.50),
        "p99": pct(steady, 0.99),
        "max": pct(steady, 1.0),
        "p99_with_warmup": pct(results, 0.99),
        "statuses": sorted({r[2] for r in results}),
        "results": results,
    }


def drain(r: redis.Redis, keys: list[str], worker_log: Path, seconds: float = 120) -> float:
    """Wait until every batch of every shard is flushed; returns when that was (time.time())."""
    end = time.monotonic() + seconds

    def unflushed(stream: str) -> int:
        pending = r.xpending(stream, "flushers")["pending"] if r.exists(stream) and r.xinfo_groups(stream) else 0
        return r.xlen(stream) + pending

    while time.monotonic() < end:
        if not any(unflushed(stream) for stream in keys):
            return time.time()
        time.sleep(0.02)
    raise SystemExit("the worker did not drain the streams in time; its log ends:\n" + worker_log.read_text()[-3000:])


def first_flush_start(redis_url: str) -> float:
    """When the first flush job started (time.time()), once the jobs that drained the backlog have finished."""
    from rq import Queue
    from rq.registry import FinishedJobRegistry, StartedJobRegistry

    connection = redis.Redis.from_url(redis_url)
    queue = Queue("ingest", connection=connection)
    while StartedJobRegistry(queue=queue).count:  # a flush lingers a moment after the stream is empty
        time.sleep(0.1)
    jobs = [queue.fetch_job(job_id) for job_id in FinishedJobRegistry(queue=queue).get_job_ids()]
    return min(job.started_at.timestamp() for job in jobs if job and job.started_at)


def stored_events(database_url: str) -> int:
    return databases.scalar(database_url, "SELECT COALESCE(SUM(n_events), 0) FROM pointer_chunk")


def account(database_url: str, phases: list[dict], saturation: list[dict]) -> tuple[int, int]:
    """(lost, duplicated) events: every batch answered 202 must be stored, and stored once."""
    duplicated = databases.scalar(
        database_url,
        "SELECT COALESCE(SUM(extra), 0) FROM (SELECT SUM(n_events) - MAX(n_events) AS extra"
        " FROM pointer_chunk GROUP BY assignment_id, pageno, seq) AS per_batch",
    )
    stored = {
        (a, p, s): n
        for a, p, s, n in databases.rows(database_url, "SELECT assignment_id, pageno, seq, n_events FROM pointer_chunk")
    }
    ids = [row[0] for row in databases.rows(database_url, "SELECT id FROM assignment ORDER BY id")]
    lost = 0
    for phase in phases:
        for who, seq, status, *_ in phase["results"]:
            if status == 202 and stored.get((ids[who], phase["page"], seq)) != EVENTS_PER_BATCH:
                lost += EVENTS_PER_BATCH
    for run in saturation:  # wrk: requests still in flight at the end may be stored too, so at least `completed`
        low, high = run["seq_base"], run["seq_base"] + 1_000_000
        in_range = sum(1 for (_, page, seq) in stored if page == run["page"] and low <= seq < high)
        lost += max(0, run["completed"] - run["failed"] - in_range) * EVENTS_PER_BATCH
    return lost, duplicated


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", 4)))
    options.add_argument("--seconds", type=int, default=10)
    options.add_argument("--saturation-seconds", type=int, default=6)
    # Many connections, as many browsers would be: with a few dozen, gunicorn's workers race to accept
    # them and one process often holds most (printed per run), which swings a run's throughput by 2x.
    options.add_argument("--connections", type=int, default=512, help="wrk's keep-alive connections")
    options.add_argument("--rounds", type=int, default=2, help="alternating wrk rounds of bare and ingest")
    options.add_argument("--gunicorn", default="", help="gunicorn options added to the Procfile's, e.g. '--threads 8'")
    options.add_argument("--saturation-only", action="store_true", help="stop after the wrk runs")
    options.add_argument(
        "--database",
        default="sqlite",
        help="sqlite (a fresh file), postgres (a fresh database on BENCH_POSTGRES_URL's server) or a URL",
    )
    options.add_argument("--shards", type=int, default=1, help="INGEST_SHARDS (all on the benchmark's one Redis)")
    options.add_argument(
        "--annotators-scale",
        type=float,
        default=1.0,
        help="the open-loop phases' annotators (250, 1,000, 2,500) times this (below 1: a quick run, not figures)",
    )
    options.add_argument(
        "--min-phase-seconds", type=int, default=5, help="the shortest open-loop phase (the 250 and 2,500 ones)"
    )
    options.add_argument(
        "--profile",
        type=Path,
        help="a folder for py-spy flame graphs of the web workers in the first saturation round of each endpoint",
    )
    args = options.parse_args()
    stop_cleanly_on_sigterm()
    for tool in ("wrk", "redis-server"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is needed: apt-get install {tool.split('-')[0]}")

    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-ingest-")))
        redis_port, web_port = free_port(), free_port()
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        database_url = databases.database_url(args.database, tmp, "ingest")
        stack.callback(databases.drop_url, args.database, database_url)
        env = {
            **os.environ,
            "FREELUNCH_ENV": "production",
            "SECRET_KEY": "bench-secret",
            "FREELUNCH_INSTANCE": str(tmp),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "INGEST_STREAM_MAX": "1000000",
            "INGEST_SHARDS": str(args.shards),
            "PYTHONPATH": CODE_PATH,
        }
        os.environ.update(env)
        redis_server = start_redis(stack, redis_port, tmp, env, "--latency-monitor-threshold", "10")
        subprocess.run([str(BIN / "freelunch"), "db", "upgrade"], env=env, check=True, capture_output=True)
        tokens = make_assignments(N_ASSIGNMENTS)
        tokens_file = tmp / "tokens.txt"
        tokens_file.write_text("\n".join(tokens))
        r = redis.Redis.from_url(redis_url)

        ready = tmp / "ready"
        ready.mkdir()
        env["BENCH_READY_DIR"] = str(ready)
        web_command = procfile_web(web_port, args.workers) + ["-c", str(HERE / "gunicorn_ready.py")]
        web_command += args.gunicorn.split()
        web = start(stack, web_command, env, tmp / "gunicorn.log")
        wait_for_port(web_port)
        wait_for_workers(web.pid, args.workers, ready)
        print(f"load average before: {os.getloadavg()[0]:.2f} (other processes share these {os.cpu_count()} cores)")
        print(
            f"stack: {' '.join(web_command[1:])}; redis-server (AOF everysec), rq worker; "
            f"{N_ASSIGNMENTS} assignments, {EVENTS_PER_BATCH} events a batch",
            flush=True,
        )

        watch = {"gunicorn": web.pid, "redis": redis_server.pid}

        profiled: set[str] = set()

        def saturate(path: str, page: int, seq_base: int) -> dict:
            trips_before, switches_before = round_trips(r), context_switches(web.pid)
            spy = None
            if args.profile and path not in profiled:
                profiled.add(path)
                args.profile.mkdir(parents=True, exist_ok=True)
                graph = args.profile / f"{path.strip('/').replace('/', '-')}.svg"
                spy = subprocess.Popen(
                    [str(BIN / "py-spy"), "record", "--subprocesses", "--nonblocking", "--rate", "200"]
                    + ["--duration", str(args.saturation_seconds), "--output", str(graph), "--pid", str(web.pid)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            run = wrk(web_port, path, tokens_file, page, seq_base, args.saturation_seconds, args.connections, watch)
            if spy:
                spy.wait()
            switches = (context_switches(web.pid) - switches_before) / max(run["completed"], 1)
            trips, appends = (after - before for after, before in zip(round_trips(r), trips_before))
            cpu = ", ".join(f"{name} {ms:.3f}" for name, ms in run["cpu_ms"].items())
            carried = (
                f"; {run['completed'] / trips:.2f} batches a round trip to Redis, {appends} stream entries"
                if path == "/api/ingest" and trips
                else ""
            )
            print(
                f"saturation {path}: {run['rps']:.0f} req/s ({run['failed']} failed); CPU ms a request: {cpu}; "
                f"web context switches a request {switches:.1f}; connections per web process {run['spread']}{carried}",
                flush=True,
            )
            return run

        for path in ("/bench/bare", "/api/ingest"):  # warm-up: imports, connections, caches
            wrk(web_port, path, tokens_file, 4, 9_000_000, 3, args.connections, watch)
        saturation = []
        for _ in range(args.rounds):
            for path in ("/bench/bare", "/api/ingest"):
                saturation.append(saturate(path, 1, 1_000_000 * (len(saturation) + 1)))
        saturate("/bench/direct", 2, 1_000_000)
        bare = max(run["rps"] for run in saturation if run["path"] == "/bench/bare")
        ingest = max(run["rps"] for run in saturation if run["path"] == "/api/ingest")
        cpu_ratio = statistics.median(
            sum(r["cpu_ms"].values()) for r in saturation if r["path"] == "/bench/bare"
        ) / statistics.median(sum(r["cpu_ms"].values()) for r in saturation if r["path"] == "/api/ingest")
        print(f"ingest vs bare by CPU per request (gunicorn + redis + wrk, medians): {cpu_ratio:.2f}", flush=True)
        if args.saturation_only:
            print(f"ingest_vs_bare={ingest / bare if bare else float('nan'):.2f}")
            return
        ingest_runs = [run for run in saturation if run["path"] == "/api/ingest"]

        # The worker starts now, so that saturation measured the endpoints alone; the flush job
        # enqueued by the first batch drains the backlog, timed by RQ's own job timestamps.
        # Timed from the first flush job's start (worker start-up excluded) to the empty stream.
        backlog, before = sum(r.xlen(key) for key in streams(args.shards)), stored_events(database_url)
        # Niced: on this one 2-core box the flusher stands in for worker machines of their own,
        # so its bursts after each stall must not take the cores from the web workers.
        start(
            stack,
            [
                "nice",
                "-n",
                "10",
                str(BIN / "rq"),
                "worker",
                "--worker-class",
                "workers.app_worker.AppWorker",
                "--url",
                redis_url,
                "ingest",
                "default",
            ],
            env,
            tmp / "worker.log",
        )
        drained_at = drain(r, streams(args.shards), tmp / "worker.log")
        flushed, seconds = stored_events(database_url) - before, drained_at - first_flush_start(redis_url)
        flush_per_s = flushed / seconds
        print(f"flush: {backlog} batches, {flushed} events in {seconds:.2f} s = {flush_per_s:.0f} events/s", flush=True)

        phases = []

        def phase(label: str, path: str, annotators: int, seconds: int, page: int) -> dict:
            wait_until_idle(web_port)
            before, disk_before, started = cpu_times(), disk_busy_ms(tmp), time.monotonic()
            result = open_loop(web_port, path, tokens_file, annotators, seconds, page, 100 * (len(phases) + 1))
            busy, stolen = (share(before, cpu_times(), fields) for fields in (BUSY, STEAL))
            disk = (
                (disk_busy_ms(tmp) - disk_before) / 1000 / (time.monotonic() - started)
                if disk_before >= 0
                else float("nan")
            )
            phases.append(result)
            print(
                f"{label}: {annotators} annotators, {result['sent']} batches, p50 {result['p50']:.1f} ms, "
                f"p99 {result['p99']:.1f} ms, max {result['max']:.1f} ms (first {WARMUP_S} s included: p99 "
                f"{result['p99_with_warmup']:.1f} ms), errors {result['errors']} "
                f"(statuses {result['statuses']}); the client itself sent late by up to "
                f"{result['client_lag_p99']:.1f} ms (p99); the cores were {busy:.0%} busy, "
                f"{stolen:.1%} taken by the hypervisor; the disk was busy {disk:.0%} of the time",
                flush=True,
            )
            return result

        # Lightest first: an overloaded phase leaves a backlog that would spoil the next one.
        def annotators(n: int) -> int:
            return max(1, round(n * args.annotators_scale))

        short = max(args.min_phase_seconds, args.seconds * 2 // 3)
        phase("open loop /api/ingest", "/api/ingest", annotators(250), short, 1)
        steady = phase("open loop /api/ingest", "/api/ingest", annotators(1000), args.seconds, 1)
        for path, page in (("/api/ingest", 1), ("/bench/direct", 3)):
            stall = start(
                stack,
                [sys.executable, str(HERE / "ingest_stall.py"), database_url, str(args.seconds + 1)],
                env,
                tmp / "stall.log",
            )
            time.sleep(0.2)  # the first stall begins as the load does
            result = phase(f"stalled {path}", path, annotators(1000), args.seconds, page)
            stall.wait(30)
            if path == "/api/ingest":
                stalled = result
            else:
                direct_stalled = result
        phase("open loop /api/ingest", "/api/ingest", annotators(2500), short, 1)

        drain(r, streams(args.shards), tmp / "worker.log")
        ingest_phases = [p for p in phases if p["path"] == "/api/ingest"]
        lost, duplicated = account(database_url, ingest_phases, ingest_runs)
        print(
            f"accounted: {sum(p['sent'] for p in ingest_phases)} open-loop batches and "
            f"{sum(run['completed'] for run in ingest_runs)} saturation batches to /api/ingest",
            flush=True,
        )
        # Redis's own latency monitor: its event loop's stalls of 10 ms or more, by cause (e.g. aof-write).
        stalls = (
            ", ".join(
                f"{name.decode()} {worst} ms at worst"
                for name, _, _, worst, *_ in r.execute_command("LATENCY", "LATEST")
            )
            or "none"
        )
        print(
            f"load average after: {os.getloadavg()[0]:.2f}; Redis wrote its AOF late (an fsync still running) "
            f"{r.info('persistence')['aof_delayed_fsync']} times; Redis stalls of 10 ms or more: {stalls}",
            flush=True,
        )
        print(f"database={args.database.split(':')[0]} shards={args.shards}", flush=True)
        print(
            f"ingest_vs_bare={ingest / bare if bare else float('nan'):.2f} p99_ms={steady['p99']:.1f} "
            f"p99_stalled_ms={stalled['p99']:.1f} "
            f"direct_p99_stalled_ms={direct_stalled['p99']:.1f} errors_stalled={stalled['errors']} "
            f"flush_events_per_s={flush_per_s:.0f} lost={lost} duplicated={duplicated}",
            flush=True,
        )


if __name__ == "__main__":
    main()
