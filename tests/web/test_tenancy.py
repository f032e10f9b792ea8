"""Tenants never see each other's data: a foreign id is a 404 on every dashboard route that takes one.

The test walks every route of every blueprint behind ``tenancy.protect``, so
routes added later are covered without editing this file. A route parameter
must be named after its model (``dataset_id``, ``batch_id``, ...): add new
names to ``_other_organization``, or the walk fails and says which.
"""

import pytest
from support import csrf_token, login

from freelunch.models import (
    Assignment,
    Batch,
    Candidate,
    Dataset,
    Export,
    Hit,
    HitPage,
    Image,
    ImageClass,
    Invite,
    LabelFit,
    LabLink,
    Membership,
    MTurkAssignment,
    PageSubmission,
)
from freelunch.services import jobs
from freelunch.services.accounts.users import create_user
from freelunch.tenancy import DASHBOARD_BLUEPRINTS

# Not ids of rows: a page number, an export kind, a duplicate group's number within its (checked) dataset.
NON_ID_PARAMS = {"pageno": 1, "kind": "seed-jsonl", "group": 1}


def _other_organization(make_account, app) -> dict:
    """One row of every kind in another organization (and a background job); returns {route parameter: id}."""
    owner, org = make_account("other@example.org", "Other")
    dataset = Dataset.create(organization=org, name="Theirs")
    image_class = ImageClass.create(organization=org, dataset=dataset, key="n01", names=["fish"])
    image = Image.create(organization=org, dataset=dataset, key="n01/1", url="http://example.org/1.jpg")
    Candidate.create(organization=org, image=image, image_class=image_class)
    batch = Batch.create(organization=org, dataset=dataset, name="Their batch")
    hit = Hit.create(organization=org, batch=batch)
    hit_page = HitPage.create(organization=org, hit=hit, pageno=1, image_class=image_class, image_ids=[image.id])
    assignment = Assignment.create(
        organization=org, hit=hit, worker_id="ABCDEF0123", source="lab", version="POINTER_ORIGINAL"
    )
    PageSubmission.create(assignment=assignment, hit_page=hit_page, pageno=1, started_at=1, ended_at=2)
    with app.app_context():
        job = jobs.enqueue(jobs.BUILD_BATCH, batch.id, org.id, organization_id=org.id, scope="t", title="Theirs")
    return {
        "dataset_id": dataset.id,
        "class_id": image_class.id,
        "image_id": image.id,
        "batch_id": batch.id,
        "hit_id": hit.id,
        "assignment_id": assignment.id,
        "membership_id": Membership.get(Membership.user == owner).id,
        "invite_id": Invite.create(organization=org, role="viewer", created_by=owner).id,
        "link_id": LabLink.create(organization=org, batch=batch).id,
        "export_id": Export.create(organization=org, batch=batch, kind="seed-jsonl").id,
        "fit_id": LabelFit.create(organization=org, batch=batch, model="ds", target_precision=0.99).id,
        "job_id": job.id,
        "mturk_assignment_id": MTurkAssignment.create(
            organization=org,
            hit=hit,
            mturk_hit_id="H1",
            mturk_assignment_id="A1",
            worker_id="ABCDEF0123",
            status="Submitted",
        ).id,
    }


def dashboard_routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] in DASHBOARD_BLUEPRINTS and rule.arguments:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method


def test_every_dashboard_route_with_an_id_answers_404_for_a_foreign_id(app, client, make_account):
    foreign = _other_organization(make_account, app)
    make_account("me@example.org", "Mine")
    login(client, "me@example.org")
    token = csrf_token(client)
    checked = []
    for rule, method in dashboard_routes(app):
        unknown = rule.arguments - foreign.keys() - NON_ID_PARAMS.keys()
        assert not unknown, f"{rule.rule}: name the parameter after its model and add it to _other_organization"
        url = rule.build(
            {**NON_ID_PARAMS, **{k: foreign[k] for k in rule.arguments if k in foreign}}, append_unknown=False
        )[1]
        response = client.open(url, method=method, data={"csrf_token": token, "role": "owner", "name": "x"})
        assert response.status_code == 404, f"{method} {url} answered {response.status_code}"
        checked.append(f"{method} {rule.rule}")
    assert "GET /datasets/<int:dataset_id>" in checked and "GET /batches/<int:batch_id>" in checked


def test_own_rows_are_visible(client, make_account):
    _, organization = make_account("me@example.org", "Mine")
    dataset = Dataset.create(organization=organization, name="Ours")
    login(client, "me@example.org")
    assert "Ours" in client.get(f"/datasets/{dataset.id}").get_data(as_text=True)


def test_viewer_cannot_change_anything(app, client, make_account):
    _, organization = make_account("owner@example.org", "Lab")
    viewer = create_user("viewer@example.org", "password123")
    Membership.create(user=viewer, organization=organization, role="viewer")
    login(client, "viewer@example.org")
    token = csrf_token(client)
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] in DASHBOARD_BLUEPRINTS and "POST" in rule.methods:
            url = rule.build({k: 1 for k in rule.arguments} | {"kind": "seed-jsonl"}, append_unknown=False)[1]
            assert client.post(url, data={"csrf_token": token}).status_code == 403, url
    assert Invite.select().count() == 0


def test_anonymous_goes_to_login(client):
    response = client.get("/datasets/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_admin_area_is_for_site_admins(client, make_account):
    make_account("plain@example.org")
    login(client, "plain@example.org")
    assert client.get("/admin/").status_code == 403
    create_user("root@example.org", "password123", is_admin=True)
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    login(client, "root@example.org")
    html = client.get("/admin/").get_data(as_text=True)
    assert "plain@example.org" in html


@pytest.mark.parametrize("path", ["/datasets/999999", "/no/such/page"])
def test_error_pages_use_the_layout(client, make_account, path):
    make_account("me@example.org")
    login(client, "me@example.org")
    response = client.get(path)
    assert response.status_code == 404
    assert 'class="topbar"' in response.get_data(as_text=True)
