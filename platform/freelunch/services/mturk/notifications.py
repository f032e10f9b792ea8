"""MTurk's notifications through SQS: an optimisation, never the truth.

With ``MTURK_SQS_QUEUE_URL`` set, reconciling a batch subscribes its HIT types
to the queue (UpdateNotificationSettings), and ``poll`` (an ``rq cron`` job)
reads the queue: each event only makes us reconcile the HIT it names, sooner
than the 10-minute reconciliation would. Nothing is taken from the event itself.
SQS delivers at least once, so a message is handled once per EventDocId
(remembered in Redis for a week) and deleted after its HITs are reconciled.
"""

from __future__ import annotations

import json

import boto3
from flask import current_app

from ... import formatting
from ...models import Batch, Hit, MTurkHit
from ...queues import redis_connection
from . import gateway, tracking
from .errors import MTurkError

EVENT_TYPES = [
    "AssignmentSubmitted",
    "AssignmentReturned",
    "AssignmentAbandoned",
    "AssignmentApproved",
    "AssignmentRejected",
    "HITReviewable",
    "HITExpired",
]
VERSION = "2006-05-05"  # the notification format MTurk's API reference names
SEEN_TTL = 7 * 24 * 3600
RECEIVE_ROUNDS = 10  # messages read per poll: 10 rounds of at most 10


def queue_url() -> str | None:
    return current_app.config.get("MTURK_SQS_QUEUE_URL") or None


def subscribe(batch: Batch, mturk) -> int:
    """Point the batch's HIT types' notifications at the queue; returns how many types were subscribed."""
    url = queue_url()
    if not url:
        return 0
    types = {
        t
        for (t,) in MTurkHit.select(MTurkHit.hit_type_id)
        .where(MTurkHit.batch == batch, MTurkHit.hit_type_id.is_null(False))
        .distinct()
        .tuples()
    }
    for hit_type_id in sorted(types):
        gateway.call(
            mturk,
            "update_notification_settings",
            "send the HIT type's events to the SQS queue",
            HITTypeId=hit_type_id,
            Active=True,
            Notification={"Destination": url, "Transport": "SQS", "Version": VERSION, "EventTypes": EVENT_TYPES},
        )
    return len(types)


def _sqs():
    config = current_app.config
    return boto3.client(
        "sqs", region_name=config["AWS_REGION"], endpoint_url=config.get("MTURK_SQS_ENDPOINT_URL") or None
    )


def _first_time(event_id: str) -> bool:
    return bool(redis_connection().set(f"freelunch:mturk:event:{event_id}", 1, nx=True, ex=SEEN_TTL))


def _hits_named(body: dict) -> set[str]:
    return {event["HITId"] for event in body.get("Events", []) if isinstance(event, dict) and event.get("HITId")}


def handle(body: dict) -> list[tuple[Batch, tracking.SyncSummary]]:
    """Reconcile every HIT an event document names, once per document; returns each HIT's batch and summary."""
    event_id = body.get("EventDocId")
    if not event_id or not _first_time(str(event_id)):
        return []
    reconciled = []
    for mturk_hit_id in sorted(_hits_named(body)):
        row = MTurkHit.select(MTurkHit, Hit).join(Hit).where(MTurkHit.mturk_hit_id == mturk_hit_id).first()
        if row is None:
            continue  # not ours (a shared queue), or deleted since
        reconciled.append((row.batch, tracking.sync_hit(row.hit, mturk_hit_id, tracking.client_for(row.batch))))
    return reconciled


def poll() -> dict:
    """Read what the queue holds now and reconcile the HITs it names; a message is deleted once handled. ``changed``
    holds the (organization, batch) pairs whose reconciliation changed what their pages show."""
    url = queue_url()
    if not url:
        return {"summary": "No MTURK_SQS_QUEUE_URL: notifications are off."}
    sqs, messages, hits, errors, changed = _sqs(), 0, 0, [], set()
    for _ in range(RECEIVE_ROUNDS):
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            break
        for message in batch:
            messages += 1
            try:
                body = json.loads(message["Body"])
                for its_batch, summary in handle(body if isinstance(body, dict) else {}):
                    hits += 1
                    if summary.changed:
                        changed.add((its_batch.organization_id, its_batch.id))
            except MTurkError as error:  # left in the queue: SQS hands it out again after its visibility timeout
                errors.append(["SQS message", str(error)])
                redis_connection().delete(f"freelunch:mturk:event:{body.get('EventDocId')}")
                continue
            except ValueError:
                pass  # not an MTurk event document: nothing to do, and nothing to keep
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return {
        "summary": f"{formatting.counted(messages, 'notification')} read, "
        f"{formatting.counted(hits, 'HIT')} reconciled.",
        "errors": errors,
        "error_count": len(errors),
        "changed": sorted(changed),
    }
