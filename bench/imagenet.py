"""``make bench-imagenet SCALE=1``: an ImageNet-size campaign on PostgreSQL, through the product's own paths.

At SCALE=1: the 1,000 ImageNet classes, 1,280 candidates and 10 + 10 controls
each (1.3 M manifest rows), a batch of every candidate once (42 candidates + 6
controls a page, 10 pages a HIT, 10 assignments: about 3,050 HITs), 12.8 M image
records with their pointer data. A smaller SCALE keeps the page and class
shape and takes fewer classes (SCALE=0.1: 100 classes, 128,000 candidates).

1. import: the manifest (JSON Lines, widths and heights given) through the
   dataset import job, run by an RQ worker in a process of its own (its peak RSS
   is the job's memory);
2. build: the builder's job, likewise;
3. fill: assignments, submitted pages, image records and pointer chunks (about
   10 moves an image, in chunks as ingest stores them) bulk-copied by this
   script (setup, not measured against a target), then what the platform
   derives when a page is submitted (services/review/tallies.derive), timed;
4. measure: the requester's pages (median of warm requests, server time
   through the app), the label fit job, planning the next round, every export
   (records/s and peak memory, each in a process of its own), the database's
   size per image record.

It prints one figures line last (name=value) and writes its table into
docs/performance.md (between the bench-imagenet markers, one row per SCALE).
The database is dropped at the end unless --keep. ``--until import`` or
``--until build`` stops after that step and prints its figures with the job's
CPU time and the database server's (no table): two checkouts compared back to
back in a minute at SCALE=0.1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import databases

EMAIL = "imagenet@example.org"
PASSWORD = "bench-password"
CLASSES_FULL = 1000
CANDIDATES_PER_CLASS = 1280
CONTROLS_PER_ROLE = 10
PAGES, CANDIDATES_PER_PAGE, POSITIVES, NEGATIVES, ASSIGNMENTS = 10, 42, 3, 3, 10
MOVES_PER_IMAGE = 10
EVENTS_PER_CHUNK = 60
TEMPLATES = 64  # distinct pages of activity, reused: the database stores as many bytes, the script writes less JSON
TARGETS = {
    "import_rows_per_s": (">=", 10_000),
    "import_mb": ("<", 500),
    "build_s": ("<", 120),
    "build_mb": ("<", 1024),
    "page_p50_ms_max": ("<=", 150),
    "page_max_ms": ("<=", 1000),
    "fit_s": ("<", 90),
    "fit_mb": ("<", 2048),
    "plan_s": ("<", 30),
    "export_min_records_per_s": (">=", 30_000),
    "export_max_mb": ("<", 300),
}
DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
BEGIN, END = "<!-- bench-imagenet:begin -->", "<!-- bench-imagenet:end -->"


def _app(database_url: str, instance: str):
    from freelunch import create_app

    return create_app(
        {
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": instance,
            "SECRET_KEY": "bench",
            "WORKER_ID_KEY": "bench",
            "WTF_CSRF_ENABLED": False,
            "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        }
    )


def own_redis_database() -> tuple[str, object]:
    """A Redis database of this run's own, emptied, and the lock that keeps it (the tests' lock files, so no test
    run flushes it). On a shared database another engineer's periodic jobs waited on the default queue: the
    burst worker ran them with the build and timed them as the build (60 s at SCALE=0.01, once)."""
    import fcntl

    import redis

    base = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0]
    for index in range(15, 0, -1):  # from the top: test runs take theirs from the bottom
        lock = open(f"/tmp/freelunch-test-redis-db-{index}.lock", "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        url = f"{base}/{index}"
        redis.Redis.from_url(url).flushdb()
        return url, lock
    raise SystemExit("every Redis database 1-15 is taken by test runs")


def peak_mb() -> float:
    """This process's peak resident memory. Not getrusage's ru_maxrss: Linux carries that over an exec, so a
    child started by a large parent would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _child(args: list[str]) -> dict:
    """Run this script's ``args`` in a process of its own; its last stdout line is JSON figures."""
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"{' '.join(args[:2])} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _cpu_s() -> float:
    usage = os.times()
    return usage.user + usage.system


def _backends_cpu_s(database_url: str) -> dict[int, float]:
    """CPU seconds so far of each server process connected to the run's database, by pid (/proc: the bench needs
    the server on this machine for it, as it does for every other figure)."""
    ticks = os.sysconf("SC_CLK_TCK")
    name = database_url.rsplit("/", 1)[1]
    cpu = {}
    for (pid,) in databases.rows(database_url, f"SELECT pid FROM pg_stat_activity WHERE datname = '{name}'"):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone, or a server elsewhere
            continue
        cpu[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return cpu


def work_child(database_url: str, instance: str, queue: str) -> None:
    """In a subprocess: an RQ worker (burst) on ``queue``, as the Procfile's worker runs jobs; prints its peak RSS,
    its CPU time and the database server's for the job (its connections stay open in the pool until the end).

    The worker is the tests' BurstWorker (tests/helpers/burst_worker.py): RQ's SimpleWorker without the command
    listener, whose shutdown at the end of a burst waited 60 s on a busy machine (counted in the count jobs' time,
    or added after the import's)."""
    from rq import Queue

    from freelunch.queues import redis_connection

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "helpers"))
    from burst_worker import BurstWorker

    app = _app(database_url, instance)
    with app.app_context():
        connection = redis_connection()
        server_before = _backends_cpu_s(database_url)
        cpu_before = _cpu_s()
        started = time.perf_counter()
        worker = BurstWorker([Queue(queue, connection=connection)], connection=connection)
        worker.work(burst=True, logging_level="WARNING")
        seconds = time.perf_counter() - started
        cpu = _cpu_s() - cpu_before
        server = sum(s - server_before.get(pid, 0) for pid, s in _backends_cpu_s(database_url).items())
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb(), "cpu_s": cpu, "server_cpu_s": server}))


def run_job(database_url: str, instance: str, job) -> dict:
    figures = _child(["--work", job.origin, "--database", database_url, "--instance", instance])
    job.refresh()
    result = job.return_value()
    if job.get_status() != "finished" or (isinstance(result, dict) and result.get("error")):
        raise SystemExit(f"job {job.func_name} did not finish: {job.get_status()} {result!r}")
    figures["result"] = result
    # The job's own time, not the worker's: a burst worker's exit waited up to 60 s now and then (RQ stops its
    # pubsub thread with redis-py's join, which waits out a 60 s get_message; py-spy on a stalled build), and
    # timed as the job that made build_s 60.2-63.1 s in some runs.
    figures["seconds"] = (job.ended_at - job.started_at).total_seconds()
    return figures


# --- the campaign ----------------------------------------------------------------


def write_manifest(path: Path, class_keys: list[str]) -> int:
    rows = 0
    with open(path, "w") as out:
        for key in class_keys:
            roles = ["positive"] * CONTROLS_PER_ROLE + ["negative"] * CONTROLS_PER_ROLE
            roles += ["candidate"] * CANDIDATES_PER_CLASS
            for n, role in enumerate(roles):
                out.write(
                    json.dumps(
                        {
                            "image_id": f"{key}/{key}_{n}.JPEG",
                            "url": f"https://images.example.org/{key}/{n}.jpg",
                            "class": key,
                            "role": role,
                            "width": 500,
                            "height": 375,
                        }
                    )
                    + "\n"
                )
                rows += 1
    return rows


def _copy_text(value) -> str:
    if value is None:
        return "\\N"
    if hasattr(value, "adapted"):  # psycopg2's Json wrapper, what peewee's JSONField gives PostgreSQL
        value = json.dumps(value.adapted, separators=(",", ":"))
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def copy_rows(model, rows: list[dict]) -> None:
    """COPY rows (dicts by field name; the rest take their defaults) into the model's table."""
    from freelunch.db import database

    if not rows:
        return
    given = set(rows[0])
    fields = [f for f in model._meta.sorted_fields if f.name in given or f.name != "id"]
    defaults = {}
    for f in fields:
        if f.name not in given:
            default = f.default() if callable(f.default) else f.default
            defaults[f.name] = f.db_value(default)
    buffer = io.StringIO()
    for row in rows:
        buffer.write(
            "\t".join(_copy_text(f.db_value(row[f.name]) if f.name in row else defaults[f.name]) for f in fields) + "\n"
        )
    buffer.seek(0)
    columns = ", ".join(f.column_name for f in fields)
    database.cursor().copy_expert(f"COPY {model._meta.table_name} ({columns}) FROM STDIN", buffer)


def _templates(rng: random.Random, images: int) -> list[tuple[list[dict], list[str], int]]:
    """Pages of activity: (records without page/image, pointer chunks' JSON, duration ms)."""
    out = []
    for _ in range(TEMPLATES):
        t, records, events = 0, [], []
        for i in range(images):
            visit = rng.randint(250, 1500)
            enter = t + rng.randint(20, 300)
            selected = rng.random() < 0.4
            x, y = rng.random(), rng.random()
            events.append({"type": "enter", "i": i, "time": enter})
            for k in range(MOVES_PER_IMAGE):
                x, y = min(1, max(0, x + rng.uniform(-0.08, 0.08))), min(1, max(0, y + rng.uniform(-0.08, 0.08)))
                events.append(
                    {"type": "move", "i": i, "x": round(x, 4), "y": round(y, 4), "time": enter + k * visit // 11}
                )
            click = enter + visit * 10 // 11
            if selected:
                events.append({"type": "click", "i": i, "x": round(x, 4), "y": round(y, 4), "time": click})
            events.append({"type": "leave", "i": i, "time": enter + visit})
            records.append(
                dict(
                    grid_index=i,
                    original_width=500,
                    original_height=375,
                    width=243,
                    height=182,
                    position_x=20 + (i % 6) * 250,
                    position_y=300 + (i // 6) * 200,
                    hovered_record=[{"action": "enter", "time": enter}, {"action": "leave", "time": enter + visit}],
                    hovered_count=1,
                    selected=selected,
                    selected_count=int(selected),
                    selected_record=[{"x": round(x, 4), "y": round(y, 4), "time": click}] if selected else [],
                    estimate_time=visit,
                )
            )
            t = enter + visit
        chunks = [
            json.dumps(events[s : s + EVENTS_PER_CHUNK], separators=(",", ":"))
            for s in range(0, len(events), EVENTS_PER_CHUNK)
        ]
        out.append((records, chunks, t + 1000))
    return out


def fill(batch_id: int, seed: int = 7) -> dict:
    """Every assignment of every HIT done: bulk-copied rows, as the annotation page and ingest would store them."""
    from freelunch.db import database
    from freelunch.models import Assignment, Candidate, Hit, HitPage, ImageRecord, PageSubmission, PointerChunk

    rng = random.Random(seed)
    hits = list(Hit.select(Hit.id, Hit.organization).where(Hit.batch == batch_id).order_by(Hit.id).tuples())
    pages: dict[int, list[tuple[int, int, int, list[int]]]] = {}
    for hit_id, page_id, pageno, class_id, image_ids in (
        HitPage.select(HitPage.hit, HitPage.id, HitPage.pageno, HitPage.image_class, HitPage.image_ids)
        .join(Hit)
        .where(Hit.batch == batch_id)
        .order_by(HitPage.hit, HitPage.pageno)
        .tuples()
    ):
        pages.setdefault(hit_id, []).append((page_id, pageno, class_id, image_ids))
    images = max(len(ids) for hit_pages in pages.values() for *_, ids in hit_pages)
    controls = {
        (c, i): role == "positive"
        for c, i, role in Candidate.select(Candidate.image_class, Candidate.image, Candidate.role)
        .where(Candidate.role != "candidate")
        .tuples()
    }
    templates = _templates(rng, images)
    workers = [f"{rng.getrandbits(40):010X}" for _ in range(max(ASSIGNMENTS * 4, len(hits) * ASSIGNMENTS // 30))]
    # A crowd: most workers good, one in ten close to guessing; about 30 % of candidates show their class.
    skill = {w: 0.55 if rng.random() < 0.1 else rng.uniform(0.85, 0.97) for w in workers}
    next_assignment = (Assignment.select(Assignment.id).order_by(Assignment.id.desc()).scalar() or 0) + 1
    next_page = (PageSubmission.select(PageSubmission.id).order_by(PageSubmission.id.desc()).scalar() or 0) + 1
    clock = int((time.time() - 30 * 24 * 3600) * 1000)
    counts = {"assignments": 0, "pages": 0, "records": 0, "chunks": 0}
    step = 50  # HITs a transaction
    for start in range(0, len(hits), step):
        assignments, submissions, records, chunks = [], [], [], []
        for hit_id, org in hits[start : start + step]:
            for worker in rng.sample(workers, ASSIGNMENTS):
                t = clock + rng.randint(0, 20 * 24 * 3600 * 1000)
                assignment_id, next_assignment = next_assignment, next_assignment + 1
                began = t
                for page_id, pageno, class_id, image_ids in pages[hit_id]:
                    template_records, template_chunks, duration = templates[rng.randrange(TEMPLATES)]
                    submission_id, next_page = next_page, next_page + 1
                    submissions.append(
                        dict(
                            id=submission_id,
                            assignment=assignment_id,
                            hit_page=page_id,
                            pageno=pageno,
                            started_at=t,
                            ended_at=t + duration,
                            chunks_reported=len(template_chunks),
                            submitted_at=dt.datetime.fromtimestamp((t + duration) / 1000, dt.UTC).replace(tzinfo=None),
                        )
                    )
                    for r in template_records[: len(image_ids)]:
                        image = image_ids[r["grid_index"]]
                        truth = controls.get((class_id, image), image * 2654435761 % 100 < 30)
                        selected = truth if rng.random() < skill[worker] else not truth
                        records.append(dict(r, page=submission_id, image=image, selected=selected))
                    chunks += [
                        dict(
                            assignment=assignment_id,
                            pageno=pageno,
                            seq=s,
                            n_events=text.count('"type"'),
                            events=text,
                            received_at=t + duration,
                        )
                        for s, text in enumerate(template_chunks)
                    ]
                    t += duration + rng.randint(500, 5000)
                assignments.append(
                    dict(
                        id=assignment_id,
                        organization=org,
                        hit=hit_id,
                        worker_id=worker,
                        source="survey",
                        version="POINTER_ORIGINAL",
                        started_at=dt.datetime.fromtimestamp(began / 1000, dt.UTC).replace(tzinfo=None),
                        done=True,
                        completed_at=dt.datetime.fromtimestamp(t / 1000, dt.UTC).replace(tzinfo=None),
                        completion_code=f"{rng.getrandbits(24):06X}",
                    )
                )
        with database.atomic():
            copy_rows(Assignment, assignments)
            copy_rows(PageSubmission, submissions)
            copy_rows(ImageRecord, records)
            copy_rows(PointerChunk, chunks)
        counts["assignments"] += len(assignments)
        counts["pages"] += len(submissions)
        counts["records"] += len(records)
        counts["chunks"] += len(chunks)
        print(f"  filled {start + step:,} of {len(hits):,} HITs: {counts['records']:,} records", flush=True)
    for table in ("assignment", "page_submission"):
        database.execute_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    return counts


# --- measuring ---------------------------------------------------------------------


def time_pages(
    app, batch_id: int, dataset_id: int, repeat: int, urls: dict[str, str] | None = None
) -> dict[str, tuple[float, float, float]]:
    """Server time (ms) of each page through the app (``urls``, or every page below): (first request, median of warm
    requests, slowest)."""
    from freelunch.models import Assignment, Hit

    client = app.test_client()
    response = client.post("/login", data={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 302, "bench login failed"
    with app.app_context():
        assignment = Assignment.select(Assignment.id).join(Hit).where(Hit.batch == batch_id).order_by(Assignment.id)
        assignment_id = assignment.first().id
    review = f"/review/batches/{batch_id}"
    # "Last" is page=999999: the highest number a page argument takes (web/pagination.requested_page); a larger one
    # reads as page 1, which is what page=1000000 measured.
    urls = urls or {
        "overview": "/",
        "batches": "/batches/",
        "batch": f"/batches/{batch_id}",
        "status": f"/batches/{batch_id}/status",
        "results-first": f"{review}/results",
        "results-middle": f"{review}/results?page=500",
        "results-last": f"{review}/results?page=999999",
        "results-filtered": f"{review}/results?threshold=0.5&min_annotations=3&min_accuracy=0.8&decision=yes&page=3",
        "workers": f"{review}/workers",
        "workers-all": "/review/workers",
        "assignments": f"{review}/assignments",
        "assignment": f"/review/assignments/{assignment_id}",
        "replay": f"/review/assignments/{assignment_id}/pages/5",
        "mturk-review": f"/batches/{batch_id}/mturk/review",
        "dataset": f"/datasets/{dataset_id}",
        "images-last": f"/datasets/{dataset_id}/images?page=999999",
        "builder": "/batches/new",
    }
    timings = {}
    for name, url in urls.items():
        samples = []
        for _ in range(repeat + 1):
            started = time.perf_counter()
            response = client.get(url)
            samples.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"{url} answered {response.status_code}")
        timings[name] = (samples[0], statistics.median(samples[1:]), max(samples))
    return timings


def export_pages(batch_id: int) -> dict[str, str]:
    return {
        "exports": f"/review/batches/{batch_id}/exports",
        "status-exports": f"/batches/{batch_id}/status?exports_seen=0-0&export_jobs_seen=&export_marks=",
    }


def _print_pages(pages: dict, repeat: int) -> None:
    print(f"pages: median of {repeat} warm requests (first, slowest)")
    for name, (first, median, slowest) in pages.items():
        print(f"  {name:<17} {median:8.1f} ms  (first {first:8.1f}, max {slowest:8.1f})")


@contextmanager
def _kept(name: str):
    """(url, instance folder, app, the newest batch) of a database kept by an earlier run's --keep, migrated first
    (BENCH_UPGRADE=0 to time an older checkout), on an instance folder of its own (the kept run's is elsewhere, or
    gone), removed afterwards even when the timing fails."""
    from freelunch.db import database
    from freelunch.models import Batch

    url = databases.POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    os.environ["REDIS_URL"], _lock = own_redis_database()
    with tempfile.TemporaryDirectory(prefix="freelunch-imagenet-") as instance:
        app = _app(url, instance)
        with app.app_context(), database.connection_context():
            if os.environ.get("BENCH_UPGRADE", "1") == "1":
                from freelunch.services.schema import upgrade

                started = time.perf_counter()
                print(f"migrated {upgrade(database)} in {time.perf_counter() - started:.1f} s")
            batch = Batch.select().order_by(Batch.id.desc()).first()
        yield url, instance, app, batch


def pages_only(name: str, repeat: int) -> None:
    """Time the pages of a kept database again (while changing how a page reads its figures)."""
    with _kept(name) as (_url, _instance, app, batch):
        print(f"load average {os.getloadavg()[0]:.1f}")
        _print_pages(time_pages(app, batch.id, batch.dataset_id, repeat), repeat)
    print(f"load average {os.getloadavg()[0]:.1f}")


def _backend_cpu(since: float) -> dict[int, float]:
    """CPU seconds used so far by each PostgreSQL backend on this process's database that connected after ``since``
    (epoch seconds: this process's start, so not the parent's or another session's). Pooled connections stay open
    until the process ends, so a backend's count is still there after its export."""
    from freelunch.db import database

    ticks = os.sysconf("SC_CLK_TCK")
    pids = database.execute_sql(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_start >= to_timestamp(%s)",
        (since,),
    ).fetchall()
    cpu = {}
    for (pid,) in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended, or the server runs elsewhere
            continue
        cpu[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return cpu


def export_child(database_url: str, instance: str, batch_id: int, kind: str) -> None:
    """In a subprocess: run one export; prints its figures as JSON (peak RSS is this process's alone; CPU is this
    process's and its database backends' during the export, start-up left out)."""
    from freelunch.db import database
    from freelunch.models import Batch, Export
    from freelunch.services.exports import files as exports

    process_start = time.time()  # before this process connects
    app = _app(database_url, instance)
    with app.app_context(), database.connection_context():
        batch = Batch.get_by_id(batch_id)
        export = Export.create(organization=batch.organization_id, batch=batch, kind=kind)
        server_before = _backend_cpu(process_start)
        cpu_before = time.process_time()
        started = time.perf_counter()
        result = exports.run(export.id)
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_before
        server_after = _backend_cpu(process_start)
        path = exports.file_path(Export.get_by_id(export.id))
    print(
        json.dumps(
            {
                "kind": kind,
                "rows": result["rows"],
                "seconds": seconds,
                "cpu_s": cpu,
                "db_cpu_s": sum(v - server_before.get(pid, 0.0) for pid, v in server_after.items()),
                "peak_mb": peak_mb(),
                "path": str(path),
            }
        )
    )


def _digest(path: Path, binary: bool) -> str:
    """A file's content as a hash to compare two runs by: a ZIP's member names and bytes in order (its stored times
    differ from run to run)."""
    import hashlib
    import zipfile

    digest = hashlib.sha256()
    if binary:
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                digest.update(name.encode() + b"\0")
                with archive.open(name) as member:
                    while block := member.read(1 << 20):
                        digest.update(block)
    else:
        with path.open("rb") as file:
            while block := file.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()[:16]


def run_exports(url: str, instance: str, batch_id: int, records: int, kinds: list[str]) -> list[dict]:
    """Each kind's export in a process of its own, printed as it ends; its file deleted once hashed."""
    from freelunch.services.exports.kinds import KINDS

    figures = []
    for kind in kinds:
        done = _child(["--export-child", kind, "--database", url, "--instance", instance, "--batch", str(batch_id)])
        path = Path(done["path"])
        done["digest"] = _digest(path, KINDS[kind].binary)
        path.unlink()
        done["records_per_s"] = records / done["seconds"]
        print(
            f"  export {kind:<14} {done['seconds']:7.1f} s {done['records_per_s']:>10,.0f} records/s "
            f"{done['peak_mb']:4.0f} MB  CPU a record: {done['cpu_s'] / records * 1e6:5.1f} us process, "
            f"{done['db_cpu_s'] / records * 1e6:5.1f} us database  {done['rows']:,} rows, content {done['digest']}",
            flush=True,
        )
        figures.append(done)
    return figures


def exports_only(name: str, kinds: list[str]) -> None:
    """Time the exports of a kept database again (while changing how an export makes its records)."""
    from freelunch.db import database
    from freelunch.models import ImageRecord

    with _kept(name) as (url, instance, app, batch):
        with app.app_context(), database.connection_context():
            records = ImageRecord.select().count()
        print(f"{records:,} records; load average {os.getloadavg()[0]:.1f}", flush=True)
        run_exports(url, instance, batch.id, records, kinds)
    print(f"load average {os.getloadavg()[0]:.1f}")


def plan_child(database_url: str, instance: str, batch_id: int) -> None:
    from freelunch.db import database
    from freelunch.models import Batch, LabelFit
    from freelunch.services.review import round_plan

    app = _app(database_url, instance)
    with app.app_context(), database.connection_context():
        batch = Batch.get_by_id(batch_id)
        fit = LabelFit.select().where(LabelFit.batch == batch).order_by(LabelFit.id.desc()).first()
        started = time.perf_counter()
        planned = round_plan.plan(batch, fit)
        seconds = time.perf_counter() - started
    peak = peak_mb()
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "votes": planned.votes, "pages": len(planned.pages)}))


def _meets(name: str, value: float) -> str:
    if name not in TARGETS:
        return ""
    op, target = TARGETS[name]
    ok = value >= target if op == ">=" else value <= target if op == "<=" else value < target
    return f"target {op} {target:,}: {'met' if ok else 'MISSED'} (ratio {value / target:.2f})"


def _cell(value: float) -> str:
    """A table cell: whole numbers in full (1466000, not 1.466e+06), others as short as they are."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def write_doc(scale: float, figures: dict, load: str) -> None:
    if not DOC.exists():
        return
    text = DOC.read_text()
    names = list(figures)
    header = "| SCALE | date | load | " + " | ".join(names) + " |\n|" + "---|" * (len(names) + 3) + "\n"
    rows = {}
    if BEGIN in text:
        block = text.split(BEGIN, 1)[1].split(END, 1)[0]
        for line in block.splitlines():
            cells = [c.strip() for c in line.strip("|").split("|")]
            if cells and re.fullmatch(r"[0-9.]+", cells[0]):
                rows[cells[0]] = line
    row = f"| {scale:g} | {dt.date.today()} | {load} | " + " | ".join(_cell(figures[n]) for n in names) + " |"
    rows[f"{scale:g}"] = row
    table = header + "\n".join(rows[k] for k in sorted(rows, key=float)) + "\n"
    block = f"{BEGIN}\n{table}{END}"
    if BEGIN in text:
        text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S)
    else:
        text += f"\n## ImageNet at full size (`make bench-imagenet`)\n\n{block}\n"
    DOC.write_text(text)


def _stopped(scale: float, load_start: float, figures: dict) -> None:
    """The end of a run stopped by --until (the database is dropped on the way out): its figures with the CPU times,
    and the load it ran at, not written into the docs table."""
    print(f"load average {load_start:.1f}-{os.getloadavg()[0]:.1f}")
    print(" ".join(f"{k}={v}" for k, v in {"scale": scale, **figures}.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=float(os.environ.get("SCALE", 1)))
    parser.add_argument("--repeat", type=int, default=5, help="warm requests per page to take the median of")
    parser.add_argument("--keep", action="store_true", help="keep the database (and the instance folder) afterwards")
    parser.add_argument("--no-doc", action="store_true", help="do not write the table into docs/performance.md")
    parser.add_argument(
        "--pages",
        metavar="NAME",
        help="only time the pages of database NAME, kept by an earlier run's --keep (it prints the name), then stop",
    )
    parser.add_argument(
        "--until",
        choices=("import", "build"),
        help="stop after this step (the import's and the build's figures, no docs table): to compare code quickly",
    )
    parser.add_argument(
        "--exports",
        metavar="NAME",
        help="only run the exports (--kinds, default all) on database NAME, kept as --pages says, then stop",
    )
    parser.add_argument("--kinds", help="with --exports: the kinds to run, comma-separated")
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--instance", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--export-child", help=argparse.SUPPRESS)
    parser.add_argument("--plan-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.work:
        return work_child(args.database, args.instance, args.work)
    if args.export_child:
        return export_child(args.database, args.instance, args.batch, args.export_child)
    if args.plan_child:
        return plan_child(args.database, args.instance, args.batch)
    if args.pages:
        return pages_only(args.pages, args.repeat)
    if args.exports:
        from freelunch.services.exports.kinds import KINDS

        kinds = args.kinds.split(",") if args.kinds else list(KINDS)
        if unknown := set(kinds) - set(KINDS):
            parser.error(f"no such kind: {', '.join(sorted(unknown))} (kinds: {', '.join(KINDS)})")
        return exports_only(args.exports, kinds)

    from freelunch.db import database
    from freelunch.models import Batch, Dataset, ImageClass, ImageRecord, Membership
    from freelunch.presets import IMAGENET_1K
    from freelunch.services import jobs
    from freelunch.services.accounts.users import sign_up
    from freelunch.services.batches import builder
    from freelunch.services.exports.kinds import KINDS
    from freelunch.services.review import fits, tallies
    from freelunch.services.schema import upgrade

    # The job processes inherit the URL; the lock is held until this function returns.
    os.environ["REDIS_URL"], redis_lock = own_redis_database()
    n_classes = max(1, round(CLASSES_FULL * args.scale))
    instance = tempfile.mkdtemp(prefix="freelunch-imagenet-")
    # A database of this run's own: two engineers running the bench at once must not drop each other's.
    database_name = databases.run_name("imagenet")
    url = databases.fresh_postgres(database_name)
    app = _app(url, instance)
    figures: dict[str, float] = {}
    load_start = os.getloadavg()[0]
    print(f"SCALE={args.scale:g}: {n_classes} classes; load average {load_start:.1f} on {os.cpu_count()} CPUs")
    print(f"database {url}, instance folder {instance}", flush=True)
    try:
        with app.app_context(), database.connection_context():
            upgrade(database)
            user = sign_up(EMAIL, PASSWORD, "ImageNet Lab")
            org = Membership.get(Membership.user == user).organization_id
            dataset = Dataset.create(organization=org, name="ImageNet")
            job = jobs.enqueue(
                jobs.IMPORT_PRESET, dataset.id, org, IMAGENET_1K.name, organization_id=org, scope="bench", title="x"
            )
        run_job(url, instance, job)
        with app.app_context(), database.connection_context():
            keys = [
                k
                for (k,) in ImageClass.select(ImageClass.key)
                .where(ImageClass.dataset == dataset.id)
                .order_by(ImageClass.key)
                .tuples()
            ][:n_classes]
            manifest = Path(instance) / "uploads" / "manifest.jsonl"
            manifest.parent.mkdir(parents=True, exist_ok=True)
            rows = write_manifest(manifest, keys)
            job = jobs.enqueue(
                jobs.IMPORT_IMAGES,
                dataset.id,
                org,
                "manifest",
                str(manifest),
                organization_id=org,
                scope="b",
                title="x",
            )
        done = run_job(url, instance, job)
        figures["import_rows"] = rows
        figures["import_rows_per_s"] = round(rows / done["seconds"])
        figures["import_mb"] = round(done["peak_mb"])
        cpu = {"import_cpu_s": round(done["cpu_s"], 1), "import_server_cpu_s": round(done["server_cpu_s"], 1)}
        print(
            f"import: {rows:,} rows in {done['seconds']:.1f} s, peak {done['peak_mb']:.0f} MB,"
            f" CPU {done['cpu_s']:.1f} s (the database server's {done['server_cpu_s']:.1f} s)",
            flush=True,
        )
        if args.until == "import":
            return _stopped(args.scale, load_start, {**figures, **cpu})

        with app.app_context(), database.connection_context():
            class_ids = [c for (c,) in ImageClass.select(ImageClass.id).where(ImageClass.key.in_(keys)).tuples()]
            batch = Batch.create(
                organization=org,
                dataset=dataset.id,
                name="ImageNet",
                pages_per_hit=PAGES,
                images_per_page=CANDIDATES_PER_PAGE + POSITIVES + NEGATIVES,
                positives_per_page=POSITIVES,
                negatives_per_page=NEGATIVES,
                assignments_per_hit=ASSIGNMENTS,
                shuffle_seed=7,
            )
            job = builder.start_build(batch, class_ids)
        done = run_job(url, instance, job)
        figures["build_s"] = round(done["seconds"], 1)
        figures["build_mb"] = round(done["peak_mb"])
        cpu.update(build_cpu_s=round(done["cpu_s"], 1), build_server_cpu_s=round(done["server_cpu_s"], 1))
        print(
            f"build: {done['seconds']:.1f} s, peak {done['peak_mb']:.0f} MB, CPU {done['cpu_s']:.1f} s (the database"
            f" server's {done['server_cpu_s']:.1f} s): {done['result']}",
            flush=True,
        )
        if args.until == "build":
            return _stopped(args.scale, load_start, {**figures, **cpu})

        with app.app_context(), database.connection_context():
            started = time.perf_counter()
            counts = fill(batch.id)
            figures["records"] = counts["records"]
            print(f"fill: {counts} in {time.perf_counter() - started:.0f} s (setup)", flush=True)
            # What autovacuum does after a bulk load (it is off on this machine's server): without it the derive's
            # statements are planned on the empty tables' statistics (13 pages a second at full size, 80 after).
            database.execute_sql("ANALYZE")
            started = time.perf_counter()
            tallies.refresh(tallies.in_batch(batch.id))
            figures["derive_s"] = round(time.perf_counter() - started, 1)
            print(f"derived the review read model of {counts['pages']:,} pages in {figures['derive_s']} s", flush=True)
            database.execute_sql("VACUUM ANALYZE")
            sizes = dict(
                database.execute_sql(
                    "SELECT relname, pg_total_relation_size(oid) FROM pg_class WHERE relname IN "
                    "('image_record', 'pointer_chunk', 'page_submission', 'vote', 'page_tally')"
                ).fetchall()
            )
            total = database.execute_sql("SELECT pg_database_size(current_database())").fetchone()[0]
            figures["bytes_per_record"] = round(sizes["image_record"] / counts["records"])
            figures["bytes_per_record_with_pointer"] = round(
                (sizes["image_record"] + sizes["pointer_chunk"]) / counts["records"]
            )
            figures["database_gb"] = round(total / 1e9, 2)

        pages = time_pages(app, batch.id, dataset.id, args.repeat)
        _print_pages(pages, args.repeat)
        # The filtered results page leaves counts with many votes left out to a job (services/review/labels.py): run
        # the jobs the pages queued apart, so that the fit's burst worker below times the fit alone.
        counting = _child(["--work", "default", "--database", url, "--instance", instance])
        print(f"results' count jobs: {counting['seconds']:.1f} s", flush=True)
        figures["page_p50_ms_max"] = round(max(m for _, m, _ in pages.values()), 1)
        figures["page_max_ms"] = round(max(s for _, _, s in pages.values()), 1)

        with app.app_context(), database.connection_context():
            from rq.job import Job

            fit = fits.start(Batch.get_by_id(batch.id), "ds", 0.99)
            job = Job.fetch(fit.job_id, connection=jobs.redis_connection())
        done = run_job(url, instance, job)
        figures["fit_s"] = round(done["seconds"], 1)
        figures["fit_mb"] = round(done["peak_mb"])
        print(f"fit: {done['seconds']:.1f} s, peak {done['peak_mb']:.0f} MB", flush=True)
        planned = _child(["--plan-child", "--database", url, "--instance", instance, "--batch", str(batch.id)])
        figures["plan_s"] = round(planned["seconds"], 1)
        print(f"next round: {planned}", flush=True)

        with app.app_context(), database.connection_context():
            records = ImageRecord.select().count()
        done = run_exports(url, instance, batch.id, records, list(KINDS))
        rates, peaks = [d["records_per_s"] for d in done], [d["peak_mb"] for d in done]
        figures["export_min_records_per_s"] = round(min(rates))
        figures["export_max_mb"] = round(max(peaks))
        # The Exports tab with a finished file of every kind (each row's out-of-date mark), and the batch's status poll
        # as that tab sends it (the marks it shows: services/exports/files.marks).
        tab = time_pages(app, batch.id, dataset.id, args.repeat, urls=export_pages(batch.id))
        _print_pages(tab, args.repeat)  # printed, not in the doc's table (its columns are those of earlier runs)
    finally:
        if not args.keep:
            databases.drop_postgres(database_name)
            shutil.rmtree(instance, ignore_errors=True)
    load = f"{load_start:.1f}-{os.getloadavg()[0]:.1f}"
    for name, value in figures.items():
        verdict = _meets(name, value)
        if verdict:
            print(f"  {name} = {value:,}   {verdict}")
    if not args.no_doc:
        write_doc(args.scale, figures, load)
    print(" ".join(f"{k}={v}" for k, v in {"scale": args.scale, **figures}.items()))


if __name__ == "__main__":
    main()
