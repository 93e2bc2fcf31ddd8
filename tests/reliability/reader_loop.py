"""A child process that reads a database over and over, as another program would.

Usage: python -m tests.reliability.reader_loop DB

Each round opens a plain read-write connection (as the ``sqlite3`` shell and
most programs do), counts the cases, and closes it: when such a connection
believes it is the last one, SQLite checkpoints and deletes the -wal file.
Prints "round N" now and then; runs until killed.
"""

import sqlite3
import sys
import time
from pathlib import Path


def main() -> int:
    path = Path(sys.argv[1]).resolve().as_posix()
    rounds = 0
    while True:
        try:
            conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=10)  # never creates the file
            try:
                conn.execute("SELECT count(*) FROM cases").fetchone()
            finally:
                conn.close()
        except sqlite3.Error:
            pass  # a file being created, or busy: try again
        rounds += 1
        if rounds % 200 == 0:
            print(f"round {rounds}", flush=True)
        time.sleep(0.003)


if __name__ == "__main__":
    sys.exit(main())
