import json
from urllib.parse import parse_qs, urlparse

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from support import login

from freelunch import storage
from freelunch.cli import cli
from freelunch.models import Batch, Candidate, Dataset, Hit, HitPage, ImageClass, User


def run(app, *args):
    result = CliRunner().invoke(cli, list(args), obj=ScriptInfo(create_app=lambda: app))
    return result


def test_demo_json_is_idempotent_and_usable(app, client):
    first = run(app, "demo", "--json")
    assert first.exit_code == 0, first.output
    summary = json.loads(first.output)
    assert set(summary) == {"dashboard_url", "login", "admin", "batch_id", "worker_links"}
    second = json.loads(run(app, "demo", "--json").output)
    assert second == summary
    assert Batch.select().count() == 1 and User.select().count() == 2
    admin = User.get(User.email == summary["admin"]["email"])
    assert admin.is_admin and not admin.memberships.exists()

    batch = Batch.get_by_id(summary["batch_id"])
    assert batch.state == "ready"
    assert len(summary["worker_links"]) == batch.hits.count() > 0
    query = parse_qs(urlparse(summary["worker_links"][0]).query)
    assert query["hitDatasetName"] == [str(batch.id)]
    assert Hit.get(Hit.key == query["imageNetHitId"][0]).batch_id == batch.id

    # Each page mixes the class's candidates with positive and negative controls.
    page = HitPage.select().first()
    roles = [
        c.role
        for c in Candidate.select().where(
            Candidate.image.in_(page.image_ids), Candidate.image_class == page.image_class
        )
    ]
    assert len(page.image_ids) == batch.images_per_page
    assert roles.count("positive") == batch.positives_per_page and roles.count("negative") == batch.negatives_per_page
    assert ImageClass.select().count() >= 3

    login(client, summary["login"]["email"], summary["login"]["password"])
    assert batch.name in client.get("/batches/").get_data(as_text=True)
    with app.test_request_context():
        url = storage.url_for_path(batch.dataset.images.first().storage_path)
    image = client.get(url)
    assert image.status_code == 200 and image.mimetype == "image/jpeg"


def test_demo_human_output_ends_with_the_logins(app):
    lines = run(app, "demo").output.splitlines()
    assert lines[-2] == "Login:      demo@example.com / freelunch-demo"
    assert lines[-1] == "Site admin: admin@example.com / freelunch-admin"


def test_the_demo_admin_lands_on_the_admin_area(app, client):
    summary = json.loads(run(app, "demo", "--json").output)
    response = login(client, summary["admin"]["email"], summary["admin"]["password"])
    assert client.get(response.headers["Location"]).headers["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_user_create_admin(app, client):
    result = run(app, "user", "create", "--email", "root@example.org", "--password", "long-enough", "--admin")
    assert result.exit_code == 0 and "site admin" in result.output
    assert User.get(User.email == "root@example.org").is_admin
    again = run(app, "user", "create", "--email", "root@example.org", "--password", "long-enough")
    assert again.exit_code != 0 and "already exists" in again.output
    short = run(app, "user", "create", "--email", "x@example.org", "--password", "short")
    assert short.exit_code != 0 and "at least 10" in short.output
    common = run(app, "user", "create", "--email", "x@example.org", "--password", "1234567890")
    assert common.exit_code != 0 and "most common" in common.output
    login(client, "root@example.org", "long-enough")
    assert client.get("/admin/").status_code == 200


def test_db_upgrade_reports_up_to_date(app):
    result = run(app, "db", "upgrade")
    assert result.exit_code == 0 and "up to date" in result.output


def test_classes_import_preset_needs_no_file(app, make_account):
    _, org = make_account("req@example.org", "Lab")
    dataset = Dataset.create(organization=org, name="ImageNet")
    result = run(app, "classes", "import", "--preset", "imagenet-1k", "--dataset", str(dataset.id))
    assert result.exit_code == 0, result.output
    assert "1,000 classes created" in result.output
    assert ImageClass.select().where(ImageClass.dataset == dataset).count() == 1000
    again = run(app, "classes", "import", "--preset", "imagenet-1k", "--dataset", str(dataset.id))
    assert "1,000 classes updated" in again.output
    missing = run(app, "classes", "import", "--preset", "imagenet-1k", "--dataset", "9999")
    assert missing.exit_code != 0 and "There is no dataset 9999" in missing.output and "Traceback" not in missing.output
    unknown = run(app, "classes", "import", "--preset", "imagenet-22k", "--dataset", str(dataset.id))
    assert unknown.exit_code != 0 and "imagenet-1k" in unknown.output


HUGE = str(2**64)  # past any id a database column holds


@pytest.mark.parametrize(
    "args, message",
    [
        (["export", "--batch", HUGE], f"There is no batch {HUGE}."),
        (["labels", "flags", "--batch", HUGE], f"There is no batch {HUGE}."),
        (["mturk", "sync", "--batch", HUGE], f"There is no batch {HUGE}."),
        (["mturk", "publish", "--batch", HUGE, "--yes"], f"There is no batch {HUGE}."),
        (["mturk", "review", "--batch", HUGE, "--auto"], f"There is no batch {HUGE}."),
        (["classes", "import", "--preset", "imagenet-1k", "--dataset", HUGE], f"There is no dataset {HUGE}."),
    ],
)
def test_an_id_past_any_row_is_a_one_line_error(app, args, message):
    result = run(app, *args)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert message in result.output and "Traceback" not in result.output


def test_an_export_to_a_folder_that_does_not_exist_is_a_one_line_error(app, make_account, tmp_path):
    _, org = make_account("req@example.org", "Lab")
    batch = Batch.create(organization=org, dataset=Dataset.create(organization=org, name="D"), name="B")
    target = tmp_path / "missing" / "out.jsonl"
    result = run(app, "export", "--batch", str(batch.id), "-o", str(target))
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert f"{target}: cannot be written" in result.output


@pytest.mark.parametrize("email", ["notanemail", "", "root@localhost", "x" * 250 + "@example.org"])
def test_user_create_refuses_an_email_the_login_form_would_refuse(app, email):
    result = run(app, "user", "create", "--email", email, "--password", "long enough password")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "That email is refused" in result.output and User.select().count() == 0
