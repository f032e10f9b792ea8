"""Forms and form checks that more than one blueprint draws: the login form (the landing page and the login page)
and the whole-cents check of money fields (the batch builder and the MTurk tab)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Email, ValidationError

from ..services.mturk.errors import InvalidRequest
from ..services.mturk.validation import money


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Email()])
    password = PasswordField("Password", validators=[DataRequired()])


def whole_cents(field) -> None:
    """MTurk pays whole cents: refuse 1.005 instead of letting the database round it."""
    if field.data is not None:
        try:
            money(field.data, "The reward")
        except InvalidRequest as refused:
            raise ValidationError(str(refused)) from None
