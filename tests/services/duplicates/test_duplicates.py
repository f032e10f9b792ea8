"""Near-duplicates: the perceptual hashes find altered copies and tell different pictures apart; the multi-index
search finds exactly the pairs a comparison of every pair finds."""

from __future__ import annotations

import functools
import io
import random

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageDraw

from freelunch.services.demo import CLASSES, draw_image
from freelunch.services.duplicates import groups, search
from freelunch.services.imports import hashing


def synthetic(seed: int) -> bytes:
    """A distinct picture: blurred noise, a colour gradient or a flat ground, with a few random shapes on it."""
    rng, pick = np.random.default_rng(seed), random.Random(seed)
    width, height = pick.choice([(320, 240), (300, 300), (400, 300)])
    if seed % 3 == 0:
        noise = rng.integers(0, 255, (height // 8, width // 8, 3), dtype=np.uint8)
        image = PILImage.fromarray(noise).resize((width, height), PILImage.BICUBIC)
    elif seed % 3 == 1:
        x, y = np.linspace(0, 1, width)[None, :, None], np.linspace(0, 1, height)[:, None, None]
        c = rng.random((3, 3))
        ramp = (255 * (c[0] * x + c[1] * y + c[2] * x * y) / c.sum(0)).clip(0, 255).astype(np.uint8)
        image = PILImage.fromarray(np.ascontiguousarray(np.broadcast_to(ramp, (height, width, 3))))
    else:
        image = PILImage.new("RGB", (width, height), tuple(int(v) for v in rng.integers(0, 255, 3)))
    draw = ImageDraw.Draw(image)
    for _ in range(pick.randint(3, 8)):
        x0, y0 = pick.randrange(width), pick.randrange(height)
        box = [x0, y0, x0 + pick.randint(20, width // 2), y0 + pick.randint(20, height // 2)]
        fill = tuple(pick.randrange(256) for _ in range(3))
        (draw.ellipse if pick.random() < 0.5 else draw.rectangle)(box, fill=fill)
    exif = PILImage.Exif()
    exif[0x010F] = "Freelunch test camera"  # Make
    exif[0x0132] = "2026:12:06 20:00:00"  # DateTime
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92, exif=exif)
    return out.getvalue()


def saved(image: PILImage.Image, kind: str = "JPEG", **options) -> bytes:
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


def altered(data: bytes) -> dict[str, bytes]:
    """The copies a dataset collects by accident: re-encoded, resized, cropped at one edge, EXIF stripped."""
    image = PILImage.open(io.BytesIO(data))
    pixels = image.convert("RGB")
    width, height = pixels.size
    crops = {
        "cropped 5% right": (0, 0, round(width * 0.95), height),
        "cropped 5% left": (round(width * 0.05), 0, width, height),
        "cropped 5% top": (0, round(height * 0.05), width, height),
        "cropped 5% bottom": (0, 0, width, round(height * 0.95)),
    }
    copies = {
        "JPEG quality 60": saved(pixels, quality=60),
        "half size": saved(pixels.resize((width // 2, height // 2), PILImage.LANCZOS), quality=90),
        "EXIF stripped": saved(pixels, quality=92),  # the pixels alone: no exif= given
    }
    copies.update({name: saved(pixels.crop(box), quality=90) for name, box in crops.items()})
    return copies


ORIGINALS = [synthetic(seed) for seed in range(90)]
# The demo's scenes (a gradient with 1-3 shapes), each from a seed of its own: alike by design, a hard case.
DEMO = [draw_image(s, p, random.Random(f"{s} {p} {n}")) for s in CLASSES for p in (True, False) for n in range(12)]


def test_exif_is_really_stripped_by_the_copy():
    original = PILImage.open(io.BytesIO(ORIGINALS[0]))
    assert original.getexif().get(0x010F) == "Freelunch test camera"
    assert not PILImage.open(io.BytesIO(altered(ORIGINALS[0])["EXIF stripped"])).getexif()


@functools.cache
def hashes_of(data: bytes) -> hashing.Hashes:
    return hashing.hashes_of_bytes(data)


def stacked(hashes: list[hashing.Hashes]) -> tuple[np.ndarray, np.ndarray]:
    """Whole-picture and edge hashes as the search takes them."""
    whole = np.array([h.phash for h in hashes], dtype=np.int64).view(np.uint64)
    return whole, hashing.edges_of([h.edges for h in hashes])


CHANGES = ["JPEG quality 60", "half size", "EXIF stripped", "cropped 5% left", "cropped 5% right", "cropped 5% top"]
CHANGES += ["cropped 5% bottom"]


@pytest.mark.parametrize("change", CHANGES)
def test_every_altered_copy_is_found_as_a_near_duplicate(change):
    """Each copy against its original through the search the job runs (groups.linked): found every time. The
    whole-picture hash alone misses a fifth to a third of the edge crops (printed): the edge hashes find those."""
    found, whole_alone = [], []
    for data in ORIGINALS[::2] + DEMO[::2]:
        pair = [hashes_of(data), hashing.hashes_of_bytes(altered(data)[change])]
        i, _ = groups.linked(*stacked(pair))
        found.append(len(i) == 1)
        whole_alone.append(hashing.distance(pair[0].phash, pair[1].phash) <= search.DISTANCE)
    print(f"{change}: found {sum(found)} of {len(found)}; by the whole-picture hash alone {sum(whole_alone)}")
    assert all(found)


@pytest.mark.parametrize("name, pictures, most", [("generated", ORIGINALS, 0.0), ("demo", DEMO, 0.004)])
def test_different_pictures_are_rarely_near(name, pictures, most):
    """False positives per pair of different pictures, through the search the job runs: none among the varied
    generated ones; a few among the demo's look-alike scenes (docs/performance.md gives the rates)."""
    i, _ = groups.linked(*stacked([hashes_of(data) for data in pictures]))
    pairs = len(pictures) * (len(pictures) - 1) // 2
    print(f"different {name} pictures found near: {len(i)} of {pairs} pairs ({len(i) / pairs:.3%})")
    assert len(i) / pairs <= most


def test_an_image_without_edge_hashes_is_matched_on_its_whole_picture_hash():
    """A manifest may give the pHash alone: the search still finds its re-encoded copy, and never pairs it with
    itself."""
    original, copy = (hashing.hashes_of_bytes(d) for d in (ORIGINALS[1], altered(ORIGINALS[1])["JPEG quality 60"]))
    whole, edges = stacked([original, copy])
    edges[0] = whole[0]  # what groups._hashed puts in place of missing edge hashes
    i, j = groups.linked(whole, edges)
    assert (i.tolist(), j.tolist()) == ([0], [1])


def test_hashes_round_trip_through_the_signed_column_and_hex():
    for value in (0, 1, 2**63 - 1, 2**63, 2**64 - 1):
        signed = hashing.to_signed(value)
        assert -(2**63) <= signed < 2**63 and hashing.to_unsigned(signed) == value
        assert hashing.parse_hex(f"{value:016x}") == signed and hashing.to_hex(signed) == f"{value:016x}"
    with pytest.raises(ValueError, match="16 hexadecimal"):
        hashing.parse_hex("abc")


@pytest.mark.parametrize(
    "n, k, blocks", [(400, 8, None), (3000, 8, None), (3000, 8, 3), (3000, 8, 9), (3000, 5, 3), (3000, 12, 4)]
)
def test_multi_index_search_finds_exactly_what_comparing_every_pair_finds(n, k, blocks):
    rng = np.random.default_rng(n + k)
    hashes = rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True)
    for _ in range(60):  # planted neighbours at 0 .. k+2 bits, so some fall just outside
        x, y = rng.integers(0, n, 2)
        flips = rng.choice(64, rng.integers(0, k + 3), replace=False)
        hashes[y] = hashes[x] ^ np.uint64(sum(1 << int(f) for f in flips))
    every = np.bitwise_count(hashes[:, None] ^ hashes[None, :])
    want_i, want_j = np.nonzero(np.triu(every <= k, 1))
    i, j, distance = search.near_pairs(hashes, k, blocks)
    assert len(want_i) > 30
    assert list(zip(i.tolist(), j.tolist())) == list(zip(want_i.tolist(), want_j.tolist()))
    assert (distance == every[i, j]).all()


@pytest.mark.parametrize("chunk", [search.QUERY_CHUNK, 300])
def test_looking_queries_up_in_an_index_finds_exactly_what_comparing_each_query_with_every_entry_finds(
    chunk, monkeypatch
):
    monkeypatch.setattr(search, "QUERY_CHUNK", chunk)  # 300: the queries are looked up in 7 chunks
    rng = np.random.default_rng(5)
    index = rng.integers(0, 2**64 - 1, 3000, dtype=np.uint64, endpoint=True)
    queries = rng.integers(0, 2**64 - 1, 2000, dtype=np.uint64, endpoint=True)
    for q in range(0, 2000, 20):  # planted at 0 .. 7 bits from an entry, so some fall outside 5
        flips = rng.choice(64, rng.integers(0, 8), replace=False)
        queries[q] = index[q] ^ np.uint64(sum(1 << int(f) for f in flips))
    every = np.bitwise_count(queries[:, None] ^ index[None, :])
    want_q, want_i = np.nonzero(every <= 5)
    q, i, distance = search.near_pairs_between(queries, index, 5)
    assert len(want_q) > 30
    assert list(zip(q.tolist(), i.tolist())) == list(zip(want_q.tolist(), want_i.tolist()))
    assert (distance == every[q, i]).all()
