"""Limits on what one client may take: sockets per address, frames per socket, guesses per address,
and downloads at once.

:class:`MessageBudget` is a pure token bucket (time passed in); :func:`admit`
applies it to a socket. :class:`ConnectionLimiter` counts the sockets open per
client address (behind a trusted proxy, the address it forwards).
:class:`AuthThrottle` is pure too: it counts wrong keys and tokens per address
and makes a guesser wait. :class:`Gate` lets a few heavy requests (exports) run
at once and turns the rest away with 503 after a short wait.
"""

from __future__ import annotations

import asyncio
import ipaddress
import math
from collections import Counter, OrderedDict, deque
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import AsyncIterator

from aiohttp import web

from ..config import LimitSettings, ServerSettings
from ..errors import LimitError, ProtocolError
from .boundary import ws_close_with_error, ws_send_error

AUTH_WINDOW_MS = 60_000  # wrong keys and tokens are counted over this window ...
AUTH_COOLDOWN_MS = 60_000  # ... and past the limit the address waits this long
AUTH_ADDRESSES = 10_000  # addresses remembered at most (the oldest are forgotten first)


def client_address(request: web.BaseRequest, server: ServerSettings) -> str:
    """The client's address; behind a trusted proxy, the last address its X-Forwarded-For names
    (when that is an IP address: a garbled header counts as the proxy itself)."""
    remote = request.remote or "?"
    if remote in server.trusted_proxies:
        forwarded = request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(forwarded))
        except ValueError:
            pass
    return remote


class ConnectionLimiter:
    """Sockets open at once per client address, at most ``per_address``."""

    def __init__(self, server: ServerSettings, per_address: int) -> None:
        self._server = server
        self._per_address = per_address
        self._open: Counter[str] = Counter()

    def acquire(self, request: web.BaseRequest) -> str:
        """Count one more socket for the request's address (returned); ProtocolError past the limit."""
        peer = client_address(request, self._server)
        if self._open[peer] >= self._per_address:
            raise ProtocolError(f"too many connections from {peer}; close some tabs and retry",
                                code="too_many_connections")
        self._open[peer] += 1
        return peer

    def release(self, peer: str) -> None:
        self._open[peer] -= 1
        if self._open[peer] <= 0:
            del self._open[peer]


@dataclass
class MessageBudget:
    """A token bucket over one socket's client frames: ``rate_per_s`` on average, ``burst`` at once.

    Frames over budget are strikes; more than ``strikes_allowed`` of them before
    the bucket refills completely means the client will not slow down.
    Time is passed in (``now_ms``), so tests drive it with a manual clock.
    """

    rate_per_s: float
    burst: int
    strikes_allowed: int
    tokens: float = -1.0
    last_ms: int | None = None
    strikes: int = 0

    @classmethod
    def of(cls, limits: LimitSettings) -> "MessageBudget":
        return cls(limits.messages_per_s, limits.message_burst, limits.rate_strikes)

    def take(self, now_ms: int) -> bool:
        """Spend one frame; False (and a strike) when the client is over budget."""
        if self.last_ms is None:
            self.tokens = float(self.burst)
        else:
            elapsed_s = max(now_ms - self.last_ms, 0) / 1000
            self.tokens = min(float(self.burst), self.tokens + elapsed_s * self.rate_per_s)
        self.last_ms = now_ms
        if self.tokens >= self.burst:
            self.strikes = 0
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        self.strikes += 1
        return False

    @property
    def exhausted(self) -> bool:
        return self.strikes > self.strikes_allowed


async def admit(ws: web.WebSocketResponse, budget: MessageBudget, now_ms: int) -> bool:
    """Call per client frame: True to handle it; False when dropped (error frame sent, or the socket closed)."""
    if budget.take(now_ms):
        return True
    exc = ProtocolError(f"too many messages: at most {budget.rate_per_s:g} a second "
                        f"(bursts of {budget.burst}); slow down", code="rate_limited")
    if budget.exhausted:
        await ws_close_with_error(ws, exc)
    else:
        await ws_send_error(ws, exc)
    return False


@dataclass
class AuthThrottle:
    """Wrong keys and tokens per client address: ``failures`` of them within ``window_ms`` start a
    ``cooldown_ms`` during which that address's keys and tokens are refused unchecked.

    Pure: time is passed in (``now_ms``, from the app's clock), so tests drive it by hand.
    Other addresses are never affected, nor requests that carry no key or token.
    """

    failures: int
    window_ms: int = AUTH_WINDOW_MS
    cooldown_ms: int = AUTH_COOLDOWN_MS
    max_addresses: int = AUTH_ADDRESSES
    _recent: OrderedDict[str, deque[int]] = field(default_factory=OrderedDict)
    _blocked_until: dict[str, int] = field(default_factory=dict)

    def retry_after_ms(self, address: str, now_ms: int) -> int:
        """How long ``address`` must still wait before a key or token of its is checked; 0: go ahead."""
        until = self._blocked_until.get(address)
        if until is None:
            return 0
        if until <= now_ms:
            del self._blocked_until[address]
            return 0
        return until - now_ms

    def failed(self, address: str, now_ms: int) -> None:
        """Count one wrong key or token from ``address``; the ``failures``-th within the window blocks it."""
        recent = self._recent.pop(address, None) or deque()
        while recent and recent[0] <= now_ms - self.window_ms:
            recent.popleft()
        recent.append(now_ms)
        if len(recent) >= self.failures:
            self._blocked_until[address] = now_ms + self.cooldown_ms
            recent.clear()
        else:
            self._recent[address] = recent  # most recent last: the oldest are forgotten first
            while len(self._recent) > self.max_addresses:
                self._recent.popitem(last=False)
        if len(self._blocked_until) > self.max_addresses:
            self._blocked_until = {a: t for a, t in self._blocked_until.items() if t > now_ms}

    @property
    def remembered(self) -> int:
        """Addresses whose recent failures are being counted (at most ``max_addresses``)."""
        return len(self._recent)

    def check(self, address: str, now_ms: int) -> None:
        """LimitError (429, with the seconds to wait) while ``address`` cools down."""
        wait_ms = self.retry_after_ms(address, now_ms)
        if wait_ms:
            wait_s = math.ceil(wait_ms / 1000)
            raise LimitError(f"too many wrong keys or tokens from {address}; wait {wait_s} s and use the "
                             "link or token the organisers gave you", retry_after_s=wait_s)


class Gate:
    """At most ``size`` holders at once (heavy requests: exports). One more waits up to ``wait_s``
    for a place, then gets LimitError ``busy`` (503, Retry-After)."""

    def __init__(self, size: int, wait_s: float, what: str) -> None:
        self._places = asyncio.Semaphore(size)
        self._wait_s = wait_s
        self._what = what

    @asynccontextmanager
    async def place(self) -> AsyncIterator[None]:
        """Hold a place for the ``async with`` body; LimitError ``busy`` when none frees up in time."""
        if self._places.locked() and self._wait_s <= 0:
            raise self._busy()
        try:
            async with asyncio.timeout(self._wait_s):
                await self._places.acquire()
        except TimeoutError:
            raise self._busy() from None
        try:
            yield
        finally:
            self._places.release()

    def _busy(self) -> LimitError:
        retry_s = max(1, math.ceil(self._wait_s))
        return LimitError(f"the server is busy with other {self._what}; retry in a few seconds",
                          retry_after_s=retry_s, code="busy")
