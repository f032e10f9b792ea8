"""Qualification types we own on MTurk: the organization's soft-block list and each one-HIT-per-worker batch's "did it".

Each is created once per organization and environment. Its row (with the
name we will ask for, made unique by a random suffix) is written before
CreateQualificationType, and a type whose id we never saved is first looked
for by that name: a crash between the two never makes a second type.
Granting them (on a block, on a worker's first accept or submit) is
services/mturk's review side; here they are made and found.
"""

from __future__ import annotations

import secrets

from peewee import IntegrityError

from ...db import database
from ...models import MTurkQualificationType
from . import gateway

SOFT_BLOCK = "soft-block"


def did_batch(batch_id: int) -> str:
    """The purpose of the qualification granted to a worker who took a HIT of a one-HIT-per-worker batch."""
    return f"did-batch:{batch_id}"


def _description(purpose: str) -> str:
    if purpose == SOFT_BLOCK:
        return "Workers this requester has chosen not to offer its HITs to again."
    return f"Workers who already took a HIT of this requester's batch {purpose.split(':', 1)[1]} (one HIT per worker)."


def _intent(organization_id: int, sandbox: bool, purpose: str) -> MTurkQualificationType:
    found = MTurkQualificationType.get_or_none(organization=organization_id, sandbox=sandbox, purpose=purpose)
    if found is not None:
        return found
    name = f"Freelunch {purpose} org {organization_id} {secrets.token_hex(3)}"
    try:
        with database.atomic():
            return MTurkQualificationType.create(
                organization=organization_id, sandbox=sandbox, purpose=purpose, name=name
            )
    except IntegrityError:  # another publish wrote it first
        return MTurkQualificationType.get(organization=organization_id, sandbox=sandbox, purpose=purpose)


def _find_by_name(mturk, name: str) -> str | None:
    params: dict = {"Query": name, "MustBeRequestable": False, "MustBeOwnedByCaller": True, "MaxResults": 100}
    while True:
        page = gateway.call(mturk, "list_qualification_types", "look up a qualification type", **params)
        for found in page.get("QualificationTypes", []):
            if found.get("Name") == name:
                return found["QualificationTypeId"]
        if not page.get("NextToken"):
            return None
        params["NextToken"] = page["NextToken"]


def ensure(mturk, organization_id: int, sandbox: bool, purpose: str) -> str:
    """The QualificationTypeId for ``purpose``, created on MTurk the first time it is needed."""
    row = _intent(organization_id, sandbox, purpose)
    if row.qualification_type_id:
        return row.qualification_type_id
    type_id = _find_by_name(mturk, row.name)
    if type_id is None:
        created = gateway.call(
            mturk,
            "create_qualification_type",
            f"create the {purpose} qualification type",
            Name=row.name,
            Description=_description(purpose),
            Keywords="freelunch",
            QualificationTypeStatus="Active",
        )
        type_id = created["QualificationType"]["QualificationTypeId"]
    row.qualification_type_id = type_id
    row.save(only=[MTurkQualificationType.qualification_type_id])
    return type_id


def known(organization_id: int, sandbox: bool, purpose: str) -> str | None:
    """The id of a type already created (for granting it), without calling MTurk."""
    row = MTurkQualificationType.get_or_none(organization=organization_id, sandbox=sandbox, purpose=purpose)
    return row.qualification_type_id if row else None
