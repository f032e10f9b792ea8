"""Redis connections and RQ queues, one pool per process."""

from __future__ import annotations

from functools import cache

from flask import current_app
from redis import Redis
from rq import Queue


@cache
def _redis_for(url: str) -> Redis:
    # Bytes, not decoded strings: RQ stores pickled payloads.
    return Redis.from_url(url, socket_timeout=30, health_check_interval=30)


def redis_connection() -> Redis:
    return _redis_for(current_app.config["REDIS_URL"])


def queue(name: str = "default") -> Queue:
    return Queue(name, connection=redis_connection())
