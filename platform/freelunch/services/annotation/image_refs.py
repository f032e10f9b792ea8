"""The ids a worker's page gives its images: opaque, so a page does not tell controls from candidates.

A dataset's image keys (``img_positive2``, or an ImageNet id of another class) would show a worker which
images are controls, and a negative control's real class. So the page names each image by a ref: an HMAC,
keyed by SECRET_KEY with a salt of its own, of the page's scope and the image's row id, truncated to 96
bits and base64url (16 characters). The scope is the assignment and page number, so a reload shows the
same refs (the tracker's sessionStorage and a resubmitted summary still match) and another assignment,
or another page of the same one, shows others (workers cannot pool what they learn). A HIT shown without
an assignment (an MTurk preview, the requester's preview) is scoped by the HIT and page instead.

Refs are made here, and read back in two places only: a submitted summary's ``imageID`` (pages._parsed,
through ``refs``) and the annotate blueprint's image route (``stored_path``). What is stored and exported
keeps the dataset key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from functools import lru_cache

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from ...models import Assignment, HitPage, Image

_SALT = b"freelunch.image-ref"
_PREVIEW_SALT = "freelunch.preview-images"
REF_BYTES = 12  # 96 bits: 16 base64url characters, no padding


@lru_cache(maxsize=8)
def _derived(secret: str) -> bytes:
    return hmac.new(secret.encode(), _SALT, hashlib.sha256).digest()


def scope(pageno: int, assignment_id: int | None = None, hit_id: int | None = None) -> str:
    """What a page's refs are keyed by: the assignment and page, or for a preview the HIT and page."""
    return f"a{assignment_id}:{pageno}" if assignment_id else f"h{hit_id}:{pageno}"


def ref(page_scope: str, image_id: int) -> str:
    key = _derived(current_app.config["SECRET_KEY"])
    mac = hmac.digest(key, f"{page_scope}:{image_id}".encode(), "sha256")[:REF_BYTES]
    return base64.urlsafe_b64encode(mac).decode()


def refs(page_scope: str, image_ids: Iterable[int]) -> dict[int, str]:
    """The refs of a page's images, by image id."""
    return {image_id: ref(page_scope, image_id) for image_id in image_ids}


def image_of(page_scope: str, image_ids: Iterable[int], wanted: object) -> int | None:
    """The image among ``image_ids`` (a page's grid and spares) whose ref is ``wanted``; None for any other."""
    if not isinstance(wanted, str):
        return None
    found = None
    for image_id, its_ref in refs(page_scope, image_ids).items():
        if hmac.compare_digest(its_ref, wanted):
            found = image_id
    return found


def _preview_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_PREVIEW_SALT)


def preview_key(hit_id: int) -> str:
    """What a preview's image URLs carry instead of an assignment token: the HIT, signed."""
    return _preview_serializer().dumps(hit_id)


def previewed_hit(key: str | None) -> int | None:
    """The HIT a preview key was signed for, or None if it is missing, tampered or foreign."""
    if not key or len(key) > 100:
        return None
    try:
        value = _preview_serializer().loads(key)
    except BadSignature:
        return None
    return value if type(value) is int else None


def stored_path(pageno: int, wanted: str, assignment_id: int | None = None, hit_id: int | None = None) -> str | None:
    """The stored file of the image ``wanted`` names on page ``pageno`` of the assignment's HIT (or, for a
    preview, of the HIT): two small queries. None for a ref of another page or assignment, a made-up one, or an
    image imported by URL (the page loads those from their URL)."""
    query = HitPage.select(HitPage.image_ids, HitPage.spare_image_ids).where(HitPage.pageno == pageno)
    if assignment_id:
        query = query.join(Assignment, on=(Assignment.hit == HitPage.hit)).where(Assignment.id == assignment_id)
    else:
        query = query.where(HitPage.hit == hit_id)
    row = query.tuples().first()
    if row is None:
        return None
    image_ids, spare_ids = row
    found = image_of(scope(pageno, assignment_id, hit_id), list(image_ids) + list(spare_ids or []), wanted)
    if found is None:
        return None
    return Image.select(Image.storage_path).where(Image.id == found, Image.url.is_null() | (Image.url == "")).scalar()
