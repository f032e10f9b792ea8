"""The ``imagenet-ab`` export, read back by a loader written to the ImageNet-AB release's description:
XML files at ``Annotations/CLS-LOC/train_enriched/<wnid>/<image>.xml``, each ``<metadata>`` with
``selected`` ("True" for a selected image) and ``selectedRecord`` with ``x`` and ``y``."""

import io
import os
import xml.etree.ElementTree as ET
import zipfile

import numpy as np
from factories import summary_for
from support import login, made_file, open_assignment, post_page

from freelunch.models import Batch, Hit, HitPage, Image
from freelunch.services import demo
from freelunch.services.exports.imagenet_ab import RECORD_MEMBER, member_name

# --- the loader, as the release describes it ------------------------------------------


def load_points(xml_file):
    """The selected points of one image: every worker's selectedRecord x, y where selected is True."""
    root = ET.parse(xml_file).getroot()
    points = []
    for obj in root.findall("metadata"):
        if obj.find("selected").text == "True":
            selected_point = obj.find("selectedRecord")
            points.append([float(selected_point.find("x").text), float(selected_point.find("y").text)])
    return np.array(points)


def selected_point_info(image_path, xml_root):
    """image_path: <root>/Data/CLS-LOC/train/<wnid>/<image>.JPEG -> its XML under train_enriched, or None."""
    fragments = image_path.split("/")
    stem = fragments[-1].split(".")[0]
    source_xml = os.path.join(xml_root, "Annotations", fragments[-4], "train_enriched", fragments[-2], stem + ".xml")
    if not os.path.isfile(source_xml):
        return None
    return load_points(source_xml)


# --- the demo batch, annotated through the worker endpoints -------------------------------


def annotate(client, hit, worker, keyboard_first=False):
    """Every page of the HIT: the first image selected (by keyboard on page 1 if asked), the second not."""
    token, assignment = open_assignment(client, hit, worker)
    for page in HitPage.select().where(HitPage.hit == hit).order_by(HitPage.pageno):
        summary = summary_for(hit, page.pageno)
        if keyboard_first and page.pageno == 1:
            summary["images"][0]["selectedRecord"] = [{"time": 1_700_000_000_500, "input": "keyboard"}]
        response = post_page(client, token, page.pageno, summary)
        assert response.status_code in (200, 204), response.get_data(as_text=True)
    return assignment


def test_the_demo_batch_exports_as_imagenet_ab_and_the_release_loader_reads_it(app, client, run_jobs, tmp_path):
    with app.app_context():
        batch = Batch.get_by_id(demo.ensure_demo()["batch_id"])
    login(client, demo.EMAIL, demo.PASSWORD)
    hit = Hit.select().where(Hit.batch == batch).order_by(Hit.id).first()
    for worker, keyboard in (("ALICE", False), ("BOB", False), ("CAROL", True)):
        annotate(client, hit, worker, keyboard)

    export, path = made_file(app, run_jobs, batch, "imagenet-ab")
    assert client.get(f"/review/exports/{export.id}/download").headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path / "xml")

    pages = list(HitPage.select().where(HitPage.hit == hit).order_by(HitPage.pageno))
    keys = {i.id: i.key for i in Image.select().where(Image.id.in_([i for p in pages for i in p.image_ids]))}
    # The build shuffles: an image may be first on one page and shown again on another of its class.
    shown = {}  # (class key, image key) -> [(pageno, grid index)]
    for p in pages:
        for n, image_id in enumerate(p.image_ids):
            shown.setdefault((p.image_class.key, keys[image_id]), []).append((p.pageno, n))
    firsts = {k for k, places in shown.items() if any(n == 0 for _, n in places)}
    # every worker selected the first image of each page (a vote is selected if any record was): decided yes;
    # nobody selected any other image: those have no file
    note = (tmp_path / "xml" / RECORD_MEMBER).read_text()
    assert note.startswith("Images decided yes by the batch's labels of record, the selection frequency rule: ")
    names.remove(RECORD_MEMBER)
    assert sorted(names) == sorted(member_name(c, i) for c, i in firsts)
    assert export.rows == len(names)
    for class_key, image_key in firsts:
        image_path = f"/data/ILSVRC/Data/CLS-LOC/train/{class_key}/{image_key.rsplit('/', 1)[-1]}.JPEG"
        points = selected_point_info(image_path, str(tmp_path / "xml"))
        places = shown[(class_key, image_key)]
        # CAROL selected page 1's first image with the keyboard: no point for her, and no crash
        expected = sum((2 if pageno == 1 else 3) for pageno, n in places if n == 0)
        assert points.shape == (expected, 2), (class_key, image_key, places, points)
        assert np.allclose(points, [0.5, 0.25])
        metadata = ET.parse(tmp_path / "xml" / member_name(class_key, image_key)).getroot().findall("metadata")
        assert len(metadata) == 3 * len(places)  # one per worker per page that showed it
        assert len({m.find("worker_id").text for m in metadata}) == 3
        assert all(m.find("hoveredRecord/action").text == "enter" for m in metadata)
        keyboard = [m for m in metadata if m.find("selected").text == "keyboard"]
        if (1, 0) in places:
            assert len(keyboard) == 1 and keyboard[0].find("selectedRecord").text == "None"
            assert keyboard[0].find("keyboardSelectedRecord/time").text == "1700000000500"
        else:
            assert keyboard == []
    for class_key, image_key in set(shown) - firsts:
        path = f"/data/ILSVRC/Data/CLS-LOC/train/{class_key}/{image_key.rsplit('/', 1)[-1]}.JPEG"
        assert selected_point_info(path, str(tmp_path / "xml")) is None


def test_member_names_stay_inside_their_folder():
    assert (
        member_name("n01440764", "n01440764/n01440764_105")
        == "Annotations/CLS-LOC/train_enriched/n01440764/n01440764_105.xml"
    )
    assert member_name("n01", "photo.v2.jpg") == "Annotations/CLS-LOC/train_enriched/n01/photo.xml"
    escaped = member_name("..", "a/..")
    assert "/../" not in escaped and escaped.count("/") == 4


def test_buffered_metadata_makes_the_same_archive_however_small_the_buffer(app, campaign, monkeypatch):
    """Records are gathered in memory and written as a run sorted by name a buffer at a time, and the runs merged:
    the archive is the same whether every record is its own run, read a few bytes at a time, or all are one."""
    from freelunch.services.exports import imagenet_ab

    rule = {"labels_of_record": "rule", "threshold": 0.5, "min_annotations": 1, "min_accuracy": 0.0}

    def archive(buffered: int, window: int = imagenet_ab._Runs.WINDOW) -> dict[str, bytes]:
        monkeypatch.setattr(imagenet_ab, "BUFFERED_RECORDS", buffered)
        monkeypatch.setattr(imagenet_ab._Runs, "WINDOW", window)
        out = io.BytesIO()
        files = imagenet_ab.write(campaign.batch, out, rule, lambda fraction, message="": None)
        with zipfile.ZipFile(out) as zipped:
            members = {name: zipped.read(name) for name in zipped.namelist()}
        assert files == len(members) - 1  # the labels_of_record note
        return members

    one_by_one = archive(1)
    assert len(one_by_one) > 2
    assert one_by_one == archive(10**6) == archive(3, window=5)  # pieces read across many windows
    ap = one_by_one[member_name("n01", "n01/ap")].decode()
    assert ap.count("<folder>n01</folder>") == 1 and ap.count("<metadata>") == 4  # shown on four submitted pages
