"""ImageNet-AB's ZIP writing alone: N small members (default 400,000, about the images of a full-size export)
written by ``zipfile`` and by services/exports/zip_writer.py, each in a process of its own; prints each one's
peak memory, time and a hash of the archive's bytes (equal: the writer writes zipfile's bytes).

    .venv/bin/python bench/zip_members.py [N]
"""

from __future__ import annotations

import hashlib
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile

HEAD, TAIL = b'<?xml version="1.0" encoding="utf-8"?>\n<annotation>\n', b"</annotation>\n"


def _members(count: int):
    for n in range(count):
        wnid = f"n{n % 1000:08d}"
        body = b"<metadata><imageID>%d</imageID>" % n + b"<x>0.5</x>" * (n % 40) + b"</metadata>\n"
        yield f"Annotations/CLS-LOC/train_enriched/{wnid}/{wnid}_{n}.xml", [HEAD, body, TAIL]


def _write(how: str, count: int) -> None:
    from freelunch.services.exports.zip_writer import ZipWriter

    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        if how == "zipfile":
            with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for name, chunks in _members(count):
                    with archive.open(name, "w") as member:
                        for chunk in chunks:
                            member.write(chunk)
        else:
            with ZipWriter(out) as writer:
                for name, chunks in _members(count):
                    writer.write(name, chunks)
        seconds = time.perf_counter() - started
        out.seek(0)
        digest = hashlib.file_digest(out, "sha256").hexdigest()[:16]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{how:<10} {count:>9,} members  peak {peak:6.1f} MB  {seconds:6.1f} s  bytes {digest}")


def main() -> None:
    if len(sys.argv) > 2:
        return _write(sys.argv[1], int(sys.argv[2]))
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 400_000
    print(f"load average {os.getloadavg()[0]:.1f}")
    for how in ("zipfile", "writer"):
        subprocess.run([sys.executable, __file__, how, str(count)], check=True)
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
