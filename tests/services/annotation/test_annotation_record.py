"""The per-image record's field table (services/annotation/record.py) against all that reads a record's fields."""

import re
from pathlib import Path

import pytest
from factories import make_batch, summary_for
from support import open_assignment, post_page

from freelunch.models import ImageRecord
from freelunch.services.annotation import record
from freelunch.services.exports import writers
from freelunch.services.exports.seed import seed_records

ROOT = Path(__file__).resolve().parents[3]
# Record fields the records CSV shows another way, or not at all.
CSV_SHOWS = {"imagePosition": ("imageX", "imageY"), "selectedRecord": ("clickPoints",), "hoveredRecord": ()}


def test_the_model_has_a_column_for_every_field_and_no_field_column_outside_the_table():
    checked_against_the_page = {"id", "page", "image", "grid_index", "load_status", "replaces"}
    assert set(ImageRecord._meta.fields) == set(record.COLUMNS) | checked_against_the_page


def test_the_tracker_sends_every_field_and_docs_describe_it():
    tracker = (ROOT / "static" / "tracker.js").read_text()
    docs = (ROOT / "docs" / "export.md").read_text()
    for field in record.FIELDS:
        assert re.search(rf"\b{field.key}\b", tracker), field.key
        assert f"`{field.key}`" in docs, field.key


def test_every_field_is_a_records_csv_column_or_shown_another_way():
    for field in record.FIELDS:
        shown = CSV_SHOWS.get(field.key, (field.key,))
        assert set(shown) <= set(writers.RECORD_COLUMNS), field.key


def test_what_the_tracker_sent_is_what_the_export_holds_field_by_field(app, client, make_account):
    _, org = make_account("requester@example.org", "Lab")
    batch = make_batch(app, org)
    hit = batch.hits.get()
    token, _ = open_assignment(client, hit)
    sent = summary_for(hit, 1)
    sent["images"][1]["selectedRecord"] = [{"time": 1_700_000_000_600, "input": "keyboard"}]
    assert post_page(client, token, 1, sent).status_code == 200
    with app.app_context():
        exported = list(seed_records(batch))
    keys = list(exported[0])
    assert keys[: keys.index("worker_id")] == (
        ["imageID", *(f.key for f in record.BEFORE_TRACKING), "mouseTracking", *(f.key for f in record.AFTER_TRACKING)]
    )
    for image, out in zip(sent["images"], exported):
        for field in record.FIELDS:
            assert out[field.key] == image[field.key], field.key


@pytest.mark.parametrize("key, bad", [(f.key, "not this") for f in record.FIELDS if f.key != "selected"])
def test_each_checked_field_refuses_a_bad_value_by_its_name(key, bad):
    with pytest.raises(record.BadValue, match=key):
        record.checked({key: bad})
