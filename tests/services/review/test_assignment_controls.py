"""Each assignment's control answers, kept by the database (migration 0028), equal a recount from the votes and the
candidates' roles after every writer: votes derived and a selection ORed in, roles changed, controls added and
deleted, an assignment deleted, an image deleted with its candidates and votes, the dataset deleted."""

from __future__ import annotations

from factories import make_image
from peewee import fn

from freelunch.models import Assignment, AssignmentControls, Candidate, ImageRecord, PageTally, Vote
from freelunch.services.datasets import deletion
from freelunch.services.review import quality, tallies
from freelunch.services.review.quality import CONTROL_ROLES, VOTE_SELECTED


def _recount() -> dict[int, tuple[int, int, int, int]]:
    """(positive, selected, negative, selected) per assignment, from every control vote (as the pages read them
    before 0028)."""
    same_image = (Candidate.image_class == Vote.image_class) & (Candidate.image == Vote.image)
    out: dict[int, list[int]] = {}
    for assignment, role, n, selected in (
        Vote.select(Vote.assignment, Candidate.role, fn.COUNT(Vote.id), fn.SUM(VOTE_SELECTED))
        .join(Candidate, on=same_image)
        .where(Candidate.role.in_(CONTROL_ROLES))
        .group_by(Vote.assignment, Candidate.role)
        .tuples()
    ):
        row = out.setdefault(assignment, [0, 0, 0, 0])
        at = 0 if role == "positive" else 2
        row[at], row[at + 1] = row[at] + n, row[at + 1] + int(selected or 0)
    return {a: (p, ps, n, ns) for a, (p, ps, n, ns) in out.items()}


def _kept() -> dict[int, tuple[int, int, int, int]]:
    rows = AssignmentControls.select()
    return {
        r.assignment_id: (r.positive, r.positive_selected, r.negative, r.negative_selected)
        for r in rows
        if r.positive or r.negative or r.positive_selected or r.negative_selected
    }


def test_kept_control_answers_equal_a_recount_after_every_writer(app, campaign):
    with app.app_context():
        assert _kept() == _recount()
        # W1 and W2 answer every control right, W3 every control wrong (tests/helpers/factories.py).
        w1, w3 = campaign.assignments["h1w1"].id, campaign.assignments["h1w3"].id
        assert _kept()[w1] == (2, 2, 2, 0) and _kept()[w3] == (2, 0, 2, 2)

        # A selection ORed into a vote: the image shown again to the same worker, selected this time.
        page = campaign.pages["h1w3a"]
        ImageRecord.update(selected=True).where(
            ImageRecord.page == page, ImageRecord.image == campaign.images["ap"]
        ).execute()
        PageTally.delete().where(PageTally.page == page).execute()
        tallies.derive([page.id])
        assert _kept() == _recount() and _kept()[w3] == (2, 1, 2, 2)

        # Roles changed (as an import's upsert may): a control made a candidate, a candidate made a control.
        Candidate.update(role="candidate").where(Candidate.image == campaign.images["bp"]).execute()
        assert _kept() == _recount()
        Candidate.update(role="negative").where(Candidate.image == campaign.images["a1"]).execute()
        assert _kept() == _recount()
        # Controls deleted, and added for an image with votes; votes on an image of another class are not its.
        Candidate.delete().where(Candidate.image == campaign.images["an"]).execute()
        assert _kept() == _recount()
        Candidate.create(
            organization=campaign.batch.organization_id,
            image=campaign.images["an"],
            image_class=campaign.classes["A"],
            role="positive",
        )
        extra = make_image(
            campaign.batch.organization_id, campaign.batch.dataset_id, campaign.classes["B"], "n02/x", "positive"
        )
        assert _kept() == _recount()

        # Deletions: an assignment with its votes, an image with its candidates and votes, then the whole dataset.
        campaign.assignments["h2w2"].delete_instance(recursive=False)
        assert _kept() == _recount()
        campaign.images["ap"].delete_instance(recursive=False)
        extra.delete_instance(recursive=False)
        assert _kept() == _recount()

        # The workers' scores add up their assignments' (positive right when selected, negative when not).
        scores = quality.control_scores(Assignment.worker_id, tallies.in_batch(campaign.batch.id))
        expected: dict[str, tuple[int, int, int, int]] = {}
        for assignment, (p, ps, n, ns) in _recount().items():
            w = Assignment.get_by_id(assignment).worker_id
            a, b, c, d = expected.get(w, (0, 0, 0, 0))
            expected[w] = (a + p, b + ps, c + n, d + n - ns)
        assert {w: (p.n, p.correct, n.n, n.correct) for w, (p, n) in scores.items()} == expected
        assert set(expected) == {"W1AAAAAAAA", "W3CCCCCCCC"}
        deletion.delete_dataset(campaign.batch.dataset)
        assert _kept() == _recount() == {}
