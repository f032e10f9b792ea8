"""The builder's lean first round in Chromium: what asking the images the model is sure about one vote saves, kept
current as the classes and numbers change, and the cost line of both batches once ticked, as the server builds."""

from __future__ import annotations

from decimal import Decimal

import pytest
from factories import scored_dataset
from support import log_in

from freelunch.formatting import counted
from freelunch.models import Batch, Hit, ImageClass
from freelunch.services.batches import builder
from freelunch.services.mturk.cost import estimate

pytestmark = pytest.mark.browser


def priced(counts: list[int], assignments: int, reward: str = "0.10"):
    """(pages, estimate) with the builder's defaults: 48 images a page, 3 + 3 controls, 10 pages a HIT."""
    pages, hits = builder.plan(counts, 48, 6, 10)
    return pages, estimate(hits, assignments, Decimal(reward))


def test_the_saving_follows_the_choice_and_ticking_prices_both_batches(app, live_server, page, make_account, run_jobs):
    _, org = make_account("requester@example.org", "Lab")
    with app.app_context():
        dataset = scored_dataset(org)
        sure = builder.sure_images(dataset.id)
    classes = list(ImageClass.select().where(ImageClass.dataset == dataset).order_by(ImageClass.key))
    log_in(page, live_server, "requester@example.org")
    page.goto(f"{live_server}/batches/new?dataset_id={dataset.id}")
    saving = page.locator("[data-sure-saving]")
    assert (
        f"sure about {sure.count()} of the chosen candidates: asking them one vote saves {2 * sure.count()} votes"
        in (saving.inner_text())
    )
    page.fill("input[name=assignments_per_hit]", "5")
    assert f"saves {4 * sure.count()} votes" in saving.inner_text()
    page.check(f"input[name=class_ids][value='{classes[0].id}']")
    first = sure.count(classes[0].id)
    assert f"sure about {first} of the chosen candidates: asking them one vote saves {4 * first} votes" in (
        saving.inner_text()
    )

    # unticked, the cost line prices one batch; ticked, the rest at 5 and the sure ones at 1
    pages, whole = priced([50], 5)
    assert page.inner_text("[data-cost-line]").startswith(
        f"{counted(pages, 'page')} · {counted(whole.hits, 'HIT')} · {counted(whole.assignments, 'assignment')} · "
    )
    page.check("input[name=ask_sure_once]")
    rest_pages, rest = priced([50 - first], 5)
    sure_pages, few = priced([first], 1)
    total = rest.total + few.total
    assert page.inner_text("[data-cost-line]") == (
        f"{counted(rest_pages + sure_pages, 'page')} · {counted(rest.hits + few.hits, 'HIT')} · "
        f"{counted(rest.assignments + few.assignments, 'assignment')} · on MTurk ${total:,.2f} "
        f"(${rest.rewards + few.rewards:,.2f} rewards + ${rest.fees + few.fees:,.2f} MTurk fee)"
    )
    assert f"${total:,.2f} instead of ${whole.total:,.2f} on MTurk" in saving.inner_text()

    page.fill("input[name=name]", "Lean")
    page.click("button:has-text('Create batch')")
    page.wait_for_selector("[data-testid=batch-phase]")
    run_jobs()
    lean = Batch.get(Batch.name == "Lean · sure images")
    assert lean.assignments_per_hit == 1 and Hit.select().where(Hit.batch == lean).count() == few.hits
    assert Hit.select().join(Batch).where(Batch.name == "Lean").count() == rest.hits
