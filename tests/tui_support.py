"""Shared pieces of the Pilot tests."""

import os
import sys
from contextlib import contextmanager

from textual.worker import WorkerCancelled


def count_layout_passes(monkeypatch) -> list[str]:
    """From now on, each layout pass of a screen (Textual's ``_refresh_layout``, which repaints the whole
    screen) is appended to the list returned, by the screen's class name."""
    from textual.screen import Screen

    passes: list[str] = []
    real = Screen._refresh_layout

    def counted(self, *args, **kwargs):
        passes.append(type(self).__name__)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Screen, "_refresh_layout", counted)
    return passes


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
