"""Accounts under attack: open redirects after login, replayed and expired invites."""

from __future__ import annotations

import datetime as dt
import re
import threading
import time

import pytest
from support import csrf_token, login

from freelunch.models import Invite, Membership, User, utcnow

OFF_SITE = [
    "//evil.example/",
    "/\t/evil.example/",
    "/\\evil.example/",
    "\\\\evil.example",
    "/\r\nSet-Cookie: x=1",
    "/\n/evil.example",
    "https://evil.example/",
    "http:evil.example",
    "javascript:alert(1)",
    "data:text/html,x",
    "evil.example",
    " //evil.example",
    "/\x00/evil.example",
    "///evil.example",
]


@pytest.mark.parametrize("target", OFF_SITE)
def test_login_never_redirects_off_site(client, make_account, target):
    make_account("me@example.org")
    token = csrf_token(client)
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"email": "me@example.org", "password": "password123", "csrf_token": token},
    )
    if "\x00" in target:  # refused before any view (web/errors.py): PostgreSQL text cannot hold a NUL
        assert response.status_code == 400 and "Location" not in response.headers
        return
    assert response.status_code == 302
    assert response.headers["Location"] == "/", f"{target!r} -> {response.headers['Location']!r}"


def test_login_raw_query_forms_never_redirect_off_site(client, make_account):
    """The attacker's own encodings, straight in the query string (no client-side quoting)."""
    make_account("me@example.org")
    for query in (
        "next=/%09/evil.example/",
        "next=/%5Cevil.example",
        "next=%2F%2Fevil.example",
        "next=/%0d%0aX:y",
        "next=/%E2%80%AE/evil",
    ):
        client.post("/logout", data={"csrf_token": csrf_token(client)})
        response = client.post(
            f"/login?{query}",
            data={"email": "me@example.org", "password": "password123", "csrf_token": csrf_token(client)},
        )
        assert response.status_code == 302, query
        location = response.headers["Location"]
        assert location.startswith("/") and not location.startswith(("//", "/\\")), (query, location)


def test_login_keeps_a_same_site_next(client, make_account):
    make_account("me@example.org")
    response = client.post(
        "/login?next=/batches/?page=2",
        data={"email": "me@example.org", "password": "password123", "csrf_token": csrf_token(client)},
    )
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
        response = clients[n].post(
            f"/invite/{invite.token}",
            data={"email": f"new{n}@example.org", "password": "a long new passphrase", "csrf_token": tokens[n]},
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=sign_up, args=(n,)) for n in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [302] + [404] * 7, statuses
    joined = Membership.select().where(
        Membership.organization == invite.organization_id, Membership.role == "requester"
    )
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
    response = client.post(
        f"/invite/{invite.token}",
        data={"email": "late@example.org", "password": "a long new passphrase", "csrf_token": csrf_token(client)},
    )
    assert response.status_code == 404
    assert not User.select().where(User.email == "late@example.org").exists()


def test_new_invites_expire_in_a_week(app, make_account):
    invite = _invite(make_account, app)
    assert dt.timedelta(days=6, hours=23) < invite.expires_at - utcnow() <= dt.timedelta(days=7)


# --- automated login and sign-up -----------------------------------------------


def _login_attempt(client, email: str, password: str, address: str = "127.0.0.1"):
    token = csrf_token(client)
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
    )


def test_one_address_trying_many_accounts_is_slowed_down(client, make_account):
    answers = [_login_attempt(client, f"nobody{n}@example.org", "wrong password").status_code for n in range(21)]
    assert answers[:20] == [200] * 20 and answers[20] == 429
    refused = _login_attempt(client, "nobody@example.org", "wrong password")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "Too many attempts" in refused.get_data(as_text=True)


def _json_login(client, email: str, password: str, address: str = "127.0.0.1"):
    return client.post(
        "/login",
        json={"email": email, "password": password},
        headers={"X-CSRFToken": csrf_token(client)},
        environ_base={"REMOTE_ADDR": address},
    )


def _multipart_login(client, email: str, password: str, address: str = "127.0.0.1"):
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": csrf_token(client)},
        content_type="multipart/form-data",
        environ_base={"REMOTE_ADDR": address},
    )


def test_failures_from_one_address_never_lock_the_owner_out_from_another(app, make_account):
    make_account("me@example.org")
    attacker, owner = app.test_client(), app.test_client()
    for n in range(5):
        assert _login_attempt(attacker, "ME@example.org ", f"guess {n}", "10.0.1.1").status_code == 200
    assert _login_attempt(attacker, "me@example.org", "password123", "10.0.1.1").status_code == 429
    assert _login_attempt(owner, "me@example.org", "password123", "10.0.2.1").status_code == 302


def _json_list_login(client, email: str, password: str, address: str = "127.0.0.1"):
    """The email as a JSON list: the form reads its first item."""
    return client.post(
        "/login",
        json={"email": [email], "password": [password]},
        headers={"X-CSRFToken": csrf_token(client)},
        environ_base={"REMOTE_ADDR": address},
    )


@pytest.mark.parametrize(
    "post", [_json_login, _json_list_login, _multipart_login], ids=["json", "json-list", "multipart"]
)
def test_every_way_of_posting_the_form_counts_against_the_same_limit(app, make_account, post):
    make_account("me@example.org")
    client = app.test_client()
    assert post(client, "me@example.org", "password123").status_code == 302  # the form accepts this encoding
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    for n in range(3):
        assert _login_attempt(client, "me@example.org", f"guess {n}", "10.0.1.1").status_code == 200
    for n in range(2):
        assert post(client, "me@example.org", f"other guess {n}", "10.0.1.1").status_code == 200
    assert post(client, "me@example.org", "guess 5", "10.0.1.1").status_code == 429
    assert _login_attempt(client, "me@example.org", "password123", "10.0.1.1").status_code == 429


def test_many_addresses_guessing_one_account_are_slowed_but_the_owners_browser_gets_in(app, make_account):
    make_account("me@example.org")
    owner, stranger = app.test_client(), app.test_client()
    assert _login_attempt(owner, "me@example.org", "password123", "10.0.0.1").status_code == 302  # successes are free
    owner.post("/logout", data={"csrf_token": csrf_token(owner)})
    attacker = app.test_client()
    for n in range(20):
        assert _login_attempt(attacker, "me@example.org", f"guess {n}", f"10.0.1.{n}").status_code == 200
    assert _login_attempt(attacker, "me@example.org", "guess", "10.0.3.1").status_code == 429
    assert _login_attempt(stranger, "me@example.org", "password123", "10.0.2.1").status_code == 429
    assert _login_attempt(owner, "me@example.org", "password123", "10.0.2.2").status_code == 302
    assert _login_attempt(stranger, "other@example.org", "whatever", "10.0.2.1").status_code == 200


def test_a_forged_device_cookie_is_no_key(app, make_account):
    make_account("me@example.org")
    attacker = app.test_client()
    for n in range(20):
        assert _login_attempt(attacker, "me@example.org", f"guess {n}", f"10.0.1.{n}").status_code == 200
    attacker.set_cookie("freelunch_device", "not-signed")
    assert _login_attempt(attacker, "me@example.org", "password123", "10.0.4.1").status_code == 429


def test_sign_up_is_limited_per_address(client, app):
    app.config["OPEN_SIGNUP"] = True
    answers = [
        client.post("/signup", data={"csrf_token": csrf_token(client), "email": f"x{n}@example.org"}).status_code
        for n in range(6)
    ]
    assert answers == [200] * 5 + [429]


def _sign_up(client, email: str, organization: str = "Lab"):
    return client.post(
        "/signup",
        data={
            "csrf_token": csrf_token(client),
            "email": email,
            "organization": organization,
            "password": "correct horse battery",
            "confirm": "correct horse battery",
        },
        follow_redirects=True,
    )


def test_sign_up_answers_the_same_whether_or_not_the_email_has_an_account(app, make_account):
    app.config["OPEN_SIGNUP"] = True
    make_account("taken@example.org")
    new = _sign_up(app.test_client(), "fresh@example.org").get_data(as_text=True)
    taken = _sign_up(app.test_client(), "taken@example.org").get_data(as_text=True)
    per_request = re.compile(r"[\w.-]{60,}")  # CSRF tokens and nonces differ per request
    assert per_request.sub("", new.replace("fresh@example.org", "EMAIL")) == per_request.sub(
        "", taken.replace("taken@example.org", "EMAIL")
    )
    assert "already exists" not in taken
    assert Membership.select().join(User).where(User.email == "taken@example.org").count() == 1  # nothing changed


def test_the_owner_of_an_email_hears_of_a_sign_up_attempt_at_their_next_login(app, client, make_account):
    app.config["OPEN_SIGNUP"] = True
    make_account("taken@example.org")
    _sign_up(app.test_client(), "taken@example.org")
    page = login(client, "taken@example.org")
    assert "Someone tried to sign up with your email" in client.get(page.headers["Location"]).get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    page = login(client, "taken@example.org")
    assert "Someone tried" not in client.get(page.headers["Location"]).get_data(as_text=True)  # told once


def test_an_unknown_email_costs_one_password_hash_like_a_known_one(app, make_account, monkeypatch):
    from freelunch.services.accounts import passwords
    from freelunch.services.accounts.users import authenticate

    make_account("me@example.org")
    hashed = []
    real = passwords.check_password_hash
    monkeypatch.setattr(passwords, "check_password_hash", lambda h, p: hashed.append(h) or real(h, p))
    with app.app_context():
        assert authenticate("me@example.org", "wrong") is None
        assert authenticate("nobody@example.org", "wrong") is None
    assert len(hashed) == 2 and hashed[0].split("$")[0] == hashed[1].split("$")[0], "same hash method and cost"


@pytest.mark.parametrize(
    "password, accepted",
    [
        ("12345678", False),
        ("password123", False),
        ("qwertyuiop", False),
        ("short", False),
        ("Password1234", False),
        ("newcomer-at-the-lab", False),  # contains the email's name
        ("correct horse battery", True),
    ],
)
def test_sign_up_refuses_short_and_common_passwords(client, app, password, accepted):
    response = client.post(
        "/signup",
        data={
            "csrf_token": csrf_token(client),
            "email": "newcomer@example.org",
            "organization": "Lab",
            "password": password,
            "confirm": password,
        },
    )
    assert (response.status_code == 302) is accepted, response.get_data(as_text=True)[-2000:]
    assert User.select().where(User.email == "newcomer@example.org").exists() is accepted


def test_the_common_password_list_ships_with_the_package():
    from freelunch.services.accounts import passwords

    assert len(passwords.common_passwords()) > 19_000 and "12345678" in passwords.common_passwords()


# --- sessions ------------------------------------------------------------------


def _copy_session(source, app):
    thief = app.test_client()
    cookie = source.get_cookie("session")
    thief.set_cookie(cookie.key, cookie.value, domain=cookie.domain)
    return thief


def test_a_copied_cookie_stops_working_at_logout(app, client, make_account):
    make_account("me@example.org")
    login(client, "me@example.org")
    thief = _copy_session(client, app)
    assert thief.get("/datasets/").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    response = thief.get("/datasets/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_password_change_ends_every_other_session(app, client, make_account):
    make_account("me@example.org")
    login(client, "me@example.org")
    thief = _copy_session(client, app)
    response = client.post(
        "/account/password",
        data={
            "csrf_token": csrf_token(client),
            "current": "password123",
            "password": "a much better one",
            "confirm": "a much better one",
        },
    )
    assert response.status_code == 302
    assert client.get("/datasets/").status_code == 200, "the session that changed it goes on"
    assert thief.get("/datasets/").status_code == 302
    fresh = app.test_client()
    login(fresh, "me@example.org", "a much better one")


def test_a_wrong_current_password_changes_nothing(app, client, make_account):
    make_account("me@example.org")
    login(client, "me@example.org")
    response = client.post(
        "/account/password",
        data={
            "csrf_token": csrf_token(client),
            "current": "nope",
            "password": "a much better one",
            "confirm": "a much better one",
        },
    )
    assert response.status_code == 200 and "not right" in response.get_data(as_text=True)
    login(app.test_client(), "me@example.org")


def test_an_idle_session_ends(app, client, make_account):
    app.config["PERMANENT_SESSION_LIFETIME"] = dt.timedelta(seconds=1)
    make_account("me@example.org")
    login(client, "me@example.org")
    assert client.get("/datasets/").status_code == 200
    time.sleep(2.2)
    assert client.get("/datasets/").status_code == 302
