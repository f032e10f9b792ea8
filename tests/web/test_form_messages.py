"""No form says WTForms' own words ("Field cannot be longer than 120 characters.", "Not a valid choice.", "This field
is required."): every check names the field in a requester's words, its own message or web/forms.PLAIN_WORDS."""

from __future__ import annotations

import re
from pathlib import Path

import flask_wtf
import wtforms
from support import form_classes
from werkzeug.datastructures import MultiDict
from wtforms import StringField
from wtforms.validators import DataRequired, Length, NumberRange

from freelunch.web.forms import PLAIN_WORDS, Form

# Every message WTForms or Flask-WTF writes itself: the strings their code hands to gettext/ngettext (an explicit
# message never goes through it), read from their source so that a new version's new words are checked too.
_GETTEXT = re.compile(r'gettext\(\s*((?:"[^"]*"\s*,?\s*)+)')


def _library_messages() -> list[str]:
    found: set[str] = set()
    for package in (wtforms, flask_wtf):
        for path in Path(package.__file__).parent.rglob("*.py"):
            for call in _GETTEXT.finditer(path.read_text()):
                found |= {m for m in re.findall(r'"([^"]*)"', call.group(1)) if " " in m}  # not a default label
    return sorted(found)


def _pattern(message: str) -> re.Pattern:
    """A library message with its placeholders (%(max)d, %s, {extensions}) matching any text."""
    return re.compile(re.sub(r"%\\\(\w+\\\)[sd]|%s|\\\{\w+\\\}", ".*", re.escape(message)))


LIBRARY = [_pattern(m) for m in _library_messages()]


def _library_words(error: str) -> bool:
    return any(pattern.fullmatch(error) for pattern in LIBRARY)


def _bad_values(field) -> list[list[str]]:
    """What a forged or careless post puts in a field: nothing, blanks, words, a number far out of any range, minus,
    a choice no list has, two of them, and text one character past the field's longest length."""
    longest = max((v.max for v in field.validators if isinstance(v, Length) and v.max >= 0), default=300)
    return [
        [""],
        ["   "],
        ["no such thing"],
        ["-99999999999"],
        ["99999999999"],
        ["-3"],
        ["0"],
        ["3.5"],
        ["zz", "yy"],
        ["x" * (longest + 1)],
    ]


def test_the_catalogue_of_library_words_is_read(app):
    assert len(LIBRARY) > 20
    for message in ("Field cannot be longer than 120 characters.", "Not a valid choice.", "This field is required."):
        assert _library_words(message), message
    assert all(_library_words(m) for m in PLAIN_WORDS)  # every word replaced is one the libraries write
    assert not _library_words("A batch name can be at most 120 characters.")


def test_no_form_shows_a_wtforms_default_message_for_any_bad_input(app):
    """The walk found "Field cannot be longer than 120 characters." (and "Not a valid choice.") on many forms: every
    field of every form of the app, given each bad value, says what is wrong in words naming the field."""
    forms = form_classes(app)
    assert len(forms) > 25
    checked, said = 0, set()
    with app.test_request_context(method="POST"):
        for form_class in forms:
            fields = form_class(formdata=None, meta={"csrf": False})._fields
            for name, field in fields.items():
                for values in _bad_values(field):
                    form = form_class(formdata=MultiDict([(name, v) for v in values]), meta={"csrf": False})
                    for each in form:
                        if getattr(each, "choices", ()) is None:
                            each.choices = []  # set by the view
                    form.validate()
                    for errors in form.errors.values():
                        for error in errors:
                            assert not _library_words(error), (form_class.__name__, name, values[0][:20], error)
                            said.add(error)
                    checked += 1
    assert checked > 800
    assert "A batch name can be at most 120 characters." in said
    assert "Give a whole number of assignments from 1 to 100." in said


def test_a_new_form_that_gives_no_messages_still_speaks_plainly_naming_its_fields(app):
    """A form written later with WTForms' bare validators: the base form names each field in its messages."""

    class Survey(Form):
        city = StringField("City (where you live)", validators=[DataRequired(), Length(max=5)])
        street = StringField("street name", validators=[Length(min=2, max=4)])
        age = wtforms.IntegerField("Age", validators=[NumberRange(1, 120)])
        colour = wtforms.SelectField("Colour", choices=["red"])

    with app.test_request_context(method="POST"):
        form = Survey(formdata=MultiDict({"city": "Amsterdam", "street": "x", "age": "200", "colour": "blue"}))
        form.meta.csrf = False
        form.validate()
        assert form.errors["city"] == ["City can be at most 5 characters."]
        assert form.errors["street"] == ["Street name must be 2 to 4 characters."]
        assert form.errors["age"] == ["Age must be from 1 to 120."]
        assert form.errors["colour"] == ["Colour: choose one of the options shown."]
        empty = Survey(formdata=MultiDict({"age": "many"}))
        empty.validate()
        assert empty.errors["city"] == ["City is needed."]
        assert empty.errors["age"] == ["Age: give a whole number, such as 12."]
