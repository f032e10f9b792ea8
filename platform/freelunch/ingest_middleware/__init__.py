"""POST /api/ingest: the browser's pointer-event batches, into the Redis stream (docs/ingest.md).

Not a Flask view: ``install`` puts a small WSGI app in front of Flask that
answers this one path (fastpath.py). The caller is a worker's page, identified
by the signed assignment token in the body: no session, no CSRF token, no
database. Skipping Flask's request machinery saves about a third of the CPU a
request costs, which is what lets two cores take 1,000 batches a second
(docs/performance.md).
"""

from .fastpath import install

__all__ = ["install"]
