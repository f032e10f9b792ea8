"""Image ids and class keys are keys: a control character in one (a tab, a line break, NUL, any other C0 or C1
control, U+2028 or U+2029) is a row error naming the character and where it is, in every way ids come in (CSV and
JSON Lines manifests, ZIPs, class files), and nothing of that row is stored. Before, tabs and line breaks passed
(a carriage return in an id then read back as a line feed from the ImageNet-AB export), a line break at either end
was silently stripped, and a ZIP's file names were not checked at all."""

import json
import unicodedata
import zipfile

import pytest
from factories import picture

from freelunch.models import Dataset, Image, ImageClass
from freelunch.services.imports import classes as imports
from freelunch.services.imports import images as image_imports

# (the character, how the error names it)
CHARACTERS = [
    ("\r", "a carriage return (U+000D)"),
    ("\n", "a line feed (U+000A)"),
    ("\t", "a tab (U+0009)"),
    ("\x00", "a NUL byte (U+0000)"),
    ("\x01", "U+0001"),
    ("\x1b", "an escape (U+001B)"),
    ("\x7f", "a delete (U+007F)"),
    ("\x85", "a next-line character (U+0085)"),
    ("\x9f", "U+009F"),
    ("\u2028", "a line separator (U+2028)"),
    ("\u2029", "a paragraph separator (U+2029)"),
]
IDS = [pytest.param(c, named, id=f"U+{ord(c):04X}") for c, named in CHARACTERS]


@pytest.fixture
def dataset(app, make_account):
    _, org = make_account("req@example.org", "Lab")
    dataset = Dataset.create(organization=org, name="ImageNet")
    ImageClass.create(organization=org, dataset=dataset, key="n01", names=["fish"])
    return dataset


def never_fetch(url):
    raise AssertionError(f"fetched {url} although the manifest gave its size")


def json_lines(tmp_path, *ids) -> object:
    path = tmp_path / "m.jsonl"
    rows = [
        {"image_id": key, "url": "https://img.example/a.jpg", "class": "n01", "width": 5, "height": 5} for key in ids
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))  # json.dumps writes each control as an escape
    return path


def test_check_identifier_refuses_exactly_control_characters_line_separators_and_surrogates():
    """KEY_CONTROL (and SURROGATE) are Unicode's Cc, Zl, Zp and Cs; check_text, for free text, still lets tab, line
    feed and carriage return through."""
    for code in range(0x110000):
        c = chr(code)
        category = unicodedata.category(c)
        try:
            imports.check_identifier(f"n01/{c}", "image id", 255)
            assert category not in ("Cc", "Zl", "Zp", "Cs"), hex(code)
        except ValueError as error:
            assert category in ("Cc", "Zl", "Zp", "Cs"), f"{hex(code)}: {error}"
    for c in "\t\n\r":
        assert imports.check_text(f"chien{c}de garde", "name", 200) == f"chien{c}de garde"


@pytest.mark.parametrize("c, named", IDS)
def test_json_lines_image_id_with_a_control_character_is_a_row_error(dataset, tmp_path, c, named):
    report = image_imports.import_image_manifest(
        dataset, json_lines(tmp_path, "n01/ok", f"n01/ab{c}cd", f"n01/end{c}"), fetcher=never_fetch
    )
    assert report.errors == [
        ("line 2", f"the image id may not contain control characters: {named} at character 7"),
        ("line 3", f"the image id may not contain control characters: {named} at character 8"),
    ]
    assert [key for (key,) in Image.select(Image.key).tuples()] == ["n01/ok"]


@pytest.mark.parametrize("c, named", IDS)
def test_csv_image_id_with_a_control_character_is_a_row_error(dataset, tmp_path, c, named):
    path = tmp_path / "m.csv"
    # The bad row last: a quoted line break makes its record end a line later than it starts.
    path.write_bytes(
        (
            "image_id,url,class,width,height\r\n"
            "n01/ok,https://img.example/a.jpg,n01,5,5\r\n"
            f'"n01/ab{c}cd",https://img.example/b.jpg,n01,5,5\r\n'
        ).encode()
    )
    report = image_imports.import_image_manifest(dataset, path, fetcher=never_fetch)
    assert [message for _, message in report.errors] == [
        f"the image id may not contain control characters: {named} at character 7"
    ]
    assert [key for (key,) in Image.select(Image.key).tuples()] == ["n01/ok"]


def test_manifest_ids_keep_their_rules_for_spaces_surrogates_and_length(dataset, tmp_path):
    """Spaces around an id are still stripped; a JSON lone surrogate and an id over 255 characters are row errors,
    the id of 255 characters is kept."""
    longest = "n01/" + "x" * 251
    path = json_lines(tmp_path, "  n01/spaced  ", "n01/\ud800", longest, longest + "y")
    report = image_imports.import_image_manifest(dataset, path, fetcher=never_fetch)
    assert report.errors == [
        ("line 2", "the image id is not valid text (a lone surrogate, or bytes that are not UTF-8)"),
        ("line 4", "the image id is longer than 255 characters"),
    ]
    assert sorted(key for (key,) in Image.select(Image.key).tuples()) == ["n01/spaced", longest]


def test_a_manifest_class_key_with_a_control_character_is_a_row_error(dataset, tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps({"image_id": "n01/a", "url": "https://img.example/a.jpg", "class": "n0\r1"}) + "\n")
    report = image_imports.import_image_manifest(dataset, path, fetcher=never_fetch, create_classes=True)
    assert report.errors == [
        ("line 1", "the class may not contain control characters: a carriage return (U+000D) at character 3")
    ]
    assert Image.select().count() == 0 and ImageClass.select().count() == 1


# zipfile cuts a name at a NUL (ZipInfo), so no ZIP's name holds one.
@pytest.mark.parametrize("c, named", [p for p in IDS if p.values[0] != "\x00"])
def test_a_zip_file_name_with_a_control_character_is_an_error_for_that_file(app, dataset, tmp_path, c, named):
    """The image id of a ZIP's file is its folder and its name: the name was not checked at all (a file name of 300
    characters, or with a carriage return, became an image id)."""
    path = tmp_path / "images.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("n01/ok.png", picture())
        archive.writestr(f"n01/ab{c}cd.png", picture())
        archive.writestr(f"n01/{'x' * 252}.png", picture())
    with app.app_context():
        report = image_imports.import_image_zip(dataset, path)
    assert dict(report.errors) == {
        f"n01/ab{c}cd.png": f"the image id may not contain control characters: {named} at character 7",
        f"n01/{'x' * 252}.png": "the image id is longer than 255 characters",
    }
    assert [key for (key,) in Image.select(Image.key).tuples()] == ["n01/ok"]


@pytest.mark.parametrize("c, named", IDS)
def test_a_class_key_with_a_control_character_is_a_row_error(dataset, c, named):
    """In a class CSV and in class_info.json; at either end too (a wnid "n02\\n" was stripped to n02)."""
    report = imports.import_classes_csv(dataset, f'key,names\r\nn02,dog\r\n"n0{c}3",cat\r\n'.encode(), progress=None)
    assert [message for _, message in report.errors] == [
        f"the key may not contain control characters: {named} at character 3"
    ]
    entries = [{"wnid": "n04", "synset": ["eel"]}, {"wnid": f"n05{c}", "synset": ["carp"]}]
    report = imports.import_classes_json(dataset, json.dumps(entries).encode())
    assert report.errors == [("class 2", f"the wnid may not contain control characters: {named} at character 4")]
    assert sorted(key for (key,) in ImageClass.select(ImageClass.key).tuples()) == ["n01", "n02", "n04"]


def test_class_names_and_descriptions_keep_tabs_and_line_breaks_and_name_other_controls(dataset):
    data = b'key,names,description\r\nn02,"dog",a\tb\r\nn03,"cat\x01",x\r\n'
    report = imports.import_classes_csv(dataset, data)
    assert report.errors == [("line 3", "the name may not contain control characters: U+0001 at character 4")]
    assert ImageClass.get(ImageClass.key == "n02").description == "a\tb"
