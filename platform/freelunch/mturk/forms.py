"""Forms of the MTurk tab: the batch's MTurk settings, publishing, extending, and an organization's AWS key pair."""

from __future__ import annotations

import re
from decimal import Decimal

from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectChoice,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp, ValidationError

from ..parsing import PlainDecimalField
from ..web.forms import Form, at_most, whole_cents

COUNTRY = re.compile(r"^[A-Z]{2}$")


class SettingsForm(Form):
    environment = RadioField(
        "Where to publish",
        choices=[
            SelectChoice("sandbox", "Sandbox (no money, test workers)"),
            SelectChoice("production", "Production (real workers, real money)"),
        ],
        invalid_choice_message="Choose where to publish: the sandbox or production.",
    )
    title = StringField(
        "Title (shown to workers)",
        validators=[DataRequired("Give the HITs a title."), at_most(128, "A HIT title on MTurk")],
    )
    description = TextAreaField(
        "Description", validators=[DataRequired("Describe the task."), at_most(2000, "A HIT description")]
    )
    keywords = StringField("Keywords", validators=[at_most(1000, "The keywords")])
    reward = PlainDecimalField(
        "Reward per assignment (USD)",
        places=2,
        validators=[
            InputRequired("Give a reward, e.g. 0.10."),
            NumberRange(Decimal("0.01"), Decimal("100"), "Between 0.01 and 100 USD."),
        ],
    )
    assignment_minutes = IntegerField(
        "Time a worker has (minutes)",
        validators=[
            InputRequired("Give the minutes a worker has."),
            NumberRange(1, 365 * 24 * 60, "Between 1 minute and 365 days."),
        ],
    )
    lifetime_hours = IntegerField(
        "HITs stay listed for (hours)",
        validators=[InputRequired("Give the hours."), NumberRange(1, 365 * 24, "Between 1 hour and 365 days.")],
    )
    auto_approval_hours = IntegerField(
        "Auto-approve undecided work after (hours)",
        validators=[
            InputRequired("Give the hours."),
            NumberRange(0, 30 * 24, "Between 0 and 30 days (MTurk's limit)."),
        ],
    )
    min_approval_rate = IntegerField(
        "Minimum approval rate (%)",
        validators=[Optional(), NumberRange(0, 100, "A percentage from 0 to 100, or empty for none.")],
    )
    min_approved_hits = IntegerField(
        "Minimum approved HITs",
        validators=[Optional(), NumberRange(0, 1_000_000, "A number of HITs, or empty for none.")],
    )
    locales = StringField(
        "Worker countries (ISO codes, comma-separated; empty for any)", validators=[at_most(200, "The country list")]
    )
    soft_block = BooleanField("Keep out workers on the organization's block list")

    def validate_reward(self, field):
        whole_cents(field)

    def validate_locales(self, field):
        codes = self.countries()
        bad = [c for c in codes if not COUNTRY.match(c)]
        if bad:
            raise ValidationError(f"Use two-letter country codes such as US or GB, not {', '.join(bad)}.")
        if len(codes) > 30:
            raise ValidationError("At most 30 countries.")

    def countries(self) -> list[str]:
        return [c.strip().upper() for c in (self.locales.data or "").split(",") if c.strip()]


class PublishForm(Form):
    confirm_production = BooleanField("I understand this publishes to production and spends real money")
    # What the review step showed (panel.shown): publishing refuses when the saved settings differ from it.
    shown = HiddenField()


EXTEND_MOST = 100  # assignments added to every HIT at once (the CLI's --assignments takes as many)
EXTEND_RANGE = f"Give a whole number of assignments from 1 to {EXTEND_MOST}."


class ExtendForm(Form):
    more = IntegerField(
        "Assignments to add to every HIT",
        validators=[InputRequired(EXTEND_RANGE), NumberRange(1, EXTEND_MOST, EXTEND_RANGE)],
        invalid_value_message=EXTEND_RANGE,
    )
    confirm_production = BooleanField("I understand this spends real money (production)")


class CredentialsForm(Form):
    access_key_id = StringField(
        "AWS access key id",
        validators=[
            DataRequired("Give the access key id."),
            at_most(128, "An access key id"),
            Regexp(r"^[A-Z0-9]{16,128}$", message="An access key id is 16 or more capital letters and digits (AKIA…)."),
        ],
    )
    secret_access_key = PasswordField(
        "AWS secret access key",
        validators=[
            DataRequired("Give the secret access key."),
            Length(min=16, max=128, message="That is not a secret access key."),
        ],
    )


class MoneyForm(Form):
    """An organization's own money settings: its daily MTurk limit (own account only) and its hourly pay floor."""

    daily_limit = PlainDecimalField(
        "Daily MTurk limit (USD, UTC day)",
        places=2,
        validators=[Optional(), NumberRange(Decimal("0"), Decimal("99999999"), "From 0 to 99,999,999 dollars.")],
        description="Rewards, bonuses and MTurk's fees. Empty: the site default.",
    )
    hourly_pay_floor = PlainDecimalField(
        "Lowest hourly pay you mean to offer (USD)",
        places=2,
        validators=[Optional(), NumberRange(Decimal("0"), Decimal("1000"), "From 0 to 1,000 dollars an hour.")],
        description="The MTurk tab warns below it. Empty: the site default.",
    )

    def validate_daily_limit(self, field):
        whole_cents(field, "The daily limit")


def settings_seconds(form: SettingsForm) -> dict:
    """The form's durations in the seconds MTurk takes."""
    return {
        "assignment_seconds": form.assignment_minutes.data * 60,
        "lifetime_seconds": form.lifetime_hours.data * 3600,
        "auto_approval_seconds": form.auto_approval_hours.data * 3600,
    }


class SurveyCheckForm(Form):
    results = FileField("MTurk results CSV")
    pasted = TextAreaField("…or paste its content", validators=[at_most(50 * 1024 * 1024, "Pasted results")])
