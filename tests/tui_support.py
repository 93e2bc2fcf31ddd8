"""Shared pieces of the Pilot tests."""

import os
import sys
from contextlib import contextmanager

from textual.worker import WorkerCancelled


async def settle(pilot) -> None:
    """Let workers finish and the screen catch up."""
    for _ in range(3):
        try:
            await pilot.app.workers.wait_for_complete()
        except WorkerCancelled:  # an exclusive worker replaced by a newer one: wait for that
            continue
        await pilot.pause()


@contextmanager
def terminal_streams(monkeypatch):
    """sys.stdin and sys.stdout on a pseudo-terminal, so ``audit tui`` called in-process sees a terminal."""
    master, slave = os.openpty()
    with open(slave, "r", closefd=False) as stdin, open(slave, "w", closefd=False) as stdout:
        monkeypatch.setattr(sys, "stdin", stdin)
        monkeypatch.setattr(sys, "stdout", stdout)
        try:
            yield
        finally:
            monkeypatch.undo()
            os.close(master)
            os.close(slave)
