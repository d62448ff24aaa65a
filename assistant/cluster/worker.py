"""A recognition worker: takes rooms by lease, serves them, gives them up when it must.

Every second it renews the leases of its rooms (``PEXPIRE`` if the lease still
holds its token) and looks for open rooms nobody holds: it takes one (``SET NX
PX``) when it serves no more rooms than the least loaded live worker, so rooms
spread over the workers (a room whose session ended is kept, for its chair's
corrections, but not counted, and parked once nothing has come for it for
:data:`PARK_AFTER_MS`: given back and flagged, so no worker holds it, until a
command or audio for it unflags it and a worker takes it again). A lease lasts
:data:`LEASE_MS`; a worker that dies stops renewing and another takes its rooms
once the leases expire, continuing their seq numbering from the log and their
audio from the last final caption. A worker that fails to renew in time (cut off from Redis) stops its room at
once, and its writes are refused anyway (see :mod:`.writer`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import uuid
from typing import Any

import redis.asyncio as aioredis

from .. import validate
from ..clock import Clock
from ..errors import AssistantError
from ..server.runtime import RecognizerFactory
from ..server.translation import Translating, offered
from ..tasks import cancel_and_wait
from . import scripts
from .bus import RedisBus
from .host import RoomHost
from .keys import OPEN, ROOMS, SOURCES, UNREACHABLE, WORKERS, RoomKeys, dumps, session_from, text
from .redislog import RedisLog
from .writer import OnRoundTrip

log = logging.getLogger(__name__)

LEASE_MS = 5_000  # a room whose owner stops renewing is taken over this long after its last renewal
TICK_S = 1.0  # renew, heartbeat and look for free rooms this often
WORKER_TTL_MS = 5_000
PARK_AFTER_MS = 300_000  # an ended room with no command or audio for this long is given back (parked)
TARGETS_EVERY_MS = 30_000  # the translation targets in the heartbeat are looked at again this often


def worker_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Worker:
    """Owns rooms by lease and runs a :class:`~.host.RoomHost` for each; :meth:`start`, :meth:`close`."""

    def __init__(self, client: aioredis.Redis, log_: RedisLog, bus: RedisBus, clock: Clock, *,
                 recognizer_factory: RecognizerFactory | None, translator: Translating | None,
                 name: str | None = None, on_round_trip: OnRoundTrip | None = None,
                 park_after_ms: int = PARK_AFTER_MS) -> None:
        self._redis = client
        self._log = log_
        self._bus = bus
        self._clock = clock
        self._factory = recognizer_factory
        self._translator = translator
        self.name = name or worker_name()
        self.hosts: dict[str, RoomHost] = {}
        self._renew = client.register_script(scripts.RENEW)
        self._release = client.register_script(scripts.RELEASE)
        self._park_script = client.register_script(scripts.PARK)
        self._park_after_ms = park_after_ms
        self.parking: set[asyncio.Task[None]] = set()  # rooms being stopped and given back
        self._task: asyncio.Task[None] | None = None
        self._lost: set[str] = set()
        self._on_round_trip = on_round_trip
        self._targets: dict[str, tuple[str, ...]] = {}  # spoken language → what this worker translates it into
        self._targets_at = -TARGETS_EVERY_MS

    async def start(self) -> None:
        await self.tick()
        self._task = asyncio.create_task(self._run(), name=f"worker {self.name}")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                await self.tick()
            except UNREACHABLE as exc:
                log.warning("Redis unreachable (%s)", exc)
            except AssistantError as exc:
                log.error("%s", exc)

    async def tick(self) -> None:
        """Renew leases (dropping rooms whose lease is gone), park idle ended rooms, heartbeat, then take free
        rooms while it is our turn."""
        for sid in list(self.hosts):
            if sid in self._lost or not await self._renew(keys=[RoomKeys(sid).lease], args=[self.name, LEASE_MS]):
                log.warning("room %s: lease lost; stopping it here", sid)
                await self._drop(sid)
        now = self._clock.now_ms()
        for sid, host in list(self.hosts.items()):
            if self._idle_and_ended(host, now):  # in the background: the other rooms' leases are renewed on time
                del self.hosts[sid]
                self._lost.discard(sid)
                task = asyncio.create_task(self._park(host), name=f"park {sid}")
                self.parking.add(task)
                task.add_done_callback(self.parking.discard)
        if self._translator is not None and now - self._targets_at >= TARGETS_EVERY_MS:
            self._targets_at, translator = now, self._translator  # a package installed since is offered
            self._targets = await asyncio.get_running_loop().run_in_executor(
                None, offered, translator, ("auto", *validate.SPOKEN_LANGUAGES))
        await self._redis.hset(WORKERS, self.name, dumps({"expires": now + WORKER_TTL_MS, "rooms": self.load,
                                                          "targets": self._targets}))
        open_ids = sorted(text(i) for i in await self._redis.smembers(OPEN))
        free = [sid for sid in open_ids
                if sid not in self.hosts and not await self._redis.exists(RoomKeys(sid).lease, RoomKeys(sid).parked)]
        for sid in free:  # alone, a worker takes every free room at once; beside others, its share
            if not await self._my_turn(now):
                break
            await self._take(sid)

    @property
    def load(self) -> int:
        """The rooms this worker serves whose session has not ended."""
        return sum(1 for h in self.hosts.values() if h.runtime is None or h.runtime.state != "ended")

    async def _my_turn(self, now: int) -> bool:
        """Whether this worker serves no more open rooms than any other live worker."""
        others: Any = await self._redis.hgetall(WORKERS)
        loads = [json.loads(v)["rooms"] for k, v in others.items()
                 if text(k) != self.name and json.loads(v)["expires"] > now]
        return not loads or self.load <= min(loads)

    async def _take(self, sid: str) -> None:
        if not await self._redis.set(RoomKeys(sid).lease, self.name, nx=True, px=LEASE_MS):
            return
        raw: Any = await self._redis.hget(ROOMS, sid)
        source: Any = await self._redis.hget(SOURCES, sid)
        if raw is None:
            await self._release(keys=[RoomKeys(sid).lease], args=[self.name])
            return
        host = RoomHost(session_from(raw), client=self._redis, bus=self._bus, clock=self._clock, token=self.name,
                        recognizer_factory=self._factory, translator=self._translator,
                        source=text(source) if source else None, on_lost=self._lost.add,
                        on_round_trip=self._on_round_trip)
        self.hosts[sid] = host
        self._lost.discard(sid)
        try:
            await host.start(self._log)
        except BaseException:
            await self._drop(sid)
            raise
        log.info("worker %s took room %s", self.name, sid)

    def _idle_and_ended(self, host: RoomHost, now: int) -> bool:
        runtime = host.runtime
        if runtime is None or runtime.state != "ended":
            return False
        return now - max(host.active_ms, runtime.session.ended_at_ms or 0) >= self._park_after_ms

    async def _park(self, host: RoomHost) -> None:
        """Stop an idle ended room (its writes drained under the lease), then give it back, parked unless a
        command or audio came after what it read (then only released: a worker takes it again and reads it)."""
        await host.stop()
        k = host.keys
        try:
            done = await self._park_script(keys=[k.lease, k.parked, k.commands, k.audio],
                                           args=[self.name, host.read_to[k.commands], host.read_to[k.audio]])
        except UNREACHABLE as exc:  # the lease expires: taken again
            log.warning("room %s: cannot park it (%s)", host.session.id, exc)
            return
        outcome = {1: "parked", 0: "released, not parked (a command or audio came)"}.get(int(done), "lease lost")
        log.info("room %s: ended and idle: %s", host.session.id, outcome)

    async def _drop(self, sid: str) -> None:
        host = self.hosts.pop(sid, None)
        self._lost.discard(sid)
        if host is not None:
            await host.stop()

    async def close(self) -> None:
        """Stop every room and give its lease back (a successor need not wait for it to expire)."""
        if self._task is not None:
            await cancel_and_wait(self._task)
        await asyncio.gather(*self.parking, return_exceptions=True)
        for sid in list(self.hosts):
            await self._drop(sid)
            try:
                await self._release(keys=[RoomKeys(sid).lease], args=[self.name])
            except UNREACHABLE:
                pass
        try:
            await self._redis.hdel(WORKERS, self.name)
        except UNREACHABLE:
            pass
