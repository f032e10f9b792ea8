"""The ``local_mturk`` fixture: a local MTurk (``freelunch.localturk``) on a free loopback port, for over-the-wire
tests.

    def test_publish(app, local_mturk):
        app.config["MTURK_ENDPOINT_URL"] = local_mturk.endpoint_url
        local_mturk.inject(throttle_first=True, drop_creates=1)   # exercise the caller's retries
        ...                                                        # publish through the gateway
        assignment_id = local_mturk.accept(hit_id)                 # a worker accepts, over HTTP
        local_mturk.submit(assignment_id, answer="done")           # and posts to /mturk/externalSubmit
        local_mturk.advance(3 * 24 * 3600)                         # auto-approval passes
        assert local_mturk.store.assignments[assignment_id].status == "Approved"

``store`` is the stand-in's whole state (``freelunch.localturk.store.Store``):
read it under ``store.lock``. The fixture sets dummy AWS credentials in the
environment, so that any boto3 client the code under test builds can sign.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.cookiejar import CookieJar

import boto3
import pytest
from botocore.config import Config

from freelunch.localturk import Store, serve_in_thread
from freelunch.localturk.worker_site import COOKIE


@dataclass
class WorkerPage:
    """What the worker site answered: status, final URL (after redirects) and HTML."""

    status: int
    url: str
    html: str


@dataclass
class LocalMTurk:
    store: Store
    endpoint_url: str

    def client(self, **config):
        """A boto3 MTurk client for the stand-in, with standard retries (as the gateway configures)."""
        retries = config.pop("retries", {"mode": "standard", "max_attempts": 5})
        return boto3.client(
            "mturk",
            region_name="us-east-1",
            endpoint_url=self.endpoint_url,
            aws_access_key_id="local",
            aws_secret_access_key="local",
            config=Config(retries=retries, **config),
        )

    def inject(self, throttle_first: bool = False, drop_creates: int = 0) -> None:
        """Throttle the first call of every operation; perform ``drop_creates`` CreateHIT* calls but drop their
        answers."""
        with self.store.lock:
            self.store.faults.throttle_first = throttle_first
            self.store.faults.drop_creates = drop_creates

    def advance(self, seconds: float) -> None:
        self.store.advance(seconds)

    def deliver_to_sqs(self, sqs) -> None:
        """Send notification events whose transport is SQS to their queue URL through ``sqs`` (moto's, say)."""

        def deliver(notification: dict, message: str) -> None:
            if notification["Transport"] == "SQS":
                sqs.send_message(QueueUrl=notification["Destination"], MessageBody=message)

        self.store.deliver = deliver

    def page(self, path: str, data: dict | None = None, worker_id: str | None = None) -> WorkerPage:
        """GET (or POST ``data`` to) a worker-site path, as the worker ``worker_id``."""
        request = urllib.request.Request(
            self.endpoint_url + path,
            data=urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None,
        )
        if worker_id:
            request.add_header("Cookie", f"{COOKIE}={worker_id}")
        # A cookie the site sets (a generated worker id) is sent on along its redirect, as a browser would.
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        try:
            with opener.open(request, timeout=10) as response:
                return WorkerPage(response.status, response.url, response.read().decode())
        except urllib.error.HTTPError as error:
            return WorkerPage(error.code, error.url, error.read().decode())

    def accept(self, hit_id: str, worker_id: str = "ALOCALWORKER1") -> str:
        """Accept the HIT as ``worker_id`` on the worker site; the AssignmentId MTurk handed out."""
        page = self.page(f"/worker/hits/{hit_id}/accept", {"worker_id": worker_id}, worker_id)
        found = re.search(r"/worker/assignments/([A-Z0-9]+)$", page.url)
        if page.status != 200 or not found:
            raise AssertionError(f"accept refused ({page.status}): {_text(page.html)}")
        return found.group(1)

    def return_assignment(self, assignment_id: str, worker_id: str = "ALOCALWORKER1") -> WorkerPage:
        return self.page(f"/worker/assignments/{assignment_id}/return", {}, worker_id)

    def submit(self, assignment_id: str, as_worker: str | None = None, **fields: str | list[str]) -> WorkerPage:
        """POST a form to /mturk/externalSubmit, as an ExternalQuestion page does, signed in as ``as_worker``
        (by default the assignment's holder, as in that worker's browser)."""
        if as_worker is None and assignment_id in self.store.assignments:
            as_worker = self.store.assignments[assignment_id].worker_id
        return self.page("/mturk/externalSubmit", {"assignmentId": assignment_id, **fields}, as_worker)


def _text(html: str) -> str:
    body = re.sub(r"<style.*?</style>|<[^>]+>", " ", html, flags=re.S)
    return " ".join(body.split())[:300]


@pytest.fixture
def local_mturk(monkeypatch):
    """A fresh local MTurk on a free loopback port; stopped after the test."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "local")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    store = Store()
    server, thread = serve_in_thread(store)
    yield LocalMTurk(store, f"http://127.0.0.1:{server.port}")
    server.shutdown()
    thread.join(timeout=10)
