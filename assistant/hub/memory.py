"""The embedded, in-process caption bus (the default for one machine)."""

from __future__ import annotations

from collections import defaultdict

from ..protocol import Frame
from .bus import Subscription, Topic


class MemoryBus:
    """Fan-out within one process: publish is a loop of non-blocking pushes."""

    def __init__(self) -> None:
        self._subs: defaultdict[Topic, set[Subscription]] = defaultdict(set)

    def publish(self, topic: Topic, frame: Frame) -> None:
        for sub in self._subs.get(topic, ()):
            sub.push(frame)

    def subscribe(self, topic: Topic, capacity: int) -> Subscription:
        sub = Subscription(topic, capacity)
        self._subs[topic].add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.topic)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.topic]
        sub.close()

    async def close(self) -> None:
        for subs in list(self._subs.values()):
            for sub in list(subs):
                sub.close()
        self._subs.clear()
