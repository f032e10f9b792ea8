"""Property tests of the ingest validator and endpoint: any input is a batch or a clear 4xx, never a 500."""

from __future__ import annotations

import json
import time

import pytest
from factories import make_assignment
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from freelunch.services.ingest.validate import MAX_BYTES, MAX_EVENTS, Invalid, parse

NOW = int(time.time() * 1000)


def encode(value) -> bytes:
    return json.dumps(value).encode()  # unlike orjson, the standard library also writes integers past 64 bits


text = st.text(st.characters(blacklist_categories=("Cs",)))  # JSON cannot carry lone surrogates
coordinate = st.floats(min_value=0, max_value=1)
moment = st.integers(min_value=NOW - 3_600_000, max_value=NOW + 3_600_000)
index = st.integers(min_value=0, max_value=47)
valid_event = st.one_of(
    st.fixed_dictionaries({"type": st.just("move"), "i": index, "x": coordinate, "y": coordinate, "time": moment}),
    st.fixed_dictionaries({"type": st.sampled_from(["enter", "leave"]), "i": index, "time": moment}),
    st.fixed_dictionaries(
        {
            "type": st.just("click"),
            "i": index,
            "x": coordinate,
            "y": coordinate,
            "time": moment,
            "selected": st.booleans(),
        }
    ),
    st.fixed_dictionaries({"type": st.just("key"), "i": index, "time": moment, "selected": st.booleans()}),
)
valid_batch = st.fixed_dictionaries(
    {
        "token": st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=60),
        "page": st.integers(1, 1000),
        "tab": st.integers(0, 2**31 - 1),
        "seq": st.integers(0, 10_000_000),
        "events": st.lists(valid_event, min_size=1, max_size=80),
    }
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | text,
    lambda children: st.lists(children) | st.dictionaries(text, children),
    max_leaves=40,
)
hostile = st.sampled_from([-1, 2, 1e308, -1e308, 10**30, "", "0", None, True, [], {}, "\u0000", "x" * 1000])


@given(valid_batch)
def test_valid_batches_pass_and_keep_their_events(data):
    result = parse(encode(data), NOW)
    assert (result.token, result.page, result.tab, result.seq, result.n_events) == (
        data["token"],
        data["page"],
        data["tab"],
        data["seq"],
        len(data["events"]),
    )
    assert json.loads(result.events_json) == data["events"]


@given(st.binary(max_size=2000))
def test_any_bytes_are_a_batch_or_invalid(body):
    try:
        parse(body, NOW)
    except Invalid as error:
        assert str(error)


@given(json_values)
def test_any_json_is_a_batch_or_invalid(value):
    try:
        parse(encode(value), NOW)
    except Invalid as error:
        assert str(error)


@given(valid_batch, st.data())
def test_one_hostile_value_anywhere_in_an_event_is_refused(data, draw):
    event = draw.draw(st.sampled_from(data["events"]))
    key = draw.draw(st.sampled_from(sorted(event)))
    bad = draw.draw(hostile.filter(lambda v: _is_bad(key, v)))
    event[key] = bad
    with pytest.raises(Invalid):
        parse(encode(data), NOW)


def _is_bad(key: str, value) -> bool:
    """Whether ``value`` must be refused in ``event[key]`` (some hostile values are fine in some places)."""
    if key == "selected":
        return type(value) is not bool
    if key in ("x", "y"):
        return type(value) not in (int, float) or not -0.05 <= value <= 1.05
    if key == "i":
        return type(value) is not int or not 0 <= value < 10_000
    return True  # type, time: no hostile value is an event type or a plausible epoch-ms time


@given(valid_batch, st.sampled_from(["token", "page", "tab", "seq", "events"]), hostile)
def test_hostile_top_level_values_are_refused(data, key, bad):
    data[key] = bad
    acceptable = {
        "token": type(bad) is str and bad != "",  # the signature check refuses it later
        "page": type(bad) is int and 1 <= bad <= 1000,
        "tab": type(bad) is int and 0 <= bad <= 2**31 - 1,
        "seq": type(bad) is int and 0 <= bad <= 10_000_000,
        "events": False,
    }[key]
    if acceptable:
        assert parse(encode(data), NOW)
    else:
        with pytest.raises(Invalid):
            parse(encode(data), NOW)


def test_caps_on_events_and_nesting():
    event = {"type": "enter", "i": 0, "time": NOW}
    with pytest.raises(Invalid):
        parse(encode({"token": "t", "page": 1, "seq": 0, "events": [event] * (MAX_EVENTS + 1)}), NOW)
    with pytest.raises(Invalid):
        parse(b"[" * 100_000 + b"]" * 100_000, NOW)  # deep nesting: refused by the parser, not a RecursionError


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60, deadline=None)
@given(
    body=st.one_of(st.binary(max_size=3000), json_values.map(encode), valid_batch.map(encode)),
    content_type=st.sampled_from(["application/json", "text/plain;charset=UTF-8", "application/octet-stream"]),
)
def test_the_endpoint_answers_4xx_never_500(app, body, content_type):
    # Random tokens fail the signature check (403); everything else is 400 or 413.
    response = app.test_client().post("/api/ingest", data=body, content_type=content_type)
    assert response.status_code in (400, 403, 413), response.get_data(as_text=True)
    assert set(response.get_json()) == {"error", "message"}


@pytest.fixture
def token(app):
    return make_assignment(app)[1]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=40, deadline=None)
@given(data=valid_batch, extra=st.integers(min_value=0, max_value=3 * MAX_BYTES))
def test_valid_token_with_any_batch_is_202_or_4xx(app, token, data, extra):
    app.config["INGEST_RATE_LIMIT"] = 10**9
    data["token"] = token
    body = encode(data)
    if extra:  # an unknown key, padded to around the body cap
        body = body[:-1] + b',"pad":"' + b"x" * extra + b'"}'
    response = app.test_client().post("/api/ingest", data=body, content_type="text/plain")
    expected = 413 if len(body) > MAX_BYTES else 400 if extra else 202
    assert response.status_code == expected, response.get_data(as_text=True)
