from email_validator import EmailNotValidError, validate_email
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from ..services.accounts import passwords
from ..web.forms import Form


def strong_password(form, field) -> None:
    """The password policy of services/accounts/passwords.py, as a form error."""
    email = form.email.data if hasattr(form, "email") else ""
    message = passwords.problem(field.data or "", email or "")
    if message:
        raise ValidationError(message)


def usable_email(form, field) -> None:
    """The check of WTForms' Email() (and create_user's), with its reason: Email() said only "Invalid email address."
    to a new user whose address was refused for its reserved domain (name@lab.test) or a missing @."""
    try:
        validate_email(field.data or "", check_deliverability=False)
    except EmailNotValidError as error:
        raise ValidationError(f"{error} Check the address, or use another.") from None


class SignupForm(Form):
    name = StringField("Your name", validators=[Length(max=120)])
    email = EmailField("Email", validators=[DataRequired(), usable_email, Length(max=254)])
    organization = StringField("Organization", validators=[DataRequired(), Length(max=120)])
    password = PasswordField("Password", validators=[DataRequired(), strong_password])
    confirm = PasswordField("Repeat password", validators=[EqualTo("password", "Passwords do not match.")])


class InviteSignupForm(Form):
    name = StringField("Your name", validators=[Length(max=120)])
    email = EmailField("Email", validators=[DataRequired(), usable_email, Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), strong_password])


class PasswordChangeForm(Form):
    current = PasswordField("Current password", validators=[DataRequired()])
    password = PasswordField("New password", validators=[DataRequired(), strong_password])
    confirm = PasswordField("Repeat the new password", validators=[EqualTo("password", "Passwords do not match.")])
