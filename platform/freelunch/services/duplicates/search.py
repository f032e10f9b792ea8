"""Near-duplicate pairs among 64-bit hashes by multi-index hashing, in numpy: never a comparison of every pair.

Split the 64 bits into ``m`` blocks. Two hashes within ``k`` bits of each other differ by at most
``k // m`` bits in at least one block (pigeonhole: were every block ``k // m + 1`` apart, the whole would be more
than ``k``). So each hash is compared only with the hashes whose block j is within ``k // m`` bits of its own,
for each j, found by looking the flipped block values up in a table of the block's buckets. With ``m = k + 1``
blocks that is the plain scheme (some block agrees exactly); but at ImageNet's size 7-bit blocks put 10,000
hashes in a bucket, so ``blocks_for`` picks the ``m`` that costs least for ``n`` hashes (3 blocks of 21-22 bits,
each probed at distance 2, for 1.28 M: docs/performance.md has the figures). Every candidate pair is then
checked on its full 64 bits, and only pairs within ``k`` are returned. ``near_pairs_between`` looks queries (the
images' edge hashes) up in an index (their whole-picture hashes) the same way.
"""

from __future__ import annotations

from itertools import combinations
from math import comb

import numpy as np

BITS = 64
# near-duplicates: at most this many of the 64 pHash bits differ (tests/services/duplicates/test_duplicates.py)
DISTANCE = 8
# A copy cropped at one edge is within 2 bits of the original's edge hash for that edge (measured); 5 leaves room for
# a copy also re-encoded, and probes a tenth as many buckets as 8 would (3 blocks within 1 bit, not 2).
EDGE_DISTANCE = 5
QUERY_CHUNK = 1 << 20  # queries looked up at a time: the memory of a search stays that of 1 M hashes
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


def _probe(
    queries: np.ndarray, index: np.ndarray, k: int, blocks: int | None, same: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(query, index entry) arrays of the pairs within ``k`` bits; ``same``: the queries are the index, and each pair
    of two different entries comes once, lower first."""
    n = len(index)
    m = blocks or blocks_for(n, k)
    if max(_block_widths(m)) > MAX_BLOCK_BITS:
        raise ValueError(f"{m} blocks of 64 bits are too wide for a bucket table; use at least 3")
    found: list[np.ndarray] = []
    shift = 0
    for width in _block_widths(m):
        low_bits = np.uint64((1 << width) - 1)
        keys = ((index >> np.uint64(shift)) & low_bits).astype(np.int64)
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        counts = np.bincount(sorted_keys, minlength=1 << width).astype(np.int64)
        starts = np.cumsum(counts) - counts
        if same:  # probing in bucket order lets the own bucket count only the members after this one
            query_keys, query_of = sorted_keys, order
        else:
            query_keys = ((queries >> np.uint64(shift)) & low_bits).astype(np.int64)
            query_of = np.arange(len(queries))
        shift += width
        positions = np.arange(len(query_keys))
        for mask in _masks(width, k // m):
            probe = query_keys ^ mask
            c, s = counts[probe], starts[probe]
            if same and mask == 0:  # the own bucket: only the members after this one, so each pair comes once
                c = c - (positions - s) - 1
                s = positions + 1
            take = c > 0
            if not take.any():
                continue
            c, s, mine = c[take], s[take], positions[take]
            total = int(c.sum())
            mine = np.repeat(mine, c)
            partner = np.repeat(s - (np.cumsum(c) - c), c) + np.arange(total)
            a, b = query_of[mine], order[partner]
            keep = np.bitwise_count(queries[a] ^ index[b]) <= k
            if same and mask != 0:
                keep &= a < b  # the pair is found from both ends: keep one
            a, b = a[keep], b[keep]
            found.append(np.minimum(a, b) * n + np.maximum(a, b) if same else a * n + b)
    pairs = np.unique(np.concatenate(found)) if found else np.empty(0, np.int64)
    return pairs // n, pairs % n


def near_pairs(hashes: np.ndarray, k: int, blocks: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, distance) arrays, i < j, of every pair of ``hashes`` (uint64) within ``k`` bits, each pair once."""
    hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
    if len(hashes) < 2:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64)
    i, j = _probe(hashes, hashes, k, blocks, same=True)
    return i, j, np.bitwise_count(hashes[i] ^ hashes[j]).astype(np.int64)


def near_pairs_between(
    queries: np.ndarray, index: np.ndarray, k: int, blocks: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(q, i, distance) arrays of every query (uint64) within ``k`` bits of an ``index`` entry, each pair once; the
    method picks its blocks for the index's size, so the cost grows linearly with the queries."""
    queries = np.ascontiguousarray(queries, dtype=np.uint64)
    index = np.ascontiguousarray(index, dtype=np.uint64)
    found = [(np.empty(0, np.int64), np.empty(0, np.int64))]
    if len(index):
        for start in range(0, len(queries), QUERY_CHUNK):  # the temporaries of a probe grow with the queries
            q, i = _probe(queries[start : start + QUERY_CHUNK], index, k, blocks, same=False)
            found.append((q + start, i))
    q, i = np.concatenate([q for q, _ in found]), np.concatenate([i for _, i in found])
    return q, i, np.bitwise_count(queries[q] ^ index[i]).astype(np.int64)
