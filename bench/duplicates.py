"""``make bench-duplicates``: the near-duplicate search (services/duplicates/groups.components, what the job
runs) on ImageNet's size, 1.28 M random 64-bit hashes with near-duplicates planted among them.

Plants ``--planted`` pairs at 0 to 8 bits (each must be found in one group) and as many at 9 to 12 bits (each must
not be, unless chance joins them). Prints the seconds, the peak resident memory, the candidate method (blocks,
probe radius) and the load of the machine (2 shared cores: the figure depends on it). docs/performance.md keeps
the figures.
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


def plant(hashes: np.ndarray, chosen: np.ndarray, low: int, high: int, rng: np.random.Generator) -> np.ndarray:
    """Make each (original, copy) row's copy ``low``..``high`` bits away from its original; the rows."""
    for original, copy in chosen:
        flips = rng.choice(64, int(rng.integers(low, high + 1)), replace=False)
        hashes[copy] = hashes[original] ^ np.uint64(sum(1 << int(bit) for bit in flips))
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hashes", type=int, default=1_280_000)
    parser.add_argument("--planted", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    hashes = rng.integers(0, 2**64 - 1, args.hashes, dtype=np.uint64, endpoint=True)
    rows = rng.choice(args.hashes, 4 * args.planted, replace=False).reshape(2, args.planted, 2)  # no hash twice
    near = plant(hashes, rows[0], 0, search.DISTANCE, rng)
    far = plant(hashes, rows[1], search.DISTANCE + 1, search.DISTANCE + 4, rng)
    blocks = search.blocks_for(args.hashes, search.DISTANCE)
    print(
        f"{args.hashes:,} hashes, {args.planted:,} planted pairs within {search.DISTANCE} bits, "
        f"{args.planted:,} at {search.DISTANCE + 1}-{search.DISTANCE + 4}; load before: {os.getloadavg()[0]:.1f}"
    )
    print(
        f"method: {blocks} blocks of {search._block_widths(blocks)} bits, each probed within "
        f"{search.DISTANCE // blocks} bits"
    )
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    component = groups.components(hashes)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    found = int(np.sum((component[near[:, 0]] >= 0) & (component[near[:, 0]] == component[near[:, 1]])))
    joined_far = int(np.sum((component[far[:, 0]] >= 0) & (component[far[:, 0]] == component[far[:, 1]])))
    print(f"seconds: {seconds:.1f}")
    print(
        f"peak memory: {peak / 1024:.0f} MB (the hashes themselves: {hashes.nbytes / 2**20:.0f} MB; "
        f"{(peak - before) / 1024:.0f} MB more during the search)"
    )
    print(f"planted near pairs found: {found} of {args.planted}")
    print(f"planted far pairs joined: {joined_far} of {args.planted}")
    print(f"images in groups: {int((component >= 0).sum()):,}; load after: {os.getloadavg()[0]:.1f}")
    if found != args.planted:
        sys.exit("FAILED: a planted near-duplicate was missed")


if __name__ == "__main__":
    main()
