"""Helpers for tests, imported as ``from support import ...``.

(Not in conftest.py: tests/browser has a conftest of its own, and two modules
named ``conftest`` cannot both be imported by name.)
"""
from __future__ import annotations

import re
from pathlib import Path

# ../shared beside the repository: the ImageNetV2 data and the reference material.
SHARED = Path(__file__).resolve().parents[2] / "shared"


def csrf_token(client) -> str:
    """The CSRF token of the client's session, as a page would embed it."""
    html = client.get("/login", follow_redirects=True).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def login(client, email: str, password: str = "password123"):
    token = csrf_token(client)
    response = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response
