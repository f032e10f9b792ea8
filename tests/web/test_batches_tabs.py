"""The batch page's tabs: a URL per tab, a fragment for a tab swap, the whole page otherwise; one source for its
figures."""

import re

import pytest
from factories import make_dataset
from support import builder_data

from freelunch.models import Batch, Hit, HitPage

TABS = {"overview": "", "hits": "/hits", "links": "/links", "mturk": "/mturk"}
REVIEW_TABS = {"review": "/assignments", "results": "/results", "exports": "/exports"}
SWAP = {"HX-Request": "true", "HX-Target": "batch-tab"}


def tab_urls(batch_id: int) -> dict[str, str]:
    urls = {key: f"/batches/{batch_id}{path}" for key, path in TABS.items()}
    urls.update({key: f"/review/batches/{batch_id}{path}" for key, path in REVIEW_TABS.items()})
    return urls


def current_tab(html: str) -> str:
    return re.search(r'data-tab="(\w+)" aria-current="page"', html).group(1)


@pytest.mark.parametrize("tab", list(TABS) + list(REVIEW_TABS))
def test_each_tab_is_a_page_of_its_own_and_a_fragment_for_a_tab_swap(client, org, tab):
    batch = Batch.create(organization=org, dataset=make_dataset(org, candidates=1), name="B", state="ready")
    url = tab_urls(batch.id)[tab]
    page = client.get(url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html and current_tab(html) == tab
    assert 'id="batch-status"' in html and 'id="batch-tab"' in html
    for other, other_url in tab_urls(batch.id).items():  # the bar links every tab by its own URL
        assert f'href="{other_url}" hx-get="{other_url}" data-tab="{other}"' in html
    swapped = client.get(url, headers=SWAP)
    fragment = swapped.get_data(as_text=True)
    assert "<html" not in fragment and 'id="batch-status"' not in fragment and current_tab(fragment) == tab
    assert re.search(r"<title>[^<]+ · B · Freelunch</title>", fragment)
    assert {"HX-Request", "HX-Target", "HX-History-Restore-Request"} <= set(swapped.headers["Vary"].split(", "))
    restored = client.get(url, headers={**SWAP, "HX-History-Restore-Request": "true"}).get_data(as_text=True)
    assert "<html" in restored  # htmx restoring a page it no longer has in its cache gets the whole page


def test_after_a_build_every_figure_agrees_and_the_status_follows_the_build(client, org, run_jobs):
    dataset = make_dataset(org, classes=("n01",), candidates=40)
    created = client.post("/batches/", data=builder_data(client, dataset, pages_per_hit=2, images_per_page=12))
    batch = Batch.get()
    overview = client.get(created.headers["Location"]).get_data(as_text=True)
    assert batch.state == "building" and 'data-testid="batch-phase">building' in overview
    assert 'hx-trigger="every 1s, job-finished from:#batch-tab"' in overview  # polls fast while the build runs
    assert "being built" not in overview  # no flash left behind to contradict the live status

    run_jobs()
    hits = Hit.select().where(Hit.batch == batch).count()
    pages = HitPage.select().join(Hit).where(Hit.batch == batch).count()
    assert hits > 0
    status = client.get(f"/batches/{batch.id}/status", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-testid="batch-phase">ready' in status and f"{hits} HITs" in status
    assert 'hx-trigger="every 5s, job-finished from:#batch-tab"' in status
    mturk = client.get(f"/batches/{batch.id}/mturk", headers=SWAP).get_data(as_text=True)
    assert f"0 of {hits} HITs published" in mturk
    hit_tab = client.get(f"/batches/{batch.id}/hits").get_data(as_text=True)
    assert hit_tab.count("preview</a>") == hits and "being built" not in hit_tab
    overview = client.get(f"/batches/{batch.id}").get_data(as_text=True)
    status_line = re.search(r'<section id="batch-status".*?</section>', overview, re.S).group(0)
    assert f"0/{hits * 3} assignments" in status_line and f"0/{pages * 3} pages" in status_line, status_line


def test_a_batch_with_workers_reads_annotating_then_complete(app, client, campaign):
    html = client.get(f"/batches/{campaign.batch.id}").get_data(as_text=True)
    assert 'data-testid="batch-phase">annotating' in html  # 3 of its 4 assignments done
    assert "3/4 assignments" in html and "7/8 pages" in html and 'value="88"' in html


def test_the_overview_shows_interface_versions_by_their_meaning(client, org):
    batch = Batch.create(
        organization=org, dataset=make_dataset(org, candidates=1), name="B", versions=["POINTER_NO_ORIGINAL"]
    )
    html = client.get(f"/batches/{batch.id}").get_data(as_text=True)
    assert '<span title="POINTER_NO_ORIGINAL">Red pointer, blurred until hovered</span>' in html
