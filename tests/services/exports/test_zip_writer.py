"""services/exports/zip_writer.py writes the bytes ``zipfile`` writes, ZIP64 included, and zipfile reads them."""

import io
import tracemalloc
import zipfile
from collections import deque

from freelunch.services.exports import zip_writer
from freelunch.services.exports.zip_writer import ZipWriter

DATED = (2026, 12, 7, 6, 45, 30)  # a ZIP keeps seconds in twos


def _members(count: int):
    """(name, chunks) of small members, an empty one and one whose name is not ASCII among them."""
    yield "empty.txt", []
    yield "Annotations/n01440764/café_1.xml", [b"<annotation>", "é".encode(), b"</annotation>\n"]
    for n in range(count):
        yield f"Annotations/n{n % 7:08d}/image_{n}.xml", [b"<annotation>\n", b"<x>%d</x>" % n * (n % 5), b"\n"]


def _by_zipfile(out, members) -> None:
    """What the ImageNet-AB export wrote with zipfile: a dated member by writestr, the others by open(name, "w")."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("labels_of_record.txt", date_time=DATED)
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, "Images decided yes.\n")
        for name, chunks in members:
            with archive.open(name, "w") as member:
                for chunk in chunks:
                    member.write(chunk)


def _by_writer(out, members) -> None:
    with ZipWriter(out) as archive:
        archive.write("labels_of_record.txt", [b"Images decided yes.\n"], date_time=DATED)
        for name, chunks in members:
            archive.write(name, chunks)


def _both(count: int, wrap=lambda out: out) -> tuple[bytes, bytes]:
    expected, written = io.BytesIO(), io.BytesIO()
    _by_zipfile(wrap(expected), _members(count))
    _by_writer(wrap(written), _members(count))
    return expected.getvalue(), written.getvalue()


def test_the_bytes_are_zipfiles():
    expected, written = _both(20)
    assert written == expected
    with zipfile.ZipFile(io.BytesIO(written)) as archive:
        assert archive.testzip() is None
        assert archive.read("Annotations/n01440764/café_1.xml") == "<annotation>é</annotation>\n".encode()
        assert archive.getinfo("labels_of_record.txt").date_time == DATED


class _Pipe(io.RawIOBase):
    """An output that can neither tell nor seek, as stdout into a pipe (``freelunch export`` without -o)."""

    def __init__(self, sink: io.BytesIO):
        self.sink = sink

    def writable(self):
        return True

    def write(self, data):
        return self.sink.write(data)


def test_an_output_that_cannot_seek_gets_data_descriptors_as_from_zipfile():
    expected, written = io.BytesIO(), io.BytesIO()
    _by_zipfile(_Pipe(expected), _members(20))
    _by_writer(_Pipe(written), _members(20))
    assert written.getvalue() == expected.getvalue()
    with zipfile.ZipFile(io.BytesIO(written.getvalue())) as archive:
        assert archive.testzip() is None


def test_past_the_member_count_limit_the_end_records_are_zipfiles_zip64_ones(monkeypatch):
    """Past 65,535 members zipfile ends with ZIP64 end records; its limit and ours lowered to 5 here, so that the
    bytes are compared without writing 65,536 members twice."""
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 5)
    monkeypatch.setattr(zip_writer, "MEMBERS_LIMIT", 5)
    expected, written = _both(20)
    assert written == expected
    assert b"PK\x06\x06" in written[-100:]


def test_65536_members_are_read_back_by_zipfile():
    """ImageNet-AB at full size has 382,746 members, more than the end record's 16-bit count holds."""
    out = io.BytesIO()
    _by_writer(out, _members(65_536 - 3))
    (last, chunks), *_ = deque(_members(65_536 - 3), maxlen=1)
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        assert len(names) == 65_536 and names[-1] == last
        assert archive.read(last) == b"".join(chunks)


def test_members_past_2_gib_carry_zipfiles_zip64_offsets(tmp_path):
    """zipfile writes a ZIP64 offset for a member whose header starts past 2 GiB (ZIP64_LIMIT): files that begin
    there (sparse, so nothing is written before) get the same tails from both."""
    start = 1 << 31

    def tail(name, write) -> bytes:
        path = tmp_path / name
        with path.open("wb") as out:
            out.seek(start)
            write(out, _members(3))
        with path.open("rb") as written:
            written.seek(start)
            return written.read()

    written = tail("writer.zip", _by_writer)
    assert written == tail("zipfile.zip", _by_zipfile)
    assert b"PK\x06\x06" in written[-200:]
    with zipfile.ZipFile(tmp_path / "writer.zip") as archive:
        assert archive.read("Annotations/n00000002/image_2.xml") == b"<annotation>\n<x>2</x><x>2</x>\n"


def test_nothing_is_kept_in_memory_per_member(tmp_path):
    """zipfile held ~440 bytes a member to the end (a ZipInfo and a name entry): 170 MB at full size."""
    with (tmp_path / "many.zip").open("wb") as out, ZipWriter(out) as archive:
        members = _members(5_000)
        tracemalloc.start()
        try:
            for n, (name, chunks) in enumerate(members):
                archive.write(name, chunks)
                if n == 999:
                    after_1000 = tracemalloc.get_traced_memory()[0]
            grown = tracemalloc.get_traced_memory()[0] - after_1000
        finally:
            tracemalloc.stop()
    assert grown < 40_000  # 4,000 members more; zipfile's entries would be 1.7 MB
    with zipfile.ZipFile(tmp_path / "many.zip") as archive:
        assert len(archive.namelist()) == 5_002
