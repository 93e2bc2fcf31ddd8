"""A child process for crash and concurrency tests.

Usage: python -m tests.reliability.answer_loop DB CASE_REF SITE COUNT [START]
Answers a text question COUNT times and prints "saved N" after each save has
returned, i.e. after its transaction committed.
"""

import sys

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


def main() -> int:
    path, case_ref, site, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    start = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    rubric = parse_rubric(RUBRIC, "<reliability>")
    store = Store.open(path)
    case = store.find_case(site, case_ref) or store.create_case(case_ref, site, rubric, "tester")
    store.set_answer(case.uuid, "done", "no", who="tester")
    print("ready", flush=True)
    for n in range(start, start + count):
        store.set_answer(case.uuid, "note", f"save-{n}", who="tester")
        print(f"saved {n}", flush=True)
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
