"""Open-loop load for bench/ingest.py: N simulated annotators, each POSTing one batch a second.

Requests go out on a fixed schedule whatever the server does (no coordinated
omission): latency runs from the scheduled send time to the end of the answer.
Each request uses its own connection, as gunicorn's sync workers close them.
The client is a bare selector loop over non-blocking sockets, because it shares
the two cores with the server: asyncio's streams cost it ~0.5 ms of CPU a
request, this ~0.1 ms. Prints one JSON list: [annotator, seq, status, latency ms].

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
    moves = [f'{{"type":"move","i":{k % 48},"x":{(k * 0.0151) % 1!r},"y":{(k * 0.0234 + 0.1) % 1!r},"time":{now_ms + k * 17}}}'
             for k in range(60)]
    return ("[" + ",".join(moves) + "]").encode()


def run(port: int, path: str, tokens: list[str], annotators: int, seconds: int, page: int, seq_base: int) -> list:
    events = events_json(int(time.time() * 1000))
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: text/plain;charset=UTF-8\r\n".encode()
    selector = selectors.DefaultSelector()
    results: list = []
    start = time.perf_counter() + 0.2
    total = annotators * seconds
    tick = 0
    in_flight: dict = {}  # socket -> [who, seq, due, request bytes left, answer bytes]

    def finish(sock, status: int) -> None:
        who, seq, due, _, _ = in_flight.pop(sock)
        selector.unregister(sock)
        sock.close()
        results.append((who, seq, status, round((time.perf_counter() - due) * 1000, 3)))

    while tick < total or in_flight:
        now = time.perf_counter()
        while tick < total:  # send everything that is due
            who, second = tick % annotators, tick // annotators
            due = start + second + who / annotators  # each annotator once a second, spread evenly
            if due > now:
                break
            body = b'{"token":"%s","page":%d,"seq":%d,"events":%s}' % (
                tokens[who % len(tokens)].encode(), page, seq_base + second, events)
            request = head + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body
            sock = socket.socket()
            sock.setblocking(False)
            if sock.connect_ex(("127.0.0.1", port)) not in (0, errno.EINPROGRESS):
                sock.close()
                results.append((who % len(tokens), seq_base + second, 0, 0.0))
            else:
                in_flight[sock] = [who % len(tokens), seq_base + second, due, request, b""]
                selector.register(sock, selectors.EVENT_WRITE)
            tick += 1
        next_due = start + (tick // annotators) + (tick % annotators) / annotators if tick < total else now + 0.05
        for key, mask in selector.select(max(0.0, min(next_due - time.perf_counter(), 0.05))):
            sock, state = key.fileobj, in_flight[key.fileobj]
            try:
                if mask & selectors.EVENT_WRITE:
                    sent = sock.send(state[3])
                    state[3] = state[3][sent:]
                    if not state[3]:
                        selector.modify(sock, selectors.EVENT_READ)
                else:
                    chunk = sock.recv(65536)
                    if chunk:
                        state[4] += chunk
                    else:  # the server closed: the answer is complete
                        answer = state[4]
                        finish(sock, int(answer[9:12]) if answer.startswith(b"HTTP/1.") else 0)
            except (OSError, ValueError):
                finish(sock, 0)
        now = time.perf_counter()
        for sock in [s for s, state in in_flight.items() if now - state[2] > TIMEOUT_S]:
            finish(sock, 0)  # timed out
    return results


if __name__ == "__main__":
    port, path, tokens_file, annotators, seconds, page, seq_base = sys.argv[1:8]
    tokens = open(tokens_file).read().split()
    print(json.dumps(run(int(port), path, tokens, int(annotators), int(seconds), int(page), int(seq_base))))
