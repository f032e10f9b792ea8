"""Hold SQLite's write lock for 2 s of every 5 s, as a migration, a backup or a heavy export would.

    python bench/ingest_stall.py DB_PATH SECONDS
"""
import sqlite3
import sys
import time

HOLD_S, PERIOD_S = 2.0, 5.0

if __name__ == "__main__":
    path, seconds = sys.argv[1], float(sys.argv[2])
    connection = sqlite3.connect(path, isolation_level=None, timeout=30)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        connection.execute("BEGIN IMMEDIATE")  # the write lock: every other writer waits
        time.sleep(HOLD_S)
        connection.execute("COMMIT")
        time.sleep(PERIOD_S - HOLD_S)
