"""Media storage for uploaded images: a local folder by default."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, send_from_directory, url_for
from werkzeug.utils import safe_join

bp = Blueprint("media", __name__)


def media_root() -> Path:
    return Path(current_app.config["MEDIA_ROOT"])


def save(relative_path: str, data: bytes) -> str:
    """Store bytes under a relative path; returns the path to keep on the Image."""
    target = safe_join(str(media_root()), relative_path)
    if target is None:
        raise ValueError(f"unsafe media path: {relative_path!r}")
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    Path(target).write_bytes(data)
    return relative_path


def url_for_path(relative_path: str) -> str:
    return url_for("media.serve", path=relative_path)


@bp.get("/media/<path:path>")
def serve(path):
    # Workers load these inside MTurk's iframe without a session, so media is public;
    # paths carry the dataset id and are not listed anywhere.
    return send_from_directory(media_root(), path, max_age=86400)
