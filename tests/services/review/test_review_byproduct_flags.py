"""Byproduct flags (services/review/byproduct_flags.py) on hand-made records, and their report."""

from click.testing import CliRunner
from flask.cli import ScriptInfo

from freelunch.cli import cli
from freelunch.models import ImageRecord, PageSubmission, PointerChunk
from freelunch.services.review import byproduct_flags


def flagged(app, batch_id):
    with app.app_context():
        return byproduct_flags.votes(batch_id)


def test_the_factory_pages_raise_only_same_point(app, campaign):
    """tests/helpers/factories.py clicks every selected image at its centre, 490 ms after entering it: a selection
    shares its point with any other selection of its page, and nothing else is flagged."""
    found = flagged(app, campaign.batch.id)
    assert len(found) == 28
    assert all(v.flags <= {"same_point"} for v in found)
    per_page = {}
    for v in found:
        per_page.setdefault(v.page_id, []).append(v)
    for votes in per_page.values():
        chosen = [v for v in votes if v.selected]
        assert all(("same_point" in v.flags) == (len(chosen) > 1) for v in chosen)
        assert not any(v.flags for v in votes if not v.selected)


def test_each_flag_marks_what_it_says(app, campaign):
    page = campaign.pages["h1w3a"]  # W3 selected a2 and the negative control
    records = {r.image_id: r for r in ImageRecord.select().where(ImageRecord.page == page)}
    a2, an = records[campaign.images["a2"].id], records[campaign.images["an"].id]
    t = a2.selected_record[0]["time"]
    a2.hovered_record = [{"action": "enter", "time": t + 50}]  # entered only after the click
    a2.save()
    an.hovered_record = [{"action": "enter", "time": an.selected_record[0]["time"] - 100}]
    an.selected_record = [{**an.selected_record[0], "x": 0.5, "y": 0.5}]
    an.save()
    fast = campaign.pages["h2w2b"]
    fast.ended_at = fast.started_at + 40  # 10 ms an image, against the others' 1 s
    fast.save()
    silent = campaign.pages["h1w1b"]
    PointerChunk.delete().where(
        PointerChunk.assignment == silent.assignment_id, PointerChunk.pageno == silent.pageno
    ).execute()
    PageSubmission.update(ended_at=silent.started_at + 40_000).where(PageSubmission.id == silent.id).execute()

    by_page = {}
    for vote in flagged(app, campaign.batch.id):
        by_page.setdefault(vote.page_id, []).append(vote)
    w3 = by_page[page.id]
    assert [sorted(v.flags) for v in w3 if v.selected] == [["no_hover", "same_point"], ["fast_select", "same_point"]]
    assert all("fast_page" in v.flags for v in by_page[fast.id])
    assert all("away" in v.flags for v in by_page[silent.id])
    assert all(v.flags <= {"same_point"} for v in by_page[campaign.pages["h2w3a"].id])

    rows = {r.flag: r for r in byproduct_flags.report(flagged(app, campaign.batch.id))}
    # the flagged negative control was answered wrong; W3's other control answers were wrong too, W1's and W2's right
    assert rows["fast_select"].flagged == 1 and rows["fast_select"].flagged_wrong == 1
    assert rows["fast_page"].flagged == 2 and rows["fast_page"].flagged_wrong == 0


def test_the_flags_command_prints_the_report(app, campaign):
    result = CliRunner().invoke(
        cli, ["labels", "flags", "--batch", str(campaign.batch.id)], obj=ScriptInfo(create_app=lambda: app)
    )
    assert result.exit_code == 0, result.output
    assert "28 records; control answers: 14" in result.output and "no_hover" in result.output
    missing = CliRunner().invoke(cli, ["labels", "flags", "--batch", "999"], obj=ScriptInfo(create_app=lambda: app))
    assert missing.exit_code == 1 and "There is no batch 999." in missing.output
