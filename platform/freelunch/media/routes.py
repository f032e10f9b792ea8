from flask import abort, current_app, request, send_from_directory

from .. import storage
from . import bp


@bp.get("/media/<path:path>")
def serve(path):
    """A stored file, for a URL storage signed in the last PRESIGNED_SECONDS; anything else is a 404."""
    if not storage.signature_holds(path, request.args.get("t", ""), request.args.get("s", "")):
        abort(404)
    return send_from_directory(current_app.config["MEDIA_ROOT"], path, max_age=3600)
