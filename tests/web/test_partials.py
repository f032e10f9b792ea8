"""Page or partial (freelunch/web/partials.py): a history restore gets the whole page; answers say they vary by htmx."""

import re
from pathlib import Path

import pytest
from factories import make_dataset

SWAP = {"HX-Request": "true"}
RESTORE = {"HX-Request": "true", "HX-History-Restore-Request": "true"}


def pushed_lists(org) -> list[str]:
    """Dashboard lists whose paging and filters push their URL into the history."""
    dataset = make_dataset(org, classes=("n01",), candidates=2)
    return ["/datasets/", f"/datasets/{dataset.id}/images", "/batches/", "/review/workers"]


def test_a_history_restore_of_a_pushed_list_gets_the_whole_page(client, org):
    for url in pushed_lists(org):
        swapped = client.get(url + "?page=1", headers=SWAP)
        assert swapped.status_code == 200 and "<html" not in swapped.get_data(as_text=True), url
        restored = client.get(url + "?page=1", headers=RESTORE)
        assert restored.status_code == 200 and "<html" in restored.get_data(as_text=True), url


@pytest.mark.parametrize("headers", [{}, SWAP, RESTORE])
def test_answers_that_differ_by_htmx_say_so(client, org, headers):
    for url in pushed_lists(org):
        vary = client.get(url, headers=headers).headers.get("Vary", "")
        assert "HX-Request" in vary and "HX-History-Restore-Request" in vary, (url, vary)


def test_fragment_only_routes_redirect_a_full_load_and_vary(client, campaign):
    url = f"/review/batches/{campaign.batch.id}/progress"
    fragment = client.get(url, headers=SWAP)
    assert fragment.status_code == 200 and "<html" not in fragment.get_data(as_text=True)
    assert "HX-Request" in fragment.headers["Vary"]
    restored = client.get(url, headers=RESTORE)
    assert restored.status_code == 302 and "HX-Request" in restored.headers["Vary"]


def test_answers_that_never_differ_carry_no_htmx_vary(client, org):
    assert "HX-Request" not in client.get("/login").headers.get("Vary", "")


def test_views_ask_partials_not_request_htmx():
    """One place decides page or partial: a view reading ``request.htmx`` itself would miss history restores."""
    source = Path(__file__).resolve().parents[2] / "platform" / "freelunch"
    readers = [
        str(path.relative_to(source))
        for path in source.rglob("*.py")
        if path.name != "partials.py" and re.search(r"request\.htmx(?!\.target)", path.read_text())
    ]
    assert readers == []
