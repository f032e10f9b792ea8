"""Pointer-event ingest behind the WSGI edge (``freelunch.ingest_middleware``): Redis stream in, database rows out.

- ``validate``: ``parse`` (one pointer batch checked and re-encoded, as cheaply as the hot path allows).
- ``stream``: ``append``, ``request_flush`` (append a checked batch to the Redis stream, once).
- ``flush``: ``flush``, ``sweep``, ``reclaim``, ``incomplete_pages`` (move batches into PointerChunk rows, exactly
  once).
- ``status``: ``status`` (the admins' ingest page: backlog, drain rate, failures).
"""
