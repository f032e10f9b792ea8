"""No CSV we write starts a cell like a formula: worker, class and image text arrives neutralised."""

import csv
import io

import pytest
from support import finished_file

from freelunch.models import Assignment, Image, ImageClass
from freelunch.services.batches import survey
from freelunch.services.spreadsheet import FORMULA_STARTS, neutral

HOSTILE = ['=HYPERLINK("http://evil.example","x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tTAB=1", "\rCR=1"]


def _cells(body: str):
    return [cell for row in csv.reader(io.StringIO(body, newline="")) for cell in row]


def _plant(campaign) -> None:
    """Every dangerous prefix in the texts that reach a CSV: class keys and names, image keys, MTurk assignment ids."""
    for n, (image_class, value) in enumerate(zip(campaign.classes.values(), HOSTILE)):
        ImageClass.update(key=value, names=[HOSTILE[n + 2], "fish"]).where(ImageClass.id == image_class.id).execute()
    for image, value in zip(campaign.images.values(), HOSTILE * 3):
        Image.update(key=f"{value}{image.id}").where(Image.id == image.id).execute()
    for assignment, value in zip(campaign.assignments.values(), HOSTILE):
        Assignment.update(mturk_assignment_id=value + str(assignment.id)).where(
            Assignment.id == assignment.id
        ).execute()


@pytest.mark.parametrize("kind", ["records-csv", "labels-csv", "workers-csv"])
def test_no_exported_cell_starts_like_a_formula(client, run_jobs, campaign, kind):
    _plant(campaign)
    _, body = finished_file(client, run_jobs, campaign.batch, kind)
    cells = _cells(body)
    assert len(cells) > 20
    assert not [c for c in cells if c.startswith(FORMULA_STARTS)]
    if kind != "workers-csv":  # the workers file holds no planted text
        assert any(c.startswith("'=HYPERLINK") for c in cells) and any(c.startswith("'@SUM") for c in cells)


def test_survey_decisions_csv_neutralises_what_workers_typed(app):
    header = ["AssignmentId", "Answer.surveycode"]
    rows = [{"AssignmentId": "A1", "Answer.surveycode": value} for value in HOSTILE]
    verdicts = [survey.Checked(n, "A1", "h", value, "wrong code", None) for n, value in enumerate(HOSTILE)]
    with app.test_request_context():
        body = survey.decisions_csv(header, rows, verdicts)
    assert not [c for c in _cells(body) if c.startswith(FORMULA_STARTS)]
    assert "'=HYPERLINK" in body


def test_numbers_stay_numbers():
    assert neutral(-3) == -3 and neutral(-0.5) == -0.5 and neutral("n01440764") == "n01440764"
    assert [neutral(v) for v in HOSTILE] == ["'" + v for v in HOSTILE]
