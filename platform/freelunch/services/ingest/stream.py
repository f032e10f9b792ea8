"""The Redis side of pointer-event ingest: append a checked batch to its shard's stream, once.

Batches go to ``INGEST_SHARDS`` streams, the shard chosen by assignment so that
a page's batches stay in order in one stream. Every key of a shard carries the
shard's number as a hash tag (``ingest:{3}:events``), so that on a Redis Cluster
(``INGEST_REDIS_CLUSTER``) each shard lives in one hash slot: the script below
touches one slot per call, and the cluster spreads the shards over its masters.
The ingest Redis (``INGEST_REDIS_URL``) may be a cluster; RQ's (``REDIS_URL``)
never is, since RQ does not support Redis Cluster.

One Lua script does everything a batch needs from Redis, for several batches
of concurrent requests in one round trip (of any shards on a single Redis, of
one shard on a cluster): refuse a batch of a page submitted
more than a grace ago (services/ingest/closing.py), refuse when the
stream is at its bound (back-pressure instead of trimming, which could drop
unflushed batches), count the assignment's batches in a fixed window (flood
control), count the bytes of the page-assignment and of its HIT against their
bounds (services/ingest/budget.py), append, and say whether a flush job must be enqueued (a SET NX guard
per shard, so at most one flush per shard is pending however many batches arrive).

Stream entries hold what the flusher writes as is: assignment, page, tab, seq,
the event count and the events as compact JSON; the entry id's milliseconds are the
time the batch was received.
"""

from __future__ import annotations

import hashlib
import os
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache

import hiredis
from flask import current_app
from redis import Redis, RedisCluster
from redis.backoff import NoBackoff
from redis.connection import AbstractConnection
from redis.exceptions import ConnectionError, NoScriptError, ResponseError, TimeoutError
from redis.retry import Retry

from .. import jobs
from . import budget

GROUP = "flushers"
GUARD_TTL_S = 60  # if the enqueue after setting the guard fails, the guard lapses and cron flushes
RATE_WINDOW_S = 10
GRACE_MS = 10_000  # batches for a submitted page are still taken this long (services/ingest/closing.py)
SOCKET_TIMEOUT_S = 2


def stream_key(shard: int) -> str:
    return f"ingest:{{{shard}}}:events"


def guard_key(shard: int) -> str:
    return f"ingest:{{{shard}}}:flush-pending"


def stats_key(shard: int, minute: int) -> str:
    return f"ingest:{{{shard}}}:stats:{minute}"


def rate_key(shard: int, assignment_id: int, window: int) -> str:
    return f"ingest:{{{shard}}}:rate:{assignment_id}:{window}"


def page_bytes_key(shard: int, assignment_id: int, page: int) -> str:
    return f"ingest:{{{shard}}}:bytes:{assignment_id}:{page}"


def hit_bytes_key(shard: int, hit: str) -> str:
    """A HIT's bytes on one shard (its assignments may spread over shards: with N shards a HIT may store N times
    its bound at most, one per shard)."""
    return f"ingest:{{{shard}}}:hit-bytes:{hit}"


def closed_key(shard: int, assignment_id: int, page: int) -> str:
    """When the page was submitted (epoch ms): its stream closes GRACE_MS later (services/ingest/closing.py)."""
    return f"ingest:{{{shard}}}:closed:{assignment_id}:{page}"


def shard_of(assignment_id: int, shards: int) -> int:
    """The shard an assignment's batches go to: all of a page's batches in one stream, in order."""
    return assignment_id % shards


ACCEPTED, FLUSH_NEEDED, FULL, FLOOD, CLOSED, PAGE_FULL, HIT_FULL = 0, 1, -1, -2, -3, -4, -5
KEYS_PER_BATCH, VALUES_PER_BATCH = 6, 9

# KEYS: six per batch, all of the batch's shard (so, on a cluster, where a call carries
# one shard's batches, one hash slot per call): its stream, its flush guard, the
# assignment's rate key, its page's closed key (services/ingest/closing.py), and the
# byte counts of its page-assignment and of its HIT (services/ingest/budget.py).
# ARGV: the five limits, then nine values per batch: the six of the entry, the page's
# and the HIT's byte bounds, and when the counts may go (the token's expiry). One entry
# per batch (one entry per round trip was tried: no gain, docs/performance.md). Returns
# one outcome per batch; FLUSH_NEEDED for the first batch of a shard whose guard it set.
# Each redis.call costs Redis about a microsecond, a fifth of a batch's checks: the byte
# counts are raised first and taken back on the rare refusal (no GET before each INCRBY),
# and a stream's length is read once per call.
APPEND_LUA = """
local bound, limit, grace = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[5])
local time = redis.call('TIME')
local now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local outcomes, guard_tried, lengths = {}, {}, {}
for b = 1, #KEYS / 6 do
  local k, v = (b - 1) * 6, 5 + (b - 1) * 9
  local stream, page_key, hit_key = KEYS[k + 1], KEYS[k + 5], KEYS[k + 6]
  local outcome = 0
  local closed_at = redis.call('GET', KEYS[k + 4])
  if closed_at and now_ms > tonumber(closed_at) + grace then
    outcome = -3
  else
    local length = lengths[stream] or redis.call('XLEN', stream)
    if length >= bound then
      outcome = -1
    else
      local used = redis.call('INCR', KEYS[k + 3])
      if used == 1 then redis.call('EXPIRE', KEYS[k + 3], ARGV[3]) end
      local size = string.len(ARGV[v + 6])
      if used > limit then
        outcome = -2
      else
        local page_used = redis.call('INCRBY', page_key, size)
        local hit_used = 0
        if page_used > tonumber(ARGV[v + 7]) then
          outcome = -4
        else
          hit_used = redis.call('INCRBY', hit_key, size)
          if hit_used > tonumber(ARGV[v + 8]) then outcome = -5 end
        end
        if outcome ~= 0 then
          if redis.call('DECRBY', page_key, size) == 0 then redis.call('DEL', page_key) end
          if outcome == -5 and redis.call('DECRBY', hit_key, size) == 0 then redis.call('DEL', hit_key) end
        else
          if page_used == size then redis.call('EXPIREAT', page_key, ARGV[v + 9]) end
          if hit_used == size then redis.call('EXPIREAT', hit_key, ARGV[v + 9]) end
          redis.call('XADD', stream, '*', 'a', ARGV[v + 1], 'p', ARGV[v + 2], 't', ARGV[v + 3], 's', ARGV[v + 4],
                     'n', ARGV[v + 5], 'e', ARGV[v + 6])
          length = length + 1
          if not guard_tried[KEYS[k + 2]] then
            guard_tried[KEYS[k + 2]] = true
            if redis.call('SET', KEYS[k + 2], '1', 'NX', 'EX', ARGV[4]) then outcome = 1 end
          end
        end
      end
    end
    lengths[stream] = length
  end
  outcomes[b] = outcome
end
return outcomes
"""
APPEND_SHA = hashlib.sha1(APPEND_LUA.encode()).hexdigest()


@cache
def _client(url: str) -> Redis:
    # Short timeouts and one immediate retry (for a pooled connection that died
    # with a Redis restart): when Redis is away the request answers 503 at once,
    # so that the browser keeps the batch and retries it.
    return Redis.from_url(url, socket_timeout=SOCKET_TIMEOUT_S, socket_connect_timeout=1, retry=Retry(NoBackoff(), 1))


@cache
def _cluster_client(url: str) -> RedisCluster:
    # redis-py follows the cluster's slot map, MOVED/ASK redirections and failovers;
    # the same short socket timeouts, so a master that is away answers 503 quickly.
    return RedisCluster.from_url(url, socket_timeout=SOCKET_TIMEOUT_S, socket_connect_timeout=1)


def ingest_url(config: Mapping) -> str:
    return config.get("INGEST_REDIS_URL") or config["REDIS_URL"]


def ingest_client(config: Mapping) -> Redis | RedisCluster:
    """The client of the ingest Redis (the streams), a RedisCluster when INGEST_REDIS_CLUSTER is on."""
    url = ingest_url(config)
    return _cluster_client(url) if config["INGEST_REDIS_CLUSTER"] else _client(url)


def client() -> Redis | RedisCluster:
    return ingest_client(current_app.config)


class _Waiter:
    """One request's batch, waiting for the round trip that carries it."""

    __slots__ = ("keys", "values", "done", "outcome", "error", "leads", "wakes")

    def __init__(self, keys: tuple, values: tuple):
        self.keys, self.values = keys, values
        self.done = threading.Lock()
        self.done.acquire()  # released when the outcome is in, or when this waiter is to lead
        # Until a reply sets the outcome the batch is not stored: a leader that dies
        # half-way must make its followers answer 503, never 202.
        self.outcome: int | None = None
        self.error: Exception | None = None
        self.leads = False
        self.wakes: _Waiter | None = None  # the next follower of the same round trip, woken by this one


class _GroupAppender:
    """Appends of all a process's request threads to one Redis, several to a round trip (flat combining).

    A round trip costs the web process ~60 us of CPU (send, receive, sleeping and
    waking) and Redis ~40 us of its event loop, whatever it carries. So one
    thread at a time talks to Redis (the leader), carrying its own batch and
    every batch that other threads queued while the previous round trip was
    out; those threads sleep until woken with their outcome, and the first of the
    next queue leads next. The leader wakes only the first follower, and each
    follower the next as it runs: woken all at once, they all wanted the GIL the
    leader held, slept on it again, and then handed it round at every system call
    of the responses (6.1-7.1 context switches a request at saturation against
    4.3-4.9 so, docs/performance.md). With one request in flight this is
    one round trip, as before; at saturation a trip carries 2-4 batches
    (docs/performance.md). No background thread: the request threads take turns.
    On a single Redis one appender carries every shard's batches; on a cluster
    there is one per shard, since a script may touch only one hash slot.
    """

    def __init__(self, limits: tuple, send: Callable[[tuple], list[int]]):
        self.limits, self._send = limits, send
        self._lock = threading.Lock()
        self._queue: list[_Waiter] = []
        self._busy = False

    def append(self, keys: tuple, values: tuple) -> int:
        waiter = _Waiter(keys, values)
        with self._lock:
            self._queue.append(waiter)
            leads, self._busy = not self._busy, True
        if not leads:
            waiter.done.acquire()
            if waiter.wakes is not None:
                waiter.wakes.done.release()
        if leads or waiter.leads:
            self._lead()
        if waiter.outcome is None:
            raise waiter.error or ConnectionError("The round trip carrying this batch did not complete.")
        return waiter.outcome

    def _lead(self) -> None:
        with self._lock:
            group, self._queue = self._queue, []  # the leader itself is first
        try:
            for waiter, outcome in zip(group, self._call(group), strict=True):
                waiter.outcome = outcome
        except Exception as error:
            for waiter in group:
                waiter.outcome, waiter.error = None, error
        finally:
            with self._lock:
                if self._queue:
                    self._queue[0].leads = True
                    self._queue[0].done.release()
                else:
                    self._busy = False
            followers = group[1:]
            for waiter, following in zip(followers, followers[1:]):
                waiter.wakes = following
            if followers:
                followers[0].done.release()

    def _call(self, group: list[_Waiter]) -> list[int]:
        keys = [key for waiter in group for key in waiter.keys]
        command = ("EVALSHA", APPEND_SHA, len(keys), *keys, *self.limits, *(v for w in group for v in w.values))
        try:
            return self._send(command)
        except (ConnectionError, TimeoutError, OSError):
            return self._send(command)  # a connection that died with a Redis restart: one fresh try


class _BareConnection:
    """Sends to a single Redis over the socket of one redis-py Connection per process.

    The Connection opens it as the URL says (TCP, TLS or a unix socket, AUTH, SELECT);
    each round trip is then one ``sendall`` of hiredis's packing and ``recv`` into
    hiredis's reader. redis-py's client costs ~110 us of CPU a command here (pool
    checkout, retry wrapper, observability hooks), its Connection ~35 us, most of it
    packing each argument in Python and the socket timeout: a socket with a Python
    timeout polls before every send and recv, so its timeout is the kernel's here
    (SO_RCVTIMEO and SO_SNDTIMEO), on a blocking socket.
    """

    def __init__(self, url: str):
        self.url = url
        self._connection: AbstractConnection | None = None
        self._socket: socket.socket | None = None
        self._reader = hiredis.Reader(replyError=ResponseError)
        self._buffer = bytearray(65536)
        self._pid = 0

    def __call__(self, command: tuple) -> list[int]:
        if self._socket is None or self._pid != os.getpid():  # a forked worker has its own
            self._connect()
        try:
            try:
                return self._round_trip(command)
            except NoScriptError:  # a restarted Redis has an empty script cache
                self._round_trip(("SCRIPT", "LOAD", APPEND_LUA))
                return self._round_trip(command)
        except (ConnectionError, TimeoutError, OSError):
            if self._connection is not None:
                self._connection.disconnect()
            self._connection = self._socket = None
            raise

    def _connect(self) -> None:
        pool = _client(self.url).connection_pool
        connection = pool.connection_class(**pool.connection_kwargs)
        connection.connect()
        sock = connection._sock
        assert sock is not None  # connect() raises when it cannot
        sock.settimeout(None)
        timeout = struct.pack("ll", SOCKET_TIMEOUT_S, 0)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeout)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeout)
        self._connection, self._socket, self._pid = connection, sock, os.getpid()
        self._reader = hiredis.Reader(replyError=ResponseError)  # nothing half-read from a dead connection

    def _round_trip(self, command: tuple):
        sock, reader = self._socket, self._reader
        assert sock is not None  # __call__ connects first
        sock.sendall(hiredis.pack_command(command))
        reply = reader.gets()
        while reply is False:
            received = sock.recv_into(self._buffer)  # not recv(65536): a 64 KB bytes object a round trip
            if not received:
                raise ConnectionError("Redis closed the connection.")
            reader.feed(self._buffer, 0, received)  # type: ignore[arg-type]  # any buffer; the stub says bytes
            reply = reader.gets()
        if isinstance(reply, ResponseError):
            raise NoScriptError(str(reply)) if str(reply).startswith("NOSCRIPT") else reply
        return reply


class _ClusterCommand:
    """Sends through redis-py's RedisCluster, which routes by the keys' hash slot and follows failovers."""

    def __init__(self, url: str):
        self.cluster = _cluster_client(url)

    def __call__(self, command: tuple) -> list[int]:
        try:
            return self.cluster.execute_command(*command)
        except NoScriptError:  # a new or promoted master has an empty script cache
            self.cluster.script_load(APPEND_LUA)  # on every master
            return self.cluster.execute_command(*command)


_appenders: dict[tuple, _GroupAppender] = {}
_appenders_lock = threading.Lock()


def _appender(config: Mapping, shard: int, limits: tuple) -> _GroupAppender:
    cluster = config["INGEST_REDIS_CLUSTER"]
    key = (ingest_url(config), cluster, shard if cluster else None, limits)
    appender = _appenders.get(key)
    if appender is None:
        with _appenders_lock:
            if key not in _appenders:
                # Its own connection (one leader at a time uses it); a cluster client is thread-safe and shared.
                url = ingest_url(config)
                send = _ClusterCommand(url) if config["INGEST_REDIS_CLUSTER"] else _BareConnection(url)
                _appenders[key] = _GroupAppender(limits, send)
            appender = _appenders[key]
    return appender


@dataclass(frozen=True)
class Bounds:
    """What the batch's page-assignment and HIT may store (services/ingest/budget.py), from its token."""

    hit: str  # the HIT's id, or "a<assignment>" for a token that names none
    page_bytes: int
    hit_bytes: int
    until: int  # epoch seconds: the counts are kept as long as the token works

    @classmethod
    def of(cls, assignment_id: int, pages: int, expires_at: int, hit_id=0, page_bytes=0, hit_bytes=0) -> Bounds:
        page = page_bytes or budget.page_bytes(budget.DEFAULT_IMAGES)
        total = hit_bytes or budget.hit_bytes(budget.DEFAULT_IMAGES, min(pages, 100), budget.DEFAULT_ASSIGNMENTS)
        return cls(str(hit_id) if hit_id else f"a{assignment_id}", page, total, expires_at + 3600)


def append(
    config: Mapping,
    assignment_id: int,
    page: int,
    tab: int,
    seq: int,
    n_events: int,
    events_json: bytes,
    bounds: Bounds | None = None,
) -> int:
    """ACCEPTED or FLUSH_NEEDED when stored; FULL, FLOOD, CLOSED, PAGE_FULL or HIT_FULL when refused; RedisError
    when Redis is away. ``bounds``: a token's (the defaults of a day's token when None)."""
    bounds = bounds or Bounds.of(assignment_id, budget.DEFAULT_PAGES, int(time.time()) + 86400)
    window = int(time.time()) // RATE_WINDOW_S
    limits = (config["INGEST_STREAM_MAX"], config["INGEST_RATE_LIMIT"], RATE_WINDOW_S * 2, GUARD_TTL_S, GRACE_MS)
    shard = shard_of(assignment_id, config["INGEST_SHARDS"])
    keys = (
        stream_key(shard),
        guard_key(shard),
        rate_key(shard, assignment_id, window),
        closed_key(shard, assignment_id, page),
        page_bytes_key(shard, assignment_id, page),
        hit_bytes_key(shard, bounds.hit),
    )
    values = (assignment_id, page, tab, seq, n_events, events_json, bounds.page_bytes, bounds.hit_bytes, bounds.until)
    return _appender(config, shard, limits).append(keys, values)


def request_flush(shard: int) -> None:
    """Enqueue a shard's flush job unless one is already pending (the guard is cleared when a flush starts)."""
    if client().set(guard_key(shard), 1, nx=True, ex=GUARD_TTL_S):
        enqueue_flush(current_app.config["REDIS_URL"], shard)


def flush_job_prefix(shard: int) -> str:
    """Flush jobs' ids say their shard, so that a flusher sees whether other shards wait (services/ingest/flush.py)."""
    return f"flush-{shard}-"


def enqueue_flush(redis_url: str, shard: int) -> None:
    """A flush job for one shard, on RQ's own Redis (never the cluster)."""
    jobs.enqueue_unwatched(
        jobs.INGEST_FLUSH, shard, connection=_client(redis_url), job_id=flush_job_prefix(shard) + uuid.uuid4().hex
    )
