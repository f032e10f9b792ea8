"""Stand-in for mturk-publish's gateway until it lands: a client for a batch, one call with its error code."""
from __future__ import annotations

from botocore import xform_name
from botocore.exceptions import BotoCoreError, ClientError

from ...models import Batch
from . import campaign


class MTurkError(RuntimeError):
    def __init__(self, sentence: str, code: str = ""):
        super().__init__(sentence)
        self.code = code


INVALID_ASSIGNMENT_STATE = "AWS.MechanicalTurk.InvalidAssignmentState"


def client_for(batch: Batch):
    return campaign.client()


def call(mturk, operation: str, **params) -> dict:
    try:
        return getattr(mturk, xform_name(operation))(**params)
    except ClientError as error:
        code = error.response.get("TurkErrorCode") or error.response.get("Error", {}).get("Code", "")
        raise MTurkError(f"MTurk refused {operation}: {error.response.get('Error', {}).get('Message', '')}", code) from error
    except BotoCoreError as error:
        raise MTurkError(f"MTurk could not be reached: {error}", "Freelunch.Unreachable") from error
