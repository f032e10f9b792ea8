import pytest

from freelunch import config
from freelunch.db import database


def test_development_generates_and_keeps_a_secret(tmp_path):
    first = config.load({}, tmp_path)
    assert len(first["SECRET_KEY"]) == 64
    assert config.load({}, tmp_path)["SECRET_KEY"] == first["SECRET_KEY"]
    assert first["DATABASE_URL"] == f"sqlite:///{tmp_path / 'freelunch.db'}"


def test_production_requires_a_secret(tmp_path):
    with pytest.raises(config.ConfigError, match="SECRET_KEY must be set"):
        config.load({"FREELUNCH_ENV": "production"}, tmp_path)
    settings = config.load({"FREELUNCH_ENV": "production", "SECRET_KEY": "s" * 40, "OPEN_SIGNUP": "false"}, tmp_path)
    assert settings["SESSION_COOKIE_SECURE"] is True and settings["OPEN_SIGNUP"] is False


def test_unknown_mode_is_refused(tmp_path):
    with pytest.raises(config.ConfigError, match="FREELUNCH_ENV"):
        config.load({"FREELUNCH_ENV": "staging"}, tmp_path)


def test_ingest_shards_and_their_redis(tmp_path):
    default = config.load({}, tmp_path)
    assert (default["INGEST_SHARDS"], default["INGEST_REDIS_URL"], default["INGEST_REDIS_CLUSTER"]) == (1, None, False)
    cluster = config.load(
        {"INGEST_SHARDS": "12", "INGEST_REDIS_URL": "redis://10.0.0.5:7000", "INGEST_REDIS_CLUSTER": "yes"}, tmp_path
    )
    assert (cluster["INGEST_SHARDS"], cluster["INGEST_REDIS_URL"], cluster["INGEST_REDIS_CLUSTER"]) == (
        12,
        "redis://10.0.0.5:7000",
        True,
    )
    for wrong in ("0", "many", "-3"):
        with pytest.raises(config.ConfigError, match="INGEST_SHARDS must be a whole number"):
            config.load({"INGEST_SHARDS": wrong}, tmp_path)


@pytest.mark.sqlite_only
def test_sqlite_runs_in_wal_mode(app):
    with database.connection_context():
        assert database.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert database.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1


def test_passwords_are_hashed_with_scrypt_unless_told_otherwise(tmp_path):
    assert config.load({}, tmp_path)["PASSWORD_HASH_METHOD"] == "scrypt"
    chosen = config.load({"PASSWORD_HASH_METHOD": "pbkdf2:sha256:600000"}, tmp_path)
    assert chosen["PASSWORD_HASH_METHOD"] == "pbkdf2:sha256:600000"
    with pytest.raises(config.ConfigError, match="PASSWORD_HASH_METHOD must be"):
        config.load({"PASSWORD_HASH_METHOD": "md5"}, tmp_path)
