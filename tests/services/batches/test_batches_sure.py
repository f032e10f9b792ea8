"""A lean first round in the builder: the candidates a model's scores make sure get one vote, in a second batch,
when the requester ticks it (off by default); the builder shows what it saves before anything is built."""

import re

from factories import make_dataset, scored_dataset
from support import builder_data

from freelunch.models import Batch, Candidate, Hit, HitPage, ImageClass
from freelunch.services.batches import builder


def shown_candidates(batch: Batch) -> set[int]:
    roles = dict(Candidate.select(Candidate.image, Candidate.role).where(Candidate.role == "candidate").tuples())
    pages = HitPage.select(HitPage.image_ids).join(Hit).where(Hit.batch == batch)
    return {i for p in pages for i in p.image_ids if i in roles}


def test_the_builder_shows_what_one_vote_for_sure_images_saves_and_leaves_it_unticked(client, org):
    dataset = scored_dataset(org)
    sure = builder.sure_images(dataset.id)
    assert sure.trusted and 0 < sure.count() < 100
    page = client.get(f"/batches/new?dataset_id={dataset.id}").get_data(as_text=True)
    box = re.search(r'<input[^>]*name="ask_sure_once"[^>]*>', page).group(0)
    assert "checked" not in box
    saved = sure.count() * (3 - 1)  # the form's default: 3 assignments per HIT
    assert f"The model is sure about {sure.count()} of the chosen candidates" in page
    assert f"asking them one vote saves {saved} votes" in page
    for row in ImageClass.select().where(ImageClass.dataset == dataset):
        assert f'data-sure="{sure.count(row.id)}"' in page

    plain = make_dataset(org, name="Unscored")
    page = client.get(f"/batches/new?dataset_id={plain.id}").get_data(as_text=True)
    assert "ask_sure_once" not in page and "sure about" not in page


def test_an_inverted_model_offers_no_fewer_votes(client, org):
    dataset = scored_dataset(org, sign=-1.0)
    page = client.get(f"/batches/new?dataset_id={dataset.id}").get_data(as_text=True)
    assert "ask_sure_once" not in page
    assert "do not show the model's scores to be better than chance" in page


def test_ticked_the_sure_images_go_to_a_batch_of_one_assignment_and_the_rest_keep_theirs(client, org, run_jobs):
    dataset = scored_dataset(org)
    sure = builder.sure_images(dataset.id)
    every = {c for (c,) in Candidate.select(Candidate.image).where(Candidate.role == "candidate").tuples()}
    response = client.post("/batches/", data=builder_data(client, dataset, ask_sure_once="y"))
    assert response.status_code == 302
    main, lean = Batch.get(Batch.name == "Round 1"), Batch.get(Batch.name == "Round 1 · sure images")
    assert (main.assignments_per_hit, lean.assignments_per_hit) == (3, 1)
    assert (main.sure_images, lean.sure_images) == ("left-out", "only")
    assert (lean.images_per_page, lean.positives_per_page, str(lean.reward)) == (12, 2, "0.25")
    run_jobs()
    main, lean = Batch.get_by_id(main.id), Batch.get_by_id(lean.id)
    assert main.state == lean.state == "ready"
    sure_ids = set().union(*sure.by_class.values())
    assert shown_candidates(lean) == sure_ids and shown_candidates(main) == every - sure_ids
    for hit_page in HitPage.select().join(Hit).where(Hit.batch == lean):  # controls on every page, as the main's
        roles = [
            Candidate.get(Candidate.image == i, Candidate.image_class == hit_page.image_class).role
            for i in hit_page.image_ids
        ]
        assert roles.count("positive") == 2 and roles.count("negative") == 1
    page = client.get(f"/batches/{main.id}", follow_redirects=True).get_data(as_text=True)
    assert f"the {len(sure_ids)} candidates the model is sure about, 1 assignment per HIT" in page
    assert 'the sure ones are in the batch "Round 1 · sure images"' in page
    assert "only the candidates the model's scores make sure" in client.get(f"/batches/{lean.id}").get_data(
        as_text=True
    )


def test_unticked_one_batch_asks_every_candidate_the_same(client, org, run_jobs):
    dataset = scored_dataset(org)
    client.post("/batches/", data=builder_data(client, dataset))
    run_jobs()
    (batch,) = Batch.select()
    assert batch.sure_images is None and len(shown_candidates(batch)) == 100
