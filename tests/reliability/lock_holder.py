"""A child process that saves a case inside a write transaction and holds the lock, as a slow writer would.

Usage: python -m tests.reliability.lock_holder DB CASE_REF SECONDS|stdin

Prints "holding" once its case is written (uncommitted) and the write lock is
held, then "committed" after SECONDS (or, with ``stdin``, once a line arrives
on its input), once the transaction has committed.
"""

import sys
import time

from audit.cases import CaseService
from audit.rubric import load_rubric_by_id
from audit.store import Store


def main() -> int:
    path, case_ref, wait = sys.argv[1], sys.argv[2], sys.argv[3]
    store = Store.open(path)
    service = CaseService(store, who="holder")
    with store.transaction():
        service.create_case(case_ref, "sheffield", load_rubric_by_id("iom-thematic-2019"), "ui")
        print("holding", flush=True)
        if wait == "stdin":
            sys.stdin.readline()
        else:
            time.sleep(float(wait))
    print("committed", flush=True)
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
