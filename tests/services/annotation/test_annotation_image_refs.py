"""A worker cannot tell controls from candidates by reading the page: images are named by refs, loaded by refs."""

from __future__ import annotations

import io
import json
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from factories import summary_for
from PIL import Image as PILImage
from support import as_the_page_sends, open_assignment, post_page, tampered

from freelunch import storage
from freelunch.models import Batch, Candidate, Dataset, HitPage, Image, ImageClass, ImageRecord
from freelunch.services.annotation.pages import PREVIEW_ASSIGNMENT
from freelunch.services.batches.hits import build_hits

# Keys that give a control away, stored under paths and file names that do too.
ROLES = {"candidate": "n01440764/n01440764_{n}", "positive": "img_positive{n}", "negative": "n01443537/n01443537_10{n}"}


@pytest.fixture
def batch(app, make_account):
    """One class, candidates and positive and negative controls, every image a stored file named after its key."""
    _, org = make_account("requester@example.org", "Lab")
    with app.app_context():
        dataset = Dataset.create(organization=org, name="Fish data")
        image_class = ImageClass.create(
            organization=org, dataset=dataset, key="n01440764", names=["tench"], description="a fish"
        )
        for role, count in (("candidate", 12), ("positive", 3), ("negative", 3)):
            for n in range(count):
                key = ROLES[role].format(n=n)
                out = io.BytesIO()
                PILImage.new("RGB", (40, 30), (n * 20, 90, len(role) * 20)).save(out, "PNG")
                path = storage.save(f"datasets/{dataset.id}/{role}/{key.replace('/', '_')}.png", out.getvalue())
                image = Image.create(organization=org, dataset=dataset, key=key, storage_path=path)
                Candidate.create(organization=org, image=image, image_class=image_class, role=role)
        batch = Batch.create(
            organization=org,
            dataset=dataset,
            name="Fish",
            pages_per_hit=2,
            images_per_page=6,
            positives_per_page=1,
            negatives_per_page=1,
        )
        build_hits(batch)
        return batch


def names(image: Image) -> list[str]:
    """What would identify an image: its key and each part of it, its stored path, its file name."""
    parts = re.split(r"[/.]", image.storage_path)
    return [image.key, *image.key.split("/"), image.storage_path, *(p for p in parts if len(p) > 6)]


def page_images(hit, pageno: int = 1) -> tuple[HitPage, list[Image]]:
    page = HitPage.get(HitPage.hit == hit, HitPage.pageno == pageno)
    return page, [Image.get_by_id(i) for i in page.image_ids + page.spare_image_ids]


def shown(html: str) -> tuple[list[str], list[str], list[dict]]:
    """(refs, srcs) of the grid's images and the spares, as the page gives them."""
    grid = re.findall(r'<img src="([^"]+)" alt="" data-image-id="([^"]+)"', html)
    spares = json.loads(unescape(re.search(r'data-spares="([^"]*)"', html).group(1)))
    return [ref for _, ref in grid], [unescape(src) for src, _ in grid], spares


def test_the_page_names_no_key_path_or_file_of_any_image(client, batch):
    hit = batch.hits.get()
    page, images = page_images(hit)
    roles = {c.image_id: c.role for c in Candidate.select()}
    assert {roles[i.id] for i in images} == {"candidate", "positive", "negative"}  # controls among them
    token, _ = open_assignment(client, hit)
    preview = f"/annotate?imageNetHitId={hit.key}&assignmentId={PREVIEW_ASSIGNMENT}&workerId=W9"
    for url in (f"/annotate?token={token}", preview):
        html = client.get(url).get_data(as_text=True)
        refs, srcs, spares = shown(html)
        assert len(refs) == len(page.image_ids) and len(spares) == len(page.spare_image_ids)
        assert all(re.fullmatch(r"[\w-]{16}", ref) for ref in refs + [s["id"] for s in spares])
        for image in images:
            for name in names(image):
                assert name not in html, (url, name)


def test_refs_hold_on_reload_and_differ_across_assignments_and_pages(client, batch):
    hit = batch.hits.get()
    first, _ = open_assignment(client, hit, "W1")
    second, _ = open_assignment(client, hit, "W2")
    mine = shown(client.get(f"/annotate?token={first}").get_data(as_text=True))
    assert shown(client.get(f"/annotate?token={first}").get_data(as_text=True)) == mine  # a reload
    theirs = shown(client.get(f"/annotate?token={second}").get_data(as_text=True))
    assert not set(mine[0]) & set(theirs[0]) and not {s["id"] for s in mine[2]} & {s["id"] for s in theirs[2]}
    assert not {urlsplit(s).path for s in mine[1]} & {urlsplit(s).path for s in theirs[1]}
    # A page's refs are its own: an image seen on two pages of one assignment has two.
    assert post_page(client, first, 1, summary_for(hit, 1)).status_code == 200
    page_two = shown(client.get(f"/annotate?token={first}").get_data(as_text=True))
    assert not set(page_two[0]) & set(mine[0])


def test_a_submitted_page_stores_the_keys_and_a_key_or_foreign_ref_is_refused(app, client, batch):
    hit = batch.hits.get()
    token, assignment = open_assignment(client, hit, "W1")
    other, _ = open_assignment(client, hit, "W2")
    page, _ = page_images(hit)
    summary = summary_for(hit, 1)

    def posted(sent):
        data = {"token": token, "pageno": 1, "summary": json.dumps(sent)}
        return client.post("/annotate/submit", data=data, headers={"HX-Request": "true"})

    wrong = posted(summary)  # the dataset's keys, as a page never sends them
    assert wrong.status_code == 400 and "names the wrong image at place 0" in wrong.get_data(as_text=True)
    with app.app_context():
        foreign = as_the_page_sends(other, 1, summary)  # another assignment's refs of the same images
        sent = as_the_page_sends(token, 1, summary)
        spare = as_the_page_sends(token, 1, {"images": [{"imageID": Image.get_by_id(page.spare_image_ids[0]).key}]})
    assert posted(foreign).status_code == 400
    sent["images"][1].update(loadStatus="replacement", imageID=spare["images"][0]["imageID"])
    assert posted(sent).status_code == 200
    stored = {r.grid_index: r for r in ImageRecord.select()}
    expected = [page.spare_image_ids[0] if n == 1 else i for n, i in enumerate(page.image_ids)]
    assert [stored[n].image_id for n in range(6)] == expected
    assert stored[1].replaces_id == page.image_ids[1] and stored[1].load_status == "replacement"


def test_the_image_route_serves_an_assignments_own_images_only(app, client, batch):
    hit = batch.hits.get()
    token, _ = open_assignment(client, hit, "W1")
    other, _ = open_assignment(client, hit, "W2")
    _, images = page_images(hit)
    refs, srcs, spares = shown(client.get(f"/annotate?token={token}").get_data(as_text=True))
    their_refs, their_srcs, _ = shown(client.get(f"/annotate?token={other}").get_data(as_text=True))
    with app.app_context():
        stored = [storage.read(image.storage_path) for image in images]
    for src, data in zip(srcs + [s["src"] for s in spares], stored, strict=True):
        response = client.get(src)
        assert response.status_code == 200 and response.data == data
        assert response.mimetype == "image/png"
        assert response.headers["Cache-Control"].startswith("private, max-age=")
        assert "immutable" in response.headers["Cache-Control"]
        assert not {"Last-Modified", "ETag", "Content-Disposition"} & set(response.headers)
    path = urlsplit(srcs[0]).path.rsplit("/", 1)[0]
    for ref, with_token in (
        (their_refs[0], token),  # another assignment's ref, with my token
        (refs[0], other),  # my ref, with another assignment's token
        ("A" * 16, token),  # made up
        (refs[0], tampered(token)),
    ):
        assert client.get(f"{path}/{ref}?token={with_token}").status_code == 404
    assert client.get(f"/annotate/image/2/{refs[0]}?token={token}").status_code == 404  # another page's
    assert client.get(f"{path}/{refs[0]}").status_code == 404  # no token


def test_a_preview_loads_its_images_and_only_its_own(app, client, batch):
    first = batch.hits.first()
    preview = f"/annotate?imageNetHitId={first.key}&assignmentId={PREVIEW_ASSIGNMENT}&workerId=W9"
    refs, srcs, _ = shown(client.get(preview).get_data(as_text=True))
    assert client.get(srcs[0]).status_code == 200
    key = parse_qs(urlsplit(srcs[0]).query)["preview"][0]
    token, _ = open_assignment(client, first, "W1")
    mine, _, _ = shown(client.get(f"/annotate?token={token}").get_data(as_text=True))
    assert not set(mine) & set(refs)  # a preview's refs are not a worker's
    assert client.get(f"/annotate/image/1/{mine[0]}?preview={key}").status_code == 404
    assert client.get(f"/annotate/image/1/{refs[0]}?preview={tampered(key)}").status_code == 404
