"""Hostile input finds no 500: ids past 64 bits, deep JSON, odd summaries, control characters; media needs a signed URL;
the SQLite file is private."""

from __future__ import annotations

import io
import json
import os
import re
import stat
import time

import pytest
from factories import make_batch, summary_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rq import Queue
from rq.registry import FailedJobRegistry
from support import csrf_token, login, open_assignment, post_page, upload

from freelunch import storage
from freelunch.models import Dataset, ImageClass
from freelunch.web.errors import IdConverter

HUGE = 2**63


def test_ids_past_64_bits_are_4xx_everywhere(app, client, make_account):
    make_account("me@example.org")
    login(client, "me@example.org")
    token = csrf_token(client)
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("rq_dashboard"):
            continue
        ints = [name for name in rule.arguments if isinstance(rule._converters.get(name), IdConverter)]
        if not ints:
            continue
        url = rule.build({**{k: "x" for k in rule.arguments}, **{k: HUGE for k in ints}}, append_unknown=False)[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method, data={"csrf_token": token})
            assert response.status_code in (404, 405), f"{method} {url}: {response.status_code}"
            checked += 1
    assert checked > 20


def test_a_huge_id_in_a_form_or_query_is_a_400_not_a_500(app, client, make_account):
    make_account("me@example.org")
    login(client, "me@example.org")
    response = client.post(
        "/batches/new",
        data={
            "csrf_token": csrf_token(client),
            "name": "x",
            "dataset_id": HUGE,
            "pages_per_hit": 1,
            "images_per_page": 1,
            "assignments_per_hit": 1,
        },
    )
    assert response.status_code < 500
    assert client.get(f"/batches/new?dataset_id={HUGE}").status_code < 500


@pytest.fixture
def worker_page(app, client, make_account):
    _, org = make_account("requester@example.org", "Lab")
    batch = make_batch(app, org, hits=1)
    hit = batch.hits.get()
    token, _ = open_assignment(client, hit, "AWORKER1")
    return hit, token


def _deep(n: int):
    value = []
    for _ in range(n):
        value = [value]
    return value


def test_deep_json_and_odd_replacements_in_a_summary_are_400s(client, worker_page):
    hit, token = worker_page
    deep = client.post("/annotate/submit", data={"token": token, "pageno": 1, "summary": "[" * 100_000 + "]" * 100_000})
    assert deep.status_code == 400
    for odd in (
        {"imageID": {"a": 1}},
        {"imageID": [1]},
        {"imageID": None},
        {"imagePosition": [1, 2]},
        {"hoveredRecord": _deep(50)},
        {"selectedRecord": [{"x": {"y": 1}}]},
    ):
        summary = summary_for(hit, 1)
        summary["images"][0].update(loadStatus="replacement", **odd) if "imageID" in odd else summary["images"][
            0
        ].update(odd)
        assert post_page(client, token, 1, summary).status_code == 400, odd


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    field=st.sampled_from(
        [
            "startedAt",
            "endedAt",
            "chunks",
            "tab",
            "images",
            "i",
            "imageID",
            "loadStatus",
            "imagePosition",
            "hoveredRecord",
            "selectedRecord",
            "estimateTime",
            "selected",
        ]
    ),
    value=json_values,
    pageno=st.one_of(st.integers(min_value=-2, max_value=2**64), st.text(max_size=5)),
)
def test_worker_submit_never_answers_500(client, worker_page, field, value, pageno):
    hit, token = worker_page
    summary = summary_for(hit, 1)
    target = summary if field in ("startedAt", "endedAt", "chunks", "tab", "images") else summary["images"][0]
    target[field] = value
    response = client.post("/annotate/submit", data={"token": token, "pageno": pageno, "summary": json.dumps(summary)})
    assert response.status_code < 500, (field, value, pageno)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(
        json_values.map(json.dumps),
        st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
        st.just("[" * 5000 + "]" * 5000),
    )
)
def test_class_imports_never_crash_a_job(app, client, requester, run_jobs, redis_client, body):
    response = upload(client, requester, "classes", {"classes": ("c.json", body.encode())})
    assert response.status_code < 500
    run_jobs()

    assert not FailedJobRegistry(queue=Queue("bulk", connection=redis_client)).get_job_ids()


@pytest.mark.parametrize("name, message", [("tench\x00", "control character"), ("x" * 10_000, "longer than 200")])
def test_import_refuses_nul_bytes_and_endless_class_names(app, client, requester, run_jobs, name, message):
    upload(
        client,
        requester,
        "classes",
        {"classes": ("c.csv", f"key,names,description\nn01,{name},fish\nn02,dog,a dog\n".encode())},
    )
    run_jobs()
    assert [c.key for c in ImageClass.select()] == ["n02"]
    assert message in client.get(f"/datasets/{requester.id}").get_data(as_text=True)


def test_media_needs_a_fresh_signed_url(app, client, requester):
    with app.app_context():
        path = storage.save(f"datasets/{requester.id}/abc.png", b"\x89PNG fake")
        with app.test_request_context():
            signed = storage.url_for_path(path)
    assert client.get(signed).status_code == 200
    assert client.get(f"/media/{path}").status_code == 404, "a guessed path alone is not enough"
    assert client.get(signed.replace("s=", "s=x")).status_code == 404
    issued = int(signed.split("t=")[1].split("&")[0])
    assert client.get(signed.replace(f"t={issued}", f"t={issued + 3600}")).status_code == 404
    old = time.time() + storage.PRESIGNED_SECONDS + 3600
    import unittest.mock

    with unittest.mock.patch.object(storage.time, "time", return_value=old):
        assert client.get(signed).status_code == 404, "expired"


@pytest.mark.sqlite_only
def test_the_sqlite_file_is_private(app, app_config):
    url = app_config["DATABASE_URL"]
    mode = stat.S_IMODE(os.stat(url.removeprefix("sqlite:///")).st_mode)
    assert mode == 0o600, oct(mode)


def _dashboard_posts(app, campaign):
    """The URL of every dashboard (and auth, admin) form posted to, on the campaign's own objects."""
    from freelunch.models import Assignment, Membership
    from freelunch.tenancy import DASHBOARD_BLUEPRINTS

    own = {
        "dataset_id": campaign.batch.dataset_id,
        "batch_id": campaign.batch.id,
        "class_id": next(iter(campaign.classes.values())).id,
        "image_id": next(iter(campaign.images.values())).id,
        "hit_id": campaign.hits[0].id,
        "assignment_id": Assignment.select().first().id,
        "membership_id": Membership.select().first().id,
        "kind": "labels-csv",
        "pageno": 1,
    }
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in DASHBOARD_BLUEPRINTS | {"auth", "admin"} or "POST" not in rule.methods:
            continue
        if not set(rule.arguments) <= own.keys() or rule.endpoint in ("auth.logout", "auth.switch"):
            continue
        yield rule.build({k: own[k] for k in rule.arguments}, append_unknown=False)[1]


def test_every_dashboard_form_posted_empty_or_with_huge_numbers_is_never_a_500(app, client, campaign):
    """Forms missing fields (a description, say) or carrying ids past 64 bits get form errors, not 500s."""
    token = csrf_token(client)
    checked = 0
    for url in _dashboard_posts(app, campaign):
        for data in ({}, {"dataset_id": HUGE, "class_ids": HUGE, "batch_id": HUGE, "amount": HUGE, "role": "owner"}):
            response = client.post(url, data={"csrf_token": token, **data})
            assert response.status_code < 500, f"POST {url} {data}: {response.status_code}"
            checked += 1
    assert checked > 20


def _form_field_names(app) -> set[str]:
    from flask_wtf import FlaskForm

    import freelunch.web.forms  # noqa: F401  (every form class is imported by create_app already)

    forms, found = list(FlaskForm.__subclasses__()), set()
    while forms:
        form = forms.pop()
        forms.extend(form.__subclasses__())
        with app.test_request_context():
            found |= set(form(formdata=None, meta={"csrf": False})._fields)
    return found - {"csrf_token"}


@pytest.mark.parametrize("shape", ["object", "null", "nested list", "numbers", "file parts"])
def test_every_dashboard_form_posted_as_json_of_any_shape_or_with_files_is_never_a_500(app, client, campaign, shape):
    """Flask-WTF hands a field whatever the request holds under its name (a JSON object, null, a file part posted
    as the email): every field of every form gets such a value at once; the answer is a form error or a 400."""
    names = _form_field_names(app)
    assert {"email", "reward", "daily_limit", "images", "class_ids"} <= names
    token = csrf_token(client)
    checked = 0
    for url in _dashboard_posts(app, campaign):
        if shape == "file parts":
            files = {name: (io.BytesIO(b"1"), "1.csv") for name in names}
            response = client.post(url, data={"csrf_token": token, **files}, content_type="multipart/form-data")
        else:
            value = {"object": {"a": 1}, "null": None, "nested list": [[1]], "numbers": [1, 2.5, True]}[shape]
            response = client.post(url, json={name: value for name in names}, headers={"X-CSRFToken": token})
        assert response.status_code < 500, f"POST {url} ({shape}): {response.status_code}"
        checked += 1
    assert checked > 20


@pytest.mark.parametrize("field", ["pages_per_hit", "images_per_page", "assignments_per_hit", "positives_per_page"])
@pytest.mark.parametrize("value", [str(HUGE), "1000000000000", "-5"])
def test_the_builder_never_prices_a_number_it_refused(client, campaign, field, value):
    """The builder's cost line and pay estimate read the numbers as typed: an assignments_per_hit of 10**12 asked
    for a list of 10**11 MTurk HITs (a MemoryError, or seconds of work for a smaller one) before the form said no."""
    from support import builder_data

    response = client.post("/batches/", data=builder_data(client, campaign.batch.dataset, **{field: value}))
    assert response.status_code == 422 and "Give a whole number of" in response.get_data(as_text=True)


def test_a_nul_in_any_posted_field_is_a_400_and_nothing_is_stored(app, client, campaign):
    """PostgreSQL text cannot hold NUL (psycopg2 refuses it with a ValueError, a 500) and SQLite stores a name that
    shows as nothing: a NUL in a posted field is refused as it is in the address, before any form or view reads it."""
    from freelunch.models import Dataset

    names = _form_field_names(app) | {"worker_id", "decision", "show", "action"}
    token = csrf_token(client)
    datasets = Dataset.select().count()
    checked = 0
    for url in _dashboard_posts(app, campaign):
        response = client.post(url, data={"csrf_token": token, **{name: "W1AAAAAAAA\x00" for name in names}})
        assert response.status_code == 400, f"POST {url}: {response.status_code}"
        checked += 1
    assert checked > 20
    named = client.post("/datasets/", data={"csrf_token": token, "name": "Fish\x00"})
    assert named.status_code == 400 and "NUL" in named.get_data(as_text=True)
    as_json = client.post("/datasets/", json={"name": "Fish\x00"}, headers={"X-CSRFToken": token})
    assert as_json.status_code == 400
    assert Dataset.select().count() == datasets


def test_direction_overrides_in_user_text_cannot_reverse_the_page_around_it(app, client, requester):
    """A right-to-left override (U+202E) in a name ran on past it: "Dataset Fish<RLO>gpj created. Import its
    classes" showed the page's own words reversed, and a class name did so in the worker's instructions. Pages
    leave the explicit direction marks out of every value they show (a form's input keeps the name as typed: its
    text is set apart from the page's); right-to-left letters need none."""
    name = "שלום Fish\u202egpj.exe \u2066x\u202a"  # right-to-left letters need no marks, and keep their own
    response = client.post(
        f"/datasets/{requester.id}", data={"csrf_token": csrf_token(client), "name": name}, follow_redirects=True
    )
    assert response.status_code == 200
    assert Dataset.get_by_id(requester.id).name == name  # kept as typed: only its display is neutralised
    for page in (response, client.get("/datasets/"), client.get(f"/datasets/{requester.id}")):
        html = re.sub(r"<input [^>]*>", "", page.get_data(as_text=True))
        assert "שלום Fishgpj.exe x" in html and not re.search("[\u202a-\u202e\u2066-\u2069]", html)
