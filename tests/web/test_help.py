"""Help a hosted user can reach: import formats on the dashboard, file inputs that say what they take, a ZIP in
the wrong box explained, a favicon."""

import io
import re
import zipfile
from urllib.parse import urljoin

from support import csrf_token, login

from freelunch.models import Dataset


def test_import_help_is_a_dashboard_page_linked_from_the_imports(client, make_account):
    help_page = client.get("/help/imports")
    html = help_page.get_data(as_text=True)
    assert (
        help_page.status_code == 200 and "<h1" in html and '<h2 id="images">Images</h2>' in html and "<table>" in html
    )
    assert client.get("/help/nothing").status_code == 404
    _, org = make_account("req@example.org", "Lab")
    login(client, "req@example.org")
    dataset = Dataset.create(organization=org, name="D")
    page = client.get(f"/datasets/{dataset.id}").get_data(as_text=True)
    assert 'href="/help/imports"' in page and "docs/import-formats.md" not in page
    assert 'accept=".json,.csv,.txt,application/json,text/csv"' in page and 'accept=".zip,.csv,.jsonl' in page


def test_a_zip_sent_as_the_class_file_is_sent_back_with_the_way_to_import_it(client, make_account):
    _, org = make_account("req@example.org", "Lab")
    login(client, "req@example.org")
    dataset = Dataset.create(organization=org, name="D")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("n01/a.jpg", b"not really")
    response = client.post(
        f"/datasets/{dataset.id}/imports/classes",
        data={"csrf_token": csrf_token(client), "classes": (io.BytesIO(archive.getvalue()), "classes.zip")},
        content_type="multipart/form-data",
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422 and "This looks like a ZIP archive" in response.get_data(as_text=True)


def test_favicon(client):
    assert client.get("/favicon.ico").mimetype == "image/x-icon"
    assert client.get("/static/favicon.ico").status_code == 200  # the RQ monitor links this one
    assert 'rel="icon"' in client.get("/").get_data(as_text=True)


def test_the_results_class_field_picks_from_the_batch_classes_and_a_class_search_is_a_url(client, campaign):
    html = client.get(f"/review/batches/{campaign.batch.id}/results").get_data(as_text=True)
    assert 'list="class-keys"' in html and '<option value="n01">' in html and '<option value="n02">' in html
    dataset_id = campaign.batch.dataset_id
    search = client.get(f"/datasets/{dataset_id}/classes?q=n01", headers={"HX-Request": "true"})
    assert search.headers["HX-Push-Url"] == f"/datasets/{dataset_id}?q=n01"
    assert "n01" in client.get(f"/datasets/{dataset_id}?q=n01").get_data(as_text=True)


def test_the_import_help_shows_users_no_source_paths_or_notes_for_developers(client):
    """docs/import-formats.md keeps its notes for developers in comments: the page a requester reads has none."""
    html = client.get("/help/imports").get_data(as_text=True)
    text = re.sub(r"<!--.*?-->", "", html, flags=re.S)
    internals = ("platform/freelunch", "services/imports", "freelunch/presets", "keep this page in step", "TESTING")
    internals += ("STORAGE_QUOTA_MB", "S3_BUCKET", "MEDIA_ROOT", "PUBLIC_URL")  # operators' settings
    for internal in internals:
        assert internal not in text, internal
    assert "freelunch classes import --preset" in text and "No setting turns the check off." in text


def test_every_link_on_the_import_help_opens_and_it_names_no_internals(client, make_account):
    """The page is docs/import-formats.md rendered at /help/imports: a link to a sibling doc (review.md) would be
    /help/review.md, a 404, and a path in the repository (docs/..., instance/...) or the job queue's name means
    nothing to a requester. Operators' notes stay in comments."""
    make_account("req@example.org", "Lab")
    login(client, "req@example.org")
    html = client.get("/help/imports").get_data(as_text=True)
    text = re.sub(r"<!--.*?-->", "", html, flags=re.S)
    for href in set(re.findall(r'href="([^"#][^"]*)"', text)):
        if not href.startswith(("http://", "https://", "mailto:")):
            assert client.get(urljoin("/help/imports", href)).status_code == 200, href
    body = re.sub(r"<[^>]+>", " ", text.split("<main", 1)[1])
    for internal in ("review.md", "docs/", "instance/", "RQ job"):
        assert internal not in body, internal
