"""Class and image imports (services): good rows land, bad rows are reported with their place, unsafe input is
refused."""

import json
import stat
import threading
import zipfile

import peewee
import pytest
from factories import picture
from rq.timeouts import JobTimeoutException

from freelunch import storage
from freelunch.datasets.forms import ImageImportForm
from freelunch.models import Candidate, ClassRoleCount, Dataset, DatasetImageCount, Image, ImageClass
from freelunch.presets import IMAGENET_1K
from freelunch.services.imports import classes as imports
from freelunch.services.imports import hashing
from freelunch.services.imports import images as image_imports
from freelunch.services.imports.classes import ImportFailure


@pytest.fixture
def dataset(app, make_account):
    _, org = make_account("req@example.org", "Lab")
    return Dataset.create(organization=org, name="ImageNet")


def add_class(dataset, key, names=None):
    return ImageClass.create(organization=dataset.organization_id, dataset=dataset, key=key, names=names or [key])


# --- classes --------------------------------------------------------------


def test_imagenetv2_class_info_and_wikipedia_pages(dataset):
    report = imports.import_classes_json(dataset, IMAGENET_1K.classes(), IMAGENET_1K.wikipedia())
    assert report.error_count == 0
    assert report.counts["classes created"] == 1000
    tench = ImageClass.get(ImageClass.dataset == dataset, ImageClass.key == "n01440764")
    assert tench.names == ["tench", "Tinca tinca"]
    assert tench.description.startswith("freshwater dace-like game fish")
    assert tench.wikipedia == ["https://en.wikipedia.org/wiki/Tench"]

    again = imports.import_classes_json(dataset, IMAGENET_1K.classes())
    assert again.counts == {"classes updated": 1000}
    # Without a wikipedia file the links already imported stay.
    assert ImageClass.get(ImageClass.key == "n01440764").wikipedia == ["https://en.wikipedia.org/wiki/Tench"]


def test_class_json_reports_bad_entries_and_keeps_good_ones(dataset):
    entries = [
        {"cid": 0, "wnid": "n01", "synset": ["fish"], "gloss": "a fish"},
        {"cid": 1, "synset": ["no wnid"], "gloss": ""},
        {"cid": 2, "wnid": "n02", "synset": [], "gloss": ""},
        {"cid": 3, "wnid": "n01", "synset": ["again"], "gloss": ""},
        "not an object",
        {"cid": 5, "wnid": "n03", "synset": "single name", "gloss": "ok"},
    ]
    wikipedia = {"n01": ["https://en.wikipedia.org/wiki/Fish"], "n03": ["javascript:alert(1)"]}
    report = imports.import_classes_json(dataset, json.dumps(entries).encode(), json.dumps(wikipedia).encode())
    assert report.counts["classes created"] == 2
    assert [where for where, _ in report.errors] == [
        "wikipedia_pages.json n03",
        "class 2",
        "class 3",
        "class 4",
        "class 5",
    ]
    assert "wnid is missing" in dict(report.errors)["class 2"]
    assert "appears twice" in dict(report.errors)["class 4"]
    assert ImageClass.get(ImageClass.key == "n03").names == ["single name"]


@pytest.mark.parametrize(
    "data, message",
    [
        (b"{not json", "not valid JSON"),
        (b'{"n01": {}}', "must be a JSON list"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_unreadable_class_json_is_refused_with_a_reason(dataset, data, message):
    with pytest.raises(ImportFailure, match=message):
        imports.import_classes_json(dataset, data)


def test_class_csv(dataset):
    data = (
        "Key,Names,Description,Wikipedia\n"
        'n01440764,"tench, Tinca tinca",a fish,https://en.wikipedia.org/wiki/Tench\n'
        "n02,goldfish; Carassius auratus,,https://a.example/1 https://a.example/2\n"
        ",nameless,,\n"
        "n03,,no names,\n"
        "n04,bad link,,ftp://example.org/x\n"
    ).encode("utf-8-sig")
    report = imports.import_classes_csv(dataset, data)
    assert report.counts["classes created"] == 2
    assert [where for where, _ in report.errors] == ["line 4", "line 5", "line 6"]
    assert ImageClass.get(ImageClass.key == "n01440764").names == ["tench", "Tinca tinca"]
    goldfish = ImageClass.get(ImageClass.key == "n02")
    assert goldfish.names == ["goldfish", "Carassius auratus"]
    assert goldfish.wikipedia == ["https://a.example/1", "https://a.example/2"]


def test_class_csv_without_the_needed_columns(dataset):
    with pytest.raises(ImportFailure, match="missing: names"):
        imports.import_classes_csv(dataset, b"key,description\nn01,x\n")


# --- image manifests ------------------------------------------------------


def write(tmp_path, name, text) -> object:
    path = tmp_path / name
    path.write_text(text)
    return path


def refuse_fetch(url):
    raise AssertionError(f"fetched {url} although the manifest gave its size")


def test_manifest_csv_with_sizes_needs_no_fetch(dataset, tmp_path):
    add_class(dataset, "n01")
    add_class(dataset, "n02")
    manifest = write(
        tmp_path,
        "m.csv",
        (
            "image_id,url,class,role,width,height\n"
            "n01/a,https://img.example/a.jpg,n01,candidate,500,375\n"
            "n01/b,https://img.example/b.jpg,n01,positive control,10,20\n"
            "n01/a,https://img.example/a.jpg,n02,negative,500,375\n"
            "n01/c,https://img.example/c.jpg,n09,candidate,1,1\n"
            "n01/d,file:///etc/passwd,n01,,1,1\n"
            "n01/e,https://img.example/e.jpg,n01,maybe,1,1\n"
            ",https://img.example/f.jpg,n01,,1,1\n"
            "n01/g,https://img.example/g.jpg,n01,,wide,1\n"
        ),
    )
    report = image_imports.import_image_manifest(dataset, manifest, fetcher=refuse_fetch)
    assert report.counts["images created"] == 2
    errors = dict(report.errors)
    assert set(errors) == {"line 5", "line 6", "line 7", "line 8", "line 9"}
    assert "unknown class 'n09'" in errors["line 5"]
    # the checkbox named as the dataset page labels it, so a requester can find it
    assert f"tick '{ImageImportForm.create_classes.args[0].split(' (')[0]}'" in errors["line 5"]
    assert "only http and https" in errors["line 6"]
    assert "role 'maybe'" in errors["line 7"]
    assert "image id is missing" in errors["line 8"]
    assert "whole numbers" in errors["line 9"]
    a = Image.get(Image.key == "n01/a")
    assert (a.width, a.height, a.url) == (500, 375, "https://img.example/a.jpg")
    roles = {(c.image.key, c.image_class.key): c.role for c in Candidate.select()}
    assert roles == {("n01/a", "n01"): "candidate", ("n01/b", "n01"): "positive", ("n01/a", "n02"): "negative"}


def test_manifest_json_lines_probes_each_url_once_and_reports_failures(dataset, tmp_path):
    fetched = []
    bodies = {
        "https://img.example/a.png": picture(size=(640, 480)),
        "https://img.example/t.txt": b"hello",
        "https://img.example/b.tif": picture("TIFF"),
    }

    def fetcher(url):
        fetched.append(url)
        if url not in bodies:
            raise image_imports.safe_fetch.FetchError("the server answered HTTP 404")
        return bodies[url]

    lines = [
        {"image_id": "x/1", "url": "https://img.example/a.png", "class": "x"},
        {"image_id": "x/1", "url": "https://img.example/a.png", "class": "y", "role": "positive"},
        {"image_id": "x/2", "url": "https://img.example/missing.png", "class": "x"},
        {"image_id": "x/3", "url": "https://img.example/t.txt", "class": "x"},
        {"image_id": "x/4", "url": "https://img.example/b.tif", "class": "x"},
    ]
    manifest = write(tmp_path, "m.jsonl", "\n".join(json.dumps(line) for line in lines) + "\n\n{broken\n")
    report = image_imports.import_image_manifest(dataset, manifest, create_classes=True, fetcher=fetcher)
    assert sorted(fetched) == sorted(set(fetched)) and len(fetched) == 4
    assert report.counts["classes created"] == 2
    assert report.counts["images created"] == 1
    errors = dict(report.errors)
    assert "HTTP 404" in errors["line 3"]
    assert "not an image" in errors["line 4"]
    assert "TIFF images do not show in browsers" in errors["line 5"]
    assert "not valid JSON" in errors["line 7"]
    image = Image.get(Image.key == "x/1")
    assert (image.width, image.height) == (640, 480)
    assert (image.phash, bytes(image.edge_phashes)) == hashing.hashes_of_bytes(bodies["https://img.example/a.png"])
    assert image.candidacies.count() == 2


def test_manifest_phash_beside_the_size_is_kept_and_checked(dataset, tmp_path):
    add_class(dataset, "n01")
    manifest = write(
        tmp_path,
        "m.csv",
        (
            "image_id,url,class,width,height,phash\n"
            "n01/a,https://img.example/a.jpg,n01,500,375,ffd8c0a0b0e0f001\n"
            "n01/b,https://img.example/b.jpg,n01,500,375,\n"
            "n01/c,https://img.example/c.jpg,n01,500,375,not-a-hash\n"
            "n01/d,https://img.example/d.jpg,n01,,,0000000000000001\n"
        ),
    )
    report = image_imports.import_image_manifest(dataset, manifest, fetcher=refuse_fetch)
    assert report.counts["images created"] == 2
    errors = dict(report.errors)
    assert "not 16 hexadecimal digits" in errors["line 4"]
    assert "needs width and height" in errors["line 5"]
    a = Image.get(Image.key == "n01/a")
    assert hashing.to_hex(a.phash) == "ffd8c0a0b0e0f001" and a.phash < 0  # the top bit set: stored signed
    assert a.edge_phashes is None  # the search matches it on its whole-picture hash alone
    assert Image.get(Image.key == "n01/b").phash is None


def test_manifest_sizes_that_are_not_whole_numbers_are_row_errors(dataset, tmp_path):
    """NaN and 1e400 (infinity, which crashed the import once) as sizes are the row's error; 10.0 is 10."""
    add_class(dataset, "n01")
    row = '"url": "https://img.example/x.jpg", "class": "n01"'
    lines = [
        f'{{"image_id": "n01/a", {row}, "width": NaN, "height": 10}}',
        f'{{"image_id": "n01/b", {row}, "width": 1e400, "height": 10}}',
        f'{{"image_id": "n01/c", {row}, "width": 10.0, "height": 1e1}}',
    ]
    manifest = write(tmp_path, "m.jsonl", "\n".join(lines) + "\n")
    report = image_imports.import_image_manifest(dataset, manifest, fetcher=refuse_fetch)
    errors = dict(report.errors)
    assert set(errors) == {"line 1", "line 2"} and all("whole numbers" in e for e in errors.values())
    assert [(image.key, image.width, image.height) for image in Image.select()] == [("n01/c", 10, 10)]


def test_manifest_in_chunks_upserts_new_and_known_images_and_reports_in_line_order(dataset, tmp_path, monkeypatch):
    """Chunks of 2 good rows, read ahead by a thread: a chunk with new and known images (known ones updated, their
    candidacies upserted), a key met again in a later chunk, more bad rows in a row than a chunk holds; the errors
    come in the manifest's order, and the kept counts match a recount."""
    monkeypatch.setattr(image_imports, "MANIFEST_CHUNK", 2)
    add_class(dataset, "n01")
    add_class(dataset, "n02")
    header = "image_id,url,class,role,width,height\n"
    image_imports.import_image_manifest(
        dataset,
        write(tmp_path, "first.csv", header + "n01/a,https://img.example/a.jpg,n01,candidate,10,10\n"),
        fetcher=refuse_fetch,
    )
    manifest = write(
        tmp_path,
        "m.csv",
        header
        + "n01/a,https://img.example/a2.jpg,n01,positive,20,20\n"  # known: updated, its candidacy's role too
        + "n01/b,https://img.example/b.jpg,n01,candidate,30,30\n"
        + "n01/c,https://img.example/c.jpg,n09,candidate,1,1\n"  # an unknown class: refused when stored
        + "n01/d,https://img.example/d.jpg,n01,maybe,1,1\n"
        + "n01/e,https://img.example/e.jpg,n01,maybe,1,1\n"
        + "n01/f,https://img.example/f.jpg,n01,maybe,1,1\n"
        + "n01/b,https://img.example/b.jpg,n02,negative,40,40\n"  # made a chunk before: updated, a new candidacy
        + "n01/g,https://img.example/g.jpg,n01,candidate,50,50\n",
    )
    report = image_imports.import_image_manifest(dataset, manifest, fetcher=refuse_fetch)
    assert (report.counts["images created"], report.counts["images updated"]) == (2, 2)
    # line 4 is refused when its chunk is stored, after lines 5-7 were read: told in line order all the same
    assert [where for where, _ in report.errors] == ["line 4", "line 5", "line 6", "line 7"]
    sizes = {image.key: (image.url, image.width) for image in Image.select()}
    assert sizes == {
        "n01/a": ("https://img.example/a2.jpg", 20),
        "n01/b": ("https://img.example/b.jpg", 40),
        "n01/g": ("https://img.example/g.jpg", 50),
    }
    roles = {(c.image.key, c.image_class.key): c.role for c in Candidate.select()}
    assert roles == {
        ("n01/a", "n01"): "positive",
        ("n01/b", "n01"): "candidate",
        ("n01/b", "n02"): "negative",
        ("n01/g", "n01"): "candidate",
    }
    assert DatasetImageCount.of([dataset.id])[dataset.id] == 3
    kept = {(c.image_class.key, c.role): c.n for c in ClassRoleCount.select() if c.n}
    assert kept == {("n01", "positive"): 1, ("n01", "candidate"): 2, ("n02", "negative"): 1}


def test_manifest_that_breaks_midway_keeps_the_chunks_before(dataset, tmp_path, monkeypatch):
    """An error the reader thread meets (a CSV field past the csv module's limit) ends the import as before: the
    chunks before it are stored, the job says where it stopped."""
    monkeypatch.setattr(image_imports, "MANIFEST_CHUNK", 2)
    add_class(dataset, "n01")
    rows = [f"n01/{n},https://img.example/{n}.jpg,n01,10,10\n" for n in range(4)]
    manifest = write(tmp_path, "m.csv", "image_id,url,class,width,height\n" + "".join(rows) + "x" * 200_000 + "\n")
    with pytest.raises(ImportFailure, match="cannot be read past line 5"):
        image_imports.import_image_manifest(dataset, manifest, fetcher=refuse_fetch)
    assert sorted(image.key for image in Image.select()) == ["n01/0", "n01/1", "n01/2", "n01/3"]


def _manifest_of(tmp_path, n):
    rows = "".join(f"n01/{i},https://img.example/{i}.jpg,n01,candidate,10,10\n" for i in range(n))
    return write(tmp_path, "m.csv", "image_id,url,class,role,width,height\n" + rows)


def _reader_threads():
    return [thread.name for thread in threading.enumerate() if thread.name == "manifest-reader"]


def _kept_counts_match(dataset):
    """The kept figures (triggers) agree with a recount: no chunk was stored in part."""
    assert DatasetImageCount.of([dataset.id])[dataset.id] == Image.select().count()
    assert sum(c.n for c in ClassRoleCount.select()) == Candidate.select().count()


def test_manifest_chunks_start_small_and_double(dataset, tmp_path, monkeypatch):
    """The first chunk is small, so the database starts early; each next one is twice as large, up to
    MANIFEST_CHUNK; the last has the rest."""
    monkeypatch.setattr(image_imports, "FIRST_CHUNK", 2)
    monkeypatch.setattr(image_imports, "MANIFEST_CHUNK", 8)
    chunks = list(image_imports._manifest_chunks(dataset, _manifest_of(tmp_path, 30)))
    assert [len(chunk.rows) for chunk in chunks] == [2, 4, 8, 8, 8, 0]  # the last one has the rest: none here
    assert [chunk.done for chunk in chunks] == [2, 6, 14, 22, 30, 30]


def test_a_manifest_import_stopped_midway_keeps_whole_chunks_and_stops_its_reader(dataset, tmp_path, monkeypatch):
    """A job stopped while the reader thread prepares the next chunks (RQ's timeout raises in the job's thread, here
    from its progress report after the second chunk): the chunks stored so far stay, each whole, nothing after them
    is stored, and the reader thread is gone when the import has ended."""
    monkeypatch.setattr(image_imports, "MANIFEST_CHUNK", 2)
    add_class(dataset, "n01")
    reports = []

    def progress(fraction, message=""):
        reports.append(fraction)
        if len(reports) == 2:
            raise JobTimeoutException("Task exceeded maximum timeout value")

    with pytest.raises(JobTimeoutException):
        image_imports.import_image_manifest(
            dataset, _manifest_of(tmp_path, 10), fetcher=refuse_fetch, progress=progress
        )
    assert sorted(image.key for image in Image.select()) == ["n01/0", "n01/1", "n01/2", "n01/3"]
    assert Candidate.select().count() == 4
    _kept_counts_match(dataset)
    assert _reader_threads() == []


def test_a_chunk_the_database_refuses_is_rolled_back_whole_and_fails_the_import(dataset, tmp_path, monkeypatch):
    """A database error while a chunk is stored (here its candidacies name a class that does not exist, after its
    images went in) ends the import with that error: the chunk's images are rolled back with it, the chunks before
    stay, the reader thread stops."""
    monkeypatch.setattr(image_imports, "MANIFEST_CHUNK", 2)
    add_class(dataset, "n01")
    looked_up = image_imports._classes
    calls = []

    def classes(*args):
        calls.append(args)
        found = looked_up(*args)
        return {key: 999_999 for key in found} if len(calls) == 2 else found

    monkeypatch.setattr(image_imports, "_classes", classes)
    with pytest.raises(peewee.IntegrityError):
        image_imports.import_image_manifest(dataset, _manifest_of(tmp_path, 10), fetcher=refuse_fetch)
    assert sorted(image.key for image in Image.select()) == ["n01/0", "n01/1"]
    _kept_counts_match(dataset)
    assert _reader_threads() == []


def test_manifest_lines_are_read_as_json_reads_them(dataset, tmp_path):
    """Lines are decoded by msgspec, and those it refuses by json.loads as before: a lone surrogate is the image id's
    text error, a NaN size is not a whole number, a trailing comma has json's error in plain words; a 30-digit image id
    (a whole number msgspec reads too) is a key."""
    add_class(dataset, "n01")
    row = '"url": "https://img.example/x.jpg", "class": "n01"'
    lines = [
        f'{{"image_id": "n01/a", {row}, "width": 10, "height": 10}}',
        f'{{"image_id": "n01/\\ud800", {row}, "width": 10, "height": 10}}',
        f'{{"image_id": 123456789012345678901234567890, {row}, "width": 10, "height": 10}}',
        f'{{"image_id": "n01/d", {row}, "width": NaN, "height": 10}}',
        f'{{"image_id": "n01/e", {row}, "width": 10, "height": 10,}}',
    ]
    manifest = write(tmp_path, "m.jsonl", "\n".join(lines) + "\n")
    report = image_imports.import_image_manifest(dataset, manifest, fetcher=refuse_fetch)
    errors = dict(report.errors)
    assert set(errors) == {"line 2", "line 4", "line 5"}
    assert "image id is not valid text" in errors["line 2"] and "whole numbers" in errors["line 4"]
    assert errors["line 5"].startswith("not valid JSON (a name is not in double quotes, or a comma is left over")
    assert sorted(image.key for image in Image.select()) == ["123456789012345678901234567890", "n01/a"]


def test_manifest_needs_its_columns(dataset, tmp_path):
    with pytest.raises(ImportFailure, match="missing: url, class"):
        image_imports.import_image_manifest(
            dataset, write(tmp_path, "m.csv", "image_id,link\n1,2\n"), fetcher=refuse_fetch
        )


# --- ZIP archives ---------------------------------------------------------


def make_zip(path, entries: dict[str, bytes], links: tuple[str, ...] = ()):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return path


def test_zip_of_class_folders_is_stored_and_probed(app, dataset, tmp_path):
    add_class(dataset, "cat")
    archive = make_zip(
        tmp_path / "images.zip",
        {
            "cat/one.png": picture(size=(300, 200)),
            "cat/two.jpeg": picture("JPEG", (120, 90)),
            "cat/positive/p1.png": picture(),
            "cat/negative/n1.png": picture(),
            "cat/notes.txt": b"not an image",
            "cat/deep/er/x.png": picture(),
            "dog/d.png": picture(),
            "cat/.DS_Store": b"junk",
            "__MACOSX/cat/._one.png": b"junk",
            "loose.png": picture(),
        },
    )
    with app.app_context():
        report = image_imports.import_image_zip(dataset, archive)
        assert report.counts["images created"] == 4
        assert report.counts["hidden or system files skipped"] == 2
        errors = dict(report.errors)
        assert set(errors) == {"cat/notes.txt", "cat/deep/er/x.png", "dog/d.png", "loose.png"}
        assert "not an image" in errors["cat/notes.txt"]
        assert "unknown class 'dog'" in errors["dog/d.png"]
        assert "Create classes that do not exist yet" in errors["dog/d.png"]
        one = Image.get(Image.key == "cat/one")
        assert (one.width, one.height, one.url) == (300, 200, None)
        assert (one.phash, bytes(one.edge_phashes)) == hashing.hashes_of_bytes(picture(size=(300, 200)))
        assert storage.read(one.storage_path) == picture(size=(300, 200))
        assert one.storage_path.startswith(f"datasets/{dataset.id}/") and one.storage_path.endswith(".png")
        assert Image.get(Image.key == "cat/two").storage_path.endswith(".jpg")
        roles = {c.image.key: c.role for c in Candidate.select()}
        assert roles == {"cat/one": "candidate", "cat/two": "candidate", "cat/p1": "positive", "cat/n1": "negative"}


@pytest.mark.parametrize(
    "entries, links, reason",
    [
        ({"cat/ok.png": picture(), "../../evil.png": picture()}, (), "climbs out"),
        ({"cat/..\\..\\evil.png": picture()}, (), "climbs out"),
        ({"/etc/cron.d/evil.png": picture()}, (), "absolute path"),
        ({"C:/evil.png": picture()}, (), "absolute path"),
        ({"cat/ok.png": picture()}, ("cat/link.png",), "symbolic link"),
    ],
)
def test_unsafe_zip_is_refused_whole(app, dataset, tmp_path, entries, links, reason):
    add_class(dataset, "cat")
    archive = make_zip(tmp_path / "evil.zip", entries, links)
    with app.app_context(), pytest.raises(ImportFailure, match=reason) as refused:
        image_imports.import_image_zip(dataset, archive)
    assert "nothing was imported" in str(refused.value)
    assert Image.select().count() == 0
    assert not (tmp_path / "media").exists() or not any((tmp_path / "media").rglob("*.png"))


def test_a_file_that_is_not_a_zip(app, dataset, tmp_path):
    with app.app_context(), pytest.raises(ImportFailure, match="not a ZIP"):
        image_imports.import_image_zip(dataset, write(tmp_path, "x.zip", "plain text"))


def test_check_text_refuses_exactly_unicodes_control_and_surrogate_characters():
    """check_text's character ranges are Unicode's categories Cc (less tab, newline, carriage return) and Cs."""
    import unicodedata

    for code in range(0x110000):
        c = chr(code)
        category = unicodedata.category(c)
        refused = (category == "Cc" and c not in "\t\n\r") or category == "Cs"
        try:
            imports.check_text(f"n01/{c}", "image id", 255)
            assert not refused, hex(code)
        except ValueError as error:
            assert refused, f"{hex(code)}: {error}"


def test_an_import_summary_counts_as_the_dashboard_does():
    """One image is "1 image", a thousand classes "1,000 classes" (the job's card sat above "1,000 classes")."""
    report = imports.Report()
    report.counts.update({"classes created": 1000, "images created": 1, "candidate rows": 1, "positive rows": 2})
    report.counts["hidden or system files skipped"] = 1
    report.error("line 2", "bad")
    assert report.summary() == (
        "1 candidate row, 1,000 classes created, 1 hidden or system file skipped, 1 image created, 2 positive rows;"
        " 1 row with errors"
    )


def test_json_lines_errors_are_plain_and_listed_in_line_order(dataset, tmp_path):
    """The walk: a broken line said Python's "Expecting ',' delimiter: line 1 column 17 (char 16)", and the errors
    came out of line order (a chunk's unreadable lines first, then its unknown classes and failed fetches)."""
    add_class(dataset, "n01")

    def fetcher(url):
        raise image_imports.safe_fetch.FetchError("the server answered HTTP 404")

    lines = [
        '{"image_id": "a", "url": "https://img.example/a.png", "class": "n01", "width": 5, "height": 5}',
        '{"image_id": "b", "url": "https://img.example/missing.png", "class": "n01"}',
        '{"image_id": "c", "url": "https://img.example/c.png", "class": "n09", "width": 5, "height": 5}',
        '{"image_id": "d" "url": "https://img.example/d.png"}',
        '{"image_id": "e", "url": "https://img.example/e.png", "class": "n01", "role": "maybe"}',
        '{"image_id": "f", "url": "https://img.example/f.png",}',
        '{"image_id": "g", "url": "https://img.example/g.png", "class": "n01", "width": 5, "height": 5} x',
        "{'image_id': 'h'}",
    ]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    report = image_imports.import_image_manifest(dataset, manifest, fetcher=fetcher)
    assert [where for where, _ in report.errors] == [f"line {n}" for n in range(2, 9)]
    errors = dict(report.errors)
    assert errors["line 4"] == "not valid JSON (a comma or a closing brace is missing, near character 18)"
    assert errors["line 6"].startswith("not valid JSON (a name is not in double quotes, or a comma is left over")
    assert errors["line 7"].startswith("not valid JSON (more follows the end of the JSON, near character")
    assert errors["line 8"].startswith("not valid JSON (a name is not in double quotes")
    assert not any("Expecting" in message or "char " in message for message in errors.values())
    with pytest.raises(ImportFailure, match=r"is not valid JSON: a colon is missing after a name at line 2, character"):
        imports.import_classes_json(dataset, b'[\n{"wnid" "n01"}]')
