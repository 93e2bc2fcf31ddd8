"""A child process for crash and concurrency tests: it saves answers as the UI does.

Usage: python -m tests.reliability.answer_loop DB CASE_REF SITE COUNT [START]

Answers a text question COUNT times through the case service and prints
"saved N" after each save has returned, i.e. after its transaction committed.

With ``AUDIT_TEST_READER=1`` a thread of this same process keeps looking at
the file the way the UI's background check does (a read-only look, the full
integrity and content check, a reader connection opened and closed): the
process that saves is also the one that reads, which is where closing a
descriptor of the file would drop the saving connection's locks. With
``AUDIT_TEST_READER=peek`` the thread instead peeks at the header with
Python's ``open()``, the way the tool once did, so that a test can show the
harness catches the loss that causes.
"""

import os
import sys
import threading
import time
from pathlib import Path

from audit.cases import CaseService
from audit.rubric import parse_rubric
from audit.store import Store

RUBRIC = """
id: reliability
version: 1
title: Reliability test rubric
sections:
  - id: s
    title: S
    questions:
      - id: done
        type: yes_no
        text: Done?
      - id: note
        type: text
        text: Running note
        applies_if: done == "no"
"""


def look_like_the_ui(path: Path, stop: threading.Event) -> None:
    from audit import dbfile
    from audit.dbcheck import check_content

    while not stop.is_set():
        try:
            dbfile.look(path, integrity=False)
            reader = Store.open_read_only(path, check=True)
            try:
                check_content(reader)
                reader.conn.execute("SELECT count(*) FROM answers").fetchone()
            finally:
                reader.close()
        except Exception as exc:  # noqa: BLE001 - a reader's failure must show, not kill the writer
            print(f"reader: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        time.sleep(0.002)


def peek_like_before(path: Path, stop: threading.Event) -> None:
    while not stop.is_set():
        with open(path, "rb") as handle:  # the old header check: closing it drops this process's locks
            handle.read(100)
        time.sleep(0.001)


def main() -> int:
    path, case_ref, site, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    start = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    rubric = parse_rubric(RUBRIC, "<reliability>")
    store = Store.open(path)
    service = CaseService(store, who="tester")
    case = store.find_case(site, case_ref) or service.create_case(case_ref, site, rubric, "tester")
    if store.case(case.uuid).status != "in_progress":
        service.set_status(case.uuid, "in_progress")
    service.answer(case.uuid, "done", "no")
    stop = threading.Event()
    mode = os.environ.get("AUDIT_TEST_READER", "")
    if mode:
        target = peek_like_before if mode == "peek" else look_like_the_ui
        threading.Thread(target=target, args=(Path(path), stop), daemon=True).start()
    print("ready", flush=True)
    for n in range(start, start + count):
        service.answer(case.uuid, "note", f"save-{n}")
        print(f"saved {n}", flush=True)
    stop.set()
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
