"""Every benchmark in bench/ run end to end at its smallest meaningful size, so that CI fails when one no longer runs.

Nothing else runs them: in Dec 2026 two broke silently (bench/dashboard.py stopped at a 302 after a route change,
bench/seed_votes.py failed on a NOT NULL column a migration added) and were found by hand. Each test runs the
benchmark as `make bench-…` does, in a subprocess, and checks that it exited 0, that its last line is its figures
line with the names scripts read (names only: the machine is shared, so no figure's value is checked), and that
it cleaned up: no database of its run left on the PostgreSQL server (BENCH_DATABASE_TAG names them,
bench/databases.py), nothing left in its temporary folder (TMPDIR), nothing written into docs/.

A benchmark that needs a tool (wrk, redis-server, Chromium, PostgreSQL at 127.0.0.1:5432) is skipped without it,
unless FREELUNCH_REQUIRE_BENCH_TOOLS=1 (CI, which installs and starts them: .ci/run), then it fails.

Left out:
- bench/soak.py: its unit is a whole minute of load (``--minutes``, at least 1) after starting the Procfile's
  processes on PostgreSQL, so its smallest run is well over a minute.
- bench/scale.py: a Redis Cluster of six nodes, the Procfile's processes through kills and a failover, then
  bench/ingest.py's saturation runs at their defaults; at its smallest (--shards 3 --annotators 5 --seconds 3
  --flush-batches 200) it took 1 min 33 s at load 3-5 (7 Dec 2026). Its parts are run here (flush, ingest) and
  in tests/test_deployment.py and the ``cluster`` tests.
- bench/screenshots.py (`make screenshots`, not a benchmark: it writes docs/screenshots/), and the helpers that
  the benchmarks run (ingest_app, ingest_load, ingest_stall, gunicorn_ready, seed_votes, quality_world);
  bench/ingest_append.py and bench/zip_members.py, design experiments with no make target.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
DOCS = ROOT / "docs"
POSTGRES_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
CHROMIUM = "/usr/bin/chromium"

pytestmark = pytest.mark.bench


@dataclass(frozen=True)
class Bench:
    script: str
    args: tuple[str, ...]
    figures: tuple[str, ...]  # the names on the last line, in order
    needs: tuple[str, ...] = ()  # "postgres", "redis" (a Redis server over TCP), "chromium", or programs
    cwd: Path = ROOT  # where the Makefile runs it


BENCHES = {
    "page": Bench(
        "page.py",
        ("--renders", "20", "--no-targets"),  # --no-targets: a loaded machine misses the 5 ms render target
        ("render_median_ms", "render_p95_ms", "render_min_ms", "render_cpu_median_ms", "page_kb")
        + ("image_median_ms", "tracker_us_per_event"),
        needs=("chromium",),
    ),
    "dashboard": Bench(
        "dashboard.py",
        ("--hits", "2", "--pages", "2", "--repeat", "1"),
        ("results_ms", "progress_ms", "workers_ms", "assignments_ms", "results_last_ms", "records")
        + ("export_min_records_per_s", "export_max_mb"),
    ),
    "flush": Bench(
        "flush.py",
        ("--batches", "200", "--rounds", "1", "--annotators", "20", "--low-seconds", "2"),
        ("sqlite_flush_events_per_s", "pg_flush_events_per_s", "pg_execute_values_events_per_s")
        + ("pg_executemany_events_per_s", "low_batches_per_commit", "low_commits_per_s", "low_lag_mean_s")
        + ("low_lag_p99_s", "low_lag_max_s"),
        needs=("postgres", "redis-server"),
    ),
    "quality": Bench(
        "quality.py",
        ("--classes", "10", "--fit-images", "1440"),  # 10 of 1,000 classes of 144 images
        ("mv07_precision", "mv07_recall", "ds_accuracy_at_10", "rounds95_votes", "rounds95_precision")
        + ("rounds99_votes", "rounds99_precision", "rounds99_recall", "rounds99_pages_ratio", "fit_s_144k")
        + ("fit_mb_144k", "prior95_votes", "prior99_votes", "prior99_precision", "prior99_recall")
        + ("useless_prior99_votes", "useless_prior99_precision", "inverted_prior99_precision"),
    ),
    "quality-weak": Bench(
        "quality.py",
        ("--crowd", "weak", "--classes", "10", "--seeds", "1"),
        ("weak_ds_minus_mv_worst", "weak_own_rates_minus_mv_worst", "weak_scores_minus_mv_worst")
        + ("weak_useless_minus_mv_worst",),
    ),
    "quality-one-class": Bench(
        "quality.py",
        ("--crowd", "one-class", "--workers", "30"),  # 24 of the 144 runs
        ("one_class_runs", "one_class_under_mv", "one_class_mean", "one_class_worst")
        + ("one_class_true_share_under_mv", "one_class_share_error_mean", "one_class_share_error_max"),
    ),
    "duplicates": Bench(
        "duplicates.py",
        ("--images", "5000", "--planted", "100"),
        ("images", "seconds", "cpu_s", "peak_mb", "near_found", "cropped_found", "far_joined", "far_cropped_joined"),
    ),
    "imagenet": Bench(
        "imagenet.py",
        ("--scale", "0.001", "--repeat", "1", "--no-doc"),  # one class
        ("scale", "import_rows", "import_rows_per_s", "import_mb", "build_s", "build_mb", "records", "derive_s")
        + ("bytes_per_record", "bytes_per_record_with_pointer", "database_gb", "page_p50_ms_max", "page_max_ms")
        + ("fit_s", "fit_mb", "plan_s", "export_min_records_per_s", "export_max_mb"),
        needs=("postgres", "redis"),
        cwd=BENCH,
    ),
    "ingest": Bench(
        "ingest.py",
        ("--workers", "1", "--connections", "16", "--rounds", "1", "--saturation-seconds", "1", "--seconds", "1")
        + ("--min-phase-seconds", "1", "--annotators-scale", "0.04"),
        ("ingest_vs_bare", "p99_ms", "p99_stalled_ms", "direct_p99_stalled_ms", "errors_stalled")
        + ("flush_events_per_s", "lost", "duplicated"),
        needs=("wrk", "redis-server"),
    ),
}


def _postgres(sql: str, *params) -> list[tuple]:
    connection = psycopg2.connect(POSTGRES_ADMIN_URL.replace("postgres://", "postgresql://", 1), connect_timeout=3)
    try:
        cursor = connection.cursor()
        cursor.execute(sql, params)
        return cursor.fetchall()
    finally:
        connection.close()


def _missing(need: str, redis_server_url: str) -> str | None:
    """Why ``need`` is missing, or None."""
    if need == "postgres":
        try:
            _postgres("SELECT 1")
        except psycopg2.Error as error:
            return f"PostgreSQL at {POSTGRES_ADMIN_URL} (BENCH_POSTGRES_URL): {str(error).strip()}"
        return None
    if need == "redis":
        return None if redis_server_url.startswith("redis://") else "a Redis server (REDIS_URL or 127.0.0.1:6379)"
    if need == "chromium":
        return None if os.path.exists(CHROMIUM) else CHROMIUM
    return None if shutil.which(need) else f"{need} (apt-get install {need})"


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in folder.rglob("*")
        if path.is_file()
    }


@pytest.mark.parametrize("name", BENCHES)
def test_bench_runs_small(name, redis_server_url, redis_url):
    bench = BENCHES[name]
    missing = [why for need in bench.needs if (why := _missing(need, redis_server_url))]
    if missing:
        if os.environ.get("FREELUNCH_REQUIRE_BENCH_TOOLS") == "1":
            pytest.fail(f"bench/{bench.script} needs {'; '.join(missing)}, and FREELUNCH_REQUIRE_BENCH_TOOLS=1")
        pytest.skip(f"bench/{bench.script} needs {'; '.join(missing)}")
    tag = f"smoke_{uuid.uuid4().hex[:12]}"
    # A short path, not tmp_path: Chromium's socket in it must fit in 108 bytes (bench/page.py)
    tmp = Path(tempfile.mkdtemp(prefix="bench-smoke-"))
    try:
        _run(BENCHES[name], tag, tmp, redis_url)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _run(bench: Bench, tag: str, tmp: Path, redis_url: str) -> None:
    env = {
        **os.environ,
        "TMPDIR": str(tmp),
        "BENCH_DATABASE_TAG": tag,
        # this run's Redis database; bench/imagenet.py takes a database of its own on the same server
        "REDIS_URL": redis_url,
        "PYTHONUNBUFFERED": "1",
    }
    docs = _files(DOCS)
    run = subprocess.run(
        [sys.executable, str(BENCH / bench.script), *bench.args],
        cwd=bench.cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = f"stdout:\n{run.stdout[-3000:]}\nstderr:\n{run.stderr[-3000:]}"
    assert run.returncode == 0, output
    last = run.stdout.strip().splitlines()[-1].split()
    assert [pair.partition("=")[0] for pair in last] == list(bench.figures), output
    assert all(pair.partition("=")[2] for pair in last), output
    if "postgres" in bench.needs:
        assert _postgres("SELECT datname FROM pg_database WHERE datname LIKE %s", f"%{tag}") == []
    assert sorted(str(path.relative_to(tmp)) for path in tmp.rglob("*")) == []
    assert _files(DOCS) == docs


def test_seeding_votes_without_an_instance_folder_leaves_nothing_behind(tmp_path):
    """bench/seed_votes.py's seed, called without an instance folder (a script of one's own; bench/quality.py gives
    its own), makes a temporary one for the app and removes it once the batch is written."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-smoke-"))
    try:
        script = (
            f"import sys; sys.path.insert(0, {str(BENCH)!r}); import seed_votes; "
            f"print(seed_votes.seed({'sqlite:///' + str(tmp_path / 'votes.db')!r}, 288, 2))"
        )
        run = subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "TMPDIR": str(tmp)},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0 and run.stdout.strip() == "1", run.stderr[-3000:]
        assert sorted(str(path.relative_to(tmp)) for path in tmp.rglob("*")) == []
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
