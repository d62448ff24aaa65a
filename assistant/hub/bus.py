"""The small interface every caption bus implements.

The embedded default is :class:`~assistant.hub.memory.MemoryBus` (one process).
A multi-machine deployment puts Redis Streams behind the same interface: the
recognition worker publishes, web nodes subscribe. Publishing never waits for a
reader: each subscription is a bounded buffer, and a reader that falls too far
behind is flagged ``overflowed`` so its writer resynchronises it from the store.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from ..protocol import Frame


@dataclass(frozen=True, slots=True)
class Topic:
    """One stream of frames: a session in one language, or the chair consoles' ``"*chair"`` topic."""

    session: str
    lang: str


class Subscription:
    """A reader's bounded inbox. Filled synchronously by the bus, drained by one writer task.

    A partial frame replaces the partial still pending, wherever it waits (a
    reader behind gets the newest tail, not every one: partials are most of the
    frames). When a caption does not fit, the inbox is cleared and
    ``overflowed`` set: the writer must then fetch what it missed from the store.
    """

    def __init__(self, topic: Topic, capacity: int) -> None:
        self.topic = topic
        self.capacity = capacity
        self.overflowed = False
        self.overflows = 0  # times this reader fell behind and was resynchronised from the store
        self.closed = False
        self._frames: deque[Frame] = deque()
        self._partial: Frame | None = None  # the partial frame waiting in _frames, if any
        self._wakeup = asyncio.Event()

    def push(self, frame: Frame) -> None:
        if self.closed:
            return
        if frame.kind == "partial" and self._partial is not None:
            if self._frames and self._frames[-1] is self._partial:
                self._frames[-1] = frame
            else:
                self._frames.remove(self._partial)  # older than every frame queued after it
                self._frames.append(frame)
            self._partial = frame
        elif len(self._frames) >= self.capacity:
            self._frames.clear()
            self._partial = None
            if not self.overflowed:
                self.overflows += 1
            self.overflowed = True
        else:
            self._frames.append(frame)
            if frame.kind == "partial":
                self._partial = frame
        self._wakeup.set()

    async def get(self) -> Frame | None:
        """The next frame; None once the subscription is closed or has overflowed."""
        while not self._frames and not self.closed and not self.overflowed:
            self._wakeup.clear()
            await self._wakeup.wait()
        if self.closed or self.overflowed or not self._frames:
            return None
        frame = self._frames.popleft()
        if frame is self._partial:
            self._partial = None
        return frame

    def resynced(self) -> None:
        """The writer caught up from the store: start buffering again."""
        self.overflowed = False

    def close(self) -> None:
        self.closed = True
        self._frames.clear()
        self._partial = None
        self._wakeup.set()

    def __len__(self) -> int:
        return len(self._frames)


class CaptionBus(Protocol):
    """Publish encoded frames to a topic; subscribe readers with bounded inboxes."""

    def publish(self, topic: Topic, frame: Frame) -> None:
        """Deliver ``frame`` to every current subscriber of ``topic`` without waiting."""

    def subscribe(self, topic: Topic, capacity: int) -> Subscription:
        """Start receiving frames published to ``topic`` from now on."""

    def unsubscribe(self, sub: Subscription) -> None:
        """Stop delivering to ``sub`` and close it."""

    async def close(self) -> None:
        """Close every subscription (server shutdown)."""
