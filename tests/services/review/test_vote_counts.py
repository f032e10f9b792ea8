"""Each image's vote counts and each class's histogram of them, kept by the database (migration 0029), equal a
recount from the votes after every writer: pages derived, a selection ORed in by a page derived again, control roles
changed (which update the votes), votes inserted in bulk and moved, an assignment deleted, an image deleted with its
votes, a class's votes deleted, the batch deleted with its dataset; and under concurrent submits."""

from __future__ import annotations

import threading
from collections import Counter

from factories import make_image, submit_page
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from peewee import fn

from freelunch.db import database
from freelunch.models import (
    Assignment,
    Batch,
    Candidate,
    Dataset,
    Hit,
    HitPage,
    ImageClass,
    ImageRecord,
    Organization,
    PageTally,
    Vote,
    VoteCount,
    VoteHistogram,
)
from freelunch.services.datasets import deletion
from freelunch.services.review import counted, labels, tallies
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


# --- the results' counts from the kept counts equal the full computation ---------------------------------------------


def _oracle(batch, rule) -> list[tuple[int, int, int, int]]:
    """(class id, images, yes, undecided) per class, from every vote the rule counts, grouped in Python (the results'
    counts grouped every vote of the batch in SQL before 0029)."""
    excluded = set(labels.excluded_workers(batch, rule))
    assignments = {a.id: a for a in Assignment.select().join(Hit).where(Hit.batch == batch.id)}
    per_image: dict[tuple[int, int], list[int]] = {}
    for vote in Vote.select().where(Vote.batch == batch.id):
        a = assignments[vote.assignment_id]
        if counted.state(a) == "counts" and a.worker_id not in excluded:
            row = per_image.setdefault((vote.image_class_id, vote.image_id), [0, 0])
            row[0], row[1] = row[0] + 1, row[1] + vote.selected
    per_class: dict[int, list[int]] = {}
    for (class_id, _), (seen, selected) in per_image.items():
        row = per_class.setdefault(class_id, [0, 0, 0])
        decision = rule.decide(seen, selected)
        row[0], row[1], row[2] = row[0] + 1, row[1] + (decision == "yes"), row[2] + (decision == "undecided")
    return [(c, *row) for c, row in sorted(per_class.items())]


def _summed(app, batch, rule, monkeypatch) -> tuple[list, str]:
    """The summary's per-class counts, and which way they were read: "kept" (the histogram, less the votes left out)
    or "grouped" (the votes that count, when most are left out)."""
    grouped = []
    group = labels._class_counts
    monkeypatch.setattr(labels, "_class_counts", lambda *a: grouped.append(1) or group(*a))
    with app.app_context():
        found = labels.summary(batch, rule)
        by_class = labels.summary(batch, rule, class_id=found.per_class[0][0]) if found.per_class else None
    assert found.total == sum(row[1] for row in found.per_class)
    assert by_class is None or by_class.per_class == found.per_class[:1]
    return found.per_class, "grouped" if grouped else "kept"


def _mturk(assignment, status: str | None) -> None:
    assignment.source, assignment.mturk_status = "mturk", status
    assignment.save()


def test_results_counts_equal_the_full_count_either_way(app, campaign, monkeypatch):
    c = campaign
    rule = labels.Rule(threshold=0.5, min_annotations=2)
    with app.app_context():
        assert _summed(app, c.batch, rule, monkeypatch) == (_oracle(c.batch, rule), "kept")
        # An eighth page, by W5, whom the requester leaves out: its images move to the cells of the votes left.
        w5 = Assignment.create(
            organization=c.batch.organization_id,
            hit=c.hits[0],
            worker_id="W5",
            source="lab",
            version="POINTER_ORIGINAL",
        )
        submit_page(w5, HitPage.get(HitPage.hit == c.hits[0], HitPage.pageno == 1), {c.images["a1"].id}, 10**12)
        labels.set_excluded(c.batch, "W5", True)
        assert _summed(app, c.batch, rule, monkeypatch) == (_oracle(c.batch, rule), "kept")
        # W3's second HIT on MTurk, unconfirmed, then rejected: 2 of the 8 pages out.
        _mturk(c.assignments["h2w3"], None)
        assert _summed(app, c.batch, rule, monkeypatch) == (_oracle(c.batch, rule), "kept")
        _mturk(c.assignments["h2w3"], "Rejected")
        assert _summed(app, c.batch, rule, monkeypatch) == (_oracle(c.batch, rule), "kept")
        # W1's HIT unconfirmed as well (4 of 8 out): the votes that count are grouped; confirmed, they count again.
        _mturk(c.assignments["h1w1"], "Assignable")
        assert _summed(app, c.batch, rule, monkeypatch) == (_oracle(c.batch, rule), "grouped")
        _mturk(c.assignments["h1w1"], "Approved")
        assert _summed(app, c.batch, rule, monkeypatch) == (_oracle(c.batch, rule), "kept")
        # A bar on control accuracy leaves W3 out (4 of 8 with W5's).
        strict = labels.Rule(threshold=0.7, min_annotations=1, min_accuracy=0.5)
        assert _summed(app, c.batch, strict, monkeypatch) == (_oracle(c.batch, strict), "grouped")


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(  # per assignment: its HIT, worker, MTurk status (no MTurk: "lab"), and per page shown its choices
        st.tuples(
            st.integers(0, 2),
            st.sampled_from(["W1", "W2", "W3", "W4"]),
            st.sampled_from(["lab", None, "Submitted", "Approved", "Rejected"]),
            st.lists(st.lists(st.booleans(), min_size=6, max_size=6), min_size=1, max_size=2),
        ),
        min_size=1,
        max_size=7,
        unique_by=lambda a: (a[0], a[1]),  # a worker takes a HIT once
    ),
    st.lists(st.sets(st.integers(0, 5), min_size=1, max_size=6), min_size=6, max_size=6),
    st.sampled_from([0.0, 0.3, 0.5, 0.7, 1.0]),
    st.integers(1, 4),
    st.sampled_from([0.0, 0.5, 0.8]),
    st.sets(st.sampled_from(["W1", "W2", "W3", "W4"]), max_size=2),
)
def test_results_counts_equal_the_full_count_for_any_votes_and_rule(
    app, make_account, monkeypatch, assignments, shown, threshold, min_annotations, min_accuracy, left_out
):
    """Random HITs (3 of 2 pages, each showing a random subset of a class's 4 candidates and 2 controls), answered by
    random workers on the lab or on MTurk in every state, under a random rule with workers left out by the
    requester: the summary equals the count of the votes that count, whichever way it read them."""
    rule = labels.Rule(threshold, min_annotations, min_accuracy)
    with app.app_context():
        org = Organization.create(name="Property")
        dataset = Dataset.create(organization=org, name="Votes")
        images = {}
        for key in ("n01", "n02"):
            image_class = ImageClass.create(organization=org, dataset=dataset, key=key, names=[key])
            roles = ["candidate"] * 4 + ["positive", "negative"]
            images[key] = (
                image_class,
                [make_image(org, dataset, image_class, f"{key}/{n}", r).id for n, r in enumerate(roles)],
            )
        batch = Batch.create(organization=org, dataset=dataset, name="Votes", excluded_workers=sorted(left_out))
        hits = [Hit.create(organization=org, batch=batch) for _ in range(3)]
        pages = {}
        for h, hit in enumerate(hits):
            for pageno, key in ((1, "n01"), (2, "n02")):
                image_class, ids = images[key]
                chosen = [ids[i] for i in sorted(shown[2 * h + pageno - 1])]
                pages[h, pageno] = HitPage.create(
                    organization=org, hit=hit, pageno=pageno, image_class=image_class, image_ids=chosen
                )
        for n, (h, worker, status, answers) in enumerate(assignments):
            assignment = Assignment.create(
                organization=org,
                hit=hits[h],
                worker_id=worker,
                source="lab" if status == "lab" else "mturk",
                mturk_status=None if status == "lab" else status,
                version="POINTER_ORIGINAL",
            )
            for pageno, chosen in enumerate(answers, 1):
                page = pages[h, pageno]
                selected = {i for i, pick in zip(page.image_ids, chosen, strict=False) if pick}
                submit_page(assignment, page, selected, 10**12 + 10**6 * n + 10**4 * pageno)
        found, _ = _summed(app, batch, rule, monkeypatch)
        assert found == _oracle(batch, rule)
        assert _kept() == _recount()


def test_kept_vote_counts_hold_under_concurrent_submits(app, campaign):
    """Eight workers submit the same HIT page at once, each in its own transaction: each image's old counts are read
    from the row the previous submit committed, so every image lands in its one cell (on PostgreSQL the upsert waits
    for that row; SQLite has one writer)."""
    c = campaign
    hit_page = HitPage.get(HitPage.hit == c.hits[0], HitPage.pageno == 1)
    with app.app_context():
        workers = [
            Assignment.create(
                organization=c.batch.organization_id,
                hit=c.hits[0],
                worker_id=f"WC{n:08d}",
                source="lab",
                version="POINTER_ORIGINAL",
            )
            for n in range(8)
        ]
    start = threading.Barrier(len(workers))
    errors = []

    def submit(n: int) -> None:
        try:
            with app.app_context(), database.connection_context():
                start.wait()
                with database.atomic():
                    submit_page(workers[n], hit_page, set(hit_page.image_ids[: n % 4]), 10**12 + n)
        except Exception as error:  # noqa: BLE001 (reported below, with the thread's number)
            errors.append((n, error))

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with app.app_context():
        assert not errors and _kept() == _recount()
        assert _kept()[0][(c.batch.id, c.classes["A"].id, hit_page.image_ids[0])][0] == 2 + 8
