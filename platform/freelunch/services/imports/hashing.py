"""An image's perceptual hashes: imagehash's pHash (DCT of a 32x32 greyscale), 64 bits kept as a signed BIGINT, of
the whole picture and of the picture with 5 % cut off each edge in turn (its four edge hashes).

pHash survives re-encoding, resizing and lost EXIF, but it hashes the whole frame, and a copy cropped at one edge
has a stretched and shifted frame: its pHash lands within 8 bits of the original's only about three times in four.
The original's edge hash for that edge hashes the same frame as the copy, so the two are within 2 bits
(tests/services/duplicates/test_duplicates.py measures both). The database has no unsigned 64-bit integer, so the
whole picture's bits are stored as the two's-complement signed value (``to_unsigned`` gives them back); the four
edge hashes as one 32-byte blob of little-endian unsigned 64-bit values (``edges_of``).
"""

from __future__ import annotations

import io
import re
from typing import NamedTuple

import imagehash
import numpy as np
from PIL import Image as PILImage

HASH_BITS = 64
HEX_DIGITS = re.compile(r"^[0-9a-fA-F]{16}$")
DRAFT_SIZE = (256, 256)  # JPEG decodes straight to about this size: pHash looks at 32x32, the full size is waste
EDGE_CUT = 0.05  # the crop the edge hashes anticipate: the "cropped by 5 % at one edge"
EDGES = ("left", "right", "top", "bottom")


class Hashes(NamedTuple):
    phash: int  # the whole picture's, signed
    edges: bytes  # the pHashes with EDGE_CUT cut off the left, right, top and bottom edge: 4 little-endian uint64


def to_signed(value: int) -> int:
    return value - (1 << HASH_BITS) if value >= 1 << (HASH_BITS - 1) else value


def to_unsigned(value: int) -> int:
    return value & ((1 << HASH_BITS) - 1)


def _phash(image: PILImage.Image) -> int:
    bits = imagehash.phash(image, hash_size=8).hash.flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


def hashes_of_image(image: PILImage.Image) -> Hashes:
    """The hashes of an opened (not yet loaded) Pillow image."""
    image.draft("L", DRAFT_SIZE)
    grey = image.convert("L")  # what imagehash.phash does first: converted once for the five hashes
    width, height = grey.size
    dx, dy = round(width * EDGE_CUT), round(height * EDGE_CUT)
    boxes = [(dx, 0, width, height), (0, 0, width - dx, height), (0, dy, width, height), (0, 0, width, height - dy)]
    edges = np.array([_phash(grey.crop(box)) for box in boxes], dtype="<u8")
    return Hashes(to_signed(_phash(grey)), edges.tobytes())


def hashes_of_bytes(data: bytes) -> Hashes:
    with PILImage.open(io.BytesIO(data)) as image:
        return hashes_of_image(image)


def edges_of(blobs: list[bytes]) -> np.ndarray:
    """The stored edge hashes of several images as a (len(blobs), 4) uint64 array."""
    return np.frombuffer(b"".join(blobs), dtype="<u8").astype(np.uint64).reshape(-1, len(EDGES))


def parse_hex(text: str) -> int:
    """A manifest's ``phash`` (16 hex digits, as imagehash prints it) as the stored signed value; ValueError."""
    text = text.strip()
    if not HEX_DIGITS.match(text):
        raise ValueError(f"phash {text[:40]!r} is not 16 hexadecimal digits (a 64-bit pHash)")
    return to_signed(int(text, 16))


def to_hex(value: int) -> str:
    return f"{to_unsigned(value):016x}"


def distance(a: int, b: int) -> int:
    return (to_unsigned(a) ^ to_unsigned(b)).bit_count()
