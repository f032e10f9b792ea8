"""Media storage for uploaded images: a local folder by default, an S3 bucket when S3_BUCKET is set.

A requester's pages load media through URLs that expire: S3's pre-signed URLs, and for
local files ``/media/<path>?t=<hour>&s=<signature>`` (the media blueprint; itsdangerous, keyed by
SECRET_KEY). The hour is rounded down, so a page's image URLs stay the same for
an hour and browsers keep caching them. Both name the stored path, so a worker's page
does not use them: it loads its images by opaque ref through the annotate blueprint
(services/annotation/image_refs.py), which reads the bytes here (``read_or_none``).
"""

from __future__ import annotations

import io
import mimetypes
import shutil
import time
from pathlib import Path
from typing import Protocol

from flask import current_app, url_for
from itsdangerous import BadSignature, Signer
from PIL import Image as PILImage
from werkzeug.utils import safe_join

from .parsing import whole_number

THUMBNAIL_SIZE = (240, 240)
# 40 megapixels: a decoded image (a thumbnail's working copy) stays under ~160 MB. Imports refuse larger
# files before any decode (services/imports/images.probe); Pillow refuses to decode them anyway.
MAX_PIXELS = 40_000_000
PILImage.MAX_IMAGE_PIXELS = MAX_PIXELS
PRESIGNED_SECONDS = 12 * 3600  # longer than any HIT's assignment duration


class Backend(Protocol):
    def save(self, path: str, data: bytes, content_type: str) -> None: ...
    def read(self, path: str) -> bytes: ...
    def exists(self, path: str) -> bool: ...
    def url(self, path: str) -> str: ...
    def delete_prefix(self, prefix: str) -> int: ...


class LocalStorage:
    def __init__(self, root: Path):
        self.root = root

    def _file(self, path: str) -> Path:
        target = safe_join(str(self.root), path)
        if target is None:
            raise ValueError(f"unsafe media path: {path!r}")
        return Path(target)

    def save(self, path: str, data: bytes, content_type: str) -> None:
        target = self._file(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def read(self, path: str) -> bytes:
        return self._file(path).read_bytes()

    def exists(self, path: str) -> bool:
        return self._file(path).is_file()

    def url(self, path: str) -> str:
        issued = int(time.time()) // 3600 * 3600
        return url_for("media.serve", path=path, t=issued, s=_media_signer().get_signature(f"{issued}:{path}").decode())

    def delete_prefix(self, prefix: str) -> int:
        folder = self._file(prefix)
        if not folder.is_dir():
            return 0
        count = sum(1 for p in folder.rglob("*") if p.is_file())
        shutil.rmtree(folder)
        return count


class S3Storage:
    def __init__(self, bucket: str, client):
        self.bucket = bucket
        self.client = client

    def save(self, path: str, data: bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=path, Body=data, ContentType=content_type)

    def read(self, path: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=path)["Body"].read()

    def exists(self, path: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=path)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

    def url(self, path: str) -> str:
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": path}, ExpiresIn=PRESIGNED_SECONDS
        )

    def delete_prefix(self, prefix: str) -> int:
        deleted = 0
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
                deleted += len(keys)
        return deleted


def backend() -> Backend:
    """The app's storage, built once per app from its config."""
    store = current_app.extensions.get("freelunch.storage")
    if store is None:
        bucket = current_app.config.get("S3_BUCKET")
        if bucket:
            import boto3
            from botocore.config import Config

            client = boto3.client(
                "s3",
                region_name=current_app.config.get("AWS_REGION"),
                endpoint_url=current_app.config.get("S3_ENDPOINT_URL"),
                config=Config(
                    signature_version="s3v4"
                ),  # SigV2 pre-signed URLs are deprecated and refused by newer regions
            )
            store = S3Storage(bucket, client)
        else:
            store = LocalStorage(Path(current_app.config["MEDIA_ROOT"]))
        current_app.extensions["freelunch.storage"] = store
    return store


def save(relative_path: str, data: bytes, content_type: str | None = None) -> str:
    """Store bytes under a relative path; returns the path to keep on the Image."""
    if not relative_path or relative_path.startswith("/") or ".." in relative_path.split("/"):
        raise ValueError(f"unsafe media path: {relative_path!r}")
    content_type = content_type or mimetypes.guess_type(relative_path)[0] or "application/octet-stream"
    backend().save(relative_path, data, content_type)
    return relative_path


def read(relative_path: str) -> bytes:
    return backend().read(relative_path)


def read_or_none(relative_path: str) -> bytes | None:
    """A stored file's bytes, or None when it is gone (a worker's page then replaces the image by a spare)."""
    store = backend()
    if isinstance(store, S3Storage):
        from botocore.exceptions import ClientError

        try:
            return store.read(relative_path)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise
    try:
        return store.read(relative_path)
    except (OSError, ValueError):  # a missing file, or an unsafe path
        return None


def url_for_path(relative_path: str) -> str:
    """Where a browser loads the file: /media/... locally, a pre-signed URL on S3."""
    return backend().url(relative_path)


def image_src(image) -> str:
    """Where the browser loads an image (an Image, or a row with its url and storage_path)."""
    return image.url or url_for_path(image.storage_path)


def delete_prefix(prefix: str) -> int:
    """Remove every stored file under a folder (a deleted dataset's media); returns how many."""
    return backend().delete_prefix(prefix.rstrip("/") + "/")


def thumbnail_path(relative_path: str) -> str:
    return f"thumbs/{relative_path}.jpg"


def has_thumbnail(relative_path: str) -> bool:
    return backend().exists(thumbnail_path(relative_path))


def ensure_thumbnail(relative_path: str) -> str:
    """A small JPEG of a stored image, made once and kept; returns its path.

    Decoding costs memory in proportion to the pixels, so this runs in import
    jobs (and the thumbnail job), never in a web request.
    """
    thumb = thumbnail_path(relative_path)
    if not backend().exists(thumb):
        with PILImage.open(io.BytesIO(read(relative_path))) as image:
            image.draft("RGB", THUMBNAIL_SIZE)  # JPEGs decode at a fraction of their size
            image.thumbnail(THUMBNAIL_SIZE)
            out = io.BytesIO()
            image.convert("RGB").save(out, "JPEG", quality=80)
        save(thumb, out.getvalue(), "image/jpeg")
    return thumb


def _media_signer() -> Signer:
    return Signer(current_app.config["SECRET_KEY"], salt="freelunch.media")


def signature_holds(path: str, issued: str, signature: str) -> bool:
    """Whether ``/media/<path>?t=<issued>&s=<signature>`` is a URL ``LocalStorage.url`` made in the last
    PRESIGNED_SECONDS."""
    try:
        valid = whole_number(issued) is not None and _media_signer().verify_signature(
            f"{issued}:{path}", signature.encode()
        )
    except BadSignature:
        valid = False
    return valid and int(issued) + PRESIGNED_SECONDS >= time.time()
