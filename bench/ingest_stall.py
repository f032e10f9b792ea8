"""Hold the database's write lock on pointer_chunk for 2 s of every 5 s, as a migration, a backup or a heavy export
would.

python bench/ingest_stall.py DATABASE_URL SECONDS
"""

import sys
import time

from databases import connect

HOLD_S, PERIOD_S = 2.0, 5.0

if __name__ == "__main__":
    url, seconds = sys.argv[1], float(sys.argv[2])
    connection = connect(url)
    sqlite = url.startswith("sqlite:///")
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        # The write lock: every other writer waits.
        connection.cursor().execute(
            "BEGIN IMMEDIATE" if sqlite else "BEGIN; LOCK TABLE pointer_chunk IN EXCLUSIVE MODE"
        )
        time.sleep(HOLD_S)
        connection.cursor().execute("COMMIT")
        time.sleep(PERIOD_S - HOLD_S)
