"""Helpers for the MTurk tests: a Stubber-wrapped client, and a scripted HTTP endpoint for over-the-wire behaviour.

Stubber answers before botocore's retry handler runs, so retries and
credential failures are tested against ``ScriptedEndpoint``: a loopback HTTP
server that answers MTurk's JSON 1.1 protocol with the responses a test queues.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
from botocore.config import Config
from botocore.stub import Stubber


def stubbed_client():
    """(client, stubber) with fixed keys and no retries, for checking request shapes against the model."""
    client = boto3.client(
        "mturk",
        region_name="us-east-1",
        aws_access_key_id="AKIATEST",
        aws_secret_access_key="secret",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )
    return client, Stubber(client)


def client_error(code: str, message: str, turk_code: str | None = None, status: int = 400) -> dict:
    """What Stubber.add_client_error needs for an MTurk refusal with an optional TurkErrorCode."""
    error = {"service_error_code": code, "service_message": message, "http_status_code": status}
    if turk_code:
        error["modeled_fields"] = {"Message": message, "TurkErrorCode": turk_code}
    return error


class ScriptedEndpoint:
    """A loopback MTurk endpoint answering queued (status, body) pairs in order; records each request's operation."""

    def __init__(self):
        self.responses: list[tuple[int, dict]] = []
        self.requests: list[tuple[str, dict]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
                outer.requests.append((self.headers["X-Amz-Target"].split(".")[-1], body))
                status, answer = outer.responses.pop(0) if outer.responses else (500, {"__type": "ServiceFault"})
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, body: dict, status: int = 200) -> ScriptedEndpoint:
        self.responses.append((status, body))
        return self

    def refuse(
        self, error_type: str, message: str, turk_code: str | None = None, status: int = 400
    ) -> ScriptedEndpoint:
        body = {"__type": error_type, "Message": message}
        if turk_code:
            body["TurkErrorCode"] = turk_code
        return self.answer(body, status)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def no_ambient_credentials(monkeypatch, tmp_path) -> None:
    """Hide every credential source boto3's chain would find on this machine (and skip the slow metadata lookup)."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
