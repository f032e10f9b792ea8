"""A model's scores in the platform's label fits: the fit job reads the dataset's imported scores, stores what it
made of them, and the Results tab shows it (trust, reliability, votes saved)."""

import numpy as np
import pytest
from factories import make_voted_batch
from support import csrf_token

from freelunch.models import Batch, LabelFit, ModelScore
from freelunch.services.review import round_plan

HTMX = {"HX-Request": "true"}


@pytest.fixture
def voted(app, requester):
    with app.app_context():
        return make_voted_batch(requester.organization_id)


def score(app, batch, truth, sign=1.0):
    rng = np.random.default_rng(9)
    with app.app_context():
        ModelScore.delete().execute()
        ModelScore.insert_many(
            [
                dict(
                    organization=batch.organization_id,
                    dataset=batch.dataset_id,
                    image_class=c,
                    image=i,
                    score=sign * (1.5 if yes else -1.5) + rng.standard_normal(),
                )
                for (c, i), yes in truth.items()
            ]
        ).execute()


def fit(client, batch, run_jobs):
    response = client.post(
        f"/review/batches/{batch.id}/fit",
        headers=HTMX,
        data={"csrf_token": csrf_token(client), "model": "ds", "target_precision": "0.99", "threshold": "0.7"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    run_jobs()
    return LabelFit.select().where(LabelFit.batch == batch).order_by(LabelFit.id.desc()).first()


def test_without_scores_a_fit_stores_no_prior(app, client, voted, run_jobs):
    batch, _ = voted
    done = fit(client, batch, run_jobs)
    assert done.state == "done" and done.prior == {}
    assert "Model scores" not in client.get(f"/review/batches/{batch.id}/results").get_data(as_text=True)


def test_a_fit_uses_good_scores_and_the_results_tab_shows_trust_and_savings(app, client, voted, run_jobs):
    batch, truth = voted
    plain = fit(client, batch, run_jobs)
    score(app, batch, truth)
    done = fit(client, batch, run_jobs)
    p = done.prior
    assert done.state == "done" and p["used"] and p["slope"] - 2 * p["slope_se"] > 0
    assert p["scored"] == p["candidates"] == 300
    assert done.open < plain.open and p["decided"]["with"] > p["decided"]["without"]
    assert p["next_round"]["with"]["votes"] < p["next_round"]["without"]["votes"]
    # the reliability table climbs with the score: the votes alone say yes more often in the higher deciles
    shares = [row["votes_yes"] for row in p["reliability"]]
    assert len(shares) == 10 and np.corrcoef(shares, range(10))[0, 1] > 0.9 and shares[-1] - shares[0] > 0.6, shares
    assert [c["key"] for c in p["classes"]] == ["n01", "n02"] and all(c["auc"] > 0.8 for c in p["classes"])
    page = client.get(f"/review/batches/{batch.id}/results").get_data(as_text=True)
    saved = p["next_round"]["without"]["votes"] - p["next_round"]["with"]["votes"]
    assert "Model scores" in page and "<strong>Used</strong>" in page and f"{saved:,} votes saved" in page
    assert "Reliability: the scores against the votes" in page
    # the round plan asks one vote a round of a fit that trusted the scores (two of one that did not), and the
    # images whose prior and votes reach the target are not in it
    with app.app_context():
        planned = round_plan.plan(Batch.get_by_id(batch.id), LabelFit.get_by_id(done.id))
    assert planned.assignments_per_hit == 1 and planned.open == done.open
    assert client.get(f"/review/batches/{batch.id}/next-round").status_code == 200


def test_inverted_scores_are_not_used_and_the_tab_says_so(app, client, requester, run_jobs):
    with app.app_context():
        # seed 7: a crowd where some open images need two more votes (in seed 4's, with the workers' pooled
        # rates, every open image is within a vote of its goal, so no plan asks two)
        batch, truth = make_voted_batch(requester.organization_id, seed=7)
    plain = fit(client, batch, run_jobs)
    with app.app_context():
        unscored = round_plan.plan(Batch.get_by_id(batch.id), LabelFit.get_by_id(plain.id)).pages
    score(app, batch, truth, sign=-1.0)
    done = fit(client, batch, run_jobs)
    assert not done.prior["used"] and done.prior["slope"] < 0
    assert (done.yes, done.no, done.open) == (plain.yes, plain.no, plain.open)
    with app.app_context():
        # the plan is the unscored fit's, two votes a round where an image needs them
        planned = round_plan.plan(Batch.get_by_id(batch.id), LabelFit.get_by_id(done.id))
        assert planned.assignments_per_hit == 2 and planned.pages == unscored
    page = client.get(f"/review/batches/{batch.id}/results").get_data(as_text=True)
    assert "<strong>Not used</strong>" in page and "votes saved" not in page
