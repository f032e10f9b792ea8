"""Each image's vote counts and each class's histogram of them, kept by the database (migration 0029), equal a
recount from the votes after every writer: pages derived, a selection ORed in by a page derived again, control roles
changed (which update the votes), votes inserted in bulk and moved, an assignment deleted, an image deleted with its
votes, a class's votes deleted, the batch deleted with its dataset."""

from __future__ import annotations

from collections import Counter

from factories import make_image, submit_page
from peewee import fn

from freelunch.models import Candidate, HitPage, ImageRecord, PageTally, Vote, VoteCount, VoteHistogram
from freelunch.services.datasets import deletion
from freelunch.services.review import tallies
from freelunch.services.review.quality import VOTE_SELECTED


def _recount() -> tuple[dict, dict]:
    """(seen, selected) per (batch, class, image), and images per (batch, class, seen, selected), from every vote."""
    counts = {
        (b, c, i): (n, int(s))
        for b, c, i, n, s in Vote.select(
            Vote.batch, Vote.image_class, Vote.image, fn.COUNT(Vote.id), fn.SUM(VOTE_SELECTED)
        )
        .group_by(Vote.batch, Vote.image_class, Vote.image)
        .tuples()
    }
    return counts, dict(Counter((b, c, n, s) for (b, c, _), (n, s) in counts.items()))


def _kept() -> tuple[dict, dict]:
    counts = {(r.batch_id, r.image_class_id, r.image_id): (r.seen, r.selected) for r in VoteCount.select()}
    cells = {(r.batch_id, r.image_class_id, r.seen, r.selected): r.images for r in VoteHistogram.select() if r.images}
    return counts, cells


def test_kept_vote_counts_equal_a_recount_after_every_writer(app, campaign):
    c = campaign
    with app.app_context():
        assert _kept() == _recount()
        a, b = c.classes["A"].id, c.classes["B"].id
        assert _kept()[0][(c.batch.id, a, c.images["ap"].id)] == (4, 2)  # W1 and W2 selected it, W3 twice not

        # A selection ORed into a vote: the image shown again to the same worker, selected this time.
        page = c.pages["h1w3a"]
        ImageRecord.update(selected=True).where(ImageRecord.page == page, ImageRecord.image == c.images["ap"]).execute()
        PageTally.delete().where(PageTally.page == page).execute()
        tallies.derive([page.id])
        assert _kept() == _recount() and _kept()[0][(c.batch.id, a, c.images["ap"].id)] == (4, 3)

        # A new page derived, then roles changed (0028's triggers update each vote's control; the counts stay).
        hit_page = HitPage.get(HitPage.hit == c.hits[1], HitPage.pageno == 2)
        submit_page(c.assignments["h2w3"], hit_page, {c.images["b3"].id}, 10**12)
        assert _kept() == _recount()
        Candidate.update(role="negative").where(Candidate.image.in_([c.images["ap"], c.images["bp"]])).execute()
        Candidate.update(role="positive").where(Candidate.image == c.images["a1"]).execute()
        assert _kept() == _recount()

        # Votes written in bulk (several of one image in one statement), then a vote moved to another image.
        extra = make_image(c.batch.organization_id, c.batch.dataset_id, c.classes["B"], "n02/x", "candidate")
        Vote.insert_many(
            [
                dict(batch=c.batch, image_class=b, image=extra, assignment=assignment, selected=n % 2 == 0)
                for n, assignment in enumerate(c.assignments.values())
            ]
        ).execute()
        assert _kept() == _recount() and _kept()[0][(c.batch.id, b, extra.id)] == (4, 2)
        Vote.update(image=c.images["b4"]).where(Vote.image == extra, Vote.assignment == c.assignments["h1w1"]).execute()
        assert _kept() == _recount()
        Vote.update(selected=False).where(Vote.image_class == b).execute()
        assert _kept() == _recount()

        # Deletions: an assignment with its votes, an image with its candidates and votes, a class, then the batch.
        c.assignments["h2w2"].delete_instance(recursive=False)
        assert _kept() == _recount()
        c.images["ap"].delete_instance(recursive=False)
        extra.delete_instance(recursive=False)
        assert _kept() == _recount()
        Vote.delete().where(Vote.image_class == b).execute()
        assert _kept() == _recount() and not any(key[1] == b for key in _kept()[1])
        deletion.delete_dataset(c.batch.dataset)
        assert _kept() == _recount() == ({}, {})
        assert not VoteHistogram.select().exists()  # no empty cell left behind either
