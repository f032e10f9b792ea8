"""A batch's MTurk settings (kept in ``Batch.mturk``) with their defaults, and the qualification requirements they make.

Defaults follow common practice for image labelling: approval rate at least
95 % and at least 100 approved HITs, no locale limit, the organization's
soft-block list. Masters are not offered: their qualification ids differ in
the sandbox and they cost an extra fee.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field, fields

from flask import current_app

from ...models import Batch

APPROVAL_RATE = "000000000000000000L0"  # PercentAssignmentsApproved
APPROVED_HITS = "00000000000000000040"  # NumberHITsApproved
LOCALE = "00000000000000000071"  # Worker_Locale
# Workers who fail a requirement should not even see the HIT in search.
GUARD = "DiscoverPreviewAndAccept"

DAY = 24 * 3600
RECONCILED = "reconciled_at"  # Batch.mturk's key for the last reconciliation's time


@dataclass
class MTurkSettings:
    """What a requester may change per batch before publishing."""

    sandbox: bool
    keywords: str = "image, labelling, classification, images"
    lifetime_seconds: int = 7 * DAY  # how long the HITs can be found
    assignment_seconds: int = 3600  # how long a worker has once accepted
    auto_approval_seconds: int = 3 * DAY  # after this, MTurk pays a submitted assignment nobody decided on
    min_approval_rate: int | None = 95
    min_approved_hits: int | None = 100
    locales: list[str] = field(default_factory=list)  # ISO country codes, e.g. ["US", "GB"]; empty: anywhere
    soft_block: bool = True  # keep workers on the organization's block list out

    def as_json(self) -> dict:
        return asdict(self)


def of(batch: Batch) -> MTurkSettings:
    """The batch's settings, defaults filled in (the sandbox choice defaults to MTURK_SANDBOX)."""
    stored = batch.mturk or {}
    known = {f.name for f in fields(MTurkSettings)}
    values = {k: v for k, v in stored.items() if k in known}
    values.setdefault("sandbox", bool(current_app.config["MTURK_SANDBOX"]))
    return MTurkSettings(**values)


def save(batch: Batch, settings: MTurkSettings) -> None:
    batch.mturk = {**(batch.mturk or {}), **settings.as_json()}
    batch.save(only=[Batch.mturk])


def mark_reconciled(batch: Batch, when: dt.datetime) -> None:
    """Remember when the batch was last reconciled with MTurk (kept beside the settings, not one of them)."""
    batch.mturk = {**(batch.mturk or {}), RECONCILED: when.isoformat()}
    batch.save(only=[Batch.mturk])


def reconciled_at(batch: Batch) -> dt.datetime | None:
    """When the batch was last reconciled with MTurk, None if never."""
    stamp = (batch.mturk or {}).get(RECONCILED)
    return dt.datetime.fromisoformat(stamp) if stamp else None


def requirements(settings: MTurkSettings, soft_block_id: str | None, did_batch_id: str | None) -> list[dict]:
    """The QualificationRequirements of the batch's HIT type."""
    wanted = []
    if settings.min_approval_rate is not None:
        wanted.append(
            {
                "QualificationTypeId": APPROVAL_RATE,
                "Comparator": "GreaterThanOrEqualTo",
                "IntegerValues": [int(settings.min_approval_rate)],
                "ActionsGuarded": GUARD,
            }
        )
    if settings.min_approved_hits is not None:
        wanted.append(
            {
                "QualificationTypeId": APPROVED_HITS,
                "Comparator": "GreaterThanOrEqualTo",
                "IntegerValues": [int(settings.min_approved_hits)],
                "ActionsGuarded": GUARD,
            }
        )
    if settings.locales:
        wanted.append(
            {
                "QualificationTypeId": LOCALE,
                "Comparator": "In",
                "LocaleValues": [{"Country": c} for c in settings.locales],
                "ActionsGuarded": GUARD,
            }
        )
    for blocked in (soft_block_id, did_batch_id):
        if blocked:
            wanted.append({"QualificationTypeId": blocked, "Comparator": "DoesNotExist", "ActionsGuarded": GUARD})
    return wanted
