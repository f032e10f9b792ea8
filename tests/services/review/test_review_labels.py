"""Selection frequency and label decisions (tests/helpers/factories.py describes the campaign)."""

import re

import pytest
from factories import make_campaign, make_image, submit_page
from support import login

from freelunch.models import Assignment, Batch, Dataset, Hit, HitPage, ImageClass, Vote
from freelunch.services.review import labels, tallies

HTMX = {"HX-Request": "true"}


@pytest.fixture
def org(make_account, client):
    _, organization = make_account("owner@example.org", "Lab")
    login(client, "owner@example.org")
    return organization


@pytest.fixture
def campaign(app, org):
    with app.app_context():
        c = make_campaign(org)
        tallies.refresh(tallies.in_batch(c.batch.id))
    return c


def labelled(app, batch, rule) -> dict:
    """{(class key, image key): (seen, selected, decision)} for every label of the batch."""
    with app.app_context():
        return {(r.image_class.key, r.image.key): (r.seen, r.selected, r.decision) for r in labels.stream(batch, rule)}


def test_frequency_is_the_share_of_assignments_that_selected(app, campaign):
    rule = labels.default_rule(campaign.batch)
    assert rule.min_annotations == 2  # 3, but the batch has 2 assignments per HIT
    got = labelled(app, campaign.batch, rule)
    assert got[("n01", "n01/a1")] == (2, 1, "no")  # W1 yes, W3 no
    assert got[("n01", "n01/ap")] == (4, 2, "no")  # shown on both HITs' first pages
    assert got[("n02", "n02/b3")] == (1, 1, "undecided")  # W3 never submitted HIT 2's page B
    assert got[("n02", "n02/bp")] == (3, 2, "no")
    assert labelled(app, campaign.batch, labels.Rule(0.6, 2, 0))[("n02", "n02/bp")] == (3, 2, "yes")
    assert len(got) == 12  # 4 candidates and 2 controls per class


def test_workers_below_the_control_bar_are_left_out(app, campaign):
    rule = labels.Rule(threshold=0.7, min_annotations=1, min_accuracy=0.5)
    with app.app_context():
        assert labels.excluded_workers(campaign.batch, rule) == ["W3CCCCCCCC"]
        summary = labels.summary(campaign.batch, rule)
    got = labelled(app, campaign.batch, rule)
    assert got[("n01", "n01/a1")] == (1, 1, "yes")
    assert got[("n01", "n01/ap")] == (2, 2, "yes")
    assert got[("n01", "n01/a2")] == (1, 0, "no")  # W3 selected it, W1 did not
    assert summary.total == len(got) and summary.excluded_workers == ["W3CCCCCCCC"]
    assert summary.decisions == {d: sum(v[2] == d for v in got.values()) for d in labels.DECISIONS}


def test_an_image_shown_twice_to_one_worker_is_one_vote(app, campaign):
    c = campaign
    with app.app_context():
        hit = Hit.create(organization=c.batch.organization_id, batch=c.batch)
        ids = [c.images[k].id for k in ("a1", "ap", "a2", "an")]
        pages = [
            HitPage.create(
                organization=c.batch.organization_id, hit=hit, pageno=n, image_class=c.classes["A"], image_ids=ids
            )
            for n in (1, 2)
        ]
        worker = Assignment.create(
            organization=c.batch.organization_id,
            hit=hit,
            worker_id="W6FFFFFFFF",
            source="lab",
            version="POINTER_ORIGINAL",
        )
        submit_page(worker, pages[0], {c.images["ap"].id}, 10**12)
        submit_page(worker, pages[1], set(), 10**12 + 10_000)
        tallies.refresh(tallies.in_batch(c.batch.id))
        votes = list(Vote.select().where(Vote.assignment == worker, Vote.image == c.images["ap"].id))
    assert len(votes) == 1 and votes[0].selected
    assert labelled(app, c.batch, labels.Rule(0.7, 1, 0))[("n01", "n01/ap")] == (5, 3, "no")


def _votes(org, n_images: int, seen: int, selected: int, workers_prefix: str = "V"):
    """A batch whose one class has ``n_images`` candidates, each voted by ``seen`` assignments, ``selected`` of them
    yes."""
    dataset = Dataset.create(organization=org, name="Votes")
    image_class = ImageClass.create(organization=org, dataset=dataset, key="n09", names=["thing"])
    batch = Batch.create(organization=org, dataset=dataset, name="Votes", assignments_per_hit=seen)
    hit = Hit.create(organization=org, batch=batch)
    assignments = [
        Assignment.create(
            organization=org, hit=hit, worker_id=f"{workers_prefix}{n:09d}", source="lab", version="POINTER_ORIGINAL"
        )
        for n in range(seen)
    ]
    for k in range(n_images):
        image = make_image(org, dataset, image_class, f"n09/{k:03d}", "candidate")
        Vote.insert_many(
            [
                dict(batch=batch, image_class=image_class, image=image, assignment=a, selected=n < selected)
                for n, a in enumerate(assignments)
            ]
        ).execute()
    return batch


@pytest.mark.parametrize(
    "threshold, selected, decision", [(0.3, 3, "yes"), (0.7, 7, "yes"), (0.71, 7, "no"), (0.7, 6, "no")]
)
def test_the_threshold_boundary_is_exact_in_sql_and_python(app, org, threshold, selected, decision):
    """3 of 10 reaches 0.3 (10 * 0.3 is 3.0000000000000004 in floating point)."""
    rule = labels.Rule(threshold=threshold, min_annotations=10)
    assert rule.decide(10, selected) == decision
    with app.app_context():
        batch = _votes(org, 1, 10, selected)
        summary = labels.summary(batch, rule)
        page, _ = labels.page(batch, rule, 1, decision=decision)
    assert summary.decisions[decision] == 1 and [r.decision for r in page.items] == [decision]


def test_workers_without_control_answers_are_kept(app, org):
    with app.app_context():
        batch = _votes(org, 2, 3, 1)
        assert labels.excluded_workers(batch, labels.Rule(min_accuracy=1.0)) == []


def test_results_page_shows_labels_and_counts(client, campaign):
    page = client.get(f"/review/batches/{campaign.batch.id}/results?min_accuracy=0.5&min_annotations=1")
    html = re.sub(r"\s+", " ", page.get_data(as_text=True))
    assert page.status_code == 200
    assert "<strong>12</strong> image–class pairs annotated" in html and "W3CCCCCCCC" in html
    assert "n01/a1" in html and "1 of 1" in html and "Export the labels of record as CSV" in html


def test_results_leave_many_votes_left_out_to_a_job_whose_end_shows_them(client, campaign, run_jobs, monkeypatch):
    monkeypatch.setattr(labels, "INLINE_LEFT_OUT_PAGES", 0)  # W3's pages, below the bar, are already too many
    url = f"/review/batches/{campaign.batch.id}/results?min_accuracy=0.5&min_annotations=1"
    waiting = [client.get(url, headers=HTMX).get_data(as_text=True) for _ in range(2)]
    jobs_shown = [re.findall(r'id="job-([0-9a-f-]+)"', html) for html in waiting]
    assert 'data-testid="results-counting"' in waiting[0] and "pairs annotated" not in waiting[0]
    assert jobs_shown[0] and jobs_shown[0] == jobs_shown[1]  # the second request watches the same job
    run_jobs("default")
    html = re.sub(r"\s+", " ", client.get(url, headers=HTMX).get_data(as_text=True))
    assert "<strong>12</strong> image–class pairs annotated" in html and "results-counting" not in html


def test_results_filters_by_class_and_decision(client, campaign):
    url = f"/review/batches/{campaign.batch.id}/results?min_annotations=1&class_key=n02&decision=undecided"
    html = client.get(url).get_data(as_text=True)
    assert 'value="n02"' in html and "n01/a1" not in html
    assert "No annotations match yet" in html  # with one annotation enough, nothing is undecided
    partial = client.get(url.replace("undecided", "yes"), headers=HTMX).get_data(as_text=True)
    assert "<html" not in partial and "n02/b3" in partial and "n02/bp" not in partial  # bp: 2 of 3 < 0.7


@pytest.mark.parametrize(
    "query, message",
    [
        ("threshold=2", "The threshold is a share between 0 and 1."),
        ("threshold=abc", "Selection frequency threshold: give a number, such as 0.7."),
        ("min_annotations=0", "Between 1 and 1000 annotations."),
        ("min_accuracy=-1", "The bar is a share between 0 and 1."),
        ("class_key=n99", "no class with the key &#39;n99&#39;"),
        ("decision=maybe", "Choose a decision from the list: any, yes, no or undecided."),
    ],
)
def test_results_form_explains_bad_values(client, campaign, query, message):
    response = client.get(f"/review/batches/{campaign.batch.id}/results?{query}")
    assert response.status_code == 422 and message in response.get_data(as_text=True)


def test_results_are_paginated(app, client, org):
    with app.app_context():
        batch = _votes(org, 60, 3, 2)
    first = client.get(f"/review/batches/{batch.id}/results").get_data(as_text=True)
    assert "Page 1 of 2" in first and "n09/049" in first and "n09/050" not in first
    second = client.get(f"/review/batches/{batch.id}/results?page=2").get_data(as_text=True)
    assert "n09/050" in second and "n09/059" in second and "n09/000" not in second


def _all_pages(app, batch, rule, per_page: int, decision: str | None = None) -> tuple[list, list]:
    """(every page's labels in page order, the labels as the export streams them), as (class key, image key)."""
    with app.app_context():
        expected = [
            (r.image_class.key, r.image.key)
            for r in labels.stream(batch, rule)
            if decision is None or r.decision == decision
        ]
        first, _ = labels.page(batch, rule, 1, per_page, decision=decision)
        pages = [labels.page(batch, rule, n, per_page, decision=decision)[0] for n in range(1, first.pages + 1)]
    assert first.total == len(expected)
    return [(r.image_class.key, r.image.key) for page in pages for r in page.items], expected


@pytest.mark.parametrize("per_page", [2, 5, 7])
def test_every_page_holds_its_slice_of_the_labels_in_order(app, org, per_page):
    """Together the pages are the labels, once, in order."""
    with app.app_context():
        batch = _votes(org, 23, 3, 2)
    shown, expected = _all_pages(app, batch, labels.Rule(threshold=0.5, min_annotations=2), per_page)
    assert len(expected) == 23 and shown == expected


@pytest.mark.parametrize("per_page", [1, 5, 7, 50])
def test_pages_that_start_in_one_class_and_end_in_the_next_hold_their_slice(app, campaign, per_page):
    """A page starts in the class the summary's per-class counts find, and runs on into the next ones."""
    shown, expected = _all_pages(app, campaign.batch, labels.Rule(threshold=0.5, min_annotations=2), per_page)
    assert len(expected) == 12 and shown == expected
    assert {key for key, _ in expected} == {"n01", "n02"}


@pytest.mark.parametrize("decision", ["yes", "no", "undecided"])
def test_pages_of_one_decision_hold_its_labels_in_order(app, campaign, decision):
    shown, expected = _all_pages(app, campaign.batch, labels.Rule(threshold=0.5, min_annotations=2), 1, decision)
    assert expected and shown == expected


def test_cached_counts_follow_new_pages_and_control_corrections(app, campaign):
    c = campaign
    rule = labels.Rule(threshold=0.7, min_annotations=1, min_accuracy=0.5)
    with app.app_context():
        before = labels.summary(c.batch, rule)
        assert labels.summary(c.batch, rule) == before  # read back from Redis
        # The controls were swapped: W3 was right all along, W1 and W2 were wrong.
        from freelunch.models import Candidate

        Candidate.update(role="negative").where(Candidate.image.in_([c.images["ap"], c.images["bp"]])).execute()
        Candidate.update(role="positive").where(Candidate.image.in_([c.images["an"], c.images["bn"]])).execute()
        swapped = labels.summary(c.batch, rule)
        assert before.excluded_workers == ["W3CCCCCCCC"] and swapped.excluded_workers == ["W1AAAAAAAA", "W2BBBBBBBB"]
        # a new page of HIT 2 (W3's page B) changes the votes, so the counts
        hit_page = HitPage.get(HitPage.hit == c.hits[1], HitPage.pageno == 2)
        submit_page(c.assignments["h2w3"], hit_page, set(), 10**12)
        tallies.refresh(tallies.in_batch(c.batch.id))
        after = labels.summary(c.batch, rule)
    assert (before.total, swapped.total, after.total) == (12, 10, 12)  # W3 alone had not seen b3, b4
