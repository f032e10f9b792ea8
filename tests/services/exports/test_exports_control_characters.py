"""What a reader of each export gets back is what is stored: image ids, class keys and class names with tabs, line
breaks (CR, LF, CR LF), U+2028, C1 controls, markup and spreadsheet formulas, read with the standard readers
(xml.etree as the NFL paper's loader reads ImageNet-AB, the csv module, JSON Lines a line at a time).

Imports refuse control characters in ids and keys now (tests/services/imports/test_imports_control_characters.py),
but rows imported before could hold them: these are written into the database directly. Before, ImageNet-AB's
XML held a carriage return as it is, which every XML parser reads as a line feed, and a character XML cannot hold
at all (U+0001) made a file no parser reads."""

import csv
import io
import json
import xml.etree.ElementTree as ET
import zipfile

from freelunch.db import database
from freelunch.models import Export, Image, ImageClass, ImageRecord
from freelunch.services import spreadsheet
from freelunch.services.exports import files as exports
from freelunch.services.exports.imagenet_ab import _stem, member_name
from freelunch.services.exports.kinds import KINDS
from freelunch.services.review import labels, of_record

# campaign image (tests/helpers/factories.py) -> the key stored for it
KEYS = {
    "a1": "n01/a\r1",
    "a2": "n01/a\r\n2",
    "ap": "n01/a\np",
    "an": "n01/\tan\t",
    "a3": " n01/a3 ",
    "a4": "n01/a4\u2028\u2029\x85\x7f",
    "b1": "n02/<b1> & \"q\" 's' ]]> &#13;",
    "b2": "=n02/b2",
    "b3": "\rn02/b3",
    "bp": "-n02/bp\r",
}
CLASS_KEYS = {"A": "n01", "B": "n0\r2"}
CLASS_NAMES = {"A": ["fish", "tench"], "B": ["chien\r\nde garde", "=dog", "tab\there"]}


def _store(campaign) -> None:
    for name, key in KEYS.items():
        Image.update(key=key).where(Image.id == campaign.images[name].id).execute()
    for name, key in CLASS_KEYS.items():
        ImageClass.update(key=key, names=CLASS_NAMES[name]).where(ImageClass.id == campaign.classes[name].id).execute()


def _written(campaign, kind: str) -> tuple[dict, bytes | None]:
    """(the job's result, the file) of the kind, every image shown decided yes (threshold 0)."""
    batch = campaign.batch
    of_record.choose_rule(batch, labels.Rule(0.0, 1, 0.0))
    export = Export.create(
        organization=batch.organization_id, batch=batch, kind=kind, params=exports.params(KINDS[kind], batch)
    )
    result = exports.run(export.id)
    export = Export.get_by_id(export.id)
    return result, exports.file_path(export).read_bytes() if export.state == "done" else None


def _recorded_keys(campaign) -> set[str]:
    """The keys of the images the batch's records show."""
    return {
        key
        for (key,) in ImageRecord.select(Image.key)
        .join(Image, on=ImageRecord.image == Image.id)
        .where(ImageRecord.load_status != "dropped")
        .tuples()
    }


def test_imagenet_ab_reads_back_the_stored_ids_and_keys(app, campaign):
    with app.app_context(), database.connection_context():
        _store(campaign)
        result, data = _written(campaign, "imagenet-ab")
        recorded = _recorded_keys(campaign)
    assert result.get("rows"), result
    read: dict[str, tuple[str, int]] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            if not name.endswith(".xml"):
                continue
            root = ET.parse(io.BytesIO(archive.read(name))).getroot()  # the loader's parser
            ids = {metadata.find("imageID").text for metadata in root.findall("metadata")}
            assert len(ids) == 1, ids
            image_id, folder = ids.pop(), root.find("folder").text
            assert root.find("filename").text == _stem(image_id)
            assert name == member_name(folder, image_id)
            read[image_id] = (folder, len(root.findall("metadata")))
    assert set(read) == recorded and set(KEYS.values()) <= recorded
    for key in KEYS.values():
        assert read[key][0] == CLASS_KEYS["A" if key.lstrip("\r=-\t ").startswith("n01") else "B"], repr(key)


def test_imagenet_ab_refuses_a_character_no_xml_can_hold_and_says_which(app, campaign):
    with app.app_context(), database.connection_context():
        Image.update(key="n01/a\x011").where(Image.id == campaign.images["a1"].id).execute()
        result, data = _written(campaign, "imagenet-ab")
        export = Export.select().order_by(Export.id.desc()).get()
    assert data is None and export.state == "failed"
    assert result["error"] == export.error
    assert '"n01/a\\u00011"' in export.error and "U+0001" in export.error and "JSON Lines" in export.error


def test_seed_json_lines_read_back_the_stored_ids_keys_and_names(app, campaign):
    with app.app_context(), database.connection_context():
        _store(campaign)
        result, data = _written(campaign, "seed-jsonl")
        recorded = _recorded_keys(campaign)
    lines = data.decode().split("\n")
    assert lines.pop() == ""
    # A text file's lines (universal newlines) are the same lines: no raw CR or LF inside a record.
    assert [line.rstrip("\n") for line in io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")] == lines
    records = [json.loads(line) for line in lines]
    assert len(records) == result["rows"]
    assert {r["imageID"] for r in records if r["loadStatus"] != "dropped"} == recorded
    assert set(KEYS.values()) <= {r["imageID"] for r in records}
    assert {(r["classKey"], tuple(r["classNames"])) for r in records} == {
        (CLASS_KEYS[c], tuple(CLASS_NAMES[c])) for c in "AB"
    }


def test_records_and_labels_csv_read_back_the_stored_ids_neutralised_as_documented(app, campaign):
    """The csv module reads back each cell as stored, but a text starting like a formula (=, +, -, @, a tab, a
    carriage return) starts with a quote (services/spreadsheet.py, docs/export.md)."""
    with app.app_context(), database.connection_context():
        _store(campaign)
        records_result, records_csv = _written(campaign, "records-csv")
        labels_result, labels_csv = _written(campaign, "labels-csv")
        recorded = _recorded_keys(campaign)
    expected = {spreadsheet.neutral(key) for key in recorded}
    assert {"'=n02/b2", "'\rn02/b3", "'-n02/bp\r"} <= expected  # neutralised, and otherwise as stored

    rows = list(csv.DictReader(io.StringIO(records_csv.decode(), newline="")))
    assert len(rows) == records_result["rows"]
    assert {r["imageID"] for r in rows if r["loadStatus"] != "dropped"} == expected
    assert {r["classKey"] for r in rows} == set(CLASS_KEYS.values())

    rows = list(csv.DictReader(io.StringIO(labels_csv.decode(), newline="")))
    assert len(rows) == labels_result["rows"]
    assert {r["image_id"] for r in rows} == expected
    assert {(r["class_key"], r["class_names"]) for r in rows} == {
        (CLASS_KEYS[c], "; ".join(CLASS_NAMES[c])) for c in "AB"
    }
