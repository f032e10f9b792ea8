"""The URLs a worker opens to do a HIT."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import current_app

from ...models import Hit


def survey_link(hit: Hit, worker_id: str, version: str | None = None) -> str:
    """The seed's survey-link form: the HIT named by batch and imageNetHitId, for one worker."""
    params = {"hitDatasetName": hit.batch_id, "imageNetHitId": hit.key, "workerId": worker_id}
    if version:
        params["version"] = version
    return f"{current_app.config['PUBLIC_URL']}/annotate?{urlencode(params)}"
