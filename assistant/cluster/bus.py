"""The caption bus of a cluster node, over each room's ``live`` stream in Redis.

Publishing (the owning worker): a frame becomes an ``XADD`` on the room's
fenced writer, queued after the caption it carries, so it is never seen before
the log has the caption. Subscribing (a web node): readers get the usual local
bounded :class:`~assistant.hub.bus.Subscription`; one task per node tails every
followed room's live stream with a single blocking ``XREAD`` and pushes each
frame, as encoded by the worker, into the local subscriptions of its topic.

A room is followed from the live stream's end as it was when :meth:`RedisBus.follow`
returned, so a subscription made after that sees every later frame in order;
what a reader missed before subscribing, it reads from the log.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, cast

import redis.asyncio as aioredis

from ..hub import MemoryBus, Subscription, Topic
from ..protocol import Frame, FrameKind
from ..tasks import cancel_and_wait
from .keys import UNREACHABLE, RoomKeys, text
from .writer import FencedWriter

log = logging.getLogger(__name__)

LIVE_MAXLEN = 4000  # frames kept per room's live stream (about three minutes): a web node further behind resyncs
TAIL_BLOCK_MS = 1000  # a followed room joins the tail within this
TAIL_COUNT = 1000  # entries per stream per read
RETRY_S = 0.5

STATE_TOPIC = "*state"  # the owner's room state (JSON), handed to ``on_state`` rather than to readers

OnFrames = Callable[[str, int], None]  # room, frames delivered by one read (for the metrics)
OnState = Callable[[str, bytes], None]  # room, its state as the owner wrote it


class RedisBus:
    """:class:`~assistant.hub.bus.CaptionBus` across machines; see the module docstring."""

    def __init__(self, client: aioredis.Redis, *, on_frames: OnFrames | None = None) -> None:
        self._redis = client
        self._local = MemoryBus()
        self._writers: dict[str, FencedWriter] = {}
        self._positions: dict[str, bytes] = {}  # room → id of the last live entry read
        self._tail: asyncio.Task[None] | None = None
        self._on_frames = on_frames
        self.on_state: OnState | None = None

    # -- the owner's side ------------------------------------------------------
    def attach(self, session: str, writer: FencedWriter) -> None:
        """Frames published to ``session`` go through ``writer`` (this worker owns the room)."""
        self._writers[session] = writer

    def detach(self, session: str) -> None:
        self._writers.pop(session, None)

    def publish(self, topic: Topic, frame: Frame) -> None:
        writer = self._writers.get(topic.session)
        if writer is not None:
            writer.submit("XADD", RoomKeys(topic.session).live, "MAXLEN", "~", LIVE_MAXLEN, "*",
                          "t", topic.lang, "k", frame.kind, "q", "" if frame.seq is None else frame.seq,
                          "d", frame.data)

    # -- the readers' side -----------------------------------------------------
    async def follow(self, session: str) -> None:
        """Start delivering ``session``'s frames to local subscribers (from the live stream's end now)."""
        if session in self._positions:
            return
        last: Any = await self._redis.xrevrange(RoomKeys(session).live, count=1)
        self._positions[session] = last[0][0] if last else b"0-0"
        if self._tail is None:
            self._tail = asyncio.create_task(self._run(), name="live tail")

    def following(self, session: str) -> bool:
        return session in self._positions

    def subscribe(self, topic: Topic, capacity: int) -> Subscription:
        return self._local.subscribe(topic, capacity)

    def unsubscribe(self, sub: Subscription) -> None:
        self._local.unsubscribe(sub)

    async def _run(self) -> None:
        while True:
            streams = {RoomKeys(sid).live: pos for sid, pos in self._positions.items()}
            try:
                replies: Any = await self._redis.xread(streams, count=TAIL_COUNT, block=TAIL_BLOCK_MS)  # type: ignore[arg-type]
            except UNREACHABLE as exc:
                log.warning("Redis unreachable while following captions (%s); retrying", exc)
                await asyncio.sleep(RETRY_S)
                continue
            for key, entries in replies or ():
                sid = text(key).split("{", 1)[1].split("}", 1)[0]
                self._deliver(sid, entries)

    def _deliver(self, sid: str, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        for entry_id, f in entries:
            topic = f[b"t"].decode()
            if topic == STATE_TOPIC:
                if self.on_state is not None:
                    self.on_state(sid, f[b"d"])
                continue
            q = f[b"q"]
            frame = Frame(cast(FrameKind, f[b"k"].decode()), f[b"d"], int(q) if q else None)
            self._local.publish(Topic(sid, topic), frame)
        if entries:
            self._positions[sid] = entries[-1][0]
            if self._on_frames is not None:
                self._on_frames(sid, len(entries))

    async def close(self) -> None:
        if self._tail is not None:
            await cancel_and_wait(self._tail)
            self._tail = None
        await self._local.close()
