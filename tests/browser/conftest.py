"""Real-browser fixtures: Debian's Chromium driven by Playwright, and the app served on a free port.

Skipped when /usr/bin/chromium is missing, unless FREELUNCH_REQUIRE_BROWSER=1 (CI), then failed.
"""

from __future__ import annotations

import os
import threading

import pytest
from werkzeug.serving import make_server
from worker import free_port

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def playwright():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("FREELUNCH_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and FREELUNCH_REQUIRE_BROWSER=1")
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as running:
        yield running  # .devices: Playwright's device descriptors (a phone's viewport, touch, user agent)


@pytest.fixture(scope="session")
def browser(playwright):
    # launch() gives every run a fresh temporary profile.
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
    yield chromium
    chromium.close()


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def app_config(app_config, port):
    """The shared test config, served on 127.0.0.1:<port> (no SERVER_NAME, which would refuse that host)."""
    return {**app_config, "SERVER_NAME": None, "PUBLIC_URL": f"http://127.0.0.1:{port}"}


@pytest.fixture
def live_server(app, port):
    """The app in a thread, like `flask run --with-threads`; yields its base URL."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join()


@pytest.fixture
def page(browser):
    """A fresh context (own storage) at 1400 px wide, tall enough to show a 6-image grid without scrolling."""
    context = browser.new_context(viewport={"width": 1400, "height": 1500})
    tab = context.new_page()
    tab.on("dialog", lambda dialog: dialog.accept())  # beforeunload when a test navigates away mid-HIT
    yield tab
    context.close()
