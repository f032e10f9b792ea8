"""Near-duplicate pairs among 64-bit hashes by multi-index hashing, in numpy: never a comparison of every pair.

Split the 64 bits into ``m`` blocks. Two hashes within ``k`` bits of each other differ by at most
``k // m`` bits in at least one block (pigeonhole: were every block ``k // m + 1`` apart, the whole would be more
than ``k``). So each hash is compared only with the hashes whose block j is within ``k // m`` bits of its own,
for each j, found by looking the flipped block values up in a table of the block's buckets. With ``m = k + 1``
blocks that is the plain scheme (some block agrees exactly); but at ImageNet's size 7-bit blocks put 10,000
hashes in a bucket, so ``blocks_for`` picks the ``m`` that costs least for ``n`` hashes (3 blocks of 21-22 bits,
each probed at distance 2, for 1.28 M: docs/performance.md has the figures). Every candidate pair is then
checked on its full 64 bits, and only pairs within ``k`` are returned.
"""

from __future__ import annotations

from itertools import combinations
from math import comb

import numpy as np

BITS = 64
DISTANCE = 8  # near-duplicates: at most this many of the 64 pHash bits differ (tests/test_duplicates.py measures why)
MAX_BLOCK_BITS = 24  # a block's bucket table has 2**bits entries: 24 bits is 64 MB of int32 starts and counts


def _block_widths(m: int) -> list[int]:
    return [BITS // m + (1 if j < BITS % m else 0) for j in range(m)]


def _cost(n: int, m: int, k: int) -> float:
    """Lookups plus candidate pairs per hash for ``m`` blocks (random hashes): the number ``blocks_for`` minimises."""
    radius = k // m
    return sum(sum(comb(b, i) for i in range(radius + 1)) * (1 + n / 2**b) for b in _block_widths(m))


def blocks_for(n: int, k: int) -> int:
    """How many blocks make the search cheapest for ``n`` hashes and distance ``k``."""
    choices = [m for m in range(1, k + 2) if max(_block_widths(m)) <= MAX_BLOCK_BITS]
    return min(choices, key=lambda m: _cost(n, m, k))


def _masks(width: int, radius: int) -> list[int]:
    """Every value of ``width`` bits with at most ``radius`` bits set, 0 first."""
    return [sum(1 << i for i in bits) for r in range(radius + 1) for bits in combinations(range(width), r)]


def near_pairs(hashes: np.ndarray, k: int, blocks: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, distance) arrays, i < j, of every pair of ``hashes`` (uint64) within ``k`` bits, each pair once."""
    hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
    n = len(hashes)
    found: list[np.ndarray] = []
    if n < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64)
    m = blocks or blocks_for(n, k)
    if max(_block_widths(m)) > MAX_BLOCK_BITS:
        raise ValueError(f"{m} blocks of 64 bits are too wide for a bucket table; use at least 3")
    shift = 0
    for width in _block_widths(m):
        keys = ((hashes >> np.uint64(shift)) & np.uint64((1 << width) - 1)).astype(np.int64)
        shift += width
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        counts = np.bincount(sorted_keys, minlength=1 << width).astype(np.int64)
        starts = np.cumsum(counts) - counts
        positions = np.arange(n)
        for mask in _masks(width, k // m):
            probe = sorted_keys ^ mask
            c, s = counts[probe], starts[probe]
            if mask == 0:  # the own bucket: only the members after this one, so each pair comes once
                c = c - (positions - s) - 1
                s = positions + 1
            take = c > 0
            if not take.any():
                continue
            c, s, mine = c[take], s[take], positions[take]
            total = int(c.sum())
            mine = np.repeat(mine, c)
            partner = np.repeat(s - (np.cumsum(c) - c), c) + np.arange(total)
            a, b = order[mine], order[partner]
            keep = np.bitwise_count(hashes[a] ^ hashes[b]) <= k
            if mask != 0:
                keep &= a < b  # the pair is found from both ends: keep one
            a, b = a[keep], b[keep]
            found.append(np.minimum(a, b) * n + np.maximum(a, b))
    pairs = np.unique(np.concatenate(found)) if found else np.empty(0, np.int64)
    i, j = pairs // n, pairs % n
    return i, j, np.bitwise_count(hashes[i] ^ hashes[j]).astype(np.int64)
