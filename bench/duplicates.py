"""``make bench-duplicates``: the near-duplicate search (services/duplicates/groups.components, what the job
runs) on ImageNet's size, 1.28 M images of random 64-bit hashes, each with four edge hashes, near-duplicates planted.

Each image's edge hashes are its whole-picture hash with 2 to 12 bits flipped (as a 5 % crop moves a real pHash).
Plants ``--planted`` pairs whose whole-picture hashes are 0 to 8 bits apart and as many "cropped copies" whose
whole-picture hash is 0 to 5 bits from one of the original's edge hashes and far from its whole-picture hash (each
must be found in one group), and as many pairs at 9 to 12 bits and copies 6 to 9 bits from an edge hash (each must
not be, unless chance joins them). Prints the seconds (and the CPU seconds, which the machine's load does not
stretch), the peak resident memory, the candidate method (blocks, probe radius) and the load of the machine (2
shared cores: the figure depends on it), then one line of figures (name=value), for scripts.
docs/performance.md keeps the figures.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))

from freelunch.services.duplicates import groups, search  # noqa: E402

EDGES = 4


def flipped(value: np.uint64, low: int, high: int, rng: np.random.Generator) -> np.uint64:
    """``value`` with ``low``..``high`` random bits flipped."""
    flips = rng.choice(64, int(rng.integers(low, high + 1)), replace=False)
    return value ^ np.uint64(sum(1 << int(bit) for bit in flips))


def with_edges(whole: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Edge hashes 2 to 12 bits from each whole-picture hash, vectorised: a random mask of that many bits."""
    n = len(whole)
    bits = rng.random((n, EDGES, 64)).argsort(axis=2) < rng.integers(2, 13, (n, EDGES, 1))
    masks = np.packbits(bits, axis=2, bitorder="little").view("<u8")[:, :, 0].astype(np.uint64)
    return whole[:, None] ^ masks


def plant_copy(whole, edges, original, copy, target, low, high, rng) -> None:
    """Make ``copy`` an image whose whole-picture hash is ``low``..``high`` bits from ``target`` (a hash of the
    original's), with edge hashes of its own."""
    whole[copy] = flipped(target, low, high, rng)
    edges[copy] = [flipped(whole[copy], 2, 12, rng) for _ in range(EDGES)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=1_280_000)
    parser.add_argument("--planted", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    whole = rng.integers(0, 2**64 - 1, args.images, dtype=np.uint64, endpoint=True)
    edges = np.concatenate([with_edges(part, rng) for part in np.array_split(whole, 64)])
    rows = rng.choice(args.images, 8 * args.planted, replace=False).reshape(4, args.planted, 2)  # no image twice
    near, far, cropped, far_cropped = rows
    for original, copy in near:
        plant_copy(whole, edges, original, copy, whole[original], 0, search.DISTANCE, rng)
    for original, copy in far:
        plant_copy(whole, edges, original, copy, whole[original], search.DISTANCE + 1, search.DISTANCE + 4, rng)
    for pairs, low, high in ((cropped, 0, search.EDGE_DISTANCE), (far_cropped, search.EDGE_DISTANCE + 1, 9)):
        for original, copy in pairs:
            edge = rng.integers(EDGES)
            edges[original, edge] = flipped(whole[original], 16, 20, rng)  # far from its whole: the edge finds it
            plant_copy(whole, edges, original, copy, edges[original, edge], low, high, rng)
    blocks = search.blocks_for(args.images, search.DISTANCE)
    edge_blocks = search.blocks_for(args.images, search.EDGE_DISTANCE)
    print(
        f"{args.images:,} images (and {EDGES} edge hashes each); planted: {args.planted:,} pairs within "
        f"{search.DISTANCE} bits, {args.planted:,} at {search.DISTANCE + 1}-{search.DISTANCE + 4}, {args.planted:,} "
        f"cropped copies within {search.EDGE_DISTANCE} bits of an edge hash, {args.planted:,} at "
        f"{search.EDGE_DISTANCE + 1}-9; load before: {os.getloadavg()[0]:.1f}"
    )
    print(
        f"method: whole-picture hashes in {blocks} blocks of {search._block_widths(blocks)} bits, each probed within "
        f"{search.DISTANCE // blocks} bits; edge hashes looked up in {edge_blocks} blocks of "
        f"{search._block_widths(edge_blocks)} bits, each within {search.EDGE_DISTANCE // edge_blocks} bits"
    )
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start, cpu = time.perf_counter(), time.process_time()
    component = groups.components(whole, edges)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def joined(pairs: np.ndarray) -> int:
        a, b = component[pairs[:, 0]], component[pairs[:, 1]]
        return int(np.sum((a >= 0) & (a == b)))

    print(f"seconds: {seconds:.1f} ({cpu:.1f} s of CPU: what a core of its own would take)")
    print(
        f"peak memory: {peak / 1024:.0f} MB (the hashes themselves: {(whole.nbytes + edges.nbytes) / 2**20:.0f} MB; "
        f"{(peak - before) / 1024:.0f} MB more during the search)"
    )
    print(f"planted near pairs found: {joined(near)} of {args.planted}")
    print(f"planted cropped copies found: {joined(cropped)} of {args.planted}")
    print(f"planted far pairs joined: {joined(far)} of {args.planted}")
    print(f"planted far cropped copies joined: {joined(far_cropped)} of {args.planted}")
    print(f"images in groups: {int((component >= 0).sum()):,}; load after: {os.getloadavg()[0]:.1f}")
    figures = {
        "images": args.images,
        "seconds": round(seconds, 1),
        "cpu_s": round(cpu, 1),
        "peak_mb": round(peak / 1024),
        "near_found": joined(near),
        "cropped_found": joined(cropped),
        "far_joined": joined(far),
        "far_cropped_joined": joined(far_cropped),
    }
    print(" ".join(f"{name}={value}" for name, value in figures.items()))
    if joined(near) != args.planted or joined(cropped) != args.planted:
        sys.exit("FAILED: a planted near-duplicate was missed")


if __name__ == "__main__":
    main()
