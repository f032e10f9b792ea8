"""Helpers that drive the test client, imported as ``from support import ...`` (data builders: factories.py).

(Not in conftest.py: tests/browser has a conftest of its own, and two modules
named ``conftest`` cannot both be imported by name.)
"""
from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

from freelunch.models import Assignment
from freelunch.services.accounts.identity import anonymous_worker_id


def csrf_token(client) -> str:
    """The CSRF token of the client's session, as a page would embed it."""
    html = client.get("/login", follow_redirects=True).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def login(client, email: str, password: str = "password123"):
    token = csrf_token(client)
    response = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response


def survey_url(hit, worker="W1", **extra):
    params = {"hitDatasetName": hit.batch_id, "imageNetHitId": hit.key, "workerId": worker, **extra}
    return "/annotate?" + "&".join(f"{k}={v}" for k, v in params.items())


def open_assignment(client, hit, worker="W1", **extra) -> tuple[str, Assignment]:
    """Open a survey link; returns (token, assignment)."""
    response = client.get(survey_url(hit, worker, **extra))
    assert response.status_code == 303, response.get_data(as_text=True)
    token = parse_qs(urlsplit(response.headers["Location"]).query)["token"][0]
    with client.application.app_context():
        worker_id = anonymous_worker_id(hit.organization_id, worker)
    return token, Assignment.get(Assignment.worker_id == worker_id, Assignment.hit == hit)


def post_page(client, token, pageno, summary, htmx=True):
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post("/annotate/submit", data={"token": token, "pageno": pageno, "summary": json.dumps(summary)},
                       headers=headers)


def post_ingest(client, body, content_type: str = "application/json"):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/api/ingest", data=data, content_type=content_type)
