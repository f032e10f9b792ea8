"""Pages say what a row is in a requester's words, never the code's value for it (``mturk``, ``auto``, ``done``).

Values a filter sends stay the code's (the URL carries them); what the option and the cell show is the word.
"""

from __future__ import annotations

import re

from factories import make_campaign, make_image, mturk_assignment

from freelunch.models import Assignment, Dataset, Decision, ImageClass, WorkerAction
from freelunch.services.mturk import credentials


def _text(html: str) -> str:
    """The page's text, tags and whitespace runs taken out."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_assignments_list_names_where_each_assignment_came_from(client, org):
    campaign = make_campaign(org)
    Assignment.update(source="mturk").where(Assignment.id == campaign.assignments["h1w1"].id).execute()
    html = client.get(f"/review/batches/{campaign.batch.id}/assignments").get_data(as_text=True)
    options = re.findall(r'<option value="(\w*)"[^>]*>([^<]*)</option>', html)
    assert options == [
        ("", "any"),
        ("mturk", "MTurk"),
        ("survey", "survey link"),
        ("lab", "lab link"),
        ("preview", "preview"),
    ]
    text = _text(html)
    assert "MTurk · Red pointer" in text and "lab link · Red pointer" in text
    assert "mturk ·" not in text and " lab ·" not in text

    one = client.get(f"/review/assignments/{campaign.assignments['h1w3'].id}").get_data(as_text=True)
    assert "lab link · Red pointer, sharp images" in _text(one)


def test_an_mturk_assignments_decisions_and_actions_read_as_words(client, org):
    campaign = make_campaign(org)
    row = mturk_assignment(org, campaign.hits[0], "Approved")
    Decision.create(organization=org, mturk_assignment=row, action="reject", source="cli", state="failed", error="x")
    Decision.create(organization=org, mturk_assignment=row, action="override", source="auto", state="adopted")
    WorkerAction.create(
        organization=org, mturk_assignment=row, worker_id="W1AAAAAAAA", kind="notify", state="intended", text="Hi"
    )
    decisions = _text(client.get(f"/mturk/assignments/{row.id}").get_data(as_text=True))
    decisions = decisions[decisions.index("Decisions") : decisions.index("Bonuses")]
    assert "Reject the freelunch command failed: x" in decisions
    assert "Approve after a rejection auto-review already decided on MTurk" in decisions
    for code in (" reject ", " cli ", " override ", " auto ", " adopted "):
        assert code not in f" {decisions} ", code
    worker = _text(client.get(f"/mturk/assignments/{row.id}").get_data(as_text=True)).split("The worker", 1)[1]
    assert "message not sent yet" in worker and "intended" not in worker


def test_the_delete_page_names_each_batch_by_its_phase_as_the_batch_list_does(client, org):
    campaign = make_campaign(org)  # ready, with workers: "annotating" on the batch list
    listed = _text(client.get("/batches/").get_data(as_text=True))
    assert f"{campaign.batch.name} {campaign.batch.dataset.name} annotating" in listed
    page = _text(client.get(f"/datasets/{campaign.batch.dataset_id}/delete").get_data(as_text=True))
    assert f"{campaign.batch.name} annotating" in page and f"{campaign.batch.name} ready" not in page


def test_the_delete_page_counts_as_the_dataset_page_does(client, org):
    """It said "the dataset's 1000 classes" under a dataset page's "1,000 classes", and "1 classes"."""
    dataset = Dataset.create(organization=org, name="Small")
    ImageClass.insert_many(
        [{"organization": org, "dataset": dataset, "key": f"n{n:04}", "names": ["x"]} for n in range(1000)]
    ).execute()
    make_image(org, dataset, ImageClass.get(ImageClass.key == "n0000"), "n0000/a", "candidate")
    page = _text(client.get(f"/datasets/{dataset.id}/delete").get_data(as_text=True))
    assert "This deletes the dataset's 1,000 classes and 1 image," in page


def test_the_mturk_review_page_names_no_mturk_operation(client, org):
    campaign = make_campaign(org)
    mturk_assignment(org, campaign.hits[0], "Submitted")
    html = client.get(f"/batches/{campaign.batch.id}/mturk/review?show=no_data").get_data(as_text=True)
    assert "Send the message" in html
    assert not re.search(r"\b(NotifyWorkers|CreateWorkerBlock|SendBonus|ApproveAssignment|RejectAssignment)\b", html)


def test_the_mturk_assignment_page_names_no_mturk_operation(app, client, org):
    """Its block form offered "MTurk's CreateWorkerBlock" (with a key pair of the organization's own, as the hard
    block needs): the review page's test above never opened this page."""
    with app.app_context():
        credentials.store(org.id, "AKIAEXAMPLE12345", "the-secret-key-itself")
    campaign = make_campaign(org)
    row = mturk_assignment(org, campaign.hits[0], "Submitted")
    html = client.get(f"/mturk/assignments/{row.id}").get_data(as_text=True)
    assert "Block this worker" in html and "Hard: MTurk blocks them from every HIT of your account" in html
    assert not re.search(r"\b(NotifyWorkers|CreateWorkerBlock|SendBonus|ApproveAssignment|RejectAssignment)\b", html)
