"""Security headers on every response of every blueprint: a walk over the URL map, like the tenancy test."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support import login

from freelunch.services.accounts.users import create_user
from freelunch.web.headers import MTURK_FRAME_HOSTS

PARAMS = {
    "kind": "seed-jsonl",
    "pageno": 1,
    "path": "x.jpg",
    "filename": "app.css",
    "token": "x",
    "job_id": "x",
    "instance_number": 0,
    "queue_name": "default",
    "registry_name": "queued",
    "per_page": 10,
    "order": "asc",
    "page": 1,
}


def _directives(policy: str) -> dict[str, list[str]]:
    parts = (d.split() for d in policy.split(";") if d.strip())
    return {p[0]: p[1:] for p in parts}


def _get_urls(app):
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods:
            values = {name: PARAMS.get(name, 1) for name in rule.arguments}
            yield rule.endpoint, rule.build(values, append_unknown=False)[1]


def test_every_get_route_answers_with_the_security_headers(app, client, make_account):
    with app.app_context():
        create_user("root@example.org", "password123", is_admin=True)
    make_account("root-org@example.org")
    login(client, "root@example.org")
    seen = set()
    for endpoint, url in _get_urls(app):
        response = client.get(url)
        headers = response.headers
        csp = _directives(headers.get("Content-Security-Policy", ""))
        assert csp, f"{url}: no Content-Security-Policy"
        assert "'unsafe-inline'" not in csp["script-src"], f"{url}: inline script allowed"
        assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"]
        assert headers["X-Content-Type-Options"] == "nosniff", url
        assert headers["Referrer-Policy"] in ("same-origin", "no-referrer"), url
        assert "Strict-Transport-Security" not in headers, f"{url}: HSTS on plain HTTP"
        if endpoint.startswith("annotate."):
            assert set(csp["frame-ancestors"]) == set(MTURK_FRAME_HOSTS), url
            assert "X-Frame-Options" not in headers and headers["Referrer-Policy"] == "no-referrer"
        else:
            assert csp["frame-ancestors"] == ["'none'"], f"{url}: frameable"
            assert headers["X-Frame-Options"] == "DENY", url
        if endpoint.startswith("rq_dashboard."):
            # underscore.js templates need eval; still no inline script. (A routing redirect gets the stricter policy.)
            assert "'unsafe-eval'" in csp["script-src"] or response.status_code == 308, url
        else:
            assert "'unsafe-eval'" not in csp["script-src"], url
        seen.add(endpoint.split(".")[0])
    assert {
        "auth",
        "datasets",
        "batches",
        "review",
        "members",
        "admin",
        "annotate",
        "media",
        "rq_dashboard",
        "static",
        "job_progress",
    } <= seen


def test_hsts_when_served_over_https(client):
    response = client.get("/login", base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")


@pytest.mark.parametrize("mode, framed", [("development", True), ("production", False)])
def test_the_local_mturk_stand_in_frames_the_worker_page_in_development_only(app, client, mode, framed):
    app.config.update(MTURK_ENDPOINT_URL="http://127.0.0.1:5001/requester", ENV_MODE=mode)
    csp = _directives(client.get("/annotate?imageNetHitId=nope").headers["Content-Security-Policy"])
    assert ("http://127.0.0.1:5001" in csp["frame-ancestors"]) is framed
    assert "https://www.mturk.com" in csp["form-action"]


def test_the_ingest_fast_path_says_nosniff(client):
    assert client.post("/api/ingest", data=b"{}").headers["X-Content-Type-Options"] == "nosniff"


INLINE_SCRIPT = re.compile(
    r"""\son[a-z]+\s*=|['"]on[a-z]+['"]\s*:|hx-on|<script(?![^>]*\bsrc=)(?![^>]*application/json)"""
)
# Files a browser never runs at our origin: a landing page requesters download for MTurk; the monitor's
# override, whose one inline script carries the nonce.
NOT_SERVED = {"batches/survey_landing.html", "rq_dashboard/base.html"}


def test_no_template_has_inline_script_the_policy_would_block():
    """The CSP refuses inline handlers and scripts: behaviours go in static/app.js, wired by data attributes."""
    root = Path(__file__).resolve().parents[2] / "templates"
    found = [
        f"{path.relative_to(root)}: {match.group(0).strip()}"
        for path in root.rglob("*.html")
        if str(path.relative_to(root)) not in NOT_SERVED
        for match in INLINE_SCRIPT.finditer(path.read_text())
    ]
    assert not found, found
