"""The Redis side of pointer-event ingest: append a checked batch to the stream, once.

One Lua script does everything a request needs from Redis in one round trip:
refuse when the stream is at its bound (back-pressure instead of trimming, which
could drop unflushed batches), count the assignment's batches in a fixed window
(flood control), append, and say whether a flush job must be enqueued (a SET NX
guard, so at most one flush is pending however many batches arrive).

Stream entries hold what the flusher writes as is: assignment, page, seq, the
event count and the events as compact JSON; the entry id's milliseconds are the
time the batch was received.
"""
from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Mapping
from functools import cache

from flask import current_app
from redis import Redis
from redis.backoff import NoBackoff
from redis.connection import AbstractConnection
from redis.exceptions import ConnectionError, NoScriptError, TimeoutError
from redis.retry import Retry
from rq import Queue

STREAM = "ingest:events"
GROUP = "flushers"
FLUSH_GUARD = "ingest:flush-pending"
GUARD_TTL_S = 60  # if the enqueue after setting the guard fails, the guard lapses and cron flushes
RATE_WINDOW_S = 10

ACCEPTED, FLUSH_NEEDED, FULL, FLOOD = 0, 1, -1, -2

APPEND_LUA = """
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then return -1 end
local used = redis.call('INCR', KEYS[2])
if used == 1 then redis.call('EXPIRE', KEYS[2], ARGV[3]) end
if used > tonumber(ARGV[2]) then return -2 end
redis.call('XADD', KEYS[1], '*', 'a', ARGV[5], 'p', ARGV[6], 's', ARGV[7], 'n', ARGV[8], 'e', ARGV[9])
if redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[4]) then return 1 end
return 0
"""


@cache
def _client(url: str) -> Redis:
    # Short timeouts and one immediate retry (for a pooled connection that died
    # with a Redis restart): when Redis is away the request answers 503 at once,
    # so that the browser keeps the batch and retries it.
    return Redis.from_url(url, socket_timeout=2, socket_connect_timeout=1, retry=Retry(NoBackoff(), 1))


def client() -> Redis:
    return _client(current_app.config["REDIS_URL"])


APPEND_SHA = hashlib.sha1(APPEND_LUA.encode()).hexdigest()


class _Appender(threading.local):
    """This thread's own connection for the hot path.

    redis-py's client costs ~110 us of CPU per command here (connection pool,
    retry wrapper, observability hooks), its Connection ~35 us and the Redis work
    itself a few: at ~1,000 batches a second that is the gap between the ingest
    endpoint and the bare one (docs/performance.md). So the endpoint keeps one
    Connection per thread and speaks to it directly; everything else uses the client.
    """

    connection: AbstractConnection | None = None
    key: tuple = ()

    def call(self, url: str, *args) -> int:
        try:
            return self._evalsha(url, args)
        except (ConnectionError, TimeoutError, OSError):
            self.close()  # a connection that died with a Redis restart: one fresh try
            return self._evalsha(url, args)

    def _evalsha(self, url: str, args: tuple) -> int:
        if self.connection is None or self.key != (url, os.getpid()):  # a forked worker, another app
            self.close()
            pool = _client(url).connection_pool  # its class and settings: TCP, TLS or a unix socket
            self.connection = pool.connection_class(**pool.connection_kwargs)
            self.key = (url, os.getpid())
        try:
            return self._send("EVALSHA", APPEND_SHA, 3, *args)
        except NoScriptError:  # a restarted Redis has an empty script cache
            self._send("SCRIPT", "LOAD", APPEND_LUA)
            return self._send("EVALSHA", APPEND_SHA, 3, *args)

    def _send(self, *command) -> int:
        try:
            self.connection.send_command(*command, check_health=False)
            return self.connection.read_response()
        except (ConnectionError, TimeoutError, OSError):
            self.close()
            raise

    def close(self) -> None:
        if self.connection is not None:
            self.connection.disconnect()
        self.connection = None


_appender = _Appender()


def append(config: Mapping, assignment_id: int, page: int, seq: int, n_events: int, events_json: bytes) -> int:
    """ACCEPTED or FLUSH_NEEDED when stored, FULL or FLOOD when refused; raises RedisError when Redis is away."""
    window = int(time.time()) // RATE_WINDOW_S
    return _appender.call(
        config["REDIS_URL"],
        STREAM, f"ingest:rate:{assignment_id}:{window}", FLUSH_GUARD,
        config["INGEST_STREAM_MAX"], config["INGEST_RATE_LIMIT"], RATE_WINDOW_S * 2, GUARD_TTL_S,
        assignment_id, page, seq, n_events, events_json,
    )


def request_flush() -> None:
    """Enqueue a flush job unless one is already pending (the guard is cleared when a flush starts)."""
    if client().set(FLUSH_GUARD, 1, nx=True, ex=GUARD_TTL_S):
        enqueue_flush(current_app.config["REDIS_URL"])


def enqueue_flush(redis_url: str) -> None:
    Queue("ingest", connection=_client(redis_url)).enqueue(
        "tasks.ingest.flush", job_timeout=300, result_ttl=60, failure_ttl=7 * 24 * 3600)
