"""A ZIP written a member at a time, byte for byte as ``zipfile`` writes it, with nothing kept in memory per member.

``zipfile.ZipFile`` keeps a ``ZipInfo`` (and a name-index entry) for every member until it writes the central
directory at close: about 440 bytes a member, 170 MB for ImageNet-AB's 382,746 images at full size. Here each
member's central-directory record is written to a temporary file as soon as the member is, and copied after the
last member. The streaming-ZIP libraries keep something per member too (stream-zip a tuple of bytes, zipstream-ng
a ``ZipInfo``) and write other bytes (data descriptors, UTF-8 flags, extra timestamps): docs/export.md.

The bytes are those of ``zipfile.ZipFile(out, "w", ZIP_DEFLATED)`` with each member written through
``open(name, "w")`` (``writestr`` for a dated one): deflate at zlib's default level, versions 2.0, Unix, mode 0600;
CRC and sizes in the local header on a seekable file, in a data descriptor after the data on one that is not;
ZIP64 where ``zipfile`` puts it (a member's offset past 2 GiB, more than 65,535 members). A member is compressed
in memory and written at once (no seek back to its header): ImageNet-AB's are one image's XML, kilobytes.
tests/services/exports/test_zip_writer.py compares the bytes with ``zipfile``'s.
"""

from __future__ import annotations

import shutil
import struct
import tempfile
import zlib
from collections.abc import Iterable
from typing import IO

# zipfile's limits: past them it writes ZIP64 fields (its ZIP64_LIMIT is 2 GiB - 1, not 4 GiB).
ZIP64_LIMIT = (1 << 31) - 1
MEMBERS_LIMIT = (1 << 16) - 1

DOS_EPOCH = (1980, 1, 1, 0, 0, 0)  # what zipfile stamps on a member opened by name
VERSION = 20  # deflate's "version needed" (and "made by", as zipfile writes it)
ZIP64_VERSION = 45
UNIX = 3
DEFLATED = 8
UTF8_NAME = 0x800  # flag bit 11: the name is UTF-8 (zipfile sets it for a name that is not ASCII)
DATA_DESCRIPTOR = 0x08  # flag bit 3: CRC and sizes follow the data
MODE_0600 = 0o600 << 16

LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
CENTRAL_RECORD = struct.Struct("<4s4B4HL2L5H2L")
DESCRIPTOR = struct.Struct("<4L")
ZIP64_OFFSET = struct.Struct("<HHQ")  # the ZIP64 extra field holding only a local header's offset
END_64 = struct.Struct("<4sQ2H2L4Q")
END_64_LOCATOR = struct.Struct("<4sLQL")
END = struct.Struct("<4s4H2LH")


class ZipWriter:
    def __init__(self, out: IO[bytes]):
        self.out = out
        # As zipfile: a file that cannot seek gets data descriptors; one that cannot tell either, offsets from 0.
        try:
            self.offset = out.tell()
        except (AttributeError, OSError):
            self.offset, self.seekable = 0, False
        else:
            try:
                out.seek(self.offset)
                self.seekable = True
            except (AttributeError, OSError):
                self.seekable = False
        self.directory = tempfile.TemporaryFile(prefix="zip-directory-")
        self.directory_size = 0
        self.members = 0

    def write(self, name: str, chunks: Iterable[bytes], date_time: tuple[int, ...] = DOS_EPOCH) -> None:
        """A member of these bytes, deflated; ``date_time`` as ``time.localtime()[:6]``, as zipfile's writestr."""
        deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
        crc, size, data = 0, 0, []
        for chunk in chunks:
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
            data.append(deflate.compress(chunk))
        data.append(deflate.flush())
        compressed = sum(map(len, data))
        if size > ZIP64_LIMIT or compressed > ZIP64_LIMIT:
            raise ValueError(f"{name}: over 2 GiB, which zipfile writes only when told beforehand (force_zip64)")
        try:
            encoded, flags = name.encode("ascii"), 0
        except UnicodeEncodeError:
            encoded, flags = name.encode(), UTF8_NAME
        year, month, day, hour, minute, second = date_time
        dos_time = hour << 11 | minute << 5 | second // 2
        dos_date = (year - 1980) << 9 | month << 5 | day
        at = self.offset
        if self.seekable:
            header = (flags, DEFLATED, dos_time, dos_date, crc, compressed, size)
            trailer = b""
        else:
            header = (flags | DATA_DESCRIPTOR, DEFLATED, dos_time, dos_date, 0, 0, 0)
            trailer = DESCRIPTOR.pack(0x08074B50, crc, compressed, size)
        head = LOCAL_HEADER.pack(b"PK\x03\x04", VERSION, 0, *header, len(encoded), 0) + encoded
        self.out.write(head)
        self.out.writelines(data)
        self.out.write(trailer)
        self.offset += len(head) + compressed + len(trailer)
        self._record(encoded, header[0], crc, compressed, size, dos_time, dos_date, at)

    def _record(
        self, name: bytes, flags: int, crc: int, compressed: int, size: int, dos_time: int, dos_date: int, at: int
    ) -> None:
        """The member's central-directory record, to the temporary file."""
        version, extra = VERSION, b""
        if at > ZIP64_LIMIT:
            version, extra, at = ZIP64_VERSION, ZIP64_OFFSET.pack(1, 8, at), 0xFFFFFFFF
        record = CENTRAL_RECORD.pack(
            b"PK\x01\x02", version, UNIX, version, 0, flags, DEFLATED, dos_time, dos_date, crc, compressed, size,
            len(name), len(extra), 0, 0, 0, MODE_0600, at,
        )  # fmt: skip
        self.directory.write(record + name + extra)
        self.directory_size += len(record) + len(name) + len(extra)
        self.members += 1

    def close(self) -> None:
        """The central directory and the end records; the output is left open."""
        start = self.offset
        self.directory.seek(0)
        shutil.copyfileobj(self.directory, self.out)
        self.directory.close()
        count, size = self.members, self.directory_size
        if count > MEMBERS_LIMIT or start > ZIP64_LIMIT or size > ZIP64_LIMIT:
            self.out.write(END_64.pack(b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, size, start))
            self.out.write(END_64_LOCATOR.pack(b"PK\x06\x07", 0, start + size, 1))
            count, size, start = min(count, 0xFFFF), min(size, 0xFFFFFFFF), min(start, 0xFFFFFFFF)
        self.out.write(END.pack(b"PK\x05\x06", 0, 0, count, count, size, start, 0))
        self.out.flush()

    def __enter__(self) -> ZipWriter:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()
        else:
            self.directory.close()
