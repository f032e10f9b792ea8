"""Forms and form checks that more than one blueprint draws: the base of every form (what it reads from a request),
the login form (the landing page and the login page) and the whole-cents check of money fields (the batch builder,
the MTurk tab, the daily limits of the MTurk account page and the admin page)."""

from __future__ import annotations

import re

from flask import abort, request
from flask_wtf import FlaskForm
from werkzeug.datastructures import ImmutableMultiDict
from wtforms import EmailField, FileField, PasswordField
from wtforms.validators import DataRequired, Email, Length, ValidationError

from ..services.mturk.errors import InvalidRequest
from ..services.mturk.validation import money

SUBMITTED = ("POST", "PUT", "PATCH", "DELETE")  # Flask-WTF reads the request only for these
_READ_THE_REQUEST = object()  # no formdata given: the form reads the request


def posted_fields(file_fields: frozenset[str] = frozenset()) -> ImmutableMultiDict | None:
    """What a form reads from the request: text for every field, an uploaded file only for ``file_fields``.

    Flask-WTF hands a field whatever the request holds under its name: a file part posted as the email, or any
    JSON value (an object, a list, null), which validators and views take for text and fail on with a 500. Here a
    JSON body must be an object of text, numbers, booleans or lists of them (numbers become their text, true "y",
    false and null nothing), and a file part counts only for a file field. None: the body is none of these.
    """
    if not request.files and not request.form and request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return None
        pairs: list[tuple[str, str]] = []
        for name, value in body.items():
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, bool):
                    pairs += [(name, "y")] if item else []
                elif isinstance(item, str | int | float) and "\x00" not in f"{name}{item}":  # as errors.py refuses
                    pairs.append((name, str(item)))
                elif item is not None:
                    return None
        return ImmutableMultiDict(pairs)
    files = [(name, f) for name, f in request.files.items(multi=True) if name in file_fields]
    return ImmutableMultiDict([*request.form.items(multi=True), *files])


# WTForms' own words for a check that failed ("Field cannot be longer than 120 characters.", "Not a valid choice."),
# in a requester's, naming the field ("{what}": its label, less any "(...)"). A form whose validator gives its own
# message never shows these; one that forgets (a new form, a new field) shows these instead of WTForms'.
# tests/web/test_form_messages.py feeds every field of every form bad input and fails on any WTForms default.
PLAIN_WORDS = {
    "This field is required.": "{What} is needed.",
    "Field cannot be longer than %(max)d character.": "{What} can be at most %(max)d character.",
    "Field cannot be longer than %(max)d characters.": "{What} can be at most %(max)d characters.",
    "Field must be at least %(min)d character long.": "{What} needs at least %(min)d character.",
    "Field must be at least %(min)d characters long.": "{What} needs at least %(min)d characters.",
    "Field must be exactly %(max)d character long.": "{What} must be exactly %(max)d character.",
    "Field must be exactly %(max)d characters long.": "{What} must be exactly %(max)d characters.",
    "Field must be between %(min)d and %(max)d characters long.": "{What} must be %(min)d to %(max)d characters.",
    "Number must be at least %(min)s.": "{What} must be at least %(min)s.",
    "Number must be at most %(max)s.": "{What} must be at most %(max)s.",
    "Number must be between %(min)s and %(max)s.": "{What} must be from %(min)s to %(max)s.",
    "Not a valid integer value.": "{What}: give a whole number, such as 12.",
    "Not a valid float value.": "{What}: give a number, such as 0.7.",
    "Not a valid decimal value.": "{What}: give a number, such as 0.25.",
    "Not a valid choice.": "{What}: choose one of the options shown.",
    "Invalid Choice: could not coerce.": "{What}: choose one of the options shown.",
    "Invalid choice(s): one or more data inputs could not be coerced.": "{What}: tick only the options shown.",
    "'%(value)s' is not a valid choice for this field.": "{What}: tick only the options shown.",
    "'%(value)s' are not valid choices for this field.": "{What}: tick only the options shown.",
    "Invalid email address.": "{What}: give an email address, such as name@example.org.",
    "Field must be equal to %(other_name)s.": "{What} must be the same as %(other_name)s.",
    "Invalid input.": "{What} is not written as expected.",
    "Invalid value, must be one of: %(values)s.": "{What} must be one of: %(values)s.",
    "Invalid value, can't be any of: %(values)s.": "{What} cannot be any of: %(values)s.",
}


def what_it_is(label: str) -> str:
    """A field's name as a message says it: its label less any "(...)" and trailing colon: "Title (shown to
    workers)" -> "Title"."""
    return re.sub(r"\s*\([^)]*\)", "", label).strip().rstrip(":").strip() or "This field"


class PlainWords:
    """The translations of one field (WTForms asks a field's ``gettext`` for its default messages): PLAIN_WORDS,
    naming the field; anything else (a default label) passes through the form's own translations."""

    def __init__(self, what: str, translations) -> None:
        self.what, self.translations = what, translations

    def gettext(self, string: str) -> str:
        plain = PLAIN_WORDS.get(string)
        if plain is None:
            return self.translations.gettext(string)
        return plain.replace("{What}", self.what[:1].upper() + self.what[1:])

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.gettext(singular if n == 1 else plural)


def at_most(characters: int, what: str) -> Length:
    """A text field's length limit with its message: ``at_most(120, "A batch name")`` says "A batch name can be at
    most 120 characters."."""
    return Length(max=characters, message=f"{what} can be at most {characters:,} characters.")


class Form(FlaskForm):
    """The base of every form of the app: Flask-WTF's, reading the request through ``posted_fields``; every field
    speaks PLAIN_WORDS where its validators give no message; a field whose text is not a number of its kind shows
    that one error."""

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form, formdata):
            if formdata is not _READ_THE_REQUEST:
                return formdata  # given by the view (None, request.args, ...)
            if request.method not in SUBMITTED:
                return None
            found = posted_fields(
                frozenset(name for name, field in form._fields.items() if isinstance(field, FileField))
            )
            if found is None:
                abort(400, "A form is posted as fields, or as a JSON object of text, numbers or lists of them.")
            return found

        def bind_field(self, form, unbound_field, options):
            field = super().bind_field(form, unbound_field, options)
            field._translations = PlainWords(what_it_is(field.label.text), field._translations)
            return field

    def __init__(self, formdata=_READ_THE_REQUEST, **kwargs):
        super().__init__(formdata=formdata, **kwargs)

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            if not field.process_errors:
                continue
            # "abc" in a number field: its validators then find no number and add their own complaint ("Must be
            # between 1 and 100") under the field's ("Not a valid integer value"), two errors for one mistake. Left
            # empty, the validators' is the one ("Give a number from 1 to 100").
            first = field.process_errors[0]
            if field.raw_data and str(field.raw_data[0]).strip():
                field.errors = [first]
            else:
                field.errors = [e for e in field.errors if e not in field.process_errors] or [first]
        return valid


class LoginForm(Form):
    email = EmailField(
        "Email",
        validators=[
            DataRequired("Give your email address."),
            Email("Give an email address, such as name@example.org."),
        ],
    )
    password = PasswordField("Password", validators=[DataRequired("Give your password.")])


def whole_cents(field, what: str = "The reward") -> None:
    """MTurk pays whole cents: refuse 1.005 instead of letting the database round it (a limit too: 0.001 is not $0).
    Quiet when the field's range refused the amount already: one error for one mistake."""
    if field.data is not None and not field.errors:
        try:
            money(field.data, what)
        except InvalidRequest as refused:
            raise ValidationError(str(refused)) from None
