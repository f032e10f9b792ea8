"""A tenant's text reaches the RQ monitor (rq-dashboard) as text: it never runs as script in a site admin's browser."""

from __future__ import annotations

import io

import pytest
from rq import Queue
from support import csrf_token, login

from freelunch.models import Dataset
from freelunch.services.accounts.users import create_user

pytestmark = pytest.mark.browser

PAYLOAD = '<img src=x onerror="window.__xss=(window.__xss||0)+1">'


def _admin_login(page, live_server):
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", "root@example.org")
    page.fill("input[name=password]", "password123")
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def test_job_page_shows_a_hostile_file_name_and_class_as_text(
    app, client, live_server, page, make_account, redis_client, run_jobs
):
    _, org = make_account("tenant@example.org", "Tenant")
    with app.app_context():
        dataset = Dataset.create(organization=org, name="Theirs")
        create_user("root@example.org", "password123", is_admin=True)
    login(client, "tenant@example.org")
    # A class file named like markup, whose one row is markup too: the import reports it as a row error.
    response = client.post(
        f"/datasets/{dataset.id}/imports/classes",
        data={
            "csrf_token": csrf_token(client),
            "classes": (io.BytesIO(f"key,names,description\n{PAYLOAD}{'x' * 200},a,b\n".encode()), f"{PAYLOAD}.csv"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code in (200, 302)
    imported = Queue("bulk", connection=redis_client).jobs[0]
    assert "<" not in imported.description and "<" not in str(imported.meta), "user text in description or meta"
    # A job from elsewhere whose description, meta and traceback all carry the payload: the monitor must not run it.
    hostile = Queue("default", connection=redis_client).enqueue(
        "builtins.int", PAYLOAD, description=PAYLOAD, meta={"title": PAYLOAD}
    )
    run_jobs()  # int('<img ...>') fails: the traceback quotes it
    console = []
    page.on("console", lambda message: console.append(message.text))

    _admin_login(page, live_server)
    for job in (imported, hostile):
        page.goto(f"{live_server}/admin/rq/0/view/job/{job.id}")
        page.wait_for_selector("#job-data .description-scroll")  # the monitor's own scripts ran and drew the job
        page.wait_for_timeout(300)  # time for a broken image's onerror, had it been markup
        assert page.evaluate("window.__xss") is None, "the payload ran"
    assert PAYLOAD in page.inner_text("#job-data"), "the payload shows as text"
    assert not page.query_selector("#job-data img")
    page.goto(f"{live_server}/admin/rq/0/view/jobs")
    page.wait_for_timeout(1500)
    assert page.evaluate("window.__xss") is None
