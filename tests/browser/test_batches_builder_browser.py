"""The builder on a 1,000-class dataset in Chromium: search, "only classes with images", select all matching,
and a cost line that prices the choice as the server will build it."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
from support import log_in

from freelunch.models import Batch, Candidate, Dataset, Hit, HitPage, Image, ImageClass
from freelunch.presets import IMAGENET_1K
from freelunch.services.batches.builder import plan
from freelunch.services.mturk.cost import estimate

pytestmark = pytest.mark.browser

IMAGENET_CLASSES = json.loads(IMAGENET_1K.classes())
FISH = {"n01440764": 14, "n01443537": 9, "n01484850": 0}  # tench, goldfish (with images) and great white shark (none)


def imagenet(org) -> Dataset:
    """The 1,000 ImageNet classes; only FISH's first two have candidates (and 2 + 2 controls each)."""
    dataset = Dataset.create(organization=org, name="ImageNet-1k")
    ImageClass.insert_many(
        [
            dict(organization=org, dataset=dataset, key=c["wnid"], names=c["synset"], description=c["gloss"])
            for c in IMAGENET_CLASSES
        ]
    ).execute()
    for key, candidates in FISH.items():
        image_class = ImageClass.get(ImageClass.dataset == dataset, ImageClass.key == key)
        for n, role in enumerate(
            ["candidate"] * candidates + (["positive"] * 2 + ["negative"] * 2 if candidates else [])
        ):
            image = Image.create(
                organization=org,
                dataset=dataset,
                key=f"{key}/{n}",
                url=f"https://img.example/{key}/{n}.jpg",
                width=400,
                height=300,
            )
            Candidate.create(organization=org, image=image, image_class=image_class, role=role)
    return dataset


def cost_line(pages: int, hits: int, assignments: int, reward: str) -> str:
    e = estimate(hits, assignments, Decimal(reward))
    return (
        f"{pages} pages · {hits} HITs · {hits * assignments} assignments · on MTurk ${e.total:,.2f} "
        f"(${e.rewards:,.2f} rewards + ${e.fees:,.2f} MTurk fee)"
    )


def test_builder_filters_a_thousand_classes_and_prices_the_choice(app, live_server, page, make_account, run_jobs):
    _, org = make_account("requester@example.org", "Lab")
    with app.app_context():
        dataset = imagenet(org)
    log_in(page, live_server, "requester@example.org")
    started = time.monotonic()
    page.goto(f"{live_server}/batches/new?dataset_id={dataset.id}")
    print(f"builder with 1,000 classes loaded in {1000 * (time.monotonic() - started):.0f} ms")
    assert page.locator("[data-class-list] li").count() == 1000
    # "Only classes with images" is on: the two fish with candidates are all that show.
    assert page.locator("[data-class-list] li:visible").count() == 2
    assert page.inner_text("[data-class-count]").startswith("2 of 1,000 classes shown · 0 selected.")

    page.uncheck("[data-with-images]")
    page.fill("[data-class-search]", "shark")
    visible = page.locator("[data-class-list] li:visible")
    assert visible.count() >= 3 and all("shark" in t.lower() for t in visible.all_inner_texts())
    page.fill("[data-class-search]", "fish")
    page.check("[data-with-images]")
    assert [t.strip() for t in page.locator("[data-class-list] li:visible").all_inner_texts()] == [
        "n01443537 · goldfish, Carassius auratus · 9 candidates, 2 + 2 controls"
    ]
    page.fill("[data-class-search]", "")
    page.click("[data-select-matching]")
    assert page.inner_text("[data-class-count]").startswith("2 of 1,000 classes shown · 2 selected.")

    # The cost line follows every number: 6 images with 1 + 1 controls leaves 4 candidates a page.
    for name, value in [
        ("pages_per_hit", "2"),
        ("images_per_page", "6"),
        ("positives_per_page", "1"),
        ("negatives_per_page", "1"),
        ("assignments_per_hit", "12"),
        ("reward", "0.35"),
    ]:
        page.fill(f"input[name={name}]", value)
    pages, hits = plan([14, 9], 6, 2, 2)
    assert (pages, hits) == (7, 4)
    expected = cost_line(pages, hits, 12, "0.35")  # 12 assignments: two MTurk HITs of 6, 20 % fee each
    assert page.inner_text("[data-cost-line]") == expected
    assert page.is_visible("#fee-warning")

    # Tench alone, then submit: the batch built has the HITs and pages the line promised.
    page.fill("[data-class-search]", "tench")
    page.click("[data-clear-selection]")
    page.click("[data-select-matching]")
    pages, hits = plan([14], 6, 2, 2)
    assert page.inner_text("[data-cost-line]") == cost_line(pages, hits, 12, "0.35")
    page.fill("input[name=name]", "Tench")
    page.fill("input[name=assignments_per_hit]", "3")
    page.click("button:has-text('Create batch')")
    page.wait_for_selector("[data-testid=batch-phase]")
    run_jobs()
    batch = Batch.get(Batch.name == "Tench")
    assert Hit.select().where(Hit.batch == batch).count() == hits
    assert HitPage.select().join(Hit).where(Hit.batch == batch).count() == pages


def test_the_hourly_pay_is_estimated_for_a_hit_as_the_chosen_classes_fill_it(app, live_server, page, make_account):
    from factories import make_dataset

    _, org = make_account("requester@example.org", "Lab")
    with app.app_context():
        dataset = make_dataset(org, candidates=10, positives=2, negatives=2)
    log_in(page, live_server, "requester@example.org")
    page.goto(f"{live_server}/batches/new?dataset_id={dataset.id}")
    fair_pay = page.locator(".fair-pay")
    for name, value in [("images_per_page", "6"), ("positives_per_page", "1"), ("negatives_per_page", "1")]:
        page.fill(f"input[name={name}]", value)
    # 4 candidates a page: each class of 10 fills 3 pages, so a HIT asked to have 10 has 6.
    fair_pay.filter(has_text="At $0.10 a HIT of 6 pages").wait_for()
    page.check("[data-class-list] li:has-text('n01 ') input")
    fair_pay.filter(has_text="At $0.10 a HIT of 3 pages").wait_for()
    page.fill("input[name=pages_per_hit]", "2")
    fair_pay.filter(has_text="At $0.10 a HIT of 2 pages").wait_for()
    page.fill("input[name=reward]", "0.50")
    fair_pay.filter(has_text="At $0.50 a HIT of 2 pages").wait_for()
