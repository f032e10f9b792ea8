"""Hashing the images whose perceptual hashes are not all known: those a manifest gave the size of (so nothing was
fetched at import; a manifest's ``phash`` gives the whole picture's hash, not the edge hashes) and those imported
before hashes (or edge hashes) were kept. A URL is fetched through the import's safe fetcher (public
addresses only), a stored file read from media storage; an image that cannot be read keeps no hash and is counted.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ... import storage
from ...models import Dataset, Image
from ..imports import hashing
from ..imports.images import FETCH_THREADS, Fetcher, default_fetcher, probe

CHUNK = 500


def unhashed(dataset: Dataset):
    """The dataset's images without edge hashes (every image without a pHash is one of them)."""
    return Image.select(Image.id, Image.url, Image.storage_path).where(
        Image.dataset == dataset, Image.edge_phashes.is_null()
    )


def hash_missing(dataset: Dataset, fetcher: Fetcher | None = None, progress=None) -> dict[str, int]:
    """Fetch (or read) and hash every image of the dataset without its hashes; counts of hashed and failed."""
    fetcher = fetcher or default_fetcher()
    total = max(unhashed(dataset).count(), 1)
    counts = {"hashed": 0, "failed": 0}
    after = 0

    def hash_of(data_of, image: Image) -> hashing.Hashes | None:
        try:
            return probe(data_of(image))[3]
        except (ValueError, OSError):  # FetchError/UnsafeURL are ValueErrors; a missing file an OSError
            return None

    with ThreadPoolExecutor(FETCH_THREADS) as pool:
        while chunk := list(unhashed(dataset).where(Image.id > after).order_by(Image.id).limit(CHUNK)):
            after = chunk[-1].id
            fetched = [image for image in chunk if not image.storage_path]
            stored = [image for image in chunk if image.storage_path]  # here: storage needs the app context
            hashes = list(pool.map(lambda image: hash_of(lambda i: fetcher(i.url), image), fetched))
            hashes += [hash_of(lambda i: storage.read(i.storage_path), image) for image in stored]
            for image, found in zip(fetched + stored, hashes):
                if found is None:
                    counts["failed"] += 1
                    continue
                Image.update(phash=found.phash, edge_phashes=found.edges).where(Image.id == image.id).execute()
                counts["hashed"] += 1
            if progress:
                done = counts["hashed"] + counts["failed"]
                progress(0.5 * done / total, f"Hashed {done:,} of {total:,} images without a hash")
    return counts
