"""Settings, read from the environment once when the app is built.

Every variable is listed in docs/configuration.md; keep the two in step.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message says which and how to fix it."""


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _development_secret(instance: Path) -> str:
    """A random key kept under instance/, so sessions survive restarts in development."""
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _shards(value: str) -> int:
    try:
        shards = int(value)
    except ValueError:
        shards = 0
    if not 1 <= shards <= 1024:
        raise ConfigError(f"INGEST_SHARDS must be a whole number from 1 to 1024, not {value!r}")
    return shards


def _amount(env, name: str, default: str) -> str:
    """A positive amount (dollars, or a multiple) as a string, so Decimal reads it exactly."""
    value = (env.get(name) or default).strip()
    try:
        ok = float(value) > 0 and value.replace(".", "", 1).isdecimal() and value.isascii()
    except ValueError:
        ok = False
    if not ok:
        raise ConfigError(f"{name} must be a positive number such as {default}, not {value!r}")
    return value


def _password_hash_method(value: str) -> str:
    """Checked here, so a mistyped method stops the start rather than every sign-up."""
    if not re.fullmatch(r"scrypt(:\d+){0,3}|pbkdf2(:sha\d+)?(:\d+)?", value):
        raise ConfigError(f"PASSWORD_HASH_METHOD must be scrypt[:n:r:p] or pbkdf2[:sha256[:iterations]], not {value!r}")
    return value


def _place_idle_minutes(value: str) -> int:
    try:
        minutes = int(value)
    except ValueError:
        minutes = 0
    if minutes < 1:
        raise ConfigError(f"PLACE_IDLE_MINUTES must be a whole number of minutes, at least 1, not {value!r}")
    return minutes


def limits_storage(redis_url: str) -> str:
    """The Redis URL in the form the limits package reads (it spells a Unix socket redis+unix://)."""
    return "redis+unix://" + redis_url.removeprefix("unix://") if redis_url.startswith("unix://") else redis_url


def load(env: os._Environ | dict | None = None, instance: Path | None = None) -> dict:
    """Build the Flask config mapping from environment variables."""
    env = os.environ if env is None else env
    instance = Path(env.get("FREELUNCH_INSTANCE", instance or ROOT / "instance"))
    mode = env.get("FREELUNCH_ENV", "development")
    if mode not in {"development", "production", "testing"}:
        raise ConfigError(f"FREELUNCH_ENV must be development, production or testing, not {mode!r}")

    secret = env.get("SECRET_KEY")
    if not secret:
        if mode == "production":
            raise ConfigError("SECRET_KEY must be set when FREELUNCH_ENV=production")
        secret = _development_secret(instance)

    return {
        "ENV_MODE": mode,
        "TESTING": mode == "testing",
        "SECRET_KEY": secret,
        # A separate key lets operators rotate session keys without changing
        # every anonymised worker id; it falls back to SECRET_KEY.
        "WORKER_ID_KEY": env.get("WORKER_ID_KEY") or secret,
        "INSTANCE_PATH": str(instance),
        "DATABASE_URL": env.get("DATABASE_URL") or f"sqlite:///{instance / 'freelunch.db'}",
        "REDIS_URL": env.get("REDIS_URL") or DEFAULT_REDIS_URL,
        # Login, sign-up, invite and password attempts (auth/limits.py), counted in REDIS_URL's Redis.
        "RATELIMIT_KEY_PREFIX": "freelunch:limits",
        "RATELIMIT_HEADERS_ENABLED": True,  # Retry-After on a 429
        "RATELIMIT_SWALLOW_ERRORS": True,  # Redis down: logins still work, unlimited, rather than all failing
        "RATELIMIT_ENABLED": _flag(env.get("RATELIMIT_ENABLED"), True),
        # A session ends after this long without a request: the signed cookie's age is checked on every request.
        "PERMANENT_SESSION_LIFETIME": dt.timedelta(minutes=int(env.get("SESSION_IDLE_MINUTES", 120))),
        "PUBLIC_URL": env.get("PUBLIC_URL", "http://127.0.0.1:5000").rstrip("/"),
        "OPEN_SIGNUP": _flag(env.get("OPEN_SIGNUP"), True),
        # Werkzeug's password hash (method:cost...); its default is scrypt at a cost meant to be slow. The tests
        # set a cheap one, since they sign up and log in hundreds of accounts.
        "PASSWORD_HASH_METHOD": _password_hash_method(env.get("PASSWORD_HASH_METHOD") or "scrypt"),
        "SESSION_COOKIE_SECURE": _flag(env.get("SESSION_COOKIE_SECURE"), mode == "production"),
        "SESSION_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        "MEDIA_ROOT": env.get("MEDIA_ROOT") or str(instance / "media"),
        "STORAGE_QUOTA_MB": int(env.get("STORAGE_QUOTA_MB", 20_000)),  # media per organization, unless it has its own
        # The quota given to an organization made by open sign-up (services/accounts/users.sign_up).
        "SIGNUP_STORAGE_QUOTA_MB": int(env.get("SIGNUP_STORAGE_QUOTA_MB", 1_000)),
        "S3_BUCKET": env.get("S3_BUCKET", ""),
        "S3_ENDPOINT_URL": env.get("S3_ENDPOINT_URL") or None,
        "AWS_REGION": env.get("AWS_REGION", "us-east-1"),
        "MTURK_SANDBOX": _flag(env.get("MTURK_SANDBOX"), True),
        "MTURK_ENDPOINT_URL": env.get("MTURK_ENDPOINT_URL") or None,
        # Optional: MTurk's events go to this SQS queue and make us reconcile their HITs sooner.
        "MTURK_SQS_QUEUE_URL": env.get("MTURK_SQS_QUEUE_URL") or None,
        "MTURK_SQS_ENDPOINT_URL": env.get("MTURK_SQS_ENDPOINT_URL") or None,
        # Money bounds (services/mturk/budget.py, bonuses.py): what an organization may spend on MTurk a UTC day
        # unless it has its own limit, and the largest bonus: a multiple of the reward, never above the cap.
        "MTURK_DAILY_LIMIT": _amount(env, "MTURK_DAILY_LIMIT", "100.00"),
        "MTURK_BONUS_MAX_MULTIPLE": _amount(env, "MTURK_BONUS_MAX_MULTIPLE", "20"),
        "MTURK_BONUS_MAX": _amount(env, "MTURK_BONUS_MAX", "25.00"),
        # Fair pay (services/mturk/fairpay.py): the hourly floor unless the organization sets its own, and the
        # seconds a page is assumed to take before the organization has measured any.
        "FAIR_PAY_FLOOR": _amount(env, "FAIR_PAY_FLOOR", "7.25"),
        "FAIR_PAY_SECONDS_PER_PAGE": _amount(env, "FAIR_PAY_SECONDS_PER_PAGE", "60"),
        # Fernet keys (newest first) for organizations' stored AWS secrets (services/mturk/credentials.py).
        "MTURK_CREDENTIALS_KEY": env.get("MTURK_CREDENTIALS_KEY", ""),
        # Pointer-event ingest (docs/ingest.md): the stream bound turns database lag into 503s.
        "INGEST_STREAM_MAX": int(env.get("INGEST_STREAM_MAX", 50_000)),
        "INGEST_RATE_LIMIT": int(env.get("INGEST_RATE_LIMIT", 60)),
        "INGEST_BULK": int(env.get("INGEST_BULK", 200)),
        "INGEST_CLAIM_IDLE_MS": int(env.get("INGEST_CLAIM_IDLE_MS", 60_000)),
        # The streams may live apart from RQ's Redis, on a Redis Cluster (RQ's never is);
        # unset, they share REDIS_URL.
        "INGEST_REDIS_URL": env.get("INGEST_REDIS_URL") or None,
        "INGEST_REDIS_CLUSTER": _flag(env.get("INGEST_REDIS_CLUSTER"), False),
        "INGEST_SHARDS": _shards(env.get("INGEST_SHARDS", "1")),
        # An unfinished assignment with no page and no pointer batch for this long frees its HIT place.
        "PLACE_IDLE_MINUTES": _place_idle_minutes(env.get("PLACE_IDLE_MINUTES", "10")),
        # Jobs one organization may have waiting or running per queue (services/jobs.py); more are refused.
        "JOBS_PENDING_PER_ORGANIZATION": int(env.get("JOBS_PENDING_PER_ORGANIZATION", 20)),
        # Requests logged: errors (4xx/5xx) and those slower than this; the rest stay out of the log.
        "REQUEST_LOG_SLOW_MS": int(env.get("REQUEST_LOG_SLOW_MS", 1000)),
    }
