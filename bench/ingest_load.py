"""Open-loop load for bench/ingest.py: N simulated annotators, each POSTing one batch a second.

Requests go out on a fixed schedule whatever the server does (no coordinated
omission): latency is measured from the scheduled send time to the end of the
answer. Each request uses its own connection, as gunicorn's sync workers close
them. Prints one JSON object: per-request assignment index, seq, status, latency.

    python bench/ingest_load.py PORT PATH TOKENS_FILE ANNOTATORS SECONDS PAGE SEQ_BASE
"""
from __future__ import annotations

import asyncio
import json
import sys
import time

TIMEOUT_S = 15.0


def events_json(now_ms: int) -> bytes:
    moves = [f'{{"type":"move","i":{k % 48},"x":{(k * 0.0151) % 1!r},"y":{(k * 0.0234 + 0.1) % 1!r},"time":{now_ms + k * 17}}}'
             for k in range(60)]
    return ("[" + ",".join(moves) + "]").encode()


async def send(port: int, request: bytes, due: float) -> tuple[int, float]:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), TIMEOUT_S)
        writer.write(request)
        answer = await asyncio.wait_for(reader.read(), max(0.1, due + TIMEOUT_S - time.perf_counter()))
        writer.close()
        status = int(answer[9:12]) if answer.startswith(b"HTTP/1.") else 0
    except (OSError, asyncio.TimeoutError, ValueError):
        status = 0
    return status, time.perf_counter() - due


async def main(port: int, path: str, tokens: list[str], annotators: int, seconds: int, page: int, seq_base: int) -> list:
    events = events_json(int(time.time() * 1000))
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: text/plain;charset=UTF-8\r\n".encode()
    tasks, meta = [], []
    start = time.perf_counter() + 0.2
    for tick in range(annotators * seconds):
        who, second = tick % annotators, tick // annotators
        due = start + second + who / annotators  # each annotator once a second, spread evenly
        body = b'{"token":"%s","page":%d,"seq":%d,"events":%s}' % (
            tokens[who % len(tokens)].encode(), page, seq_base + second, events)
        request = head + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(port, request, due)))
        meta.append((who % len(tokens), seq_base + second))
    results = await asyncio.gather(*tasks)
    return [(who, seq, status, round(latency * 1000, 3)) for (who, seq), (status, latency) in zip(meta, results)]


if __name__ == "__main__":
    port, path, tokens_file, annotators, seconds, page, seq_base = sys.argv[1:8]
    tokens = open(tokens_file).read().split()
    results = asyncio.run(main(int(port), path, tokens, int(annotators), int(seconds), int(page), int(seq_base)))
    print(json.dumps(results))
