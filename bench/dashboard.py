"""``make bench-dashboard``: the requester's pages and exports on a full-size campaign.

Seeds 100 HITs × 10 pages × 48 images × 3 assignments (144,000 image records,
with pointer trajectories stored as PointerChunks, as ingest would) straight
into a fresh database with bulk inserts, then measures

- the server time of the batch progress page, the results (labels) page and the
  workers page, through the real app (median of several warm requests);
- each export's throughput (records per second) and peak memory, each export in
  a subprocess of its own so its peak resident memory is its alone.

Targets (issue 5): each page <= 150 ms; export >= 20,000 records/s with peak
memory < 300 MB. ``--database postgres`` runs it on a fresh PostgreSQL database instead of SQLite (dropped at
the end unless --keep). The last line is one line of figures (name=value), for scripts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import databases

PAGE_TARGET_MS = 150
EXPORT_TARGET_RATE = 20_000
EXPORT_TARGET_MB = 300
EMAIL = "bench@example.org"
PASSWORD = "bench-password"


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


# --- seeding -------------------------------------------------------------------


def _page_activity(rng: random.Random, start: int, roles: list[str], accuracy: float):
    """One worker's page: a visit to each image in turn, with moves, hovers and clicks; returns (records, events,
    end)."""
    t = start + rng.randint(800, 3000)
    records, events = [], []
    for i, role in enumerate(roles):
        truth = {"positive": True, "negative": False}.get(role, rng.random() < 0.5)
        selected = truth if rng.random() < accuracy else not truth
        visit = rng.randint(250, 1500)
        enter, leave = t, t + visit
        moves = rng.randint(2, 18)
        click_at = enter + visit // 2 if selected else None
        x, y = rng.random(), rng.random()
        points = []
        for k in range(moves):
            at = enter + k * visit // moves
            if click_at is not None and at >= click_at:
                break  # tracking stops while the image is selected
            x = min(1.0, max(0.0, x + rng.uniform(-0.08, 0.08)))
            y = min(1.0, max(0.0, y + rng.uniform(-0.08, 0.08)))
            points.append((x, y, at))
        events.append({"type": "enter", "i": i, "time": enter})
        events += [{"type": "move", "i": i, "x": round(px, 4), "y": round(py, 4), "time": at} for px, py, at in points]
        selected_record = []
        if click_at is not None:
            events.append(
                {"type": "click", "i": i, "x": round(x, 4), "y": round(y, 4), "time": click_at, "selected": True}
            )
            selected_record.append({"x": round(x, 4), "y": round(y, 4), "time": click_at})
        events.append({"type": "leave", "i": i, "time": leave})
        records.append(
            dict(
                grid_index=i,
                original_width=500,
                original_height=375,
                width=243,
                height=182,
                position_x=20 + (i % 3) * 350,
                position_y=300 + (i // 3) * 260,
                hovered_record=[{"action": "enter", "time": enter}, {"action": "leave", "time": leave}],
                hovered_count=1,
                selected=selected,
                selected_count=1 if selected else 0,
                selected_record=selected_record,
                estimate_time=(click_at or leave) - enter,
            )
        )
        t = leave + rng.randint(20, 300)
    return records, events, t + rng.randint(300, 2000)


def seed(hits: int, pages: int, images: int, assignments: int, seed_value: int = 5) -> int:
    """Create the campaign; returns the batch id."""
    from freelunch.db import database
    from freelunch.models import (
        Assignment,
        Batch,
        Candidate,
        Dataset,
        Hit,
        HitPage,
        Image,
        ImageClass,
        ImageRecord,
        Membership,
        PageSubmission,
        PointerChunk,
    )
    from freelunch.services.accounts.users import sign_up

    rng = random.Random(seed_value)
    positives = negatives = 3
    per_page = images - positives - negatives
    n_classes = max(1, hits * pages // 10)  # ten pages per class, as an ImageNet-style batch would
    user = sign_up(EMAIL, PASSWORD, "Bench Lab")
    org = Membership.get(Membership.user == user).organization_id

    def bulk(model, rows, size=500):
        for start in range(0, len(rows), size):
            model.insert_many(rows[start : start + size]).execute()

    with database.atomic():
        dataset = Dataset.create(organization=org, name="Bench")
        ImageClass.insert_many(
            [
                dict(
                    organization=org,
                    dataset=dataset,
                    key=f"n{c:08d}",
                    names=[f"class {c}"],
                    description="a benchmark class",
                )
                for c in range(n_classes)
            ]
        ).execute()
        classes = [
            c.id for c in ImageClass.select(ImageClass.id).where(ImageClass.dataset == dataset).order_by(ImageClass.id)
        ]
        per_class = per_page * pages * hits // n_classes + 10 + 10
        bulk(
            Image,
            [
                dict(
                    organization=org,
                    dataset=dataset,
                    key=f"n{c:08d}/{k:05d}.JPEG",
                    url=f"https://example.org/{c}/{k}.jpg",
                    width=500,
                    height=375,
                )
                for c in range(n_classes)
                for k in range(per_class)
            ],
        )
        image_ids = [i.id for i in Image.select(Image.id).where(Image.dataset == dataset).order_by(Image.id)]
        pool: dict[int, dict[str, list[int]]] = {}
        candidates = []
        for n, class_id in enumerate(classes):
            ids = image_ids[n * per_class : (n + 1) * per_class]
            pool[class_id] = {"candidate": ids[20:], "positive": ids[:10], "negative": ids[10:20]}
            for role, role_ids in pool[class_id].items():
                candidates += [dict(organization=org, image=i, image_class=class_id, role=role) for i in role_ids]
        bulk(Candidate, candidates)

        batch = Batch.create(
            organization=org,
            dataset=dataset,
            name="Bench batch",
            pages_per_hit=pages,
            images_per_page=images,
            positives_per_page=positives,
            negatives_per_page=negatives,
            assignments_per_hit=assignments,
            shuffle_seed=seed_value,
            state="published",
        )
        page_plan = []
        for class_id in classes:
            cands = pool[class_id]["candidate"]
            for start in range(0, len(cands), per_page):
                grid = [(i, "candidate") for i in cands[start : start + per_page]]
                grid += [(i, "positive") for i in rng.sample(pool[class_id]["positive"], positives)]
                grid += [(i, "negative") for i in rng.sample(pool[class_id]["negative"], negatives)]
                rng.shuffle(grid)
                page_plan.append((class_id, grid))
        rng.shuffle(page_plan)
        page_plan = page_plan[: hits * pages]

        workers = [f"{rng.getrandbits(40):010X}" for _ in range(max(assignments, hits * assignments // 5))]
        skill = {w: (0.55 if rng.random() < 0.1 else rng.uniform(0.85, 0.99)) for w in workers}
        campaign_start = int((time.time() - 6 * 3600) * 1000)
        for h in range(hits):
            hit = Hit.create(organization=org, batch=batch)
            hit_pages = []
            for p, (class_id, grid) in enumerate(page_plan[h * pages : (h + 1) * pages], 1):
                hit_pages.append(
                    (
                        HitPage.create(
                            organization=org, hit=hit, pageno=p, image_class=class_id, image_ids=[i for i, _ in grid]
                        ),
                        grid,
                    )
                )
            for worker in rng.sample(workers, assignments):
                started = campaign_start + rng.randint(0, 5 * 3600 * 1000)
                assignment = Assignment.create(
                    organization=org,
                    hit=hit,
                    worker_id=worker,
                    source="survey",
                    version="POINTER_ORIGINAL",
                    started_at=dt.datetime.fromtimestamp(started / 1000, dt.UTC).replace(tzinfo=None),
                    done=True,
                    completion_code=f"{rng.getrandbits(24):06X}",
                )
                t = started
                record_rows, chunk_rows = [], []
                for hit_page, grid in hit_pages:
                    records, events, end = _page_activity(rng, t, [role for _, role in grid], skill[worker])
                    n_chunks = (len(events) + 59) // 60
                    lost = 1 if rng.random() < 0.02 else 0  # a beacon that never arrived, now and then
                    submission = PageSubmission.create(
                        assignment=assignment,
                        hit_page=hit_page,
                        pageno=hit_page.pageno,
                        started_at=t,
                        ended_at=end,
                        chunks_reported=n_chunks,
                        submitted_at=dt.datetime.fromtimestamp(end / 1000, dt.UTC).replace(tzinfo=None),
                    )
                    record_rows += [dict(r, page=submission.id, image=grid[r["grid_index"]][0]) for r in records]
                    chunk_rows += [
                        dict(
                            assignment=assignment.id,
                            pageno=hit_page.pageno,
                            seq=s,
                            n_events=len(part),
                            events=json.dumps(part, separators=(",", ":")),
                            received_at=part[-1]["time"],
                        )
                        for s in range(n_chunks - lost)
                        for part in [events[s * 60 : (s + 1) * 60]]
                    ]
                    t = end + rng.randint(500, 5000)
                bulk(ImageRecord, record_rows)
                bulk(PointerChunk, chunk_rows, 200)
                assignment.completed_at = dt.datetime.fromtimestamp(t / 1000, dt.UTC).replace(tzinfo=None)
                assignment.save()
    return batch.id


# --- measuring --------------------------------------------------------------------


def time_pages(app, batch_id: int, repeat: int) -> dict[str, tuple[float, float]]:
    """Server time (ms) of each page through the app's full request handling: (first request, median of the rest).

    The first request of the batch's review pages also derives the review read
    model (tallies and votes of every page submitted so far); later requests
    only derive what was submitted since, here nothing.
    """
    client = app.test_client()
    response = client.post("/login", data={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 302, "bench login failed"
    urls = {
        "results": f"/review/batches/{batch_id}/results?page=3&min_accuracy=0.8",
        "progress": f"/review/batches/{batch_id}/progress",
        "workers": f"/review/batches/{batch_id}/workers",
        "assignments": f"/review/batches/{batch_id}/assignments",
        "results-last": f"/review/batches/{batch_id}/results?page=100000&min_accuracy=0.8",
    }
    timings = {}
    for name, url in urls.items():
        samples = []
        for _ in range(repeat + 1):
            started = time.perf_counter()
            # the progress partial answers htmx's poll; a plain load of its URL redirects to the batch's overview
            response = client.get(url, headers={"HX-Request": "true"} if name == "progress" else None)
            samples.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, f"{url} answered {response.status_code}"
        timings[name] = (samples[0], statistics.median(samples[1:]))
    return timings


def export_child(database_url: str, instance: str, batch_id: int, kind: str) -> None:
    """In a subprocess: run one export and print its figures as JSON."""
    from freelunch.db import database
    from freelunch.models import Batch, Export
    from freelunch.services.exports import files as exports

    app = _app(database_url, instance)
    with app.app_context(), database.connection_context():
        batch = Batch.get_by_id(batch_id)
        export = Export.create(organization=batch.organization_id, batch=batch, kind=kind)
        started, cpu = time.perf_counter(), time.process_time()
        result = exports.run(export.id)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
        size = exports.file_path(Export.get_by_id(export.id)).stat().st_size
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "kind": kind,
                "rows": result["rows"],
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "peak_mb": peak_mb,
                "bytes": size,
            }
        )
    )


def time_exports(database_url: str, instance: str, batch_id: int, records: int) -> list[dict]:
    from freelunch.services.exports.kinds import KINDS

    results = []
    for kind in KINDS:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--export-child",
                kind,
                "--database",
                database_url,
                "--instance",
                instance,
                "--batch",
                str(batch_id),
            ],
            capture_output=True,
            text=True,
        )
        if out.returncode:
            raise SystemExit(f"the {kind} export failed:\n{out.stderr}")
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        figures["records_per_s"] = records / figures["seconds"]
        results.append(figures)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hits", type=int, default=100)
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--assignments", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5, help="requests per page to take the median of")
    parser.add_argument(
        "--database",
        default="sqlite",
        help="sqlite (a fresh file, the default), postgres (a fresh "
        "database on BENCH_POSTGRES_URL's server) or an empty database's URL",
    )
    parser.add_argument("--keep", action="store_true", help="keep the instance folder (and SQLite file) afterwards")
    parser.add_argument("--instance", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--export-child", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.export_child:
        export_child(args.database, args.instance, args.batch, args.export_child)
        return

    instance = tempfile.mkdtemp(prefix="freelunch-bench-")
    database_url = databases.database_url(args.database, Path(instance), "dashboard")
    try:
        figures = measure(args, instance, database_url)
    finally:
        if args.keep:
            print(f"kept {instance}" + (f" and {database_url}" if args.database == "postgres" else ""))
        else:
            shutil.rmtree(instance)
            databases.drop_url(args.database, database_url)
    print(" ".join(f"{name}={value}" for name, value in figures.items()))


def measure(args: argparse.Namespace, instance: str, database_url: str) -> dict[str, float]:
    """Seed, time the pages and the exports, print them; returns the figures line's figures."""
    from freelunch.db import database, is_sqlite
    from freelunch.models import ImageRecord, PointerChunk
    from freelunch.services.review import tallies
    from freelunch.services.schema import upgrade

    app = _app(database_url, instance)
    with app.app_context(), database.connection_context():
        upgrade(database)
        started = time.perf_counter()
        batch_id = seed(args.hits, args.pages, args.images, args.assignments)
        tallies.refresh(tallies.in_batch(batch_id))  # what the platform derives as each page is submitted
        if not is_sqlite():  # a live PostgreSQL has statistics (autovacuum); a freshly bulk-loaded one not yet
            database.execute_sql("ANALYZE")
        records = ImageRecord.select().count()
        chunks = PointerChunk.select().count()
        events = PointerChunk.select(PointerChunk.n_events).tuples()
        n_events = sum(n for (n,) in events)
        print(
            f"seeded {records:,} image records, {chunks:,} pointer chunks ({n_events:,} events) "
            f"in {time.perf_counter() - started:.1f} s ({database_url.split(':')[0]}); "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
    pages = time_pages(app, batch_id, args.repeat)
    print(f"pages: server time, median of {args.repeat} warm requests (first request in brackets)")
    for name, (first, ms) in pages.items():
        print(
            f"  {name:<12} {ms:7.1f} ms  (first {first:7.1f} ms)   target <= {PAGE_TARGET_MS} ms   "
            f"ratio {ms / PAGE_TARGET_MS:.2f}"
        )
    print(f"exports: {records:,} image records; records/s = image records / wall seconds (CPU seconds in brackets)")
    exports = time_exports(database_url, instance, batch_id, records)
    for f in exports:
        print(
            f"  {f['kind']:<12} {f['rows']:>7,} rows {f['seconds']:6.2f} s {f['records_per_s']:>9,.0f} records/s "
            f"({records / f['cpu_seconds']:,.0f})   target >= {EXPORT_TARGET_RATE:,} ratio "
            f"{f['records_per_s'] / EXPORT_TARGET_RATE:.2f}   peak RSS {f['peak_mb']:.0f} MB "
            f"target < {EXPORT_TARGET_MB} "
            f"ratio {f['peak_mb'] / EXPORT_TARGET_MB:.2f}   file {f['bytes'] / 1e6:.1f} MB"
        )
    return {
        **{f"{name.replace('-', '_')}_ms": round(ms, 1) for name, (_, ms) in pages.items()},
        "records": records,
        "export_min_records_per_s": round(min(f["records_per_s"] for f in exports)),
        "export_max_mb": round(max(f["peak_mb"] for f in exports)),
    }


if __name__ == "__main__":
    main()
