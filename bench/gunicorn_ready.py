"""gunicorn settings bench/ingest.py adds to the Procfile's web command: each worker marks when it has loaded the app.

gunicorn calls ``post_worker_init`` after a worker has imported the app and before it accepts. Guessing readiness
from the workers' CPU failed under load: an importing worker got less CPU than the guess allowed an idle one, so
the first measured round ran while workers were still importing (and served nothing).
"""

import os
from pathlib import Path


def post_worker_init(worker) -> None:
    (Path(os.environ["BENCH_READY_DIR"]) / str(worker.pid)).touch()
