"""Stopping background tasks for certain, on every Python the project supports."""

from __future__ import annotations

import asyncio
from typing import Any

RECANCEL_S = 0.5  # how long a task gets to end before it is cancelled again


async def cancel_and_wait(*tasks: asyncio.Future[Any]) -> None:
    """Cancel ``tasks`` and return once every one has ended (their errors are not raised).

    On Python 3.10 and 3.11, ``asyncio.wait_for`` swallows a cancellation that
    lands in the tick its inner future completes (python/cpython#86296, fixed in
    3.12). redis-py sends every command through it when a socket timeout is set,
    so a loop cancelled at that moment carried on, and whoever awaited it (a
    worker dropping a room, a node shutting down) waited for ever. A task that is
    still running after :data:`RECANCEL_S` is cancelled again.
    """
    pending = {t for t in tasks if not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=RECANCEL_S)
    await asyncio.gather(*tasks, return_exceptions=True)  # (collects their errors: none is logged as lost)
