"""Where transcript exports run: a fixed set of lanes, each one thread owning one database connection.

An export takes a lane for its whole life and steps its generator of chunks on
that lane's thread, through that lane's connection, in order (so a 10-hour
session never blocks the event loop). The lanes and their connections are made
once, at start: a connection per export would leave file descriptors behind,
since SQLite keeps the files of a closed connection open while another
connection of the same process holds a lock on that database (POSIX locks
belong to the process), and the server's own connection always does. There are
``limits.max_concurrent_exports`` lanes; the :class:`~.limits.Gate` in front
lets one more export wait ``limits.export_wait_s`` for a lane, then answers 503.
One export waiting on a slow step (translating a language nobody read) holds
its own lane only.

The app holds one :class:`ExportWorker` under ``EXPORTS`` (``staff.export_worker``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeVar

from ..store import Store
from .limits import Gate

T = TypeVar("T")


class Lane:
    """One export thread and its connection; every call runs after the ones submitted before it."""

    def __init__(self, path: Path, number: int) -> None:
        self._path = path
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"export-{number}")
        self._store: Store | None = None

    def store(self) -> Store:
        """The lane's connection; call only on the lane's thread (inside :meth:`run`)."""
        if self._store is None:
            self._store = Store.open(self._path)
        return self._store

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` on the lane's thread."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    def finish(self, chunks: Iterator[bytes]) -> None:
        """Close an export's generator on the lane's thread, after any step of it still running there
        (its awaiting request may have been cancelled; the step goes on)."""
        self._thread.submit(_close, chunks)

    async def close(self) -> None:
        await self.run(self._close_store)
        self._thread.shutdown(wait=True)

    def _close_store(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


class ExportWorker:
    """The export lanes and the gate in front of them."""

    def __init__(self, path: Path, *, size: int, wait_s: float) -> None:
        self.gate = Gate(size, wait_s, "downloads")
        self._lanes = [Lane(path, n) for n in range(size)]
        self._free = list(self._lanes)

    async def open(self) -> None:
        """Open every lane's connection now: a database that cannot be read fails the start, not a download."""
        for lane in self._lanes:
            await lane.run(lane.store)

    @asynccontextmanager
    async def lane(self) -> AsyncIterator[Lane]:
        """A lane for the ``async with`` body (LimitError ``busy`` when none frees up in time)."""
        async with self.gate.place():
            lane = self._free.pop()
            try:
                yield lane
            finally:
                self._free.append(lane)

    async def close(self) -> None:
        """Close the connections and stop the threads (app cleanup, after the last request)."""
        for lane in self._lanes:
            await lane.close()


def _close(chunks: Iterator[bytes]) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()
