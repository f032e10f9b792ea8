"""Tenants never see each other's data: a foreign id is a 404 on every dashboard route that takes one.

Later features add their routes to FOREIGN_ROUTES; the test walks them all.
"""
import pytest

from freelunch.models import Batch, Dataset, Invite, Membership
from freelunch.services.accounts import create_user
from conftest import csrf_token, login

# (method, url template, kind of row): {id} is filled with the other organization's row id.
FOREIGN_ROUTES = [
    ("GET", "/datasets/{id}", "dataset"),
    ("GET", "/batches/{id}", "batch"),
    ("POST", "/members/{id}/role", "membership"),
    ("POST", "/members/{id}/remove", "membership"),
    ("POST", "/members/invites/{id}/revoke", "invite"),
]


@pytest.fixture
def other_org_rows(make_account):
    owner, organization = make_account("other@example.org", "Other")
    dataset = Dataset.create(organization=organization, name="Theirs")
    batch = Batch.create(organization=organization, dataset=dataset, name="Their batch")
    invite = Invite.create(organization=organization, role="viewer", created_by=owner)
    return {"dataset": dataset.id, "batch": batch.id, "invite": invite.id,
            "membership": Membership.get(Membership.user == owner).id}


@pytest.mark.parametrize("method,template,kind", FOREIGN_ROUTES)
def test_foreign_id_is_404(client, make_account, other_org_rows, method, template, kind):
    make_account("me@example.org", "Mine")
    login(client, "me@example.org")
    url = template.format(id=other_org_rows[kind])
    response = client.open(url, method=method, data={"csrf_token": csrf_token(client), "role": "owner"})
    assert response.status_code == 404


def test_own_rows_are_visible(client, make_account):
    _, organization = make_account("me@example.org", "Mine")
    dataset = Dataset.create(organization=organization, name="Ours")
    login(client, "me@example.org")
    assert "Ours" in client.get(f"/datasets/{dataset.id}").get_data(as_text=True)


def test_viewer_cannot_change_anything(client, make_account):
    _, organization = make_account("owner@example.org", "Lab")
    viewer = create_user("viewer@example.org", "password123")
    Membership.create(user=viewer, organization=organization, role="viewer")
    login(client, "viewer@example.org")
    response = client.post("/members/invites", data={"role": "owner", "csrf_token": csrf_token(client)})
    assert response.status_code == 403
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
