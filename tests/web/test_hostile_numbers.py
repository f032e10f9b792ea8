"""Numbers and text no parser expects: Unicode digits (``?page=²``), exponents (``1e400``), thirty digits, NaN,
keys url_for keeps for itself, bytes that are not UTF-8, lone surrogates. Every one is a 4xx, a form error or an
import's row error: never a 500 and never a crashed job (issue 18)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rq import Queue
from rq.registry import FailedJobRegistry
from support import csrf_token, form_classes, upload

from freelunch.models import Assignment, Image, ImageClass, Membership
from freelunch.parsing import PlainDecimalField, plain_decimal, whole_number
from freelunch.tenancy import DASHBOARD_BLUEPRINTS

ODD_NUMBERS = [
    "²",
    "٣",
    "１",
    "1e400",
    "-1",
    "0",
    "1" * 30,
    "NaN",
    "sNaN",
    "Infinity",
    "1.5",
    " 7",
    "",
    "\x00",
    "%FF",  # (a lone surrogate cannot be sent in a URL: werkzeug decodes bad bytes to U+FFFD)
]
QUERY_KEYS = [
    "page",
    "sort",
    "q",
    "state",
    "dataset",
    "dataset_id",
    "batch_id",
    "decision",
    "worker",
    "pageno",
    "version",
    "class",
    "role",
    "show",
    "row",
    "kind",
    "next",
    "_external",
    "_anchor",
    "_method",
    "_scheme",
]


def test_only_ascii_digits_make_a_number():
    assert whole_number("42") == 42 and whole_number("²") is None and whole_number("٣") is None
    assert whole_number("9" * 30) is None and whole_number("0", 1, low=1) == 1
    assert plain_decimal("0.25") is not None and plain_decimal("1e400") is None and plain_decimal("sNaN") is None
    assert plain_decimal("1" * 30) is None
    assert plain_decimal("-3") == -3 and str(plain_decimal("-0.00")) == "0.00"  # a range then refuses "-3", in words


def _own_ids(campaign) -> dict:
    return {
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


def _get_routes(app, own: dict) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in DASHBOARD_BLUEPRINTS or "GET" not in rule.methods:
            continue
        if set(rule.arguments) <= own.keys():
            urls.append(rule.build({k: own[k] for k in rule.arguments}, append_unknown=False)[1])
    return sorted(set(urls))


query_values = st.one_of(st.sampled_from(ODD_NUMBERS), st.text(max_size=8))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_dashboard_page_takes_any_query_without_a_500(app, client, campaign, data):
    if not hasattr(app, "_hostile_routes"):
        app._hostile_routes = _get_routes(app, _own_ids(campaign))
        assert len(app._hostile_routes) > 20 and "/batches/" in app._hostile_routes
    url = data.draw(st.sampled_from(app._hostile_routes), label="url")
    query = data.draw(
        st.lists(st.tuples(st.sampled_from(QUERY_KEYS) | st.text(max_size=6), query_values), max_size=4),
        label="query",
    )
    htmx = data.draw(st.booleans(), label="htmx")
    response = client.get(url, query_string=query, headers={"HX-Request": "true"} if htmx else {})
    assert response.status_code < 500, (url, query, htmx)


@pytest.mark.parametrize(
    "url, query",
    [
        ("/batches/", {"page": "²"}),
        ("/batches/", {"dataset": "²"}),
        ("/batches/new", {"dataset_id": "²"}),
        ("/batches/new/classes", {"dataset_id": "²"}),
        ("/datasets/{dataset_id}/classes", {"dataset_id": "1", "_external": "1", "q": "x"}),
        ("/batches/{batch_id}/hits/{hit_id}/preview", {"pageno": "²"}),
        ("/batches/", {"_method": "²", "sort": "name"}),  # url_for's own keywords, in the sort and page links
        ("/review/batches/{batch_id}/assignments", {"_external": "1", "batch_id": "2"}),
    ],
)
def test_the_reported_queries_are_4xx_or_pages(app, client, campaign, url, query):
    response = client.get(url.format(**_own_ids(campaign)), query_string=query, headers={"HX-Request": "true"})
    assert response.status_code < 500


def test_every_dashboard_form_with_odd_numbers_is_a_form_error_not_a_500(app, client, campaign):
    own = _own_ids(campaign)
    token = csrf_token(client)
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] not in DASHBOARD_BLUEPRINTS or "POST" not in rule.methods:
            continue
        if not set(rule.arguments) <= own.keys() or rule.endpoint == "auth.logout":
            continue
        url = rule.build({k: own[k] for k in rule.arguments}, append_unknown=False)[1]
        for odd in ("²", "1e400", "1" * 30, "sNaN", "1e-400"):
            fields = ("reward", "amount", "row", "dataset_id", "min_control_accuracy", "min_completeness", "more")
            response = client.post(url, data={"csrf_token": token, "name": "x", **{f: odd for f in fields}})
            assert response.status_code < 500, f"POST {url} {odd!r}: {response.status_code}"
            checked += 1
    assert checked > 20


def test_a_plain_decimal_field_keeps_what_was_typed_and_refuses_it():
    from flask_wtf import FlaskForm
    from werkzeug.datastructures import MultiDict

    class Form(FlaskForm):
        class Meta:
            csrf = False

        reward = PlainDecimalField(places=2)

    from flask import Flask

    with Flask(__name__).test_request_context():
        form = Form(formdata=MultiDict({"reward": "1" * 30}))
        assert not form.validate() and "plain number" in form.reward.errors[0]
        assert form.reward._value() == "1" * 30  # shown again as typed, not rounded into a crash


@pytest.mark.parametrize("text", ["abc", "1,5", "²", "", "-3"])
def test_text_that_is_no_number_is_one_error_in_a_requesters_words_on_every_form(app, text):
    """The walk: "abc" in a number field said "Not a valid integer value." and, under it, the range the number must be
    in (its validators found no number). Every number field of every form of the app now says one thing (left empty,
    at most one: what the field asks for, or nothing when it may be empty)."""
    from werkzeug.datastructures import MultiDict
    from wtforms import DecimalField, FloatField, IntegerField

    checked = 0
    with app.test_request_context(method="POST"):
        for form_class in form_classes(app):
            names = [
                name
                for name, field in form_class(formdata=None, meta={"csrf": False})._fields.items()
                if isinstance(field, IntegerField | FloatField | DecimalField)
            ]
            if not names:
                continue
            form = form_class(formdata=MultiDict({n: text for n in names}), meta={"csrf": False})
            for field in form:
                if getattr(field, "choices", ()) is None:
                    field.choices = []  # set by the view
            form.validate()
            for name in names:
                errors = form[name].errors
                assert len(errors) <= 1 if text == "" else len(errors) == 1, (form_class.__name__, name, errors)
                assert not any(word in error for error in errors for word in ("integer", "float", "decimal")), errors
                checked += 1
    assert checked >= 20


# --- import parsers: row errors, never a crashed job -------------------------------------------------------------


odd_text = st.one_of(st.sampled_from(["\ud800", "n\udcff01", "tench\x00", "²", "é"]), st.text(max_size=6))


def _manifest(rows: list[tuple[str, str]], raw: bytes) -> bytes:
    lines = ["image_id,url,class,width,height"] + [
        f"{key},http://example.org/{n}.jpg,{cls},64,48" for n, (key, cls) in enumerate(rows)
    ]  # sizes given: nothing is fetched
    return "\n".join(lines).encode("utf-8", "surrogatepass") + b"\n" + raw


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(odd_text, odd_text), min_size=1, max_size=3), raw=st.binary(max_size=40))
def test_image_manifests_with_bad_bytes_or_surrogates_never_crash_a_job(
    app, client, requester, run_jobs, redis_client, rows, raw
):
    response = upload(client, requester, "images", {"images": ("m.csv", _manifest(rows, raw + b"\xff\xfe,\x80\n"))})
    assert response.status_code < 500
    run_jobs()
    assert not FailedJobRegistry(queue=Queue("bulk", connection=redis_client)).get_job_ids()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=odd_text, name=odd_text, as_json=st.booleans())
def test_class_files_with_surrogates_never_crash_a_job(
    app, client, requester, run_jobs, redis_client, key, name, as_json
):
    if as_json:
        body = json.dumps([{"wnid": key, "synset": [name], "gloss": name}]).encode()  # \ud800 escaped, as JSON allows
        upload(client, requester, "classes", {"classes": ("c.json", body)})
    else:
        body = f"key,names\n{key},{name}\n".encode("utf-8", "surrogatepass")
        upload(client, requester, "classes", {"classes": ("c.csv", body)})
    run_jobs()
    assert not FailedJobRegistry(queue=Queue("bulk", connection=redis_client)).get_job_ids()
    assert client.get(f"/datasets/{requester.id}").status_code == 200


def test_a_lone_surrogate_in_a_class_key_or_a_non_utf8_manifest_line_is_a_row_error(
    app, client, requester, run_jobs, redis_client
):
    body = json.dumps([{"wnid": "n\ud80001", "synset": ["bad"], "gloss": ""}, {"wnid": "n02", "synset": ["dog"]}])
    upload(client, requester, "classes", {"classes": ("c.json", body.encode())})
    manifest = b"image_id,url,class,width,height\nn02/a,http://example.org/a.jpg,n02,64,48\n"
    manifest += b"n02/\xff,http://example.org/b.jpg,n02,64,48\n"
    upload(client, requester, "images", {"images": ("m.csv", manifest)})
    run_jobs()
    assert not FailedJobRegistry(queue=Queue("bulk", connection=redis_client)).get_job_ids()
    assert [c.key for c in ImageClass.select()] == ["n02"]
    assert "n02/\udcff" not in {i.key for i in Image.select()}
    assert "not valid text" in client.get(f"/datasets/{requester.id}").get_data(as_text=True)


def test_a_nul_in_the_address_is_a_400_on_every_engine(client, campaign):
    for url in (f"/datasets/{campaign.batch.dataset_id}?q=%00", "/batches/?state=a%00b"):
        response = client.get(url)
        assert response.status_code == 400 and "NUL character" in response.get_data(as_text=True)
