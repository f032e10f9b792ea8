"""The MTurk gateway: requests checked against botocore's model before sending, errors read by code, retries,
credentials."""

from decimal import Decimal

import pytest
from cryptography.fernet import Fernet
from mturk_support import ScriptedEndpoint, client_error, no_ambient_credentials, stubbed_client

from freelunch.models import MTurkAccount, Organization, ServerAccountGrant
from freelunch.services.mturk import credentials, gateway
from freelunch.services.mturk.errors import INSUFFICIENT_FUNDS, NO_CREDENTIALS, InvalidRequest, MTurkError
from freelunch.services.mturk.validation import money, validate

HIT_TYPE = {
    "AssignmentDurationInSeconds": 3600,
    "Reward": "0.50",
    "Title": "Find fish",
    "Description": "Click every fish",
}


@pytest.mark.parametrize(
    "change, rule",
    [
        ({"Reward": "1.005"}, r"Reward '1.005' does not have the form"),
        ({"Reward": "-1"}, r"Reward '-1' does not have the form"),
        ({"Title": "t" * 129}, r"Title allows at most 128 characters"),
        ({"Title": None, "Description": "d"}, r"CreateHITType.Title is required"),
        ({"AssignmentDurationInSeconds": "3600"}, r"must be a whole number"),
        (
            {"QualificationRequirements": [{"QualificationTypeId": "000000000000000000L0", "Comparator": "AtLeast"}]},
            r"Comparator must be one of LessThan",
        ),
        (
            {
                "QualificationRequirements": [
                    {
                        "QualificationTypeId": "00000000000000000071",
                        "Comparator": "EqualTo",
                        "LocaleValues": [{"Country": "USA"}],
                    }
                ]
            },
            r"Country allows at most 2 characters",
        ),
        ({"Colour": "red"}, r"CreateHITType has no field Colour"),
    ],
)
def test_a_request_the_model_forbids_is_refused_before_it_is_sent(change, rule):
    client, stubber = stubbed_client()
    params = {**HIT_TYPE, **change}
    params = {k: v for k, v in params.items() if v is not None}
    with stubber, pytest.raises(InvalidRequest, match=rule):
        gateway.call(client, "create_hit_type", "create the HIT type", **params)
    # Nothing was queued on the stubber: a request that reached it would have failed as unexpected instead.


def test_limits_the_model_leaves_out_are_checked_too():
    with pytest.raises(InvalidRequest, match=r"WorkerIds allows at most 100 items; it has 101"):
        validate("notify_workers", {"Subject": "s", "MessageText": "m", "WorkerIds": [f"A{n:05d}" for n in range(101)]})
    with pytest.raises(InvalidRequest, match=r"ListHITs.MaxResults allows at most 100, not 101"):
        validate("list_hits", {"MaxResults": 101})
    with pytest.raises(InvalidRequest, match=r"AssignmentStatuses\[0\] must be one of Submitted"):
        validate("list_assignments_for_hit", {"HITId": "H1", "AssignmentStatuses": ["Pending"]})
    validate("list_assignments_for_hit", {"HITId": "H1", "AssignmentStatuses": ["Submitted"], "MaxResults": 100})


def test_money_is_whole_cents_never_rounded():
    assert money(Decimal("0.5")) == "0.50"
    assert money("12") == "12.00"
    for bad in ("1.005", "-0.01", "NaN", "lots"):
        with pytest.raises(InvalidRequest):
            money(bad, "The reward")


def test_a_valid_request_passes_the_model_and_the_stubber():
    client, stubber = stubbed_client()
    stubber.add_response("create_hit_type", {"HITTypeId": "HT1"}, {**HIT_TYPE, "Keywords": "image"})
    with stubber:
        assert gateway.call(client, "create_hit_type", "create", **HIT_TYPE, Keywords="image")["HITTypeId"] == "HT1"
    stubber.assert_no_pending_responses()


def test_errors_are_read_by_code_not_by_wording():
    client, stubber = stubbed_client()
    # The message does not mention money at all: only the code says what happened.
    stubber.add_client_error("create_hit_with_hit_type", **client_error("RequestError", "Nope.", INSUFFICIENT_FUNDS))
    stubber.add_client_error(
        "get_hit",
        **client_error("RequestError", "Hit 'H9' does not exist. (1234)", "AWS.MechanicalTurk.HITDoesNotExist"),
    )
    with stubber:
        with pytest.raises(MTurkError) as refused:
            gateway.call(client, "create_hit_with_hit_type", "create HIT 1", HITTypeId="HT1", LifetimeInSeconds=60)
        assert refused.value.code == INSUFFICIENT_FUNDS
        assert str(refused.value).startswith("Your MTurk account's balance is too low")
        with pytest.raises(MTurkError) as unknown:
            gateway.call(client, "get_hit", "read HIT H9", HITId="H9")
        assert str(unknown.value) == "MTurk refused to read HIT H9: Hit 'H9' does not exist. (1234)."
        assert "\n" not in str(unknown.value)


@pytest.fixture
def wire(app, monkeypatch, tmp_path):
    """A scripted loopback endpoint as MTURK_ENDPOINT_URL, with keys from the environment (boto3's chain)."""
    no_ambient_credentials(monkeypatch, tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIATEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    with ScriptedEndpoint() as turk, app.app_context():
        app.config["MTURK_ENDPOINT_URL"] = turk.url
        yield turk


def test_throttling_backs_off_and_retries_over_the_wire(wire):
    wire.refuse("ThrottlingException", "Rate exceeded").refuse("ThrottlingException", "Rate exceeded")
    wire.answer({"AvailableBalance": "10000.00"})
    assert gateway.balance(gateway.client(None)) == "10000.00"
    assert [op for op, _ in wire.requests] == ["GetAccountBalance"] * 3


def test_throttling_that_never_stops_ends_in_one_sentence(wire, monkeypatch):
    monkeypatch.setattr(
        gateway,
        "CLIENT_CONFIG",
        gateway.CLIENT_CONFIG.merge(gateway.Config(retries={"mode": "standard", "total_max_attempts": 3})),
    )
    for _ in range(3):
        wire.refuse("ThrottlingException", "Rate exceeded")
    with pytest.raises(MTurkError, match="throttling requests and kept refusing"):
        gateway.balance(gateway.client(None))
    assert len(wire.requests) == 3


def test_check_connection_says_when_credentials_are_missing_or_wrong(app, monkeypatch, tmp_path):
    no_ambient_credentials(monkeypatch, tmp_path)
    with ScriptedEndpoint() as turk, app.app_context():
        app.config["MTURK_ENDPOINT_URL"] = turk.url
        org = Organization.create(name="Lab")
        ok, sentence = gateway.check_connection(org.id)  # no key pair, no grant: nothing of the server's account
        assert not ok and "has no MTurk account yet" in sentence and "balance" not in sentence
        ServerAccountGrant.create(organization=org, granted_by="admin@example.org")
        ok, sentence = gateway.check_connection(org.id)  # granted, but the server has no credentials
        assert not ok and "No AWS credentials for MTurk" in sentence and "local MTurk stand-in" in sentence
        assert turk.requests == []  # nothing unsigned went out

        credentials.store(org.id, "AKIAWRONG", "not-the-secret")
        turk.refuse("UnrecognizedClientException", "The security token included in the request is invalid.")
        ok, sentence = gateway.check_connection(org.id)
        assert not ok and "does not recognise the access key" in sentence

        turk.answer({"AvailableBalance": "123.45"})
        ok, sentence = gateway.check_connection(org.id)
        assert ok and sentence.endswith("with this organization's key pair: the available balance is $123.45.")
    assert [op for op, _ in turk.requests] == ["GetAccountBalance", "GetAccountBalance"]


def test_credentials_are_encrypted_at_rest_and_survive_a_key_rotation(app):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with app.app_context():
        app.config["MTURK_CREDENTIALS_KEY"] = old
        org = Organization.create(name="Lab")
        credentials.store(org.id, "AKIAEXAMPLE", "wJalrXUtnFEMI/K7MDENG")
        stored = MTurkAccount.get(MTurkAccount.organization == org.id)
        assert "wJalrXUtnFEMI" not in stored.secret_token and stored.access_key_id == "AKIAEXAMPLE"

        app.config["MTURK_CREDENTIALS_KEY"] = f"{new},{old}"  # the new key in front, the old one still reads
        assert credentials.load(org.id).secret_access_key == "wJalrXUtnFEMI/K7MDENG"
        assert credentials.rotate() == (1, 0)

        app.config["MTURK_CREDENTIALS_KEY"] = new  # the old key retired after the rotation
        assert credentials.load(org.id).secret_access_key == "wJalrXUtnFEMI/K7MDENG"

        app.config["MTURK_CREDENTIALS_KEY"] = old  # a key that never encrypted this row
        with pytest.raises(MTurkError, match="cannot be decrypted") as refused:
            credentials.load(org.id)
        assert refused.value.code == NO_CREDENTIALS
        assert credentials.load(None) is None  # no organization: boto3's own chain


def test_production_without_a_credentials_key_refuses_to_store(app):
    with app.app_context():
        app.config.update(ENV_MODE="production", MTURK_CREDENTIALS_KEY="")
        with pytest.raises(MTurkError, match="MTURK_CREDENTIALS_KEY is not set"):
            credentials.store(Organization.create(name="Lab").id, "AKIA", "secret")


def test_local_endpoint_detection(app):
    with app.app_context():
        assert gateway.is_local_endpoint("http://127.0.0.1:5001") and gateway.is_local_endpoint("http://localhost:9")
        assert not gateway.is_local_endpoint(gateway.SANDBOX_ENDPOINT)
        app.config["MTURK_ENDPOINT_URL"] = None
        assert (
            gateway.endpoint(True) == gateway.SANDBOX_ENDPOINT
            and gateway.endpoint(False) == gateway.PRODUCTION_ENDPOINT
        )
