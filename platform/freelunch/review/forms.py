from wtforms import FloatField, HiddenField, IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import NumberRange, Optional, StopValidation

from ..services.review.labels import DECISIONS, Rule
from ..web.forms import Form, at_most


def given(message: str):
    """Like InputRequired, but a field left out of a GET form keeps its default instead of failing."""

    def check(form, field):
        if field.data is None and not field.process_errors:
            raise StopValidation(message)

    return check


class RuleForm(Form):
    """The label rule: a frequency threshold, enough annotations, and a bar for workers' control accuracy."""

    threshold = FloatField(
        "Selection frequency threshold",
        validators=[
            given("Give a threshold between 0 and 1."),
            NumberRange(0, 1, "The threshold is a share between 0 and 1."),
        ],
        description="An image is a yes for its class when at least this share of its annotators selected it.",
    )
    min_annotations = IntegerField(
        "Annotations needed",
        validators=[
            given("Give the number of annotations a decision needs."),
            NumberRange(1, 1000, "Between 1 and 1000 annotations."),
        ],
        description="Fewer annotations than this leave the image undecided.",
    )
    min_accuracy = FloatField(
        "Control accuracy bar",
        validators=[
            given("Give a bar between 0 and 1 (0 keeps every worker)."),
            NumberRange(0, 1, "The bar is a share between 0 and 1."),
        ],
        description="Workers whose accuracy on the controls is below this are left out (0 keeps everyone).",
    )

    def rule(self) -> Rule:
        return Rule(self.threshold.data, self.min_annotations.data, self.min_accuracy.data)


class ResultsForm(RuleForm):
    """The results page's filter: a GET form, so viewers can try rules too; nothing is stored."""

    class Meta:
        csrf = False

    class_key = StringField(
        "Class",
        validators=[Optional(), at_most(120, "A class key")],
        render_kw={"list": "class-keys", "autocomplete": "off", "placeholder": "any class"},
    )
    decision = SelectField(
        "Decision",
        choices=[SelectChoice("", "any")] + [SelectChoice(d, d) for d in DECISIONS],
        default="",
        invalid_choice_message="Choose a decision from the list: any, yes, no or undecided.",
    )


class ExportForm(Form):
    """Starting an export; a kind that carries labels writes the labels of record (and the results page's decision
    filter, for the labels CSV), and records them."""

    decision = SelectField(
        "Decisions",
        choices=[SelectChoice("", "all")] + [SelectChoice(d, d) for d in DECISIONS],
        default="",
        invalid_choice_message="Choose which decisions to export from the list: all, yes, no or undecided.",
    )
    force = HiddenField()  # "make a new one anyway", past an identical export


class FitForm(Form):
    """Fit a label model to the batch's votes (and its earlier rounds'): an RQ job."""

    model = SelectField(
        "Model",
        choices=[SelectChoice("ds", "Dawid–Skene (per-worker rates)"), SelectChoice("mv", "Selection frequency")],
        default="ds",
        invalid_choice_message="Choose a label model from the list.",
    )
    target_precision = FloatField(
        "Target precision",
        default=0.99,
        validators=[
            given("Give a target precision between 0.5 and 1."),
            NumberRange(0.5, 0.9999, "The target precision is a share between 0.5 and 0.9999."),
        ],
        description="Dawid–Skene: a yes needs P(yes) at least this; a no needs P(no) at least this or 0.95.",
    )
    threshold = FloatField(
        "Frequency threshold",
        default=0.7,
        validators=[
            given("Give a threshold between 0 and 1."),
            NumberRange(0, 1, "The threshold is a share between 0 and 1."),
        ],
        description="Selection frequency: a yes needs at least this share of the votes.",
    )
