import re

from support import tampered

from freelunch.services.accounts.identity import (
    anonymous_worker_id,
    assignment_from_token,
    assignment_token,
    completion_code,
)


def test_worker_ids_are_keyed_per_tenant(app):
    with app.app_context():
        first = anonymous_worker_id(1, "A1B2C3D4E5")
        assert re.fullmatch(r"[0-9A-F]{10}", first)
        assert first == anonymous_worker_id(1, "A1B2C3D4E5")
        assert first != anonymous_worker_id(2, "A1B2C3D4E5")
        assert "A1B2C3D4E5" not in first


def test_assignment_tokens_refuse_tampering(app):
    with app.app_context():
        token = assignment_token(42)
        assert assignment_from_token(token) == 42
        assert assignment_from_token(tampered(token)) is None
        assert assignment_from_token("") is None and assignment_from_token(None) is None
    app.config["SECRET_KEY"] = "another-deployment"
    with app.app_context():
        assert assignment_from_token(token) is None


def test_completion_code_shape_and_dependence(app):
    with app.app_context():
        code = completion_code("abc123", "47DBDD543E", 7)
        assert re.fullmatch(r"[0-9A-F]{6}", code)
        assert code != completion_code("abc123", "47DBDD543E", 8)
