"""Amazon Mechanical Turk through boto3: publish a batch's HITs (reconcile, review, pay: tracking, decisions, bonuses).

Lessons from peer platforms, kept here: every CreateHIT carries a stable
UniqueRequestToken (a retry cannot post a HIT twice) and our HIT key as
RequesterAnnotation (so a HIT whose id we failed to save can be found again);
the ExternalURL is XML-escaped.
"""
from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode
from xml.sax.saxutils import escape

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from flask import current_app

from ...models import Batch, Hit

SANDBOX_ENDPOINT = "https://mturk-requester-sandbox.us-east-1.amazonaws.com"
EXTERNAL_QUESTION = (
    '<ExternalQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/'
    '2006-07-14/ExternalQuestion.xsd"><ExternalURL>{url}</ExternalURL>'
    "<FrameHeight>0</FrameHeight></ExternalQuestion>"
)
DEFAULTS = {
    "lifetime_seconds": 3 * 24 * 3600,
    "assignment_seconds": 3600,
    "auto_approval_seconds": 3 * 24 * 3600,
    "keywords": "image, labelling, classification",
}
# MTurk's fee rises from 20% to 40% at 10 assignments, and a HIT created with
# fewer than 10 cannot be extended past 9.
FEE_STEP_ASSIGNMENTS = 10


class MTurkError(RuntimeError):
    """MTurk refused or could not be reached; the message is fit for the requester."""


def client():
    config = current_app.config
    endpoint = config["MTURK_ENDPOINT_URL"] or (SANDBOX_ENDPOINT if config["MTURK_SANDBOX"] else None)
    return boto3.client("mturk", region_name="us-east-1", endpoint_url=endpoint)


def hit_url(hit: Hit) -> str:
    """The ExternalURL: MTurk appends assignmentId, hitId, workerId and turkSubmitTo to it."""
    query = urlencode({"hitDatasetName": hit.batch_id, "imageNetHitId": hit.key})
    return f"{current_app.config['PUBLIC_URL']}/annotate?{query}"


def external_question(hit: Hit) -> str:
    return EXTERNAL_QUESTION.format(url=escape(hit_url(hit)))


def _call(operation: Callable, **params) -> dict:
    try:
        return operation(**params)
    except ClientError as error:
        raise MTurkError(f"MTurk refused {operation.__name__}: {error.response['Error'].get('Message', error)}") from error
    except BotoCoreError as error:
        raise MTurkError(f"MTurk could not be reached: {error}") from error


def _find_hit_by_annotation(mturk, key: str) -> str | None:
    """The HITId of a HIT we created but failed to record (found by its RequesterAnnotation)."""
    params: dict = {"MaxResults": 100}
    while True:
        page = _call(mturk.list_hits, **params)
        for found in page.get("HITs", []):
            if found.get("RequesterAnnotation") == key:
                return found["HITId"]
        if not page.get("NextToken"):
            return None
        params["NextToken"] = page["NextToken"]


def publish_batch(batch: Batch, mturk=None, progress: Callable[[float], None] | None = None) -> int:
    """Create an MTurk HIT for every HIT of the batch not yet published; returns how many were created."""
    mturk = mturk or client()
    settings = {**DEFAULTS, **(batch.mturk or {})}
    pending = list(batch.hits.where(Hit.mturk_hit_id.is_null()).order_by(Hit.id))
    for done, hit in enumerate(pending, 1):
        token = f"freelunch-{hit.key}"
        try:
            response = mturk.create_hit(
                MaxAssignments=batch.assignments_per_hit,
                LifetimeInSeconds=settings["lifetime_seconds"],
                AssignmentDurationInSeconds=settings["assignment_seconds"],
                AutoApprovalDelayInSeconds=settings["auto_approval_seconds"],
                Reward=f"{batch.reward:.2f}",
                Title=batch.title or batch.name,
                Keywords=settings["keywords"],
                Description=batch.description or batch.title or batch.name,
                Question=external_question(hit),
                RequesterAnnotation=hit.key,
                UniqueRequestToken=token,
            )
            hit.mturk_hit_id = response["HIT"]["HITId"]
        except ClientError as error:
            # A retry after a crash: the token made MTurk refuse a second HIT; find the first.
            if "UniqueRequestToken" not in str(error) and "unique request token" not in str(error).lower():
                raise MTurkError(f"MTurk refused HIT {hit.key}: {error.response['Error'].get('Message', error)}") from error
            hit.mturk_hit_id = _find_hit_by_annotation(mturk, hit.key)
            if hit.mturk_hit_id is None:
                raise MTurkError(f"MTurk says HIT {hit.key} exists but it cannot be found") from error
        except BotoCoreError as error:
            raise MTurkError(f"MTurk could not be reached: {error}") from error
        hit.save()
        if progress:
            progress(done / len(pending))
    batch.state = "published"
    batch.save()
    return len(pending)
