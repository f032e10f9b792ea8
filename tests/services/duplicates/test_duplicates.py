"""Near-duplicates: the perceptual hash finds altered copies and tells different pictures apart; the multi-index
search finds exactly the pairs a comparison of every pair finds."""

from __future__ import annotations

import io
import itertools
import random

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageDraw

from freelunch.services.demo import CLASSES, draw_image
from freelunch.services.duplicates import search
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


@pytest.mark.parametrize("change", ["JPEG quality 60", "half size", "EXIF stripped"])
def test_reencoded_resized_and_exif_stripped_copies_are_always_near(change):
    distances = [
        hashing.distance(hashing.phash_of_bytes(data), hashing.phash_of_bytes(altered(data)[change]))
        for data in ORIGINALS[::3] + DEMO[::4]
    ]
    assert max(distances) <= 3 < search.DISTANCE  # measured: at most 2 bits


def test_copies_cropped_at_one_edge_are_mostly_near():
    """A 5% crop moves every DCT coefficient a little: most copies stay within the distance, not all.

    Measured on these 150 originals x 4 edges: docs/performance.md gives the rate; this pins that it stays there."""
    found = []
    for data in ORIGINALS[::3] + DEMO[::2]:
        own = hashing.phash_of_bytes(data)
        for name, copy in altered(data).items():
            if name.startswith("cropped"):
                found.append(hashing.distance(own, hashing.phash_of_bytes(copy)) <= search.DISTANCE)
    rate = sum(found) / len(found)
    print(f"5% crops within {search.DISTANCE} bits: {rate:.1%} of {len(found)}")
    assert rate >= 0.6


@pytest.mark.parametrize("name, pictures, most", [("generated", ORIGINALS, 0.0), ("demo", DEMO, 0.004)])
def test_different_pictures_are_rarely_near(name, pictures, most):
    """False positives per pair of different pictures: none among the varied generated ones; a few among the demo's
    look-alike scenes (docs/performance.md gives the rates)."""
    hashes = [hashing.phash_of_bytes(data) for data in pictures]
    near = [hashing.distance(a, b) <= search.DISTANCE for a, b in itertools.combinations(hashes, 2)]
    rate = sum(near) / len(near)
    print(f"different {name} pictures within {search.DISTANCE} bits: {sum(near)} of {len(near)} pairs ({rate:.3%})")
    assert rate <= most


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
