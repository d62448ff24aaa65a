"""The owner's writes to one room, in order, batched, fenced by its lease.

The session core's effects are synchronous; each becomes one or more Redis
commands queued here. One task sends what is queued as a single ``FENCED``
script: all of a batch or none of it applies, and only while the room's lease
holds this worker's token. A caption and its live frame are queued in that
order, so Redis has the caption before any web node can see the frame: the
acknowledged write the readers' resume relies on. A lost connection is retried
with the same batch (order kept); a lost lease stops the writer for good.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from ..tasks import cancel_and_wait
from . import scripts
from .keys import UNREACHABLE

log = logging.getLogger(__name__)

MAX_BATCH = 256  # commands per script call
RETRY_S = 0.2  # wait before sending a batch again after Redis went away

Arg = str | bytes | int | float
OnRoundTrip = Callable[[float], None]


class LeaseLost(Exception):
    """The room's lease no longer holds this worker's token."""


class FencedWriter:
    """Queue commands with :meth:`submit`; they reach Redis in order, batch by batch."""

    def __init__(self, client: aioredis.Redis, lease_key: str, token: str, *,
                 on_lost: Callable[[], None], on_round_trip: OnRoundTrip | None = None) -> None:
        self._script = client.register_script(scripts.FENCED)
        self._lease_key = lease_key
        self._token = token
        self._on_lost = on_lost
        self._on_round_trip = on_round_trip
        self._ops: list[tuple[Arg, ...]] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.lost = False
        self._task = asyncio.create_task(self._run(), name=f"writer {lease_key}")

    def submit(self, *command: Arg) -> None:
        """Queue one Redis command (e.g. ``"XADD", key, "7-0", "c", data``)."""
        if self.lost:
            return
        self._ops.append(command)
        self._idle.clear()
        self._wake.set()

    async def drain(self) -> None:
        """Wait until everything queued so far is in Redis (or the lease is lost)."""
        await self._idle.wait()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._ops:
                batch, self._ops = self._ops[:MAX_BATCH], self._ops[MAX_BATCH:]
                if not await self._send(batch):
                    self.lost = True
                    self._ops.clear()
                    self._idle.set()
                    self._on_lost()
                    return
            self._idle.set()

    async def _send(self, batch: list[tuple[Arg, ...]]) -> bool:
        args: list[Arg] = [self._token]
        for op in batch:
            args.append(len(op))
            args.extend(op)
        while True:
            t0 = time.perf_counter()
            try:
                await self._script(keys=[self._lease_key], args=args)
            except ResponseError as exc:
                if not str(exc).startswith(scripts.LEASE_LOST):
                    log.error("room write refused by Redis (%s): giving the room up", exc)
                return False
            except UNREACHABLE as exc:
                log.warning("Redis unreachable while writing (%s); retrying", exc)
                await asyncio.sleep(RETRY_S)
                continue
            if self._on_round_trip is not None:
                self._on_round_trip(time.perf_counter() - t0)
            return True

    async def close(self) -> None:
        """Stop at once (what is still queued is dropped: call :meth:`drain` first to keep it)."""
        await cancel_and_wait(self._task)
