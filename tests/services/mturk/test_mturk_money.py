"""Money that can be trusted: the server's account only by grant, bonus caps, a daily limit, blocks per organization."""

from __future__ import annotations

from decimal import Decimal

import pytest
from botocore.stub import ANY
from click.testing import CliRunner
from factories import grant_server_account, make_batch, make_campaign, published_on_mturk
from flask.cli import ScriptInfo
from support import csrf_token, login

from freelunch.cli import cli
from freelunch.models import (
    Batch,
    Bonus,
    Dataset,
    Hit,
    MTurkAssignment,
    MTurkHit,
    MTurkSpend,
    Organization,
    ServerAccountGrant,
    User,
)
from freelunch.services.accounts import identity
from freelunch.services.mturk import access, bonuses, budget, cost, credentials, publish, settings, tracking
from freelunch.services.mturk.bonuses import BonusError
from freelunch.services.mturk.errors import NO_ACCOUNT, OVER_LIMIT, MTurkError


def calls_of(client) -> list[str]:
    """The operations the client is asked to send (recorded before Stubber answers)."""
    seen: list[str] = []
    client.meta.events.register("before-parameter-build.mturk", lambda model, **_: seen.append(model.name))
    return seen


@pytest.fixture
def batch(app):
    """A ready batch of two HITs x 3 assignments at $0.50, of an organization with no key pair."""
    with app.app_context():
        org = Organization.create(name="Self-signed-up")
        batch = Batch.create(
            organization=org,
            dataset=Dataset.create(organization=org, name="D"),
            name="B",
            title="Find fish",
            description="Click every fish",
            reward=Decimal("0.50"),
            assignments_per_hit=3,
            state="ready",
        )
        for key in ("m1", "m2"):
            Hit.create(organization=org, batch=batch, key=key)
        chosen = settings.of(batch)
        chosen.soft_block, chosen.min_approval_rate, chosen.min_approved_hits = False, None, None
        settings.save(batch, chosen)
        yield batch


def expect_publish(stubber, hits=2):
    stubber.add_response("get_account_balance", {"AvailableBalance": "10000.00"}, {})
    stubber.add_response("create_hit_type", {"HITTypeId": "3HITTYPE"}, None)
    for n in range(hits):
        stubber.add_response(
            "create_hit_with_hit_type",
            {"HIT": {"HITId": f"3HIT{n:026d}", "HITTypeId": "3HITTYPE", "HITStatus": "Assignable"}},
            {
                "HITTypeId": "3HITTYPE",
                "MaxAssignments": 3,
                "LifetimeInSeconds": ANY,
                "Question": ANY,
                "RequesterAnnotation": ANY,
                "UniqueRequestToken": ANY,
            },
        )


def test_a_keyless_organization_publishes_only_once_granted(app, batch, stubbed):
    client, stubber = stubbed
    sent = calls_of(client)
    with app.app_context():
        assert access.source(batch.organization_id) is None
        the_plan = publish.plan(batch)
        assert access.NO_ACCOUNT_SENTENCE in the_plan.problems
        with pytest.raises(MTurkError) as refused:
            publish.publish(batch, mturk=client)
        assert refused.value.code == NO_ACCOUNT and "key pair" in str(refused.value)
        assert sent == [] and MTurkHit.select().count() == 0 and MTurkSpend.select().count() == 0

        grant_server_account(batch.organization)
        expect_publish(stubber)
        result = publish.publish(batch, mturk=client)
        assert result.created == 2
        # What was created is counted against the day: 2 HITs x 3 x ($0.50 + $0.10 fee).
        assert (
            budget.spent_today(batch.organization_id) == Decimal("3.60") == cost.estimate(2, 3, Decimal("0.50")).total
        )

        ServerAccountGrant.update(revoked_at=ServerAccountGrant.granted_at, revoked_by="admin").execute()
        with pytest.raises(MTurkError) as again:
            publish.publish(batch, mturk=client)
        assert again.value.code == NO_ACCOUNT


def test_a_spending_limit_crossed_by_a_publish_is_refused_before_any_call(app, batch, stubbed):
    client, stubber = stubbed
    sent = calls_of(client)
    with app.app_context():
        grant_server_account(batch.organization)
        Organization.update(mturk_daily_limit=Decimal("3.00")).execute()  # the batch costs $3.60
        the_plan = publish.plan(batch)
        assert any("daily MTurk limit" in p for p in the_plan.problems)
        with pytest.raises(MTurkError, match=r"costs \$3\.60 .* \$0\.00 of its \$3\.00 daily MTurk limit"):
            publish.publish(batch, mturk=client)
        assert sent == [] and MTurkSpend.select().count() == 0

        Organization.update(mturk_daily_limit=Decimal("3.60")).execute()  # exactly enough
        expect_publish(stubber)
        assert publish.publish(batch, mturk=client).created == 2
        assert budget.today(batch.organization_id).left == Decimal("0.00")


def test_a_refused_create_releases_what_it_reserved(app, batch, stubbed):
    client, stubber = stubbed
    with app.app_context():
        grant_server_account(batch.organization)
        stubber.add_response("get_account_balance", {"AvailableBalance": "10000.00"}, {})
        stubber.add_client_error("create_hit_type", "RequestError", "Nope", http_status_code=400)
        with pytest.raises(MTurkError):
            publish.publish(batch, mturk=client)
        assert budget.spent_today(batch.organization_id) == Decimal("0.00")


@pytest.fixture
def approved(app, make_account):
    """An approved MTurk assignment (A1, worker AW1RAWWORKER) of a $0.50 batch; its organization has no key pair."""
    _, org = make_account("owner@example.org", "Lab")
    with app.app_context():
        c = make_campaign(org)
        c.batch.reward = Decimal("0.50")
        c.batch.save()
        hit = c.hits[0]
        row = MTurkAssignment.create(
            organization=org,
            hit=hit,
            mturk_hit_id="HIT1",
            mturk_assignment_id="A1",
            worker_id=identity.anonymous_worker_id(org.id, "AW1RAWWORKER"),
            status="Approved",
        )
    return row


def expect_bonus(stubber, amount="1.00"):
    stubber.add_response(
        "get_assignment",
        {
            "Assignment": {
                "AssignmentId": "A1",
                "WorkerId": "AW1RAWWORKER",
                "HITId": "HIT1",
                "AssignmentStatus": "Approved",
            }
        },
        {"AssignmentId": "A1"},
    )
    stubber.add_response(
        "send_bonus",
        {},
        {
            "WorkerId": "AW1RAWWORKER",
            "BonusAmount": amount,
            "AssignmentId": "A1",
            "Reason": "Thanks",
            "UniqueRequestToken": ANY,
        },
    )


def test_a_keyless_organizations_bonus_is_refused_without_a_grant_and_paid_with_one(app, approved, stubbed):
    client, stubber = stubbed
    sent = calls_of(client)
    with app.app_context():
        bonus = bonuses.bonus_one(approved, "1.00", "Thanks", mturk=client)
        assert bonus.state == "failed" and bonus.error_code == NO_ACCOUNT and sent == []
        grant_server_account(approved.organization)
        expect_bonus(stubber)
        assert bonuses.bonus_one(approved, "1.00", "Thanks", mturk=client).state == "done"
        assert budget.spent_today(approved.organization_id) == Decimal("1.20")  # the bonus and MTurk's 20 %


def test_a_bonus_over_the_cap_is_refused(app, approved, client, stubbed):
    mturk, _ = stubbed
    with app.app_context():
        grant_server_account(approved.organization)
        assert bonuses.ceiling(approved.hit.batch) == Decimal("10.00")  # 20 x $0.50, under the $25 cap
        with pytest.raises(BonusError, match=r"at most \$10\.00 an assignment"):
            bonuses.bonus_one(approved, "10.01", "Thanks", mturk=mturk)
        with pytest.raises(BonusError, match="not an amount"):
            bonuses.request(approved, "99999999999.99", "Thanks")
        app.config["MTURK_BONUS_MAX"] = "2.00"
        with pytest.raises(BonusError, match=r"at most \$2\.00"):
            bonuses.request(approved, "2.50", "Thanks")
        assert Bonus.select().count() == 0
    login(client, "owner@example.org")
    page = client.post(
        f"/mturk/assignments/{approved.id}/bonus",
        data={"csrf_token": csrf_token(client), "amount": "2500", "reason": "Thanks"},
    )
    assert page.status_code == 400 and "more than this batch allows" in page.get_data(as_text=True)


def test_the_ceiling_bounds_all_of_an_assignments_bonuses_together(app, approved, client, stubbed):
    """Each new reason is a new bonus: ten of $10.00 would pay $100 on a $10.00 ceiling."""
    mturk, stubber = stubbed
    with app.app_context():
        grant_server_account(approved.organization)
        expect_bonus(stubber, "6.00")
        assert bonuses.bonus_one(approved, "6.00", "Thanks", mturk=mturk).state == "done"
        assert bonuses.bonus_one(approved, "6.00", "Thanks", mturk=mturk).state == "done"  # the same, paid once
        with pytest.raises(BonusError, match=r"has \$6\.00 in bonuses already.*Pay at most \$4\.00"):
            bonuses.request(approved, "6.00", "For the second page")
        summary = bonuses.bonus_approved(approved.hit.batch, "5.00", "For everyone", mturk=mturk)
        assert (summary.paid, summary.failed) == (0, 1)
        assert Bonus.select().count() == 1 and bonuses.given(approved) == Decimal("6.00")
    login(client, "owner@example.org")
    step = client.post(
        f"/mturk/assignments/{approved.id}/bonus",
        data={"csrf_token": csrf_token(client), "amount": "4.01", "reason": "More"},
    ).get_data(as_text=True)
    assert "Pay at most $4.00" in step


def test_the_spend_counts_approved_assignments_in_words(app, client, approved):
    with app.app_context():
        published_on_mturk(approved.hit, places=1, mturk_hit_id="HIT1")
    login(client, "owner@example.org")
    tab = " ".join(client.get(f"/batches/{approved.hit.batch_id}/mturk").get_data(as_text=True).split())
    assert "Paid for 1 approved assignment:" in tab  # not "1 approved assignments"


def test_a_bonus_beyond_the_daily_limit_is_refused_before_it_is_sent(app, approved, stubbed):
    client, _ = stubbed
    sent = calls_of(client)
    with app.app_context():
        grant_server_account(approved.organization)
        Organization.update(mturk_daily_limit=Decimal("1.00")).execute()
        bonus = bonuses.bonus_one(approved, "1.00", "Thanks", mturk=client)  # $1.20 with the fee
        assert bonus.state == "failed" and "daily MTurk limit" in bonus.error and sent == []
        with pytest.raises(MTurkError, match="daily MTurk limit"):
            bonuses.bonus_approved(approved.hit.batch, "1.00", "Thanks again", mturk=client)
        assert sent == []


def test_the_tab_of_a_keyless_organization_never_shows_the_servers_account(app, client, make_account, local_mturk):
    app.config["MTURK_ENDPOINT_URL"] = local_mturk.endpoint_url
    _, org = make_account("req@example.org", "Lab")
    batch = make_batch(app, org, reward="0.50")
    login(client, "req@example.org")
    tab = client.get(f"/batches/{batch.id}/mturk").get_data(as_text=True)
    assert "has no MTurk account yet" in tab and "server" not in tab.lower()
    assert "Publish 1 MTurk HITs" not in tab
    answer = client.post(
        f"/batches/{batch.id}/mturk/check", data={"csrf_token": csrf_token(client)}, headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    assert "has no MTurk account yet" in answer and "10000" not in answer and "balance" not in answer
    with app.app_context():
        grant_server_account(org)
    answer = client.post(
        f"/batches/{batch.id}/mturk/check", data={"csrf_token": csrf_token(client)}, headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    assert "the available balance is $10000.00" in answer and "granted" in answer
    tab = client.get(f"/batches/{batch.id}/mturk").get_data(as_text=True)
    assert "Spent on MTurk today" in tab and "$0.00 of $100.00" in tab


def test_a_shared_account_block_stays_with_its_organization(app, client, make_account, local_mturk, run_jobs):
    """On the server's account a hard block would keep the worker from everyone: it becomes the org's soft block."""
    app.config["MTURK_ENDPOINT_URL"] = local_mturk.endpoint_url
    _, first = make_account("owner@example.org", "First")
    _, second = make_account("other@example.org", "Second")
    with app.app_context():
        grant_server_account(first)
        grant_server_account(second)
    ours = make_batch(app, first, reward="0.50", assignments_per_hit=2)
    theirs = make_batch(app, second, reward="0.50", assignments_per_hit=2, name="Theirs")
    with app.app_context():
        for b in (ours, theirs):
            chosen = settings.of(b)
            chosen.min_approval_rate, chosen.min_approved_hits = None, None  # the local worker has no history
            settings.save(b, chosen)
        publish.publish(Batch.get_by_id(ours.id))
        ours_hit = MTurkHit.get(MTurkHit.batch == ours.id).mturk_hit_id
    assignment_id = local_mturk.accept(ours_hit, "ABLOCKEDONE1")
    local_mturk.submit(assignment_id, completionCode="ABCDEF")
    with app.app_context():
        tracking.sync_batch(Batch.get_by_id(ours.id))
    row = MTurkAssignment.get()
    login(client, "owner@example.org")
    client.post(
        f"/mturk/assignments/{row.id}/block",
        data={"csrf_token": csrf_token(client), "kind": "hard_block", "reason": "Random clicks"},
    )
    run_jobs()
    with local_mturk.store.lock:
        assert "ABLOCKEDONE1" not in local_mturk.store.blocks  # no CreateWorkerBlock on the shared account
        assert [k for k in local_mturk.store.worker_qualifications if "ABLOCKEDONE1" in k]  # the org's own block
    with app.app_context():
        publish.publish(Batch.get_by_id(theirs.id))  # the other organization's HITs ...
        theirs_hit = MTurkHit.get(MTurkHit.batch == theirs.id).mturk_hit_id
    assert local_mturk.accept(theirs_hit, "ABLOCKEDONE1")  # ... stay open to the worker
    with pytest.raises(AssertionError, match="accept refused"):
        with app.app_context():
            publish.publish(Batch.get_by_id(ours.id))
        local_mturk.accept(ours_hit, "ABLOCKEDONE1")  # while ours are closed to them


def test_grants_from_the_command_line_and_the_admin_page_are_recorded_and_revocable(app, client, make_account):
    _, org = make_account("req@example.org", "Self-signed-up")
    runner = CliRunner()

    def run(*args):
        return runner.invoke(cli, list(args), obj=ScriptInfo(create_app=lambda: app))

    granted = run("mturk", "grant", "--org", "Self-signed-up", "--note", "pilot study", "--daily-limit", "40")
    assert granted.exit_code == 0 and "Granted Self-signed-up the server's MTurk account" in granted.output
    assert "daily limit $40.00" in granted.output
    with app.app_context():
        grant = access.grant_in_force(org.id)
        assert grant.granted_by.startswith("command line (") and grant.note == "pilot study"
        assert budget.limit(org.id) == Decimal("40.00")
    revoked = run("mturk", "revoke", "--org", str(org.id))
    assert revoked.exit_code == 0
    assert run("mturk", "revoke", "--org", str(org.id)).exit_code != 0  # nothing left to revoke
    listed = run("mturk", "grants")
    assert "pilot study" in listed.output and "revoked by command line" in listed.output
    assert run("mturk", "limit", "--org", str(org.id), "lots").exit_code != 0

    with app.app_context():
        owner = User.get(User.email == "req@example.org")
        User.create(email="admin@example.org", password_hash=owner.password_hash, is_admin=True)
    login(client, "admin@example.org")
    token = csrf_token(client)
    page = client.get("/admin/").get_data(as_text=True)
    assert "Grant the server" in page
    client.post(f"/admin/organizations/{org.id}/mturk/grant", data={"csrf_token": token, "note": "course"})
    with app.app_context():
        assert access.grant_in_force(org.id).granted_by == "admin@example.org"
    page = client.get("/admin/").get_data(as_text=True)
    assert "granted by admin@example.org" in page and "course" in page
    client.post(f"/admin/organizations/{org.id}/mturk/revoke", data={})  # no CSRF token: refused
    with app.app_context():
        assert access.grant_in_force(org.id) is not None
    client.post(f"/admin/organizations/{org.id}/mturk/limit", data={"csrf_token": token, "daily_limit": "25"})
    client.post(f"/admin/organizations/{org.id}/mturk/limit", data={"csrf_token": token, "daily_limit": "abc"})
    client.post(f"/admin/organizations/{org.id}/mturk/revoke", data={"csrf_token": token})
    with app.app_context():
        assert access.grant_in_force(org.id) is None
        assert ServerAccountGrant.select().where(ServerAccountGrant.organization == org.id).count() == 2  # kept
        assert budget.limit(org.id) == Decimal("25.00")  # "abc" changed nothing
    assert client.post("/admin/organizations/999/mturk/grant", data={"csrf_token": token}).status_code == 404


def test_owners_set_the_daily_limit_only_on_an_account_of_their_own(app, client, make_account):
    _, org = make_account("req@example.org", "Lab")
    with app.app_context():
        grant_server_account(org)
    login(client, "req@example.org")
    page = client.get("/mturk/credentials").get_data(as_text=True)
    assert "the server's MTurk account, which a site admin granted" in page and 'name="daily_limit"' not in page
    token = csrf_token(client)
    client.post("/mturk/account/money", data={"csrf_token": token, "daily_limit": "5000", "hourly_pay_floor": "12"})
    with app.app_context():
        org = Organization.get_by_id(org.id)
        assert org.mturk_daily_limit is None and org.hourly_pay_floor == Decimal("12.00")  # the admin's to set
        credentials.store(org.id, "AKIAEXAMPLE12345", "the-secret-key-itself")
        assert not budget.set_by_owners(org.id)  # the grant is still in force: still the admin's
        access.revoke(org, "admin@example.org")
    assert 'name="daily_limit"' in client.get("/mturk/credentials").get_data(as_text=True)
    client.post("/mturk/account/money", data={"csrf_token": token, "daily_limit": "250", "hourly_pay_floor": ""})
    bad = client.post("/mturk/account/money", data={"csrf_token": token, "daily_limit": "-3"})
    assert bad.status_code == 422 and "From 0 to 99,999,999 dollars." in bad.get_data(as_text=True)
    with app.app_context():
        assert budget.limit(org.id) == Decimal("250.00")
        assert Organization.get_by_id(org.id).hourly_pay_floor is None


def test_a_granted_organization_cannot_raise_its_limit_through_a_key_pair_of_its_own(app, client, make_account):
    """Add any key pair, raise the limit, remove the key pair: the server's account must not keep that limit."""
    _, org = make_account("req@example.org", "Lab")
    with app.app_context():
        grant_server_account(org)
        Organization.update(mturk_daily_limit=Decimal("40.00")).execute()  # the admin's choice
    login(client, "req@example.org")
    token = csrf_token(client)
    client.post(
        "/mturk/credentials",
        data={"csrf_token": token, "access_key_id": "AKIAMADEUP0000000000", "secret_access_key": "x" * 40},
    )
    page = client.get("/mturk/credentials").get_data(as_text=True)
    assert 'name="daily_limit"' not in page and "A site admin sets this organization's limit" in page
    client.post("/mturk/account/money", data={"csrf_token": token, "daily_limit": "99999999", "hourly_pay_floor": ""})
    client.post("/mturk/credentials/delete", data={"csrf_token": token})
    with app.app_context():
        assert access.source(org.id) == access.SERVER and budget.limit(org.id) == Decimal("40.00")

        # A limit the owners set for an account of their own does not carry over to a new grant.
        access.revoke(org, "admin@example.org")
        credentials.store(org.id, "AKIAMADEUP0000000000", "x" * 40)
    client.post("/mturk/account/money", data={"csrf_token": token, "daily_limit": "99999999", "hourly_pay_floor": ""})
    client.post("/mturk/credentials/delete", data={"csrf_token": token})
    with app.app_context():
        assert budget.limit(org.id) == Decimal("99999999.00")  # their own, on no account at all now
        access.grant(Organization.get_by_id(org.id), "admin@example.org")
        assert budget.limit(org.id) == budget.default_limit()


def test_an_extension_over_the_daily_limit_is_refused_before_any_call(app, batch, stubbed):
    from freelunch.services.mturk import lifecycle

    client, stubber = stubbed
    sent = calls_of(client)
    with app.app_context():
        grant_server_account(batch.organization)
        publish.ensure_intents(batch, sandbox=True)
        for n, row in enumerate(MTurkHit.select().order_by(MTurkHit.id)):
            row.state, row.mturk_hit_id = "created", f"3HIT{n:026d}"
            row.save()
        Organization.update(mturk_daily_limit=Decimal("5.00")).execute()
        # 6 more on each of 2 MTurk HITs: 12 x ($0.50 + $0.10) = $7.20
        with pytest.raises(MTurkError, match=r"Extending the batch costs \$7\.20 .* \$5\.00 daily MTurk limit"):
            lifecycle.extend(batch, 6, mturk=client)
        assert sent == [] and MTurkSpend.select().count() == 0
        Organization.update(mturk_daily_limit=Decimal("7.20")).execute()
        stubber.add_response("get_account_balance", {"AvailableBalance": "100.00"}, {})
        for row in MTurkHit.select().order_by(MTurkHit.id):
            stubber.add_response("get_hit", {"HIT": {"MaxAssignments": 3}}, {"HITId": row.mturk_hit_id})
            stubber.add_response(
                "create_additional_assignments_for_hit",
                {},
                {"HITId": row.mturk_hit_id, "NumberOfAdditionalAssignments": 6, "UniqueRequestToken": ANY},
            )
        assert lifecycle.extend(batch, 6, mturk=client).done == 2
        assert budget.spent_today(batch.organization_id) == Decimal("7.20")


def test_the_block_form_offers_no_hard_block_on_the_shared_account(app, client, approved):
    login(client, "owner@example.org")
    with app.app_context():
        grant_server_account(approved.organization)
    page = client.get(f"/mturk/assignments/{approved.id}").get_data(as_text=True)
    assert (
        'value="hard_block"' not in page and "a block keeps the worker from\n    this organization's HITs only" in page
    )
    with app.app_context():
        credentials.store(approved.organization_id, "AKIAEXAMPLE12345", "the-secret-key-itself")
    page = client.get(f"/mturk/assignments/{approved.id}").get_data(as_text=True)
    assert 'value="hard_block"' in page and "shared MTurk account" not in page


def test_two_reservations_at_once_cannot_both_fit_under_the_limit(app, batch):
    """Each fits alone, not both: the organization's row is locked while today's spend is added up."""
    import threading

    with app.app_context():
        Organization.update(mturk_daily_limit=Decimal("10.00")).execute()
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def reserve(token: str) -> None:
        with app.app_context():
            start.wait()
            try:
                budget.reserve(batch.organization_id, [budget.Reservation(token, "bonus", Decimal("6.00"))], "a bonus")
                outcomes.append("reserved")
            except MTurkError as refused:
                outcomes.append(refused.code)
            finally:
                from freelunch.db import database

                database.close()

    threads = [threading.Thread(target=reserve, args=(f"token-{n}",)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == sorted(["reserved", OVER_LIMIT])
    with app.app_context():
        assert budget.spent_today(batch.organization_id) == Decimal("6.00")


def test_a_daily_limit_with_fractions_of_a_cent_is_refused_not_rounded(app, client, make_account):
    """0.001 rounded away would be a limit of $0.00 (nothing can be spent), 12.345 a limit nobody typed."""
    _, org = make_account("req@example.org", "Lab")
    with app.app_context():
        credentials.store(org.id, "AKIAEXAMPLE12345", "the-secret-key-itself")  # an account of its own: owners set it
    runner = CliRunner()
    for amount in ("0.001", "12.345"):
        refused = runner.invoke(
            cli, ["mturk", "limit", "--org", str(org.id), amount], obj=ScriptInfo(create_app=lambda: app)
        )
        assert refused.exit_code == 2 and "fractions of a cent" in refused.output, refused.output
    login(client, "req@example.org")
    token = csrf_token(client)
    owners = client.post("/mturk/account/money", data={"csrf_token": token, "daily_limit": "0.001"})
    assert owners.status_code == 422 and "fractions of a cent" in owners.get_data(as_text=True)
    with app.app_context():
        User.create(email="admin@example.org", password_hash=User.get().password_hash, is_admin=True)
    client.post("/logout", data={"csrf_token": token})
    login(client, "admin@example.org")
    token = csrf_token(client)
    client.post(f"/admin/organizations/{org.id}/mturk/limit", data={"csrf_token": token, "daily_limit": "12.345"})
    assert "fractions of a cent" in client.get("/admin/").get_data(as_text=True)
    with app.app_context():
        assert Organization.get_by_id(org.id).mturk_daily_limit is None  # still the site default
