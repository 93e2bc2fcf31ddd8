"""Shared pieces of the Pilot tests."""

from textual.worker import WorkerCancelled


async def settle(pilot) -> None:
    """Let workers finish and the screen catch up."""
    for _ in range(3):
        try:
            await pilot.app.workers.wait_for_complete()
        except WorkerCancelled:  # an exclusive worker replaced by a newer one: wait for that
            continue
        await pilot.pause()
