"""Images, exports and workers lists: sorted by the URL's ``sort`` (either way), narrowed by their filter, and an
unknown sort is the default order, not an error."""

from __future__ import annotations

import re

from factories import make_image
from support import HTMX

from freelunch.datasets.routes import IMAGE_SORTS
from freelunch.models import Dataset, Export, Image, ImageClass, LabelFit, WorkerEstimate
from freelunch.web import sorting
from freelunch.web.pagination import paginate
from freelunch.web.sorting import Sort


def shown_images(client, dataset, query: str = "") -> list[str]:
    response = client.get(f"/datasets/{dataset.id}/images?{query}", headers=HTMX)
    assert response.status_code == 200
    return re.findall(r'<img src="[^"]*" alt="([^"]+)"', response.get_data(as_text=True))


def test_images_sort_by_width_either_way_and_filter_by_role(app, client, org):
    with app.app_context():
        dataset = Dataset.create(organization=org, name="Sizes")
        fish = ImageClass.create(organization=org, dataset=dataset, key="n01", names=["fish"])
        for key, width, role in (("n01/b", 300, "candidate"), ("n01/a", 500, "positive"), ("n01/c", 100, "negative")):
            image = make_image(org, dataset, fish, key, role)
            image.width = width
            image.save()
    assert shown_images(client, dataset, "sort=width") == ["n01/c", "n01/b", "n01/a"]
    assert shown_images(client, dataset, "sort=-width") == ["n01/a", "n01/b", "n01/c"]
    assert shown_images(client, dataset, "sort=-width&role=negative") == ["n01/c"]
    assert shown_images(client, dataset, "sort=bogus") == ["n01/a", "n01/b", "n01/c"]  # the default: by key
    page = client.get(f"/datasets/{dataset.id}/images?sort=-width").get_data(as_text=True)
    assert '<option value="-width" selected>' in page  # the form shows (and resubmits) the sort


def test_every_page_of_images_read_from_either_end_is_the_same_order(app, client, org):
    """Pages past the middle are read from the end (the reversed order, then flipped back): walking every page, in
    every sort, gives each image once, in the order of one full sorted read, ties and missing sizes included."""
    with app.app_context():
        dataset = Dataset.create(organization=org, name="Walk")
        Image.insert_many(
            [
                {
                    "organization": org,
                    "dataset": dataset,
                    "key": f"n01/{i:02}",
                    "width": None if i % 5 == 0 else 100 * (i % 3),  # ties and NULLs
                    "height": 7,  # every row ties: only the id orders them
                    "stored_bytes": i,
                }
                for i in range(11)
            ]
        ).execute()
        for key in IMAGE_SORTS:
            for sort in (Sort(key, False), Sort(key, True)):
                query = Image.select().where(Image.dataset == dataset)
                tie = Image.id.desc() if sort.descending else Image.id  # as the view does: an index reads it
                whole = [i.key for i in sorting.apply(query, sort, IMAGE_SORTS, tie)]
                walked = []
                for number in range(1, 5):
                    page = paginate(
                        sorting.apply(query, sort, IMAGE_SORTS, tie),
                        number,
                        per_page=3,
                        backwards=sorting.apply(query, sort, IMAGE_SORTS, tie, backwards=True),
                    )
                    assert page.total == 11 and page.number == number
                    walked += [i.key for i in page.items]
                assert walked == whole, sort
                assert len(set(whole)) == 11


def shown_exports(client, batch, query: str = "") -> list[int]:
    response = client.get(f"/review/batches/{batch.id}/exports?{query}", headers=HTMX)
    assert response.status_code == 200
    return [int(n) for n in re.findall(r'class="export-row[^"]*" id="export-(\d+)"', response.get_data(as_text=True))]


def test_exports_sort_by_rows_either_way_and_filter_by_kind(app, client, campaign):
    batch = campaign.batch
    with app.app_context():
        made = [
            Export.create(organization=batch.organization_id, batch=batch, kind=kind, state="failed", rows=rows).id
            for kind, rows in (("records-csv", 20), ("workers-csv", 5), ("records-csv", 10))
        ]
    first, second, third = made
    assert shown_exports(client, batch, "sort=rows") == [second, third, first]
    assert shown_exports(client, batch, "sort=-rows") == [first, third, second]
    assert shown_exports(client, batch, "kind=records-csv&sort=rows") == [third, first]
    assert shown_exports(client, batch, "sort=nope") == [third, second, first]  # the default: newest first
    page = client.get(f"/review/batches/{batch.id}/exports?kind=workers-csv").get_data(as_text=True)
    assert 'id="export-list"' in page and '<option value="workers-csv" selected>' in page


def shown_workers(client, url: str) -> list[str]:
    response = client.get(url, headers=HTMX)
    assert response.status_code == 200
    return re.findall(r"<code>(W\w+)</code>", response.get_data(as_text=True))


def test_workers_sort_by_assignments_either_way_in_the_database_and_page(client, campaign):
    url = f"/review/batches/{campaign.batch.id}/workers"
    # W3 has two assignments, W1 and W2 one each (ties in worker order).
    assert shown_workers(client, f"{url}?sort=assignments") == ["W1AAAAAAAA", "W2BBBBBBBB", "W3CCCCCCCC"]
    assert shown_workers(client, f"{url}?sort=-assignments") == ["W3CCCCCCCC", "W1AAAAAAAA", "W2BBBBBBBB"]
    assert shown_workers(client, f"{url}?sort=-worker") == ["W3CCCCCCCC", "W2BBBBBBBB", "W1AAAAAAAA"]
    assert shown_workers(client, f"{url}?sort=bogus") == ["W1AAAAAAAA", "W2BBBBBBBB", "W3CCCCCCCC"]
    assert shown_workers(client, "/review/workers?sort=-assignments") == ["W3CCCCCCCC", "W1AAAAAAAA", "W2BBBBBBBB"]
    header = client.get(f"{url}?sort=-assignments", headers=HTMX).get_data(as_text=True)
    assert 'aria-sort="descending"' in header and "sort=assignments" in header  # the next click flips it


def test_workers_filter_to_the_flagged_ones(app, client, campaign):
    batch = campaign.batch
    with app.app_context():
        fit = LabelFit.create(
            organization=batch.organization_id, batch=batch, model="ds", target_precision=0.9, state="done"
        )
        for worker, flag in (("W1AAAAAAAA", ""), ("W2BBBBBBBB", "always-yes"), ("W3CCCCCCCC", "random")):
            WorkerEstimate.create(fit=fit, worker_id=worker, votes=8, gold_votes=2, selected=4, flag=flag)
    url = f"/review/batches/{batch.id}/workers"
    assert shown_workers(client, f"{url}?flagged=1&sort=-worker") == ["W3CCCCCCCC", "W2BBBBBBBB"]
    assert shown_workers(client, url) == ["W1AAAAAAAA", "W2BBBBBBBB", "W3CCCCCCCC"]
