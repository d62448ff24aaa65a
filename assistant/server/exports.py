"""Where transcript exports run: one worker thread that owns one database connection, and a gate.

Every export steps its generator of chunks on that thread (so a 10-hour session
never blocks the event loop), in order, through the one connection. A
connection per export would leave a file descriptor behind each: SQLite keeps
the files of a closed connection open while another connection of the same
process holds a lock on that database (POSIX locks belong to the process), and
the server's own connection always does, so the descriptors would pile up until
restart. The :class:`~.limits.Gate` lets ``limits.max_concurrent_exports`` run
at once; the next waits ``limits.export_wait_s`` for a place, then gets 503.

The app holds one :class:`ExportWorker` under ``EXPORTS`` (``staff.export_worker``).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from ..store import Store
from .limits import Gate

T = TypeVar("T")


class ExportWorker:
    """The export thread, its connection (opened on first use, on that thread) and the gate."""

    def __init__(self, path: Path, *, size: int, wait_s: float) -> None:
        self.gate = Gate(size, wait_s, "downloads")
        self._path = path
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="export")
        self._store: Store | None = None
        self._closed = False

    def store(self) -> Store:
        """The export connection; call only on the worker thread (inside :meth:`run`)."""
        if self._store is None:
            self._store = Store.open(self._path)
        return self._store

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` on the worker thread, after every step submitted before it."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    def finish(self, chunks: Iterator[bytes]) -> None:
        """Close an export's generator on the worker thread, after any step of it still running
        there (its awaiting request may have been cancelled, the step goes on)."""
        if not self._closed:
            self._thread.submit(_close, chunks)

    async def close(self) -> None:
        """Close the connection and stop the thread (app cleanup, after the last request)."""
        self._closed = True
        await self.run(self._close_store)
        self._thread.shutdown(wait=True)

    def _close_store(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def _close(chunks: Iterator[bytes]) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()

