"""Accounts under attack: open redirects after login, replayed and expired invites."""
from __future__ import annotations

import datetime as dt
import threading

import pytest

from freelunch.models import Invite, Membership, User, utcnow
from support import csrf_token, login

OFF_SITE = [
    "//evil.example/", "/\t/evil.example/", "/\\evil.example/", "\\\\evil.example",
    "/\r\nSet-Cookie: x=1", "/\n/evil.example", "https://evil.example/", "http:evil.example", "javascript:alert(1)",
    "data:text/html,x", "evil.example", " //evil.example", "/\x00/evil.example", "///evil.example",
]


@pytest.mark.parametrize("target", OFF_SITE)
def test_login_never_redirects_off_site(client, make_account, target):
    make_account("me@example.org")
    token = csrf_token(client)
    response = client.post("/login", query_string={"next": target},
                           data={"email": "me@example.org", "password": "password123", "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/datasets/", f"{target!r} -> {response.headers['Location']!r}"


def test_login_raw_query_forms_never_redirect_off_site(client, make_account):
    """The attacker's own encodings, straight in the query string (no client-side quoting)."""
    make_account("me@example.org")
    for query in ("next=/%09/evil.example/", "next=/%5Cevil.example", "next=%2F%2Fevil.example", "next=/%0d%0aX:y",
                  "next=/%E2%80%AE/evil"):
        client.post("/logout", data={"csrf_token": csrf_token(client)})
        response = client.post(f"/login?{query}", data={"email": "me@example.org", "password": "password123",
                                                        "csrf_token": csrf_token(client)})
        assert response.status_code == 302, query
        location = response.headers["Location"]
        assert location.startswith("/") and not location.startswith(("//", "/\\")), (query, location)


def test_login_keeps_a_same_site_next(client, make_account):
    make_account("me@example.org")
    response = client.post("/login?next=/batches/?page=2", data={"email": "me@example.org", "password": "password123",
                                                                "csrf_token": csrf_token(client)})
    assert response.headers["Location"] == "/batches/?page=2"


def _invite(make_account, app, **fields) -> Invite:
    owner, org = make_account("owner@example.org", "Lab")
    with app.app_context():
        return Invite.create(organization=org, role="requester", created_by=owner, **fields)


def test_simultaneous_sign_ups_on_one_invite_make_one_membership(app, make_account):
    invite = _invite(make_account, app)
    clients = [app.test_client() for _ in range(8)]
    tokens = [csrf_token(c) for c in clients]
    start = threading.Barrier(len(clients))
    statuses: list[int] = []

    def sign_up(n: int) -> None:
        start.wait()
        response = clients[n].post(f"/invite/{invite.token}", data={
            "email": f"new{n}@example.org", "password": "a long new passphrase", "csrf_token": tokens[n]})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=sign_up, args=(n,)) for n in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [302] + [404] * 7, statuses
    joined = Membership.select().where(Membership.organization == invite.organization_id, Membership.role == "requester")
    assert joined.count() == 1
    assert User.select().count() == 2, "a refused sign-up leaves no account behind"


def test_an_invite_works_once_for_logged_in_users_too(app, client, make_account):
    invite = _invite(make_account, app)
    make_account("a@example.org", "A")
    login(client, "a@example.org")
    assert client.post(f"/invite/{invite.token}", data={"csrf_token": csrf_token(client)}).status_code == 302
    make_account("b@example.org", "B")
    other = app.test_client()
    login(other, "b@example.org")
    assert other.post(f"/invite/{invite.token}", data={"csrf_token": csrf_token(other)}).status_code == 404
    assert Membership.select().where(Membership.organization == invite.organization_id).count() == 2


def test_an_expired_invite_is_refused(app, client, make_account):
    invite = _invite(make_account, app, expires_at=utcnow() - dt.timedelta(seconds=1))
    assert client.get(f"/invite/{invite.token}").status_code == 404
    response = client.post(f"/invite/{invite.token}", data={
        "email": "late@example.org", "password": "a long new passphrase", "csrf_token": csrf_token(client)})
    assert response.status_code == 404
    assert not User.select().where(User.email == "late@example.org").exists()


def test_new_invites_expire_in_a_week(app, make_account):
    invite = _invite(make_account, app)
    assert dt.timedelta(days=6, hours=23) < invite.expires_at - utcnow() <= dt.timedelta(days=7)
