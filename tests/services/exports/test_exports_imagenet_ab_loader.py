"""The ``imagenet-ab`` export read back by the NFL paper's published loader, re-implemented rule by rule, over a
batch annotated through the product's own paths (survey link, tracker batches to /api/ingest flushed by the
ingest job, page summaries to /annotate/submit): what the loader yields must be what the workers recorded.

Where each rule comes from:

- [loader] naver-ai/NeglectedFreeLunch, imagenet_dataloader.ipynb (``load_points``,
  ``get_imagenet_selected_point_info``, ``check_in_point``): the file of the image
  ``<root>/Data/CLS-LOC/train/<wnid>/<name>.JPEG`` is
  ``<xml_root>/Annotations/<fragments[-4]>/train_enriched/<fragments[-2]>/<name up to its first dot>.xml``; no file:
  None (the image is trained without a point); in it, every ``metadata`` child of the root whose ``selected`` text
  is exactly ``True`` gives one point, ``float`` of its first ``selectedRecord``'s ``x`` and ``y``; points are
  fractions of the image's width and height (``check_in_point`` compares them with crop corners divided by the
  image's size), averaged.
- [tool] naver-ai/imagenet-annotation-tool, README.md ("What are being recorded?"): a record's fields and units:
  ``hoveredRecord`` entries ``{action: enter|leave, time}``, ``mouseTracking`` ``{x, y, time}`` with x, y fractions of
  the image, times epoch milliseconds, ``imageWidth``/``imageHeight`` pixels on the page, ``worker_id``.
- [files] the released files (coallaoh/ImageNet-AB on the Hugging Face hub, e.g. ``train_xml/n02490219/
  n02490219_6099``): the root is ``annotation`` with ``folder`` (the wnid) and ``filename`` (the name without
  extension); each ``metadata`` holds its fields as child elements, lists as repeated elements with one child per
  key, ``estimateTime`` in milliseconds, and a field with no value written as the text ``None``
  (``<hoveredRecord>None</hoveredRecord>`` beside ``<hoveredCount>0</hoveredCount>``); its dataset card's record
  adds ``assignment_id`` and ``page_idx``.
"""

from __future__ import annotations

import calendar
import os
import time
import xml.etree.ElementTree as ET
import zipfile

import numpy as np
from factories import summary_for
from support import made_file, open_assignment, post_ingest, post_page

from freelunch.models import Assignment, Batch, Hit, HitPage, Image
from freelunch.services import demo
from freelunch.services.exports.imagenet_ab import member_name

# --- the published loader's parsing, rule by rule ----------------------------------------------------------


def load_points(xml_file: str) -> np.ndarray:
    """[loader] ``load_points``: one (x, y) per metadata whose selected is "True", from its first selectedRecord."""
    points = []
    for obj in ET.parse(xml_file).getroot().findall("metadata"):
        if obj.find("selected").text == "True":
            selected_point = obj.find("selectedRecord")
            points.append([float(selected_point.find("x").text), float(selected_point.find("y").text)])
    return np.array(points)


def selected_point_info(image_path: str, xml_root: str) -> np.ndarray | None:
    """[loader] ``get_imagenet_selected_point_info``: the points of the image at ``image_path``, or None."""
    fragments = image_path.split("/")
    file_name_no_extension = fragments[-1].split(".")[0]
    source_xml = os.path.join(
        xml_root, "Annotations", fragments[-4], "train_enriched", fragments[-2], file_name_no_extension + ".xml"
    )
    if not os.path.isfile(source_xml):
        return None
    return load_points(source_xml)


def entries(metadata: ET.Element, name: str, keys: tuple[str, ...]) -> list[dict] | None:
    """[files] a list field: its repeated elements, each child a key; None where the file says ``None``."""
    found = metadata.findall(name)
    if len(found) == 1 and len(found[0]) == 0 and found[0].text == "None":
        return None
    return [{key: element.find(key).text for key in keys} for element in found]


def record_of(metadata: ET.Element) -> dict:
    """[tool] + [files] every field of one metadata element, typed as the release's readers type them."""
    tracking = entries(metadata, "mouseTracking", ("x", "y", "time"))
    hovers = entries(metadata, "hoveredRecord", ("action", "time"))
    clicks = entries(metadata, "selectedRecord", ("x", "y", "time"))
    position = entries(metadata, "imagePosition", ("x", "y"))
    return {
        "imageID": metadata.find("imageID").text,
        "worker_id": metadata.find("worker_id").text,
        "assignment_id": metadata.find("assignment_id").text,
        "hit_id": metadata.find("hit_id").text,
        "hit_submit_time": int(metadata.find("hit_submit_time").text),
        "page_idx": int(metadata.find("page_idx").text),
        "selected": metadata.find("selected").text,
        "selectedCount": int(metadata.find("selectedCount").text),
        "selectedRecord": None if clicks is None else [(float(c["x"]), float(c["y"]), int(c["time"])) for c in clicks],
        "hoveredCount": int(metadata.find("hoveredCount").text),
        "hoveredRecord": None if hovers is None else [(h["action"], int(h["time"])) for h in hovers],
        "mouseTracking": None
        if tracking is None
        else [(float(m["x"]), float(m["y"]), int(m["time"])) for m in tracking],
        "estimateTime": int(metadata.find("estimateTime").text),
        "imageWidth": int(metadata.find("imageWidth").text),
        "imageHeight": int(metadata.find("imageHeight").text),
        "imagePosition": None if position is None else [{k: int(v) for k, v in p.items()} for p in position],
    }


# --- a batch annotated through the product: tracker batches and page summaries -----------------------------


def annotate(client, hit: Hit, worker: str, n: int, start: int) -> tuple[object, dict]:
    """Worker number ``n`` does every page of the HIT: hovers and moves over every image and selects images 0 and 1
    by clicks at points of their own; but worker 1 selects image 1 by keyboard, then clicks it off and on again, and
    worker 2 selects it by keyboard alone, the pointer never over it. Returns the assignment and what was recorded,
    per (pageno, grid index)."""
    token, assignment = open_assignment(client, hit, worker)
    recorded: dict[tuple[int, int], dict] = {}
    for page in HitPage.select().where(HitPage.hit == hit).order_by(HitPage.pageno):
        summary = summary_for(hit, page.pageno)
        t0 = start + 60_000 * page.pageno
        summary["startedAt"], summary["endedAt"] = t0, t0 + 50_000
        events = []
        for image in summary["images"]:
            i = image["i"]
            at = t0 + 1000 * (i + 1)
            # moves out of time order within a batch, and one outside the page's time: the export sorts by time and
            # keeps the page's own
            moves = [
                {
                    "type": "move",
                    "i": i,
                    "x": round(0.013 * (k + 1) + 0.01 * n, 6),
                    "y": 1 - 0.021 * k,
                    "time": at + 17 * k,
                }
                for k in range(5)
            ]
            moves[1], moves[2] = moves[2], moves[1]
            image["hoveredRecord"] = [{"action": "enter", "time": at}, {"action": "leave", "time": at + 700}]
            image["hoveredCount"] = 1
            image["estimateTime"] = 300 + 10 * n + i
            image["selected"], image["selectedCount"], image["selectedRecord"] = False, 0, []
            if i in (0, 1):
                click = {
                    "x": round(0.1 * (n + 1) + 0.01 * i, 6),
                    "y": round(0.9 - 0.1 * n - 0.01 * i, 6),
                    "time": at + 400,
                }
                image["selected"], image["selectedCount"] = True, 1
                image["selectedRecord"] = [click]
                keyboard = {"time": at + 300, "input": "keyboard"}
                if n == 1 and i == 1:  # keyboard first, a click off (records nothing), a click on
                    image["selectedCount"] = 2
                    image["selectedRecord"] = [keyboard, click]
                if n == 2 and i == 1:  # keyboard alone: no point, no hover, no move
                    image["selectedRecord"] = [keyboard]
                    image["hoveredRecord"], image["hoveredCount"], image["estimateTime"] = [], 0, 0
                    moves = []
            events += [{"type": "enter", "i": i, "time": at}] if image["hoveredCount"] else []
            events += moves
            events += [
                {"type": "click", "i": i, "x": c["x"], "y": c["y"], "time": c["time"], "selected": True}
                for c in image["selectedRecord"]
                if "x" in c
            ]
            events += [{"type": "leave", "i": i, "time": at + 700}] if image["hoveredCount"] else []
            recorded[(page.pageno, i)] = {
                "image": image,
                "moves": sorted(((m["x"], m["y"], m["time"]) for m in moves), key=lambda m: m[2]),
            }
        events.append({"type": "move", "i": 0, "x": 0.5, "y": 0.5, "time": t0 + 50_001})  # after Submit
        half = len(events) // 2
        for seq, part in enumerate((events[half:], events[:half])):  # sent out of order: stored by seq
            body = {"token": token, "page": page.pageno, "tab": 0, "seq": seq, "events": part}
            assert post_ingest(client, body).status_code == 202
        summary["chunks"] = 2
        response = post_page(client, token, page.pageno, summary)
        assert response.status_code in (200, 204), response.get_data(as_text=True)
    return assignment, recorded


def test_the_published_loader_reads_what_the_workers_recorded(app, client, run_jobs, tmp_path):
    with app.app_context():
        batch = Batch.get_by_id(demo.ensure_demo()["batch_id"])
    hit = Hit.select().where(Hit.batch == batch).order_by(Hit.id).first()
    start = int(time.time() * 1000) - 3_600_000
    done = [annotate(client, hit, worker, n, start) for n, worker in enumerate(("ALICE", "BOB", "CAROL"))]
    run_jobs("ingest")  # the tracker's batches flushed into pointer chunks

    _, path = made_file(app, run_jobs, batch, "imagenet-ab")
    with zipfile.ZipFile(path) as archive:
        archive.extractall(tmp_path / "xml")
    xml_root = str(tmp_path / "xml")

    pages = list(HitPage.select().where(HitPage.hit == hit).order_by(HitPage.pageno))
    keys = {i.id: i.key for i in Image.select().where(Image.id.in_([i for p in pages for i in p.image_ids]))}
    shown: dict[tuple[str, str], list[tuple[int, int]]] = {}  # (class key, image key) -> [(pageno, grid index)]
    for p in pages:
        for n, image_id in enumerate(p.image_ids):
            shown.setdefault((p.image_class.key, keys[image_id]), []).append((p.pageno, n))
    yes = {k for k, places in shown.items() if any(n in (0, 1) for _, n in places)}
    assert yes, shown
    written: list[dict] = []

    for (class_key, image_key), places in shown.items():
        image_path = f"/data/ILSVRC/Data/CLS-LOC/train/{class_key}/{image_key.rsplit('/', 1)[-1]}.JPEG"
        points = selected_point_info(image_path, xml_root)
        if (class_key, image_key) not in yes:
            assert points is None, image_key  # not decided yes: no file, trained without a point
            continue
        # In the file, a record per worker per page that showed the image, pages in submission order (worker by
        # worker); a point per record selected with a click: its first click's.
        expected = [
            (assignment, pageno, recorded[pageno, n]) for assignment, recorded in done for pageno, n in sorted(places)
        ]
        clicks_of = [[c for c in r["image"]["selectedRecord"] if "x" in c] for _, _, r in expected]
        first_clicks = [
            clicks[0] for (_, _, r), clicks in zip(expected, clicks_of) if r["image"]["selected"] and clicks
        ]
        assert points.tolist() == [[c["x"], c["y"]] for c in first_clicks], image_key

        root = ET.parse(os.path.join(xml_root, member_name(class_key, image_key))).getroot()
        assert root.find("folder").text == class_key
        assert root.find("filename").text == image_key.rsplit("/", 1)[-1].split(".")[0]
        records = [record_of(m) for m in root.findall("metadata")]
        written += records
        assert len(records) == len(expected)
        for got, (assignment, pageno, r) in zip(records, expected):
            image = r["image"]
            assert got["imageID"] == image_key
            assert got["worker_id"] == assignment.worker_id
            # [files]: the record's assignment, HIT (ours: survey links), HIT submitted (epoch s), page from 0
            assert (got["assignment_id"], got["hit_id"]) == (str(assignment.id), hit.key)
            submitted = Assignment.get_by_id(assignment.id).completed_at
            assert got["hit_submit_time"] == calendar.timegm(submitted.utctimetuple())
            assert got["page_idx"] == pageno - 1
            clicks = [(c["x"], c["y"], c["time"]) for c in image["selectedRecord"] if "x" in c]
            # a selection without a click has no point: "keyboard", which the loader passes over as it does "False"
            assert got["selected"] == ("False" if not image["selected"] else "True" if clicks else "keyboard")
            assert got["selectedCount"] == image["selectedCount"]
            assert got["selectedRecord"] == (clicks or None)
            assert got["hoveredCount"] == image["hoveredCount"]
            hovers = [(h["action"], h["time"]) for h in image["hoveredRecord"]]
            assert got["hoveredRecord"] == (hovers or None)  # [files]: no hovers is None
            assert got["mouseTracking"] == (r["moves"] or None)
            assert got["imagePosition"] == [image["imagePosition"]]
            assert got["estimateTime"] == image["estimateTime"]
            assert (got["imageWidth"], got["imageHeight"]) == (image["imageWidth"], image["imageHeight"])
    # the cases above were met: a keyboard-only selection (no point, nothing hovered or tracked), and one after
    # a keyboard selection with a click
    assert any(r["selected"] == "keyboard" and r["hoveredRecord"] is r["mouseTracking"] is None for r in written)
    assert any(r["selected"] == "True" and r["selectedCount"] == 2 for r in written)
