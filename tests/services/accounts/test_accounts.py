from support import csrf_token, login

from freelunch.models import Membership, Organization, User


def test_signup_creates_organization_and_owner_with_hashed_password(client):
    token = csrf_token(client)
    response = client.post(
        "/signup",
        data={
            "email": "Ann@Example.org",
            "organization": "Ann Lab",
            "password": "s3cret-pass",
            "confirm": "s3cret-pass",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    login(client, "ann@example.org", "s3cret-pass")
    user = User.get(User.email == "ann@example.org")
    assert user.password_hash != "s3cret-pass" and "s3cret-pass" not in user.password_hash
    membership = Membership.get(Membership.user == user)
    assert membership.role == "owner" and membership.organization.name == "Ann Lab"
    assert membership.organization.storage_quota_mb == 1000  # SIGNUP_STORAGE_QUOTA_MB: sign-ups do not multiply disk
    assert "Ann Lab" in client.get("/datasets/").get_data(as_text=True)


def test_bad_signup_rerenders_form_with_messages(client):
    response = client.post(
        "/signup",
        data={
            "email": "not-an-email",
            "organization": "",
            "password": "short",
            "confirm": "other",
            "csrf_token": csrf_token(client),
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "An email address must have an @-sign. Check the address" in html and "Passwords do not match." in html
    assert User.select().count() == 0


def test_a_refused_signup_email_says_why(client):
    """A reserved domain (.test, .local, .invalid) was only "Invalid email address.", which a new user cannot act on."""
    data = {"email": "ann@lab.test", "organization": "Lab", "password": "a long passphrase", "csrf_token": ""}
    data.update(confirm=data["password"], csrf_token=csrf_token(client))
    html = client.post("/signup", data=data).get_data(as_text=True)
    assert "special-use or reserved name" in html and "Invalid email address." not in html
    assert User.select().count() == 0


def test_post_without_csrf_token_is_refused(client, make_account):
    make_account("a@example.org")
    response = client.post("/login", data={"email": "a@example.org", "password": "password123"})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)


def test_login_wrong_password_and_logout(client, make_account):
    make_account("a@example.org")
    token = csrf_token(client)
    wrong = client.post("/login", data={"email": "a@example.org", "password": "nope-nope", "csrf_token": token})
    assert "Wrong email or password." in wrong.get_data(as_text=True)
    login(client, "a@example.org")
    assert client.get("/datasets/").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    assert client.get("/datasets/").status_code == 302


def test_closed_signup(app, client):
    app.config["OPEN_SIGNUP"] = False
    assert client.get("/signup").status_code == 404


def test_invite_link_adds_member_with_role_once(client, make_account, app):
    owner, organization = make_account("owner@example.org", "Lab")
    login(client, "owner@example.org")
    response = client.post("/members/invites", data={"role": "viewer", "csrf_token": csrf_token(client)})
    link = response.get_data(as_text=True).split('id="new-invite" readonly size="70" value="')[1].split('"')[0]
    path = link.replace("http://localhost", "")
    client.post("/logout", data={"csrf_token": csrf_token(client)})

    token = csrf_token(client)
    joined = client.post(path, data={"email": "v@example.org", "password": "viewer-pass", "csrf_token": token})
    assert joined.status_code == 302, joined.get_data(as_text=True)
    member = Membership.get(Membership.user == User.get(User.email == "v@example.org"))
    assert (member.organization_id, member.role) == (organization.id, "viewer")
    assert client.get(path).status_code == 404  # used once


def test_user_in_two_organizations_switches(client, make_account):
    user, first = make_account("multi@example.org", "First")
    second = Organization.create(name="Second")
    Membership.create(user=user, organization=second, role="requester")
    login(client, "multi@example.org")
    client.post(f"/switch/{second.id}", data={"csrf_token": csrf_token(client)})
    assert "Members of Second" in client.get("/members/").get_data(as_text=True)
    foreign = Organization.create(name="Foreign")
    assert client.post(f"/switch/{foreign.id}", data={"csrf_token": csrf_token(client)}).status_code == 404
