from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, ValidationError

from ..presets import PRESETS
from ..services.imports.classes import check_text, split_names
from ..web.forms import Form, at_most


class DatasetForm(Form):
    name = StringField("Name", validators=[DataRequired("Give the dataset a name."), at_most(120, "A dataset name")])
    description = TextAreaField("Description", validators=[at_most(2000, "A dataset description")])


class ClassForm(Form):
    names = StringField(
        "Names",
        validators=[DataRequired("A class needs at least one name."), at_most(2000, "A class's names")],
        description="Synonyms separated by commas (or by semicolons when a name has a comma).",
    )
    description = TextAreaField("Definition", validators=[at_most(2000, "A class definition")])

    def validate_names(self, field):
        names = split_names(field.data or "")
        if not names:
            raise ValidationError("A class needs at least one name.")
        if any(len(name) > 200 for name in names):
            raise ValidationError("Each name must be at most 200 characters.")
        for name in names:
            _as_imports_check(check_text, name, "name", 200)

    def validate_description(self, field):
        _as_imports_check(check_text, (field.data or "").strip(), "definition", 2000)


def _as_imports_check(check, value: str, what: str, limit: int) -> None:
    """The imports' rule for the text (services/imports/classes.py: a control character other than a tab or a line
    break is refused, and named), as a form's error: "The name may not contain control characters: U+001B at
    character 6."."""
    try:
        check(value, what, limit)
    except ValueError as error:
        message = str(error)
        raise ValidationError(message[:1].upper() + message[1:] + ".") from None


class ClassImportForm(Form):
    classes = FileField(
        "Class file",
        validators=[FileRequired("Choose a class_info.json or CSV file.")],
        render_kw={"accept": ".json,.csv,.txt,application/json,text/csv"},
        description="ImageNetV2 class_info.json, or a CSV with key, names, description, wikipedia.",
    )
    wikipedia = FileField(
        "wikipedia_pages.json (optional, with a JSON class file)", render_kw={"accept": ".json,application/json"}
    )


class PresetImportForm(Form):
    """One of the class lists that ship with Freelunch (freelunch/presets/): no upload."""

    preset = SelectField(
        "Built-in class list",
        choices=[SelectChoice(p.name, p.title) for p in PRESETS.values()],
        validate_choice=True,
        invalid_choice_message="Choose one of the built-in class lists shown.",
    )


class ImageImportForm(Form):
    images = FileField(
        "Image file",
        validators=[FileRequired("Choose a manifest (CSV or JSON Lines) or a ZIP.")],
        render_kw={"accept": ".zip,.csv,.jsonl,.json,.txt,application/zip,text/csv"},
        description="A manifest of image_id, url, class, role; or a ZIP of <class>/<file> folders.",
    )
    create_classes = BooleanField("Create classes that do not exist yet (named after their key)")


class ScoreImportForm(Form):
    scores = FileField(
        "Scores file",
        validators=[FileRequired("Choose a CSV of image, class, score.")],
        render_kw={"accept": ".csv,.txt,text/csv"},
        description="A model's score per image and class (any number, higher = more likely shows the class): "
        "the label model calibrates it on the votes and uses it as each image's prior.",
    )


class DeleteDatasetForm(Form):
    confirm_name = StringField("Type the dataset's name to confirm")
