"""What the requester's overview and lists say: one vocabulary of batch phases in the list's filter and its rows,
"Needs you" naming a next round nobody can reach, and no organization links for a site admin without one."""

from factories import make_campaign
from support import login

from freelunch.models import Assignment, Batch, Hit, ImageRecord, LabLink, PageSubmission
from freelunch.services.accounts.users import create_user


def test_the_batch_list_filters_on_the_phases_it_shows(client, org):
    annotating = make_campaign(org, "Started").batch  # workers have begun: it reads "annotating"
    idle = make_campaign(org, "Idle").batch
    Hit.delete().where(Hit.batch == idle).execute()
    Batch.update(state="draft").where(Batch.id == idle.id).execute()
    html = client.get("/batches/").get_data(as_text=True)
    phases = ("draft", "building", "ready", "published", "annotating", "complete", "closed", "failed")
    assert all(f'<option value="{p}"' in html for p in phases)
    assert ">annotating</span>" in html and ">draft</span>" in html
    filtered = client.get("/batches/?state=annotating").get_data(as_text=True)
    assert f'data-batch="{annotating.id}"' in filtered and f'data-batch="{idle.id}"' not in filtered
    assert 'data-batch="' not in client.get("/batches/?state=ready").get_data(as_text=True)
    drafts = client.get("/batches/?state=draft").get_data(as_text=True)
    assert f'data-batch="{idle.id}"' in drafts and f'data-batch="{annotating.id}"' not in drafts


def test_needs_you_names_a_next_round_nobody_can_reach(client, org):
    first = make_campaign(org, "Round one").batch
    second = make_campaign(org, "Round two").batch
    Batch.update(round=2, follows=first).where(Batch.id == second.id).execute()
    for hit in second.hits:  # nobody started it
        for assignment in hit.assignments:
            assignment.delete_instance()
    html = client.get("/").get_data(as_text=True)
    assert "Round two</a>: round 2 is ready, and no lab link or MTurk HIT leads workers to it yet." in html
    LabLink.create(organization=org, batch=second, label="Tuesday")
    assert "round 2 is ready" not in client.get("/").get_data(as_text=True)


def test_a_site_admin_without_an_organization_sees_the_admin_area_only(app, client):
    with app.app_context():
        create_user("root@example.org", "password123", is_admin=True)
    login(client, "root@example.org")
    html = client.get("/admin/").get_data(as_text=True)
    assert 'href="/admin/"' in html
    assert not any(f'href="{path}"' in html for path in ("/datasets/", "/batches/", "/review/workers", "/members/"))


def test_needs_you_names_a_hit_that_showed_a_page_short_of_images(client, org):
    batch = make_campaign(org, "Broken images").batch
    assert "short of images" not in client.get("/").get_data(as_text=True)
    record = ImageRecord.select().join(PageSubmission).join(Assignment).join(Hit).where(Hit.batch == batch).first()
    ImageRecord.update(load_status="dropped").where(ImageRecord.id == record.id).execute()
    html = client.get("/").get_data(as_text=True)
    assert "Broken images</a>:\n      1 HIT showed workers a page short of images" in html
