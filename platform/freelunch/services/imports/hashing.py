"""An image's perceptual hash: imagehash's pHash (DCT of a 32x32 greyscale), 64 bits kept as a signed BIGINT.

pHash survives re-encoding, resizing, small crops and lost EXIF (tests/test_duplicates_hashing.py measures it),
which is what a near-duplicate of a candidate usually is. The database has no unsigned 64-bit integer, so the
bits are stored as the two's-complement signed value; ``to_unsigned`` gives them back for the search.
"""

from __future__ import annotations

import io
import re

import imagehash
from PIL import Image as PILImage

HASH_BITS = 64
HEX_DIGITS = re.compile(r"^[0-9a-fA-F]{16}$")
DRAFT_SIZE = (256, 256)  # JPEG decodes straight to about this size: pHash looks at 32x32, the full size is waste


def to_signed(value: int) -> int:
    return value - (1 << HASH_BITS) if value >= 1 << (HASH_BITS - 1) else value


def to_unsigned(value: int) -> int:
    return value & ((1 << HASH_BITS) - 1)


def phash_of_image(image: PILImage.Image) -> int:
    """The signed 64-bit pHash of an opened (not yet loaded) Pillow image."""
    image.draft("L", DRAFT_SIZE)
    bits = imagehash.phash(image, hash_size=8).hash.flatten()
    return to_signed(int("".join("1" if b else "0" for b in bits), 2))


def phash_of_bytes(data: bytes) -> int:
    with PILImage.open(io.BytesIO(data)) as image:
        return phash_of_image(image)


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
