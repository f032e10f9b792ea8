"""`make screenshots`: the docs' screenshots of the requester's pages, taken from the real app, so they stay true.

Builds the demo (services/demo.py) on a throwaway SQLite database, lets a worker do two
pages of its first HIT in Chromium (real clicks, real Submit), adds a dataset with the
1,000 ImageNet classes (the shipped preset), and photographs, at 1280x800:

    docs/screenshots/overview.png   the organization's overview (/)
    docs/screenshots/batch-tabs.png the demo batch's Overview tab, with its live status line
    docs/screenshots/batch-hits.png the same batch's HITs tab
    docs/screenshots/builder.png    the builder on the 1,000-class dataset, filtered to "shark", the matches ticked

Redis: REDIS_URL when set, else a private redis-server (as `make run`). Needs /usr/bin/chromium.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}
FISH = ("n01440764", "n01443537", "n01484850", "n01491361", "n01494475")  # tench, goldfish, three sharks


def serve(app) -> tuple[str, callable]:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server.shutdown


def main() -> None:
    instance = Path(tempfile.mkdtemp(prefix="freelunch-screens-"))
    os.environ.update(
        FREELUNCH_INSTANCE=str(instance),
        SECRET_KEY="screens",
        FREELUNCH_ENV="testing",
        DATABASE_URL=f"sqlite:///{instance / 'screens.db'}",
        MEDIA_ROOT=str(instance / "media"),
    )
    from workers.dev import redis_command

    start_redis, redis_url = redis_command()
    redis = subprocess.Popen(shlex.split(start_redis), stdout=subprocess.DEVNULL) if start_redis else None
    os.environ["REDIS_URL"] = redis_url
    try:
        shoot(instance)
    finally:
        if redis:
            redis.terminate()
            redis.wait(timeout=10)


def shoot(instance: Path) -> None:
    from playwright.sync_api import sync_playwright

    from freelunch import create_app
    from freelunch.db import database
    from freelunch.models import Candidate, Dataset, Image, ImageClass, Organization
    from freelunch.presets import IMAGENET_1K
    from freelunch.services import demo
    from freelunch.services.imports.classes import import_classes_json
    from freelunch.services.ingest.flush import flush
    from freelunch.services.schema import upgrade

    app = create_app({"PUBLIC_URL": "http://127.0.0.1"})
    base, stop = serve(app)
    app.config["PUBLIC_URL"] = base
    with app.app_context():
        upgrade(database)
        summary = demo.ensure_demo()
        organization = Organization.get(Organization.name == demo.ORGANIZATION)
        imagenet = Dataset.create(organization=organization, name="ImageNet-1k")
        import_classes_json(imagenet, IMAGENET_1K.classes(), IMAGENET_1K.wikipedia())
        # Candidates (listed by URL, never fetched here) for the fish, so the builder has something to price.
        for n, image_class in enumerate(
            ImageClass.select().where(ImageClass.dataset == imagenet, ImageClass.key.in_(FISH))
        ):
            for k in range(60 + 25 * n):
                role = "positive" if k < 4 else "negative" if k < 8 else "candidate"
                image = Image.create(
                    organization=organization,
                    dataset=imagenet,
                    key=f"{image_class.key}/{k}",
                    url=f"https://images.example.org/{image_class.key}/{k}.jpg",
                    width=500,
                    height=375,
                )
                Candidate.create(organization=organization, image=image, image_class=image_class, role=role)
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        worker = browser.new_context(viewport={"width": 1400, "height": 1500}).new_page()
        worker.goto(summary["worker_links"][0])
        for _ in range(2):  # two pages of the first HIT: a few images each, then Submit
            worker.wait_for_selector("form#task img[data-image-id]")
            for i in (0, 4, 7):
                worker.locator(f'img[data-i="{i}"]').click()
            pageno = worker.get_attribute("form#task", "data-pageno")
            worker.click("[data-submit]")
            worker.wait_for_selector(f'form#task:not([data-pageno="{pageno}"])')
        worker.context.close()
        with app.app_context():
            flush("screenshots", 0, linger=False)  # the worker's pointer batches, as the ingest worker stores them

        page = browser.new_context(viewport=VIEWPORT).new_page()
        page.goto(f"{base}/login")
        page.fill("input[name=email]", summary["login"]["email"])
        page.fill("input[name=password]", summary["login"]["password"])
        page.click("button[type=submit]")
        page.wait_for_selector("#overview")
        page.screenshot(path=str(OUT / "overview.png"), full_page=True)
        page.goto(f"{base}/batches/{summary['batch_id']}")
        page.wait_for_selector("#batch-progress")
        page.screenshot(path=str(OUT / "batch-tabs.png"), full_page=True)
        page.click(".tabs a:has-text('HITs')")
        page.wait_for_selector("#batch-hits table")
        page.screenshot(path=str(OUT / "batch-hits.png"))
        page.goto(f"{base}/batches/new?dataset_id={imagenet.id}")
        page.fill("input[name=name]", "Sharks, first round")
        page.fill("[data-class-search]", "shark")
        page.click("[data-select-matching]")
        page.fill("input[name=reward]", "0.40")
        page.screenshot(path=str(OUT / "builder.png"), full_page=True)
        browser.close()
    stop()
    for name in sorted(p.name for p in OUT.glob("*.png")):
        print(f"docs/screenshots/{name}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
