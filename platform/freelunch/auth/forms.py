from email_validator import EmailNotValidError, validate_email
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, ValidationError

from ..services.accounts import passwords
from ..web.forms import Form, at_most


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
    name = StringField("Your name", validators=[at_most(120, "A name")])
    email = EmailField(
        "Email", validators=[DataRequired("Give your email address."), usable_email, at_most(254, "An email address")]
    )
    organization = StringField(
        "Organization", validators=[DataRequired("Name your organization."), at_most(120, "An organization's name")]
    )
    password = PasswordField("Password", validators=[DataRequired("Choose a password."), strong_password])
    confirm = PasswordField("Repeat password", validators=[EqualTo("password", "Passwords do not match.")])


class InviteSignupForm(Form):
    name = StringField("Your name", validators=[at_most(120, "A name")])
    email = EmailField(
        "Email", validators=[DataRequired("Give your email address."), usable_email, at_most(254, "An email address")]
    )
    password = PasswordField("Password", validators=[DataRequired("Choose a password."), strong_password])


class PasswordChangeForm(Form):
    current = PasswordField("Current password", validators=[DataRequired("Give your current password.")])
    password = PasswordField("New password", validators=[DataRequired("Choose a new password."), strong_password])
    confirm = PasswordField("Repeat the new password", validators=[EqualTo("password", "Passwords do not match.")])
