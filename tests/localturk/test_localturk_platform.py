"""The platform behind the local MTurk: the worker site's frame opens our annotate page, whose form posts back to it."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlsplit

import pytest
from factories import HIT_TYPE, make_batch, summary_for
from support import post_page

from freelunch.models import Assignment, Hit
from freelunch.services.accounts.identity import assignment_token
from freelunch.services.mturk.tracking import answer_fields

EXTERNAL = (
    '<ExternalQuestion xmlns="http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/2006-07-14/'
    'ExternalQuestion.xsd"><ExternalURL>http://localhost/annotate?hitDatasetName={batch}&amp;imageNetHitId={key}'
    "</ExternalURL><FrameHeight>0</FrameHeight></ExternalQuestion>"
)


@pytest.fixture
def batch(app, make_account):
    return make_batch(app, make_account("requester@example.org", "Lab")[1], hits=1)


def frame_path(page_html: str) -> str:
    """The annotate URL in the worker site's frame, as our test client asks for it once the page in the frame
    has seen a mouse (``pointer=fine``, added by static/device-check.js)."""
    src = urlsplit(unescape(re.search(r'id="hit-frame" src="([^"]+)"', page_html).group(1)))
    return f"{src.path}?{src.query}&pointer=fine"


def test_a_worker_on_the_local_mturk_annotates_and_submits_to_it(app, client, batch, local_mturk):
    app.config["MTURK_ENDPOINT_URL"] = local_mturk.endpoint_url
    mturk = local_mturk.client()
    hit = batch.hits.order_by(Hit.id).first()
    type_id = mturk.create_hit_type(**HIT_TYPE)["HITTypeId"]
    remote = mturk.create_hit_with_hit_type(
        HITTypeId=type_id,
        LifetimeInSeconds=3600,
        MaxAssignments=1,
        Question=EXTERNAL.format(batch=batch.id, key=hit.key),
    )["HIT"]
    assignment_id = local_mturk.accept(remote["HITId"], "AWORKERONE")
    opened = client.get(
        frame_path(local_mturk.page(f"/worker/assignments/{assignment_id}", worker_id="AWORKERONE").html)
    )
    assert opened.status_code == 303  # on to the worker's signed assignment link
    ours = Assignment.get()
    assert (ours.mturk_assignment_id, ours.turk_submit_to) == (assignment_id, local_mturk.endpoint_url)
    with app.app_context():
        token = assignment_token(ours.id)
    for pageno in (1, 2):
        assert post_page(client, token, pageno, summary_for(hit, pageno)).status_code == 200
    html = client.get(f"/annotate?token={token}").get_data(as_text=True)
    form = re.search(r'<form method="post" action="([^"]+)" class="mturk">(.*?)</form>', html, re.S)
    assert form.group(1) == f"{local_mturk.endpoint_url}/mturk/externalSubmit"
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form.group(2)))
    assert local_mturk.page("/mturk/externalSubmit", fields).status == 403  # not signed in as the worker
    assert local_mturk.page("/mturk/externalSubmit", fields, "AWORKERONE").status == 200
    answer = mturk.get_assignment(AssignmentId=assignment_id)["Assignment"]
    assert answer["AssignmentStatus"] == "Submitted"
    assert answer_fields(answer["Answer"]) == {"completionCode": fields["completionCode"]}


def test_the_local_mturk_is_no_submit_target_in_production_or_when_not_configured(app, client, batch, local_mturk):
    hit = batch.hits.first()
    link = (
        f"/annotate?pointer=fine&imageNetHitId={hit.key}&assignmentId=3ASG&hitId=3HIT&workerId=AWORKER"
        f"&turkSubmitTo={local_mturk.endpoint_url}"
    )
    assert client.get(link).status_code == 400  # MTURK_ENDPOINT_URL unset
    app.config.update(MTURK_ENDPOINT_URL=local_mturk.endpoint_url, ENV_MODE="production")
    assert client.get(link).status_code == 400
    app.config["MTURK_ENDPOINT_URL"] = "https://mturk.example.org"
    app.config["ENV_MODE"] = "development"
    assert client.get(link.replace(local_mturk.endpoint_url, "https://mturk.example.org")).status_code == 400
    assert Assignment.select().count() == 0
