"""Helpers that drive the test client or a browser page, imported as ``from support import ...``
(builders of test data: factories.py).

(Not in conftest.py: tests/browser has a conftest of its own, and two modules
named ``conftest`` cannot both be imported by name.)
"""

from __future__ import annotations

import importlib
import io
import json
import re
from urllib.parse import parse_qs, urlsplit

from freelunch.models import Assignment, Export, HitPage, Image
from freelunch.services.accounts.identity import anonymous_worker_id, token_claims
from freelunch.services.annotation import image_refs

HTMX = {"HX-Request": "true"}
RULE_FORM = {"threshold": "0.7", "min_annotations": "1", "min_accuracy": "0.5"}  # a label rule as the form posts it


def tampered(signed: str) -> str:
    """``signed`` (an itsdangerous token or key) with one character of its signature changed, which always changes the
    signature's bytes: the last character of a base64 signature carries padding bits too, so changing it (or the
    last two to a fixed pair, which may be what they were) can leave the same signature."""
    k = len(signed) - 2
    return signed[:k] + ("A" if signed[k] != "A" else "B") + signed[k + 1 :]


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
    """A survey link as a browser with a mouse opens it (``pointer=fine``: see annotate/device_check.html)."""
    params = {"hitDatasetName": hit.batch_id, "imageNetHitId": hit.key, "workerId": worker, "pointer": "fine", **extra}
    return "/annotate?" + "&".join(f"{k}={v}" for k, v in params.items())


def open_assignment(client, hit, worker="W1", **extra) -> tuple[str, Assignment]:
    """Open a survey link; returns (token, assignment)."""
    response = client.get(survey_url(hit, worker, **extra))
    assert response.status_code == 303, response.get_data(as_text=True)
    token = parse_qs(urlsplit(response.headers["Location"]).query)["token"][0]
    with client.application.app_context():
        worker_id = anonymous_worker_id(hit.organization_id, worker)
    return token, Assignment.get(Assignment.worker_id == worker_id, Assignment.hit == hit)


def as_the_page_sends(token, pageno, summary):
    """``summary`` with each ``imageID`` given as a dataset key (as tests write them, e.g. factories.summary_for)
    replaced by the ref the page shows for that image (services/annotation/image_refs.py); other values as
    they are. A copy: the caller's summary keeps its keys. Needs an app context."""
    claims = token_claims(token) if isinstance(token, str) else None
    if not isinstance(summary, dict) or not isinstance(summary.get("images"), list) or claims is None:
        return summary
    page = (
        HitPage.select(HitPage.image_ids, HitPage.spare_image_ids)
        .join(Assignment, on=(Assignment.hit == HitPage.hit))
        .where(Assignment.id == claims.assignment_id, HitPage.pageno == pageno)
        .first()
    )
    if page is None:
        return summary
    ids = list(page.image_ids) + list(page.spare_image_ids)
    refs = image_refs.refs(image_refs.scope(pageno, assignment_id=claims.assignment_id), ids)
    by_key = {key: refs[i] for i, key in Image.select(Image.id, Image.key).where(Image.id.in_(ids)).tuples()}
    sent = dict(summary, images=[dict(r) if isinstance(r, dict) else r for r in summary["images"]])
    for image in sent["images"]:
        if isinstance(image, dict) and isinstance(image.get("imageID"), str) and image["imageID"] in by_key:
            image["imageID"] = by_key[image["imageID"]]
    return sent


def post_page(client, token, pageno, summary, htmx=True):
    """Submit a page's summary as its page does: image ids given as dataset keys are sent as the page's refs."""
    headers = {"HX-Request": "true"} if htmx else {}
    with client.application.app_context():
        sent = as_the_page_sends(token, pageno, summary) if isinstance(pageno, int) else summary
    return client.post(
        "/annotate/submit", data={"token": token, "pageno": pageno, "summary": json.dumps(sent)}, headers=headers
    )


def post_ingest(client, body, content_type: str = "application/json"):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/api/ingest", data=data, content_type=content_type)


def builder_data(client, dataset, **overrides):
    """The batch builder's form as a requester fills it in; an override of None leaves the field out."""
    data = {
        "csrf_token": csrf_token(client),
        "name": "Round 1",
        "dataset_id": dataset.id,
        "pages_per_hit": 3,
        "images_per_page": 12,
        "positives_per_page": 2,
        "negatives_per_page": 1,
        "assignments_per_hit": 3,
        "versions": ["POINTER_ORIGINAL", "NO_POINTER_NO_ORIGINAL"],
        "reward": "0.25",
        "title": "Click every image of the class",
        "description": "Ten pages",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def settled(page) -> None:
    """Wait until htmx has swapped and settled: it pushes the URL before the swap, and gives swapped-in controls
    their hx- behaviour only as the swap settles, so a control used before that does nothing."""
    from playwright.sync_api import expect

    expect(page.locator(".htmx-request, .htmx-swapping, .htmx-settling")).to_have_count(0)


def log_in(page, base: str, email: str) -> None:
    """Log in through the login form of a real browser page (the session cookie is the page context's)."""
    page.goto(base + "/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", "password123")
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def database_dump() -> str:
    """Every row of every table as text, on SQLite and PostgreSQL alike: what a check for a stored secret reads."""
    from freelunch.models import MODELS

    return "\n".join(f"{model._meta.table_name} {row}" for model in MODELS for row in model.select().tuples())


def start_export(client, batch, kind, **headers):
    """Make the label rule RULE_FORM the batch's labels of record (Results tab), then start an export from the
    Exports tab."""
    client.post(
        f"/review/batches/{batch.id}/labels-of-record/rule", data={"csrf_token": csrf_token(client), **RULE_FORM}
    )
    return client.post(
        f"/review/batches/{batch.id}/exports/{kind}",
        data={"csrf_token": csrf_token(client), **RULE_FORM},
        headers=headers,
    )


def finished_file(client, run_jobs, batch, kind) -> tuple[Export, str]:
    """Start an export, watch its row, run the job, download the file: (its Export, its text)."""
    assert start_export(client, batch, kind).status_code == 302
    export = Export.select().order_by(Export.id.desc()).get()
    assert export.state == "queued" and export.job_id
    assert "in the queue" in client.get(f"/review/exports/{export.id}", headers=HTMX).get_data(as_text=True)
    run_jobs()
    export = Export.get_by_id(export.id)
    assert export.state == "done", export.error
    row = client.get(f"/review/exports/{export.id}", headers=HTMX).get_data(as_text=True)
    # Done: it no longer follows its job; the list around it reloads when a job could put it out of date (one
    # request for every row, review/_exports.html), not the row itself.
    assert f"/review/exports/{export.id}/download" in row and "job-finished" not in row and "hx-get" not in row
    response = client.get(f"/review/exports/{export.id}/download")
    assert response.status_code == 200
    assert f"-export-{export.id}." in response.headers["Content-Disposition"]  # its name: files.download_name
    return export, response.get_data(as_text=True)


def made_file(app, run_jobs, batch, kind):
    """Start an export as the service does (the batch's labels of record as they are), run its job: (its Export, the
    file's path)."""
    from freelunch.services.exports import files as exports

    with app.app_context():
        export = exports.start(batch, kind)
    run_jobs()
    export = Export.get_by_id(export.id)
    assert export.state == "done", export.error
    with app.app_context():
        return export, exports.file_path(export)


def upload(client, dataset, kind: str, files: dict, htmx=True, **fields):
    """Upload files to a dataset's import form (classes or images)."""
    data = {"csrf_token": csrf_token(client), **fields}
    data.update({name: (io.BytesIO(body), filename) for name, (filename, body) in files.items()})
    return client.post(
        f"/datasets/{dataset.id}/imports/{kind}",
        data=data,
        content_type="multipart/form-data",
        headers=HTMX if htmx else {},
    )


def job_id(html: str) -> str:
    return re.search(r'id="job-([0-9a-f-]+)"', html).group(1)


def form_classes(app) -> set[type]:
    """Every form class of the app: each blueprint's forms imported, wherever its package keeps them."""
    from freelunch.web.forms import Form

    for blueprint in app.blueprints.values():
        for module in ("forms", "assignment_forms"):
            try:
                importlib.import_module(f"{blueprint.import_name}.{module}")
            except ModuleNotFoundError:
                pass

    def subclasses(base) -> list[type]:
        return [form for sub in base.__subclasses__() for form in (sub, *subclasses(sub))]

    return {form for form in subclasses(Form) if form.__module__.startswith("freelunch.")}
