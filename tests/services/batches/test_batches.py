"""Batches on the dashboard: the builder form, building HITs as an RQ job, lab links."""

import re
from collections import Counter

import pytest
from factories import make_dataset
from support import builder_data, csrf_token

from freelunch.models import Batch, Candidate, Hit, HitPage, Image, ImageClass, LabLink
from freelunch.services.batches.hits import build_hits

HTMX = {"HX-Request": "true"}


def test_builder_shows_the_imagenetv2_defaults_and_the_datasets_classes(client, org):
    dataset = make_dataset(org, classes=("n01",), candidates=2)
    other = make_dataset(org, classes=("z99",), candidates=1, name="Other")
    page = client.get(f"/batches/new?dataset_id={dataset.id}").get_data(as_text=True)
    for field, value in [
        ("pages_per_hit", 10),
        ("images_per_page", 48),
        ("positives_per_page", 3),
        ("negatives_per_page", 3),
        ("assignments_per_hit", 3),
    ]:
        assert re.search(rf'name="{field}"[^>]*value="{value}"', page), field
    assert "n01 · n01 thing, other · 2 candidates, 4 + 4 controls" in page and "z99" not in page
    swapped = client.get(f"/batches/new/classes?dataset_id={other.id}", headers=HTMX).get_data(as_text=True)
    assert "z99" in swapped and "n01" not in swapped and "<html" not in swapped


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"name": ""}, "Give the batch a name."),
        (
            {"images_per_page": 3, "positives_per_page": 2, "negatives_per_page": 1},
            "leave room for at least one candidate",
        ),
        ({"versions": None}, "Tick at least one interface version."),
        ({"reward": "-1"}, "Between 0 and 100 USD."),
        ({"reward": "1.005"}, "The reward 1.005 has fractions of a cent"),
        ({"pages_per_hit": "ten"}, "Give a whole number of pages per HIT from 1 to 100."),
        ({"pages_per_hit": ""}, "Give a whole number of pages per HIT from 1 to 100."),
        ({"assignments_per_hit": 0}, "Give a whole number of assignments per HIT from 1 to 100."),
        ({"name": "x" * 121}, "A batch name can be at most 120 characters."),
        ({"positives_per_page": 5}, "fewer than 5 positive or 1 negative controls (n01, n02)"),
        # a class deleted (or a dataset changed) in another tab since the builder was opened
        ({"class_ids": [987654]}, "1 ticked class is no longer in this dataset: tick the classes again."),
        ({"versions": ["POINTER_ORIGINAL", "NEW"]}, "Tick the versions from the list."),
    ],
)
def test_builder_validation_messages(client, org, overrides, message):
    dataset = make_dataset(org, candidates=5)
    response = client.post("/batches/", data=builder_data(client, dataset, **overrides))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert Batch.select().count() == 0


def test_a_foreign_dataset_is_refused_not_swapped(app, client, org, make_account):
    make_dataset(org, candidates=5)
    _, theirs = make_account("other@example.org", "Other")
    foreign = make_dataset(theirs, name="Theirs")
    response = client.post("/batches/", data=builder_data(client, foreign))
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "Choose one of this organization&#39;s datasets" in page
    assert "Not a valid choice" not in page
    assert Batch.select().count() == 0


def test_building_runs_as_a_job_with_controls_mixed_in_and_a_recorded_seed(client, org, run_jobs):
    dataset = make_dataset(org)
    n01 = ImageClass.get(ImageClass.key == "n01")
    response = client.post("/batches/", data=builder_data(client, dataset, class_ids=[n01.id]))
    batch = Batch.get(Batch.name == "Round 1")
    assert response.status_code == 302 and batch.state == "building"
    page = client.get(f"/batches/{batch.id}").get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in page and "Build HITs of Round 1" in page

    run_jobs()
    batch = Batch.get_by_id(batch.id)
    assert batch.state == "ready" and batch.shuffle_seed is not None
    assert batch.versions == ["POINTER_ORIGINAL", "NO_POINTER_NO_ORIGINAL"] and str(batch.reward) == "0.25"
    pages = list(HitPage.select().join(Hit).where(Hit.batch == batch))
    # 50 candidates, 9 per page (12 minus 3 controls): 6 pages of n01 only, in HITs of 3 pages.
    assert len(pages) == 6 and Hit.select().where(Hit.batch == batch).count() == 2
    assert {p.image_class_id for p in pages} == {n01.id}
    roles = dict(Candidate.select(Candidate.image, Candidate.role).where(Candidate.image_class == n01).tuples())
    for hit_page in pages:
        count = Counter(roles[i] for i in hit_page.image_ids)
        assert count["positive"] == 2 and count["negative"] == 1
        assert not set(hit_page.spare_image_ids) & set(hit_page.image_ids)
    shown = [i for p in pages for i in p.image_ids if roles[i] == "candidate"]
    assert sorted(shown) == sorted(i for i, r in roles.items() if r == "candidate"), "every candidate once"
    assert shown != sorted(shown), "the order is shuffled"
    done = client.get(f"/batches/{batch.id}").get_data(as_text=True)
    assert "2 HITs built." in done and "image order no." in done and str(batch.shuffle_seed) in done


def test_ten_assignments_warn_about_the_mturk_fee(client, org):
    dataset = make_dataset(org, candidates=5)
    page = client.post("/batches/", data=builder_data(client, dataset, assignments_per_hit=10), follow_redirects=True)
    assert "MTurk&#39;s fee is 40% instead of 20%" in page.get_data(as_text=True)
    form = client.get("/batches/new").get_data(as_text=True)
    assert 'id="fee-warning"' in form and "hidden" in re.search(r'<p id="fee-warning"[^>]*>', form).group(0)


def test_a_failed_build_says_why_and_can_run_again(client, org, run_jobs):
    dataset = make_dataset(org, candidates=5)
    client.post("/batches/", data=builder_data(client, dataset))
    batch = Batch.get(Batch.name == "Round 1")
    Candidate.update(role="candidate").where(Candidate.role == "negative").execute()  # controls vanish before the build
    run_jobs()
    assert Batch.get_by_id(batch.id).state == "failed"
    page = client.get(f"/batches/{batch.id}").get_data(as_text=True)
    assert "too few control images" in page and "Build the HITs again" in page
    assert "too few control images" in Batch.get_by_id(batch.id).build_error  # said beside the button, kept

    refused = client.post(f"/batches/{batch.id}/build", data={"csrf_token": csrf_token(client)}, follow_redirects=True)
    assert "fewer than 2 positive or 1 negative controls" in refused.get_data(as_text=True)
    Candidate.update(role="negative").where(
        Candidate.image.in_(Image.select(Image.id).where(Image.key.in_(["n01/0", "n02/0"])))
    ).execute()
    client.post(f"/batches/{batch.id}/build", data={"csrf_token": csrf_token(client)})
    run_jobs()
    assert Batch.get_by_id(batch.id).state == "ready" and Hit.select().count() > 0


def test_building_again_uses_the_classes_chosen_in_the_builder(client, org, run_jobs):
    dataset = make_dataset(org, candidates=5)
    n02 = ImageClass.get(ImageClass.key == "n02")
    client.post("/batches/", data=builder_data(client, dataset, class_ids=[n02.id]))
    batch = Batch.get(Batch.name == "Round 1")
    negatives = list(Candidate.select().where(Candidate.role == "negative"))
    Candidate.update(role="candidate").where(Candidate.role == "negative").execute()
    run_jobs()
    assert Batch.get_by_id(batch.id).state == "failed"

    Candidate.update(role="negative").where(Candidate.id.in_([c.id for c in negatives])).execute()
    again = client.post(f"/batches/{batch.id}/build", data={"csrf_token": csrf_token(client)}, follow_redirects=True)
    # What it does is the job's card, which follows it to its end: no flash to outlive it.
    said = " ".join(again.get_data(as_text=True).split())
    assert (
        "Build HITs of Round 1 from 1 chosen class</strong> · in the queue" in said
        and '<div id="flashes"> </div>' in said
    )
    run_jobs()
    assert Batch.get_by_id(batch.id).state == "ready"
    said = " ".join(client.get(f"/batches/{batch.id}").get_data(as_text=True).split())
    assert "Build HITs of Round 1 from 1 chosen class</strong> · done" in said
    assert {p.image_class_id for p in HitPage.select()} == {n02.id}


def test_batch_list_and_hits_are_paginated(client, org):
    dataset = make_dataset(org, classes=("n01",), candidates=1)
    for n in range(55):
        Batch.create(organization=org, dataset=dataset, name=f"Batch {n:02d}")
    listing = client.get("/batches/").get_data(as_text=True)
    assert listing.count("/batches/") >= 50 and "Page 1 of 2" in listing
    batch = Batch.get(Batch.name == "Batch 00")
    for _ in range(60):
        Hit.create(organization=org, batch=batch)
    for n in range(25):
        LabLink.create(organization=org, batch=batch, label=f"link {n:02d}")
    first = client.get(f"/batches/{batch.id}/hits").get_data(as_text=True)
    assert "60 HITs" in first and first.count("<code>") >= 50
    # Each tab's list pages with its own partial and its own page argument.
    hits_next = re.search(r'hx-get="([^"]+)" hx-target="#batch-hits"', first).group(1)
    links_tab = client.get(f"/batches/{batch.id}/links").get_data(as_text=True)
    links_next = re.search(r'hx-get="([^"]+)" hx-target="#lab-links"', links_tab).group(1)
    assert (hits_next, links_next) == (f"/batches/{batch.id}/hits?page=2", f"/batches/{batch.id}/links?links_page=2")
    second = client.get(hits_next, headers=HTMX).get_data(as_text=True)
    assert "Page 2 of 2" in second and "<html" not in second
    links = client.get(links_next, headers=HTMX).get_data(as_text=True)
    assert "link 04" in links and "link 05" not in links and "<html" not in links
    assert "<html" in client.get(links_next).get_data(as_text=True)  # a direct load is the whole page


# --- lab links ------------------------------------------------------------


def test_lab_links_generate_copy_and_revoke(app, client, org):
    batch = Batch.create(organization=org, dataset=make_dataset(org, candidates=1), name="B", state="ready")
    created = client.post(
        f"/batches/{batch.id}/links", data={"csrf_token": csrf_token(client), "label": "Session 1"}, headers=HTMX
    )
    link = LabLink.get()
    row = created.get_data(as_text=True)
    assert created.status_code == 200 and row.lstrip().startswith("<tr")
    assert (
        f"http://localhost/lab/{link.token}" in row and f'data-copy="lab-link-{link.id}"' in row and "Session 1" in row
    )
    too_long = client.post(
        f"/batches/{batch.id}/links", data={"csrf_token": csrf_token(client), "label": "x" * 200}, headers=HTMX
    )
    assert too_long.status_code == 422 and LabLink.select().count() == 1

    revoked = client.post(f"/batches/links/{link.id}/revoke", data={"csrf_token": csrf_token(client)}, headers=HTMX)
    assert "revoked" in revoked.get_data(as_text=True) and LabLink.get_by_id(link.id).revoked_at is not None
    page = client.get(f"/batches/{batch.id}/links").get_data(as_text=True)
    assert f"<s><code>http://localhost/lab/{link.token}</code></s>" in page


def test_all_classes_means_the_ones_with_images(client, org, run_jobs):
    dataset = make_dataset(org, candidates=9)
    ImageClass.create(organization=org, dataset=dataset, key="n03", names=["not imported yet"])
    client.post("/batches/", data=builder_data(client, dataset))
    run_jobs()
    batch = Batch.get(Batch.name == "Round 1")
    assert batch.state == "ready"
    keys = {p.image_class.key for p in HitPage.select().join(Hit).where(Hit.batch == batch)}
    assert keys == {"n01", "n02"}


def test_an_unexpected_build_fault_fails_the_batch_and_points_to_the_rq_monitor(client, org, run_jobs, monkeypatch):
    import tasks.batches

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(tasks.batches, "build_hits", broken)
    client.post("/batches/", data=builder_data(client, make_dataset(org, candidates=5)))
    run_jobs()
    batch = Batch.get(Batch.name == "Round 1")
    assert batch.state == "failed"
    page = client.get(f"/batches/{batch.id}").get_data(as_text=True)
    assert "The job stopped unexpectedly. An admin can see why in the RQ monitor" in page
    assert "The build failed. It stopped unexpectedly: an admin can see why in the RQ monitor." in page
    assert "disk full" not in page, "tracebacks stay in the RQ monitor"


def test_the_builder_warns_where_the_dataset_cannot_fill_the_shape_asked_for(client, org):
    from freelunch.services.batches.builder import shape_warnings

    # 10 pages of 48 (2 + 1 controls) asked; two classes of 20 and 50 candidates, one short of negatives.
    said = shape_warnings([("n01", 20, 4, 4), ("n02", 50, 2, 0), ("n03", 0, 0, 0)], 48, 2, 1, 10)
    assert said[0].startswith("1 class (n02) has fewer than 2 positive or 1 negative controls")
    assert said[1] == "The chosen classes fill only 3 pages: a HIT will have 3, not 10."
    assert said[2].startswith("2 of the 3 pages will show fewer than 48 images")
    assert shape_warnings([("n01", 90, 4, 4)], 48, 2, 1, 2) == []  # 2 full pages of 45 + 3 controls

    dataset = make_dataset(org, classes=("n01",), candidates=20, positives=1, negatives=1)
    html = client.get(f"/batches/new?dataset_id={dataset.id}").get_data(as_text=True)
    assert 'data-positives="1" data-negatives="1"' in html  # builder.js says the same as the form changes
    assert "The chosen classes fill only 1 page" in html


def test_the_instructions_count_the_images_a_worker_will_see_controls_among_them(client, org):
    """A page of 24 with 3 + 3 controls, a class of 24 candidates: pages of 24 and of 12 images, each with its 6
    controls, which a worker sees as images like the others. The instructions (lab page, MTurk landing page) say 12-24
    images; "candidate" is the platform's word for the images that are not controls, so they never say it."""
    dataset = make_dataset(org, classes=("n01", "n02"), candidates=24, positives=4, negatives=4)
    batch = Batch.create(
        organization=org,
        dataset=dataset,
        name="Controls",
        pages_per_hit=2,
        images_per_page=24,
        positives_per_page=3,
        negatives_per_page=3,
    )
    build_hits(batch)
    link = LabLink.create(organization=org, batch=batch, label="Session")
    shown = set()
    for hit in Hit.select().where(Hit.batch == batch):
        for pageno in (1, 2):
            task = client.get(f"/batches/{batch.id}/hits/{hit.id}/preview?pageno={pageno}").get_data(as_text=True)
            shown.add(task.count("data-image-id="))
    assert shown == {12, 24}
    for intro in (client.get(f"/lab/{link.token}"), client.get(f"/batches/{batch.id}/survey.html")):
        text = " ".join(re.sub(r"<[^>]+>", "", intro.get_data(as_text=True)).split())
        assert "one object class with its definition and 12–24 images." in text
        assert "candidate" not in text
