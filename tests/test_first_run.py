"""A newcomer's first minutes: the landing page, where each kind of user lands, and a log quiet enough to read."""

import logging

import pytest
from burst_worker import BurstWorker
from rq import Queue, SimpleWorker
from support import csrf_token, login

from freelunch.services.accounts.users import create_user
from workers import app_worker


@pytest.fixture
def app_config(app_config):
    """No request counts as slow here, however loaded the machine; the slow case builds an app of its own."""
    return {**app_config, "REQUEST_LOG_SLOW_MS": 10**9}


@pytest.fixture
def lines():
    """What freelunch's request and job logs write (they do not propagate to the root logger)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    loggers = [logging.getLogger("freelunch.requests"), logging.getLogger("freelunch.jobs")]
    for logger in loggers:
        logger.addHandler(handler)
    yield records
    for logger in loggers:
        logger.removeHandler(handler)


def test_a_visitor_gets_a_landing_page_with_the_login(client):
    response = client.get("/")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'action="/login"' in html and 'name="password"' in html
    assert "Please log in to access this page" not in html and "grid of candidate images" in html


def test_a_member_lands_on_their_organization_and_an_admin_without_one_on_the_admin_area(app, client, make_account):
    make_account("req@example.org", "Lab")
    with app.app_context():
        create_user("root@example.org", "password123", is_admin=True)
    assert login(client, "req@example.org").headers["Location"] == "/"
    assert client.get("/").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    assert login(client, "root@example.org").headers["Location"] == "/"
    assert client.get("/").headers["Location"] == "/admin/"


def test_requests_are_logged_only_when_they_fail_or_are_slow_and_never_with_a_token(app, client, make_account, lines):
    _, org = make_account("req@example.org", "Lab")
    login(client, "req@example.org")
    lines.clear()
    assert client.get("/batches/").status_code == 200
    assert lines == []
    client.get("/batches/999999")
    client.get("/lab/not-a-real-token-abc")
    assert [r.getMessage().rsplit(" ", 2)[0] for r in lines] == ["GET /batches/999999 404", "GET /lab/… 404"]
    from freelunch import create_app  # the threshold is read when the app is built: a new app logs every request

    slow = create_app({**app.config, "REQUEST_LOG_SLOW_MS": 0}).test_client()
    lines.clear()
    slow.get("/login")
    assert (
        len(lines) == 1
        and lines[0].getMessage().startswith("GET /login 200")
        and lines[0].getMessage().endswith("(slow)")
    )


def nothing_to_do() -> int:
    return 0


def built_something() -> dict:
    return {"summary": "3 HITs built."}


class QuietAppWorker(app_worker.AppWorker):
    """AppWorker without the fork (so the test sees its log) nor the command listener
    (tests/helpers/burst_worker.py)."""

    execute_job = SimpleWorker.execute_job
    subscribe = BurstWorker.subscribe
    unsubscribe = BurstWorker.unsubscribe


def test_the_worker_says_one_line_per_job_that_did_something(app, redis_client, lines, monkeypatch):
    monkeypatch.setattr(app_worker, "create_app", lambda: app)
    queue = Queue("default", connection=redis_client)
    for _ in range(3):
        queue.enqueue(nothing_to_do)  # the idle cron sweep
    queue.enqueue(built_something)
    QuietAppWorker([queue], connection=redis_client).work(burst=True)
    messages = [r.getMessage() for r in lines]
    assert len(messages) == 1 and messages[0].startswith("test_first_run.built_something: 3 HITs built. (")
