"""Open-loop load for bench/ingest.py: N simulated annotators, each POSTing one batch a second.

Requests go out on a fixed schedule whatever the server does (no coordinated
omission): latency runs from the scheduled send time to the end of the answer.
Each annotator keeps its connection open between batches, as a browser does,
unless the server closes it (gunicorn's sync workers do, after every answer);
a batch due while the previous one is still in flight opens another connection.
The client is a bare selector loop over non-blocking sockets, because it shares
the two cores with the server: asyncio's streams cost it ~0.5 ms of CPU a
request, this ~0.1 ms plus the kernel's. Prints one JSON list: [annotator, seq,
status, latency ms, how late the client itself sent it ms].

    python bench/ingest_load.py PORT PATH TOKENS_FILE ANNOTATORS SECONDS PAGE SEQ_BASE
"""

from __future__ import annotations

import errno
import json
import selectors
import socket
import sys
import time

TIMEOUT_S = 15.0


def events_json(now_ms: int) -> bytes:
    moves = [
        f'{{"type":"move","i":{k % 48},"x":{(k * 0.0151) % 1!r},"y":{(k * 0.0234 + 0.1) % 1!r},'
        f'"time":{now_ms + k * 17}}}'
        for k in range(60)
    ]
    return ("[" + ",".join(moves) + "]").encode()


def run(port: int, path: str, tokens: list[str], annotators: int, seconds: int, page: int, seq_base: int) -> list:
    events = events_json(int(time.time() * 1000))
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: text/plain;charset=UTF-8\r\n".encode()
    selector = selectors.DefaultSelector()
    results: list = []
    start = time.perf_counter() + 0.2
    total = annotators * seconds
    tick = 0
    idle: dict[int, socket.socket] = {}  # annotator -> its open connection, between batches
    in_flight: dict = {}  # socket -> [who, seq, due, request bytes left, answer bytes, sent late by (s)]

    def finish(sock, status: int, keep: bool = False) -> None:
        who, seq, due, _, _, late = in_flight.pop(sock)
        results.append((who, seq, status, round((time.perf_counter() - due) * 1000, 3), round(late * 1000, 3)))
        if keep and who not in idle:
            selector.modify(sock, selectors.EVENT_READ)
            idle[who] = sock
        else:
            selector.unregister(sock)
            sock.close()

    def complete(answer: bytes) -> tuple[int, bool] | None:
        """(status, keep the connection) once the whole answer is in."""
        end = answer.find(b"\r\n\r\n")
        if end < 0:
            return None
        headers = answer[:end].lower()
        at = headers.find(b"content-length:")
        length = (
            int(headers[at + 15 : headers.find(b"\r\n", at) if b"\r\n" in headers[at:] else None]) if at >= 0 else 0
        )
        if len(answer) < end + 4 + length:
            return None
        return int(answer[9:12]), b"connection: close" not in headers

    while tick < total or in_flight:
        now = time.perf_counter()
        while tick < total:  # send everything that is due
            who, second = tick % annotators, tick // annotators
            due = start + second + who / annotators  # each annotator once a second, spread evenly
            if due > now:
                break
            body = b'{"token":"%s","page":%d,"tab":0,"seq":%d,"events":%s}' % (
                tokens[who % len(tokens)].encode(),
                page,
                seq_base + second,
                events,
            )
            request = head + b"Content-Length: %d\r\n\r\n" % len(body) + body
            sock = idle.pop(who, None)
            if sock is not None:
                selector.modify(sock, selectors.EVENT_WRITE)
            else:
                sock = socket.socket()
                sock.setblocking(False)
                if sock.connect_ex(("127.0.0.1", port)) not in (0, errno.EINPROGRESS):
                    sock.close()
                    results.append((who, seq_base + second, 0, 0.0, 0.0))
                    tick += 1
                    continue
                selector.register(sock, selectors.EVENT_WRITE)
            in_flight[sock] = [who, seq_base + second, due, request, b"", time.perf_counter() - due]
            tick += 1
        next_due = start + (tick // annotators) + (tick % annotators) / annotators if tick < total else now + 0.05
        for key, mask in selector.select(max(0.0, min(next_due - time.perf_counter(), 0.05))):
            sock = key.fileobj
            state = in_flight.get(sock)
            if state is None:  # an idle connection the server closed
                selector.unregister(sock)
                sock.close()
                idle.pop(next(w for w, s in idle.items() if s is sock), None)
                continue
            try:
                if mask & selectors.EVENT_WRITE:
                    sent = sock.send(state[3])
                    state[3] = state[3][sent:]
                    if not state[3]:
                        selector.modify(sock, selectors.EVENT_READ)
                else:
                    chunk = sock.recv(65536)
                    state[4] += chunk
                    done = complete(state[4])
                    if done:
                        finish(sock, done[0], keep=done[1])
                    elif not chunk:
                        finish(sock, 0)  # closed before a whole answer
            except (OSError, ValueError):
                finish(sock, 0)
        now = time.perf_counter()
        for sock in [s for s, state in in_flight.items() if now - state[2] > TIMEOUT_S]:
            finish(sock, 0)  # timed out
    for sock in idle.values():
        sock.close()
    return [(who % len(tokens), seq, status, ms, late) for who, seq, status, ms, late in results]


if __name__ == "__main__":
    port, path, tokens_file, annotators, seconds, page, seq_base = sys.argv[1:8]
    tokens = open(tokens_file).read().split()
    print(json.dumps(run(int(port), path, tokens, int(annotators), int(seconds), int(page), int(seq_base))))
