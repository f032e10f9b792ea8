"""Datasets on the dashboard: create, rename, browse with pagination, edit classes inline, delete with a clear
warning."""

import re

from factories import picture
from support import csrf_token, login

from freelunch import storage
from freelunch.models import (
    Assignment,
    Batch,
    Candidate,
    Dataset,
    Hit,
    HitPage,
    Image,
    ImageClass,
    LabLink,
    Membership,
    PageSubmission,
)
from freelunch.services.accounts.users import create_user

HTMX = {"HX-Request": "true"}


def post(client, url, htmx=False, **data):
    return client.post(url, data={"csrf_token": csrf_token(client), **data}, headers=HTMX if htmx else {})


def test_create_validates_and_redirects(client, org):
    assert "Give the dataset a name." in post(client, "/datasets/", name=" ").get_data(as_text=True)
    response = post(client, "/datasets/", name="Birds", description="Some birds")
    dataset = Dataset.get(Dataset.name == "Birds")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/datasets/{dataset.id}")
    duplicate = post(client, "/datasets/", name="Birds")
    assert duplicate.status_code == 422 and "already have a dataset with this name" in duplicate.get_data(as_text=True)


def test_rename_and_describe(client, org):
    dataset = Dataset.create(organization=org, name="Old")
    Dataset.create(organization=org, name="Taken")
    assert post(client, f"/datasets/{dataset.id}", name="Taken").status_code == 422
    assert post(client, f"/datasets/{dataset.id}", name="New", description="Renamed").status_code == 302
    assert (Dataset.get_by_id(dataset.id).name, Dataset.get_by_id(dataset.id).description) == ("New", "Renamed")


def test_dataset_list_is_paginated(client, org):
    for n in range(55):
        Dataset.create(organization=org, name=f"Set {n:02d}")
    first = client.get("/datasets/").get_data(as_text=True)
    assert "Set 00" in first and "Set 49" in first and "Set 50" not in first and "Page 1 of 2" in first
    second = client.get("/datasets/?page=2", headers=HTMX).get_data(as_text=True)
    assert "Set 54" in second and "Set 00" not in second and "<html" not in second


def _classes(dataset, n):
    return [
        ImageClass.create(
            organization=dataset.organization_id,
            dataset=dataset,
            key=f"n{i:03d}",
            names=[f"thing {i}"],
            description=f"definition {i}",
        )
        for i in range(n)
    ]


def test_classes_are_paginated_and_searchable(client, org):
    dataset = Dataset.create(organization=org, name="D")
    _classes(dataset, 60)
    page = client.get(f"/datasets/{dataset.id}").get_data(as_text=True)
    assert "n049" in page and "n050" not in page
    # The page's Next link fetches the list's own partial, not the whole page.
    next_url = (
        re.search(r'<a href="[^"]+" hx-get="([^"]+)" hx-target="#class-list"', page).group(1).replace("&amp;", "&")
    )
    assert next_url == f"/datasets/{dataset.id}/classes?page=2"
    second = client.get(next_url, headers=HTMX).get_data(as_text=True)
    assert "n050" in second and "n049" not in second and "<html" not in second
    found = client.get(f"/datasets/{dataset.id}/classes?q=thing 42", headers=HTMX).get_data(as_text=True)
    assert "n042" in found and "n041" not in found


def test_inline_class_edit(client, org):
    dataset = Dataset.create(organization=org, name="D")
    (image_class,) = _classes(dataset, 1)
    edit = client.get(f"/datasets/classes/{image_class.id}/edit", headers=HTMX).get_data(as_text=True)
    assert 'value="thing 0"' in edit and "hx-post" in edit
    bad = post(client, f"/datasets/classes/{image_class.id}", htmx=True, names=" , ", description="x")
    assert bad.status_code == 422 and "at least one name" in bad.get_data(as_text=True)
    good = post(
        client, f"/datasets/classes/{image_class.id}", htmx=True, names="tench, Tinca tinca", description=" a fish "
    )
    assert good.status_code == 200 and good.get_data(as_text=True).lstrip().startswith("<tr")
    saved = ImageClass.get_by_id(image_class.id)
    assert (saved.names, saved.description) == (["tench", "Tinca tinca"], "a fish")
    cancel = client.get(f"/datasets/classes/{image_class.id}", headers=HTMX).get_data(as_text=True)
    assert "tench, Tinca tinca" in cancel


def test_inline_class_edit_refuses_control_characters_as_imports_do(client, org):
    """A name or definition with a control character (an escape, U+0085) was saved from the form although a class
    import refuses it; tabs and line breaks stay text, as in imports."""
    dataset = Dataset.create(organization=org, name="D")
    (image_class,) = _classes(dataset, 1)
    url = f"/datasets/classes/{image_class.id}"
    bad = post(client, url, htmx=True, names="tench, Tin\x1bca", description="x")
    assert bad.status_code == 422
    assert "The name may not contain control characters: an escape (U+001B) at character 4." in bad.get_data(
        as_text=True
    )
    bad = post(client, url, htmx=True, names="tench", description="a\x85fish")
    assert bad.status_code == 422
    assert "The definition may not contain control characters: a next-line character (U+0085) at character 2." in (
        bad.get_data(as_text=True)
    )
    assert ImageClass.get_by_id(image_class.id).names == ["thing 0"]
    good = post(client, url, htmx=True, names="tench", description="a fish\r\nof Europe")
    assert good.status_code == 200 and ImageClass.get_by_id(image_class.id).description == "a fish\r\nof Europe"


def test_image_browser_filters_and_paginates(app, client, org):
    dataset = Dataset.create(organization=org, name="D")
    fish, bird = _classes(dataset, 2)
    for n in range(50):
        image = Image.create(
            organization=org,
            dataset=dataset,
            key=f"n000/{n:02d}",
            url=f"https://img.example/{n}.jpg",
            width=500,
            height=375,
        )
        Candidate.create(organization=org, image=image, image_class=fish, role="positive" if n < 3 else "candidate")
    other = Image.create(
        organization=org, dataset=dataset, key="n001/x", url="https://img.example/x.jpg", width=1, height=1
    )
    Candidate.create(organization=org, image=other, image_class=bird)
    page = client.get(f"/datasets/{dataset.id}/images").get_data(as_text=True)
    assert page.count('loading="lazy"') == 48 and "Page 1 of 2" in page
    positives = client.get(f"/datasets/{dataset.id}/images?class=n000&role=positive", headers=HTMX).get_data(
        as_text=True
    )
    assert positives.count('loading="lazy"') == 3 and "n001/x" not in positives
    assert client.get(f"/datasets/{dataset.id}/images?class=zzz").status_code == 404
    assert client.get(f"/datasets/{dataset.id}/images?role=boss").status_code == 400
    # A URL image's thumbnail is the image itself.
    assert client.get(f"/datasets/images/{other.id}/thumbnail").headers["Location"] == "https://img.example/x.jpg"


def _campaign(org, dataset):
    """A batch with one HIT, an assignment and a submitted page: work a deletion would lose."""
    image_class = ImageClass.create(organization=org, dataset=dataset, key="n01", names=["fish"])
    image = Image.create(organization=org, dataset=dataset, key="n01/1", url="https://img.example/1.jpg")
    Candidate.create(organization=org, image=image, image_class=image_class)
    batch = Batch.create(organization=org, dataset=dataset, name="Round 1", state="published")
    hit = Hit.create(organization=org, batch=batch)
    page = HitPage.create(organization=org, hit=hit, pageno=1, image_class=image_class, image_ids=[image.id])
    assignment = Assignment.create(
        organization=org, hit=hit, worker_id="ABCDEF0123", source="lab", version="POINTER_ORIGINAL"
    )
    PageSubmission.create(assignment=assignment, hit_page=page, pageno=1, started_at=1, ended_at=2)
    LabLink.create(organization=org, batch=batch)
    return batch


def test_deleting_a_dataset_that_batches_use_explains_and_needs_its_name(app, client, org):
    dataset = Dataset.create(organization=org, name="Fish")
    _campaign(org, dataset)
    with app.app_context():
        storage.save(f"datasets/{dataset.id}/a.png", picture())
    confirm = client.get(f"/datasets/{dataset.id}/delete").get_data(as_text=True)
    assert "1 batch uses this dataset and will be deleted with it" in confirm
    assert "1 assignment and 1 submitted page" in confirm and "1 submitted pages" not in confirm
    assert "Published on MTurk" in confirm
    refused = post(client, f"/datasets/{dataset.id}/delete", confirm_name="fish")
    assert refused.status_code == 422 and "Type Fish exactly" in refused.get_data(as_text=True)
    assert Dataset.get_or_none(Dataset.id == dataset.id) is not None

    done = post(client, f"/datasets/{dataset.id}/delete", confirm_name="Fish")
    assert done.status_code == 302
    for model in (Dataset, Batch, Hit, HitPage, Assignment, PageSubmission, LabLink, ImageClass, Image, Candidate):
        assert model.select().count() == 0, model.__name__
    with app.app_context():
        assert not storage.backend().exists(f"datasets/{dataset.id}/a.png")


def test_deleting_an_unused_dataset_needs_no_typing(client, org):
    dataset = Dataset.create(organization=org, name="Spare")
    confirm = client.get(f"/datasets/{dataset.id}/delete").get_data(as_text=True)
    assert "confirm_name" not in confirm
    assert post(client, f"/datasets/{dataset.id}/delete").status_code == 302
    assert Dataset.select().count() == 0


def test_viewers_see_no_editing_controls(app, client, org):
    dataset = Dataset.create(organization=org, name="D")
    _classes(dataset, 1)
    viewer = create_user("viewer@example.org", "password123")
    Membership.create(user=viewer, organization=org, role="viewer")
    other = app.test_client()
    login(other, "viewer@example.org")
    page = other.get(f"/datasets/{dataset.id}").get_data(as_text=True)
    assert "n000" in page
    assert "Import classes" not in page and ">Edit<" not in page and "Delete this dataset" not in page
    assert other.post(f"/datasets/{dataset.id}/delete", data={"csrf_token": csrf_token(other)}).status_code == 403
