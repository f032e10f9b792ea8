"""Forms and form checks that more than one blueprint draws: the base of every form (what it reads from a request),
the login form (the landing page and the login page) and the whole-cents check of money fields (the batch builder,
the MTurk tab, the daily limits of the MTurk account page and the admin page)."""

from __future__ import annotations

from flask import abort, request
from flask_wtf import FlaskForm
from werkzeug.datastructures import ImmutableMultiDict
from wtforms import EmailField, FileField, PasswordField
from wtforms.validators import DataRequired, Email, ValidationError

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


# WTForms' words for text a number field cannot read, in a requester's ("float" is a programmer's word).
UNREADABLE = {
    "Not a valid integer value.": "Give a whole number, such as 12.",
    "Not a valid float value.": "Give a number, such as 0.7.",
}


class Form(FlaskForm):
    """The base of every form of the app: Flask-WTF's, reading the request through ``posted_fields``; a field whose
    text is not a number of its kind shows that one error."""

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
                field.errors = [UNREADABLE.get(first, first)]
            else:
                field.errors = [e for e in field.errors if e not in field.process_errors] or [
                    UNREADABLE.get(first, first)
                ]
        return valid


class LoginForm(Form):
    email = EmailField("Email", validators=[DataRequired(), Email()])
    password = PasswordField("Password", validators=[DataRequired()])


def whole_cents(field, what: str = "The reward") -> None:
    """MTurk pays whole cents: refuse 1.005 instead of letting the database round it (a limit too: 0.001 is not $0).
    Quiet when the field's range refused the amount already: one error for one mistake."""
    if field.data is not None and not field.errors:
        try:
            money(field.data, what)
        except InvalidRequest as refused:
            raise ValidationError(str(refused)) from None
