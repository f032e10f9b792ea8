"""Each organization's storage quota: what its stored images and export files take, and what may still be added.

An import checks the room it needs before it starts (a ZIP's declared sizes)
and takes bytes as it stores files; when the room runs out it stops with a
row error, keeping what it stored, rather than filling the disk for everybody.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import current_app
from peewee import fn

from ...models import Image, Organization
from ..errors import RequesterError

MB = 1024 * 1024


class QuotaExceeded(RequesterError, ValueError):
    """The organization's storage is full; the message says how full and what to do."""


def limit_bytes(organization_id: int) -> int:
    own = Organization.select(Organization.storage_quota_mb).where(Organization.id == organization_id).scalar()
    return (own or current_app.config["STORAGE_QUOTA_MB"]) * MB


def used_bytes(organization_id: int) -> int:
    images = (
        Image.select(fn.COALESCE(fn.SUM(Image.stored_bytes), 0)).where(Image.organization == organization_id).scalar()
    )
    return images + exported_bytes(organization_id)


def exported_bytes(organization_id: int) -> int:
    """The organization's export files: the folder services/exports/files.py writes them to (named here, since
    imports depend on no other domain; tests/services/exports/test_exports.py checks that the two agree)."""
    folder = Path(current_app.config["INSTANCE_PATH"]) / "exports" / str(organization_id)
    try:
        with os.scandir(folder) as entries:
            return sum(entry.stat().st_size for entry in entries if entry.is_file())
    except FileNotFoundError:
        return 0


class Room:
    """The bytes an organization may still store, taken as files are stored."""

    def __init__(self, organization_id: int):
        self.limit = limit_bytes(organization_id)
        self.left = self.limit - used_bytes(organization_id)

    def message(self, wanted: int) -> str:
        return (
            f"Your organization's media storage is full: {(self.limit - self.left) / MB:,.0f} of "
            f"{self.limit / MB:,.0f} MB used, and this needs {wanted / MB:,.1f} MB more. "
            "Delete a dataset or export files you no longer need, or ask an admin for a larger quota."
        )

    def check(self, wanted: int) -> None:
        if wanted > self.left:
            raise QuotaExceeded(self.message(wanted))

    def take(self, size: int) -> None:
        self.check(size)
        self.left -= size
