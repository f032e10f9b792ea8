"""Forms of the MTurk assignments page: auto-review rules, decisions, bonuses, blocks and messages."""

from __future__ import annotations

from decimal import Decimal

from wtforms import BooleanField, IntegerField, RadioField, SelectChoice, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, NumberRange, Optional, ValidationError

from ..parsing import PlainDecimalField
from ..services.mturk.bonuses import BonusError, parse_amount
from ..services.mturk.decisions import FEEDBACK_MAX
from ..web.forms import Form, at_most


def _percent(label: str) -> PlainDecimalField:
    return PlainDecimalField(
        label,
        places=0,
        validators=[Optional(), NumberRange(Decimal(0), Decimal(100), "From 0 to 100 %%.")],
        description="Empty: not checked.",
    )


class RulesForm(Form):
    min_control_accuracy = _percent("Control accuracy at least (%)")
    min_seconds_per_page = IntegerField(
        "Every page took at least (seconds)",
        validators=[Optional(), NumberRange(0, 3600, "From 0 to 3600 seconds.")],
        description="Empty: not checked.",
    )
    require_completion_code = BooleanField("The completion code posted to MTurk is the one we gave")
    min_completeness = _percent("Pointer data complete at least (%)")
    reject_failures = BooleanField("Reject what fails a rule (otherwise it is left for you, flagged)")
    approve_feedback = StringField(
        "Message with an approval", validators=[at_most(FEEDBACK_MAX, "A message with an approval")]
    )


class DecisionForm(Form):
    action = RadioField(
        "Decision",
        choices=[
            SelectChoice("approve", "Approve"),
            SelectChoice("reject", "Reject"),
            SelectChoice("override", "Approve after a rejection"),
        ],
        default="approve",
        validators=[DataRequired("Choose a decision.")],
        invalid_choice_message="Choose a decision: approve, reject, or approve after a rejection.",
    )
    feedback = TextAreaField(
        "Feedback to the worker",
        validators=[at_most(FEEDBACK_MAX, "Feedback to a worker")],
        description="Required to reject: MTurk shows it to the worker.",
    )
    leave_out = BooleanField("When rejecting, also leave these workers out of this batch's labels")

    def validate_feedback(self, field):
        if self.action.data == "reject" and not (field.data or "").strip():
            raise ValidationError("Say why you reject: MTurk shows the reason to the worker.")


class BonusForm(Form):
    amount = StringField("Bonus (USD)", validators=[DataRequired("Give an amount, e.g. 0.25.")])
    reason = StringField(
        "Reason shown to the worker",
        validators=[DataRequired("Say why you pay the bonus."), at_most(1024, "A bonus's reason")],
    )

    def validate_amount(self, field):
        try:
            parse_amount(field.data or "")
        except BonusError as error:
            raise ValidationError(str(error)) from None


class BlockForm(Form):
    kind = RadioField(
        "Block",
        choices=[
            SelectChoice("soft_block", "Soft: keep them off this organization's HITs (a qualification)"),
            SelectChoice(
                "hard_block", "Hard: MTurk blocks them from every HIT of your account (counts against the worker)"
            ),
        ],
        default="soft_block",
        invalid_choice_message="Choose a soft or a hard block.",
    )
    reason = StringField(
        "Reason", validators=[DataRequired("Say why you block the worker."), at_most(1024, "A block's reason")]
    )


class NotifyForm(Form):
    subject = StringField(
        "Subject", validators=[DataRequired("Give the message a subject."), at_most(200, "A message's subject")]
    )
    text = TextAreaField("Message", validators=[DataRequired("Write the message."), at_most(4096, "A message")])


class TopUpForm(Form):
    rate = PlainDecimalField(
        "Bring approved assignments up to (USD an hour)",
        places=2,
        validators=[
            InputRequired("Give an hourly rate, e.g. 7.25."),
            NumberRange(Decimal("0.01"), Decimal("1000"), "From 0.01 to 1,000 dollars an hour."),
        ],
    )
