"""Model scores imported on the dataset's page: an RQ job (run by a real worker) with per-row errors."""

import re

from support import csrf_token, job_id, upload

from freelunch.models import Image, ImageClass, ModelScore
from freelunch.services.datasets import deletion

HTMX = {"HX-Request": "true"}


def _dataset(requester):
    org = requester.organization_id
    fish = ImageClass.create(organization=org, dataset=requester, key="fish", names=["fish"])
    dog = ImageClass.create(organization=org, dataset=requester, key="dog", names=["dog"])
    images = {k: Image.create(organization=org, dataset=requester, key=k, url=f"https://x.org/{k}.jpg") for k in "abc"}
    return fish, dog, images


def test_scores_import_as_a_job_that_reports_bad_rows_and_keeps_the_good(app, client, requester, run_jobs):
    fish, dog, images = _dataset(requester)
    scores = (
        "\ufeffImage,CLASS,Score,note\r\n"
        "a,fish,0.9,x\r\n"
        "b,fish,-2.5e1,\r\n"
        "a,dog,3,\r\n"
        "zzz,fish,1,\r\n"  # line 5: no such image
        "c,cat,1,\r\n"  # line 6: no such class
        "c,fish,high,\r\n"  # line 7: not a number
        "c,fish,inf,\r\n"  # line 8: not finite
        "a,fish,0.1,\r\n"  # line 9: a second score in the file
    )
    html = upload(client, requester, "scores", {"scores": ("scores.csv", scores.encode())}).get_data(as_text=True)
    assert "Import model scores from scores.csv" in html
    run_jobs()
    stored = {(s.image.key, s.image_class.key): s.score for s in ModelScore.select()}
    assert stored == {("a", "fish"): 0.9, ("b", "fish"): -25.0, ("a", "dog"): 3.0}
    assert {s.organization_id for s in ModelScore.select()} == {requester.organization_id}
    body = client.get(f"/jobs/{job_id(html)}", headers=HTMX).get_data(as_text=True)
    assert "3 scores" in body and "5 rows with errors" in body
    for where, what in [
        ("line 5", "the dataset has no image &#39;zzz&#39;"),
        ("line 6", "the dataset has no class &#39;cat&#39;"),
        ("line 7", "score &#39;high&#39; is not a finite number"),
        ("line 8", "score &#39;inf&#39; is not a finite number"),
        ("line 9", "appears twice; the first score was kept"),
    ]:
        assert where in body and what in body, (where, what)
    # importing again replaces a score; the page says how many are stored
    upload(client, requester, "scores", {"scores": ("again.csv", b"image,class,score\na,fish,0.2\n")})
    run_jobs()
    assert ModelScore.get(ModelScore.image == images["a"], ModelScore.image_class == fish).score == 0.2
    assert ModelScore.select().count() == 3
    assert "3 model scores" in client.get(f"/datasets/{requester.id}").get_data(as_text=True)
    # the requester can forget them (with a CSRF token); a viewer cannot
    page = client.get(f"/datasets/{requester.id}").get_data(as_text=True)
    assert "Delete the 3 model scores" in page
    assert client.post(f"/datasets/{requester.id}/scores/delete").status_code == 400
    assert ModelScore.select().count() == 3
    done = client.post(f"/datasets/{requester.id}/scores/delete", data={"csrf_token": csrf_token(client)})
    assert done.status_code == 302 and ModelScore.select().count() == 0
    assert "3 model scores deleted" in client.get(done.headers["Location"]).get_data(as_text=True)
    upload(client, requester, "scores", {"scores": ("again.csv", b"image,class,score\na,fish,0.2\n")})
    run_jobs()
    # deleting the dataset takes its scores with it
    assert ModelScore.select().count() == 1
    with app.app_context():
        deletion.delete_dataset(requester)
    assert ModelScore.select().count() == 0


def test_a_scores_file_without_its_columns_fails_with_the_reason(client, requester, run_jobs):
    _dataset(requester)
    html = upload(client, requester, "scores", {"scores": ("s.csv", b"image,probability\na,0.5\n")}).get_data(
        as_text=True
    )
    run_jobs()
    body = client.get(f"/jobs/{job_id(html)}", headers=HTMX).get_data(as_text=True)
    assert (
        "failed" in body and "needs a header row with the columns image, class and score; missing: class, score" in body
    )
    assert ModelScore.select().count() == 0
    missing = upload(client, requester, "scores", {})
    assert missing.status_code == 422 and "Choose a CSV of image, class, score." in missing.get_data(as_text=True)


def test_the_import_says_what_a_first_round_could_save(app, client, requester, run_jobs):
    """Scores that the controls vouch for: the summary counts the votes a lean first round would not ask."""
    import numpy as np
    from factories import make_dataset

    from freelunch.models import Candidate

    with app.app_context():
        dataset = make_dataset(
            requester.organization_id, classes=("n01", "n02"), candidates=60, positives=10, negatives=10, name="Scored"
        )
        rng = np.random.default_rng(3)
        lines = ["image,class,score"]
        for c in Candidate.select().where(Candidate.organization == requester.organization_id):
            sign = {"positive": 1, "negative": -1}.get(c.role, rng.choice([-1, 1]))
            lines.append(f"{c.image.key},{c.image_class.key},{3 * sign + rng.standard_normal():.3f}")
    html = upload(client, dataset, "scores", {"scores": ("s.csv", "\n".join(lines).encode())}).get_data(as_text=True)
    run_jobs()
    body = client.get(f"/jobs/{job_id(html)}", headers=HTMX).get_data(as_text=True)
    assert "160 scores" in body and "fewer votes of the 120 scored candidates" in body
    saved = int(re.search(r"could ask ([0-9,]+) fewer votes", body).group(1).replace(",", ""))
    assert 30 < saved <= 120
    # random scores: the controls do not vouch for them
    lines = [lines[0]] + [",".join(line.split(",")[:2] + [f"{rng.standard_normal():.3f}"]) for line in lines[1:]]
    html = upload(client, dataset, "scores", {"scores": ("r.csv", "\n".join(lines).encode())}).get_data(as_text=True)
    run_jobs()
    body = client.get(f"/jobs/{job_id(html)}", headers=HTMX).get_data(as_text=True)
    assert "do not show the model to be better than chance" in body
