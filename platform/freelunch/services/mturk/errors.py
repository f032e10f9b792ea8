"""MTurk's errors as one plain sentence for the requester, decided by error code, never by message wording.

MTurk answers a refused call with an error ``Code`` (``RequestError`` or
``ServiceFault``) and, for requests, a ``TurkErrorCode`` such as
``AWS.MechanicalTurk.HitAlreadyExists``; botocore puts the latter beside
``Error`` in the response. Callers that must react (adopt an existing HIT,
take MTurk's assignment state) compare ``MTurkError.code``; the wording of
MTurk's message is only ever shown, never parsed for meaning.
"""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from ..errors import RequesterError

HIT_ALREADY_EXISTS = "AWS.MechanicalTurk.HitAlreadyExists"
INVALID_ASSIGNMENT_STATE = "AWS.MechanicalTurk.InvalidAssignmentState"
INSUFFICIENT_FUNDS = "AWS.MechanicalTurk.InsufficientFunds"
NO_CREDENTIALS = "Freelunch.NoCredentials"
NO_ACCOUNT = "Freelunch.NoAccount"  # no key pair of its own and no grant of the server's account
OVER_LIMIT = "Freelunch.OverLimit"  # the daily spending limit would be crossed
UNREACHABLE = "Freelunch.Unreachable"
INVALID_REQUEST = "Freelunch.InvalidRequest"

UNKNOWN_ACCESS_KEY = "MTurk does not recognise the access key: check the organization's AWS access key id."

# What the requester can do about a code; anything else is reported with MTurk's own message.
SENTENCES = {
    INSUFFICIENT_FUNDS: (
        "Your MTurk account's balance is too low for this: add funds in the MTurk requester site, then try again."
    ),
    HIT_ALREADY_EXISTS: "MTurk already has this HIT (the request was sent before).",
    INVALID_ASSIGNMENT_STATE: "MTurk no longer allows this for the assignment in its present state.",
    "UnrecognizedClientException": UNKNOWN_ACCESS_KEY,
    "InvalidClientTokenId": UNKNOWN_ACCESS_KEY,
    "InvalidSignatureException": "MTurk refused the secret access key: enter the key pair again.",
    "SignatureDoesNotMatch": "MTurk refused the secret access key: enter the key pair again.",
    "AccessDeniedException": "This AWS account may not use MTurk: link it to an MTurk requester account first.",
    "ExpiredTokenException": "The AWS credentials have expired: renew them.",
    "ThrottlingException": (
        "MTurk is throttling requests and kept refusing after several retries: try again in a minute."
    ),
    "ServiceFault": "MTurk had an internal problem: try again in a few minutes.",
}


class MTurkError(RequesterError, RuntimeError):
    """MTurk refused, could not be reached, or would refuse; ``str()`` is one sentence fit for the requester."""

    def __init__(self, sentence: str, code: str = "", detail: str = ""):
        super().__init__(sentence)
        self.code = code
        self.detail = detail  # MTurk's own message, e.g. where it names an existing HIT's id


class InvalidRequest(MTurkError):
    """A request MTurk's model forbids, caught before it was sent."""

    def __init__(self, sentence: str):
        super().__init__(sentence, INVALID_REQUEST)


def error_code(error: ClientError) -> str:
    """MTurk's most specific code for a refusal: its TurkErrorCode when it gave one, else the error Code."""
    return error.response.get("TurkErrorCode") or error.response.get("Error", {}).get("Code", "")


def translate(error: Exception, action: str) -> MTurkError:
    """One sentence for a failed ``action`` (e.g. "create HIT 3 of batch 7"), with the code kept for callers."""
    if isinstance(error, MTurkError):
        return error
    if isinstance(error, ClientError):
        code = error_code(error)
        message = " ".join(str(error.response.get("Error", {}).get("Message", "")).split())[:300]
        sentence = SENTENCES.get(code) or SENTENCES.get(error.response.get("Error", {}).get("Code", ""))
        if sentence is None:
            sentence = f"MTurk refused to {action}: {message or code}".rstrip(".") + "."
        return MTurkError(sentence, code, message)
    if isinstance(error, (NoCredentialsError, PartialCredentialsError)):
        return MTurkError(
            "No AWS credentials for MTurk: enter this organization's own key pair on the MTurk account page, "
            "or ask the operator to give the server AWS credentials (AWS_ACCESS_KEY_ID, a profile or a role).",
            NO_CREDENTIALS,
        )
    if isinstance(error, (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError)):
        return MTurkError(
            f"MTurk could not be reached to {action}: check the network or MTURK_ENDPOINT_URL, then try again.",
            UNREACHABLE,
        )
    if isinstance(error, BotoCoreError):
        return MTurkError(f"MTurk could not be asked to {action}: {error}.", UNREACHABLE)
    raise error
