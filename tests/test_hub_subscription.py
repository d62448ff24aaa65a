"""A reader's inbox: a reader behind gets the newest partial only, captions all, in order."""

from __future__ import annotations

from assistant import protocol
from assistant.captions import Caption, Partial
from assistant.hub import Subscription, Topic


def partial(text: str) -> protocol.Frame:
    return protocol.partial(Partial("s", "en", 0, 1, text))


def caption(seq: int) -> protocol.Frame:
    return protocol.caption(Caption("s", "en", seq, f"id{seq}", 0, 1, f"line {seq}"))


async def test_a_newer_partial_replaces_the_pending_one_wherever_it_waits() -> None:
    sub = Subscription(Topic("s", "en"), 8)
    for frame in (partial("a"), partial("ab"), caption(1), partial("c"), caption(2), partial("cd")):
        sub.push(frame)
    got = [await sub.get() for _ in range(len(sub))]
    assert [(f.kind, f.seq) for f in got if f] == [("caption", 1), ("caption", 2), ("partial", None)]
    assert got[-1] == partial("cd")
    sub.push(partial("e"))
    sub.push(partial("ef"))
    assert len(sub) == 1 and await sub.get() == partial("ef")
