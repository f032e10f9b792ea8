from decimal import Decimal

from wtforms import (
    BooleanField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ..models import VERSION_MEANINGS, VERSIONS
from ..parsing import PlainDecimalField
from ..services.mturk.cost import FEE_STEP_ASSIGNMENTS
from ..web.forms import Form, at_most, whole_cents


class Checkboxes(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _count(label: str, what: str, default: int, low: int, high: int, **kwargs) -> IntegerField:
    """A whole-number field whose every error says what it takes: "Give a whole number of pages per HIT from 1 to
    100." (empty, out of range, or not a whole number)."""
    message = f"Give a whole number of {what} from {low} to {high}."
    return IntegerField(
        label,
        default=default,
        validators=[InputRequired(message), NumberRange(low, high, message)],
        invalid_value_message=message,
        **kwargs,
    )


class BatchForm(Form):
    name = StringField("Name", validators=[DataRequired("Give the batch a name."), at_most(120, "A batch name")])
    # Choices outside the lists come from a form opened before a dataset or class was deleted (or a forged post):
    # say what to do instead of WTForms' "'5', '6' are not valid choices for this field".
    dataset_id = SelectField(
        "Dataset",
        coerce=int,
        validate_choice=True,
        invalid_choice_message="Choose one of this organization's datasets (that one was deleted, or is not yours).",
    )
    class_ids = Checkboxes(
        "Classes",
        coerce=int,
        description="None ticked means every class of the dataset.",
        invalid_choice_message=lambda n: (
            f"{'1 ticked class is' if n == 1 else f'{n:,} ticked classes are'} no longer in this dataset:"
            " tick the classes again."
        ),
    )
    pages_per_hit = _count("Pages per HIT (N)", "pages per HIT", 10, 1, 100)
    images_per_page = _count(
        "Images per page (M)", "images per page", 48, 1, 200, description="ImageNetV2's tool: 3 columns, 48 a page."
    )
    positives_per_page = _count(
        "Positive controls per page",
        "positive controls per page",
        3,
        0,
        199,
        description="ImageNetV2 used 3 positives and 3 negatives in 48.",
    )
    negatives_per_page = _count("Negative controls per page", "negative controls per page", 3, 0, 199)
    assignments_per_hit = _count(
        "Assignments per HIT",
        "assignments per HIT",
        3,
        1,
        100,
        description=f"From {FEE_STEP_ASSIGNMENTS} on, MTurk's fee doubles (40% instead of 20%).",
    )
    versions = Checkboxes(
        "Interface versions",
        choices=[SelectChoice(v, VERSION_MEANINGS[v]) for v in VERSIONS],
        default=["POINTER_ORIGINAL"],
        description="HITs and workers take the ticked versions in turn.",
        invalid_choice_message="Tick the versions from the list.",
    )
    one_hit_per_worker = BooleanField("One HIT per worker")
    ask_sure_once = BooleanField("Ask one vote of the images the model is sure about")
    reward = PlainDecimalField(
        "Reward per assignment (USD)",
        places=2,
        default=Decimal("0.10"),
        validators=[
            InputRequired("Give a reward, e.g. 0.10."),
            NumberRange(Decimal("0"), Decimal("100"), "Between 0 and 100 USD."),
        ],
    )
    title = StringField(
        "Title (shown to workers)",
        default="Label new images for machine learning dataset",
        validators=[DataRequired("Give the HITs a title."), at_most(200, "A HIT title")],
    )
    description = TextAreaField(
        "Description",
        default="Select images containing objects of the appropriate type",
        validators=[at_most(2000, "A HIT description")],
    )

    def validate_reward(self, field):
        whole_cents(field)

    def validate_versions(self, field):
        if not field.data:
            raise ValidationError("Tick at least one interface version.")

    def validate_negatives_per_page(self, field):
        if (
            None not in (field.data, self.positives_per_page.data, self.images_per_page.data)
            and field.data + self.positives_per_page.data >= self.images_per_page.data
        ):
            raise ValidationError("Controls must leave room for at least one candidate image per page.")


class LabLinkForm(Form):
    label = StringField("Label (who the link is for)", validators=[Optional(), at_most(120, "A lab link's label")])
